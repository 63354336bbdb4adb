/* Fuzz target: arbitrary bytes as a GBNF grammar or a JSON Schema (the first byte picks which,
 * and strict mode), then the rest after a NUL byte as output fed to the matcher byte by byte,
 * with a mask over a small vocabulary (every byte, some multi-byte pieces, an EOG token)
 * every few bytes, checked for the EOG and completion rules. Must end in a grammar
 * or an error with a message — never a crash, a hang past the caps, or a leak. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_PIECES 270

static struct hr_grammar_vocab *vocab(void)
{
    static struct hr_grammar_vocab *v;
    if (v)
        return v;
    static char bytes[256];
    static const char *extra[] = {"{\"", "\":", "true", "null", "\xC3\xA9", "\xE2\x82",
                                  "\xAC", "  ", "\n", "ab", "abc", "0.5", "}", "\"}"};
    const char *pieces[N_PIECES];
    uint32_t lens[N_PIECES];
    bool eog[N_PIECES] = {false};
    for (int i = 0; i < 256; i++) {
        bytes[i] = (char)i;
        pieces[i] = bytes + i;
        lens[i] = 1;
    }
    for (int i = 0; i < 14; i++) {
        pieces[256 + i] = extra[i];
        lens[256 + i] = (uint32_t)strlen(extra[i]);
    }
    lens[269] = 0;
    eog[269] = true;
    hr_grammar_vocab_new_raw(&v, N_PIECES, pieces, lens, eog);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *src = (const char *)data + 1;
    const char *sep = memchr(src, '\0', size - 1);
    size_t n_src = sep ? (size_t)(sep - src) : size - 1;
    const char *text = sep ? sep + 1 : NULL;
    size_t n_text = sep ? size - 1 - n_src - 1 : 0;
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    int rc;
    switch (data[0] % 3) {
    case 0:
        rc = hr_grammar_parse(&g, src, n_src, &d);
        break;
    case 1:
        rc = hr_grammar_from_schema(&g, src, n_src, data[0] & 4, &d);
        break;
    default:
        rc = hr_grammar_json_object(&g, &d);
        break;
    }
    if (rc) {
        if (!d.msg[0])
            abort(); /* every refusal names its reason */
        return 0;
    }
    struct hr_grammar_vocab *v = vocab();
    struct hr_grammar_state *s = NULL;
    if (hr_grammar_state_new(&s, g, v) == 0) {
        float logits[N_PIECES];
        for (size_t i = 0; i < n_text; i++) {
            if (i % 4 == 0) {
                for (int t = 0; t < N_PIECES; t++)
                    logits[t] = 0;
                if (hr_grammar_apply_mask(s, logits) != 0)
                    break;
                if (hr_grammar_is_complete(s) && !isinf(logits[(uint8_t)text[i]]))
                    abort(); /* complete: only EOG may follow */
                if (isinf(logits[269]) == hr_grammar_is_accepting(s))
                    abort(); /* EOG exactly when accepting */
            }
            if (hr_grammar_accept_bytes(s, text + i, 1) != 0)
                break;
        }
        hr_grammar_state_free(s);
    }
    hr_grammar_unref(g);
    return 0;
}
