/* API keys in the database: validation, create, list, update, revoke, and the snapshot the
 * store thread hands the daemon's key cache. Each public call opens the file for one
 * transaction, so `hearth keys` works whether or not a daemon has it open (the daemon sees
 * the change through keys_version). Any thread but the loop. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/base/err.h"

#define KEY_COLUMNS                                                                      \
    "k.id, k.name, k.hash, k.hint, k.admin, k.models, k.rpm, k.tpm, k.daily_tokens, "    \
    "k.monthly_tokens, k.expires_ms, k.created_ms, k.revoked_ms, "                       \
    "COALESCE((SELECT tokens FROM key_totals WHERE key_id = k.id AND period = ?1), 0), " \
    "COALESCE((SELECT tokens FROM key_totals WHERE key_id = k.id AND period = ?2), 0)"

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

static void read_key(sqlite3_stmt *st, struct hr_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(st, 0);
    copy_text(k->name, sizeof k->name, st, 1);
    const void *hash = sqlite3_column_blob(st, 2);
    if (hash && sqlite3_column_bytes(st, 2) == (int)sizeof k->hash)
        memcpy(k->hash, hash, sizeof k->hash);
    copy_text(k->hint, sizeof k->hint, st, 3);
    k->admin = sqlite3_column_int(st, 4) != 0;
    copy_text(k->models, sizeof k->models, st, 5);
    k->rpm = sqlite3_column_int64(st, 6);
    k->tpm = sqlite3_column_int64(st, 7);
    k->daily_tokens = sqlite3_column_int64(st, 8);
    k->monthly_tokens = sqlite3_column_int64(st, 9);
    k->expires_ms = sqlite3_column_int64(st, 10);
    k->created_ms = sqlite3_column_int64(st, 11);
    k->revoked_ms = sqlite3_column_int64(st, 12);
    k->day_tokens = sqlite3_column_int64(st, 13);
    k->month_tokens = sqlite3_column_int64(st, 14);
}

static void bind_periods(sqlite3_stmt *st, int64_t now_ms)
{
    char day[16], month[16];
    hr_store__periods(now_ms, day, month);
    sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_TRANSIENT);
}

int hr_store__read_keys(sqlite3 *db, const char *path, bool with_revoked, int64_t now_ms,
                        struct hr_key **out, size_t *n, struct hr_diag *d)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT " KEY_COLUMNS " FROM api_keys k "
                               "WHERE ?3 OR k.revoked_ms = 0 ORDER BY k.id",
                           -1, &st, NULL) != SQLITE_OK)
        return hr_store__fail(db, path, "cannot read the keys", d);
    bind_periods(st, now_ms);
    sqlite3_bind_int(st, 3, with_revoked);
    struct hr_key *keys = NULL;
    size_t count = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct hr_key *grown = realloc(keys, ncap * sizeof *keys);
            if (!grown) {
                free(keys);
                sqlite3_finalize(st);
                return HR_ENOMEM;
            }
            keys = grown;
            cap = ncap;
        }
        read_key(st, &keys[count++]);
    }
    if (rc != SQLITE_DONE) {
        int err = hr_store__fail(db, path, "cannot read the keys", d);
        free(keys);
        sqlite3_finalize(st);
        return err;
    }
    sqlite3_finalize(st);
    *out = keys;
    *n = count;
    return 0;
}

/* A name is shown in lists and logs and typed on command lines: no control bytes. */
static int check_name(const char *path, const char *name, struct hr_diag *d)
{
    size_t len = strnlen(name, HR_KEY_NAME_MAX);
    if (len == 0) {
        hr_diag_set(d, "%s: a key name must not be empty", path);
        return HR_EINVAL;
    }
    if (len >= HR_KEY_NAME_MAX) {
        hr_diag_set(d, "%s: a key name must be shorter than %d bytes", path, HR_KEY_NAME_MAX);
        return HR_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) {
            hr_diag_set(d, "%s: a key name must not contain control characters (byte 0x%02x "
                           "at offset %zu)", path, c, i);
            return HR_EINVAL;
        }
    }
    return 0;
}

