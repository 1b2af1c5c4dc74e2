#include "coordinator/frontend/openai_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/grammar/guide.h"
#include "coordinator/frontend/request_fields.h"

namespace skipjoin::frontend {

namespace {

using nlohmann::json;

const char* TypeName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

ApiError WrongType(const std::string& field, const char* want, const json& got) {
  return BadRequest("'" + field + "' must be " + want + ", got " + TypeName(got), field);
}

// Each getter leaves *out untouched when the field is absent or null (OpenAI
// clients send explicit nulls for unset options).
std::optional<ApiError> GetBool(const json& body, const char* key, bool* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return WrongType(key, "a boolean", *it);
  *out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> GetNumber(const json& body, const char* key, double lo, double hi,
                                  double* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return WrongType(key, "a number", *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    return BadRequest("'" + std::string(key) + "' must be in [" + json(lo).dump() + ", " +
                          json(hi).dump() + "], got " + it->dump(),
                      key);
  }
  *out = v;
  return std::nullopt;
}

std::optional<ApiError> GetInt(const json& body, const char* key, int64_t lo, int64_t hi,
                               std::optional<int64_t>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_number_float()) {
    const double d = it->get<double>();
    // 16.0 is accepted as 16, as Python clients may send it.
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
      return WrongType(key, "an integer", *it);
    }
    *out = static_cast<int64_t>(d);
  } else if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    *out = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(u);
  } else if (it->is_number_integer()) {
    *out = it->get<int64_t>();
  } else {
    return WrongType(key, "an integer", *it);
  }
  if (**out < lo || **out > hi) {
    return BadRequest("'" + std::string(key) + "' must be in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + std::to_string(**out),
                      key);
  }
  return std::nullopt;
}

std::optional<ApiError> GetIntInto(const json& body, const char* key, int64_t lo, int64_t hi,
                                   int* out) {
  std::optional<int64_t> v;
  if (auto e = GetInt(body, key, lo, hi, &v)) return e;
  if (v) *out = static_cast<int>(*v);
  return std::nullopt;
}

bool IsTokenId(const json& v) { return v.is_number_integer() || v.is_number_unsigned(); }

// Appends the token ids of `list` (a JSON array) to *out; `param` names the
// field in errors. Ids are range-checked against the vocabulary later.
std::optional<ApiError> TokenIdList(const json& list, const std::string& param,
                                    std::vector<int32_t>* out) {
  out->reserve(out->size() + list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    if (!IsTokenId(t)) {
      return BadRequest("'" + param + "' must be a list of token ids; element " +
                            std::to_string(i) + " is " + TypeName(t),
                        param);
    }
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    const bool in_range = t.is_number_unsigned()
                              ? t.get<uint64_t>() <= static_cast<uint64_t>(kMax)
                              : t.get<int64_t>() >= 0 && t.get<int64_t>() <= kMax;
    if (!in_range) {
      return BadRequest("token id " + t.dump() + " in '" + param + "' is out of range", param);
    }
    out->push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return std::nullopt;
}

// An optional field holding at most max_count token ids.
std::optional<ApiError> GetTokenIds(const json& body, const char* key, size_t max_count,
                                    std::vector<int32_t>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return WrongType(key, "a list of token ids", *it);
  if (it->size() > max_count) {
    return BadRequest(
        "'" + std::string(key) + "' may hold at most " + std::to_string(max_count) + " token ids",
        key);
  }
  return TokenIdList(*it, key, out);
}

// A list of token ids as one prompt; `param` names the prompt in errors.
std::optional<ApiError> ParseTokenPrompt(const json& list, const std::string& param,
                                         std::vector<int32_t>* out) {
  if (list.empty()) return BadRequest("'" + param + "' must not be empty", param);
  return TokenIdList(list, param, out);
}

// "prompt": a string, a list of token ids, or a batch (a list of strings and
// token-id lists, 1..kMaxPrompts of them), as OpenAI's and vLLM's APIs take it.
std::optional<ApiError> ParsePrompts(const json& body, ApiRequest* out) {
  constexpr const char* kShapes =
      "a string, a list of strings, a list of token ids, or a list of token-id lists";
  auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null())
    return BadRequest("'prompt' is required", "prompt");
  if (prompt->is_string()) {
    if (prompt->get_ref<const std::string&>().empty())
      return BadRequest("'prompt' must not be empty", "prompt");
    out->prompts.emplace_back(prompt->get<std::string>());
    return std::nullopt;
  }
  if (!prompt->is_array()) return WrongType("prompt", kShapes, *prompt);
  if (prompt->empty()) return BadRequest("'prompt' must not be empty", "prompt");
  if (IsTokenId((*prompt)[0])) {
    std::vector<int32_t> ids;
    if (auto e = ParseTokenPrompt(*prompt, "prompt", &ids)) return e;
    out->prompts.emplace_back(std::move(ids));
    return std::nullopt;
  }
  if (prompt->size() > static_cast<size_t>(kMaxPrompts)) {
    return BadRequest("'prompt' may hold at most " + std::to_string(kMaxPrompts) +
                          " prompts, got " + std::to_string(prompt->size()),
                      "prompt");
  }
  for (size_t i = 0; i < prompt->size(); ++i) {
    const json& p = (*prompt)[i];
    const std::string param = "prompt[" + std::to_string(i) + "]";
    if (p.is_string()) {
      if (p.get_ref<const std::string&>().empty())
        return BadRequest("'" + param + "' must not be empty", param);
      out->prompts.emplace_back(p.get<std::string>());
    } else if (p.is_array()) {
      std::vector<int32_t> ids;
      if (auto e = ParseTokenPrompt(p, param, &ids)) return e;
      out->prompts.emplace_back(std::move(ids));
    } else {
      return BadRequest("'" + param + "' must be a string or a list of token ids, got " +
                            TypeName(p) + " ('prompt' is " + kShapes + ")",
                        param);
    }
  }
  return std::nullopt;
}

