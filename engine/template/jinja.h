/* A Jinja2 interpreter for chat templates, configured as Hugging Face runs them
 * (trim_blocks, lstrip_blocks, tojson without ASCII escaping, raise_exception, strftime_now).
 * Templates come from untrusted model files: nesting depth, loop iterations and output size
 * are capped, and anything the interpreter cannot run is an error naming the line and the
 * construct. Values (struct hr_jval) are the engine's own; api/ converts JSON into them.
 * Compiled templates are immutable: any thread may render concurrently. */
#ifndef HR_JINJA_H
#define HR_JINJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"

/* Caps on what a hostile template may make us do. */
#define HR_JINJA_MAX_DEPTH 64            /* nested calls/blocks/expressions while rendering */
#define HR_JINJA_MAX_ITERATIONS 1000000  /* loop iterations over a whole render */
#define HR_JINJA_MAX_OUTPUT (16u << 20)  /* bytes of rendered text */
#define HR_JINJA_MAX_SOURCE (1u << 20)   /* bytes of template text */

enum hr_jval_kind {
    HR_JV_UNDEFINED,
    HR_JV_NONE,
    HR_JV_BOOL,
    HR_JV_INT,
    HR_JV_FLOAT,
    HR_JV_STR,
    HR_JV_LIST,
    HR_JV_DICT,
    HR_JV_NAMESPACE,
    HR_JV_MACRO,
};

struct hr_jval;

/* Constructors return a new reference (NULL only when out of memory). */
struct hr_jval *hr_jval_none(void);
struct hr_jval *hr_jval_undefined(void);
struct hr_jval *hr_jval_bool(bool b);
struct hr_jval *hr_jval_int(int64_t i);
struct hr_jval *hr_jval_float(double f);
struct hr_jval *hr_jval_str(const char *s, size_t n);
struct hr_jval *hr_jval_list(void);
struct hr_jval *hr_jval_dict(void);
/* Take the reference of `take` (also on failure). */
int hr_jval_list_push(struct hr_jval *list, struct hr_jval *take);
int hr_jval_dict_set(struct hr_jval *dict, const char *key, size_t key_len,
                     struct hr_jval *take);
struct hr_jval *hr_jval_ref(struct hr_jval *v);
void hr_jval_unref(struct hr_jval *v);
enum hr_jval_kind hr_jval_kind(const struct hr_jval *v);

struct hr_jinja;

/* Parses a template. HR_EINVAL with a diag "line N: ..." naming the construct. */
int hr_jinja_compile(struct hr_jinja **out, const char *src, size_t len, struct hr_diag *d);
void hr_jinja_free(struct hr_jinja *t);

/* Renders with the variables of `vars` (a dict). now: unix seconds for strftime_now.
 * *out is malloc'd and NUL-terminated (caller frees). Errors (raise_exception, a cap, a type
 * error) return HR_EINVAL or HR_ERANGE with a diag naming the line. */
int hr_jinja_render(const struct hr_jinja *t, const struct hr_jval *vars, int64_t now,
                    char **out, size_t *n_out, struct hr_diag *d);

#endif
