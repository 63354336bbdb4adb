/* `hearth keys create|list|revoke|update`: API keys in the database the daemon reads. The
 * secret is made here, printed once on stdout and never stored (the store keeps its SHA-256
 * and a hint); every change goes through the hr_store_key_* calls, which the running daemon
 * notices on its own. Option checking and output only; the store does the SQL. Main thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "daemon/api_key.h"
#include "daemon/commands.h"
#include "daemon/store/store.h"
#include "daemon/usage_format.h"
#include "daemon/utc_time.h"
#include "engine/base/err.h"

enum sub { CREATE = 1, LIST = 2, REVOKE = 4, UPDATE = 8 };

static const struct {
    const char *name;
    enum sub sub;
    const char *usage;
    const char *help;
} subs[] = {
    {"create", CREATE,
     "hearth keys create --name NAME [--admin] [--models A,B] [--rpm R] [--tpm T]\n"
     "                   [--daily-tokens Q] [--monthly-tokens Q] [--expires WHEN] [DB]",
     "Makes a key and prints its secret alone on stdout (it is not shown again);\n"
     "a line about the key goes to stderr. Creates the data directory and database.\n"},
    {"list", LIST, "hearth keys list [--all] [--format table|json] [DB]",
     "Lists the active keys (with --all the revoked ones too) with their limits and the\n"
     "tokens they used in the current UTC day and month. Never shows a secret.\n"},
    {"revoke", REVOKE, "hearth keys revoke (NAME | --id N) [DB]",
     "Revokes a key at once; its usage rows keep naming it, and its name is free again.\n"},
    {"update", UPDATE,
     "hearth keys update (NAME | --id N) [--name NEW] [--admin true|false]\n"
     "                   [--models A,B | --models \"\"] [--rpm R] [--tpm T]\n"
     "                   [--daily-tokens Q] [--monthly-tokens Q] [--expires WHEN|never] [DB]",
     "Changes the given fields of an active key and prints the result.\n"},
};

static void print_help(FILE *out, int which)
{
    fputs("usage: hearth keys COMMAND [OPTIONS]\n\n", out);
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (which < 0 || (size_t)which == i)
            fprintf(out, "%s\n%s\n", subs[i].usage, subs[i].help);
    fputs("Limits: --rpm requests and --tpm tokens per minute, --daily-tokens and\n"
          "--monthly-tokens per UTC day and month; 0 (the default) means unlimited.\n"
          "--models: the model ids the key may use, comma-separated; empty: every model.\n"
          "--admin: the key may read GET /v1/usage.\n"
          "--expires WHEN: YYYY-MM-DD (the key works through that UTC day),\n"
          "  YYYY-MM-DDTHH:MM[:SS]Z (refused from that instant), or never.\n"
          "DB: --db FILE, or --config FILE (its db or data_dir), or --data-dir DIR;\n"
          "  default: DATA_DIR/hearth.db as `hearth serve` uses ($HEARTH_DATA_DIR, ...).\n",
          out);
}

struct opts {
    struct hr_cmd_db db;
    const char *ref_name; /* revoke/update: the positional NAME */
    int64_t ref_id;       /* --id; 0: not given */
    bool all;
    bool json;
    struct hr_key_update u; /* create uses the same fields; set_* say what was given */
};

static int bad_value(const char *opt, const char *expected, const char *got)
{
    fprintf(stderr, "hearth: keys: %s: expected %s, got '%.200s'\n", opt, expected, got);
    return 2;
}

/* A strict decimal integer >= 0: digits only (no sign, blanks or suffix), no overflow. */
static int parse_count(const char *opt, const char *s, int64_t *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return bad_value(opt, "an integer >= 0", s);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return bad_value(opt, "an integer >= 0 that fits in 64 bits", s);
    *out = v;
    return 0;
}

static int parse_bool(const char *opt, const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return bad_value(opt, "true or false", s);
    return 0;
}

static int parse_expires(const char *s, int64_t *out)
{
    if (strcmp(s, "never") == 0) {
        *out = 0;
        return 0;
    }
    /* A bare day means "valid through that day": refused from the start of the next. */
    if (hr_utc_parse_ms(s, true, out) != 0)
        return bad_value("--expires", "YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or never", s);
    return 0;
}