static int check_models(const char *path, const char *models, struct hr_diag *d)
{
    size_t len = strnlen(models, HR_KEY_MODELS_MAX);
    if (len >= HR_KEY_MODELS_MAX) {
        hr_diag_set(d, "%s: the model list must be shorter than %d bytes", path,
                    HR_KEY_MODELS_MAX);
        return HR_EINVAL;
    }
    if (len == 0)
        return 0; /* every model */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)models[i];
        if (i == len || c == ',') {
            if (i == start) {
                hr_diag_set(d, "%s: models: empty model id at offset %zu (want id,id,...)",
                            path, i);
                return HR_EINVAL;
            }
            start = i + 1;
        } else if (c < 0x20 || c == 0x7f) {
            hr_diag_set(d, "%s: models: control character (byte 0x%02x) at offset %zu", path,
                        c, i);
            return HR_EINVAL;
        }
    }
    return 0;
}

static int check_limit(const char *path, const char *what, int64_t v, struct hr_diag *d)
{
    if (v >= 0)
        return 0;
    hr_diag_set(d, "%s: %s must be 0 (none) or more, not %lld", path, what, (long long)v);
    return HR_EINVAL;
}

static int check_limits(const char *path, int64_t rpm, int64_t tpm, int64_t daily,
                        int64_t monthly, int64_t expires_ms, struct hr_diag *d)
{
    int rc = check_limit(path, "rpm", rpm, d);
    if (!rc)
        rc = check_limit(path, "tpm", tpm, d);
    if (!rc)
        rc = check_limit(path, "daily_tokens", daily, d);
    if (!rc)
        rc = check_limit(path, "monthly_tokens", monthly, d);
    if (!rc)
        rc = check_limit(path, "expires_ms", expires_ms, d);
    return rc;
}

/* The id of the active key named name other than except_id, 0 when none, < 0 on error. */
static int64_t active_named(sqlite3 *db, const char *name, int64_t except_id)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id FROM api_keys WHERE name = ?1 AND revoked_ms = 0 "
                               "AND id != ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, except_id);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return id;
}

static int duplicate(const char *path, const char *name, struct hr_diag *d)
{
    hr_diag_set(d, "%s: a key named '%s' already exists", path, name);
    return HR_EINVAL;
}

/* Opens path and starts the one transaction of a keys call: IMMEDIATE when it writes, so the
 * name checks and the write see the same keys; a list only reads and never waits for the
 * daemon's writer. */
