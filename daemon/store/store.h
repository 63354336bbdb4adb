/* The SQLite store: the usage ledger, API keys and their token totals per UTC day and month.
 *
 * Ledger: one row per finished API request (counts and timings; prompt and answer text only
 * when the daemon runs with --log-content). The loop hands rows to a bounded in-memory queue;
 * one writer thread owns the only write connection and commits queued rows in one
 * transaction at most every 250 ms, so the loop never waits on disk. Rows are flushed on
 * close. The same transaction adds each row's tokens to its key's day and month totals.
 *
 * Keys: created, listed, revoked and updated by `hearth keys` (another process, or the same
 * one) through the hr_store_key_* calls, which open the file for the one call. The daemon's
 * store thread notices any change (a trigger bumps a counter it polls every 250 ms) and hands
 * a fresh snapshot of every key to the listener, so auth never reads the disk on the loop.
 *
 * Schema changes are migrations keyed by PRAGMA user_version. A database from a newer hearth,
 * a file that is not SQLite and a corrupt database are refused with a diag naming the file,
 * never touched or recreated. */
#ifndef HR_STORE_H
#define HR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/base/diag.h"

struct hr_usage_row {
    char request_id[64];
    int64_t time_ms;  /* unix ms at completion */
    int64_t key_id;   /* the API key's id; 0: no key (auth off) */
    char model[128];
    char endpoint[64];
    uint32_t prompt_tokens;
    uint32_t cached_tokens; /* of prompt_tokens, reused from the prefix cache */
    uint32_t completion_tokens;
    uint32_t queue_ms;
    uint32_t first_token_ms;
    uint32_t latency_ms;
    int http_status;
    char finish_reason[16];
    /* malloc'd or NULL; hr_store_append takes them (frees them, whatever it returns) */
    char *user;        /* the client's `user` field, verbatim */
    char *prompt_text; /* --log-content only: the request body */
    char *output_text; /* --log-content only: the answer text */
};

#define HR_KEY_NAME_MAX 256  /* bytes, with the NUL */
#define HR_KEY_MODELS_MAX 4096

/* One API key. Limits are 0 when unlimited. */
struct hr_key {
    int64_t id;               /* assigned by the store */
    char name[HR_KEY_NAME_MAX]; /* unique among keys not revoked; any bytes but NUL */
    uint8_t hash[32];         /* SHA-256 of the secret; the secret itself is never stored */
    char hint[24];            /* shown in lists: "hk_" + first 4 + "..." + last 4 */
    bool admin;               /* may read GET /v1/usage */
    char models[HR_KEY_MODELS_MAX]; /* comma-separated model ids it may use; "": all */
    int64_t rpm, tpm;         /* requests and tokens per minute */
    int64_t daily_tokens, monthly_tokens; /* quotas per UTC day / month */
    int64_t expires_ms;       /* unix ms from which it is refused; 0: never */
    int64_t created_ms;
    int64_t revoked_ms;       /* 0: active */
    /* snapshots only (hr_store_key_list, the listener): tokens already used in the current
     * UTC day and month when it was read (prompt + completion, committed rows) */
    int64_t day_tokens, month_tokens;
};

struct hr_store_options {
    uint32_t retention_days; /* ledger rows older than this are deleted hourly; 0: kept */
    /* Called on the store thread with every key (revoked ones too: callers filter) after
     * open and whenever the keys change; takes the malloc'd array (free it). NULL: none. */
    void (*keys_changed)(void *ud, struct hr_key *keys, size_t n);
    void *ud;
};

struct hr_store;

/* Opens (creating or migrating) the database, starts the store thread, and (synchronously,
 * before returning) calls o->keys_changed once with the current keys. o may be NULL.
 * Main thread at start-up. */
int hr_store_open(struct hr_store **out, const char *path, const struct hr_store_options *o,
                  struct hr_diag *d);
/* Queues a row; never blocks on disk. HR_EFULL when the queue is at its cap. Any thread. */
int hr_store_append(struct hr_store *s, struct hr_usage_row *row);
/* Blocks until every row appended so far is committed (or failed for good). Any thread but
 * the loop (tests, shutdown). */
int hr_store_flush(struct hr_store *s);
/* Has the store thread read every key again and hand the listener the snapshot, whether or
 * not keys_version moved (SIGHUP). Returns at once. Any thread. */
void hr_store_reload_keys(struct hr_store *s);
/* Flushes, stops the store thread and closes. Main thread at shutdown. */
void hr_store_close(struct hr_store *s);

/* --- keys: each call opens path (creating and migrating it), does one transaction, closes.
 * Any thread but the loop. Errors: HR_EINVAL with a diag for a bad field; HR_ENOTFOUND when
 * no active key has that name/id; HR_EFULL is not used. */

/* Inserts k (every field but id, created_ms, revoked_ms, *_tokens used); sets k->id and
 * k->created_ms. HR_EINVAL ("a key named 'x' already exists") for a duplicate active name. */
int hr_store_key_create(const char *path, struct hr_key *k, struct hr_diag *d);
/* Every key, oldest first (revoked ones only when with_revoked), with day/month totals for
 * now_ms's UTC day and month. *out malloc'd (free it). */
int hr_store_key_list(const char *path, bool with_revoked, int64_t now_ms, struct hr_key **out,
                      size_t *n, struct hr_diag *d);

/* Which key an update or revoke names: its id when id > 0, else the active key named name. */
struct hr_key_ref {
    int64_t id;
    const char *name;
};

/* Fields a `keys update` changes; set_* false leaves a field as it is. */
struct hr_key_update {
    bool set_name, set_admin, set_models, set_rpm, set_tpm, set_daily, set_monthly,
        set_expires;
    const char *name;
    bool admin;
    const char *models;
    int64_t rpm, tpm, daily_tokens, monthly_tokens, expires_ms;
};

int hr_store_key_update(const char *path, struct hr_key_ref ref, const struct hr_key_update *u,
                        struct hr_key *out, struct hr_diag *d);
/* Marks it revoked now (the row stays, so the ledger still names it). */
int hr_store_key_revoke(const char *path, struct hr_key_ref ref, struct hr_key *out,
                        struct hr_diag *d);

/* --- reports: read through a read-only connection (works while the daemon writes). Any
 * thread but the loop. */

enum hr_usage_by { HR_USAGE_BY_DAY, HR_USAGE_BY_MODEL, HR_USAGE_BY_KEY, HR_USAGE_BY_USER };

struct hr_usage_query {
    int64_t since_ms; /* rows with time_ms >= since_ms; 0: from the start */
    int64_t until_ms; /* rows with time_ms < until_ms; 0: to the end */
    enum hr_usage_by by;
};

/* One group's totals. */
struct hr_usage_group {
    char group[HR_KEY_NAME_MAX]; /* the day "YYYY-MM-DD", model id, key name or user; "" for
                                    rows without a key / user */
    int64_t key_id;              /* by key: the key's id (0: no key); else 0 */
    int64_t requests, errors;    /* errors: HTTP status >= 400 */
    int64_t prompt_tokens, cached_tokens, completion_tokens;
    double mean_latency_ms, mean_first_token_ms;
    int64_t first_ms, last_ms;   /* the group's earliest and latest row */
};

/* Groups ordered by group (day, model, key name, user). *out malloc'd (free it); an empty
 * ledger gives n 0. HR_ENOTFOUND with a diag when path does not exist. */
int hr_store_usage_query(const char *path, const struct hr_usage_query *q,
                         struct hr_usage_group **out, size_t *n, struct hr_diag *d);

#endif