static int check_name(const char *opt, const char *s)
{
    if (!*s)
        return bad_value(opt, "a non-empty name", s);
    if (strlen(s) >= HR_KEY_NAME_MAX) {
        fprintf(stderr, "hearth: keys: %s: longer than %d bytes\n", opt, HR_KEY_NAME_MAX - 1);
        return 2;
    }
    return 0;
}

/* Model ids trimmed of blanks around the commas into out; "" stays "" (every model). An
 * empty item ("a,,b") is refused: it is a typo, not a model. */
static int parse_models(const char *s, char out[HR_KEY_MODELS_MAX])
{
    size_t o = 0;
    const char *p = s;
    out[0] = '\0';
    if (!*s)
        return 0;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b)
            return bad_value("--models", "comma-separated model ids", s);
        size_t n = (size_t)(b - a);
        if (o + n + 2 > HR_KEY_MODELS_MAX) {
            fprintf(stderr, "hearth: keys: --models: longer than %d bytes\n",
                    HR_KEY_MODELS_MAX - 1);
            return 2;
        }
        if (o)
            out[o++] = ',';
        memcpy(out + o, a, n);
        o += n;
        out[o] = '\0';
        if (!*end)
            return 0;
        p = end + 1;
    }
}

static char models_buf[HR_KEY_MODELS_MAX];

/* Reads argv[2..) for subcommand s into o. 0, or exit status 2 after one line on stderr;
 * -1 when --help was printed. */
static int parse(enum sub s, int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return -1;
        int r = hr_cmd_db_opt("keys", argc, argv, &i, &o->db);
        if (r == 2)
            return 2;
        if (r == 1)
            continue;
        if (a[0] != '-' || a[1] == '\0') {
            if (!(s & (REVOKE | UPDATE)) || o->ref_name || o->ref_id) {
                fprintf(stderr, "hearth: keys: unexpected argument '%.200s'\n", a);
                return 2;
            }
            if (check_name("NAME", a))
                return 2;
            o->ref_name = a;
            continue;
        }
#define OPT(flag, subs_ok)                                                                    \
    ((s & (subs_ok)) && (r = hr_cmd_opt("keys", argc, argv, &i, flag, &v)) != 0)
        struct hr_key_update *u = &o->u;
        if ((s & CREATE) && strcmp(a, "--admin") == 0) {
            u->set_admin = true; /* a bare flag when creating; update takes a value */
            u->admin = true;
        } else if ((s & LIST) && strcmp(a, "--all") == 0) {
            o->all = true;
        } else if (OPT("--format", LIST)) {
            if (r == 2)
                return 2;
            if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0)
                return bad_value("--format", "table or json", v);
            o->json = strcmp(v, "json") == 0;
        } else if (OPT("--id", REVOKE | UPDATE)) {
            if (r == 2 || parse_count("--id", v, &o->ref_id))
                return 2;
            if (o->ref_id == 0)
                return bad_value("--id", "a key id (1 or more)", v);
            if (o->ref_name) {
                fprintf(stderr, "hearth: keys: give NAME or --id, not both\n");
                return 2;
            }
        } else if (OPT("--name", CREATE | UPDATE)) {
            if (r == 2 || check_name("--name", v))
                return 2;
            u->set_name = true;
            u->name = v;
        } else if (OPT("--admin", CREATE | UPDATE)) {
            if (r == 2 || parse_bool("--admin", v, &u->admin))
                return 2;
            u->set_admin = true;
        } else if (OPT("--models", CREATE | UPDATE)) {
            if (r == 2 || parse_models(v, models_buf))
                return 2;
            u->set_models = true;
            u->models = models_buf;
        } else if (OPT("--rpm", CREATE | UPDATE)) {
            if (r == 2 || parse_count("--rpm", v, &u->rpm))
                return 2;
            u->set_rpm = true;
        } else if (OPT("--tpm", CREATE | UPDATE)) {
            if (r == 2 || parse_count("--tpm", v, &u->tpm))
                return 2;
            u->set_tpm = true;
        } else if (OPT("--daily-tokens", CREATE | UPDATE)) {
            if (r == 2 || parse_count("--daily-tokens", v, &u->daily_tokens))
                return 2;
            u->set_daily = true;
        } else if (OPT("--monthly-tokens", CREATE | UPDATE)) {
            if (r == 2 || parse_count("--monthly-tokens", v, &u->monthly_tokens))
                return 2;
            u->set_monthly = true;
        } else if (OPT("--expires", CREATE | UPDATE)) {
            if (r == 2 || parse_expires(v, &u->expires_ms))
                return 2;
            u->set_expires = true;
        } else {
            fprintf(stderr, "hearth: keys: %s: unknown option '%.200s' (see hearth keys --help)\n",
                    subs[s == CREATE ? 0 : s == LIST ? 1 : s == REVOKE ? 2 : 3].name, a);
            return 2;
        }
