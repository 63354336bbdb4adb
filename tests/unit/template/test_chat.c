/* Chat prompts through hr_chat_template_apply with the real templates of each family: ChatML
 * (the default), Qwen 2.5 (ChatML plus a default system prompt), Llama 3.1/3.2 (the "Cutting
 * Knowledge Date" preamble; 3.2 asks strftime_now, here fixed at 2023-11-14), Phi-3 (the
 * template inside ../shared/vocab/ggml-vocab-phi-3.gguf) and Phi-3.5, Gemma 2 and Mistral
 * Nemo. Every expected string below is what Python's jinja2 renders with Hugging Face's
 * settings (tests/scripts/test_template_oracle.py compares whole templates at run time);
 * for templates without a system role, after llama.cpp's folding of system text into the
 * next user turn. Template-raised errors come back as HR_EINVAL with their message. Roles are
 * not checked here: api/chat_request.c refuses unknown ones before a template runs. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define NOW 1700000000 /* 2023-11-14 */

enum { CONV_A, CONV_B, CONV_C, CONV_D, CONV_E, CONV_S2, CONV_ONLY };

static const struct hr_chat_msg conv_a[] = {{"system", "You are terse."},
                                            {"user", "Hi there!"}};
static const struct hr_chat_msg conv_b[] = {
    {"user", "What is 2+2?"}, {"assistant", "4."}, {"user", "And 3+3?"}};
static const struct hr_chat_msg conv_c[] = {{"user", "Weather in Z\xC3\xBCrich?"},
                                            {"assistant", "Checking."},
                                            {"tool", "{\"temp_c\": 7}"}};
static const struct hr_chat_msg conv_e[] = {{"user", "a"}, {"user", "b"}};
static const struct hr_chat_msg conv_s2[] = {{"system", "Rule one."},
                                             {"system", "Rule two."},
                                             {"assistant", "Hello."},
                                             {"user", "Hi"},
                                             {"system", "Late rule."}};
static const struct hr_chat_msg conv_only[] = {{"system", "Only."}};

static const struct {
    const struct hr_chat_msg *m;
    size_t n;
} convs[] = {
    [CONV_A] = {conv_a, 2},  [CONV_B] = {conv_b, 3},  [CONV_C] = {conv_c, 3},
    [CONV_D] = {NULL, 0},    [CONV_E] = {conv_e, 2},  [CONV_S2] = {conv_s2, 5},
    [CONV_ONLY] = {conv_only, 1},
};

/* tmpl: a file under ../shared/templates, "phi3" for the GGUF's own, NULL for the default. */
struct row {
    const char *tmpl, *bos, *eos;
    int conv;
    bool add_generation_prompt;
    const char *want;
};

