/* The config file's "models" list: the models served, each with its id, file, and optional
 * context size, parallelism, chat template and preload. Every problem names the file, the
 * entry's index and the key. Main thread at start-up. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine/base/err.h"

static int get_str(json_t *o, const char *key, char *out, size_t cap, bool required,
                   const char *where, size_t i, struct hr_diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (!required)
            return 0;
        hr_diag_set(d, "%s: models[%zu].%s: missing", where, i, key);
        return HR_EINVAL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap) {
        hr_diag_set(d, "%s: models[%zu].%s: expected a non-empty string shorter than %zu bytes",
                    where, i, key, cap);
        return HR_EINVAL;
    }
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int get_int(json_t *o, const char *key, int64_t *out, int64_t lo, int64_t hi,
                   const char *where, size_t i, struct hr_diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        hr_diag_set(d, "%s: models[%zu].%s: expected an integer in %lld..%lld", where, i, key,
                    (long long)lo, (long long)hi);
        return HR_EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

static const char *const known_keys[] = {"id", "path", "ctx", "parallel", "chat_template",
                                         "preload"};

static int parse_entry(json_t *o, struct hr_config_model *m, const char *where, size_t i,
                       struct hr_diag *d)
{
    if (!json_is_object(o)) {
        hr_diag_set(d, "%s: models[%zu]: expected an object with id and path", where, i);
        return HR_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool known = false;
        for (size_t k = 0; k < sizeof known_keys / sizeof known_keys[0]; k++)
            known = known || strcmp(key, known_keys[k]) == 0;
        if (!known) {
            hr_diag_set(d, "%s: models[%zu]: unknown key '%.64s'", where, i, key);
            return HR_EINVAL;
        }
    }
    int rc = get_str(o, "id", m->id, sizeof m->id, true, where, i, d);
    rc = rc ? rc : get_str(o, "path", m->path, sizeof m->path, true, where, i, d);
    rc = rc ? rc : get_str(o, "chat_template", m->chat_template, sizeof m->chat_template,
                           false, where, i, d);
    rc = rc ? rc : get_int(o, "ctx", &m->ctx, 0, 1048576, where, i, d);
    rc = rc ? rc : get_int(o, "parallel", &m->parallel, 0, 256, where, i, d);
    if (rc)
        return rc;
    json_t *pre = json_object_get(o, "preload");
    if (pre && !json_is_boolean(pre)) {
        hr_diag_set(d, "%s: models[%zu].preload: expected true or false", where, i);
        return HR_EINVAL;
    }
    m->preload = pre && json_is_true(pre);
    return 0;
}

int hr_config_models_parse(struct hr_config *c, json_t *list, const char *where,
                           struct hr_diag *d)
{
    if (!json_is_array(list) || json_array_size(list) > HR_CONFIG_MAX_MODELS) {
        hr_diag_set(d, "%s: models: expected an array of at most %d objects", where,
                    HR_CONFIG_MAX_MODELS);
        return HR_EINVAL;
    }
    size_t n = json_array_size(list);
    struct hr_config_model *ms = calloc(n ? n : 1, sizeof *ms);
    if (!ms)
        return HR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = parse_entry(json_array_get(list, i), &ms[i], where, i, d);
        for (size_t j = 0; rc == 0 && j < i; j++) {
            if (strcmp(ms[j].id, ms[i].id) == 0) {
                hr_diag_set(d, "%s: models[%zu].id: '%.64s' is also models[%zu]'s", where, i,
                            ms[i].id, j);
                rc = HR_EINVAL;
            }
        }
        if (rc) {
            free(ms);
            return rc;
        }
    }
    free(c->models);
    c->models = ms;
    c->n_models = n;
    return 0;
}

void hr_config_deinit(struct hr_config *c)
{
    free(c->models);
    c->models = NULL;
    c->n_models = 0;
}
