/* Fuzz target: arbitrary bytes as a GGUF file. Parsing must reject or accept without a crash,
 * and everything an accepted file exposes must be readable within its bounds. */
#include <stdint.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open_mem(&g, data, size, &d) != 0)
        return 0;
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct hr_gguf_kv *kv = &g->kv[i];
        for (uint64_t k = 0; k < kv->n_bytes; k++)
            sink ^= kv->data[k];
        if (kv->strs)
            for (uint64_t k = 0; k < kv->arr_n; k++)
                if (kv->strs[k].len)
                    sink ^= (uint8_t)kv->strs[k].ptr[kv->strs[k].len - 1];
        float f;
        int64_t v;
        hr_gguf_arr_f32(kv, 0, &f);
        hr_gguf_arr_i64(kv, kv->arr_n ? kv->arr_n - 1 : 0, &v);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        if (t->n_bytes)
            sink ^= ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    /* A tokenizer built from hostile metadata must also fail cleanly or work. */
    struct hr_tok *tok = NULL;
    if (hr_tok_new_from_gguf(&tok, g, &d) == 0) {
        int32_t ids[64];
        size_t n = 0;
        hr_tok_encode(tok, "Hello <s> world", 15, true, true, ids, 64, &n);
        hr_tok_free(tok);
    }
    (void)sink;
    hr_gguf_close(g);
    return 0;
}
