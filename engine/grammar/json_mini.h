/* A small strict JSON reader for schemas (the engine links no JSON library): RFC 8259 text to
 * a tree in one allocation arena, depth and size capped, duplicate keys refused, strings
 * decoded to UTF-8 (\u escapes and surrogate pairs), numbers kept as their source text too so
 * a const or enum value is reproduced exactly. Private to engine/grammar. Any thread. */
#ifndef HR_JSON_MINI_H
#define HR_JSON_MINI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"

enum hr_jm_kind { HR_JM_NULL, HR_JM_BOOL, HR_JM_NUM, HR_JM_STR, HR_JM_ARR, HR_JM_OBJ };

struct hr_jm {
    enum hr_jm_kind kind;
    bool b;
    double num;
    bool is_int;       /* a number written without fraction or exponent */
    const char *s;     /* HR_JM_STR: decoded bytes; HR_JM_NUM: source text */
    size_t n;
    const char *key;   /* member of an object: its decoded key */
    size_t key_n;
    struct hr_jm *child; /* first element or member */
    struct hr_jm *next;  /* next sibling */
    size_t n_children;
};

struct hr_jm_doc;

/* Parses text; HR_EINVAL with "JSON line L column C: ..." in d. Caller frees doc. */
int hr_grammar__json_parse(struct hr_jm_doc **doc, const char *text, size_t n, struct hr_diag *d);
const struct hr_jm *hr_grammar__json_root(const struct hr_jm_doc *doc);
void hr_grammar__json_free(struct hr_jm_doc *doc);
/* Member `key` of an object, or NULL. */
const struct hr_jm *hr_grammar__json_get(const struct hr_jm *obj, const char *key);

#endif
