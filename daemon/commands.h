/* The `hearth` subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand name) and returns the process exit status: 0 success, 1 run-time failure,
 * 2 usage or configuration error. Main thread. */
#ifndef HR_COMMANDS_H
#define HR_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

int hr_cmd_serve(int argc, char **argv);
int hr_cmd_run(int argc, char **argv);
int hr_cmd_make_model(int argc, char **argv);
int hr_cmd_quantize(int argc, char **argv);
int hr_cmd_usage(int argc, char **argv);
int hr_cmd_keys(int argc, char **argv);
int hr_cmd_version(int argc, char **argv);
int hr_cmd_help(int argc, char **argv);
int hr_cmd_template(int argc, char **argv);
int hr_cmd_grammar(int argc, char **argv);
int hr_cmd_bench(int argc, char **argv);

struct hr_grammar;
/* The grammar of --grammar FILE, --json-schema FILE [--strict] or --json (at most one; none:
 * *g NULL), and its GBNF text in *gbnf when gbnf is not NULL (caller frees both). 0, or exit
 * status 2 after printing `hearth: FILE: reason`. */
int hr_cmd_load_grammar(const char *gbnf_file, const char *schema_file, bool strict, bool json,
                        struct hr_grammar **g, char **gbnf);
/* cmd_db.c: which database `hearth keys` and `hearth usage` open, found as `hearth serve`
 * finds it: --db, else the --config file's "db", else DATA_DIR/hearth.db where DATA_DIR is
 * --data-dir, else the file's "data_dir", else hr_config_data_dir's default
 * ($HEARTH_DATA_DIR, ...). Members NULL when not given. */
struct hr_cmd_db {
    const char *db, *config, *data_dir;
};
#define HR_CMD_DB_PATH_MAX 4200
/* The path in path (HR_CMD_DB_PATH_MAX bytes). 0, or exit status 2 after printing
 * `hearth: FILE: KEY: problem` for a bad config file. */
int hr_cmd_db_path(const struct hr_cmd_db *o, char path[HR_CMD_DB_PATH_MAX]);
/* Creates path's parent directory (and its parents) with mode 0700 when missing. 0, or -1
 * with errno. */
int hr_cmd_db_make_parent(const char *path);
/* mkdir -p DIR with mode 0700 for what it creates; 0, or -1 with errno. */
int hr_cmd_make_dirs(const char *dir);
/* Option scanning for keys and usage. When argv[*i] is --NAME or --NAME=VALUE: *value is
 * VALUE, or argv[*i + 1] (then *i advances), and it returns 1; 0 when argv[*i] is another
 * option; 2 after printing `hearth: CMD: --NAME: missing value`. */
int hr_cmd_opt(const char *cmd, int argc, char **argv, int *i, const char *name,
               const char **value);
/* Takes --db, --config and --data-dir into o, as hr_cmd_opt returns. */
int hr_cmd_db_opt(const char *cmd, int argc, char **argv, int *i, struct hr_cmd_db *o);

/* The command list, for help and for a bare `hearth` (then on stderr). */
void hr_print_help(FILE *out);

#endif
