/* Integer ranges for the schema compiler (minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum): the decimal spellings, without leading zeros, of exactly the integers
 * in [lo, hi] as a GBNF group. Same-length ranges split digit by digit, as range-to-regex
 * tools do: [lo, hi] of n digits is lo's first digit and the rest up to 9..9, the digits
 * between with any n-1 digits, and hi's first digit with 0..0 up to the rest. Any thread. */
#include <stdio.h>
#include <string.h>

#include "../base/err.h"
#include "grammar_int.h"

#define MAX_DIGITS 19 /* as the integer rule: at most 19 digits */

static bool all(const char *s, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != c)
            return false;
    return true;
}

static void digit_class(struct hr_gbuf *b, char lo, char hi)
{
    if (lo == hi)
        hr_grammar__buf_printf(b, "\"%c\"", lo);
    else
        hr_grammar__buf_printf(b, "[%c-%c]", lo, hi);
}

/* Digit strings lo..hi of the same length n (leading zeros allowed inside). */
static void same_len(struct hr_gbuf *b, const char *lo, const char *hi, size_t n)
{
    if (n == 0)
        return;
    if (lo[0] == hi[0]) {
        hr_grammar__buf_printf(b, "\"%c\" ", lo[0]);
        same_len(b, lo + 1, hi + 1, n - 1);
        return;
    }
    bool lo_full = all(lo + 1, n - 1, '0'), hi_full = all(hi + 1, n - 1, '9');
    char start = lo_full ? lo[0] : (char)(lo[0] + 1);
    char end = hi_full ? hi[0] : (char)(hi[0] - 1);
    char nines[MAX_DIGITS + 1], zeros[MAX_DIGITS + 1];
    memset(nines, '9', sizeof nines);
    memset(zeros, '0', sizeof zeros);
    bool first = true;
    hr_grammar__buf_puts(b, "(");
    if (!lo_full) {
        hr_grammar__buf_printf(b, "\"%c\" (", lo[0]);
        same_len(b, lo + 1, nines, n - 1);
        hr_grammar__buf_puts(b, ")");
        first = false;
    }
    if (start <= end) {
        hr_grammar__buf_puts(b, first ? "" : " | ");
        digit_class(b, start, end);
        if (n > 1)
            hr_grammar__buf_printf(b, " [0-9]{%zu}", n - 1);
        first = false;
    }
    if (!hi_full) {
        hr_grammar__buf_printf(b, "%s\"%c\" (", first ? "" : " | ", hi[0]);
        same_len(b, zeros, hi + 1, n - 1);
        hr_grammar__buf_puts(b, ")");
    }
    hr_grammar__buf_puts(b, ")");
}

static size_t n_digits(uint64_t x)
{
    size_t n = 1;
    while (x >= 10) {
        x /= 10;
        n++;
    }
    return n;
}

static uint64_t pow10u(size_t n)
{
    uint64_t p = 1;
    while (n--)
        p *= 10;
    return p;
}

/* Non-negative integers in [a, b]; b UINT64_MAX means no upper bound (up to 19 digits). */
static void nonneg(struct hr_gbuf *b, uint64_t a, uint64_t hi, bool *first)
{
    size_t la = n_digits(a);
    size_t lb = hi == UINT64_MAX ? MAX_DIGITS : n_digits(hi);
    for (size_t len = la; len <= lb; len++) {
        uint64_t lo = len == la ? a : pow10u(len - 1);
        uint64_t top = pow10u(len) - 1;
        if (hi != UINT64_MAX && hi < top)
            top = hi;
        if (hi == UINT64_MAX && len > la && lo == pow10u(len - 1)) {
            /* every longer spelling: [1-9] and len-1 digits, up to the 19-digit cap */
            hr_grammar__buf_printf(b, "%s[1-9] [0-9]{%zu,%d}", *first ? "" : " | ", len - 1,
                                   MAX_DIGITS - 1);
            *first = false;
            return;
        }
        char l[MAX_DIGITS + 2], h[MAX_DIGITS + 2];
        snprintf(l, sizeof l, "%llu", (unsigned long long)lo);
        snprintf(h, sizeof h, "%llu", (unsigned long long)top);
        hr_grammar__buf_puts(b, *first ? "" : " | ");
        same_len(b, l, h, len);
        *first = false;
    }
}

int hr_grammar__int_range(struct hr_gbuf *b, bool has_lo, int64_t lo, bool has_hi, int64_t hi)
{
    const int64_t cap = 999999999999999999ll; /* 18 digits: bounds beyond are refused */
    if ((has_lo && (lo < -cap || lo > cap)) || (has_hi && (hi < -cap || hi > cap)))
        return HR_EUNSUPPORTED;
    if (has_lo && has_hi && lo > hi)
        return HR_EINVAL;
    bool first = true;
    hr_grammar__buf_puts(b, "(");
    /* negative part: -x for x in [max(1, -hi), -lo] */
    if (!has_lo || lo < 0) {
        uint64_t a = has_hi && hi < 0 ? (uint64_t)(-hi) : 1;
        uint64_t z = has_lo ? (uint64_t)(-lo) : UINT64_MAX;
        hr_grammar__buf_puts(b, "\"-\" (");
        bool inner = true;
        nonneg(b, a, z, &inner);
        hr_grammar__buf_puts(b, ")");
        first = false;
    }
    /* non-negative part */
    if (!has_hi || hi >= 0) {
        uint64_t a = has_lo && lo > 0 ? (uint64_t)lo : 0;
        uint64_t z = has_hi ? (uint64_t)hi : UINT64_MAX;
        nonneg(b, a, z, &first);
    }
    hr_grammar__buf_puts(b, ")");
    return 0;
}
