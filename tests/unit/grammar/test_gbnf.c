/* The GBNF parser and the byte-level matcher: grammars that must parse and accept exactly
 * their sentences (UTF-8 classes, repetitions, escapes, groups, comments), every refusal with
 * its line, column and construct, the ambiguity and depth caps, and the json_object grammar
 * against an independent brute-force JSON checker on thousands of generated strings. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/grammar/grammar.h"

static struct hr_grammar *parse_ok(const char *src)
{
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_grammar_parse(&g, src, strlen(src), &d);
    if (rc)
        fprintf(stderr, "unexpected error: %s\n", d.msg);
    assert_int_equal(rc, 0);
    return g;
}

static bool accepts_n(struct hr_grammar *g, const char *s, size_t n)
{
    struct hr_grammar_state *st = NULL;
    assert_int_equal(hr_grammar_state_new(&st, g, NULL), 0);
    bool ok = hr_grammar_accept_bytes(st, s, n) == 0 && hr_grammar_is_accepting(st);
    hr_grammar_state_free(st);
    return ok;
}

static bool accepts(struct hr_grammar *g, const char *s)
{
    return accepts_n(g, s, strlen(s));
}

/* The source fails with a message containing want. */
static void parse_err(const char *src, const char *want)
{
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_grammar_parse(&g, src, strlen(src), &d);
    if (rc == 0 || !strstr(d.msg, want))
        fprintf(stderr, "source %s\n  got rc %d '%s', want '%s'\n", src, rc, d.msg, want);
    assert_int_not_equal(rc, 0);
    assert_null(g);
    assert_non_null(strstr(d.msg, want));
}

static void test_alternatives_and_sequences(void **state)
{
    (void)state;
    struct hr_grammar *g = parse_ok("root ::= \"ab\" | \"c\" x\nx ::= \"d\" | \"\"\n");
    assert_true(accepts(g, "ab"));
    assert_true(accepts(g, "c"));
    assert_true(accepts(g, "cd"));
    assert_false(accepts(g, "a"));
    assert_false(accepts(g, "abc"));
    assert_false(accepts(g, ""));
    assert_false(accepts(g, "cdd"));
    hr_grammar_unref(g);
}

static void test_repetitions(void **state)
{
    (void)state;
    struct hr_grammar *g = parse_ok("root ::= \"a\"{2,3} \"b\"{2} \"c\"{1,} \"d\"* \"e\"? "
                                    "(\"x\" \"y\")+\n");
    assert_true(accepts(g, "aabbcxy"));
    assert_true(accepts(g, "aaabbcccddddexyxy"));
    assert_false(accepts(g, "abbcxy"));
    assert_false(accepts(g, "aaaabbcxy"));
    assert_false(accepts(g, "aabcxy"));
    assert_false(accepts(g, "aabbxy"));
    assert_false(accepts(g, "aabbceexy"));
    assert_false(accepts(g, "aabbc"));
    assert_false(accepts(g, "aabbcxyx"));
    hr_grammar_unref(g);
    g = parse_ok("root ::= [0-9]{0,3}\n");
    assert_true(accepts(g, ""));
    assert_true(accepts(g, "123"));
    assert_false(accepts(g, "1234"));
    hr_grammar_unref(g);
    g = parse_ok("root ::= \"ab\"{ 2 , } # spaces inside braces\n");
    assert_true(accepts(g, "abab"));
    assert_true(accepts(g, "ababab"));
    assert_false(accepts(g, "ab"));
    hr_grammar_unref(g);
}

