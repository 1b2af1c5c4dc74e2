// Tokenizer loaders: GGUF tokenizer.ggml.* metadata and Hugging Face
// tokenizer.json + tokenizer_config.json.
#include <climits>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "common/gguf.h"
#include "common/logging.h"
#include "common/model_file.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin {

namespace {

using nlohmann::json;

// Optional GGUF keys: the default when absent, an error when mistyped.
Result<int32_t> OptionalId(const GgufFile& g, const std::string& key, int32_t fallback) {
  if (!g.Has(key)) return fallback;
  SJ_ASSIGN_OR_RETURN(int64_t v, g.GetInt(key));
  if (v < -1 || v > INT32_MAX)
    return InvalidArgument(key + " = " + std::to_string(v) + " is not a token id");
  return static_cast<int32_t>(v);
}

Result<bool> OptionalBool(const GgufFile& g, const std::string& key, bool fallback) {
  if (!g.Has(key)) return fallback;
  return g.GetBool(key);
}

// An id outside the vocabulary (some converters write placeholders) means
// "none" rather than a load failure, with a warning.
int32_t CheckedId(int32_t id, size_t n, const char* what) {
  if (id >= static_cast<int64_t>(n)) {
    SJ_LOG(Warn) << "tokenizer " << what << " id " << id << " is outside the vocabulary of " << n
                 << "; ignored";
    return -1;
  }
  return id;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<json> ReadJson(const std::string& path) {
  SJ_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLoss(path + " is not valid JSON");
  return j;
}

// tokenizer_config.json writes special tokens as "text" or {"content": "text"}.
std::string TokenContent(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return "";
}

// The regex texts of HF Split pre-tokenizers this library implements.
constexpr char kLlama3Regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr char kQwen2Regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr char kGpt2Regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Maps tokenizer.json's pre_tokenizer to a pre-tokenizer name, or an error
// naming what is not supported.
Result<std::string> HfPreTokenizer(const json& pre) {
  std::vector<json> steps;
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers")) {
    for (const json& s : pre["pretokenizers"]) steps.push_back(s);
  } else if (pre.is_object()) {
    steps.push_back(pre);
  }
  bool digits = false;
  bool byte_level_regex = false;
  std::string split;
  for (const json& s : steps) {
    const std::string type = s.value("type", "");
    if (type == "Digits") {
      if (!s.value("individual_digits", false))
        return Unimplemented("Digits pre-tokenizer without individual_digits");
      digits = true;
    } else if (type == "ByteLevel") {
      byte_level_regex = s.value("use_regex", true);
    } else if (type == "Split") {
      const json& pat = s.contains("pattern") ? s["pattern"] : json();
      const std::string regex = pat.is_object() ? pat.value("Regex", "") : "";
      if (regex == kLlama3Regex) {
        split = "llama3";
      } else if (regex == kQwen2Regex) {
        split = "qwen2";
      } else if (regex == kGpt2Regex) {
        split = "gpt2";
      } else {
        return Unimplemented("unsupported Split pre-tokenizer regex: " + regex);
      }
    } else {
      return Unimplemented("unsupported pre-tokenizer type \"" + type + "\"");
    }
  }
  if (!split.empty())
    return digits ? Result<std::string>(Unimplemented("Digits with a Split regex")) : split;
  if (!byte_level_regex)
    return Unimplemented("ByteLevel pre-tokenizer without a regex is not supported");
  return std::string(digits ? "smollm" : "gpt2");
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& g) {
  auto fail = [&](const Status& s) { return s.WithContext("tokenizer metadata of " + g.path()); };
  TokenizerSpec spec;
  auto model = g.GetString("tokenizer.ggml.model");
  if (!model.ok()) return fail(model.status());
  const bool spm = *model == "llama";
  if (*model == "gpt2") {
    spec.model = TokenizerModel::kByteLevelBpe;
  } else if (spm) {
    spec.model = TokenizerModel::kSentencePiece;
  } else {
    return fail(Unimplemented("tokenizer.ggml.model \"" + *model + "\" (supported: gpt2, llama)"));
  }
  auto tokens = g.GetStringArray("tokenizer.ggml.tokens");
  if (!tokens.ok()) return fail(tokens.status());
  spec.tokens = std::move(*tokens);
  const size_t n = spec.tokens.size();
  if (g.Has("tokenizer.ggml.token_type")) {
    auto types = g.GetIntArray("tokenizer.ggml.token_type");
    if (!types.ok()) return fail(types.status());
    if (types->size() != n)
      return fail(DataLoss("tokenizer.ggml.token_type length differs from tokens"));
    spec.types.reserve(n);
    for (int64_t t : *types) {
      spec.types.push_back((t >= 0 && t <= 6) ? static_cast<TokenType>(t) : TokenType::kNormal);
    }
  }
  if (g.Has("tokenizer.ggml.scores")) {
    auto scores = g.GetFloatArray("tokenizer.ggml.scores");
    if (!scores.ok()) return fail(scores.status());
    if (scores->size() != n)
      return fail(DataLoss("tokenizer.ggml.scores length differs from tokens"));
    spec.scores.assign(scores->begin(), scores->end());
  }
  if (!spm) {
    auto merges = g.GetStringArray("tokenizer.ggml.merges");
    if (!merges.ok()) return fail(merges.status());
    spec.merges = std::move(*merges);
    if (g.Has("tokenizer.ggml.pre")) {
      auto pre = g.GetString("tokenizer.ggml.pre");
      if (!pre.ok()) return fail(pre.status());
      spec.pre = *pre;
    } else {
      spec.pre = "default";
    }
  }
  // Defaults follow the SentencePiece convention <unk>=0, <s>=1, </s>=2.
  struct IdKey {
    const char* key;
    int32_t* dst;
    int32_t fallback;
  };
  for (const IdKey& k : {IdKey{"tokenizer.ggml.bos_token_id", &spec.bos_id, spm ? 1 : -1},
                         IdKey{"tokenizer.ggml.eos_token_id", &spec.eos_id, spm ? 2 : -1},
                         IdKey{"tokenizer.ggml.unknown_token_id", &spec.unk_id, spm ? 0 : -1},
                         IdKey{"tokenizer.ggml.eot_token_id", &spec.eot_id, -1}}) {
    auto v = OptionalId(g, k.key, k.fallback);
    if (!v.ok()) return fail(v.status());
    *k.dst = CheckedId(*v, n, k.key);
  }
  for (auto [key, dst, fallback] :
       {std::tuple{"tokenizer.ggml.add_bos_token", &spec.add_bos, spm},
        std::tuple{"tokenizer.ggml.add_eos_token", &spec.add_eos, false},
        std::tuple{"tokenizer.ggml.add_space_prefix", &spec.add_space_prefix, spm}}) {
    auto v = OptionalBool(g, key, fallback);
    if (!v.ok()) return fail(v.status());
    *dst = *v;
  }
  if (g.Has("tokenizer.chat_template")) {
    auto tmpl = g.GetString("tokenizer.chat_template");
    if (!tmpl.ok()) return fail(tmpl.status());
    spec.chat_template = std::move(*tmpl);
  }
  auto tok = FromSpec(std::move(spec));
  if (!tok.ok()) return fail(tok.status());
  return tok;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHfDir(const std::string& dir) {
  const std::string tj_path = dir + "/tokenizer.json";
  SJ_ASSIGN_OR_RETURN(json tj, ReadJson(tj_path));
  json cfg = json::object();
  const std::string cfg_path = dir + "/tokenizer_config.json";
  if (std::filesystem::exists(cfg_path)) {
    SJ_ASSIGN_OR_RETURN(cfg, ReadJson(cfg_path));
  }
  auto fail = [&](const Status& s) { return s.WithContext(tj_path); };
  if (!tj.contains("model") || !tj["model"].is_object())
    return fail(DataLoss("no \"model\" object"));
  const json& model = tj["model"];
  if (model.value("type", "") != "BPE") {
    return fail(Unimplemented("model type \"" + model.value("type", "") + "\" (supported: BPE)"));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object())
    return fail(DataLoss("model.vocab is not an object"));

  TokenizerSpec spec;
  spec.model = TokenizerModel::kByteLevelBpe;
  const bool byte_fallback = model.value("byte_fallback", false);
  if (byte_fallback) {
    return fail(
        Unimplemented("SentencePiece-style (byte_fallback) tokenizer.json; use the GGUF file"));
  }
  auto pre = HfPreTokenizer(tj.contains("pre_tokenizer") ? tj["pre_tokenizer"] : json());
  if (!pre.ok()) return fail(pre.status());
  spec.pre = *pre;

  // Vocabulary: model.vocab plus added tokens (which may extend it).
  std::vector<std::pair<int64_t, std::string>> entries;
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    if (!it.value().is_number_integer())
      return fail(DataLoss("vocab id of \"" + it.key() + "\" is not an integer"));
    entries.emplace_back(it.value().get<int64_t>(), it.key());
  }
  std::vector<std::pair<int64_t, bool>> added;  // id, special
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
    for (const json& a : tj["added_tokens"]) {
      if (!a.contains("id") || !a["id"].is_number_integer() || !a.contains("content")) {
        return fail(DataLoss("malformed added_tokens entry"));
      }
      entries.emplace_back(a["id"].get<int64_t>(), a["content"].get<std::string>());
      added.emplace_back(a["id"].get<int64_t>(), a.value("special", false));
    }
  }
  int64_t max_id = -1;
  for (const auto& [id, text] : entries) {
    if (id < 0 || id > (1 << 24))
      return fail(DataLoss("token id " + std::to_string(id) + " out of range"));
    max_id = std::max(max_id, id);
  }
  spec.tokens.assign(static_cast<size_t>(max_id + 1), "");
  spec.types.assign(spec.tokens.size(), TokenType::kUnused);
  for (const auto& [id, text] : entries) {
    spec.tokens[id] = text;
    spec.types[id] = TokenType::kNormal;
  }
  for (const auto& [id, special] : added)
    spec.types[id] = special ? TokenType::kControl : TokenType::kUserDefined;

