/* Writes the seed corpus of the GGUF fuzz target (tests/fuzz/corpus/gguf/) with the project's
 * own writer: small valid files (metadata of every type, SentencePiece and BPE vocabularies,
 * tensors of every type, unusual alignments, version 2) and broken ones made from them
 * (truncated, bad magic, version 1, huge counts, nested array, duplicate key, misaligned or
 * overlapping tensors). Every seed stays under 8 KiB. Not built by CMake; from the root:
 *   cc -std=gnu11 -I. tests/fuzz/gen_gguf_corpus.c engine/gguf/?*.c engine/base/?*.c -lm
 *      -o gen_gguf_corpus && ./gen_gguf_corpus tests/fuzz/corpus/gguf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/err.h"
#include "engine/gguf/gguf.h"

#define MAX_SEED 8192

struct seed {
    uint8_t *b;
    size_t n;
};

static void die(const char *what)
{
    fprintf(stderr, "gen_gguf_corpus: %s\n", what);
    exit(1);
}

static void ok(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "gen_gguf_corpus: %s: %s\n", what, hr_err_name(rc));
        exit(1);
    }
}

/* Writes the header and tensor data (bytes from a counter) to memory and frees the writer. */
static struct seed finish(struct hr_gguf_writer *w, const uint64_t *sizes, size_t n_tensors)
{
    struct seed s = {NULL, 0};
    FILE *f = open_memstream((char **)&s.b, &s.n);
    if (!f)
        die("open_memstream");
    ok(hr_gguf_writer_write_header(w, f, NULL), "header");
    uint8_t data[4096];
    for (size_t i = 0; i < n_tensors; i++) {
        if (sizes[i] > sizeof data)
            die("tensor too large for a seed");
        for (uint64_t k = 0; k < sizes[i]; k++)
            data[k] = (uint8_t)(k * 13 + i);
        ok(hr_gguf_writer_write_tensor(w, f, data, sizes[i], NULL), "tensor");
    }
    if (fclose(f) != 0)
        die("fclose");
    hr_gguf_writer_free(w);
    return s;
}

static struct hr_gguf_writer *new_writer(void)
{
    struct hr_gguf_writer *w = NULL;
    ok(hr_gguf_writer_new(&w), "writer");
    return w;
}

static struct seed all_kinds(uint32_t alignment)
{
    struct hr_gguf_writer *w = new_writer();
    if (alignment)
        ok(hr_gguf_writer_add_u32(w, "general.alignment", alignment), "alignment");
    ok(hr_gguf_writer_add_str(w, "general.architecture", "llama", 5), "arch");
    ok(hr_gguf_writer_add_u32(w, "llama.embedding_length", 32), "u32");
    ok(hr_gguf_writer_add_i32(w, "k.i32", -7), "i32");
    ok(hr_gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.0f), "f32");
    ok(hr_gguf_writer_add_bool(w, "k.bool", true), "bool");
    const uint8_t u8 = 200;
    const int64_t i64 = -1;
    const uint64_t u64 = 1ull << 40;
    const double f64 = 0.5;
    const int16_t i16 = -2;
    struct hr_gguf_kv kvs[] = {
        {.key = {"k.u8", 4}, .type = HR_GGUF_U8, .data = &u8, .n_bytes = 1},
        {.key = {"k.i64", 5}, .type = HR_GGUF_I64, .data = (const uint8_t *)&i64, .n_bytes = 8},
        {.key = {"k.u64", 5}, .type = HR_GGUF_U64, .data = (const uint8_t *)&u64, .n_bytes = 8},
        {.key = {"k.f64", 5}, .type = HR_GGUF_F64, .data = (const uint8_t *)&f64, .n_bytes = 8},
        {.key = {"k.i16", 5}, .type = HR_GGUF_I16, .data = (const uint8_t *)&i16, .n_bytes = 2},
    };
    for (size_t i = 0; i < sizeof kvs / sizeof kvs[0]; i++)
        ok(hr_gguf_writer_copy_kv(w, &kvs[i]), "copy");
    const float fs[4] = {1, -2, 0.5f, 3};
    ok(hr_gguf_writer_add_arr(w, "k.arr.f32", HR_GGUF_F32, fs, 4), "arr");
    const uint16_t us[3] = {1, 2, 65535};
    ok(hr_gguf_writer_add_arr(w, "k.arr.u16", HR_GGUF_U16, us, 3), "arr");
    const struct hr_str ss[4] = {{"a", 1}, {"<s>", 3}, {"", 0}, {"\xE2\x96\x81hi", 5}};
    ok(hr_gguf_writer_add_arr_str(w, "k.arr.str", ss, 4), "strs");
    const uint64_t ne_a[2] = {8, 2}, ne_b[1] = {32};
    ok(hr_gguf_writer_add_tensor(w, "token_embd.weight", HR_TYPE_F32, 2, ne_a), "t");
    ok(hr_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", HR_TYPE_Q8_0, 1, ne_b), "t");
    const uint64_t sizes[2] = {64, 34};
    return finish(w, sizes, 2);
}

