/* Unicode lookups for the tokenizers (see unicode.h): binary search over the generated
 * category ranges, UTF-8 helpers, and GPT-2's byte mapping. Any thread. */
#include "unicode.h"

enum hr_uc_cat hr_uc_category(uint32_t cp)
{
    unsigned lo = 0, hi = hr_uc_n_ranges;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < hr_uc_ranges[mid].first)
            hi = mid;
        else if (cp > hr_uc_ranges[mid].last)
            lo = mid + 1;
        else
            return (enum hr_uc_cat)hr_uc_ranges[mid].cat;
    }
    return HR_UC_CN;
}

bool hr_uc_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    enum hr_uc_cat c = hr_uc_category(cp);
    return c >= HR_UC_LU && c <= HR_UC_LO;
}

bool hr_uc_is_number(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    enum hr_uc_cat c = hr_uc_category(cp);
    return c >= HR_UC_ND && c <= HR_UC_NO;
}

bool hr_uc_is_punct(uint32_t cp)
{
    enum hr_uc_cat c = hr_uc_category(cp);
    return c >= HR_UC_PC && c <= HR_UC_PO;
}

bool hr_uc_is_mark(uint32_t cp)
{
    enum hr_uc_cat c = hr_uc_category(cp);
    return c >= HR_UC_MN && c <= HR_UC_ME;
}

bool hr_uc_is_whitespace(uint32_t cp)
{
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

uint32_t hr_utf8_decode(const char *s, size_t n, size_t *len)
{
    const uint8_t *u = (const uint8_t *)s;
    uint8_t c = u[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        *len = 1;
        return c;
    } else if ((c & 0xE0) == 0xC0) {
        need = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        cp = c & 0x07;
    } else {
        *len = 1;
        return c;
    }
    if (need > n) {
        *len = 1;
        return c;
    }
    for (size_t i = 1; i < need; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *len = 1;
            return c;
        }
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    *len = need;
    return cp;
}

size_t hr_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2 keeps the printable bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF as themselves and maps
 * the other 68 bytes, in order, to U+0100 onwards. */
static bool printable(uint32_t b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t hr_byte_to_cp(uint8_t b)
{
    if (printable(b))
        return b;
    uint32_t n = 0;
    for (uint32_t x = 0; x < b; x++)
        n += !printable(x);
    return 0x100 + n;
}

int hr_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return printable(cp) ? (int)cp : -1;
    uint32_t n = cp - 0x100;
    for (uint32_t x = 0; x < 256; x++)
        if (!printable(x) && n-- == 0)
            return (int)x;
    return -1;
}

static uint32_t pair_lookup(const struct hr_uc_pair *t, unsigned n, uint32_t cp)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (t[mid].from == cp)
            return t[mid].to;
        if (t[mid].from < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return cp;
}

uint32_t hr_uc_tolower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return pair_lookup(hr_uc_lower, hr_uc_lower_n, cp);
}

uint32_t hr_uc_nfd_first_cp(uint32_t cp)
{
    if (cp < 0xC0)
        return cp;
    return pair_lookup(hr_uc_nfd_first, hr_uc_nfd_first_n, cp);
}
