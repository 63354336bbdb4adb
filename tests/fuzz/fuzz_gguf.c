/* Fuzz target: arbitrary bytes as a GGUF file. Parsing must refuse with a message or accept;
 * everything an accepted file exposes must lie inside the input (every byte is read, so ASan
 * sees any stray view), every typed getter must answer cleanly, the file must survive a copy
 * through the writer unchanged, and a tokenizer built from its metadata must fail cleanly or
 * work. Replayed from tests/fuzz/corpus/gguf/ by every test run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_gguf: %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static bool inside(const struct hr_gguf *g, const void *p, uint64_t n)
{
    const uint8_t *b = p;
    return b >= g->base && b <= g->base + g->size && n <= (uint64_t)(g->base + g->size - b);
}

static uint8_t sum(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint8_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s ^= b[i];
    return s;
}

/* NUL-terminated copy of a view for the lookup API; false when the view holds a NUL. */
static bool c_name(struct hr_str s, char *buf, size_t cap)
{
    if (s.len >= cap || memchr(s.ptr, 0, s.len))
        return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return true;
}

static void walk(const struct hr_gguf *g)
{
    volatile uint8_t sink = 0;
    char name[512];
    CHECK(g->data_offset <= g->size);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct hr_gguf_kv *kv = &g->kv[i];
        CHECK(kv->key.len > 0 && inside(g, kv->key.ptr, kv->key.len));
        CHECK(inside(g, kv->data, kv->n_bytes));
        sink ^= sum(kv->key.ptr, kv->key.len) ^ sum(kv->data, kv->n_bytes);
        for (uint64_t k = 0; kv->strs && k < kv->arr_n; k++) {
            CHECK(inside(g, kv->strs[k].ptr, kv->strs[k].len));
            sink ^= sum(kv->strs[k].ptr, kv->strs[k].len);
        }
        float f;
        int64_t v;
        for (uint64_t k = 0; kv->type == HR_GGUF_ARRAY && k <= kv->arr_n && k < 64; k++) {
            if (hr_gguf_arr_f32(kv, k, &f))
                sink ^= (uint8_t)(f != f);
            if (hr_gguf_arr_i64(kv, k, &v))
                sink ^= (uint8_t)v;
        }
        if (!c_name(kv->key, name, sizeof name))
            continue;
        CHECK(hr_gguf_find(g, name) == kv);
        struct hr_diag d = {{0}};
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        bool b;
        struct hr_str s;
        const struct hr_gguf_kv *arr;
        /* Each getter either succeeds or refuses with a message naming the key. */
#define GET(call)                                                                            \
    do {                                                                                     \
        hr_diag_clear(&d);                                                                   \
        int rc_ = (call);                                                                    \
        CHECK(rc_ == 0 || (rc_ == HR_EFORMAT && strstr(d.msg, "key '")));                    \
    } while (0)
        GET(hr_gguf_get_u32(g, name, &u32, &d));
        GET(hr_gguf_get_i32(g, name, &i32, &d));
        GET(hr_gguf_get_u64(g, name, &u64, &d));
        GET(hr_gguf_get_f32(g, name, &f, &d));
        GET(hr_gguf_get_bool(g, name, &b, &d));
        GET(hr_gguf_get_str(g, name, &s, &d));
        GET(hr_gguf_get_arr(g, name, kv->arr_type, &arr, &d));
#undef GET
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        CHECK(t->n_bytes > 0 && inside(g, t->data, t->n_bytes));
        CHECK((uint64_t)((const uint8_t *)t->data - g->base) >= g->data_offset);
        CHECK(((uint64_t)((const uint8_t *)t->data - g->base) - g->data_offset) % g->alignment ==
              0);
        sink ^= sum(t->data, t->n_bytes);
        if (c_name(t->name, name, sizeof name))
            CHECK(hr_gguf_tensor(g, name) == t);
    }
    (void)sink;
}

/* Copies every kv and tensor through the writer into memory and reads the copy back: it must
 * be accepted and hold the same values, shapes and bytes. */
static void copy_through_writer(const struct hr_gguf *g)
{
    char name[512];
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!c_name(g->tensors[i].name, name, sizeof name))
            return; /* the writer takes C-string tensor names */
    struct hr_gguf_writer *w = NULL;
    CHECK(hr_gguf_writer_new(&w) == 0);
    for (uint64_t i = 0; i < g->n_kv; i++)
        CHECK(hr_gguf_writer_copy_kv(w, &g->kv[i]) == 0);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        CHECK(c_name(t->name, name, sizeof name));
        CHECK(hr_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne) == 0);
    }
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    CHECK(f != NULL);
    CHECK(hr_gguf_writer_write_header(w, f, NULL) == 0);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        CHECK(hr_gguf_writer_write_tensor(w, f, g->tensors[i].data, g->tensors[i].n_bytes,
                                          NULL) == 0);
    CHECK(fclose(f) == 0);
    hr_gguf_writer_free(w);
    struct hr_gguf *c = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open_mem(&c, buf, n, &d) != 0) {
        fprintf(stderr, "fuzz_gguf: copy refused: %s\n", d.msg);
        abort();
    }
    CHECK(c->n_kv == g->n_kv && c->n_tensors == g->n_tensors && c->alignment == g->alignment);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct hr_gguf_kv *a = &g->kv[i], *b = &c->kv[i];
        CHECK(a->key.len == b->key.len && memcmp(a->key.ptr, b->key.ptr, a->key.len) == 0);
        CHECK(a->type == b->type && a->arr_type == b->arr_type && a->arr_n == b->arr_n);
        CHECK(a->n_bytes == b->n_bytes && memcmp(a->data, b->data, (size_t)a->n_bytes) == 0);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *a = &g->tensors[i], *b = &c->tensors[i];
        CHECK(a->name.len == b->name.len && memcmp(a->name.ptr, b->name.ptr, a->name.len) == 0);
        CHECK(a->type == b->type && a->n_dims == b->n_dims && a->n_bytes == b->n_bytes);
        CHECK(memcmp(a->ne, b->ne, sizeof a->ne) == 0);
        CHECK(memcmp(a->data, b->data, (size_t)a->n_bytes) == 0);
    }
    hr_gguf_close(c);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_gguf_open_mem(&g, data, size, &d);
    if (rc != 0) {
        CHECK(g == NULL && d.msg[0] != '\0');
        CHECK(rc == HR_EFORMAT || rc == HR_EUNSUPPORTED || rc == HR_ENOMEM);
        return 0;
    }
    walk(g);
    copy_through_writer(g);
    /* A tokenizer built from hostile metadata must also fail cleanly or work. */
    struct hr_tok *tok = NULL;
    hr_diag_clear(&d);
    if (hr_tok_new_from_gguf(&tok, g, &d) == 0) {
        int32_t ids[64];
        size_t n = 0;
        hr_tok_encode(tok, "Hello <s> world", 15, true, true, ids, 64, &n);
        hr_tok_free(tok);
    }
    hr_gguf_close(g);
    return 0;
}
