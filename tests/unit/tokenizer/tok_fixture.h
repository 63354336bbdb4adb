/* Small vocabularies built in memory for the tokenizer tests: pieces, scores and types
 * collected in a struct, written as GGUF metadata with the GGUF writer into a memory stream,
 * and read back through hr_gguf_open_mem + hr_tok_new_from_gguf. Header-only (static
 * functions) so that each test binary carries its own copy; the build globs test_*.c only. */
#ifndef HR_TOK_FIXTURE_H
#define HR_TOK_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

/* Not every test uses every helper. */
#define TF_FN static __attribute__((unused))
#define TF_MAX_TOKENS 600
#define TF_POOL_BYTES (32 * 1024)

struct tf_vocab {
    struct hr_str toks[TF_MAX_TOKENS];
    float scores[TF_MAX_TOKENS];
    int32_t types[TF_MAX_TOKENS];
    size_t n;
    char pool[TF_POOL_BYTES];
    size_t used;
};

/* Appends a piece; returns its id. */
TF_FN int32_t tf_add(struct tf_vocab *v, const char *text, size_t len, int32_t type,
                      float score)
{
    assert_true(v->n < TF_MAX_TOKENS && len <= TF_POOL_BYTES - v->used);
    memcpy(v->pool + v->used, text, len);
    v->toks[v->n] = (struct hr_str){v->pool + v->used, len};
    v->used += len;
    v->types[v->n] = type;
    v->scores[v->n] = score;
    return (int32_t)v->n++;
}

TF_FN int32_t tf_add_str(struct tf_vocab *v, const char *text, int32_t type, float score)
{
    return tf_add(v, text, strlen(text), type, score);
}

/* <unk> <s> </s> as ids 0, 1, 2 (SentencePiece's layout), then the 256 byte tokens. */
TF_FN void tf_add_base(struct tf_vocab *v)
{
    tf_add_str(v, "<unk>", HR_TOK_UNKNOWN, 0);
    tf_add_str(v, "<s>", HR_TOK_CONTROL, 0);
    tf_add_str(v, "</s>", HR_TOK_CONTROL, 0);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        tf_add(v, name, 6, HR_TOK_BYTE, 0);
    }
}

/* A writer holding tokenizer.ggml.model and the three arrays (n_scores/n_types entries;
 * 0 leaves the array out). Caller adds more keys and passes it to tf_build. */
TF_FN struct hr_gguf_writer *tf_writer(const struct tf_vocab *v, const char *model,
                                        size_t n_scores, size_t n_types)
{
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    if (model)
        assert_int_equal(hr_gguf_writer_add_str(w, "tokenizer.ggml.model", model,
                                                strlen(model)), 0);
    assert_int_equal(hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", v->toks, v->n), 0);
    if (n_scores)
        assert_int_equal(hr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HR_GGUF_F32,
                                                v->scores, n_scores), 0);
    if (n_types)
        assert_int_equal(hr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HR_GGUF_I32,
                                                v->types, n_types), 0);
    return w;
}

/* Writes w (and frees it), reads the bytes back and builds a tokenizer: the return code of
 * hr_tok_new_from_gguf, its diag in d. */
TF_FN int tf_build(struct hr_gguf_writer *w, struct hr_tok **out, struct hr_diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    assert_int_equal(fclose(f), 0);
    hr_gguf_writer_free(w);
    struct hr_gguf *g = NULL;
    assert_int_equal(hr_gguf_open_mem(&g, buf, len, d), 0);
    *out = NULL;
    int rc = hr_tok_new_from_gguf(out, g, d);
    hr_gguf_close(g);
    free(buf);
    return rc;
}

/* The common case: a complete "llama" vocabulary; fails the test if it does not build. */
TF_FN struct hr_tok *tf_spm(const struct tf_vocab *v)
{
    struct hr_tok *t = NULL;
    struct hr_diag d = {{0}};
    int rc = tf_build(tf_writer(v, "llama", v->n, v->n), &t, &d);
    if (rc)
        fail_msg("fixture vocabulary refused: %s", d.msg);
    return t;
}

#endif
