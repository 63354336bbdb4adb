/* JSON Schema -> GBNF, for OpenAI's response_format json_schema (strict mode) and what common
 * clients (pydantic, zod) send. Each schema node becomes a rule; $defs/definitions are
 * compiled once per name, so recursion through $ref works. Supported: type (also arrays of
 * types), properties/required/additionalProperties, items/minItems/maxItems, enum, const,
 * anyOf/oneOf (oneOf as anyOf), allOf of one schema, minLength/maxLength, integer
 * minimum/maximum/exclusive* (schema_num.c), "minimum": 0 on numbers, format date,
 * time, date-time and uuid (other formats are annotations), $ref to #/$defs/x or
 * #/definitions/x. Any other assertion keyword is refused naming it, so a schema is never
 * partly enforced. Whitespace between tokens is at most one space or a newline and 20 spaces
 * or tabs of indentation (llama.cpp's choice), so output cannot loop on whitespace.
 * Any thread. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "grammar_int.h"
#include "json_mini.h"

#define MAX_DEFS 1024

/* Shared rules every compiled schema may use. */
static const char base_rules[] =
    "ws ::= (\" \" | \"\\n\" [ \\t]{0,20})?\n"
    "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "integer ::= \"-\"? (\"0\" | [1-9] [0-9]{0,18})\n"
    "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n"
    "nonneg-number ::= (\"0\" | [1-9] [0-9]{0,18}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws (string ws \":\" ws value (ws \",\" ws string ws \":\" ws value)*"
    " ws)? \"}\"\n"
    "array ::= \"[\" ws (value (ws \",\" ws value)* ws)? \"]\"\n";

static const char json_object_gbnf[] =
    "root ::= object\n"
    "ws ::= (\" \" | \"\\n\" [ \\t]{0,20})?\n"
    "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "integer ::= \"-\"? (\"0\" | [1-9] [0-9]{0,18})\n"
    "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n"
    "value ::= object | array | string | number | \"true\" | \"false\" | \"null\"\n"
    "object ::= \"{\" ws (string ws \":\" ws value (ws \",\" ws string ws \":\" ws value)*"
    " ws)? \"}\"\n"
    "array ::= \"[\" ws (value (ws \",\" ws value)* ws)? \"]\"\n";

/* RFC 3339 dates as Python's date.fromisoformat reads them: years 0001-9999, days within
 * their month, February 29 only in leap years (every 4th, not centuries unless every 400th). */
static const char fmt_rules[] =
    "fmt-year ::= [1-9] [0-9]{3} | \"0\" ([1-9] [0-9]{2} | \"0\" ([1-9] [0-9] | \"0\" [1-9]))\n"
    "fmt-by4 ::= \"0\" [48] | [2468] [048] | [13579] [26]\n"
    "fmt-leap ::= [0-9]{2} fmt-by4 | fmt-by4 \"00\"\n"
    "fmt-md ::= (\"0\" [13578] | \"1\" [02]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01])"
    " | (\"0\" [469] | \"11\") \"-\" (\"0\" [1-9] | [12] [0-9] | \"30\")"
    " | \"02-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])\n"
    "fmt-date ::= fmt-year \"-\" fmt-md | fmt-leap \"-02-29\"\n"
    "fmt-time ::= ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9]"
    " (\".\" [0-9]{1,9})? (\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])\n"
    "fmt-uuid ::= [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\""
    " [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}\n";

struct def {
    const char *name;
    size_t name_n;
    const struct hr_jm *schema;
    bool defs; /* under $defs (else definitions) */
    bool emitted;
};

struct comp {
    struct hr_gbuf out;
    const struct hr_jm *root;
    bool strict;
    struct diag_path {
        char s[256];
        size_t n;
    } path;
    uint32_t n_rules;
    struct def defs[MAX_DEFS];
    uint32_t n_defs;
    int depth;
    struct hr_diag *d;
};