static struct seed every_type(void)
{
    struct hr_gguf_writer *w = new_writer();
    const struct {
        const char *name;
        uint32_t type;
        uint64_t ne0;
    } ts[] = {
        {"f32", HR_TYPE_F32, 3},     {"f16", HR_TYPE_F16, 5},     {"bf16", HR_TYPE_BF16, 2},
        {"q4_0", HR_TYPE_Q4_0, 32},  {"q4_1", HR_TYPE_Q4_1, 32},  {"q5_0", HR_TYPE_Q5_0, 32},
        {"q5_1", HR_TYPE_Q5_1, 32},  {"q8_0", HR_TYPE_Q8_0, 32},  {"q8_1", HR_TYPE_Q8_1, 32},
        {"q2_k", HR_TYPE_Q2_K, 256}, {"q3_k", HR_TYPE_Q3_K, 256}, {"q4_k", HR_TYPE_Q4_K, 256},
        {"q5_k", HR_TYPE_Q5_K, 256}, {"q6_k", HR_TYPE_Q6_K, 256}, {"q8_k", HR_TYPE_Q8_K, 256},
        {"i8", HR_TYPE_I8, 7},       {"i16", HR_TYPE_I16, 3},     {"i32", HR_TYPE_I32, 2},
        {"i64", HR_TYPE_I64, 1},     {"f64", HR_TYPE_F64, 2},
    };
    size_t n = sizeof ts / sizeof ts[0];
    uint64_t sizes[32];
    ok(hr_gguf_writer_add_u32(w, "general.alignment", 1), "alignment");
    for (size_t i = 0; i < n; i++) {
        ok(hr_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, 1, &ts[i].ne0), ts[i].name);
        if (!hr_dtype_row_bytes(ts[i].type, ts[i].ne0, &sizes[i]))
            die("row bytes");
    }
    return finish(w, sizes, n);
}

/* A small vocabulary for either tokenizer kind: controls, some byte tokens, some words. */
static struct seed vocab(bool bpe, bool with_tensor)
{
    struct hr_gguf_writer *w = new_writer();
    static char pool[4096];
    struct hr_str toks[128];
    float scores[128];
    int32_t types[128];
    size_t n = 0, used = 0;
    const char *ctl[] = {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"};
    for (size_t i = 0; i < 5; i++) {
        toks[n] = (struct hr_str){ctl[i], strlen(ctl[i])};
        types[n] = i == 0 ? 2 : 3;
        scores[n++] = 0;
    }
    for (int b = 0; b < 48; b++) {
        int len;
        if (bpe)
            len = snprintf(pool + used, sizeof pool - used, "%c", 'a' + b % 26 - (b / 26) * 32);
        else
            len = snprintf(pool + used, sizeof pool - used, "<0x%02X>", b * 5);
        toks[n] = (struct hr_str){pool + used, (size_t)len};
        used += (size_t)len;
        types[n] = bpe ? 1 : 6;
        scores[n++] = 0;
    }
    const char *words[] = {"\xE2\x96\x81the", "\xE2\x96\x81\x61", "he", "th", "in", "er",
                           "\xC4\xA0the", "\xC4\xA0t", "Hello", "world", " ", "\n"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        toks[n] = (struct hr_str){words[i], strlen(words[i])};
        types[n] = 1;
        scores[n++] = -(float)i;
    }
    ok(hr_gguf_writer_add_str(w, "tokenizer.ggml.model", bpe ? "gpt2" : "llama", bpe ? 4 : 5),
       "model");
    ok(hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, n), "tokens");
    ok(hr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HR_GGUF_F32, scores, n), "scores");
    ok(hr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HR_GGUF_I32, types, n), "types");
    if (bpe) {
        const struct hr_str merges[] = {{"t h", 3}, {"th e", 4}, {"h e", 3}, {"i n", 3}};
        ok(hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 4), "merges");
        ok(hr_gguf_writer_add_str(w, "tokenizer.ggml.pre", "llama-bpe", 9), "pre");
    } else {
        ok(hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", true), "prefix");
    }
    ok(hr_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1), "bos");
    ok(hr_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2), "eos");
    ok(hr_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0), "unk");
    ok(hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true), "add_bos");
    uint64_t size = 0;
    if (with_tensor) {
        const uint64_t ne[2] = {4, n};
        ok(hr_gguf_writer_add_tensor(w, "token_embd.weight", HR_TYPE_F16, 2, ne), "t");
        size = 4 * 2 * n;
    }
    return finish(w, &size, with_tensor ? 1 : 0);
}

