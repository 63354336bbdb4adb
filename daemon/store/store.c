/* The store thread (see store.h): it owns the only write connection, drains the row queue
 * in batched transactions that also add each row's tokens to its key's day and month totals,
 * polls keys_version to hand key snapshots to the listener, and runs retention. A failed
 * commit keeps its rows and retries, so an acknowledged row is never dropped while the
 * process lives. Schema and open are store_schema.c's. Threads: append from any thread. */
#include "store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/err.h"
#include "engine/base/log.h"

#define QUEUE_CAP 65536
#define COMMIT_INTERVAL_MS 250 /* also the keys poll period */
#define RETENTION_INTERVAL_MS (3600 * 1000)
#define RETENTION_CHUNK 10000 /* rows per delete transaction: keeps each lock short */
#define STOP_RETRIES 20

struct node {
    struct node *next;
    struct hr_usage_row row;
};

enum { ST_INSERT, ST_TOTAL, ST_VERSION, ST_PRUNE_ROWS, ST_PRUNE_TOTALS, N_ST };

static const char *const sql[N_ST] = {
    [ST_INSERT] = "INSERT INTO usage (request_id, time_ms, key_id, model, endpoint, "
                  "prompt_tokens, cached_tokens, completion_tokens, queue_ms, first_token_ms, "
                  "latency_ms, http_status, finish_reason, user, prompt_text, output_text) "
                  "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    [ST_TOTAL] = "INSERT INTO key_totals (key_id, period, tokens) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT (key_id, period) DO UPDATE SET tokens = tokens + excluded.tokens",
    [ST_VERSION] = "SELECT value FROM meta WHERE name = 'keys_version'",
    [ST_PRUNE_ROWS] = "DELETE FROM usage WHERE id IN "
                      "(SELECT id FROM usage WHERE time_ms < ?1 LIMIT ?2)",
    [ST_PRUNE_TOTALS] = "DELETE FROM key_totals WHERE period < ?1",
};

struct hr_store {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *st[N_ST];
    struct hr_store_options o;
    int64_t keys_version; /* the version the listener last saw; store thread only */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* rows arrived, or stop */
    pthread_cond_t flushed; /* a batch was committed */
    struct node *head, *tail;
    size_t n_queued;
    uint64_t appended;      /* rows ever appended */
    uint64_t committed;     /* rows ever committed (or given up at shutdown) */
    bool stop;
    bool reload_keys;       /* hr_store_reload_keys asked for a full re-read */
    uint64_t dropped;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_row_text(struct hr_usage_row *r)
{
    free(r->user);
    free(r->prompt_text);
    free(r->output_text);
    r->user = r->prompt_text = r->output_text = NULL;
}

static void free_nodes(struct node *n)
{
    while (n) {
        struct node *next = n->next;
        free_row_text(&n->row);
        free(n);
        n = next;
    }
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static bool step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

static bool add_total(struct hr_store *s, int64_t key_id, const char *period, int64_t tokens)
{
    sqlite3_stmt *st = s->st[ST_TOTAL];
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tokens);
    return step_done(st);
}

static bool insert_row(struct hr_store *s, const struct hr_usage_row *r)
{
    sqlite3_stmt *st = s->st[ST_INSERT];
    sqlite3_bind_text(st, 1, r->request_id, (int)strnlen(r->request_id, sizeof r->request_id),
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, r->key_id);
    sqlite3_bind_text(st, 4, r->model, (int)strnlen(r->model, sizeof r->model), SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->endpoint, (int)strnlen(r->endpoint, sizeof r->endpoint),
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->prompt_tokens);
    sqlite3_bind_int64(st, 7, r->cached_tokens);
    sqlite3_bind_int64(st, 8, r->completion_tokens);
    sqlite3_bind_int64(st, 9, r->queue_ms);
    sqlite3_bind_int64(st, 10, r->first_token_ms);
    sqlite3_bind_int64(st, 11, r->latency_ms);
    sqlite3_bind_int(st, 12, r->http_status);
    sqlite3_bind_text(st, 13, r->finish_reason,
                      (int)strnlen(r->finish_reason, sizeof r->finish_reason), SQLITE_STATIC);
    bind_text_or_null(st, 14, r->user);
    bind_text_or_null(st, 15, r->prompt_text);
    bind_text_or_null(st, 16, r->output_text);
    bool ok = step_done(st);
    sqlite3_clear_bindings(st); /* the texts are freed after commit */
    if (!ok || r->key_id == 0)
        return ok;
    char day[16], month[16];
    hr_store__periods(r->time_ms, day, month);
    int64_t tokens = (int64_t)r->prompt_tokens + r->completion_tokens;
    return add_total(s, r->key_id, day, tokens) && add_total(s, r->key_id, month, tokens);
}

static bool commit_batch(struct hr_store *s, struct node *batch)
{
    bool ok = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    for (struct node *n = batch; ok && n; n = n->next)
        ok = insert_row(s, &n->row);
    if (ok)
        ok = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        hr_log(HR_LOG_ERROR, "store", "%s: commit failed (will retry): %s", s->path,
               sqlite3_errmsg(s->db));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return ok;
}

/* One read transaction, so the snapshot and the version it is recorded under agree. With
 * force the listener is called whatever the version (the first call, at open). */
static int poll_keys(struct hr_store *s, bool force, struct hr_diag *d)
{
    if (!s->o.keys_changed)
        return 0;
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return hr_store__fail(s->db, s->path, "cannot read the keys", d);
    int64_t version = -1;
    sqlite3_stmt *st = s->st[ST_VERSION];
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    int rc = 0;
    struct hr_key *keys = NULL;
    size_t n = 0;
    if (version < 0)
        rc = hr_store__fail(s->db, s->path, "cannot read keys_version", d);
    else if (force || version != s->keys_version)
        rc = hr_store__read_keys(s->db, s->path, true, hr_store__now_ms(), &keys, &n, d);
    else
        version = -1; /* unchanged: nothing to hand over */
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc || version < 0)
        return rc;
    s->keys_version = version;
    s->o.keys_changed(s->o.ud, keys, n);
    return 0;
}

