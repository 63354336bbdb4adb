/* Token ids back to bytes: U+2581 becomes a space, <0xXX> byte tokens their byte, control
 * tokens nothing (unless rendered on purpose); and the streaming detokenizer, which holds back
 * an incomplete UTF-8 sequence until the token that completes it, so a client never receives
 * half a character. Invalid sequences become U+FFFD rather than stalling the stream.
 * Any thread (a detokenizer state belongs to one sequence). */
#include <string.h>

#include "../base/limits.h"
#include "tok_int.h"
#include "unicode.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t hr_tok_token_bytes(const struct hr_tok *t, int32_t id, bool render_special, char *buf,
                          size_t cap)
{
    if (id < 0 || id >= t->n_vocab)
        return 0;
    const struct hr_tok_entry *e = &t->tokens[id];
    switch (e->type) {
    case HR_TOK_CONTROL:
    case HR_TOK_UNKNOWN:
        if (!render_special)
            return 0;
        if (e->len <= cap)
            memcpy(buf, e->text, e->len);
        return e->len;
    case HR_TOK_UNUSED:
    case HR_TOK_UNDEFINED:
        return 0; /* llama.cpp prints nothing for these, even when rendering specials */
    case HR_TOK_BYTE: {
        int hi = e->len == 6 ? hexval(e->text[3]) : -1;
        int lo = e->len == 6 ? hexval(e->text[4]) : -1;
        if (hi >= 0 && lo >= 0) {
            if (cap)
                buf[0] = (char)(hi * 16 + lo);
            return 1;
        }
        break;
    }
    case HR_TOK_USER_DEFINED:
        if (e->len <= cap)
            memcpy(buf, e->text, e->len);
        return e->len;
    default:
        break;
    }
    size_t o = 0;
    if (t->kind == HR_TOK_KIND_BPE) {
        /* Byte-level: each code point stands for one byte (others are kept as they are). */
        for (uint32_t i = 0; i < e->len;) {
            size_t len;
            uint32_t cp = hr_utf8_decode(e->text + i, e->len - i, &len);
            int b = hr_cp_to_byte(cp);
            if (b >= 0) {
                if (o < cap)
                    buf[o] = (char)b;
                o++;
            } else {
                for (size_t k = 0; k < len; k++, o++)
                    if (o < cap)
                        buf[o] = e->text[i + k];
            }
            i += (uint32_t)len;
        }
        return o;
    }
    for (uint32_t i = 0; i < e->len;) {
        if (i + 3 <= e->len && memcmp(e->text + i, "\xE2\x96\x81", 3) == 0) {
            if (o < cap)
                buf[o] = ' ';
            o++;
            i += 3;
        } else {
            if (o < cap)
                buf[o] = e->text[i];
            o++;
            i++;
        }
    }
    return o;
}

void hr_detok_init(struct hr_detok *s)
{
    s->n_pending = 0;
}

/* Length of the UTF-8 sequence a lead byte announces; 0 for a byte that cannot lead. */
static size_t lead_len(uint8_t c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Whether b is a valid continuation at position k of the sequence led by lead. */
static bool cont_ok(uint8_t lead, size_t k, uint8_t b)
{
    if ((b & 0xC0) != 0x80)
        return false;
    if (k != 1)
        return true;
    if (lead == 0xE0)
        return b >= 0xA0;
    if (lead == 0xED)
        return b <= 0x9F; /* no surrogates */
    if (lead == 0xF0)
        return b >= 0x90;
    if (lead == 0xF4)
        return b <= 0x8F;
    return true;
}

static const char replacement[3] = {'\xEF', '\xBF', '\xBD'};

/* Moves every complete (or hopeless) sequence from in[0..n) to out; keeps an incomplete
 * tail in s->pending. Each invalid maximal subpart becomes one U+FFFD, so garbage can triple
 * in size: output stops at the last character that fits in cap (only a garbage vocabulary
 * piece gets there), and the count returned is what was written. */
static size_t drain(struct hr_detok *s, const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    while (i < n) {
        size_t need = lead_len(in[i]);
        size_t k = 1;
        while (need > 1 && k < need && i + k < n && cont_ok(in[i], k, in[i + k]))
            k++;
        const void *src = replacement;
        size_t len = 3;
        if (need == 1 || (need > 1 && k == need)) {
            src = in + i;
            len = need;
            i += need;
        } else if (need > 1 && i + k == n) {
            memcpy(s->pending, in + i, k); /* incomplete so far: wait for more */
            s->n_pending = k;
            return o;
        } else {
            i += need > 1 ? k : 1;
        }
        if (len > cap - o)
            break;
        memcpy(out + o, src, len);
        o += len;
    }
    return o;
}

size_t hr_detok_push(struct hr_detok *s, const struct hr_tok *t, int32_t id, char *out,
                     size_t cap)
{
    uint8_t buf[HR_TOK_MAX_PIECE + 8];
    size_t n = s->n_pending;
    memcpy(buf, s->pending, n);
    size_t len = hr_tok_token_bytes(t, id, false, (char *)buf + n, HR_TOK_MAX_PIECE);
    if (len > HR_TOK_MAX_PIECE)
        len = 0;
    s->n_pending = 0;
    return drain(s, buf, n + len, out, cap);
}

size_t hr_detok_flush(struct hr_detok *s, char *out, size_t cap)
{
    size_t n = s->n_pending;
    s->n_pending = 0;
    if (n == 0)
        return 0;
    if (cap < 3)
        return 0;
    memcpy(out, replacement, 3);
    return 3;
}