static void test_classes_utf8(void **state)
{
    (void)state;
    struct hr_grammar *g = parse_ok("root ::= [^a\\n]\n");
    assert_true(accepts(g, "b"));
    assert_true(accepts(g, "\xC3\xA9"));         /* é */
    assert_true(accepts(g, "\xE2\x82\xAC"));     /* € */
    assert_true(accepts(g, "\xF0\x9F\x98\x80")); /* 😀 */
    assert_false(accepts(g, "a"));
    assert_false(accepts(g, "\n"));
    assert_false(accepts(g, "\xC3"));             /* incomplete */
    assert_false(accepts(g, "\xFF"));             /* never UTF-8 */
    assert_false(accepts(g, "\xED\xA0\x80"));     /* a surrogate */
    assert_false(accepts(g, "\xC0\x80"));         /* overlong */
    assert_false(accepts(g, "bc"));
    hr_grammar_unref(g);
    g = parse_ok("root ::= [a-cé-ê\\u4e00-\\u9fff\\x30]+\n");
    assert_true(accepts(g, "abc0"));
    assert_true(accepts(g, "\xC3\xA9\xC3\xAA"));
    assert_true(accepts(g, "\xE4\xB8\x80\xE9\xBF\xBF")); /* 一 and U+9FFF */
    assert_false(accepts(g, "d"));
    assert_false(accepts(g, "\xC3\xAB")); /* ë */
    assert_false(accepts(g, "1"));
    hr_grammar_unref(g);
    g = parse_ok("root ::= . . \"\\U0001F600\"\n");
    assert_true(accepts(g, "\n\xE2\x82\xAC\xF0\x9F\x98\x80"));
    assert_false(accepts(g, "a\xF0\x9F\x98\x80"));
    hr_grammar_unref(g);
}

static void test_escapes_comments_layout(void **state)
{
    (void)state;
    struct hr_grammar *g = parse_ok(
        "# a comment line\n\n"
        "root ::=\n"
        "   \"\\x41\\u00e9\\n\\t\\r\\\\\\\"\" ( # comment inside a group\n"
        "       a |\n"
        "       b\n"
        "   )\r\n"
        "a ::= [\\]\\[\\-]  # ] [ -\n"
        "b-2_x ::= \"z\"\n"
        "b ::= b-2_x\n");
    assert_true(accepts(g, "A\xC3\xA9\n\t\r\\\"]"));
    assert_true(accepts(g, "A\xC3\xA9\n\t\r\\\"-"));
    assert_true(accepts(g, "A\xC3\xA9\n\t\r\\\"z"));
    assert_false(accepts(g, "A\xC3\xA9\n\t\r\\\"y"));
    hr_grammar_unref(g);
}

static void test_errors(void **state)
{
    (void)state;
    parse_err("root ::= foo\n", "line 1 column 10: undefined rule 'foo'");
    parse_err("root ::= root \"a\"\n", "line 1 column 1: rule 'root' is left-recursive");
    parse_err("root ::= a\na ::= b? c\nc ::= \"x\" | a \"y\"\nb ::= \"q\"\n",
              "is left-recursive");
    parse_err("root ::= \"\"* \"x\"\n", "left-recursive");
    parse_err("a ::= \"x\"\n", "grammar has no rule named 'root'");
    parse_err("root ::= \"a\"\nroot ::= \"b\"\n", "line 2 column 1: rule 'root' is defined twice");
    parse_err("root = \"a\"\n", "line 1 column 6: expected '::=' after the rule name, got '='");
    parse_err("root ::= \"abc\n", "unterminated string literal");
    parse_err("root ::= [abc\n", "unterminated character class");
    parse_err("root ::= \"\\q\"\n", "line 1 column 12: unknown escape");
    parse_err("root ::= \"\\x4\"\n", "expected a hexadecimal digit");
    parse_err("root ::= \"\\U00110000\"\n", "escape beyond U+10FFFF");
    parse_err("root ::= [z-a]\n", "line 1 column 13: character range out of order");
    parse_err("root ::= (\"a\" \"b\"\n", "expected ')' closing the group");
    parse_err("root ::= \"a\"{3,2}\n", "repetition {m,n} with n < m");
    parse_err("root ::= \"a\"{1001}\n", "repetition count above 1000");
    parse_err("root ::= \"a\"{2\n", "expected '}' closing a repetition");
    parse_err("root ::= \"a\"{x}\n", "expected a number in a repetition");
    parse_err("root ::= \"a\" @\n", "line 1 column 14: expected the end of the rule (a newline)");
    parse_err("root ::= \"\xC3\"\n", "invalid UTF-8");
    parse_err("::= \"a\"\n", "line 1 column 1: expected a rule name");
    parse_err("root ::= \"\\", "expected an escape");
    char deep[256] = "root ::= ";
    for (int i = 0; i < 70; i++)
        strcat(deep, "(");
    strcat(deep, "\"a\"");
    for (int i = 0; i < 70; i++)
        strcat(deep, ")");
    parse_err(deep, "groups nested deeper than 64");
    /* repetition blow-up hits the symbol cap, not the memory (groups are shared rules, so
       nesting them costs little: it takes many expanded repetitions) */
    char *many = malloc(1 << 16);
    size_t o = (size_t)snprintf(many, 1 << 16, "root ::= r0\n");
    for (int i = 0; i < 1100; i++)
        o += (size_t)snprintf(many + o, (1 << 16) - o, "r%d ::= \"a\"{1000}\n", i);
    parse_err(many, "grammar has more than 1048576 symbols");
    free(many);
    /* more rules than the cap, and a class of more ranges than the cap */
    char *rules = malloc(1 << 20);
    o = (size_t)snprintf(rules, 1 << 20, "root ::= r0\n");
    for (int i = 0; i < 17000; i++)
        o += (size_t)snprintf(rules + o, (1 << 20) - o, "r%d ::= \"a\"\n", i);
    parse_err(rules, "grammar has more than 16384 rules");
    o = (size_t)snprintf(rules, 1 << 20, "root ::= [");
    for (int i = 0; i < 4100; i++)
        o += (size_t)snprintf(rules + o, (1 << 20) - o, "\\u%04x", 0x100 + 2 * i);
    snprintf(rules + o, (1 << 20) - o, "]\n");
    parse_err(rules, "character class has too many ranges");
    free(rules);
    struct hr_grammar *nested = parse_ok("root ::= ((((\"a\"{1000}){1000}){1000}){1000})\n");
    hr_grammar_unref(nested);
    size_t big = HR_GRAMMAR_MAX_SOURCE + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_grammar_parse(&g, huge, big, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "grammar longer than"));
    free(huge);
}

