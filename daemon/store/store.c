/* The usage store (see store.h): schema migrations keyed by PRAGMA user_version, WAL, and the
 * writer thread that drains the row queue in batched transactions. A failed commit keeps its
 * rows and retries, so an acknowledged row is never dropped while the process lives.
 * Threads: append from any thread; the writer thread owns the connection. */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/err.h"
#include "engine/base/log.h"

#define QUEUE_CAP 65536
#define COMMIT_INTERVAL_MS 250

/* Migration i brings user_version from i to i + 1. Append only; never edit a released one. */
static const char *const migrations[] = {
    "CREATE TABLE usage ("
    "  id INTEGER PRIMARY KEY,"
    "  request_id TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  model TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  prompt_tokens INTEGER NOT NULL,"
    "  completion_tokens INTEGER NOT NULL,"
    "  queue_ms INTEGER NOT NULL,"
    "  first_token_ms INTEGER NOT NULL,"
    "  latency_ms INTEGER NOT NULL,"
    "  http_status INTEGER NOT NULL,"
    "  finish_reason TEXT NOT NULL);"
    "CREATE INDEX usage_time ON usage(time_ms);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

struct node {
    struct node *next;
    struct hr_usage_row row;
};

struct hr_store {
    sqlite3 *db;
    sqlite3_stmt *insert;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* rows arrived, or stop */
    pthread_cond_t flushed; /* a batch was committed */
    struct node *head, *tail;
    size_t n_queued;
    uint64_t appended;      /* rows ever appended */
    uint64_t committed;     /* rows ever committed */
    bool stop;
    uint64_t dropped;
};

/* Reads the schema version without writing anything, so a file we refuse stays untouched. */
static int read_version(sqlite3 *db, const char *path, int *version, struct hr_diag *d)
{
    sqlite3_stmt *st = NULL;
    *version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (*version < 0) {
        hr_diag_set(d, "%s: not a usable SQLite database: %s", path, sqlite3_errmsg(db));
        return HR_EFORMAT;
    }
    if (*version > SCHEMA_VERSION) {
        hr_diag_set(d, "%s: database schema version %d is newer than this hearth supports (%d); "
                       "upgrade hearth", path, *version, SCHEMA_VERSION);
        return HR_EUNSUPPORTED;
    }
    return 0;
}

static int migrate(sqlite3 *db, const char *path, int version, struct hr_diag *d)
{
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; COMMIT;", v + 1);
        char *err = NULL;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE;", NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v], NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
            hr_diag_set(d, "%s: schema migration to version %d failed: %s", path, v + 1,
                        err ? err : sqlite3_errmsg(db));
            sqlite3_free(err);
            sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
            return HR_EIO;
        }
    }
    return 0;
}

static void free_nodes(struct node *n)
{
    while (n) {
        struct node *next = n->next;
        free(n);
        n = next;
    }
}

static int commit_batch(struct hr_store *s, struct node *batch)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL);
    for (struct node *n = batch; rc == SQLITE_OK && n; n = n->next) {
        const struct hr_usage_row *r = &n->row;
        sqlite3_stmt *st = s->insert;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, r->request_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, r->time_ms);
        sqlite3_bind_text(st, 3, r->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->endpoint, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r->prompt_tokens);
        sqlite3_bind_int64(st, 6, r->completion_tokens);
        sqlite3_bind_int64(st, 7, r->queue_ms);
        sqlite3_bind_int64(st, 8, r->first_token_ms);
        sqlite3_bind_int64(st, 9, r->latency_ms);
        sqlite3_bind_int(st, 10, r->http_status);
        sqlite3_bind_text(st, 11, r->finish_reason, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "COMMIT;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        hr_log(HR_LOG_ERROR, "store", "commit failed (will retry): %s", sqlite3_errmsg(s->db));
        sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
    }
    return rc;
}

static void *writer_main(void *arg)
{
    struct hr_store *s = arg;
    int failures = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->head)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head && s->stop)
            break;
        struct node *batch = s->head;
        size_t n = s->n_queued;
        s->head = s->tail = NULL;
        s->n_queued = 0;
        pthread_mutex_unlock(&s->mu);
        bool ok = commit_batch(s, batch) == SQLITE_OK;
        pthread_mutex_lock(&s->mu);
        if (ok) {
            free_nodes(batch);
            s->committed += n;
            pthread_cond_broadcast(&s->flushed);
            failures = 0;
        } else if (s->stop && ++failures >= 20) {
            /* Shutting down and the disk keeps refusing: say exactly what is lost. */
            hr_log(HR_LOG_ERROR, "store", "giving up on %zu usage rows after repeated failures",
                   n);
            free_nodes(batch);
            s->committed += n;
            pthread_cond_broadcast(&s->flushed);
        } else {
            /* Put the batch back in front, in order, and try again shortly. */
            struct node *last = batch;
            while (last->next)
                last = last->next;
            last->next = s->head;
            if (!s->head)
                s->tail = last;
            s->head = batch;
            s->n_queued += n;
        }
        if (!s->stop || (!ok && failures)) {
            /* Batch: let rows accumulate before the next commit. */
            pthread_mutex_unlock(&s->mu);
            struct timespec ts = {0, COMMIT_INTERVAL_MS * 1000000L};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int hr_store_open(struct hr_store **out, const char *path, struct hr_diag *d)
{
    *out = NULL;
    struct hr_store *s = calloc(1, sizeof *s);
    if (!s)
        return HR_ENOMEM;
    int rc = HR_EIO;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        hr_diag_set(d, "%s: cannot open the usage database: %s", path,
                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    int version;
    rc = read_version(s->db, path, &version, d);
    if (rc)
        goto fail;
    char *err = NULL;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &err) != SQLITE_OK) {
        hr_diag_set(d, "%s: not a usable SQLite database: %s", path, err ? err : "");
        sqlite3_free(err);
        rc = HR_EFORMAT;
        goto fail;
    }
    rc = migrate(s->db, path, version, d);
    if (rc)
        goto fail;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO usage (request_id, time_ms, model, endpoint, "
                           "prompt_tokens, completion_tokens, queue_ms, first_token_ms, "
                           "latency_ms, http_status, finish_reason) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s->insert, NULL) != SQLITE_OK) {
        hr_diag_set(d, "%s: %s", path, sqlite3_errmsg(s->db));
        rc = HR_EIO;
        goto fail;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->flushed, NULL);
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        hr_diag_set(d, "%s: cannot start the store writer thread", path);
        rc = HR_EINTERNAL;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    sqlite3_finalize(s->insert);
    sqlite3_close(s->db);
    free(s);
    return rc;
}

int hr_store_append(struct hr_store *s, const struct hr_usage_row *row)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        return HR_ENOMEM;
    n->next = NULL;
    n->row = *row;
    pthread_mutex_lock(&s->mu);
    if (s->n_queued >= QUEUE_CAP) {
        s->dropped++;
        pthread_mutex_unlock(&s->mu);
        free(n);
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
    sqlite3_finalize(s->insert);
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->flushed);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