static int begin(const char *path, bool writes, sqlite3 **db, struct hr_diag *d)
{
    int rc = hr_store__open_db(path, HR_STORE_CHECK_KEYS, db, d);
    if (rc)
        return rc;
    if (sqlite3_exec(*db, writes ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) !=
        SQLITE_OK) {
        rc = hr_store__fail(*db, path, "cannot start a transaction", d);
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

/* Commits when rc is 0 (a failed commit becomes the error), else rolls back; closes. */
static int end(sqlite3 *db, const char *path, int rc, struct hr_diag *d)
{
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = hr_store__fail(db, path, "cannot commit", d);
    if (rc)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

int hr_store_key_create(const char *path, struct hr_key *k, struct hr_diag *d)
{
    int rc = check_name(path, k->name, d);
    if (!rc)
        rc = check_models(path, k->models, d);
    if (!rc)
        rc = check_limits(path, k->rpm, k->tpm, k->daily_tokens, k->monthly_tokens,
                          k->expires_ms, d);
    if (rc)
        return rc;
    sqlite3 *db = NULL;
    rc = begin(path, true, &db, d);
    if (rc)
        return rc;
    int64_t other = active_named(db, k->name, 0);
    if (other < 0)
        return end(db, path, hr_store__fail(db, path, "cannot look up the name", d), d);
    if (other > 0)
        return end(db, path, duplicate(path, k->name, d), d);
    sqlite3_stmt *st = NULL;
    int64_t now = hr_store__now_ms();
    if (sqlite3_prepare_v2(db, "INSERT INTO api_keys (name, hash, hint, admin, models, rpm, tpm, "
                               "daily_tokens, monthly_tokens, expires_ms, created_ms) "
                               "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                           -1, &st, NULL) != SQLITE_OK)
        return end(db, path, hr_store__fail(db, path, "cannot add the key", d), d);
    sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, k->hash, sizeof k->hash, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->hint, (int)strnlen(k->hint, sizeof k->hint), SQLITE_STATIC);
    sqlite3_bind_int(st, 4, k->admin);
    sqlite3_bind_text(st, 5, k->models, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, k->rpm);
    sqlite3_bind_int64(st, 7, k->tpm);
    sqlite3_bind_int64(st, 8, k->daily_tokens);
    sqlite3_bind_int64(st, 9, k->monthly_tokens);
    sqlite3_bind_int64(st, 10, k->expires_ms);
    sqlite3_bind_int64(st, 11, now);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(db)) == SQLITE_CONSTRAINT_UNIQUE) {
            hr_diag_set(d, "%s: a key with this secret already exists", path);
            rc = HR_EINVAL;
        } else {
            rc = hr_store__fail(db, path, "cannot add the key", d);
        }
        return end(db, path, rc, d);
    }
    int64_t id = sqlite3_last_insert_rowid(db);
    rc = end(db, path, 0, d);
    if (!rc) {
        k->id = id;
        k->created_ms = now;
        k->revoked_ms = 0;
        k->day_tokens = k->month_tokens = 0;
    }
    return rc;
}

int hr_store_key_list(const char *path, bool with_revoked, int64_t now_ms, struct hr_key **out,
                      size_t *n, struct hr_diag *d)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = NULL;
    int rc = begin(path, false, &db, d);
    if (rc)
        return rc;
    rc = hr_store__read_keys(db, path, with_revoked, now_ms, out, n, d);
    rc = end(db, path, rc, d);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* The active key ref names into *k (with totals for now). */
static int find_active(sqlite3 *db, const char *path, struct hr_key_ref ref, struct hr_key *k,
                       struct hr_diag *d)
{
    if (ref.id <= 0 && (!ref.name || !ref.name[0])) {
        hr_diag_set(d, "%s: name a key by its id or its name", path);
        return HR_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT " KEY_COLUMNS " FROM api_keys k WHERE k.revoked_ms = 0 "
                               "AND ((?3 > 0 AND k.id = ?3) OR (?3 <= 0 AND k.name = ?4))",
                           -1, &st, NULL) != SQLITE_OK)
        return hr_store__fail(db, path, "cannot look up the key", d);
    bind_periods(st, hr_store__now_ms());
    sqlite3_bind_int64(st, 3, ref.id);
    if (ref.id > 0)
        sqlite3_bind_null(st, 4);
    else
        sqlite3_bind_text(st, 4, ref.name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW) {
        read_key(st, k);
    } else if (step == SQLITE_DONE) {
        if (ref.id > 0)
            hr_diag_set(d, "%s: no active key with id %lld", path, (long long)ref.id);
        else
            hr_diag_set(d, "%s: no active key named '%s'", path, ref.name);
        rc = HR_ENOTFOUND;
    } else {
        rc = hr_store__fail(db, path, "cannot look up the key", d);
    }
    sqlite3_finalize(st);
    return rc;
}

static int check_update(const char *path, const struct hr_key_update *u, struct hr_diag *d)
{
    int rc = 0;
    if (u->set_name)
        rc = check_name(path, u->name ? u->name : "", d);
    if (!rc && u->set_models)
        rc = check_models(path, u->models ? u->models : "", d);
    if (!rc)
        rc = check_limits(path, u->set_rpm ? u->rpm : 0, u->set_tpm ? u->tpm : 0,
                          u->set_daily ? u->daily_tokens : 0,
                          u->set_monthly ? u->monthly_tokens : 0,
                          u->set_expires ? u->expires_ms : 0, d);
    return rc;
}

