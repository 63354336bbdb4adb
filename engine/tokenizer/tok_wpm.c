/* WordPiece (`tokenizer.ggml.model = "bert"`), as llama.cpp does it for embedding models: text
 * is normalized (each code point to the base of its canonical decomposition, lowercased,
 * controls dropped), split on whitespace, with every punctuation mark, ASCII symbol and CJK
 * ideograph its own word; each word, prefixed with U+2581 as GGUF BERT vocabularies mark word
 * starts, is cut greedily into the longest vocabulary pieces; a word that cannot be cut
 * becomes [UNK]. Any thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "tok_int.h"
#include "unicode.h"

static bool is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Greedy longest-match of one word (already "▁" + normalized text). */
static int wpm_word(const struct hr_tok *t, const char *w, size_t n, struct hr_tok_out *o)
{
    size_t start = o->n;
    for (size_t i = 0; i < n;) {
        size_t j = n - i > t->max_piece ? i + t->max_piece : n;
        int32_t id = -1;
        for (; j > i; j--) {
            id = hr_tok__lookup(t, w + i, j - i);
            if (id >= 0)
                break;
        }
        if (id < 0) {
            o->n = start; /* the whole word is unknown */
            break;
        }
        int rc = hr_tok__emit(o, id);
        if (rc)
            return rc;
        i = j;
    }
    return o->n == start ? hr_tok__emit(o, t->unk >= 0 ? t->unk : 0) : 0;
}

int hr_tok__wpm_encode(const struct hr_tok *t, const char *text, size_t len,
                       struct hr_tok_out *o)
{
    /* a normalized code point is at most 4 bytes; the word buffer never exceeds that */
    char *word = malloc(4 * len + 4);
    if (!word)
        return HR_ENOMEM;
    size_t wn = 0;
    int rc = 0;
    memcpy(word, "\xE2\x96\x81", 3);
#define FLUSH()                                            \
    do {                                                   \
        if (!rc && wn > 0)                                 \
            rc = wpm_word(t, word, wn + 3, o);             \
        wn = 0;                                            \
    } while (0)
    for (size_t i = 0; i < len && !rc;) {
        size_t l;
        uint32_t cp = hr_utf8_decode(text + i, len - i, &l);
        i += l;
        cp = hr_uc_nfd_first_cp(cp);
        if (hr_uc_is_whitespace(cp)) {
            FLUSH();
            continue;
        }
        enum hr_uc_cat cat = hr_uc_category(cp);
        if (cp == 0 || cp == 0xFFFD || cat == HR_UC_CC || cat == HR_UC_CF || cat == HR_UC_CO ||
            cat == HR_UC_CS || cat == HR_UC_CN)
            continue;
        char enc[4];
        size_t el = hr_utf8_encode(hr_uc_tolower(cp), enc);
        bool alone = hr_uc_is_punct(cp) ||
                     (cp < 0x7F && cat >= HR_UC_SM && cat <= HR_UC_SO) || is_cjk(cp);
        if (alone)
            FLUSH();
        memcpy(word + 3 + wn, enc, el);
        wn += el;
        if (alone)
            FLUSH();
    }
    FLUSH();
#undef FLUSH
    free(word);
    return rc;
}
