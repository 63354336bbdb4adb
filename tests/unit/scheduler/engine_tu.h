/* Shared by the engine thread's tests (test_engine.c, test_engine_grammar.c): a waiter woken
 * by the engine's notify callback, and collecting every request's text and DONE event.
 * Header-only (static inline) so each test binary links nothing more. */
#ifndef HR_ENGINE_TU_H
#define HR_ENGINE_TU_H

#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int notified;
};

static inline void on_notify(void *ud)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->notified++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

struct result {
    uint64_t id;
    char text[8192];
    size_t n_text;
    bool done;
    struct hr_event done_ev;
};

/* Collects events until every result in rs is done. */
static inline void collect(struct hr_engine *e, struct waiter *w, struct result *rs, size_t n)
{
    for (;;) {
        struct hr_event *evs = hr_engine_take_events(e);
        for (struct hr_event *ev = evs; ev; ev = ev->next) {
            struct result *r = NULL;
            for (size_t i = 0; i < n; i++)
                if (rs[i].id == ev->req_id)
                    r = &rs[i];
            assert_non_null(r);
            assert_false(r->done); /* nothing after DONE */
            if (ev->kind == HR_EV_TEXT) {
                assert_true(r->n_text + ev->n_text < sizeof r->text);
                memcpy(r->text + r->n_text, ev->text, ev->n_text);
                r->n_text += ev->n_text;
                r->text[r->n_text] = '\0';
            } else {
                r->done = true;
                r->done_ev = *ev;
            }
        }
        hr_event_free_list(evs);
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all = all && rs[i].done;
        if (all)
            return;
        pthread_mutex_lock(&w->mu);
        while (!w->notified)
            pthread_cond_wait(&w->cv, &w->mu);
        w->notified = 0;
        pthread_mutex_unlock(&w->mu);
    }
}

/* Writes the tiny preset (F32) with this seed to a temporary file named name; 0 or an error. */
static inline int tu_write_tiny_model(const char *name, uint64_t seed, char *path, size_t cap)
{
    tu_tmpfile(name, path, cap);
    struct hr_synth_params p = {0};
    p.preset = "tiny";
    p.type = HR_TYPE_F32;
    p.out_path = path;
    p.seed = seed;
    struct hr_diag d = {{0}};
    int rc = hr_synth_write(&p, &d);
    if (rc != 0)
        fprintf(stderr, "synth: %s\n", d.msg);
    return rc;
}

#endif
