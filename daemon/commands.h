/* The `hearth` subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand name) and returns the process exit status: 0 success, 1 run-time failure,
 * 2 usage or configuration error. Main thread. */
#ifndef HR_COMMANDS_H
#define HR_COMMANDS_H

#include <stdio.h>

int hr_cmd_serve(int argc, char **argv);
int hr_cmd_run(int argc, char **argv);
int hr_cmd_make_model(int argc, char **argv);
int hr_cmd_usage(int argc, char **argv);
int hr_cmd_version(int argc, char **argv);
int hr_cmd_help(int argc, char **argv);
int hr_cmd_template(int argc, char **argv);
/* The command list, for help and for a bare `hearth` (then on stderr). */
void hr_print_help(FILE *out);

#endif
