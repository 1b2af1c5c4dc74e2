#include "coordinator/tokenizer/chat_template.h"

#include "common/logging.h"

namespace skipjoin {

namespace {

// Python's str.strip() for the ASCII whitespace that chat content carries.
std::string Strip(std::string_view s) {
  constexpr std::string_view kWs = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(kWs);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(kWs);
  return std::string(s.substr(b, e - b + 1));
}

// The literal system prompt a ChatML template injects, e.g. from
//   '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'
// Occurrences that splice in a variable (quotes, braces, '+' before the
// <|im_end|>) are the "system message given" branch and are skipped.
std::string FindDefaultSystemPrompt(std::string_view t) {
  constexpr std::string_view kHead = "<|im_start|>system";
  constexpr std::string_view kEnd = "<|im_end|>";
  size_t pos = 0;
  while ((pos = t.find(kHead, pos)) != std::string_view::npos) {
    size_t start = pos + kHead.size();
    pos = start;
    if (t.substr(start, 1) == "\n") {
      start += 1;
    } else if (t.substr(start, 2) == "\\n") {
      start += 2;
    } else {
      continue;
    }
    const size_t end = t.find(kEnd, start);
    if (end == std::string_view::npos) break;
    const std::string_view body = t.substr(start, end - start);
    if (body.empty() || body.find_first_of("'\"{}+\n") != std::string_view::npos) continue;
    return std::string(body);
  }
  return "";
}

bool IsRole(const std::string& r, std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed) {
    if (r == a) return true;
  }
  return false;
}

Status BadRole(const ChatMessage& m, size_t i, const char* family) {
  return InvalidArgument("message " + std::to_string(i) + " has role \"" + m.role +
                         "\", which the " + family + " chat template does not accept");
}

}  // namespace

const char* ChatTemplateFamilyName(ChatTemplateFamily family) {
  switch (family) {
    case ChatTemplateFamily::kChatMl:
      return "chatml";
    case ChatTemplateFamily::kLlama3:
      return "llama3";
    case ChatTemplateFamily::kLlama2:
      return "llama2";
    case ChatTemplateFamily::kMistral:
      return "mistral";
  }
  return "unknown";
}

ChatTemplate ChatTemplate::ForFamily(ChatTemplateFamily family) {
  ChatTemplate t;
  t.family_ = family;
  return t;
}

ChatTemplate ChatTemplate::FromTemplateText(std::string_view jinja, std::string bos_text,
                                            std::string eos_text) {
  ChatTemplate t;
  if (!bos_text.empty()) t.bos_ = std::move(bos_text);
  if (!eos_text.empty()) t.eos_ = std::move(eos_text);
  if (jinja.find("<|im_start|>") != std::string_view::npos) {
    t.family_ = ChatTemplateFamily::kChatMl;
    t.default_system_ = FindDefaultSystemPrompt(jinja);
  } else if (jinja.find("<|start_header_id|>") != std::string_view::npos) {
    t.family_ = ChatTemplateFamily::kLlama3;
    t.llama31_ = jinja.find("Cutting Knowledge Date") != std::string_view::npos;
  } else if (jinja.find("[INST]") != std::string_view::npos) {
    t.family_ = jinja.find("<<SYS>>") != std::string_view::npos ? ChatTemplateFamily::kLlama2
                                                                : ChatTemplateFamily::kMistral;
  } else {
    // Fallback: unknown template -> ChatML (see the header for why).
    if (!jinja.empty()) {
      SJ_LOG(Warn) << "unrecognised chat template; falling back to ChatML";
    }
    t.family_ = ChatTemplateFamily::kChatMl;
  }
  return t;
}

Result<std::string> ChatTemplate::Apply(std::span<const ChatMessage> messages,
                                        bool add_generation_prompt) const {
  if (messages.empty()) return InvalidArgument("chat has no messages");
  switch (family_) {
    case ChatTemplateFamily::kChatMl:
      return ApplyChatMl(messages, add_generation_prompt);
    case ChatTemplateFamily::kLlama3:
      return ApplyLlama3(messages, add_generation_prompt);
    case ChatTemplateFamily::kLlama2:
    case ChatTemplateFamily::kMistral:
      return ApplyInst(messages);
  }
  return Internal("unknown chat template family");
}

Result<std::string> ChatTemplate::ApplyChatMl(std::span<const ChatMessage> messages,
                                              bool add_generation_prompt) const {
  std::string out;
  if (!default_system_.empty() && messages[0].role != "system") {
    out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (!IsRole(m.role, {"system", "user", "assistant", "tool"})) return BadRole(m, i, "ChatML");
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

Result<std::string> ChatTemplate::ApplyLlama3(std::span<const ChatMessage> messages,
                                              bool add_generation_prompt) const {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!IsRole(messages[i].role, {"system", "user", "assistant"}))
      return BadRole(messages[i], i, "Llama 3");
  }
  auto block = [](const std::string& role, std::string_view content) {
    return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + Strip(content) + "<|eot_id|>";
  };
  std::string out = "<|begin_of_text|>";
  size_t first = 0;
  if (llama31_) {
    // Llama 3.1 always opens with a system block carrying its preamble; a
    // leading system message is folded into it.
    std::string system;
    if (messages[0].role == "system") {
      system = Strip(messages[0].content);
      first = 1;
    }
    out += "<|start_header_id|>system<|end_header_id|>\n\n";
    out += "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
    out += system + "<|eot_id|>";
  }
  for (size_t i = first; i < messages.size(); ++i)
    out += block(messages[i].role, messages[i].content);
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

Result<std::string> ChatTemplate::ApplyInst(std::span<const ChatMessage> messages) const {
  const bool llama2 = family_ == ChatTemplateFamily::kLlama2;
  const char* name = llama2 ? "Llama 2" : "Mistral";
  std::span<const ChatMessage> loop = messages;
  std::string system;
  bool has_system = false;
  if (llama2 && messages[0].role == "system") {
    system = messages[0].content;
    has_system = true;
    loop = messages.subspan(1);
  }
  std::string out = llama2 ? "" : bos_;
  for (size_t i = 0; i < loop.size(); ++i) {
    const ChatMessage& m = loop[i];
    const size_t index = i + (messages.size() - loop.size());
    if (!IsRole(m.role, {"user", "assistant"})) return BadRole(m, index, name);
    if ((m.role == "user") != (i % 2 == 0)) {
      return InvalidArgument(
          std::string("the ") + name +
          " chat template needs roles to alternate user/assistant/user/... (message " +
          std::to_string(index) + " is \"" + m.role + "\")");
    }
    if (llama2) {
      std::string content = m.content;
      if (i == 0 && has_system) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      if (m.role == "user") {
        out += bos_ + "[INST] " + Strip(content) + " [/INST]";
      } else {
        out += " " + Strip(content) + " " + eos_;
      }
    } else if (m.role == "user") {
      out += "[INST] " + m.content + " [/INST]";
    } else {
      out += m.content + eos_;
    }
  }
  return out;
}

}  // namespace skipjoin