/* 1100 rules that all start with "a": more parallel parses than the cap allows. */
static void test_ambiguity_cap(void **state)
{
    (void)state;
    size_t cap = 1u << 16, n = 0;
    char *src = malloc(cap);
    n += (size_t)snprintf(src + n, cap - n, "root ::= r0");
    for (int i = 1; i < 1100; i++)
        n += (size_t)snprintf(src + n, cap - n, " | r%d", i);
    n += (size_t)snprintf(src + n, cap - n, "\n");
    for (int i = 0; i < 1100; i++)
        n += (size_t)snprintf(src + n, cap - n, "r%d ::= \"a\" \"%d\"\n", i, i);
    struct hr_grammar *g = parse_ok(src);
    struct hr_grammar_state *st = NULL;
    assert_int_equal(hr_grammar_state_new(&st, g, NULL), HR_ERANGE);
    assert_null(st);
    hr_grammar_unref(g);
    free(src);
    /* exponentially ambiguous but few distinct stacks: fine and fast */
    g = parse_ok("root ::= x x x x x x x x x x x x x x x x x x x x x x x x \"!\"\n"
                 "x ::= (\"a\" | \"a\" | \"\")\n");
    assert_true(accepts(g, "aaaaaaaaaaaa!"));
    assert_false(accepts(g, "aaaaaaaaaaaaaaaaaaaaaaaaa!"));
    hr_grammar_unref(g);
}

/* Nesting beyond HR_GRAMMAR_MAX_DEPTH frames is refused rather than growing without end. */
static void test_depth_cap(void **state)
{
    (void)state;
    struct hr_grammar *g = parse_ok("root ::= \"(\" root \")\" | \"x\"\n");
    size_t n = 3000;
    char *s = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++) {
        s[i] = '(';
        s[n + 1 + i] = ')';
    }
    s[n] = 'x';
    assert_true(accepts_n(g, s + n - 100, 201));
    assert_false(accepts_n(g, s, 2 * n + 1));
    free(s);
    hr_grammar_unref(g);
}

/* ---- an independent JSON checker with the json_object grammar's bounds ---- */

struct jc {
    const char *p, *end;
    int depth;
};

