/* JSON strings from bytes that may not be valid UTF-8 (see json_text.c). Loop thread. */
#ifndef HR_API_JSON_TEXT_H
#define HR_API_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* A new JSON string of s[0..n), invalid UTF-8 replaced by U+FFFD; NULL only without memory. */
json_t *hr_api_json_text(const char *s, size_t n);

#endif
