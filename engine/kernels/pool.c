/* A fixed thread pool for splitting one engine step's work: n_threads - 1 workers wait on a
 * condition variable for a new generation of work, each runs its contiguous range, the caller
 * runs range 0 and waits for the rest. Engine thread (the caller) plus the pool's workers. */
#include <pthread.h>
#include <stdlib.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "kernels.h"

struct worker {
    struct hr_pool *pool;
    int index;
    pthread_t thread;
};

struct hr_pool {
    int n_threads;
    struct worker *workers;
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    uint64_t generation;
    int n_done;
    bool stop;
    hr_pool_fn fn;
    void *ud;
    size_t n;
};

static void run_range(struct hr_pool *p, int t)
{
    size_t begin = p->n * (size_t)t / (size_t)p->n_threads;
    size_t end = p->n * (size_t)(t + 1) / (size_t)p->n_threads;
    if (begin < end)
        p->fn(p->ud, begin, end);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct hr_pool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_range(p, w->index);
        pthread_mutex_lock(&p->mu);
        if (++p->n_done == p->n_threads - 1)
            pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
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
    pthread_mutex_lock(&p->mu);
    p->stop = true;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ud = ud;
    p->n = n;
    p->n_done = 0;
    p->generation++;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    run_range(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->n_done < p->n_threads - 1)
        pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
