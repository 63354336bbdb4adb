/* `hearth version` and `hearth help`: what this binary is and what it can do. Main thread. */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "engine/engine.h"

int hr_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("hearth %s\n", HEARTH_VERSION);
    return 0;
}

int hr_cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("hearth - a self-hosted, OpenAI-compatible model server\n"
          "\n"
          "usage: hearth COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  serve        serve the OpenAI API over HTTP (a demo model if no --model)\n"
          "  run          one-shot generation from a prompt to stdout\n"
          "  make-model   write a random-weight GGUF model for tests and benchmarks\n"
          "  usage        print usage totals per model and day from the database\n"
          "  version      print the version\n"
          "  help         this text\n"
          "\n"
          "'hearth COMMAND --help' describes each command's options.\n",
          stdout);
    return 0;
}
