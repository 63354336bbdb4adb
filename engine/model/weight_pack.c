/* Matrix weights in the kernel set's own layout (see hr_pack_bytes), made on a weight's first
 * product rather than at load: a model loaded only to be checked never pays for it, and
 * `serve` is ready before any weight is touched. Once a copy exists, the file's pages of that
 * weight are given back (they are clean and re-read from the file if anything reads them
 * again, as the tied token embeddings do), so resident memory stays about one file's worth.
 * Engine threads; two runners racing on one weight each pack it and one copy wins. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model_int.h"

#define HUGE_PAGE (2u << 20)

static void *alloc_packed(size_t n)
{
    size_t align = n >= HUGE_PAGE ? HUGE_PAGE : 64;
    void *p = NULL;
    if (posix_memalign(&p, align, (n + align - 1) / align * align) != 0)
        return NULL;
    if (align == HUGE_PAGE)
        (void)madvise(p, n, MADV_HUGEPAGE); /* fewer TLB misses while decode streams it */
    return p;
}

/* The whole pages inside [p, p + n) of the file's mapping: dropped from this process. */
static void release_file_pages(const void *p, size_t n)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) / page * page;
    uintptr_t hi = ((uintptr_t)p + n) / page * page;
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

const void *hr_weight__packed(const struct hr_weight *w, struct hr_pool *pool)
{
    void *have = __atomic_load_n(&((struct hr_weight *)w)->packed, __ATOMIC_ACQUIRE);
    if (have || !w->data)
        return have;
    size_t n = hr_pack_bytes(w->type, w->n_rows, w->n_cols);
    if (n == 0)
        return NULL;
    void *mine = alloc_packed(n);
    if (!mine)
        return NULL; /* the file's layout still works */
    hr_pack(w->type, w->data, w->row_bytes, w->n_rows, w->n_cols, mine, pool);
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&((struct hr_weight *)w)->packed, &expected, mine, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        free(mine);
        return expected;
    }
    release_file_pages(w->data, w->row_bytes * w->n_rows);
    return mine;
}

void hr_weight__free_packed(struct hr_weight *w)
{
    free(w->packed);
    w->packed = NULL;
}
