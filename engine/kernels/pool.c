/* A fixed thread pool for splitting one engine step's work: n_threads - 1 workers wait on a
 * new generation of work (spinning briefly, then on a condition variable), each runs its
 * contiguous range, the caller runs range 0 and waits for the rest the same way. Engine
 * thread (the caller) plus the pool's workers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "kernels.h"

struct worker {
    struct hr_pool *pool;
    int index;
    pthread_t thread;
};

/* Spin this long for the next job (or for the workers to finish) before sleeping: a decode
 * step runs hundreds of short jobs back to back, and a futex wake costs more than most of
 * them; an idle pool still sleeps within this time. */
#define SPIN_NS 200000

struct hr_pool {
    int n_threads;
    struct worker *workers;
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    atomic_uint_fast64_t generation;
    atomic_int n_done;
    atomic_int n_sleeping;  /* workers in (or entering) cv_work's wait */
    atomic_bool caller_sleeping;
    atomic_bool stop;
    hr_pool_fn fn;
    void *ud;
    size_t n;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/* Spins until cond(p, arg) or SPIN_NS pass; true when it held. */
static bool spin_until(bool (*cond)(struct hr_pool *, uint64_t), struct hr_pool *p, uint64_t arg)
{
    uint64_t deadline = 0;
    for (unsigned i = 0;; i++) {
        if (cond(p, arg))
            return true;
        cpu_relax();
        if (i % 256 == 255) {
            uint64_t t = now_ns();
            if (!deadline)
                deadline = t + SPIN_NS;
            else if (t > deadline)
                return false;
        }
    }
}

static bool has_news(struct hr_pool *p, uint64_t seen)
{
    return atomic_load(&p->stop) || atomic_load(&p->generation) != seen;
}

static bool all_done(struct hr_pool *p, uint64_t unused)
{
    (void)unused;
    return atomic_load(&p->n_done) == p->n_threads - 1;
}

static void run_range(struct hr_pool *p, int t)
{
    size_t begin = p->n * (size_t)t / (size_t)p->n_threads;
    size_t end = p->n * (size_t)(t + 1) / (size_t)p->n_threads;
    if (begin < end)
        p->fn(p->ud, begin, end);
}

/* Sleeping is race-free: a sleeper counts itself before its last look, under the mutex, and
 * whoever changes the state looks at the count afterwards (sequentially consistent atomics)
 * and then wakes it under the same mutex. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct hr_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until(has_news, p, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleeping, 1);
            while (!has_news(p, seen))
                pthread_cond_wait(&p->cv_work, &p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load(&p->generation);
        run_range(p, w->index);
        if (atomic_fetch_add(&p->n_done, 1) + 1 == p->n_threads - 1 &&
            atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

static void wake_workers(struct hr_pool *p)
{
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
}

int hr_pool_new(struct hr_pool **out, int n_threads)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > HR_MAX_THREADS)
        return HR_EINVAL;
    struct hr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return HR_ENOMEM;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads, sizeof *p->workers);
        if (!p->workers) {
            hr_pool_free(p);
            return HR_ENOMEM;
        }
        for (int i = 1; i < n_threads; i++) {
            p->workers[i].pool = p;
            p->workers[i].index = i;
            if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
                hr_pool_free(p);
                return HR_EINTERNAL;
            }
            p->n_started = i;
        }
    }
    *out = p;
    return 0;
}

void hr_pool_free(struct hr_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->n_started; i++)
        pthread_join(p->workers[i].thread, NULL);
    free(p->workers);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int hr_pool_threads(const struct hr_pool *p)
{
    return p ? p->n_threads : 1;
}

void hr_pool_run(struct hr_pool *p, size_t n, hr_pool_fn fn, void *ud)
{
    if (!p || p->n_threads == 1 || n < 2) {
        if (n)
            fn(ud, 0, n);
        return;
    }
    p->fn = fn;
    p->ud = ud;
    p->n = n;
    atomic_store(&p->n_done, 0);
    atomic_fetch_add(&p->generation, 1); /* publishes fn, ud and n */
    wake_workers(p);
    run_range(p, 0);
    if (!spin_until(all_done, p, 0)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeping, true);
        while (!all_done(p, 0))
            pthread_cond_wait(&p->cv_done, &p->mu);
        atomic_store(&p->caller_sleeping, false);
        pthread_mutex_unlock(&p->mu);
    }
}