#undef OPT
    }
    if (s == CREATE && !o->u.set_name) {
        fprintf(stderr, "hearth: keys: create: --name is required\n");
        return 2;
    }
    const struct hr_key_update *u = &o->u;
    if (s == UPDATE && !(u->set_name || u->set_admin || u->set_models || u->set_rpm ||
                         u->set_tpm || u->set_daily || u->set_monthly || u->set_expires)) {
        fprintf(stderr, "hearth: keys: update: nothing to change (see hearth keys update "
                        "--help)\n");
        return 2;
    }
    if ((s & (REVOKE | UPDATE)) && !o->ref_name && !o->ref_id) {
        fprintf(stderr, "hearth: keys: %s: name the key (NAME or --id N)\n",
                s == REVOKE ? "revoke" : "update");
        return 2;
    }
    return 0;
}

/* ---- output ---- */

/* Untrusted text for a terminal line: control bytes become '?'. */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s, out);
}

static const char *limit_text(int64_t v, char *buf, size_t cap)
{
    if (v == 0)
        return "unlimited";
    snprintf(buf, cap, "%" PRId64, v);
    return buf;
}

/* "key 3 'acme' (hk_AbCd...wxyz)", then with details its settings. */
static void key_line(FILE *out, const char *verb, const struct hr_key *k, bool details)
{
    fprintf(out, "%s key %" PRId64 " '", verb, k->id);
    put_text(out, k->name);
    fprintf(out, "' (%s)", k->hint);
    if (!details)
        return;
    char a[24], b[24], c[24], e[24], iso[HR_UTC_ISO_MAX];
    fprintf(out, ": admin %s, models ", k->admin ? "yes" : "no");
    put_text(out, k->models[0] ? k->models : "all");
    fprintf(out, ", rpm %s, tpm %s, daily tokens %s, monthly tokens %s, expires %s",
            limit_text(k->rpm, a, sizeof a), limit_text(k->tpm, b, sizeof b),
            limit_text(k->daily_tokens, c, sizeof c),
            limit_text(k->monthly_tokens, e, sizeof e),
            k->expires_ms ? hr_utc_format_iso(k->expires_ms, iso) : "never");
}

static int list_table(const struct hr_key *k, size_t n, bool all)
{
    static const char *heads[] = {"id",      "name",    "hint",    "admin", "models",
                                  "rpm",     "tpm",     "daily",   "monthly", "today",
                                  "month",   "expires", "created", "revoked"};
    int n_cols = all ? 14 : 13;
    struct hr_table_row *rows = calloc(n + 1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "hearth: keys: out of memory\n");
        return 1;
    }
    for (int c = 0; c < n_cols; c++)
        snprintf(rows[0].cell[c], HR_TABLE_CELL_MAX, "%s", heads[c]);
    for (size_t i = 0; i < n; i++) {
        char (*cell)[HR_TABLE_CELL_MAX] = rows[i + 1].cell;
        const int64_t lim[4] = {k[i].rpm, k[i].tpm, k[i].daily_tokens, k[i].monthly_tokens};
        snprintf(cell[0], HR_TABLE_CELL_MAX, "%" PRId64, k[i].id);
        hr_table_cell(cell[1], k[i].name);
        snprintf(cell[2], HR_TABLE_CELL_MAX, "%s", k[i].hint);
        snprintf(cell[3], HR_TABLE_CELL_MAX, "%s", k[i].admin ? "yes" : "no");
        hr_table_cell(cell[4], k[i].models[0] ? k[i].models : "all");
        for (int l = 0; l < 4; l++)
            if (lim[l])
                snprintf(cell[5 + l], HR_TABLE_CELL_MAX, "%" PRId64, lim[l]);
            else
                snprintf(cell[5 + l], HR_TABLE_CELL_MAX, "-");
        snprintf(cell[9], HR_TABLE_CELL_MAX, "%" PRId64, k[i].day_tokens);
        snprintf(cell[10], HR_TABLE_CELL_MAX, "%" PRId64, k[i].month_tokens);
        if (k[i].expires_ms)
            hr_utc_format_iso(k[i].expires_ms, cell[11]);
        else
            snprintf(cell[11], HR_TABLE_CELL_MAX, "never");
        hr_utc_format_iso(k[i].created_ms, cell[12]);
        if (k[i].revoked_ms)
            hr_utc_format_iso(k[i].revoked_ms, cell[13]);
        else
            snprintf(cell[13], HR_TABLE_CELL_MAX, "-");
    }
    /* left-aligned: name, hint, admin, models, the times */
    unsigned left = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 11 | 1u << 12 | 1u << 13;
    int rc = hr_table_print(stdout, rows, n + 1, n_cols, left);
    free(rows);
    return rc ? 1 : 0;
}