static struct seed copy(struct seed s, size_t n)
{
    struct seed c = {malloc(n ? n : 1), n};
    if (!c.b)
        die("malloc");
    memcpy(c.b, s.b, n < s.n ? n : s.n);
    return c;
}

static size_t find(struct seed s, const char *needle)
{
    size_t len = strlen(needle);
    for (size_t i = 0; i + len <= s.n; i++)
        if (memcmp(s.b + i, needle, len) == 0)
            return i;
    die(needle);
    return 0;
}

static void set32(struct seed s, size_t at, uint32_t v)
{
    memcpy(s.b + at, &v, 4);
}

static void set64(struct seed s, size_t at, uint64_t v)
{
    memcpy(s.b + at, &v, 8);
}

static void save(const char *dir, const char *name, struct seed s)
{
    if (s.n >= MAX_SEED)
        die(name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.seed", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s.b, 1, s.n, f) != s.n || fclose(f) != 0)
        die(path);
    free(s.b);
    printf("%-20s %5zu bytes\n", name, s.n);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: gen_gguf_corpus DIR");
    const char *dir = argv[1];
    struct seed base = all_kinds(0);
    /* Offsets in all_kinds: after a key come its u32 type and then its value. */
    size_t arr_type = find(base, "k.arr.u16") + 9 + 4;
    size_t i32_key = find(base, "k.i32");
    size_t t1_info = find(base, "blk.0.attn_q.weight") + 19;
    size_t strs_n = find(base, "k.arr.str") + 9 + 4 + 4;

    struct seed s = copy(base, 24);
    set64(s, 8, 0);
    set64(s, 16, 0);
    save(dir, "empty", s);
    save(dir, "all_kinds", copy(base, base.n));
    s = copy(base, base.n);
    set32(s, 4, 2);
    save(dir, "version2", s);
    save(dir, "align64", all_kinds(64));
    save(dir, "every_type_align1", every_type());
    save(dir, "vocab_spm", vocab(false, false));
    save(dir, "vocab_bpe", vocab(true, false));
    save(dir, "vocab_spm_tensor", vocab(false, true));
    save(dir, "trunc_in_kv", copy(base, i32_key + 3));
    save(dir, "trunc_in_strings", copy(base, find(base, "\xE2\x96\x81hi") + 2));
    save(dir, "trunc_in_tensors", copy(base, t1_info + 6));
    save(dir, "trunc_in_data", copy(base, base.n - 40));
    s = copy(base, base.n);
    s.b[3] = 'X';
    save(dir, "bad_magic", s);
    s = copy(base, base.n);
    set32(s, 4, 1);
    save(dir, "version1", s);
    s = copy(base, base.n);
    set64(s, 16, 1ull << 63);
    set64(s, 8, 1ull << 62);
    save(dir, "huge_counts", s);
    s = copy(base, base.n);
    set32(s, arr_type, HR_GGUF_ARRAY);
    save(dir, "nested_array", s);
    s = copy(base, base.n);
    set64(s, strs_n, 1ull << 40);
    save(dir, "huge_string_array", s);
    s = copy(base, base.n);
    memcpy(s.b + i32_key, "k.u64", 5);
    save(dir, "dup_key", s);
    s = copy(base, base.n);
    set64(s, t1_info + 4 + 8 + 4, 8); /* n_dims, ne[0], type, then the offset */
    save(dir, "misaligned", s);
    s = copy(base, base.n);
    set64(s, t1_info + 4 + 8 + 4, 32); /* inside the first tensor's 64 bytes */
    save(dir, "overlap", s);
    free(base.b);
    return 0;
}
