/* Usage reports as table, CSV and JSON (formats drawn in usage_format.h). Pure functions of
 * the query and the groups; the store computes the groups. Any thread. */
#include "daemon/usage_format.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/utc_time.h"
#include "engine/base/err.h"

#define N_COLS 10

const char *hr_usage_by_name(enum hr_usage_by by)
{
    switch (by) {
    case HR_USAGE_BY_DAY:
        return "day";
    case HR_USAGE_BY_MODEL:
        return "model";
    case HR_USAGE_BY_KEY:
        return "key";
    case HR_USAGE_BY_USER:
        return "user";
    }
    return "?";
}

void hr_usage_total(const struct hr_usage_group *g, size_t n, struct hr_usage_group *t)
{
    memset(t, 0, sizeof *t);
    memcpy(t->group, "total", sizeof "total");
    double lat = 0, ttft = 0;
    for (size_t i = 0; i < n; i++) {
        t->requests += g[i].requests;
        t->errors += g[i].errors;
        t->prompt_tokens += g[i].prompt_tokens;
        t->cached_tokens += g[i].cached_tokens;
        t->completion_tokens += g[i].completion_tokens;
        lat += g[i].mean_latency_ms * (double)g[i].requests;
        ttft += g[i].mean_first_token_ms * (double)g[i].requests;
        if (i == 0 || g[i].first_ms < t->first_ms)
            t->first_ms = g[i].first_ms;
        if (i == 0 || g[i].last_ms > t->last_ms)
            t->last_ms = g[i].last_ms;
    }
    if (t->requests > 0) {
        t->mean_latency_ms = lat / (double)t->requests;
        t->mean_first_token_ms = ttft / (double)t->requests;
    }
}

/* Means are reported to 0.1 ms: finer digits are noise and make JSON hard to read. */
static double tenth(double v)
{
    return round(v * 10.0) / 10.0;
}

/* ---- table ---- */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

void hr_table_cell(char cell[HR_TABLE_CELL_MAX], const char *text)
{
    size_t total = utf8_chars(text);
    size_t keep = total > HR_TABLE_NAME_CHARS ? HR_TABLE_NAME_CHARS - 3 : total;
    size_t chars = 0, o = 0;
    for (const char *s = text; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) != 0x80 && chars++ == keep)
            break;
        cell[o++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    if (keep < total) {
        memcpy(cell + o, "...", 3);
        o += 3;
    }
    cell[o] = '\0';
}