  if (model.contains("merges") && model["merges"].is_array()) {
    for (const json& m : model["merges"]) {
      if (m.is_string()) {
        spec.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        spec.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return fail(DataLoss("malformed merges entry"));
      }
    }
  }
  if (model.value("ignore_merges", false) && spec.pre != "llama3") {
    SJ_LOG(Warn) << tj_path << ": ignore_merges is only honoured for the llama3 pre-tokenizer";
  }

  auto id_of = [&](const json& v) -> int32_t {
    const std::string text = TokenContent(v);
    if (text.empty()) return -1;
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      if (spec.tokens[i] == text) return static_cast<int32_t>(i);
    }
    return -1;
  };
  if (cfg.contains("bos_token")) spec.bos_id = id_of(cfg["bos_token"]);
  if (cfg.contains("eos_token")) spec.eos_id = id_of(cfg["eos_token"]);
  if (cfg.contains("unk_token")) spec.unk_id = id_of(cfg["unk_token"]);
  spec.add_bos = cfg.value("add_bos_token", false) && spec.bos_id >= 0;
  spec.add_eos = cfg.value("add_eos_token", false) && spec.eos_id >= 0;
  if (cfg.contains("chat_template")) {
    const json& ct = cfg["chat_template"];
    if (ct.is_string()) {
      spec.chat_template = ct.get<std::string>();
    } else if (ct.is_array()) {  // [{"name": "default", "template": "..."}, ...]
      for (const json& e : ct) {
        if (e.is_object() && e.value("name", "") == "default")
          spec.chat_template = e.value("template", "");
      }
    }
  }
  auto tok = FromSpec(std::move(spec));
  if (!tok.ok()) return fail(tok.status());
  return tok;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromModelFile(const ModelFile& model) {
  if (const GgufFile* g = model.gguf()) return FromGguf(*g);
  std::filesystem::path p(model.path());
  std::error_code ec;
  const std::string dir =
      std::filesystem::is_directory(p, ec) ? p.string() : p.parent_path().string();
  return FromHfDir(dir);
}

}  // namespace skipjoin
