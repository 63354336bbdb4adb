/* Fuzz target: arbitrary bytes as text for both tokenizer kinds — a SentencePiece vocabulary
 * with byte fallback and a byte-level BPE one with the Llama 3 pre-tokenizer — encoded with
 * and without special-token parsing, then streamed back through the detokenizer. Both
 * vocabularies are built once, in memory, with the GGUF writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/tokenizer/unicode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hr_tok *build(bool bpe)
{
    struct hr_gguf_writer *w = NULL;
    hr_gguf_writer_new(&w);
    static char pool[64 * 1024];
    struct hr_str toks[600];
    int32_t types[600];
    float scores[600];
    size_t n = 0, used = 0;
#define ADD(text, len, type, score)                          \
    do {                                                     \
        memcpy(pool + used, text, len);                      \
        toks[n] = (struct hr_str){pool + used, len};         \
        used += len;                                         \
        types[n] = type;                                     \
        scores[n++] = score;                                 \
    } while (0)
    ADD("<unk>", 5, HR_TOK_UNKNOWN, 0);
    ADD("<s>", 3, HR_TOK_CONTROL, 0);
    ADD("</s>", 4, HR_TOK_CONTROL, 0);
    ADD("<|im_end|>", 10, HR_TOK_CONTROL, 0);
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t len;
        if (bpe) {
            len = hr_utf8_encode(hr_byte_to_cp((uint8_t)b), buf);
            ADD(buf, len, HR_TOK_NORMAL, 0);
        } else {
            len = (size_t)snprintf(buf, sizeof buf, "<0x%02X>", b);
            ADD(buf, len, HR_TOK_BYTE, 0);
        }
    }
    const char *words[] = {"th", "the", "\xC4\xA0t", "\xC4\xA0th", "\xC4\xA0the", "er", "in",
                           "\xE2\x96\x81t", "\xE2\x96\x81th", "\xE2\x96\x81the"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        ADD(words[i], strlen(words[i]), HR_TOK_NORMAL, -(float)i);
    hr_gguf_writer_add_str(w, "tokenizer.ggml.model", bpe ? "gpt2" : "llama", bpe ? 4 : 5);
    hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, n);
    hr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HR_GGUF_F32, scores, n);
    hr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HR_GGUF_I32, types, n);
    if (bpe) {
        struct hr_str merges[] = {{"t h", 3}, {"th e", 4}, {"\xC4\xA0 t", 4},
                                  {"\xC4\xA0t h", 5}, {"\xC4\xA0th e", 6}, {"e r", 3},
                                  {"i n", 3}};
        hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 7);
        hr_gguf_writer_add_str(w, "tokenizer.ggml.pre", "llama-bpe", 9);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hr_gguf_writer_write_header(w, f, NULL);
    fclose(f);
    hr_gguf_writer_free(w);
    struct hr_gguf *g = NULL;
    struct hr_tok *t = NULL;
    if (hr_gguf_open_mem(&g, buf, len, NULL) != 0 || hr_tok_new_from_gguf(&t, g, NULL) != 0)
        abort(); /* the harness itself is wrong */
    hr_gguf_close(g);
    free(buf);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hr_tok *toks[2];
    if (!toks[0]) {
        toks[0] = build(false);
        toks[1] = build(true);
    }
    size_t cap = hr_tok_max_tokens(size);
    int32_t *ids = malloc(cap * sizeof *ids);
    for (int k = 0; k < 2; k++) {
        for (int special = 0; special < 2; special++) {
            size_t n = 0;
            if (hr_tok_encode(toks[k], (const char *)data, size, true, special, ids, cap, &n))
                abort(); /* hr_tok_max_tokens always suffices */
            struct hr_detok s;
            hr_detok_init(&s);
            char out[HR_TOK_MAX_PIECE + 16];
            for (size_t i = 0; i < n; i++)
                hr_detok_push(&s, toks[k], ids[i], out, sizeof out);
            hr_detok_flush(&s, out, sizeof out);
        }
    }
    free(ids);
    return 0;
}
