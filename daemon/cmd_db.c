/* The database `hearth keys` and `hearth usage` work on, resolved exactly as `hearth serve`
 * resolves its own (same config loader, same defaults), so an operator points every command
 * at the same file with the same --config, --data-dir or $HEARTH_DATA_DIR. Also the option
 * scanning both commands share. Main thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/commands.h"
#include "daemon/config.h"

int hr_cmd_db_path(const struct hr_cmd_db *o, char path[HR_CMD_DB_PATH_MAX])
{
    if (o->db) {
        snprintf(path, HR_CMD_DB_PATH_MAX, "%s", o->db);
        return 0;
    }
    struct hr_config cfg;
    hr_config_defaults(&cfg);
    if (o->config) {
        struct hr_diag d = {{0}};
        if (hr_config_load_file(&cfg, o->config, &d) != 0) {
            fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : o->config);
            hr_config_deinit(&cfg);
            return 2;
        }
    }
    if (o->data_dir)
        snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", o->data_dir);
    if (cfg.db[0]) {
        snprintf(path, HR_CMD_DB_PATH_MAX, "%s", cfg.db);
    } else {
        char dir[HR_CONFIG_STR];
        snprintf(path, HR_CMD_DB_PATH_MAX, "%s/hearth.db",
                 hr_config_data_dir(&cfg, dir, sizeof dir));
    }
    hr_config_deinit(&cfg);
    return 0;
}

int hr_cmd_make_dirs(const char *dir)
{
    char buf[HR_CMD_DB_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(buf, dir, n + 1);
    /* 0700: the directories hold key hashes and usage data. */
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int hr_cmd_db_make_parent(const char *path)
{
    char buf[HR_CMD_DB_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0; /* the current or the root directory */
    *slash = '\0';
    return hr_cmd_make_dirs(buf);
}

int hr_cmd_opt(const char *cmd, int argc, char **argv, int *i, const char *name,
               const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "hearth: %s: %s: missing value\n", cmd, name);
        return 2;
    }
    *value = argv[++*i];
    return 1;
}

int hr_cmd_db_opt(const char *cmd, int argc, char **argv, int *i, struct hr_cmd_db *o)
{
    int r = hr_cmd_opt(cmd, argc, argv, i, "--db", &o->db);
    if (r == 0)
        r = hr_cmd_opt(cmd, argc, argv, i, "--config", &o->config);
    if (r == 0)
        r = hr_cmd_opt(cmd, argc, argv, i, "--data-dir", &o->data_dir);
    return r;
}