// "bad_words": a list of non-empty strings (tokenized once the tokenizer is known).
std::optional<ApiError> ParseBadWords(const json& b, ApiRequest* out) {
  auto it = b.find("bad_words");
  if (it == b.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return WrongType("bad_words", "a list of strings", *it);
  if (it->size() > static_cast<size_t>(kMaxBadWords)) {
    return BadRequest("'bad_words' may hold at most " + std::to_string(kMaxBadWords) + " words",
                      "bad_words");
  }
  for (const json& w : *it) {
    if (!w.is_string()) return WrongType("bad_words", "a list of strings", *it);
    const std::string& word = w.get_ref<const std::string&>();
    if (word.find_first_not_of(" \t\n\r\f\v") == std::string::npos) {
      return BadRequest("'bad_words' entries must not be empty or only whitespace", "bad_words");
    }
    if (word.size() > kMaxBadWordBytes) {
      return BadRequest(
          "'bad_words' entries must be at most " + std::to_string(kMaxBadWordBytes) + " bytes",
          "bad_words");
    }
    out->bad_words.push_back(word);
  }
  return std::nullopt;
}

// Penalties, logit_bias, stop_token_ids, min_tokens and the stop-string options.
std::optional<ApiError> ParseLogitProcessors(const json& b, ApiRequest* out) {
  if (auto e = GetNumber(b, "repetition_penalty", 0.0, 100.0, &out->repetition_penalty)) return e;
  if (out->repetition_penalty <= 0.0) {
    return BadRequest("'repetition_penalty' must be in (0, 100], got 0", "repetition_penalty");
  }
  if (auto e = GetNumber(b, "presence_penalty", -2.0, 2.0, &out->presence_penalty)) return e;
  if (auto e = GetNumber(b, "frequency_penalty", -2.0, 2.0, &out->frequency_penalty)) return e;
  if (auto it = b.find("logit_bias"); it != b.end() && !it->is_null()) {
    if (!it->is_object()) return WrongType("logit_bias", "an object", *it);
    if (it->size() > static_cast<size_t>(kMaxLogitBias)) {
      return BadRequest(
          "'logit_bias' may hold at most " + std::to_string(kMaxLogitBias) + " tokens",
          "logit_bias");
    }
    for (auto [key, value] : it->items()) {
      const std::string where = "logit_bias." + TruncateUtf8(key, 32);
      // Keys are token ids as strings (JSON object keys), as OpenAI's are.
      int64_t id = -1;
      if (key.empty() || key.size() > 10 ||
          key.find_first_not_of("0123456789") != std::string::npos ||
          (id = std::stoll(key)) > std::numeric_limits<int32_t>::max()) {
        return BadRequest(
            "'logit_bias' keys must be token ids, got '" + TruncateUtf8(key, 32) + "'",
            "logit_bias");
      }
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < -100 ||
          value.get<double>() > 100) {
        return BadRequest("'" + where + "' must be a number in [-100, 100], got " + value.dump(),
                          "logit_bias");
      }
      out->logit_bias.push_back({static_cast<int32_t>(id), value.get<float>()});
    }
  }
  if (auto e = GetTokenIds(b, "stop_token_ids", kMaxStopTokenIds, &out->stop_token_ids)) return e;
  if (auto e =
          GetIntInto(b, "min_tokens", 0, std::numeric_limits<int32_t>::max(), &out->min_tokens))
    return e;
  if (out->max_tokens && out->min_tokens > *out->max_tokens) {
    return BadRequest("'min_tokens' (" + std::to_string(out->min_tokens) +
                          ") must not exceed 'max_tokens' (" + std::to_string(*out->max_tokens) +
                          ")",
                      "min_tokens");
  }
  if (auto e = GetBool(b, "include_stop_str_in_output", &out->include_stop_str_in_output)) return e;
  if (auto it = b.find("allowed_token_ids"); it != b.end() && !it->is_null()) {
    if (!it->is_array()) return WrongType("allowed_token_ids", "a list of token ids", *it);
    if (it->empty()) {
      return BadRequest("'allowed_token_ids' must not be empty (null allows every token)",
                        "allowed_token_ids");
    }
    if (auto e = TokenIdList(*it, "allowed_token_ids", &out->allowed_token_ids)) return e;
  }
  return ParseBadWords(b, out);
}

