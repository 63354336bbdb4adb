/* Jinja lexer: splits a template into text and tag tokens, applying whitespace control as
 * Hugging Face configures jinja2 (trim_blocks: the newline after a block or comment tag goes;
 * lstrip_blocks: spaces and tabs before a block or comment tag at line start go; `-` strips
 * all whitespace on its side; `+` disables the stripping). Any thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_int.h"

struct lexer {
    const char *s;
    size_t n, pos;
    int line;
    struct jtoken *toks;
    size_t n_toks, cap;
    bool strip_next; /* a `-` closed the last tag */
    struct hr_diag *d;
};

static int push(struct lexer *L, struct jtoken t)
{
    if (L->n_toks == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        struct jtoken *p = realloc(L->toks, cap * sizeof *p);
        if (!p) {
            free(t.text);
            return HR_ENOMEM;
        }
        L->toks = p;
        L->cap = cap;
    }
    L->toks[L->n_toks++] = t;
    return 0;
}

/* ival = 1 when the text starts a line (for lstrip_blocks). */
static int push_text(struct lexer *L, const char *p, size_t n, int line, bool line_start)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return HR_ENOMEM;
    memcpy(copy, p, n);
    copy[n] = '\0';
    return push(L, (struct jtoken){T_TEXT, line, copy, n, line_start, 0});
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int fail(struct lexer *L, const char *what)
{
    hr_diag_set(L->d, "line %d: %s", L->line, what);
    return HR_EINVAL;
}