static const struct row families[] = {
    {NULL, "", "", CONV_A, true,
        "<|im_start|>system\n"
        "You are terse.<|im_end|>\n"
        "<|im_start|>user\n"
        "Hi there!<|im_end|>\n"
        "<|im_start|>assistant\n"},
    {NULL, "", "", CONV_B, false,
        "<|im_start|>user\n"
        "What is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
        "4.<|im_end|>\n"
        "<|im_start|>user\n"
        "And 3+3?<|im_end|>\n"},
    {NULL, "", "", CONV_C, true,
        "<|im_start|>user\n"
        "Weather in Z\xC3\xBCrich?<|im_end|>\n"
        "<|im_start|>assistant\n"
        "Checking.<|im_end|>\n"
        "<|im_start|>tool\n"
        "{\"temp_c\": 7}<|im_end|>\n"
        "<|im_start|>assistant\n"},
    {NULL, "", "", CONV_D, true,
        "<|im_start|>assistant\n"},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>", CONV_A, true,
        "<|im_start|>system\n"
        "You are terse.<|im_end|>\n"
        "<|im_start|>user\n"
        "Hi there!<|im_end|>\n"
        "<|im_start|>assistant\n"},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>", CONV_B, true,
        "<|im_start|>system\n"
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>"
        "\n"
        "<|im_start|>user\n"
        "What is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
        "4.<|im_end|>\n"
        "<|im_start|>user\n"
        "And 3+3?<|im_end|>\n"
        "<|im_start|>assistant\n"},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>", CONV_C, true,
        "<|im_start|>system\n"
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>"
        "\n"
        "<|im_start|>user\n"
        "Weather in Z\xC3\xBCrich?<|im_end|>\n"
        "<|im_start|>assistant\n"
        "Checking.<|im_end|>\n"
        "<|im_start|>user\n"
        "<tool_response>\n"
        "{\"temp_c\": 7}\n"
        "</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", CONV_A, true,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        "\n"
        "Cutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n"
        "\n"
        "You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Hi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        "\n"},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", CONV_C, true,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        "\n"
        "Cutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n"
        "\n"
        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Weather in Z\xC3\xBCrich?<|eot_id|><|start_header_id|>assistant<|end_header_id"
        "|>\n"
        "\n"
        "Checking.<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n"
        "\n"
        "\"{\\\"temp_c\\\": 7}\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
        "\n"
        "\n"},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", CONV_A, true,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        "\n"
        "Cutting Knowledge Date: December 2023\n"
        "Today Date: 14 Nov 2023\n"
        "\n"
        "You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "Hi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        "\n"},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", CONV_B, false,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        "\n"
        "Cutting Knowledge Date: December 2023\n"
        "Today Date: 14 Nov 2023\n"
        "\n"
        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        "\n"
        "4.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        "\n"
        "And 3+3?<|eot_id|>"},
    {"phi3", "<s>", "<|endoftext|>", CONV_B, true,
        "<s><|user|>\n"
        "What is 2+2?<|end|>\n"
        "<|assistant|>\n"
        "4.<|end|>\n"
        "<|user|>\n"
        "And 3+3?<|end|>\n"
        "<|assistant|>\n"},
    {"microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", CONV_A, true,
        "<|system|>\n"
        "You are terse.<|end|>\n"
        "<|user|>\n"
        "Hi there!<|end|>\n"
        "<|assistant|>\n"},
    {"microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", CONV_B, false,
        "<|user|>\n"
        "What is 2+2?<|end|>\n"
        "<|assistant|>\n"
        "4.<|end|>\n"
        "<|user|>\n"
        "And 3+3?<|end|>\n"
        "<|endoftext|>"},
    {"google-gemma-2-2b-it.jinja", "<bos>", "<eos>", CONV_B, true,
        "<bos><start_of_turn>user\n"
        "What is 2+2?<end_of_turn>\n"
        "<start_of_turn>model\n"
        "4.<end_of_turn>\n"
        "<start_of_turn>user\n"
        "And 3+3?<end_of_turn>\n"
        "<start_of_turn>model\n"},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", CONV_A, true,
        "<s>[INST]You are terse.\n"
        "\n"
        "Hi there![/INST]"},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", CONV_B, true,
        "<s>[INST]What is 2+2?[/INST]4.</s>[INST]And 3+3?[/INST]"},
};

/* Templates without a system role: the system text opens the next user turn (joined by
 * newlines), or becomes a user turn of its own when another role comes first. */
static const struct row folded[] = {
    {"google-gemma-2-2b-it.jinja", "<bos>", "<eos>", CONV_A, true,
        "<bos><start_of_turn>user\n"
        "You are terse.\n"
        "Hi there!<end_of_turn>\n"
        "<start_of_turn>model\n"},
    {"google-gemma-2-2b-it.jinja", "<bos>", "<eos>", CONV_ONLY, true,
        "<bos><start_of_turn>user\n"
        "Only.<end_of_turn>\n"
        "<start_of_turn>model\n"},
    {"phi3", "<s>", "<|endoftext|>", CONV_A, true,
        "<s><|user|>\n"
        "You are terse.\n"
        "Hi there!<|end|>\n"
        "<|assistant|>\n"},
    {"phi3", "<s>", "<|endoftext|>", CONV_S2, true,
        "<s><|user|>\n"
        "Rule one.\n"
        "Rule two.<|end|>\n"
        "<|assistant|>\n"
        "Hello.<|end|>\n"
        "<|user|>\n"
        "Hi<|end|>\n"
        "<|assistant|>\n"
        "<|user|>\n"
        "Late rule.<|end|>\n"
        "<|assistant|>\n"},
};

