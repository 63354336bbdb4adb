/* Unicode facts the tokenizers need: UTF-8 decoding that never fails (an invalid byte decodes
 * as itself, one byte long, as llama.cpp treats it), general categories from the generated
 * table, the White_Space property, and GPT-2's byte <-> code point mapping for byte-level BPE.
 * Any thread (read-only data). */
#ifndef HR_UNICODE_H
#define HR_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hr_uc_cat {
    HR_UC_CN, HR_UC_LU, HR_UC_LL, HR_UC_LT, HR_UC_LM, HR_UC_LO, HR_UC_MN, HR_UC_MC, HR_UC_ME,
    HR_UC_ND, HR_UC_NL, HR_UC_NO, HR_UC_PC, HR_UC_PD, HR_UC_PS, HR_UC_PE, HR_UC_PI, HR_UC_PF,
    HR_UC_PO, HR_UC_SM, HR_UC_SC, HR_UC_SK, HR_UC_SO, HR_UC_ZS, HR_UC_ZL, HR_UC_ZP, HR_UC_CC,
    HR_UC_CF, HR_UC_CS, HR_UC_CO,
};

struct hr_uc_range {
    uint32_t first, last;
    uint8_t cat;
};

extern const struct hr_uc_range hr_uc_ranges[];
extern const unsigned hr_uc_n_ranges;

struct hr_uc_pair {
    uint32_t from, to;
};

extern const struct hr_uc_pair hr_uc_lower[];
extern const unsigned hr_uc_lower_n;
extern const struct hr_uc_pair hr_uc_nfd_first[];
extern const unsigned hr_uc_nfd_first_n;

/* Python's str.lower() where it maps one code point to one; others unchanged. */
uint32_t hr_uc_tolower(uint32_t cp);
/* The first code point of cp's canonical decomposition (its base letter), or cp. */
uint32_t hr_uc_nfd_first_cp(uint32_t cp);

enum hr_uc_cat hr_uc_category(uint32_t cp);
bool hr_uc_is_letter(uint32_t cp);      /* \p{L} */
bool hr_uc_is_number(uint32_t cp);      /* \p{N} */
bool hr_uc_is_punct(uint32_t cp);       /* \p{P} */
bool hr_uc_is_mark(uint32_t cp);        /* \p{M} */
bool hr_uc_is_whitespace(uint32_t cp);  /* White_Space, what regex \s means here */

/* Decodes the code point at s[0..n) (n >= 1): *len gets its byte length. An invalid or
 * truncated sequence yields its first byte as the code point, length 1. */
uint32_t hr_utf8_decode(const char *s, size_t n, size_t *len);
/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
size_t hr_utf8_encode(uint32_t cp, char *out);

/* GPT-2 byte-level BPE: each byte stands for one printable code point in vocabularies. */
uint32_t hr_byte_to_cp(uint8_t b);
/* The byte a code point stands for, or -1 when it stands for none. */
int hr_cp_to_byte(uint32_t cp);

#endif