// Sets the request's guide from one field; refuses a second one.
std::optional<ApiError> SetGuide(const char* field, GuideKind kind, std::string spec,
                                 ApiRequest* out) {
  if (out->guide != GuideKind::kNone) {
    return BadRequest("only one structured-output constraint may be given ('" + std::string(field) +
                          "' is a second one)",
                      field);
  }
  auto compiled = grammar::CompileGuide(kind, spec);
  if (!compiled.ok()) {
    return BadRequest("'" + std::string(field) + "': " + compiled.status().message(), field);
  }
  out->guide = kind;
  out->guide_spec = std::move(spec);
  return std::nullopt;
}

// A schema given as an object, or as JSON text in a string.
std::optional<ApiError> SchemaText(const json& v, const char* field, std::string* out) {
  if (v.is_object()) {
    *out = v.dump();
  } else if (v.is_string()) {
    *out = v.get<std::string>();
  } else {
    return WrongType(field, "a JSON Schema object", v);
  }
  return std::nullopt;
}

std::optional<ApiError> ParseGuide(const json& b, ApiRequest* out) {
  if (auto it = b.find("response_format"); it != b.end() && !it->is_null()) {
    const char* f = "response_format";
    if (!it->is_object() || !it->contains("type") || !(*it)["type"].is_string())
      return BadRequest("'response_format' must be an object with a 'type'", f);
    const std::string type = (*it)["type"].get<std::string>();
    if (type == "json_object") {
      if (auto e = SetGuide(f, GuideKind::kJsonObject, "", out)) return e;
    } else if (type == "json_schema") {
      auto js = it->find("json_schema");
      if (js == it->end() || !js->is_object() || !js->contains("schema")) {
        return BadRequest("'response_format.json_schema.schema' is required for type json_schema",
                          "response_format.json_schema");
      }
      std::string spec;
      if (auto e = SchemaText((*js)["schema"], "response_format.json_schema.schema", &spec))
        return e;
      if (auto e = SetGuide(f, GuideKind::kJsonSchema, spec, out)) return e;
    } else if (type != "text") {
      return BadRequest("'response_format.type' must be text, json_object or json_schema, got '" +
                            TruncateUtf8(type, 64) + "'",
                        "response_format.type");
    }
  }
  if (auto it = b.find("guided_json"); it != b.end() && !it->is_null()) {
    std::string spec;
    if (auto e = SchemaText(*it, "guided_json", &spec)) return e;
    if (auto e = SetGuide("guided_json", GuideKind::kJsonSchema, spec, out)) return e;
  }
  if (auto it = b.find("guided_regex"); it != b.end() && !it->is_null()) {
    if (!it->is_string()) return WrongType("guided_regex", "a string", *it);
    if (auto e = SetGuide("guided_regex", GuideKind::kRegex, it->get<std::string>(), out)) return e;
  }
  if (auto it = b.find("guided_choice"); it != b.end() && !it->is_null()) {
    if (!it->is_array()) return WrongType("guided_choice", "a list of strings", *it);
    if (auto e = SetGuide("guided_choice", GuideKind::kChoice, it->dump(), out)) return e;
  }
  if (auto it = b.find("structured_outputs"); it != b.end() && !it->is_null()) {
    const char* f = "structured_outputs";
    if (!it->is_object() || it->size() != 1) {
      return BadRequest(
          "'structured_outputs' must be an object with one of json, regex, choice, json_object", f);
    }
    const std::string key = it->begin().key();
    const json& v = it->begin().value();
    if (key == "json") {
      std::string spec;
      if (auto e = SchemaText(v, "structured_outputs.json", &spec)) return e;
      return SetGuide(f, GuideKind::kJsonSchema, spec, out);
    }
    if (key == "regex" && v.is_string())
      return SetGuide(f, GuideKind::kRegex, v.get<std::string>(), out);
    if (key == "choice" && v.is_array()) return SetGuide(f, GuideKind::kChoice, v.dump(), out);
    if (key == "json_object" && v == json(true))
      return SetGuide(f, GuideKind::kJsonObject, "", out);
    return BadRequest("'structured_outputs." + TruncateUtf8(key, 64) +
                          "' is not one of json (a schema), regex (a string), choice (a list), "
                          "json_object (true)",
                      f);
  }
  return std::nullopt;
}