/* The template source, malloc'd; NULL when its data is absent (*is_default for none). */
static char *load_template(const char *name, size_t *len, bool *is_default)
{
    char path[512];
    *len = 0;
    *is_default = name == NULL;
    if (!name)
        return NULL;
    if (strcmp(name, "phi3") == 0) {
        if (!tu_shared_path("vocab/ggml-vocab-phi-3.gguf", path, sizeof path))
            return NULL;
        struct hr_gguf *g = NULL;
        struct hr_str s = {NULL, 0};
        char *src = NULL;
        if (hr_gguf_open(&g, path, NULL) == 0 &&
            hr_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) == 0) {
            src = malloc(s.len + 1);
            assert_non_null(src);
            memcpy(src, s.ptr, s.len);
            src[s.len] = '\0';
            *len = s.len;
        }
        hr_gguf_close(g);
        return src;
    }
    char rel[256];
    snprintf(rel, sizeof rel, "templates/%s", name);
    if (!tu_shared_path(rel, path, sizeof path))
        return NULL;
    return tu_read_file(path, len);
}

/* Renders conversation conv with template name; returns the rc (or 1 when the template's
 * data is absent), the prompt in *out and the diag in d. */
static int render(const char *name, const char *bos, const char *eos, int conv, bool agp,
                  char **out, struct hr_diag *d)
{
    size_t len = 0;
    bool is_default = false;
    char *src = load_template(name, &len, &is_default);
    *out = NULL;
    if (!src && !is_default)
        return 1;
    struct hr_chat_template *t = NULL;
    int rc = hr_chat_template_new(&t, src, len, d);
    free(src);
    if (rc)
        fail_msg("%s: %s", name, d->msg);
    assert_int_equal(hr_chat_template_is_default(t), is_default);
    struct hr_jval *msgs = hr_chat_messages(convs[conv].m, convs[conv].n);
    assert_non_null(msgs);
    rc = hr_chat_template_apply(t, msgs, NULL, agp, bos, eos, NOW, out, d);
    hr_jval_unref(msgs);
    hr_chat_template_free(t);
    return rc;
}

static int check_rows(const struct row *rows, size_t n)
{
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char *out = NULL;
        struct hr_diag d = {{0}};
        int rc = render(r->tmpl, r->bos, r->eos, r->conv, r->add_generation_prompt, &out, &d);
        if (rc == 1)
            continue;
        const char *name = r->tmpl ? r->tmpl : "default";
        if (rc)
            fail_msg("%s conversation %d: %s", name, r->conv, d.msg);
        if (strcmp(out, r->want) != 0)
            fail_msg("%s conversation %d:\n got  '%s'\n want '%s'", name, r->conv, out,
                     r->want);
        printf("chat %s conversation %d: identical\n", name, r->conv);
        free(out);
        ran++;
    }
    return ran;
}

static void test_families(void **state)
{
    (void)state;
    int ran = check_rows(families, sizeof families / sizeof families[0]);
    assert_true(ran >= 4); /* the default template needs no data */
}

static void test_system_folding(void **state)
{
    (void)state;
    if (check_rows(folded, sizeof folded / sizeof folded[0]) == 0)
        skip();
}

