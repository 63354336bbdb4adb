/* `hearth`: one binary, subcommands serve, run, make-model, quantize, keys, usage, template,
 * grammar, version, help. Dispatch only; each subcommand lives in its own cmd_*.c. Main thread. */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"serve", hr_cmd_serve},       {"run", hr_cmd_run},         {"make-model", hr_cmd_make_model},
    {"keys", hr_cmd_keys},         {"usage", hr_cmd_usage},     {"version", hr_cmd_version},
    {"help", hr_cmd_help},         {"template", hr_cmd_template}, {"grammar", hr_cmd_grammar},
    {"bench", hr_cmd_bench},       {"quantize", hr_cmd_quantize},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        hr_print_help(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return hr_cmd_help(argc - 1, argv + 1);
    if (strcmp(name, "--version") == 0)
        return hr_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hearth: unknown command '%s' (try 'hearth help')\n", name);
    return 2;
}
