/* Chat rendering per template family. Expected strings are what jinja2 renders from the real
 * templates in ../shared/templates for the same conversation (date_string "26 Jul 2024",
 * bos "<s>", eos "</s>"); detection is checked against those files when present. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static const struct hr_chat_msg conv[] = {
    {"system", "Be brief."},
    {"user", "Hi there"},
    {"assistant", "Hello!"},
    {"user", "How are you?"},
};

static void expect(enum hr_chat_format f, const struct hr_chat_msg *m, size_t n,
                   const char *want)
{
    int err = 0;
    char *got = hr_chat_render(f, m, n, true, "<s>", "</s>", &err, NULL);
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n got  %s\n want %s", hr_chat_format_name(f), got, want);
    free(got);
}

static void test_families(void **state)
{
    (void)state;
    expect(HR_CHAT_QWEN, conv, 4,
           "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
           "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
           "<|im_start|>assistant\n");
    expect(HR_CHAT_QWEN, conv + 1, 3,
           "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
           "assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
           "Hello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n");
    expect(HR_CHAT_CHATML, conv + 1, 1,
           "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
    expect(HR_CHAT_LLAMA31, conv, 4,
           "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December "
           "2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user"
           "<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
           "\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow are you?"
           "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    expect(HR_CHAT_LLAMA31, conv + 1, 1,
           "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December "
           "2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>"
           "\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    expect(HR_CHAT_PHI3, conv, 4,
           "<|system|>\nBe brief.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\nHello!"
           "<|end|>\n<|user|>\nHow are you?<|end|>\n<|assistant|>\n");
    expect(HR_CHAT_MISTRAL, conv, 4,
           "<s>[INST]Hi there[/INST]Hello!</s>[INST]Be brief.\n\nHow are you?[/INST]");
    expect(HR_CHAT_GEMMA, conv + 1, 3,
           "<s><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!"
           "<end_of_turn>\n<start_of_turn>user\nHow are you?<end_of_turn>\n"
           "<start_of_turn>model\n");
    /* Gemma has no system role: it joins the first user turn (as Gemma 3's template does). */
    expect(HR_CHAT_GEMMA, conv, 2,
           "<s><start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>\n<start_of_turn>model\n");
    expect(HR_CHAT_LLAMA2, conv, 4,
           "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] "
           "How are you? [/INST]");
}

static void test_detection_on_real_templates(void **state)
{
    (void)state;
    const struct {
        const char *file;
        enum hr_chat_format f;
    } cases[] = {
        {"templates/Qwen-Qwen2.5-7B-Instruct.jinja", HR_CHAT_QWEN},
        {"templates/meta-llama-Llama-3.1-8B-Instruct.jinja", HR_CHAT_LLAMA31},
        {"templates/meta-llama-Llama-3.2-3B-Instruct.jinja", HR_CHAT_LLAMA32},
        {"templates/microsoft-Phi-3.5-mini-instruct.jinja", HR_CHAT_PHI3},
        {"templates/google-gemma-2-2b-it.jinja", HR_CHAT_GEMMA},
        {"templates/mistralai-Mistral-Nemo-Instruct-2407.jinja", HR_CHAT_MISTRAL},
        {"templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", HR_CHAT_CHATML},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        if (!tu_shared_path(cases[i].file, path, sizeof path))
            continue;
        char *text = tu_read_file(path, NULL);
        if (hr_chat_detect(text) != cases[i].f)
            fail_msg("%s detected as %s", cases[i].file,
                     hr_chat_format_name(hr_chat_detect(text)));
        free(text);
        ran++;
    }
    assert_int_equal(hr_chat_detect(NULL), HR_CHAT_CHATML);
    assert_int_equal(hr_chat_detect("{{ unknown }}"), HR_CHAT_CHATML);
    if (!ran)
        skip();
}

static void test_errors(void **state)
{
    (void)state;
    int err = 0;
    struct hr_diag d = {{0}};
    assert_null(hr_chat_render(HR_CHAT_CHATML, conv, 0, true, "", "", &err, &d));
    assert_int_equal(err, HR_EINVAL);
    const struct hr_chat_msg bad[] = {{"wizard", "x"}};
    hr_diag_clear(&d);
    assert_null(hr_chat_render(HR_CHAT_CHATML, bad, 1, true, "", "", &err, &d));
    assert_int_equal(err, HR_EINVAL);
    assert_non_null(strstr(d.msg, "wizard"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_detection_on_real_templates),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