void hr_grammar__buf_put(struct hr_gbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n + 1 > b->max) {
        b->failed = true;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void hr_grammar__buf_puts(struct hr_gbuf *b, const char *s)
{
    hr_grammar__buf_put(b, s, strlen(s));
}

void hr_grammar__buf_printf(struct hr_gbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    hr_grammar__buf_put(b, tmp, (size_t)n);
}

static int refuse(struct comp *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct comp *c, int err, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hr_diag_set(c->d, "%s (at %s)", msg, c->path.n ? c->path.s : "the schema root");
    return err;
}

/* The JSON pointer of what is being compiled, for messages; restored by the caller. */
static size_t path_push(struct comp *c, const char *a, const char *b, size_t b_n)
{
    size_t old = c->path.n;
    int n = snprintf(c->path.s + old, sizeof c->path.s - old, "/%s%s%.*s", a, b ? "/" : "",
                     b ? (int)(b_n > 64 ? 64 : b_n) : 0, b ? b : "");
    if (n > 0 && old + (size_t)n < sizeof c->path.s)
        c->path.n = old + (size_t)n;
    return old;
}

static void path_pop(struct comp *c, size_t old)
{
    c->path.n = old;
    c->path.s[old] = '\0';
}

/* Bytes as a GBNF literal: quotes and backslashes escaped, control bytes as \xHH. */
static void put_literal(struct hr_gbuf *b, const char *s, size_t n)
{
    hr_grammar__buf_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            hr_grammar__buf_put(b, e, 2);
        } else if (ch < 0x20 || ch == 0x7F) {
            hr_grammar__buf_printf(b, "\\x%02X", ch);
        } else {
            hr_grammar__buf_put(b, (const char *)&ch, 1);
        }
    }
    hr_grammar__buf_put(b, "\"", 1);
}

/* A value's compact JSON text (the one spelling the output may use). */
static void json_text(struct hr_gbuf *b, const struct hr_jm *v)
{
    switch (v->kind) {
    case HR_JM_NULL:
        hr_grammar__buf_puts(b, "null");
        break;
    case HR_JM_BOOL:
        hr_grammar__buf_puts(b, v->b ? "true" : "false");
        break;
    case HR_JM_NUM:
        hr_grammar__buf_put(b, v->s, v->n);
        break;
    case HR_JM_STR:
        hr_grammar__buf_put(b, "\"", 1);
        for (size_t i = 0; i < v->n; i++) {
            unsigned char ch = (unsigned char)v->s[i];
            if (ch == '"' || ch == '\\') {
                char e[2] = {'\\', (char)ch};
                hr_grammar__buf_put(b, e, 2);
            } else if (ch < 0x20) {
                hr_grammar__buf_printf(b, "\\u%04x", ch);
            } else {
                hr_grammar__buf_put(b, (const char *)&ch, 1);
            }
        }
        hr_grammar__buf_put(b, "\"", 1);
        break;
    case HR_JM_ARR:
    case HR_JM_OBJ: {
        bool obj = v->kind == HR_JM_OBJ;
        hr_grammar__buf_put(b, obj ? "{" : "[", 1);
        for (const struct hr_jm *e = v->child; e; e = e->next) {
            if (obj) {
                struct hr_jm key = {.kind = HR_JM_STR, .s = e->key, .n = e->key_n};
                json_text(b, &key);
                hr_grammar__buf_put(b, ":", 1);
            }
            json_text(b, e);
            if (e->next)
                hr_grammar__buf_put(b, ",", 1);
        }
        hr_grammar__buf_put(b, obj ? "}" : "]", 1);
        break;
    }
    }
}

/* The literal matching exactly v's JSON text, into b. */
static int put_value_literal(struct comp *c, struct hr_gbuf *b, const struct hr_jm *v)
{
    struct hr_gbuf t = {.max = HR_GRAMMAR_MAX_SOURCE};
    json_text(&t, v);
    if (t.failed) {
        free(t.p);
        return refuse(c, HR_EINVAL, "enum or const value too large");
    }
    put_literal(b, t.p ? t.p : "", t.n);
    free(t.p);
    return 0;
}

static int new_rule(struct comp *c, char *name, size_t cap)
{
    if (c->n_rules >= HR_GRAMMAR_MAX_RULES / 4)
        return refuse(c, HR_EINVAL, "schema needs more than %d rules", HR_GRAMMAR_MAX_RULES / 4);
    snprintf(name, cap, "s%u", c->n_rules++);
    return 0;
}

/* Compiles schema s into a rule of c->out; its name (or a shared rule's) goes to name. */
static int compile(struct comp *c, const struct hr_jm *s, char *name, size_t cap);