// Parses the body and the fields common to both endpoints.
std::optional<ApiError> ParseCommon(std::string_view text, ApiKind kind, json* body,
                                    ApiRequest* out) {
  if (!JsonDepthWithin(text, kMaxJsonDepth)) {
    return BadRequest("request body nests deeper than " + std::to_string(kMaxJsonDepth) +
                      " levels");
  }
  *body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body->is_discarded()) return BadRequest("request body is not valid JSON", "", "invalid_json");
  if (!body->is_object())
    return BadRequest("request body must be a JSON object, got " + std::string(TypeName(*body)));
  if (auto e = CheckRequestFields(*body, kind)) return e;
  *out = ApiRequest{};
  out->kind = kind;
  const json& b = *body;

  auto model = b.find("model");
  // Omitted or null: the served model (one model is served).
  if (model != b.end() && !model->is_null()) {
    if (!model->is_string()) return WrongType("model", "a string", *model);
    out->model = model->get<std::string>();
    if (out->model.empty()) return BadRequest("'model' must not be empty", "model");
  }

  std::optional<int64_t> max_tokens;
  // Completions take 0 with echo (checked once echo is parsed): the prompt alone.
  const int64_t min_max_tokens = kind == ApiKind::kCompletion ? 0 : 1;
  if (auto e =
          GetInt(b, "max_tokens", min_max_tokens, std::numeric_limits<int32_t>::max(), &max_tokens))
    return e;
  if (kind == ApiKind::kChat) {
    std::optional<int64_t> mct;
    if (auto e = GetInt(b, "max_completion_tokens", 1, std::numeric_limits<int32_t>::max(), &mct))
      return e;
    if (mct) max_tokens = mct;
  }
  out->max_tokens = max_tokens;

  if (auto e = GetNumber(b, "temperature", 0.0, 2.0, &out->temperature)) return e;
  if (auto e = GetNumber(b, "top_p", 0.0, 1.0, &out->top_p)) return e;
  if (out->top_p <= 0.0) return BadRequest("'top_p' must be in (0, 1], got 0", "top_p");
  std::optional<int64_t> top_k;
  if (auto e = GetInt(b, "top_k", -1, 1 << 20, &top_k)) return e;
  if (top_k) out->top_k = static_cast<int32_t>(std::max<int64_t>(*top_k, 0));
  if (auto e = GetNumber(b, "min_p", 0.0, 1.0, &out->min_p)) return e;
  std::optional<int64_t> seed;
  if (auto e = GetInt(b, "seed", std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max(), &seed)) {
    return e;
  }
  if (seed) out->seed = static_cast<uint64_t>(*seed);
  if (auto e = GetIntInto(b, "n", 1, kMaxChoices, &out->n)) return e;
  if (auto e = GetBool(b, "stream", &out->stream)) return e;
  if (auto e = GetBool(b, "ignore_eos", &out->ignore_eos)) return e;
  if (auto it = b.find("user"); it != b.end() && !it->is_null()) {
    if (!it->is_string()) return WrongType("user", "a string", *it);
    if (it->get_ref<const std::string&>().size() > 256)
      return BadRequest("'user' must be at most 256 bytes", "user");
    out->user = it->get<std::string>();
  }
  std::optional<int64_t> priority;
  if (auto e = GetInt(b, "priority", -1000000, 1000000, &priority)) return e;
  if (priority) out->priority = static_cast<int32_t>(*priority);
  std::optional<int64_t> truncate;
  if (auto e =
          GetInt(b, "truncate_prompt_tokens", 1, std::numeric_limits<int32_t>::max(), &truncate)) {
    return e;
  }
  if (truncate) out->truncate_prompt_tokens = static_cast<int32_t>(*truncate);
  if (auto e = GetBool(b, "return_tokens_as_token_ids", &out->return_tokens_as_token_ids)) return e;

  if (auto it = b.find("stream_options"); it != b.end() && !it->is_null()) {
    if (!it->is_object()) return WrongType("stream_options", "an object", *it);
    for (auto opt = it->begin(); opt != it->end(); ++opt) {
      if (opt.key() != "include_usage") {
        return BadRequest("unrecognized option 'stream_options." + TruncateUtf8(opt.key(), 64) +
                              "' (only include_usage)",
                          "stream_options." + TruncateUtf8(opt.key(), 64));
      }
    }
    if (auto e = GetBool(*it, "include_usage", &out->include_usage)) {
      e->param = "stream_options.include_usage";
      return e;
    }
  }

  if (auto it = b.find("stop"); it != b.end() && !it->is_null()) {
    std::vector<std::string> stops;
    if (it->is_string()) {
      stops.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      if (it->size() > static_cast<size_t>(kMaxStopStrings)) {
        return BadRequest("'stop' may hold at most " + std::to_string(kMaxStopStrings) + " strings",
                          "stop");
      }
      for (const json& s : *it) {
        if (!s.is_string()) return WrongType("stop", "a string or a list of strings", *it);
        stops.push_back(s.get<std::string>());
      }
    } else {
      return WrongType("stop", "a string or a list of strings", *it);
    }
    for (const std::string& s : stops) {
      if (s.empty()) return BadRequest("'stop' strings must not be empty", "stop");
      if (s.size() > kMaxStopBytes) {
        return BadRequest(
            "'stop' strings must be at most " + std::to_string(kMaxStopBytes) + " bytes", "stop");
      }
    }
    out->stop = std::move(stops);
  }

  if (auto e = ParseGuide(b, out)) return e;
  if (out->guide != GuideKind::kNone && out->ignore_eos) {
    return BadRequest(
        "'ignore_eos' cannot be combined with a structured-output constraint: the constraint "
        "ends the output with end-of-sequence once it is complete",
        "ignore_eos");
  }
  return ParseLogitProcessors(b, out);
}

}  // namespace

