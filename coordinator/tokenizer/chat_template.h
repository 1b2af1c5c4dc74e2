// Chat templates: render a conversation into the prompt text the model was
// trained on. Instead of a jinja interpreter, the family is detected from the
// model's template text and rendered by hand, reproducing what that model's
// jinja template renders:
//   kChatMl  <|im_start|>role\ncontent<|im_end|>\n ... (SmolLM2, Qwen2 and
//            others); when the template injects a default system prompt for
//            conversations that do not start with one (SmolLM2: "You are a
//            helpful AI assistant named SmolLM, trained by Hugging Face",
//            Qwen2: "You are a helpful assistant."), that prompt is read from
//            the template text and injected the same way.
//   kLlama3  <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n
//            content (trimmed)<|eot_id|> ...; the Llama 3.1 variant (detected by
//            its "Cutting Knowledge Date" preamble) always emits the system
//            header with that preamble.
//   kLlama2  <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s>...
//   kMistral <s>[INST] user [/INST]answer</s>[INST] ... (no system role)
// An unrecognised template falls back to plain ChatML with a logged warning:
// most instruction-tuned models accept it, and refusing to serve would be worse.
//
// Thread-safety: immutable after construction; const methods may be called
// from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (ChatML/Llama 3 also "tool")
  std::string content;
};

enum class ChatTemplateFamily { kChatMl, kLlama3, kLlama2, kMistral };

const char* ChatTemplateFamilyName(ChatTemplateFamily family);

class ChatTemplate {
 public:
  // Detects the family from jinja text (empty text: ChatML, no warning).
  // bos_text / eos_text: the model's BOS and EOS token texts, used by the
  // Llama 2 and Mistral families ("<s>", "</s>" when empty).
  static ChatTemplate FromTemplateText(std::string_view jinja, std::string bos_text = "",
                                       std::string eos_text = "");
  // A family with its stock settings (ChatML without a default system prompt).
  static ChatTemplate ForFamily(ChatTemplateFamily family);

  ChatTemplateFamily family() const { return family_; }
  // The system prompt injected when the first message is not "system"; "" if none.
  const std::string& default_system_prompt() const { return default_system_; }

  // InvalidArgument for an empty conversation, an unknown role, or an order
  // the template rejects (Llama 2 / Mistral require user/assistant alternation
  // starting with user; Mistral has no system role).
  Result<std::string> Apply(std::span<const ChatMessage> messages,
                            bool add_generation_prompt) const;

 private:
  ChatTemplate() = default;
  Result<std::string> ApplyChatMl(std::span<const ChatMessage> messages,
                                  bool add_generation_prompt) const;
  Result<std::string> ApplyLlama3(std::span<const ChatMessage> messages,
                                  bool add_generation_prompt) const;
  Result<std::string> ApplyInst(std::span<const ChatMessage> messages) const;

  ChatTemplateFamily family_ = ChatTemplateFamily::kChatMl;
  std::string default_system_;
  bool llama31_ = false;  // Llama 3.1 preamble
  std::string bos_ = "<s>";
  std::string eos_ = "</s>";
};

}  // namespace skipjoin
