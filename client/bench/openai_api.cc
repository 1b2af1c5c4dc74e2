#include "client/bench/openai_api.h"

#include <nlohmann/json.hpp>

namespace skipjoin::bench {

namespace {

using nlohmann::json;

constexpr size_t kMaxQuotedBody = 300;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Shorten(std::string_view text) {
  std::string s(text.substr(0, kMaxQuotedBody));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (text.size() > kMaxQuotedBody) s += "...";
  return s;
}

std::optional<int64_t> IntField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// The generated text of choices[0]: a delta (streaming chat), a message
// (non-streaming chat) or text (completions). Reasoning text counts as output.
std::string ChoiceContent(const json& choice, ApiFlavor flavor) {
  if (!choice.is_object()) return "";
  std::string out;
  auto append = [&out](const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it != obj.end() && it->is_string()) out += it->get<std::string>();
  };
  if (flavor == ApiFlavor::kCompletions) {
    append(choice, "text");
    return out;
  }
  for (const char* holder : {"delta", "message"}) {
    auto it = choice.find(holder);
    if (it == choice.end() || !it->is_object()) continue;
    append(*it, "reasoning_content");
    append(*it, "content");
  }
  return out;
}

std::string ErrorMessage(const json& body) {
  if (auto e = body.find("error"); e != body.end()) {
    if (e->is_string()) return e->get<std::string>();
    if (e->is_object()) {
      if (auto m = e->find("message"); m != e->end() && m->is_string())
        return m->get<std::string>();
    }
    return e->dump();
  }
  for (const char* key : {"message", "detail"}) {
    if (auto m = body.find(key); m != body.end() && m->is_string()) return m->get<std::string>();
  }
  return "";
}

}  // namespace

ApiFlavor FlavorForEndpoint(const std::string& endpoint) {
  std::string path = endpoint;
  while (!path.empty() && path.back() == '/') path.pop_back();
  return EndsWith(path, "/chat/completions") ? ApiFlavor::kChat : ApiFlavor::kCompletions;
}

std::string BuildRequestBody(const BenchPrompt& prompt, const RequestBodyOptions& o) {
  json body;
  body["model"] = o.model;
  if (o.flavor == ApiFlavor::kChat) {
    body["messages"] = json::array({{{"role", "user"}, {"content", prompt.text}}});
    body["max_completion_tokens"] = prompt.output_len;
  } else {
    if (prompt.token_ids.empty()) {
      body["prompt"] = prompt.text;
    } else {
      body["prompt"] = prompt.token_ids;
    }
    body["max_tokens"] = prompt.output_len;
  }
  body["temperature"] = 0.0;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  return body.dump();
}

Result<StreamChunk> ParseStreamChunk(std::string_view data, ApiFlavor flavor) {
  StreamChunk c;
  if (data == "[DONE]") {
    c.done = true;
    return c;
  }
  const json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss("the server sent a stream chunk that is not a JSON object: " + Shorten(data));
  }
  if (j.contains("error") || (j.contains("object") && j["object"] == "error")) {
    std::string message = ErrorMessage(j);
    c.error = message.empty() ? Shorten(data) : message;
    return c;
  }
  if (auto it = j.find("choices"); it != j.end() && it->is_array() && !it->empty()) {
    c.content = ChoiceContent((*it)[0], flavor);
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    c.prompt_tokens = IntField(*u, "prompt_tokens");
    c.completion_tokens = IntField(*u, "completion_tokens");
  }
  return c;
}

std::string ErrorMessageFromBody(std::string_view body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object()) {
    std::string message = ErrorMessage(j);
    if (!message.empty()) return message;
  }
  return body.empty() ? "(empty body)" : Shorten(body);
}

}  // namespace skipjoin::bench
