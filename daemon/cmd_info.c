/* `hearth version` and `hearth help`: what this binary is and what it can do. Main thread. */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "engine/engine.h"

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int hr_cmd_version(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        puts("usage: hearth version\n\nPrints the version of this hearth binary.");
        return 0;
    }
    printf("hearth %s\n", HEARTH_VERSION);
    return 0;
}

void hr_print_help(FILE *out)
{
    fputs("hearth - a self-hosted, OpenAI-compatible model server\n"
          "\n"
          "usage: hearth COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  serve        serve the OpenAI API over HTTP (a demo model if no --model)\n"
          "  run          one-shot generation from a prompt to stdout\n"
          "  make-model   write a random-weight GGUF model for tests and benchmarks\n"
          "  quantize     quantize an F32/F16/BF16 GGUF model (q8_0, q4_0, q4_k_m, q5_k_m, q6_k)\n"
          "  keys         create, list, revoke and update API keys\n"
          "  usage        usage totals per day, model, key or user (table, CSV, JSON)\n"
          "  template     render a chat template for a conversation (what the model sees)\n"
          "  grammar      print the GBNF a JSON Schema becomes, or check outputs against it\n"
          "  bench        measure prompt, decode and batched-decode speed (llama-bench's shape)\n"
          "  version      print the version\n"
          "  help         this text\n"
          "\n"
          "'hearth COMMAND --help' describes each command's options.\n",
          out);
}

int hr_cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    hr_print_help(stdout);
    return 0;
}
