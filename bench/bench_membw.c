/* Memory read bandwidth: every thread sums its own slice of a buffer far larger than the
 * caches, several times; the best pass counts (the machine's bandwidth flips between levels,
 * so the peak is what a decode step can hope for). Prints GB/s for 1 thread and for N.
 * Usage: bench_membw [MIB] [THREADS] (default 1024 MiB, every CPU). Not run by the tests. */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct slice {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
    double t0, t1; /* the reader's own start and end: the main thread may sleep meanwhile */
    pthread_barrier_t *go;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* 256-bit loads into four independent sums: the loop is bound by memory, not by adds. */
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *p, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 12)));
    }
    __m256i a = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t v[4];
    _mm256_storeu_si256((__m256i *)v, a);
    return v[0] + v[1] + v[2] + v[3];
}

static uint64_t sum_plain(const uint64_t *p, size_t n)
{
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
    }
    return a0 + a1 + a2 + a3;
}

static void *reader(void *arg)
{
    struct slice *s = arg;
    pthread_barrier_wait(s->go);
    s->t0 = now_s();
    s->sum = __builtin_cpu_supports("avx2") ? sum_avx2(s->p, s->n) : sum_plain(s->p, s->n);
    s->t1 = now_s();
    return NULL;
}

/* Best GB/s of `passes` passes over buf with t threads. */
static double measure(const uint64_t *buf, size_t words, int t, int passes)
{
    double best = 0;
    for (int pass = 0; pass < passes; pass++) {
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, (unsigned)t);
        pthread_t th[256];
        struct slice sl[256];
        size_t per = words / (size_t)t / 16 * 16; /* whole 128-byte steps, 32-byte aligned */
        for (int i = 0; i < t; i++) {
            sl[i] = (struct slice){buf + (size_t)i * per, per, 0, 0, 0, &go};
            pthread_create(&th[i], NULL, reader, &sl[i]);
        }
        uint64_t sink = 0;
        double first = 0, last = 0;
        for (int i = 0; i < t; i++) {
            pthread_join(th[i], NULL);
            sink += sl[i].sum;
            first = i == 0 || sl[i].t0 < first ? sl[i].t0 : first;
            last = sl[i].t1 > last ? sl[i].t1 : last;
        }
        double dt = last - first;
        pthread_barrier_destroy(&go);
        double gbs = (double)per * (size_t)t * 8 / dt / 1e9;
        if (gbs > best)
            best = gbs;
        if (sink == 42) /* keeps the sums alive */
            fputc(' ', stderr);
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = argc > 2 ? atoi(argv[2]) : (int)(ncpu > 0 ? ncpu : 1);
    if (mib < 64 || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: bench_membw [MIB >= 64] [THREADS 1..256]\n");
        return 2;
    }
    size_t words = mib * 1048576 / 8;
    uint64_t *buf = aligned_alloc(64, words * 8);
    if (!buf) {
        fprintf(stderr, "bench_membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < words; i++) /* touch every page: no faults while timing */
        buf[i] = i;
    printf("threads 1: %.1f GB/s\n", measure(buf, words, 1, 5));
    if (threads > 1)
        printf("threads %d: %.1f GB/s\n", threads, measure(buf, words, threads, 5));
    free(buf);
    return 0;
}