/* Whatever the template, a system prompt is never lost: every shared template either shows
 * it or has it folded into the user turn (none of them raises for system + user then).
 * Firefunction v2 is left out: it needs a `functions` variable that jinja2 lacks too. */
static void test_system_never_lost(void **state)
{
    (void)state;
    static const char *names[] = {
        "CohereForAI-c4ai-command-r-plus-tool_use.jinja",
        "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja",
        "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
        "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
        "Qwen-Qwen2.5-7B-Instruct.jinja",
        "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
        "google-gemma-2-2b-it.jinja",
        "llama-cpp-deepseek-r1.jinja",
        "meetkai-functionary-medium-v3.1.jinja",
        "meetkai-functionary-medium-v3.2.jinja",
        "meta-llama-Llama-3.1-8B-Instruct.jinja",
        "meta-llama-Llama-3.2-3B-Instruct.jinja",
        "meta-llama-Llama-3.3-70B-Instruct.jinja",
        "microsoft-Phi-3.5-mini-instruct.jinja",
        "mistralai-Mistral-Nemo-Instruct-2407.jinja",
        "phi3",
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *out = NULL;
        struct hr_diag d = {{0}};
        int rc = render(names[i], "<s>", "</s>", CONV_A, true, &out, &d);
        if (rc == 1)
            continue;
        if (rc)
            fail_msg("%s: %s", names[i], d.msg);
        if (!strstr(out, "You are terse.") || !strstr(out, "Hi there!"))
            fail_msg("%s lost a message: '%s'", names[i], out);
        free(out);
        ran++;
    }
    if (!ran)
        skip();
}

static void expect_error(const char *name, int conv, const char *needle)
{
    char *out = NULL;
    struct hr_diag d = {{0}};
    int rc = render(name, "<s>", "</s>", conv, true, &out, &d);
    if (rc == 1)
        return;
    if (rc != HR_EINVAL || !strstr(d.msg, needle))
        fail_msg("%s conversation %d: want HR_EINVAL naming '%s', got %s '%s'", name, conv,
                 needle, hr_err_name(rc), d.msg);
    assert_null(out);
}

static void test_errors(void **state)
{
    (void)state;
    /* raise_exception from the template, its message intact */
    expect_error("google-gemma-2-2b-it.jinja", CONV_E,
                 "Conversation roles must alternate user/assistant/user/assistant/...");
    /* folding cannot rescue a conversation the template refuses anyway */
    expect_error("google-gemma-2-2b-it.jinja", CONV_S2, "Conversation roles must alternate");
    expect_error("mistralai-Mistral-Nemo-Instruct-2407.jinja", CONV_E,
                 "After the optional system message, conversation roles must alternate");
    /* no messages: Llama 3.1 reads messages[0] (jinja2: UndefinedError) */
    expect_error("meta-llama-Llama-3.1-8B-Instruct.jinja", CONV_D, "");
    /* a template that does not parse names its line */
    struct hr_chat_template *t = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_chat_template_new(&t, "ok\n{% if %}", 11, &d), HR_EINVAL);
    assert_null(t);
    assert_non_null(strstr(d.msg, "line 2"));
}

/* The default template prints whatever role it is given (roles are validated by the api). */
static void test_default_passes_roles(void **state)
{
    (void)state;
    struct hr_chat_template *t = NULL;
    assert_int_equal(hr_chat_template_new(&t, NULL, 0, NULL), 0);
    struct hr_chat_msg m[] = {{"wizard", "x"}};
    struct hr_jval *msgs = hr_chat_messages(m, 1);
    char *out = NULL;
    assert_int_equal(hr_chat_template_apply(t, msgs, NULL, false, "", "", NOW, &out, NULL), 0);
    assert_string_equal(out, "<|im_start|>wizard\nx<|im_end|>\n");
    free(out);
    hr_jval_unref(msgs);
    hr_chat_template_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),          cmocka_unit_test(test_system_folding),
        cmocka_unit_test(test_system_never_lost), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_default_passes_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
