// Fuzzes chat templates: family detection from arbitrary template text
// (ChatTemplate::FromTemplateText, with its default-system-prompt extraction),
// rendering of arbitrary conversations, and the tokenizer on the rendered
// prompt (the tiny byte-level BPE of fuzz_models.h, special tokens parsed).
// Invariant: byte-level BPE loses nothing, so decoding the ids of valid UTF-8
// text gives the text back.
//
// Input: fields separated by NUL bytes:
//   template text, BOS text, EOS text, options, role, content, role, content...
// options: bit 0 set adds the generation prompt.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/utf8.h"
#include "coordinator/tokenizer/chat_template.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_models.h"
#include "tests/fuzz/fuzz_support.h"

namespace skipjoin::fuzz {
namespace {

constexpr size_t kMaxMessages = 16;

const Tokenizer* tokenizer = nullptr;

std::vector<std::string_view> SplitNul(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\0') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    if (DecodeUtf8At(s, &pos) < 0) return false;
  }
  return true;
}

void Tokenize(const std::string& prompt) {
  const auto ids = tokenizer->Encode(prompt, /*add_special=*/false, /*parse_special=*/true);
  for (int32_t id : ids) {
    SJ_CHECK(id >= 0 && id < tokenizer->vocab_size()) << "token id " << id;
  }
  if (!ValidUtf8(prompt)) return;
  const std::string back = tokenizer->Decode(ids, /*skip_special=*/false);
  SJ_CHECK(back == prompt) << "decode(encode(text)) differs from the text: " << prompt.size()
                           << " bytes in, " << back.size() << " out";
}

}  // namespace
}  // namespace skipjoin::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace skipjoin;
  fuzz::QuietLogs();
  fuzz::ScratchDir dir;
  const Status written = testutil::WriteTinyHfDir(fuzz::FuzzModelSpec(), dir.path());
  SJ_CHECK(written.ok()) << written.ToString();
  auto tok = Tokenizer::FromHfDir(dir.path());
  SJ_CHECK(tok.ok()) << tok.status().ToString();
  fuzz::tokenizer = tok->release();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skipjoin;
  const auto fields = fuzz::SplitNul(std::string_view(reinterpret_cast<const char*>(data), size));
  auto field = [&](size_t i) { return i < fields.size() ? std::string(fields[i]) : std::string(); };
  const ChatTemplate tmpl = ChatTemplate::FromTemplateText(fields[0], field(1), field(2));
  const bool add_generation_prompt = fields.size() > 3 && !fields[3].empty() && (fields[3][0] & 1);
  std::vector<ChatMessage> messages;
  for (size_t i = 4; i + 1 < fields.size() && messages.size() < fuzz::kMaxMessages; i += 2) {
    messages.push_back(ChatMessage{field(i), field(i + 1)});
  }
  auto prompt = tmpl.Apply(messages, add_generation_prompt);
  if (prompt.ok()) fuzz::Tokenize(*prompt);
  return 0;
}