/* compile() for a child found under keyword a (and member b), for messages. */
static int compile_at(struct comp *c, const struct hr_jm *s, const char *a, const char *b,
                      size_t b_n, char *name, size_t cap)
{
    size_t old = path_push(c, a, b, b_n);
    int rc = compile(c, s, name, cap);
    path_pop(c, old);
    return rc;
}

/* Keywords that do not constrain output (annotations), and the ones compile() enforces. */
static bool keyword_known(const char *k, size_t n)
{
    static const char *const ok[] = {
        "type", "properties", "required", "additionalProperties", "items", "minItems",
        "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "minLength", "maxLength",
        "format", "$ref", "$defs", "definitions", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "title", "description", "default",
        "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly",
        "contentMediaType", "contentEncoding"};
    if (n > 2 && k[0] == 'x' && k[1] == '-')
        return true; /* vendor annotations (OpenAPI) */
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], k, n) == 0)
            return true;
    return false;
}

static bool is(const struct hr_jm *v, const char *s)
{
    return v && v->kind == HR_JM_STR && v->n == strlen(s) && memcmp(v->s, s, v->n) == 0;
}

/* A non-negative integer keyword; -1 when absent. */
static int get_count(struct comp *c, const struct hr_jm *s, const char *key, long *out)
{
    const struct hr_jm *v = hr_grammar__json_get(s, key);
    *out = -1;
    if (!v)
        return 0;
    if (v->kind != HR_JM_NUM || !v->is_int || v->num < 0 || v->num > 1e9)
        return refuse(c, HR_EINVAL, "'%s' must be a non-negative integer", key);
    *out = (long)v->num;
    return 0;
}

/* {min,max} for a repetition; max < 0 or past HR_GRAMMAR_MAX_REPEAT is unbounded. */
static int put_repeat(struct comp *c, struct hr_gbuf *b, const char *what, long min, long max)
{
    if (min > HR_GRAMMAR_MAX_REPEAT)
        return refuse(c, HR_EUNSUPPORTED, "%s above %d is not supported", what,
                      HR_GRAMMAR_MAX_REPEAT);
    if (min < 0)
        min = 0;
    if (max >= 0 && max < min)
        return refuse(c, HR_EINVAL, "%s: the maximum is below the minimum", what);
    if (max < 0 || max > HR_GRAMMAR_MAX_REPEAT)
        hr_grammar__buf_printf(b, "{%ld,}", min);
    else
        hr_grammar__buf_printf(b, "{%ld,%ld}", min, max);
    return 0;
}

static int compile_string(struct comp *c, const struct hr_jm *s, struct hr_gbuf *b)
{
    const struct hr_jm *f = hr_grammar__json_get(s, "format");
    if (is(f, "date") || is(f, "time") || is(f, "date-time") || is(f, "uuid")) {
        if (hr_grammar__json_get(s, "minLength") || hr_grammar__json_get(s, "maxLength"))
            return refuse(c, HR_EUNSUPPORTED, "'format' together with a length");
        const char *r = is(f, "date") ? "fmt-date" : is(f, "time") ? "fmt-time"
                        : is(f, "uuid") ? "fmt-uuid" : "fmt-date \"T\" fmt-time";
        hr_grammar__buf_printf(b, "\"\\\"\" %s \"\\\"\"", r);
        return 0;
    }
    long min, max;
    int rc = get_count(c, s, "minLength", &min);
    if (rc == 0)
        rc = get_count(c, s, "maxLength", &max);
    if (rc)
        return rc;
    if (min < 0 && max < 0) {
        hr_grammar__buf_puts(b, "string");
        return 0;
    }
    hr_grammar__buf_puts(b, "\"\\\"\" char");
    rc = put_repeat(c, b, "minLength", min, max);
    hr_grammar__buf_puts(b, " \"\\\"\"");
    return rc;
}