std::string PromptParam(const ApiRequest& request, size_t index) {
  return request.prompts.size() > 1 ? "prompt[" + std::to_string(index) + "]" : "prompt";
}

bool JsonDepthWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::optional<ApiError> ParseCompletionRequest(std::string_view text, ApiRequest* out) {
  json body;
  if (auto e = ParseCommon(text, ApiKind::kCompletion, &body, out)) return e;

  if (auto e = ParsePrompts(body, out)) return e;
  // Completions: logprobs is the number of alternatives (0 still returns the
  // sampled token's logprob).
  std::optional<int64_t> logprobs;
  if (auto it = body.find("logprobs"); it != body.end() && it->is_boolean()) {
    out->logprobs = it->get<bool>();
  } else {
    if (auto e = GetInt(body, "logprobs", 0, kMaxTopLogprobs, &logprobs)) return e;
    if (logprobs) {
      out->logprobs = true;
      out->top_logprobs = static_cast<int>(*logprobs);
    }
  }
  if (auto e = GetBool(body, "echo", &out->echo)) return e;
  if (out->max_tokens == 0 && !out->echo) {
    return BadRequest(
        "'max_tokens' must be at least 1; 0 is allowed only with 'echo': true, which returns the "
        "prompt alone",
        "max_tokens");
  }
  return std::nullopt;
}

