/* The built-in vocabulary make-model writes when no --vocab is given: SentencePiece-style
 * (`llama` model) with <unk>, <s>, </s>, the ChatML control tokens, the 256 byte-fallback tokens,
 * every printable ASCII character, and common English words with all their prefixes (SPM only
 * merges through pieces that exist) scored so longer pieces win. Any thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../tokenizer/tok.h"
#include "synth_int.h"

static const char *const words[] = {
    "the", "and", "to", "of", "a", "in", "is", "you", "that", "it", "he", "was", "for", "on",
    "are", "as", "with", "his", "they", "I", "at", "be", "this", "have", "from", "or", "one",
    "had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can",
    "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will",
    "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her",
    "would", "make", "like", "him", "into", "time", "has", "look", "two", "more", "write",
    "go", "see", "number", "no", "way", "could", "people", "my", "than", "first", "water",
    "been", "call", "who", "its", "now", "find", "long", "down", "day", "did", "get", "come",
    "made", "may", "part", "hello", "help", "please", "thank", "yes", "model", "answer",
    "question", "Hello", "The", "What", "How", "Hi",
};

static const char *const chatml_template =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

struct vocab {
    struct hr_str *pieces;
    float *scores;
    int32_t *types;
    uint32_t n, cap;
    char *pool; /* backing store for generated pieces */
    size_t pool_n, pool_cap;
};

static int add(struct vocab *v, const char *s, size_t len, float score, int32_t type)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->pieces[i].len == len && memcmp(v->pieces[i].ptr, s, len) == 0)
            return 0; /* prefixes repeat across words */
    if (v->n == v->cap || v->pool_n + len > v->pool_cap)
        return HR_ENOMEM;
    memcpy(v->pool + v->pool_n, s, len);
    v->pieces[v->n] = (struct hr_str){v->pool + v->pool_n, len};
    v->pool_n += len;
    v->scores[v->n] = score;
    v->types[v->n] = type;
    v->n++;
    return 0;
}

int hr_synth__builtin_vocab(struct hr_gguf_writer *w, uint32_t *n_vocab)
{
    struct vocab v = {0};
    v.cap = 2048;
    v.pool_cap = 64 * 1024;
    v.pieces = calloc(v.cap, sizeof *v.pieces);
    v.scores = calloc(v.cap, sizeof *v.scores);
    v.types = calloc(v.cap, sizeof *v.types);
    v.pool = malloc(v.pool_cap);
    int rc = v.pieces && v.scores && v.types && v.pool ? 0 : HR_ENOMEM;
    const char *specials[] = {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"};
    const int32_t special_types[] = {HR_TOK_UNKNOWN, HR_TOK_CONTROL, HR_TOK_CONTROL,
                                     HR_TOK_CONTROL, HR_TOK_CONTROL};
    for (int i = 0; i < 5 && !rc; i++)
        rc = add(&v, specials[i], strlen(specials[i]), 0, special_types[i]);
    for (int b = 0; b < 256 && !rc; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        rc = add(&v, name, 6, 0, HR_TOK_BYTE);
    }
    rc = rc ? rc : add(&v, "\xE2\x96\x81", 3, -1000, HR_TOK_NORMAL);
    for (char c = '!'; c <= '~' && !rc; c++)
        rc = add(&v, &c, 1, -1000, HR_TOK_NORMAL);
    for (size_t i = 0; i < sizeof words / sizeof words[0] && !rc; i++) {
        char piece[64] = "\xE2\x96\x81";
        size_t wl = strlen(words[i]);
        memcpy(piece + 3, words[i], wl);
        /* every prefix "▁w", "▁wo", ... so the merges can reach the whole word */
        for (size_t k = 1; k <= wl && !rc; k++)
            rc = add(&v, piece, 3 + k, (float)k - 100.0f, HR_TOK_NORMAL);
    }
    if (!rc)
        rc = hr_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5);
    if (!rc)
        rc = hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", v.pieces, v.n);
    if (!rc)
        rc = hr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HR_GGUF_F32, v.scores, v.n);
    if (!rc)
        rc = hr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HR_GGUF_I32, v.types, v.n);
    if (!rc)
        rc = hr_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (!rc)
        rc = hr_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (!rc)
        rc = hr_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    if (!rc)
        rc = hr_gguf_writer_add_u32(w, "tokenizer.ggml.eot_token_id", 4);
    if (!rc)
        rc = hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true);
    if (!rc)
        rc = hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", false);
    if (!rc)
        rc = hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", true);
    if (!rc)
        rc = hr_gguf_writer_add_str(w, "tokenizer.chat_template", chatml_template,
                                    strlen(chatml_template));
    *n_vocab = v.n;
    free(v.pieces);
    free(v.scores);
    free(v.types);
    free(v.pool);
    return rc;
}