static int compile_array(struct comp *c, const struct hr_jm *s, struct hr_gbuf *b)
{
    long min, max;
    int rc = get_count(c, s, "minItems", &min);
    if (rc == 0)
        rc = get_count(c, s, "maxItems", &max);
    if (rc)
        return rc;
    char item[32] = "value";
    const struct hr_jm *items = hr_grammar__json_get(s, "items");
    if (items && (rc = compile_at(c, items, "items", NULL, 0, item, sizeof item)) != 0)
        return rc;
    if (max == 0) {
        hr_grammar__buf_puts(b, "\"[\" ws \"]\"");
        return 0;
    }
    if (min < 0)
        min = 0;
    hr_grammar__buf_printf(b, "\"[\" ws %s%s (ws \",\" ws %s)", min == 0 ? "(" : "", item,
                           item);
    rc = put_repeat(c, b, "minItems", min ? min - 1 : 0, max > 0 ? max - 1 : -1);
    hr_grammar__buf_printf(b, "%s ws \"]\"", min == 0 ? ")?" : "");
    return rc;
}

static bool listed(const struct hr_jm *req, const char *key, size_t n)
{
    for (const struct hr_jm *r = req ? req->child : NULL; r; r = r->next)
        if (r->kind == HR_JM_STR && r->n == n && memcmp(r->s, key, n) == 0)
            return true;
    return false;
}

/* Properties in their declared order; required ones always, optional ones may be left out.
 * With kv_i the rule of member i, chain rules  self-t<i>-<comma> ::= [","] kv_i
 * self-t<i+1>-1 [| self-t<i+1>-<comma>]  (the alternative only for optional members) put
 * commas exactly between the members present, in rules linear in the property count. */
static int compile_object(struct comp *c, const struct hr_jm *s, const char *self,
                          struct hr_gbuf *b)
{
    const struct hr_jm *props = hr_grammar__json_get(s, "properties");
    const struct hr_jm *req = hr_grammar__json_get(s, "required");
    const struct hr_jm *addl = hr_grammar__json_get(s, "additionalProperties");
    if (props && props->kind != HR_JM_OBJ)
        return refuse(c, HR_EINVAL, "'properties' must be an object");
    if (req && req->kind != HR_JM_ARR)
        return refuse(c, HR_EINVAL, "'required' must be an array");
    for (const struct hr_jm *r = req ? req->child : NULL; r; r = r->next) {
        if (r->kind != HR_JM_STR)
            return refuse(c, HR_EINVAL, "'required' must list strings");
        bool found = false;
        for (const struct hr_jm *p = props ? props->child : NULL; p; p = p->next)
            found |= p->key_n == r->n && memcmp(p->key, r->s, r->n) == 0;
        if (!found)
            return refuse(c, HR_EINVAL, "required property '%.64s' is not in 'properties'",
                          r->s);
    }
    if (addl && addl->kind != HR_JM_BOOL && addl->kind != HR_JM_OBJ)
        return refuse(c, HR_EINVAL, "'additionalProperties' must be a boolean or a schema");
    bool addl_on = addl && !(addl->kind == HR_JM_BOOL && !addl->b);
    size_t n_props = props ? props->n_children : 0;
    if (c->strict && addl_on)
        return refuse(c, HR_EINVAL, "strict mode needs 'additionalProperties': false");
    if (n_props == 0) {
        /* no declared properties: any object, or a map of additionalProperties' schema */
        char val[32] = "value";
        if (addl && !addl_on) {
            hr_grammar__buf_puts(b, "\"{\" ws \"}\"");
            return 0;
        }
        if (addl && addl->kind == HR_JM_OBJ) {
            int rc = compile_at(c, addl, "additionalProperties", NULL, 0, val, sizeof val);
            if (rc)
                return rc;
        }
        hr_grammar__buf_printf(b, "\"{\" ws (string ws \":\" ws %s (ws \",\" ws string ws"
                                  " \":\" ws %s)* ws)? \"}\"", val, val);
        return 0;
    }
    if (addl_on)
        return refuse(c, HR_EUNSUPPORTED, "'additionalProperties' together with 'properties'");
    char (*kv)[32] = calloc(n_props, sizeof *kv);
    bool *required = calloc(n_props, sizeof *required);
    int rc = kv && required ? 0 : HR_ENOMEM;
    size_t i = 0;
    for (const struct hr_jm *p = props->child; p && rc == 0; p = p->next, i++) {
        char val[32];
        rc = compile_at(c, p, "properties", p->key, p->key_n, val, sizeof val);
        if (rc == 0)
            rc = new_rule(c, kv[i], sizeof kv[i]);
        if (rc)
            break;
        required[i] = c->strict || listed(req, p->key, p->key_n);
        hr_grammar__buf_printf(&c->out, "%s ::= ", kv[i]);
        struct hr_jm key = {.kind = HR_JM_STR, .s = p->key, .n = p->key_n};
        rc = put_value_literal(c, &c->out, &key);
        hr_grammar__buf_printf(&c->out, " ws \":\" ws %s\n", val);
    }
    for (size_t k = n_props; rc == 0 && k-- > 0;) {
        for (int comma = 0; comma < 2; comma++) {
            hr_grammar__buf_printf(&c->out, "%s-t%zu-%d ::= %s%s", self, k, comma,
                                   comma ? "ws \",\" ws " : "", kv[k]);
            if (k + 1 < n_props)
                hr_grammar__buf_printf(&c->out, " %s-t%zu-1", self, k + 1);
            if (!required[k]) {
                if (k + 1 < n_props)
                    hr_grammar__buf_printf(&c->out, " | %s-t%zu-%d", self, k + 1, comma);
                else
                    hr_grammar__buf_puts(&c->out, " | \"\"");
            }
            hr_grammar__buf_puts(&c->out, "\n");
        }
    }
    if (rc == 0)
        hr_grammar__buf_printf(b, "\"{\" ws %s-t0-0 ws \"}\"", self);
    free(kv);
    free(required);
    return rc;
}

