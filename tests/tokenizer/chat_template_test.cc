#include "coordinator/tokenizer/chat_template.h"

#include <gtest/gtest.h>

namespace skipjoin {
namespace {

using Msgs = std::vector<ChatMessage>;

constexpr char kSmolLM2Template[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' "
    "}}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% "
    "endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// As stored in Qwen2-Instruct's tokenizer_config.json (escaped newlines).
constexpr char kQwen2Template[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif "
    "%}{{'<|im_start|>' + "
    "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

constexpr char kLlama3Template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ "
    "content "
    "}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' "
    "}}{% endif %}";

constexpr char kLlama2Template[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = "
    "false %}{% "
    "endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false "
    "%}{% set "
    "content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else "
    "%}{% set "
    "content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
    "'[INST] ' + "
    "content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
    "content.strip() + ' "
    "' + eos_token }}{% endif %}{% endfor %}";

constexpr char kMistralTemplate[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + "
    "eos_token}}{% endif %}{% endfor %}";

std::string ApplyOk(const ChatTemplate& t, const Msgs& m, bool gen) {
  auto r = t.Apply(m, gen);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

TEST(ChatTemplateTest, SmolLM2InjectsItsDefaultSystemPrompt) {
  const ChatTemplate t = ChatTemplate::FromTemplateText(kSmolLM2Template);
  EXPECT_EQ(t.family(), ChatTemplateFamily::kChatMl);
  EXPECT_EQ(ApplyOk(t, {{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ApplyOk(t, {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}}, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello<|im_end|>\n");
}

TEST(ChatTemplateTest, Qwen2InjectsItsDefaultSystemPrompt) {
  const ChatTemplate t = ChatTemplate::FromTemplateText(kQwen2Template);
  EXPECT_EQ(t.default_system_prompt(), "You are a helpful assistant.");
  EXPECT_EQ(ApplyOk(t, {{"user", "2+2?"}}, true),
            "<|im_start|>system\nYou are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, Llama3Headers) {
  const ChatTemplate t = ChatTemplate::FromTemplateText(kLlama3Template);
  EXPECT_EQ(t.family(), ChatTemplateFamily::kLlama3);
  EXPECT_EQ(ApplyOk(t, {{"system", "S "}, {"user", " Hi\n"}}, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, Llama31AlwaysHasSystemPreamble) {
  const std::string tmpl =
      std::string(kLlama3Template) + "{{- \"Cutting Knowledge Date: December 2023\\n\" }}";
  const ChatTemplate t = ChatTemplate::FromTemplateText(tmpl);
  EXPECT_EQ(ApplyOk(t, {{"user", "Hi"}}, false),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(ChatTemplateTest, Llama2InstWithSystemBlock) {
  const ChatTemplate t = ChatTemplate::FromTemplateText(kLlama2Template);
  EXPECT_EQ(t.family(), ChatTemplateFamily::kLlama2);
  EXPECT_EQ(
      ApplyOk(t, {{"system", "Sys"}, {"user", "Hi "}, {"assistant", "Hello"}, {"user", "Bye"}},
              true),
      "<s>[INST] <<SYS>>\nSys\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]");
  EXPECT_EQ(ApplyOk(t, {{"user", "Hi"}}, true), "<s>[INST] Hi [/INST]");
}

TEST(ChatTemplateTest, MistralInst) {
  const ChatTemplate t = ChatTemplate::FromTemplateText(kMistralTemplate);
  EXPECT_EQ(t.family(), ChatTemplateFamily::kMistral);
  EXPECT_EQ(ApplyOk(t, {{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}}, true),
            "<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]");
  EXPECT_EQ(t.Apply(Msgs{{"system", "S"}, {"user", "Hi"}}, true).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Apply(Msgs{{"user", "a"}, {"user", "b"}}, true).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ChatTemplateTest, RejectsInvalidRolesAndEmptyChats) {
  const ChatTemplate t = ChatTemplate::FromTemplateText(kSmolLM2Template);
  auto r = t.Apply(Msgs{{"wizard", "x"}}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("wizard"), std::string::npos);
  EXPECT_FALSE(t.Apply(Msgs{}, true).ok());
  EXPECT_FALSE(
      ChatTemplate::FromTemplateText(kLlama3Template).Apply(Msgs{{"tool", "x"}}, true).ok());
}

TEST(ChatTemplateTest, UnknownTemplateFallsBackToPlainChatMl) {
  const ChatTemplate t = ChatTemplate::FromTemplateText("{{ messages | something_custom }}");
  EXPECT_EQ(t.family(), ChatTemplateFamily::kChatMl);
  EXPECT_EQ(ApplyOk(t, {{"user", "Hi"}}, true),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace skipjoin
