#include "coordinator/frontend/prompt_rules.h"

#include <algorithm>

namespace skipjoin::frontend {

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
