/* Fuzz target: POST /v1/chat/completions bodies through the api validator. Whatever the bytes,
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
    }
    hr_api_chat_req_deinit(&r);
    return 0;
}