static json_t *iso_or_null(int64_t ms)
{
    char buf[HR_UTC_ISO_MAX];
    return ms ? json_string(hr_utc_format_iso(ms, buf)) : json_null();
}

/* Text that may not be UTF-8 (names are any bytes): verbatim when it is, else with the
 * non-ASCII bytes masked, so one odd name cannot fail the whole listing. */
static json_t *text_json(const char *s)
{
    json_t *j = json_stringn(s, strlen(s));
    if (j)
        return j;
    char safe[HR_KEY_MODELS_MAX];
    size_t k = 0;
    for (; *s && k + 1 < sizeof safe; s++)
        safe[k++] = (unsigned char)*s < 0x80 ? *s : '?';
    safe[k] = '\0';
    return json_string(safe);
}

static json_t *key_json(const struct hr_key *k)
{
    json_t *o = json_object(), *models = json_array();
    int bad = !o || !models;
    for (const char *p = k->models; *p && !bad;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char id[HR_KEY_MODELS_MAX];
        memcpy(id, p, n);
        id[n] = '\0';
        bad |= json_array_append_new(models, text_json(id));
        p += n + (end ? 1 : 0);
    }
    bad |= json_object_set_new(o, "id", json_integer(k->id));
    bad |= json_object_set_new(o, "name", text_json(k->name));
    bad |= json_object_set_new(o, "hint", json_string(k->hint));
    bad |= json_object_set_new(o, "admin", json_boolean(k->admin));
    bad |= json_object_set(o, "models", models);
    bad |= json_object_set_new(o, "rpm", json_integer(k->rpm));
    bad |= json_object_set_new(o, "tpm", json_integer(k->tpm));
    bad |= json_object_set_new(o, "daily_tokens", json_integer(k->daily_tokens));
    bad |= json_object_set_new(o, "monthly_tokens", json_integer(k->monthly_tokens));
    bad |= json_object_set_new(o, "day_tokens", json_integer(k->day_tokens));
    bad |= json_object_set_new(o, "month_tokens", json_integer(k->month_tokens));
    bad |= json_object_set_new(o, "expires", iso_or_null(k->expires_ms));
    bad |= json_object_set_new(o, "created", iso_or_null(k->created_ms));
    bad |= json_object_set_new(o, "revoked", iso_or_null(k->revoked_ms));
    json_decref(models);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int list_json(const struct hr_key *k, size_t n)
{
    json_t *root = json_object(), *data = json_array();
    int bad = !root || !data;
    for (size_t i = 0; i < n && !bad; i++)
        bad |= json_array_append_new(data, key_json(&k[i]));
    bad |= json_object_set_new(root, "object", json_string("list"));
    bad |= json_object_set(root, "data", data);
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(data);
    json_decref(root);
    if (!text) {
        fprintf(stderr, "hearth: keys: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

/* ---- the subcommands ---- */

static int store_failed(const char *path, int rc, const struct hr_diag *d)
{
    if (d->msg[0])
        fprintf(stderr, "hearth: keys: %s\n", d->msg);
    else
        fprintf(stderr, "hearth: keys: %s: %s\n", path, hr_err_str(rc));
    return 1;
}

static int run_create(const char *path, const struct opts *o)
{
    struct hr_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", o->u.name);
    k.admin = o->u.admin;
    snprintf(k.models, sizeof k.models, "%s", o->u.set_models ? o->u.models : "");
    k.rpm = o->u.rpm;
    k.tpm = o->u.tpm;
    k.daily_tokens = o->u.daily_tokens;
    k.monthly_tokens = o->u.monthly_tokens;
    k.expires_ms = o->u.expires_ms;
    if (hr_cmd_db_make_parent(path) != 0) {
        fprintf(stderr, "hearth: keys: %s: cannot create its directory: %s\n", path,
                strerror(errno));
        return 1;
    }
    char secret[HR_API_KEY_LEN + 1];
    struct hr_diag d = {{0}};
    int rc = hr_api_key_generate(secret, k.hash, k.hint, &d);
    if (rc == 0)
        rc = hr_store_key_create(path, &k, &d);
    if (rc) {
        explicit_bzero(secret, sizeof secret);
        return store_failed(path, rc, &d);
    }
    /* The secret alone on stdout, so KEY=$(hearth keys create ...) captures exactly it. */
    puts(secret);
    fflush(stdout);
    explicit_bzero(secret, sizeof secret);
    key_line(stderr, "created", &k, false);
    fputs("; store the secret now: it is not shown again\n", stderr);
    return ferror(stdout) ? 1 : 0;
}

static int run_list(const char *path, const struct opts *o)
{
    struct hr_key *keys = NULL;
    size_t n = 0;
    struct hr_diag d = {{0}};
    int rc = hr_store_key_list(path, o->all, hr_utc_now_ms(), &keys, &n, &d);
    if (rc)
        return store_failed(path, rc, &d);
    int st = o->json ? list_json(keys, n) : list_table(keys, n, o->all);
    free(keys);
    return st;
}

static int run_change(enum sub s, const char *path, const struct opts *o)
{
    struct hr_key_ref ref = {.id = o->ref_id, .name = o->ref_name};
    struct hr_key k;
    memset(&k, 0, sizeof k);
    struct hr_diag d = {{0}};
    int rc = s == REVOKE ? hr_store_key_revoke(path, ref, &k, &d)
                         : hr_store_key_update(path, ref, &o->u, &k, &d);
    if (rc == HR_ENOTFOUND && !d.msg[0]) {
        if (o->ref_id)
            fprintf(stderr, "hearth: keys: no active key with id %" PRId64 "\n", o->ref_id);
        else
            fprintf(stderr, "hearth: keys: no active key named '%.200s'\n", o->ref_name);
        return 1;
    }
    if (rc)
        return store_failed(path, rc, &d);
    key_line(stdout, s == REVOKE ? "revoked" : "updated", &k, s == UPDATE);
    fputc('\n', stdout);
    return ferror(stdout) ? 1 : 0;
}

int hr_cmd_keys(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr, -1);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout, -1);
        return 0;
    }
    int which = -1;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            which = (int)i;
    if (which < 0) {
        fprintf(stderr, "hearth: keys: unknown command '%.200s' (create, list, revoke, update)\n",
                argv[1]);
        return 2;
    }
    enum sub s = subs[which].sub;
    struct opts o;
    int rc = parse(s, argc, argv, &o);
    if (rc < 0) {
        print_help(stdout, which);
        return 0;
    }
    if (rc)
        return rc;
    char path[HR_CMD_DB_PATH_MAX];
    rc = hr_cmd_db_path(&o.db, path);
    if (rc)
        return rc;
    /* Whatever this creates (the database, its -wal and -shm) holds key hashes: owner only. */
    umask(077);
    struct stat st;
    if (s != CREATE && stat(path, &st) != 0) {
        fprintf(stderr, "hearth: keys: %s: no database (no key has been created yet)\n", path);
        return 1;
    }
    if (s == CREATE)
        return run_create(path, &o);
    if (s == LIST)
        return run_list(path, &o);
    return run_change(s, path, &o);
}