/* "#/$defs/x" or "#/definitions/x": the rule of that definition (compiled at the end, once,
 * so a definition may refer to itself). */
static int compile_ref(struct comp *c, const struct hr_jm *ref, char *name, size_t cap)
{
    if (ref->kind != HR_JM_STR)
        return refuse(c, HR_EINVAL, "'$ref' must be a string");
    bool defs = ref->n > 8 && memcmp(ref->s, "#/$defs/", 8) == 0;
    bool definitions = ref->n > 14 && memcmp(ref->s, "#/definitions/", 14) == 0;
    if (!defs && !definitions)
        return refuse(c, HR_EUNSUPPORTED, "'$ref' '%.64s': only #/$defs/... and "
                                          "#/definitions/... are supported", ref->s);
    const char *nm = ref->s + (defs ? 8 : 14);
    size_t nn = ref->n - (defs ? 8 : 14);
    if (memchr(nm, '/', nn) || memchr(nm, '~', nn) || memchr(nm, '%', nn))
        return refuse(c, HR_EUNSUPPORTED, "'$ref' '%.64s': nested or escaped pointers are not "
                                          "supported", ref->s);
    for (uint32_t i = 0; i < c->n_defs; i++) {
        if (c->defs[i].defs == defs && c->defs[i].name_n == nn &&
            memcmp(c->defs[i].name, nm, nn) == 0) {
            snprintf(name, cap, "d%u", i);
            return 0;
        }
    }
    const struct hr_jm *tab = hr_grammar__json_get(c->root, defs ? "$defs" : "definitions");
    const struct hr_jm *target = NULL;
    for (const struct hr_jm *e = tab && tab->kind == HR_JM_OBJ ? tab->child : NULL; e;
         e = e->next)
        if (e->key_n == nn && memcmp(e->key, nm, nn) == 0)
            target = e;
    if (!target)
        return refuse(c, HR_EINVAL, "'$ref' '%.64s' names no definition", ref->s);
    if (c->n_defs >= MAX_DEFS)
        return refuse(c, HR_EINVAL, "more than %d definitions", MAX_DEFS);
    c->defs[c->n_defs] = (struct def){nm, nn, target, defs, false};
    snprintf(name, cap, "d%u", c->n_defs++);
    return 0;
}

static int compile_alternatives(struct comp *c, const struct hr_jm *list, const char *kw,
                                struct hr_gbuf *b)
{
    if (list->kind != HR_JM_ARR || list->n_children == 0)
        return refuse(c, HR_EINVAL, "'%s' must be a non-empty array", kw);
    size_t i = 0;
    for (const struct hr_jm *e = list->child; e; e = e->next, i++) {
        char idx[24], sub[32];
        snprintf(idx, sizeof idx, "%zu", i);
        int rc = compile_at(c, e, kw, idx, strlen(idx), sub, sizeof sub);
        if (rc)
            return rc;
        hr_grammar__buf_printf(b, "%s%s", i ? " | " : "", sub);
    }
    return 0;
}

