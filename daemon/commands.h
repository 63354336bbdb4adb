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
int hr_cmd_usage(int argc, char **argv);
int hr_cmd_version(int argc, char **argv);
int hr_cmd_help(int argc, char **argv);
int hr_cmd_template(int argc, char **argv);
int hr_cmd_grammar(int argc, char **argv);

struct hr_grammar;
/* The grammar of --grammar FILE, --json-schema FILE [--strict] or --json (at most one; none:
 * *g NULL), and its GBNF text in *gbnf when gbnf is not NULL (caller frees both). 0, or exit
 * status 2 after printing `hearth: FILE: reason`. */
int hr_cmd_load_grammar(const char *gbnf_file, const char *schema_file, bool strict, bool json,
                        struct hr_grammar **g, char **gbnf);
/* The command list, for help and for a bare `hearth` (then on stderr). */
void hr_print_help(FILE *out);

#endif
