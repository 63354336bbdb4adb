/* `hearth quantize IN.gguf OUT.gguf TYPE`: an F32/F16/BF16 GGUF model re-written with its
 * matrices quantized under one of llama.cpp's mixes (the rule and the streaming live in
 * engine/model/quantize.c); a summary per tensor type on stderr. Main thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "engine/engine.h"

static const char usage_text[] =
    "usage: hearth quantize [--threads N] IN.gguf OUT.gguf TYPE\n"
    "\n"
    "Quantizes an F32, F16 or BF16 GGUF model. TYPE is one of\n"
    "  q8_0, q4_0        every matrix in that type (F16 where rows are not whole blocks)\n"
    "  q4_k_m, q5_k_m    llama.cpp's mixes: mostly Q4_K / Q5_K; the output (or tied token\n"
    "                    embedding) Q6_K; attn_v and ffn_down Q6_K in the first and last\n"
    "                    eighth of the layers and every third between\n"
    "  q6_k              every matrix Q6_K\n"
    "Rows that are not whole 256-blocks fall back as llama-quantize does (Q4_K -> Q5_0,\n"
    "Q5_K -> Q5_1, Q6_K -> Q8_0, else F16). Norms and vectors are copied unchanged, as is\n"
    "every metadata key but general.file_type. OUT is written under a temporary name and\n"
    "renamed when complete. --threads: rows quantized in parallel (default: every CPU);\n"
    "the output is the same for any count.\n";

static const char *const allowed[] = {"q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};

int hr_cmd_quantize(int argc, char **argv)
{
    const char *pos[3];
    int n_pos = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = cpus < 1 ? 1 : (cpus > HR_MAX_THREADS ? HR_MAX_THREADS : (int)cpus);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        const char *v = NULL;
        int got = hr_cmd_opt("quantize", argc, argv, &i, "--threads", &v);
        if (got == 2)
            return 2;
        if (got == 1) {
            char *end = NULL;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (!*v || *end || errno || n < 1 || n > HR_MAX_THREADS) {
                fprintf(stderr, "hearth: quantize: --threads: expected 1..%d, got '%s'\n",
                        HR_MAX_THREADS, v);
                return 2;
            }
            n_threads = (int)n;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "hearth: quantize: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (n_pos == 3) {
            fprintf(stderr, "hearth: quantize: %s: unexpected argument (IN OUT TYPE only)\n",
                    argv[i]);
            return 2;
        }
        pos[n_pos++] = argv[i];
    }
    if (n_pos != 3) {
        fprintf(stderr, "hearth: quantize: expected IN.gguf OUT.gguf TYPE (see --help)\n");
        return 2;
    }
    enum hr_qmix mix = HR_QMIX_F32;
    bool ok = false;
    for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
        ok = ok || strcmp(pos[2], allowed[k]) == 0;
    if (!ok || hr_qmix_from_name(pos[2], &mix) != 0) {
        fprintf(stderr, "hearth: quantize: %s: TYPE must be one of q8_0, q4_0, q4_k_m, q5_k_m, "
                        "q6_k\n", pos[2]);
        return 2;
    }
    if (strcmp(pos[0], pos[1]) == 0) {
        fprintf(stderr, "hearth: quantize: %s: output would replace the input\n", pos[1]);
        return 2;
    }
    struct hr_quantize_stats st;
    struct hr_diag d = {{0}};
    int rc = hr_quantize_file(pos[0], pos[1], mix, n_threads, &st, &d);
    if (rc) {
        fprintf(stderr, "hearth: quantize: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    for (uint32_t t = 0; t < HR_TYPE_COUNT_; t++) {
        if (!st.n_tensors[t])
            continue;
        const struct hr_dtype_info *ti = hr_dtype_get(t);
        fprintf(stderr, "hearth: quantize: %-5s %4u tensors %10.2f MB\n",
                ti && ti->name ? ti->name : "?", st.n_tensors[t], (double)st.n_bytes[t] / 1e6);
    }
    fprintf(stderr, "hearth: quantize: wrote %s (%s): tensor data %.2f MB -> %.2f MB\n", pos[1],
            hr_qmix_name(mix), (double)st.in_bytes / 1e6, (double)st.out_bytes / 1e6);
    return 0;
}
