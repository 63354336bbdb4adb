/* JSON (jansson) -> template values: how request messages, tools and settings become the
 * variables a chat template sees. Object key order is kept, as Python dicts keep it, so
 * tojson output matches jinja2's. Loop thread or any (pure). */
#include <string.h>

#include "api.h"

struct hr_jval *hr_api_jval_from_json(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct hr_jval *d = hr_jval_dict();
        const char *key;
        json_t *v;
        /* jansson iterates objects in insertion order (JSON_PRESERVE_ORDER is the default
         * since 2.8), which is the order the client sent */
        json_object_foreach((json_t *)j, key, v)
        {
            if (!d || hr_jval_dict_set(d, key, strlen(key), hr_api_jval_from_json(v)) != 0) {
                hr_jval_unref(d);
                return NULL;
            }
        }
        return d;
    }
    case JSON_ARRAY: {
        struct hr_jval *l = hr_jval_list();
        for (size_t i = 0; l && i < json_array_size(j); i++)
            if (hr_jval_list_push(l, hr_api_jval_from_json(json_array_get(j, i))) != 0) {
                hr_jval_unref(l);
                return NULL;
            }
        return l;
    }
    case JSON_STRING:
        return hr_jval_str(json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return hr_jval_int(json_integer_value(j));
    case JSON_REAL:
        return hr_jval_float(json_real_value(j));
    case JSON_TRUE:
        return hr_jval_bool(true);
    case JSON_FALSE:
        return hr_jval_bool(false);
    default:
        return hr_jval_none();
    }
}
