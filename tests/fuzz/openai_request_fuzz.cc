// Fuzzes the OpenAI request path on a raw JSON body: ParseCompletionRequest
// and ParseChatRequest (which check the request-field table), then the length
// check, the error body a client would receive, and the chat template applied
// to a parsed conversation. Invariants beyond "no crash": an error body is
// bounded, and a parsed request holds values inside the documented ranges.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config/cluster_config.h"
#include "common/status.h"
#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"
#include "coordinator/tokenizer/chat_template.h"
#include "tests/fuzz/fuzz_support.h"

namespace skipjoin::frontend {
namespace {

// The error JSON wraps the bounded message and param (each byte at most a
// 6-byte \\u escape) with a few fixed keys.
constexpr size_t kMaxErrorBodyBytes = 6 * (kMaxErrorMessageBytes + kMaxErrorParamBytes) + 256;

void CheckError(const ApiError& e) {
  SJ_CHECK(e.http_status >= 400 && e.http_status < 600) << "status " << e.http_status;
  const std::string body = ErrorBody(e);
  SJ_CHECK(body.size() <= kMaxErrorBodyBytes) << "error body of " << body.size() << " bytes";
}

void CheckParsed(const ApiRequest& r) {
  SJ_CHECK(r.temperature >= 0.0 && r.temperature <= 2.0) << "temperature " << r.temperature;
  SJ_CHECK(r.top_p > 0.0 && r.top_p <= 1.0) << "top_p " << r.top_p;
  SJ_CHECK(r.n >= 1 && r.n <= kMaxChoices) << "n " << r.n;
  SJ_CHECK(r.top_logprobs >= 0 && r.top_logprobs <= kMaxTopLogprobs) << r.top_logprobs;
  SJ_CHECK(static_cast<int>(r.stop.size()) <= kMaxStopStrings) << r.stop.size() << " stops";
  SJ_CHECK(static_cast<int>(r.logit_bias.size()) <= kMaxLogitBias) << r.logit_bias.size();
  SJ_CHECK(!r.max_tokens || *r.max_tokens >= 1) << "max_tokens " << *r.max_tokens;
  config::RequestLimits limits;
  for (int64_t prompt_len : {int64_t{1}, int64_t{100}, int64_t{4095}}) {
    int32_t max_new = 0;
    if (auto e = ResolveMaxNewTokens(r, prompt_len, 4096, limits, &max_new)) {
      CheckError(*e);
    } else {
      SJ_CHECK(max_new >= 1 && prompt_len + max_new <= 4096) << "max_new_tokens " << max_new;
    }
  }
  if (r.kind != ApiKind::kChat) return;
  for (ChatTemplateFamily f : {ChatTemplateFamily::kChatMl, ChatTemplateFamily::kLlama3,
                               ChatTemplateFamily::kLlama2, ChatTemplateFamily::kMistral}) {
    (void)ChatTemplate::ForFamily(f).Apply(r.messages, /*add_generation_prompt=*/true);
  }
}

void Run(std::string_view body, ApiKind kind) {
  ApiRequest r;
  auto e = kind == ApiKind::kChat ? ParseChatRequest(body, &r) : ParseCompletionRequest(body, &r);
  if (e) {
    CheckError(*e);
  } else {
    CheckParsed(r);
  }
}

}  // namespace
}  // namespace skipjoin::frontend

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  skipjoin::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using skipjoin::frontend::ApiKind;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  skipjoin::frontend::Run(body, ApiKind::kCompletion);
  skipjoin::frontend::Run(body, ApiKind::kChat);
  return 0;
}