/* nothing, one space, or a newline and up to 20 spaces or tabs */
static bool jc_ws(struct jc *c)
{
    if (c->p < c->end && *c->p == ' ') {
        c->p++;
        return c->p >= c->end || (*c->p != ' ' && *c->p != '\t' && *c->p != '\n');
    }
    if (c->p < c->end && *c->p == '\n') {
        c->p++;
        int n = 0;
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) {
            c->p++;
            n++;
        }
        return n <= 20 && (c->p >= c->end || *c->p != '\n');
    }
    return c->p >= c->end || *c->p != '\t';
}

static bool jc_digits(struct jc *c, int min, int max)
{
    int n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        c->p++;
        n++;
    }
    return n >= min && n <= max;
}

static bool jc_string(struct jc *c)
{
    if (c->p >= c->end || *c->p != '"')
        return false;
    c->p++;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end)
                return false;
            if (*c->p == 'u') {
                for (int i = 0; i < 4; i++) {
                    c->p++;
                    if (c->p >= c->end || !strchr("0123456789abcdefABCDEF", *c->p) || !*c->p)
                        return false;
                }
                c->p++;
            } else if (*c->p && strchr("\"\\/bfnrt", *c->p)) {
                c->p++;
            } else {
                return false;
            }
            continue;
        }
        /* one UTF-8 character, strictly */
        int n = ch < 0x80 ? 1 : (ch & 0xE0) == 0xC0 ? 2 : (ch & 0xF0) == 0xE0 ? 3
                                                     : (ch & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || c->end - c->p < n)
            return false;
        uint32_t cp = n == 1 ? ch : ch & (0x7F >> n);
        for (int i = 1; i < n; i++) {
            if ((c->p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (c->p[i] & 0x3F);
        }
        static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        c->p += n;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    return true;
}

static bool jc_value(struct jc *c);

static bool jc_object(struct jc *c)
{
    if (c->p >= c->end || *c->p != '{')
        return false;
    c->p++;
    if (!jc_ws(c))
        return false;
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        if (!jc_string(c) || !jc_ws(c) || c->p >= c->end || *c->p != ':')
            return false;
        c->p++;
        if (!jc_ws(c) || !jc_value(c) || !jc_ws(c) || c->p >= c->end)
            return false;
        if (*c->p == '}') {
            c->p++;
            return true;
        }
        if (*c->p != ',')
            return false;
        c->p++;
        if (!jc_ws(c))
            return false;
    }
}

static bool jc_array(struct jc *c)
{
    c->p++;
    if (!jc_ws(c))
        return false;
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (;;) {
        if (!jc_value(c) || !jc_ws(c) || c->p >= c->end)
            return false;
        if (*c->p == ']') {
            c->p++;
            return true;
        }
        if (*c->p != ',')
            return false;
        c->p++;
        if (!jc_ws(c))
            return false;
    }
}