std::optional<ApiError> ParseChatRequest(std::string_view text, ApiRequest* out) {
  json body;
  if (auto e = ParseCommon(text, ApiKind::kChat, &body, out)) return e;

  auto msgs = body.find("messages");
  if (msgs == body.end() || msgs->is_null())
    return BadRequest("'messages' is required", "messages");
  if (!msgs->is_array()) return WrongType("messages", "a list of messages", *msgs);
  if (msgs->empty()) return BadRequest("'messages' must not be empty", "messages");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return WrongType(where, "an object", m);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return BadRequest(where + ".role must be a string", where + ".role");
    ChatMessage cm;
    cm.role = role->get<std::string>();
    if (cm.role == "developer") cm.role = "system";
    if (cm.role != "system" && cm.role != "user" && cm.role != "assistant" && cm.role != "tool") {
      return BadRequest(where + ".role '" + TruncateUtf8(cm.role, 64) +
                            "' is not one of system, developer, user, assistant, tool",
                        where + ".role");
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      if (cm.role != "assistant")
        return BadRequest(where + ".content is required", where + ".content");
    } else if (content->is_string()) {
      cm.content = content->get<std::string>();
    } else if (content->is_array()) {
      for (const json& part : *content) {
        if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
            !part.contains("text") || !part["text"].is_string()) {
          return BadRequest(where + ".content parts must be {\"type\": \"text\", \"text\": string}",
                            where + ".content");
        }
        cm.content += part["text"].get<std::string>();
      }
    } else {
      return WrongType(where + ".content", "a string or a list of text parts", *content);
    }
    out->messages.push_back(std::move(cm));
  }
  if (auto e = GetBool(body, "logprobs", &out->logprobs)) return e;
  if (auto e = GetIntInto(body, "top_logprobs", 0, kMaxTopLogprobs, &out->top_logprobs)) return e;
  if (out->top_logprobs > 0 && !out->logprobs) {
    return BadRequest("'top_logprobs' requires 'logprobs': true", "top_logprobs");
  }
  if (auto e = GetBool(body, "add_generation_prompt", &out->add_generation_prompt)) return e;
  if (auto e = GetBool(body, "continue_final_message", &out->continue_final_message)) return e;
  if (out->continue_final_message) {
    if (out->add_generation_prompt) {
      return BadRequest(
          "'continue_final_message' and 'add_generation_prompt' cannot both be true (set "
          "'add_generation_prompt': false to continue the final message)",
          "continue_final_message");
    }
    const ChatMessage& last = out->messages.back();
    if (last.role != "assistant" || last.content.empty()) {
      return BadRequest(
          "'continue_final_message' needs the last message to be an assistant message with "
          "content",
          "continue_final_message");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> ResolveMaxNewTokens(const ApiRequest& request, int64_t prompt_len,
                                            int64_t max_context,
                                            const config::RequestLimits& limits,
                                            int32_t* max_new_tokens) {
  if (prompt_len <= 0) return BadRequest("the prompt encodes to no tokens", "input_tokens");
  if (prompt_len >= max_context) {
    return BadRequest("the prompt has " + std::to_string(prompt_len) +
                          " tokens; this model's context window is " + std::to_string(max_context) +
                          " tokens, which leaves no room to generate",
                      "input_tokens", "context_length_exceeded");
  }
  const int64_t room = max_context - prompt_len;
  if (request.max_tokens) {
    const int64_t want = *request.max_tokens;
    if (want > limits.max_tokens_limit) {
      return BadRequest("'max_tokens' is " + std::to_string(want) +
                            "; this server allows at most " +
                            std::to_string(limits.max_tokens_limit),
                        "max_tokens");
    }
    if (want > room) {
      return BadRequest("the prompt (" + std::to_string(prompt_len) +
                            " tokens) plus 'max_tokens' (" + std::to_string(want) +
                            ") exceeds the context window of " + std::to_string(max_context) +
                            " tokens",
                        "max_tokens", "context_length_exceeded");
    }
    *max_new_tokens = static_cast<int32_t>(want);
  } else {
    *max_new_tokens = static_cast<int32_t>(std::min<int64_t>(limits.max_tokens_default, room));
  }
  return std::nullopt;
}

}  // namespace skipjoin::frontend