/* Deletes one chunk of expired rows; true when more may remain. Periods in key_totals older
 * than two months are of no quota's concern any more. */
static bool prune(struct hr_store *s, bool with_totals)
{
    int64_t now = hr_store__now_ms();
    if (with_totals) {
        time_t t = (time_t)(now / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        int months = (tm.tm_year + 1900) * 12 + tm.tm_mon - 2;
        char cutoff[16]; /* 'YYYY-MM': every day and month period before it sorts below */
        snprintf(cutoff, sizeof cutoff, "%04u-%02u", (unsigned)(months / 12) % 10000u,
                 (unsigned)(months % 12 + 1) % 100u);
        sqlite3_stmt *st = s->st[ST_PRUNE_TOTALS];
        sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_TRANSIENT);
        if (!step_done(st))
            hr_log(HR_LOG_WARN, "store", "%s: pruning key totals failed: %s", s->path,
                   sqlite3_errmsg(s->db));
    }
    if (s->o.retention_days == 0)
        return false;
    sqlite3_stmt *st = s->st[ST_PRUNE_ROWS];
    sqlite3_bind_int64(st, 1, now - (int64_t)s->o.retention_days * 86400000LL);
    sqlite3_bind_int(st, 2, RETENTION_CHUNK);
    if (!step_done(st)) {
        hr_log(HR_LOG_WARN, "store", "%s: deleting old usage rows failed: %s", s->path,
               sqlite3_errmsg(s->db));
        return false;
    }
    return sqlite3_changes(s->db) >= RETENTION_CHUNK;
}

static void wait_until(struct hr_store *s, int64_t deadline_ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline_ms / 1000);
    ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* Requeues a failed batch in front, in order. Called with mu held. */
static void requeue(struct hr_store *s, struct node *batch, size_t n)
{
    struct node *last = batch;
    while (last->next)
        last = last->next;
    last->next = s->head;
    if (!s->head)
        s->tail = last;
    s->head = batch;
    s->n_queued += n;
}

/* Wakes at least every COMMIT_INTERVAL_MS: commits what queued since the last commit (rows
 * wait at most that long, and a burst becomes one transaction), polls the keys, and runs
 * retention at start and hourly, one short chunk per turn so rows keep flowing between. */
