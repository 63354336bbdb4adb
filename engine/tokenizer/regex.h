/* A small backtracking regex engine over code points, for the pre-tokenizer patterns that
 * GGUF vocabularies name (`tokenizer.ggml.pre`). Supports alternation, (?:...), (?i:...)
 * (ASCII case folding), (?!...), classes with ranges and \p{L} \p{N} \p{P} \p{M} \p{Lu} \p{Ll}
 * \p{Lt} \p{Lm} \p{Lo} \s \S \d, '.', '$', and greedy ? * + {m,n}. Quantified single-character
 * atoms match iteratively, so a long word cannot exhaust the stack. Any thread (compiled
 * patterns are immutable). */
#ifndef HR_REGEX_H
#define HR_REGEX_H

#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"

struct hr_regex;

int hr_regex_compile(struct hr_regex **out, const char *pattern, struct hr_diag *d);
void hr_regex_free(struct hr_regex *re);

/* Longest-first (leftmost alternative) match of re at cps[pos], where the subject ends at
 * cps[end]: returns the end position of the match, or -1. */
long hr_regex_match_at(const struct hr_regex *re, const uint32_t *cps, size_t pos, size_t end);

/* A piece of text, in code points. */
struct hr_span {
    uint32_t start, len;
};

/* Refines pieces as llama.cpp's splitter does: in each piece, every non-empty match and every
 * gap between matches becomes a piece, in order. *out is malloc'd (caller frees). */
int hr_regex_split(const struct hr_regex *re, const uint32_t *cps, const struct hr_span *in,
                   size_t n_in, struct hr_span **out, size_t *n_out);

#endif
