/* Fuzz target: POST /v1/chat/completions bodies through the api validator, then the grammar a
 * valid body asks for (response_format, grammar) through its compiler. Whatever the bytes,
 * parsing must end in a request or an error envelope with a status, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_api_chat_req r;
    struct hr_api_error e;
    if (hr_api_chat_parse((const char *)data, size, &r, &e) != 0) {
        if (e.status < 400 || e.status > 599)
            abort();
        free(hr_api_error_json(&e));
    } else if (hr_api_chat_compile_grammar(&r, &e) != 0 && (e.status != 400 || !e.param[0])) {
        abort(); /* a grammar that does not compile is a 400 naming its param */
    }
    hr_api_chat_req_deinit(&r);
    return 0;
}
