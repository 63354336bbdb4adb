/* Fuzz target: the UTC times GET /v1/usage takes from the query string (?since=, ?until=)
 * and the CLI from its flags. Whatever the bytes, parsing fails cleanly or gives a time whose
 * ISO spelling parses back to the same second (up to year 9999), never a crash or a read past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/utc_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* query values and argv are C strings */
    for (int next_day = 0; next_day < 2; next_day++) {
        int64_t ms = 0, back = 0;
        if (hr_utc_parse_ms(s, next_day != 0, &ms) != 0)
            continue;
        if (ms < 0)
            abort(); /* years from 1970 only */
        if (ms >= 253402300800000LL)
            continue; /* 10000-01-01 (the day after 9999-12-31): past what ISO text spells */
        char iso[HR_UTC_ISO_MAX];
        hr_utc_format_iso(ms, iso);
        if (hr_utc_parse_ms(iso, false, &back) != 0 || back / 1000 != ms / 1000)
            abort();
    }
    free(s);
    return 0;
}
