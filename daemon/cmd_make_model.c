/* `hearth make-model`: writes a random-weight GGUF model in a preset shape (see synth.h) for
 * tests, benchmarks and the demo. Main thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/commands.h"
#include "engine/engine.h"

static const char usage_text[] =
    "usage: hearth make-model --out FILE [--preset tiny|smol|1b] [--type TYPE]\n"
    "                         [--vocab VOCAB.gguf] [--seed N] [--name NAME] [--arch ARCH]\n"
    "                         [--pooling mean|cls|last]\n"
    "\n"
    "Writes a GGUF v3 llama-architecture model with seeded random weights.\n"
    "  --out FILE      output path (written under a temporary name, then renamed)\n"
    "  --preset NAME   tiny (default), smol (SmolLM2-135M shape), 1b (Llama-3.2-1B shape)\n"
    "  --type TYPE     matrix types: f32 (default), f16, q8_0, q4_0, or llama.cpp's mixes\n"
    "                  q4_k_m, q5_k_m, q6_k (as `hearth quantize` picks them)\n"
    "  --vocab FILE    copy the tokenizer (and chat template) from another GGUF\n"
    "  --seed N        weight seed (default 42); same seed, same bytes\n"
    "  --name NAME     general.name (default hearth-PRESET)\n"
    "  --arch ARCH     llama (default), qwen2, qwen3, phi3, gemma2 or gemma3\n"
    "  --pooling P     write ARCH.pooling_type: how embeddings pool (default: no key)\n";

int hr_cmd_make_model(int argc, char **argv)
{
    struct hr_synth_params p = {0};
    enum hr_qmix mix = HR_QMIX_F32;
    p.preset = "tiny";
    p.type = HR_TYPE_F32;
    p.seed = 42;
    const char *type_name = "f32";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hearth: make-model: %s: missing value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--out") == 0) {
            p.out_path = v;
        } else if (strcmp(a, "--preset") == 0) {
            if (!hr_synth_preset_find(v)) {
                fprintf(stderr, "hearth: make-model: --preset: expected one of tiny, smol, 1b, "
                                "got '%s'\n", v);
                return 2;
            }
            p.preset = v;
        } else if (strcmp(a, "--type") == 0) {
            if (hr_qmix_from_name(v, &mix) != 0) {
                fprintf(stderr, "hearth: make-model: --type: expected one of f32, f16, q8_0, "
                                "q4_0, q4_k_m, q5_k_m, q6_k, got '%s'\n", v);
                return 2;
            }
            type_name = hr_qmix_name(mix);
        } else if (strcmp(a, "--vocab") == 0) {
            p.vocab_path = v;
        } else if (strcmp(a, "--name") == 0) {
            p.name = v;
        } else if (strcmp(a, "--arch") == 0) {
            p.arch = v;
        } else if (strcmp(a, "--pooling") == 0) {
            if (strcmp(v, "mean") && strcmp(v, "cls") && strcmp(v, "last")) {
                fprintf(stderr, "hearth: make-model: --pooling: expected one of mean, cls, last, "
                                "got '%s'\n", v);
                return 2;
            }
            p.pooling = v;
        } else if (strcmp(a, "--seed") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *v == '-' || errno || *end) {
                fprintf(stderr, "hearth: make-model: --seed: expected a non-negative integer, "
                                "got '%s'\n", v);
                return 2;
            }
            p.seed = s;
        } else {
            fprintf(stderr, "hearth: make-model: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!p.out_path) {
        fprintf(stderr, "hearth: make-model: --out: an output file is required\n");
        return 2;
    }
    struct hr_diag d = {{0}};
    int rc = hr_synth_write_mix(&p, mix, &d);
    if (rc) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    struct stat st;
    double mb = stat(p.out_path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    fprintf(stderr, "hearth: wrote %s (%s, %s, %.1f MB)\n", p.out_path, p.preset, type_name, mb);
    return 0;
}