/* Binds v, or NULL (COALESCE keeps the column) when the field is not being set. */
static void bind_opt_int(sqlite3_stmt *st, int i, bool set, int64_t v)
{
    if (set)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Runs one UPDATE on the key's row: u's fields, or (u NULL) revoked_ms. After an update the
 * row is read back into out when out is not NULL. */
static int apply(sqlite3 *db, const char *path, const char *sql_text, int64_t id,
                 const struct hr_key_update *u, int64_t revoked_ms, struct hr_key *out,
                 struct hr_diag *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql_text, -1, &st, NULL) != SQLITE_OK)
        return hr_store__fail(db, path, "cannot change the key", d);
    sqlite3_bind_int64(st, 1, id);
    if (u) {
        if (u->set_name)
            sqlite3_bind_text(st, 2, u->name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        bind_opt_int(st, 3, u->set_admin, u->admin);
        if (u->set_models)
            sqlite3_bind_text(st, 4, u->models ? u->models : "", -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        bind_opt_int(st, 5, u->set_rpm, u->rpm);
        bind_opt_int(st, 6, u->set_tpm, u->tpm);
        bind_opt_int(st, 7, u->set_daily, u->daily_tokens);
        bind_opt_int(st, 8, u->set_monthly, u->monthly_tokens);
        bind_opt_int(st, 9, u->set_expires, u->expires_ms);
    } else {
        sqlite3_bind_int64(st, 2, revoked_ms);
    }
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return hr_store__fail(db, path, "cannot change the key", d);
    if (!out || !u)
        return 0;
    struct hr_key_ref by_id = {id, NULL};
    return find_active(db, path, by_id, out, d);
}

int hr_store_key_update(const char *path, struct hr_key_ref ref, const struct hr_key_update *u,
                        struct hr_key *out, struct hr_diag *d)
{
    int rc = check_update(path, u, d);
    if (rc)
        return rc;
    sqlite3 *db = NULL;
    rc = begin(path, true, &db, d);
    if (rc)
        return rc;
    struct hr_key *k = malloc(sizeof *k);
    if (!k)
        return end(db, path, HR_ENOMEM, d);
    rc = find_active(db, path, ref, k, d);
    if (!rc && u->set_name) {
        int64_t other = active_named(db, u->name, k->id);
        if (other < 0)
            rc = hr_store__fail(db, path, "cannot look up the name", d);
        else if (other > 0)
            rc = duplicate(path, u->name, d);
    }
    if (!rc)
        rc = apply(db, path,
                   "UPDATE api_keys SET name = COALESCE(?2, name), admin = COALESCE(?3, admin), "
                   "models = COALESCE(?4, models), rpm = COALESCE(?5, rpm), "
                   "tpm = COALESCE(?6, tpm), daily_tokens = COALESCE(?7, daily_tokens), "
                   "monthly_tokens = COALESCE(?8, monthly_tokens), "
                   "expires_ms = COALESCE(?9, expires_ms) WHERE id = ?1",
                   k->id, u, 0, out, d);
    free(k);
    return end(db, path, rc, d);
}

int hr_store_key_revoke(const char *path, struct hr_key_ref ref, struct hr_key *out,
                        struct hr_diag *d)
{
    sqlite3 *db = NULL;
    int rc = begin(path, true, &db, d);
    if (rc)
        return rc;
    struct hr_key *k = malloc(sizeof *k);
    if (!k)
        return end(db, path, HR_ENOMEM, d);
    rc = find_active(db, path, ref, k, d);
    int64_t now = hr_store__now_ms();
    if (!rc)
        rc = apply(db, path, "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1", k->id, NULL,
                   now, NULL, d);
    if (!rc && out) {
        *out = *k;
        out->revoked_ms = now;
    }
    free(k);
    return end(db, path, rc, d);
}
