#include "coordinator/frontend/prompt_rules.h"

#include <algorithm>

namespace skipjoin::frontend {

std::optional<ApiError> RenderChatPrompt(const ApiRequest& r, const ChatTemplate& chat_template,
                                         std::string* out) {
  auto text = chat_template.Apply(r.messages, r.add_generation_prompt);
  if (!text.ok()) return BadRequest(text.status().message(), "messages");
  *out = std::move(text).value();
  if (!r.continue_final_message) return std::nullopt;
  // Cut after the last occurrence of the final message's content, as
  // transformers' apply_chat_template(continue_final_message=True) does.
  const std::string& content = r.messages.back().content;
  size_t at = out->rfind(content);
  size_t len = content.size();
  if (at == std::string::npos) {
    const size_t b = content.find_first_not_of(" \t\n\r");
    const size_t e = content.find_last_not_of(" \t\n\r");
    const std::string trimmed = b == std::string::npos ? "" : content.substr(b, e - b + 1);
    at = trimmed.empty() ? std::string::npos : out->rfind(trimmed);
    len = trimmed.size();
  }
  if (at == std::string::npos) {
    return BadRequest(
        "'continue_final_message': the final message does not appear in the prompt the chat "
        "template renders",
        "continue_final_message");
  }
  out->resize(at + len);
  return std::nullopt;
}

std::vector<std::vector<int32_t>> BadWordTokenIds(const std::vector<std::string>& words,
                                                  const Tokenizer& tok) {
  std::vector<std::vector<int32_t>> out;
  for (const std::string& word : words) {
    const std::string bare =
        word.substr(std::min(word.size(), word.find_first_not_of(" \t\n\r\f\v")));
    std::vector<int32_t> plain = tok.Encode(bare, /*add_special=*/false, /*parse_special=*/false);
    if (plain.empty()) continue;
    // The word after a space is often other tokens; vLLM keeps that spelling
    // only when it starts with another token and has as many tokens.
    std::vector<int32_t> spaced =
        tok.Encode(" " + bare, /*add_special=*/false, /*parse_special=*/false);
    out.push_back(std::move(plain));
    if (!spaced.empty() && spaced[0] != out.back()[0] && spaced.size() == out.back().size()) {
      out.push_back(std::move(spaced));
    }
  }
  return out;
}

void KeepLastPromptTokens(int32_t keep, bool has_text, const Tokenizer& tok, TokenizedPrompt* p) {
  if (p->ids.size() <= static_cast<size_t>(keep)) return;
  p->ids.erase(p->ids.begin(), p->ids.end() - keep);
  if (has_text) p->text = tok.Decode(p->ids, /*skip_special=*/false);
}

}  // namespace skipjoin::frontend