/* Reads one expression token inside a tag. */
static int lex_expr_token(struct lexer *L)
{
    const char *s = L->s;
    size_t i = L->pos;
    char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        size_t j = i;
        while (j < L->n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                            (s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
            j++;
        char *t = strndup(s + i, j - i);
        if (!t)
            return HR_ENOMEM;
        L->pos = j;
        return push(L, (struct jtoken){T_NAME, L->line, t, j - i, 0, 0});
    }
    if (c >= '0' && c <= '9') {
        size_t j = i;
        bool is_float = false;
        while (j < L->n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
            j++;
        if (j + 1 < L->n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
            is_float = true;
            j++;
            while (j < L->n && s[j] >= '0' && s[j] <= '9')
                j++;
        }
        char num[64];
        size_t k = 0;
        for (size_t x = i; x < j && k < sizeof num - 1; x++)
            if (s[x] != '_')
                num[k++] = s[x];
        num[k] = '\0';
        L->pos = j;
        struct jtoken t = {is_float ? T_FLOAT : T_INT, L->line, NULL, 0, 0, 0};
        if (is_float)
            t.fval = strtod(num, NULL);
        else
            t.ival = strtoll(num, NULL, 10);
        return push(L, t);
    }
    if (c == '\'' || c == '"') {
        char *out = malloc(L->n - i + 1);
        if (!out)
            return HR_ENOMEM;
        size_t o = 0, j = i + 1;
        while (j < L->n && s[j] != c) {
            char ch = s[j++];
            if (ch == '\n')
                L->line++;
            if (ch == '\\' && j < L->n) {
                char e = s[j++];
                switch (e) {
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case '\\': ch = '\\'; break;
                case '\'': ch = '\''; break;
                case '"': ch = '"'; break;
                default:
                    out[o++] = '\\';
                    ch = e;
                }
            }
            out[o++] = ch;
        }
        if (j >= L->n) {
            free(out);
            return fail(L, "unterminated string literal");
        }
        out[o] = '\0';
        L->pos = j + 1;
        return push(L, (struct jtoken){T_STRING, L->line, out, o, 0, 0});
    }
    static const char *ops2[] = {"==", "!=", "<=", ">=", "//", "**"};
    for (size_t k = 0; k < sizeof ops2 / sizeof ops2[0]; k++)
        if (i + 1 < L->n && s[i] == ops2[k][0] && s[i + 1] == ops2[k][1]) {
            L->pos = i + 2;
            return push(L, (struct jtoken){T_OP, L->line, strdup(ops2[k]), 2, 0, 0});
        }
    if (strchr("+-*/%~<>=()[]{}.,:|", c)) {
        char op[2] = {c, 0};
        L->pos = i + 1;
        return push(L, (struct jtoken){T_OP, L->line, strdup(op), 1, 0, 0});
    }
    return fail(L, "unexpected character in a tag");
}

/* Lexes the inside of a {{ }} or {% %} tag up to its end marker. */
static int lex_tag(struct lexer *L, char close, bool block)
{
    int rc = push(L, (struct jtoken){block ? T_BLOCK_BEGIN : T_VAR_BEGIN, L->line, NULL, 0, 0, 0});
    while (!rc) {
        while (L->pos < L->n && is_space(L->s[L->pos])) {
            if (L->s[L->pos] == '\n')
                L->line++;
            L->pos++;
        }
        if (L->pos >= L->n)
            return fail(L, block ? "unclosed {% tag" : "unclosed {{ tag");
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        bool dash = left >= 3 && (p[0] == '-' || p[0] == '+') && p[1] == close && p[2] == '}';
        if (dash || (left >= 2 && p[0] == close && p[1] == '}')) {
            L->pos += dash ? 3 : 2;
            L->strip_next = dash && p[0] == '-';
            /* trim_blocks: the first newline after a block tag goes */
            if (block && !dash) {
                if (L->pos < L->n && L->s[L->pos] == '\n')
                    L->pos++, L->line++;
                else if (L->pos + 1 < L->n && L->s[L->pos] == '\r' && L->s[L->pos + 1] == '\n')
                    L->pos += 2, L->line++;
            }
            return push(L, (struct jtoken){block ? T_BLOCK_END : T_VAR_END, L->line, NULL, 0, 0,
                                           0});
        }
        rc = lex_expr_token(L);
    }
    return rc;
}

/* Strips the end of the text token just before a tag, as `-` or lstrip_blocks ask. */
static void strip_before(struct lexer *L, bool all_ws)
{
    if (!L->n_toks || L->toks[L->n_toks - 1].kind != T_TEXT)
        return;
    struct jtoken *t = &L->toks[L->n_toks - 1];
    size_t n = t->len;
    if (all_ws) {
        while (n && is_space(t->text[n - 1]))
            n--;
    } else {
        size_t k = n;
        while (k && (t->text[k - 1] == ' ' || t->text[k - 1] == '\t'))
            k--;
        if ((k == 0 && t->ival) || (k > 0 && t->text[k - 1] == '\n'))
            n = k; /* only spaces/tabs since the line start */
    }
    t->len = n;
    t->text[n] = '\0';
}

int hr_jinja__lex(const char *src, size_t len, struct jtoken **out, size_t *n_out,
                  struct hr_diag *d)
{
    struct lexer L = {src, len, 0, 1, NULL, 0, 0, false, d};
    int rc = 0;
    bool at_start = true; /* lstrip_blocks also applies at the template's first line */
    while (!rc && L.pos < L.n) {
        size_t start = L.pos;
        if (L.strip_next) {
            while (start < L.n && is_space(src[start])) {
                if (src[start] == '\n')
                    L.line++;
                start++;
            }
            L.strip_next = false;
        }
        const char *tag = NULL;
        for (size_t i = start; i + 1 < L.n; i++)
            if (src[i] == '{' && (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#')) {
                tag = src + i;
                break;
            }
        size_t text_end = tag ? (size_t)(tag - src) : L.n;
        int text_line = L.line;
        for (size_t i = start; i < text_end; i++)
            L.line += src[i] == '\n';
        if (text_end > start || (tag && at_start))
            rc = push_text(&L, src + start, text_end - start, text_line,
                           start == 0 || src[start - 1] == '\n');
        at_start = false;
        if (rc || !tag)
            break;
        char kind = tag[1];
        L.pos = text_end + 2;
        bool minus = L.pos < L.n && src[L.pos] == '-';
        bool plus = L.pos < L.n && src[L.pos] == '+';
        if (minus || plus)
            L.pos++;
        if (minus)
            strip_before(&L, true);
        else if (!plus && kind != '{')
            strip_before(&L, false);
        if (kind == '#') {
            const char *end = NULL;
            for (size_t i = L.pos; i + 1 < L.n; i++)
                if (src[i] == '#' && src[i + 1] == '}') {
                    end = src + i;
                    break;
                }
            if (!end)
                return hr_diag_set(d, "line %d: unclosed comment", L.line),
                       hr_jinja__free_tokens(L.toks, L.n_toks), HR_EINVAL;
            for (const char *p = src + L.pos; p < end; p++)
                L.line += *p == '\n';
            bool dash = end > src + L.pos && end[-1] == '-';
            L.pos = (size_t)(end - src) + 2;
            L.strip_next = dash;
            if (!dash && L.pos < L.n && src[L.pos] == '\n')
                L.pos++, L.line++;
            continue;
        }
        rc = lex_tag(&L, kind == '{' ? '}' : '%', kind == '%');
    }
    if (!rc)
        rc = push(&L, (struct jtoken){T_EOF, L.line, NULL, 0, 0, 0});
    if (rc) {
        hr_jinja__free_tokens(L.toks, L.n_toks);
        return rc;
    }
    *out = L.toks;
    *n_out = L.n_toks;
    return 0;
}

void hr_jinja__free_tokens(struct jtoken *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i].text);
    free(t);
}