static void *store_main(void *arg)
{
    struct hr_store *s = arg;
    int failures = 0;
    int64_t now = mono_ms();
    int64_t next_commit = now, next_poll = now + COMMIT_INTERVAL_MS, next_prune = now;
    bool prune_more = false;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        now = mono_ms();
        if (s->stop && !s->head)
            break;
        /* At shutdown commit at once, unless the last try failed: then keep the pace. */
        bool commit_due = s->head && (now >= next_commit || (s->stop && failures == 0));
        bool force_keys = s->reload_keys;
        s->reload_keys = false;
        bool poll_due = now >= next_poll || force_keys;
        bool prune_due = !s->stop && (prune_more || now >= next_prune);
        if (!commit_due && !poll_due && !prune_due) {
            int64_t deadline = next_poll;
            if (s->head && next_commit < deadline)
                deadline = next_commit;
            if (next_prune < deadline)
                deadline = next_prune;
            wait_until(s, deadline);
            continue;
        }
        if (commit_due) {
            struct node *batch = s->head;
            size_t n = s->n_queued;
            s->head = s->tail = NULL;
            s->n_queued = 0;
            pthread_mutex_unlock(&s->mu);
            bool ok = commit_batch(s, batch);
            pthread_mutex_lock(&s->mu);
            next_commit = mono_ms() + COMMIT_INTERVAL_MS;
            if (ok || (s->stop && ++failures >= STOP_RETRIES)) {
                if (!ok) /* shutting down and the disk keeps refusing: say what is lost */
                    hr_log(HR_LOG_ERROR, "store", "%s: giving up on %zu usage rows after "
                           "repeated failures", s->path, n);
                pthread_mutex_unlock(&s->mu);
                free_nodes(batch);
                pthread_mutex_lock(&s->mu);
                s->committed += n;
                pthread_cond_broadcast(&s->flushed);
                if (ok)
                    failures = 0;
            } else {
                if (!s->stop)
                    failures++;
                requeue(s, batch, n);
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (poll_due) {
            struct hr_diag d = {{0}};
            if (poll_keys(s, force_keys, &d) != 0)
                hr_log(HR_LOG_WARN, "store", "%s (will retry)", hr_diag_msg(&d));
            next_poll = mono_ms() + COMMIT_INTERVAL_MS;
        }
        if (prune_due) {
            prune_more = prune(s, !prune_more);
            if (!prune_more)
                next_prune = mono_ms() + RETENTION_INTERVAL_MS;
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void free_store(struct hr_store *s)
{
    for (int i = 0; i < N_ST; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

int hr_store_open(struct hr_store **out, const char *path, const struct hr_store_options *o,
                  struct hr_diag *d)
{
    *out = NULL;
    struct hr_store *s = calloc(1, sizeof *s);
    char *path_copy = strdup(path);
    if (!s || !path_copy) {
        free(s);
        free(path_copy);
        return HR_ENOMEM;
    }
    s->path = path_copy;
    if (o)
        s->o = *o;
    int rc = hr_store__open_db(path, HR_STORE_CHECK_ALL, &s->db, d);
    if (rc)
        goto fail;
    for (int i = 0; i < N_ST; i++) {
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &s->st[i], NULL) != SQLITE_OK) {
            rc = hr_store__fail(s->db, path, "cannot prepare a statement", d);
            goto fail;
        }
    }
    rc = poll_keys(s, true, d);
    if (rc)
        goto fail;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, &ca);
    pthread_cond_init(&s->flushed, NULL);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, store_main, s) != 0) {
        hr_diag_set(d, "%s: cannot start the store thread", path);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->flushed);
        pthread_mutex_destroy(&s->mu);
        rc = HR_EINTERNAL;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    free_store(s);
    return rc;
}

void hr_store_reload_keys(struct hr_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->reload_keys = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int hr_store_append(struct hr_store *s, struct hr_usage_row *row)
{
    struct node *n = malloc(sizeof *n);
    if (!n) {
        free_row_text(row);
        return HR_ENOMEM;
    }
    n->next = NULL;
    n->row = *row;
    /* The texts are the queue's now; the caller's copy must not free them again. */
    row->user = row->prompt_text = row->output_text = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_queued >= QUEUE_CAP) {
        s->dropped++;
        pthread_mutex_unlock(&s->mu);
        free_nodes(n);
        return HR_EFULL;
    }
    if (s->tail)
        s->tail->next = n;
    else
        s->head = n;
    s->tail = n;
    s->n_queued++;
    s->appended++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int hr_store_flush(struct hr_store *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t target = s->appended;
    while (s->committed < target)
        pthread_cond_wait(&s->flushed, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void hr_store_close(struct hr_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->flushed);
    pthread_mutex_destroy(&s->mu);
    free_store(s);
}
