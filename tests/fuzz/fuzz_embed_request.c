/* Fuzz target: POST /v1/embeddings bodies through the api validator, the model checks against
 * a fake 64-wide model of 100 tokens, and the answer JSON for as many vectors as inputs.
 * Whatever the bytes, parsing ends in a request or an error envelope with a status, and an
 * accepted request's answer is built, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_api_embed_req r;
    struct hr_api_error e;
    struct hr_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.arch, sizeof m.arch, "llama");
    m.n_vocab = 100;
    m.n_embd = 64;
    m.pooling = HR_POOLING_NONE;
    if (hr_api_embed_parse((const char *)data, size, &r, &e) != 0 ||
        hr_api_embed_check_model(&r, &m, "m", &e) != 0) {
        if (e.status < 400 || e.status > 599)
            abort();
        free(hr_api_error_json(&e));
    } else {
        if (r.n_inputs == 0 || r.n_inputs > HR_MAX_EMBED_INPUTS)
            abort();
        float *v = calloc(r.n_inputs * m.n_embd, sizeof *v);
        char *json = v ? hr_api_embed_json(r.model, v, r.n_inputs, m.n_embd, r.format, 1) : NULL;
        if (v && !json)
            abort();
        free(json);
        free(v);
    }
    hr_api_embed_req_deinit(&r);
    return 0;
}