/* A number keyword as a double; absent: *has false. */
static int get_bound(struct comp *c, const struct hr_jm *s, const char *key, double *x,
                     bool *has)
{
    const struct hr_jm *v = hr_grammar__json_get(s, key);
    *has = v != NULL;
    if (v && v->kind != HR_JM_NUM)
        return refuse(c, HR_EINVAL, "'%s' must be a number", key);
    *x = v ? v->num : 0;
    return 0;
}

/* integer or number, with their bounds: integer ranges exactly; on numbers only
 * "minimum": 0 (non-negative), the common case, anything else refused. */
static int compile_number(struct comp *c, const struct hr_jm *s, bool integer,
                          struct hr_gbuf *b)
{
    double mn = 0, mx = 0, emn = 0, emx = 0;
    bool has_mn = false, has_mx = false, has_emn = false, has_emx = false;
    int rc = get_bound(c, s, "minimum", &mn, &has_mn);
    if (rc == 0)
        rc = get_bound(c, s, "maximum", &mx, &has_mx);
    if (rc == 0)
        rc = get_bound(c, s, "exclusiveMinimum", &emn, &has_emn);
    if (rc == 0)
        rc = get_bound(c, s, "exclusiveMaximum", &emx, &has_emx);
    if (rc)
        return rc;
    if (!has_mn && !has_mx && !has_emn && !has_emx) {
        hr_grammar__buf_puts(b, integer ? "integer" : "number");
        return 0;
    }
    if (!integer) {
        if (has_mn && mn == 0 && !has_mx && !has_emn && !has_emx) {
            hr_grammar__buf_puts(b, "nonneg-number");
            return 0;
        }
        return refuse(c, HR_EUNSUPPORTED, "bounds on a \"number\" other than \"minimum\": 0 "
                                          "are not supported (on an \"integer\" they are)");
    }
    const double lim = 1e18;
    if ((has_mn && !(mn > -lim && mn < lim)) || (has_mx && !(mx > -lim && mx < lim)) ||
        (has_emn && !(emn > -lim && emn < lim)) || (has_emx && !(emx > -lim && emx < lim)))
        return refuse(c, HR_EUNSUPPORTED, "integer bounds beyond 18 digits");
    /* the tightest inclusive integer bounds */
    int64_t lo = 0, hi = 0;
    if (has_mn)
        lo = (int64_t)ceil(mn);
    if (has_emn && (!has_mn || (int64_t)floor(emn) + 1 > lo))
        lo = (int64_t)floor(emn) + 1;
    if (has_mx)
        hi = (int64_t)floor(mx);
    if (has_emx && (!has_mx || (int64_t)ceil(emx) - 1 < hi))
        hi = (int64_t)ceil(emx) - 1;
    rc = hr_grammar__int_range(b, has_mn || has_emn, lo, has_mx || has_emx, hi);
    if (rc == HR_EINVAL)
        return refuse(c, HR_EINVAL, "no integer lies within the bounds");
    if (rc)
        return refuse(c, rc, "integer bounds beyond 18 digits");
    return 0;
}

/* The body of a schema of one JSON type t. */
static int compile_type(struct comp *c, const struct hr_jm *s, const struct hr_jm *t,
                        const char *self, struct hr_gbuf *b)
{
    if (t->kind != HR_JM_STR)
        return refuse(c, HR_EINVAL, "'type' must be a string or a non-empty array of strings");
    if (is(t, "string"))
        return compile_string(c, s, b);
    if (is(t, "object"))
        return compile_object(c, s, self, b);
    if (is(t, "array"))
        return compile_array(c, s, b);
    if (is(t, "number") || is(t, "integer"))
        return compile_number(c, s, is(t, "integer"), b);
    if (is(t, "boolean") || is(t, "null")) {
        hr_grammar__buf_put(b, t->s, t->n);
        return 0;
    }
    return refuse(c, HR_EINVAL, "unknown type '%.32s'", t->s);
}