static bool jc_word(struct jc *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

static bool jc_value(struct jc *c)
{
    if (c->p >= c->end || ++c->depth > 500)
        return false;
    bool ok;
    char ch = *c->p;
    if (ch == '{')
        ok = jc_object(c);
    else if (ch == '[')
        ok = jc_array(c);
    else if (ch == '"')
        ok = jc_string(c);
    else if (ch == 't')
        ok = jc_word(c, "true");
    else if (ch == 'f')
        ok = jc_word(c, "false");
    else if (ch == 'n')
        ok = jc_word(c, "null");
    else {
        if (*c->p == '-')
            c->p++;
        if (c->p < c->end && *c->p == '0')
            c->p++;
        else if (c->p < c->end && *c->p >= '1' && *c->p <= '9') {
            if (!jc_digits(c, 1, 19))
                return false;
        } else {
            return false;
        }
        ok = true;
        if (c->p < c->end && *c->p == '.') {
            c->p++;
            ok = jc_digits(c, 1, 16);
        }
        if (ok && c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
            c->p++;
            if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
                c->p++;
            ok = jc_digits(c, 1, 3);
        }
    }
    c->depth--;
    return ok;
}

static bool jc_check(const char *s, size_t n)
{
    struct jc c = {s, s + n, 0};
    return jc_object(&c) && c.p == c.end;
}

static uint64_t rng_state = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void gen_ws(char *b, size_t *n)
{
    uint32_t kind = rnd(8);
    if (kind == 0) {
        b[(*n)++] = ' ';
    } else if (kind == 1) {
        b[(*n)++] = '\n';
        int k = (int)rnd(23);
        for (int i = 0; i < k; i++)
            b[(*n)++] = " \t"[rnd(2)];
    } else if (kind == 2) {
        int k = (int)rnd(4);
        for (int i = 0; i < k; i++)
            b[(*n)++] = " \t\n"[rnd(3)];
    }
}

static void gen_value(char *b, size_t *n, int depth)
{
    static const char *const atoms[] = {
        "true", "false", "null", "0", "-0", "12", "-3.25", "1e5", "2E-07", "0.5e+3",
        "\"\"", "\"a b\"", "\"\\n\\u00e9\\\"\"", "\"\xC3\xA9\xE2\x82\xAC\"", "01", "1.",
        "-", "1234567890123456789", "12345678901234567890", "1.12345678901234567", "1e1234",
        "\"\\x\"", "\"\x01\"", "tru", "\"\xC3\"", "\"\xF0\x9F\x98\x80\""};
    uint32_t k = depth > 3 ? 3 : rnd(6);
    if (k == 0 || k == 1) {
        bool obj = k == 0;
        b[(*n)++] = obj ? '{' : '[';
        gen_ws(b, n);
        uint32_t items = rnd(4);
        for (uint32_t i = 0; i < items; i++) {
            if (i) {
                gen_ws(b, n);
                b[(*n)++] = ',';
                gen_ws(b, n);
            }
            if (obj) {
                memcpy(b + *n, "\"k\"", 3);
                *n += 3;
                gen_ws(b, n);
                b[(*n)++] = ':';
                gen_ws(b, n);
            }
            gen_value(b, n, depth + 1);
        }
        gen_ws(b, n);
        b[(*n)++] = obj ? '}' : ']';
        return;
    }
    const char *a = atoms[rnd(sizeof atoms / sizeof atoms[0])];
    memcpy(b + *n, a, strlen(a));
    *n += strlen(a);
}

static void test_json_object_oracle(void **state)
{
    (void)state;
    struct hr_grammar *g = NULL;
    assert_int_equal(hr_grammar_json_object(&g, NULL), 0);
    char *buf = malloc(1 << 16);
    int n_valid = 0, n_total = 0;
    for (int iter = 0; iter < 6000; iter++) {
        size_t n = 0;
        buf[n++] = '{';
        uint32_t items = rnd(4);
        for (uint32_t i = 0; i < items; i++) {
            if (i)
                buf[n++] = ',';
            gen_ws(buf, &n);
            memcpy(buf + n, "\"key\":", 6);
            n += 6;
            gen_ws(buf, &n);
            gen_value(buf, &n, 0);
        }
        gen_ws(buf, &n);
        buf[n++] = '}';
        /* a third of the inputs get one random byte edit */
        uint32_t edit = rnd(3);
        if (edit == 1 && n > 1) {
            buf[rnd((uint32_t)n)] = "{}[],:\" a0\\\xC3"[rnd(12)];
        } else if (edit == 2 && n > 1) {
            size_t at = rnd((uint32_t)n);
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
        }
        bool want = jc_check(buf, n);
        bool got = accepts_n(g, buf, n);
        if (want != got)
            fprintf(stderr, "mismatch (oracle %d, grammar %d): %.*s\n", want, got, (int)n, buf);
        assert_int_equal(want, got);
        n_valid += want;
        n_total++;
    }
    /* the generator must exercise both sides */
    assert_true(n_valid > n_total / 5);
    assert_true(n_valid < n_total * 4 / 5);
    free(buf);
    hr_grammar_unref(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alternatives_and_sequences),
        cmocka_unit_test(test_repetitions),
        cmocka_unit_test(test_classes_utf8),
        cmocka_unit_test(test_escapes_comments_layout),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ambiguity_cap),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_json_object_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
