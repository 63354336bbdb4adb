/* The served models' list, built from the configuration (see serve_models.h). */
#include "serve_models.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/err.h"

#define DEMO_FILE "demo-tiny.gguf"
#define DEMO_ID "hearth-demo"

static bool has_gguf_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".gguf") == 0;
}

/* The id clients use: the file's base name without ".gguf". */
static char *id_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (has_gguf_suffix(base))
        n -= 5;
    if (n > 255)
        n = 255;
    return strndup(base, n);
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? strdup(s) : NULL;
}

static int add(struct hr_model_list *l, char *id, char *path, char *tmpl, int64_t ctx,
               int64_t parallel, bool preload, const char *where, struct hr_diag *d)
{
    if (!id || !path) {
        free(id);
        free(path);
        free(tmpl);
        return HR_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->specs[i].id, id) == 0) {
            hr_diag_set(d, "%s: model id '%.64s' is also that of %.200s", where, id,
                        l->specs[i].path);
            free(id);
            free(path);
            free(tmpl);
            return HR_EINVAL;
        }
    }
    struct hr_model_spec *grown = realloc(l->specs, (l->n + 1) * sizeof *grown);
    if (!grown) {
        free(id);
        free(path);
        free(tmpl);
        return HR_ENOMEM;
    }
    l->specs = grown;
    struct hr_model_spec *sp = &l->specs[l->n++];
    memset(sp, 0, sizeof *sp);
    sp->id = id;
    sp->path = path;
    sp->chat_template = tmpl;
    sp->n_ctx = (uint32_t)ctx;
    sp->n_parallel = (uint32_t)parallel;
    sp->preload = preload;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular *.gguf file in dir (hidden ones, e.g. partial copies, left out), by name. */
static int scan_dir(struct hr_model_list *l, const char *dir, struct hr_diag *d)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        hr_diag_set(d, "--models-dir %s: %s", dir, strerror(errno));
        return HR_EINVAL;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dp))) {
        if (de->d_name[0] == '.' || !has_gguf_suffix(de->d_name))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        char *copy = strdup(de->d_name);
        if (!grown || !copy) {
            free(copy);
            if (grown)
                names = grown;
            rc = HR_ENOMEM;
            break;
        }
        names = grown;
        names[n++] = copy;
    }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + 1 + strlen(names[i]) + 1;
        char *path = malloc(len);
        struct stat st;
        if (path)
            snprintf(path, len, "%s/%s", dir, names[i]);
        if (rc == 0 && path && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = add(l, id_from_path(names[i]), path, NULL, 0, 0, false, "--models-dir", d);
            if (rc == 0)
                l->specs[l->n - 1].optional = true; /* add owns path from here on */
        } else {
            free(path);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int hr_serve_models_collect(const struct hr_config *c, const char *data_dir,
                            struct hr_model_list *out, struct hr_diag *d)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (c->model[0])
        rc = add(out, c->model_id[0] ? strdup(c->model_id) : id_from_path(c->model),
                 strdup(c->model), dup_or_null(c->chat_template), 0, 0, true, "--model", d);
    for (size_t i = 0; rc == 0 && i < c->n_models; i++) {
        const struct hr_config_model *m = &c->models[i];
        rc = add(out, strdup(m->id), strdup(m->path), dup_or_null(m->chat_template), m->ctx,
                 m->parallel, m->preload, "models", d);
    }
    if (rc == 0 && c->models_dir[0]) {
        rc = scan_dir(out, c->models_dir, d);
        if (rc == 0 && out->n == 0) {
            hr_diag_set(d, "--models-dir %s: no .gguf files there", c->models_dir);
            rc = HR_EINVAL;
        }
    }
    if (rc == 0 && out->n == 0) {
        size_t len = strlen(data_dir) + sizeof DEMO_FILE + 1;
        char *path = malloc(len);
        if (path)
            snprintf(path, len, "%s/%s", data_dir, DEMO_FILE);
        rc = add(out, strdup(c->model_id[0] ? c->model_id : DEMO_ID), path,
                 dup_or_null(c->chat_template), 0, 0, true, "demo", d);
        out->is_demo = true;
    }
    if (rc == HR_ENOMEM)
        hr_diag_set(d, "out of memory");
    if (rc)
        hr_serve_models_free(out);
    return rc;
}

void hr_serve_models_free(struct hr_model_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->specs[i].id);
        free((char *)l->specs[i].path);
        free((char *)l->specs[i].chat_template);
    }
    free(l->specs);
    memset(l, 0, sizeof *l);
}