int hr_table_print(FILE *out, const struct hr_table_row *rows, size_t n_rows, int n_cols,
                   unsigned left_mask)
{
    size_t width[HR_TABLE_COLS_MAX] = {0};
    for (size_t r = 0; r < n_rows; r++)
        for (int c = 0; c < n_cols; c++) {
            size_t w = utf8_chars(rows[r].cell[c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < n_rows; r++) {
        for (int c = 0; c < n_cols; c++) {
            int pad = (int)(width[c] - utf8_chars(rows[r].cell[c]));
            const char *sep = c ? "  " : "";
            /* the last column gets no trailing blanks */
            if (left_mask & (1u << c))
                fprintf(out, "%s%s%*s", sep, rows[r].cell[c], c + 1 < n_cols ? pad : 0, "");
            else
                fprintf(out, "%s%*s%s", sep, pad, "", rows[r].cell[c]);
        }
        fputc('\n', out);
    }
    return ferror(out) ? HR_EIO : 0;
}

static void fill_row(char (*cell)[HR_TABLE_CELL_MAX], const struct hr_usage_group *g, bool by_key)
{
    int c = 1;
    if (by_key)
        snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld", (long long)g->key_id);
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld", (long long)g->requests);
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld", (long long)g->errors);
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld", (long long)g->prompt_tokens);
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld", (long long)g->cached_tokens);
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld", (long long)g->completion_tokens);
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%lld",
             (long long)(g->prompt_tokens + g->completion_tokens));
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%.1f", tenth(g->mean_latency_ms));
    snprintf(cell[c++], HR_TABLE_CELL_MAX, "%.1f", tenth(g->mean_first_token_ms));
}

int hr_usage_table(FILE *out, const struct hr_usage_query *q, const struct hr_usage_group *g,
                   size_t n)
{
    bool by_key = q->by == HR_USAGE_BY_KEY;
    int n_cols = by_key ? N_COLS : N_COLS - 1;
    size_t n_rows = n + 2; /* header, groups, total */
    struct hr_table_row *rows = calloc(n_rows, sizeof *rows);
    if (!rows)
        return HR_ENOMEM;
    static const char *heads[N_COLS] = {"", "key_id", "requests", "errors", "prompt",
                                        "cached", "completion", "total", "latency_ms",
                                        "ttft_ms"};
    snprintf(rows[0].cell[0], HR_TABLE_CELL_MAX, "%s", hr_usage_by_name(q->by));
    for (int c = 1, h = by_key ? 1 : 2; c < n_cols; c++, h++)
        snprintf(rows[0].cell[c], HR_TABLE_CELL_MAX, "%s", heads[h]);
    for (size_t i = 0; i < n; i++) {
        if (g[i].group[0])
            hr_table_cell(rows[i + 1].cell[0], g[i].group);
        else
            snprintf(rows[i + 1].cell[0], HR_TABLE_CELL_MAX, "%s",
                     by_key ? "(no key)" : "(none)");
        fill_row(rows[i + 1].cell, &g[i], by_key);
    }
    struct hr_usage_group t;
    hr_usage_total(g, n, &t);
    fill_row(rows[n + 1].cell, &t, by_key);
    snprintf(rows[n + 1].cell[0], HR_TABLE_CELL_MAX, "total");
    if (by_key)
        rows[n + 1].cell[1][0] = '\0';
    int rc = hr_table_print(out, rows, n_rows, n_cols, 1u);
    free(rows);
    return rc;
}

/* ---- CSV ---- */

/* RFC 4180: a field holding a comma, a quote, CR or LF is quoted, its quotes doubled. */
static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int hr_usage_csv(FILE *out, const struct hr_usage_query *q, const struct hr_usage_group *g,
                 size_t n)
{
    bool by_key = q->by == HR_USAGE_BY_KEY;
    fprintf(out, "group%s,requests,errors,prompt_tokens,cached_tokens,completion_tokens,"
                 "total_tokens,mean_latency_ms,mean_first_token_ms,first,last\r\n",
            by_key ? ",key_id" : "");
    for (size_t i = 0; i < n; i++) {
        char first[HR_UTC_ISO_MAX], last[HR_UTC_ISO_MAX];
        csv_field(out, g[i].group);
        if (by_key)
            fprintf(out, ",%lld", (long long)g[i].key_id);
        fprintf(out, ",%lld,%lld,%lld,%lld,%lld,%lld,%.1f,%.1f,%s,%s\r\n",
                (long long)g[i].requests, (long long)g[i].errors,
                (long long)g[i].prompt_tokens, (long long)g[i].cached_tokens,
                (long long)g[i].completion_tokens,
                (long long)(g[i].prompt_tokens + g[i].completion_tokens),
                tenth(g[i].mean_latency_ms), tenth(g[i].mean_first_token_ms),
                hr_utc_format_iso(g[i].first_ms, first), hr_utc_format_iso(g[i].last_ms, last));
    }
    return ferror(out) ? HR_EIO : 0;
}

/* ---- JSON ---- */

static json_t *iso_or_null(int64_t ms, bool present)
{
    char buf[HR_UTC_ISO_MAX];
    return present ? json_string(hr_utc_format_iso(ms, buf)) : json_null();
}

/* One group's object; NULL when out of memory. */
static json_t *group_json(const struct hr_usage_group *g, bool by_key, bool is_total)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    if (!is_total) {
        /* json_stringn keeps any bytes but refuses invalid UTF-8; a name that is not UTF-8
         * still appears, with bad bytes replaced, rather than failing the whole report. */
        json_t *name = json_stringn(g->group, strlen(g->group));
        if (!name) {
            char safe[HR_KEY_NAME_MAX];
            size_t k = 0;
            for (const char *s = g->group; *s && k + 1 < sizeof safe; s++)
                safe[k++] = (unsigned char)*s < 0x80 ? *s : '?';
            safe[k] = '\0';
            name = json_string(safe);
        }
        bad |= json_object_set_new(o, "group", name);
        if (by_key)
            bad |= json_object_set_new(o, "key_id", json_integer(g->key_id));
    }
    bad |= json_object_set_new(o, "requests", json_integer(g->requests));
    bad |= json_object_set_new(o, "errors", json_integer(g->errors));
    bad |= json_object_set_new(o, "prompt_tokens", json_integer(g->prompt_tokens));
    bad |= json_object_set_new(o, "cached_tokens", json_integer(g->cached_tokens));
    bad |= json_object_set_new(o, "completion_tokens", json_integer(g->completion_tokens));
    bad |= json_object_set_new(o, "total_tokens",
                               json_integer(g->prompt_tokens + g->completion_tokens));
    bad |= json_object_set_new(o, "mean_latency_ms", json_real(tenth(g->mean_latency_ms)));
    bad |= json_object_set_new(o, "mean_first_token_ms",
                               json_real(tenth(g->mean_first_token_ms)));
    bool present = !is_total || g->requests > 0;
    bad |= json_object_set_new(o, "first", iso_or_null(g->first_ms, present));
    bad |= json_object_set_new(o, "last", iso_or_null(g->last_ms, present));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *hr_usage_json(const struct hr_usage_query *q, const struct hr_usage_group *g, size_t n)
{
    bool by_key = q->by == HR_USAGE_BY_KEY;
    json_t *root = json_object();
    json_t *data = json_array();
    char *text = NULL;
    if (!root || !data)
        goto fail;
    int bad = 0;
    bad |= json_object_set_new(root, "object", json_string("usage.report"));
    bad |= json_object_set_new(root, "by", json_string(hr_usage_by_name(q->by)));
    bad |= json_object_set_new(root, "since", iso_or_null(q->since_ms, q->since_ms > 0));
    bad |= json_object_set_new(root, "until", iso_or_null(q->until_ms, q->until_ms > 0));
    for (size_t i = 0; i < n && !bad; i++)
        bad |= json_array_append_new(data, group_json(&g[i], by_key, false));
    bad |= json_object_set(root, "data", data);
    struct hr_usage_group t;
    hr_usage_total(g, n, &t);
    bad |= json_object_set_new(root, "total", group_json(&t, by_key, true));
    if (bad)
        goto fail;
    /* 15 significant digits print a value rounded to 0.1 without binary noise. */
    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
fail:
    json_decref(data);
    json_decref(root);
    return text;
}
