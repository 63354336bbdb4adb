/* Fuzz target: model answers through the tool-call parsers of every format. The first byte
 * picks the format; whatever the rest, the result is an array of well-formed calls of
 * offered tools plus text no longer than the input, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *tools;
    if (!tools)
        tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"add\"}},"
                           "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]",
                           0, NULL);
    if (size == 0)
        return 0;
    enum hr_api_tool_format f = (enum hr_api_tool_format)(data[0] % 4);
    char *content = NULL;
    size_t n = 0;
    json_t *calls =
        hr_api_parse_tool_calls(f, (const char *)data + 1, size - 1, tools, &content, &n);
    if (!calls)
        return 0;
    if (n > size - 1 || strlen(content) > n)
        abort();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
    {
        json_t *fn = json_object_get(c, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_t *args = json_loads(json_string_value(json_object_get(fn, "arguments")), 0, NULL);
        if (!name || (strcmp(name, "add") && strcmp(name, "get_weather")) || !json_is_object(args))
            abort();
        json_decref(args);
    }
    json_decref(calls);
    free(content);
    return 0;
}
