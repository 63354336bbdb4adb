/* Pre-tokenizer patterns by `tokenizer.ggml.pre` name: the regexes each model family splits
 * text with before byte-level BPE, applied in order (each refines the pieces of the previous),
 * as llama.cpp applies them. Any thread. */
#include <string.h>

#include "tok_int.h"

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE                                                                            \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE                                                                             \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define GPT4O_RE                                                                             \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"     \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+" \
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}|"                   \
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define CJK_RE "[一-龥ࠀ-一가-퟿]+"

static const struct hr_pretok_def defs[] = {
    {"default",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]"},
     false},
    {"llama-bpe", {LLAMA3_RE}, true},
    {"llama3", {LLAMA3_RE}, true},
    {"llama-v3", {LLAMA3_RE}, true},
    {"dbrx", {LLAMA3_RE}, false},
    {"smaug-bpe", {LLAMA3_RE}, false},
    {"deepseek-llm",
     {"[\r\n]",
      /* Latin, Greek, Cyrillic... letters as deepseek's tokenizer.json lists them */
      "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫ"
      "ᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹ"
      "ℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲"
      "𑢠-𑣟𞤀-𞥃]+",
      "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
      "\\s+$", CJK_RE, "\\p{N}+"},
     false},
    {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_RE, "\\p{N}"}, false},
    {"falcon",
     {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_RE, "[0-9][0-9][0-9]"},
     false},
    {"starcoder", {"\\p{N}", GPT2_RE}, false},
    {"refact", {"\\p{N}", GPT2_RE}, false},
    {"command-r", {"\\p{N}", GPT2_RE}, false},
    {"smollm", {"\\p{N}", GPT2_RE}, false},
    {"codeshell", {"\\p{N}", GPT2_RE}, false},
    {"gpt-2", {GPT2_RE}, false},
    {"mpt", {GPT2_RE}, false},
    {"olmo", {GPT2_RE}, false},
    {"phi-2", {GPT2_RE}, false},
    {"roberta-bpe", {GPT2_RE}, false},
    {"qwen2", {QWEN2_RE}, false},
    {"deepseek-r1-qwen", {QWEN2_RE}, false},
    {"stablelm2", {QWEN2_RE}, false},
    {"gpt-4o", {GPT4O_RE}, false},
};

const struct hr_pretok_def *hr_tok__pretok_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
            return &defs[i];
    return NULL;
}