/* Keywords that apply only to some types, refused elsewhere rather than ignored. */
static int check_misplaced(struct comp *c, const struct hr_jm *s, const struct hr_jm *type)
{
    static const struct {
        const char *kw, *type, *type2;
    } only[] = {{"properties", "object", NULL}, {"required", "object", NULL},
                {"additionalProperties", "object", NULL}, {"items", "array", NULL},
                {"minItems", "array", NULL}, {"maxItems", "array", NULL},
                {"minLength", "string", NULL}, {"maxLength", "string", NULL},
                {"minimum", "integer", "number"}, {"maximum", "integer", "number"},
                {"exclusiveMinimum", "integer", "number"},
                {"exclusiveMaximum", "integer", "number"}};
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        if (!hr_grammar__json_get(s, only[i].kw))
            continue;
        bool ok = is(type, only[i].type) || (only[i].type2 && is(type, only[i].type2));
        for (const struct hr_jm *t = type && type->kind == HR_JM_ARR ? type->child : NULL; t;
             t = t->next)
            ok |= is(t, only[i].type) || (only[i].type2 && is(t, only[i].type2));
        if (!ok)
            return refuse(c, HR_EUNSUPPORTED, "keyword '%s' without \"type\": \"%s\"%s",
                          only[i].kw, only[i].type, only[i].type2 ? " or \"number\"" : "");
    }
    return 0;
}

static int compile_body(struct comp *c, const struct hr_jm *s, const char *name,
                        struct hr_gbuf *b)
{
    const struct hr_jm *type = hr_grammar__json_get(s, "type");
    const struct hr_jm *en = hr_grammar__json_get(s, "enum");
    const struct hr_jm *cn = hr_grammar__json_get(s, "const");
    const struct hr_jm *any = hr_grammar__json_get(s, "anyOf");
    const struct hr_jm *one = hr_grammar__json_get(s, "oneOf");
    int rc = 0;
    if (cn || en) {
        if (cn && en)
            return refuse(c, HR_EUNSUPPORTED, "'const' together with 'enum'");
        if (cn)
            return put_value_literal(c, b, cn);
        if (en->kind != HR_JM_ARR || en->n_children == 0)
            return refuse(c, HR_EINVAL, "'enum' must be a non-empty array");
        for (const struct hr_jm *e = en->child; e && rc == 0; e = e->next) {
            if (e != en->child)
                hr_grammar__buf_puts(b, " | ");
            rc = put_value_literal(c, b, e);
        }
        return rc;
    }
    if (any || one) {
        if (any && one)
            return refuse(c, HR_EUNSUPPORTED, "'anyOf' together with 'oneOf'");
        if (type)
            return refuse(c, HR_EUNSUPPORTED, "'type' together with '%s'",
                          any ? "anyOf" : "oneOf");
        return compile_alternatives(c, any ? any : one, any ? "anyOf" : "oneOf", b);
    }
    if ((rc = check_misplaced(c, s, type)) != 0)
        return rc;
    if (!type) {
        hr_grammar__buf_puts(b, "value");
        return 0;
    }
    if (type->kind != HR_JM_ARR)
        return compile_type(c, s, type, name, b);
    if (type->n_children == 0)
        return refuse(c, HR_EINVAL, "'type' must be a string or a non-empty array of strings");
    size_t i = 0;
    for (const struct hr_jm *t = type->child; t && rc == 0; t = t->next, i++) {
        char self[48];
        snprintf(self, sizeof self, "%s-%zu", name, i);
        hr_grammar__buf_puts(b, i ? " | (" : "(");
        rc = compile_type(c, s, t, self, b);
        hr_grammar__buf_puts(b, ")");
    }
    return rc;
}

