/* Tokenizer throughput: encodes 1 MiB of mixed-language text (English prose, code, numbers,
 * German/French accents, Chinese, Japanese, Russian, emoji) with each vocabulary given on the
 * command line and prints MB/s, plus the ratio to the first vocabulary measured in the same
 * run. Not a test: speed is never asserted. Usage: bench_tokenizer VOCAB.gguf... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

static const char *const samples[] = {
    "The quick brown fox jumps over the lazy dog. ",
    "int main(void) { return printf(\"%d\\n\", 42) > 0 ? 0 : 1; }\n",
    "Order #12345 shipped on 2024-06-30 for $1,299.99. ",
    "Größere Übungen für Schüler, très élégant, déjà vu. ",
    "人工智能正在改变世界。",
    "東京は日本の首都です。",
    "Привет, как дела? ",
    "Emoji time 🎉🚀👍🏽 ok. ",
    "    indented    text\twith\ttabs\n\n",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t cap = 1u << 20, n = 0;
    char *text = malloc(cap + 256);
    for (size_t i = 0; n < cap; i = (i * 7 + 3) % (sizeof samples / sizeof samples[0])) {
        size_t len = strlen(samples[i]);
        memcpy(text + n, samples[i], len);
        n += len;
    }
    int32_t *ids = malloc(hr_tok_max_tokens(n) * sizeof *ids);
    double base = 0;
    printf("%-40s %10s %10s %8s\n", "vocabulary", "tokens", "MB/s", "ratio");
    for (int a = 1; a < argc; a++) {
        struct hr_gguf *g = NULL;
        struct hr_tok *t = NULL;
        struct hr_diag d = {{0}};
        if (hr_gguf_open(&g, argv[a], &d) || hr_tok_new_from_gguf(&t, g, &d)) {
            printf("%-40s skipped: %s\n", argv[a], d.msg);
            hr_gguf_close(g);
            continue;
        }
        size_t n_ids = 0;
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now_s();
            hr_tok_encode(t, text, n, false, false, ids, hr_tok_max_tokens(n), &n_ids);
            double dt = now_s() - t0;
            if (dt < best)
                best = dt;
        }
        double mbs = (double)n / 1e6 / best;
        if (base == 0)
            base = mbs;
        const char *name = strrchr(argv[a], '/');
        printf("%-40s %10zu %10.1f %8.2f\n", name ? name + 1 : argv[a], n_ids, mbs, mbs / base);
        hr_tok_free(t);
        hr_gguf_close(g);
    }
    free(ids);
    free(text);
    return 0;
}
