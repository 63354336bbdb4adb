/* Fuzz target: POST /v1/completions and POST /v1/responses bodies through their api
 * validators (each input is tried as both), then the grammar a valid body asks for. Whatever
 * the bytes, parsing must end in a request or an error envelope with a status, never a crash;
 * a valid completion has 1..HR_MAX_CHOICES choices over its prompts. */
#include <stdint.h>
#include <stdlib.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct hr_api_error *e)
{
    if (e->status < 400 || e->status > 599)
        abort();
    free(hr_api_error_json(e));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_api_completion_req c;
    struct hr_api_error e;
    if (hr_api_completion_parse((const char *)data, size, &c, &e) != 0) {
        check_error(&e);
    } else {
        if (c.n_prompts == 0 || c.n_prompts * c.base.n > HR_MAX_CHOICES || !c.base.max_tokens)
            abort();
        if (hr_api_completion_check_vocab(&c, 1000, &e) != 0)
            check_error(&e);
        if (hr_api_chat_compile_grammar(&c.base, &e) != 0 && (e.status != 400 || !e.param[0]))
            abort();
    }
    hr_api_completion_req_deinit(&c);
    struct hr_api_responses_req r;
    if (hr_api_responses_parse((const char *)data, size, &r, &e) != 0) {
        check_error(&e);
    } else {
        if (!r.echo || r.base.n_msgs == 0)
            abort();
        if (hr_api_chat_compile_grammar(&r.base, &e) != 0 && (e.status != 400 || !e.param[0]))
            abort();
    }
    hr_api_responses_req_deinit(&r);
    return 0;
}