static int compile(struct comp *c, const struct hr_jm *s, char *name, size_t cap)
{
    if (c->depth >= HR_GRAMMAR_MAX_NEST)
        return refuse(c, HR_EINVAL, "schema nested deeper than %d levels", HR_GRAMMAR_MAX_NEST);
    if (s->kind == HR_JM_BOOL) {
        if (!s->b)
            return refuse(c, HR_EUNSUPPORTED, "the schema 'false' matches nothing");
        snprintf(name, cap, "value");
        return 0;
    }
    if (s->kind != HR_JM_OBJ)
        return refuse(c, HR_EINVAL, "a schema must be an object or a boolean");
    for (const struct hr_jm *k = s->child; k; k = k->next)
        if (!keyword_known(k->key, k->key_n))
            return refuse(c, HR_EUNSUPPORTED, "keyword '%.64s' is not supported", k->key);
    const struct hr_jm *ref = hr_grammar__json_get(s, "$ref");
    if (ref) {
        static const char *const others[] = {"type", "enum", "const", "anyOf", "oneOf",
                                             "allOf", "properties", "items"};
        for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
            if (hr_grammar__json_get(s, others[i]))
                return refuse(c, HR_EUNSUPPORTED, "'$ref' together with '%s'", others[i]);
        return compile_ref(c, ref, name, cap);
    }
    const struct hr_jm *all = hr_grammar__json_get(s, "allOf");
    if (all) {
        if (all->kind != HR_JM_ARR || all->n_children != 1 || hr_grammar__json_get(s, "type") ||
            hr_grammar__json_get(s, "enum") || hr_grammar__json_get(s, "const") || hr_grammar__json_get(s, "anyOf") ||
            hr_grammar__json_get(s, "oneOf"))
            return refuse(c, HR_EUNSUPPORTED, "'allOf' other than one schema alone");
        return compile_at(c, all->child, "allOf", "0", 1, name, cap);
    }
    int rc = new_rule(c, name, cap);
    if (rc)
        return rc;
    c->depth++;
    struct hr_gbuf body = {.max = HR_GRAMMAR_MAX_SOURCE};
    rc = compile_body(c, s, name, &body);
    c->depth--;
    if (rc == 0) {
        hr_grammar__buf_printf(&c->out, "%s ::= ", name);
        hr_grammar__buf_put(&c->out, body.p ? body.p : "", body.n);
        hr_grammar__buf_puts(&c->out, "\n");
        if (body.failed)
            c->out.failed = true;
    }
    free(body.p);
    return rc;
}

int hr_grammar_schema_to_gbnf(const char *json, size_t n, bool strict, char **gbnf,
                              struct hr_diag *d)
{
    *gbnf = NULL;
    struct hr_jm_doc *doc = NULL;
    int rc = hr_grammar__json_parse(&doc, json, n, d);
    if (rc)
        return rc;
    struct comp *c = calloc(1, sizeof *c);
    if (!c) {
        hr_grammar__json_free(doc);
        return HR_ENOMEM;
    }
    c->root = hr_grammar__json_root(doc);
    c->strict = strict;
    c->d = d;
    c->out.max = HR_GRAMMAR_MAX_SOURCE;
    hr_grammar__buf_puts(&c->out, base_rules);
    hr_grammar__buf_puts(&c->out, fmt_rules);
    char top[32];
    rc = compile(c, c->root, top, sizeof top);
    /* definitions named by $ref, including those found while compiling definitions */
    for (uint32_t i = 0; rc == 0 && i < c->n_defs; i++) {
        char sub[32];
        struct def *df = &c->defs[i];
        rc = compile_at(c, df->schema, df->defs ? "$defs" : "definitions", df->name,
                        df->name_n, sub, sizeof sub);
        if (rc == 0)
            hr_grammar__buf_printf(&c->out, "d%u ::= %s\n", i, sub);
    }
    if (rc == 0)
        hr_grammar__buf_printf(&c->out, "root ::= %s\n", top);
    if (rc == 0 && c->out.failed) {
        hr_diag_set(d, "the schema's grammar is larger than %u bytes", HR_GRAMMAR_MAX_SOURCE);
        rc = HR_EINVAL;
    }
    if (rc == 0)
        *gbnf = c->out.p;
    else
        free(c->out.p);
    free(c);
    hr_grammar__json_free(doc);
    return rc;
}

int hr_grammar_from_schema(struct hr_grammar **out, const char *json, size_t n, bool strict,
                           struct hr_diag *d)
{
    *out = NULL;
    char *gbnf = NULL;
    int rc = hr_grammar_schema_to_gbnf(json, n, strict, &gbnf, d);
    if (rc == 0) {
        struct hr_diag inner = {{0}};
        rc = hr_grammar_parse(out, gbnf, strlen(gbnf), &inner);
        if (rc)
            hr_diag_set(d, "the schema's grammar failed to compile: %s", inner.msg);
    }
    free(gbnf);
    return rc;
}

const char *hr_grammar_json_object_gbnf(void)
{
    return json_object_gbnf;
}

int hr_grammar_json_object(struct hr_grammar **out, struct hr_diag *d)
{
    return hr_grammar_parse(out, json_object_gbnf, sizeof json_object_gbnf - 1, d);
}
