// The JSON Schema subset of grammar.h CompileJsonSchema, compiled into grammar
// rules (json_grammar.h building blocks). Each schema location becomes one
// rule; $ref targets are compiled once, so recursive schemas are recursive
// rules.
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/grammar/automaton.h"
#include "common/grammar/charset.h"
#include "common/grammar/grammar.h"
#include "common/grammar/json_grammar.h"
#include "common/grammar/regex.h"

namespace skipjoin::grammar {
namespace {

using internal::ExprId;
using internal::GrammarBuilder;
using internal::kUnbounded;
using json = nlohmann::ordered_json;

constexpr int kMaxSchemaDepth = 64;
constexpr int64_t kMaxSchemaCount = 1000;  // minLength, maxLength, minItems, maxItems, prefixItems

// Keywords that only annotate: accepted, no effect on what is generated.
const std::set<std::string>& Annotations() {
  static const std::set<std::string> k = {"title",    "description", "default",  "examples",
                                          "$schema",  "$id",         "$comment", "deprecated",
                                          "readOnly", "writeOnly",   "$defs",    "definitions"};
  return k;
}

const std::set<std::string>& Supported() {
  static const std::set<std::string> k = {
      "type",    "properties",  "required",  "additionalProperties",
      "items",   "prefixItems", "minItems",  "maxItems",
      "enum",    "const",       "anyOf",     "oneOf",
      "allOf",   "$ref",        "minLength", "maxLength",
      "pattern", "format",      "minimum"};
  return k;
}

// Full-match regexes for the supported string formats.
const std::map<std::string, std::string>& Formats() {
  static const std::string kDate = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
  static const std::string kTime =
      "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?"
      "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
  static const std::map<std::string, std::string> k = {
      {"date", kDate},
      {"time", kTime},
      {"date-time", kDate + "[Tt]" + kTime},
      {"uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"},
      {"ipv4",
       "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
       "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"},
  };
  return k;
}

std::string Where(const std::string& path) { return path.empty() ? "/" : path; }

std::string EscapePointer(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

class SchemaCompiler {
 public:
  SchemaCompiler(const json& root, GrammarBuilder* b) : root_(root), b_(b), rules_(b) {}

  Result<int32_t> Compile(const json& s, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) {
      return InvalidArgument("schema nested deeper than " + std::to_string(kMaxSchemaDepth) +
                             " levels at " + Where(path));
    }
    if (s.is_boolean()) {
      if (s.get<bool>()) return rules_.AnyValue();
      return InvalidArgument("schema 'false' at " + Where(path) + " can never be satisfied");
    }
    if (!s.is_object()) {
      return InvalidArgument("schema at " + Where(path) + " must be an object or a boolean");
    }
    SJ_RETURN_IF_ERROR(CheckKeywords(s, path));
    if (s.contains("$ref")) return CompileRef(s, path, depth);
    if (s.contains("allOf")) {
      const json& all = s["allOf"];
      SJ_RETURN_IF_ERROR(OnlyWith(s, path, "allOf", {}));
      if (!all.is_array() || all.size() != 1) {
        return InvalidArgument("'allOf' at " + Where(path) +
                               " is supported only with exactly one schema");
      }
      return Compile(all[0], path + "/allOf/0", depth + 1);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      SJ_RETURN_IF_ERROR(OnlyWith(s, path, key, {}));
      const json& alts = s[key];
      if (!alts.is_array() || alts.empty()) {
        return InvalidArgument(std::string("'") + key + "' at " + Where(path) +
                               " must be a non-empty array of schemas");
      }
      std::vector<ExprId> calls;
      for (size_t i = 0; i < alts.size(); ++i) {
        SJ_ASSIGN_OR_RETURN(
            int32_t r, Compile(alts[i], path + "/" + key + "/" + std::to_string(i), depth + 1));
        calls.push_back(b_->Call(r));
      }
      return NewRule(path, b_->Alt(std::move(calls)));
    }
    SJ_ASSIGN_OR_RETURN(std::set<std::string> types, Types(s, path));
    if (s.contains("enum") || s.contains("const")) return CompileLiterals(s, path, types);
    if (types.size() == 7) return rules_.AnyValue();
    std::vector<int32_t> rules;
    for (const std::string& t : types) {
      if (t == "integer" && types.count("number")) continue;
      SJ_ASSIGN_OR_RETURN(int32_t r, CompileType(s, t, path, depth));
      rules.push_back(r);
    }
    if (rules.size() == 1) return rules[0];
    std::vector<ExprId> calls;
    for (int32_t r : rules) calls.push_back(b_->Call(r));
    return NewRule(path, b_->Alt(std::move(calls)));
  }

 private:
  int32_t NewRule(const std::string& path, ExprId body) {
    const int32_t r = b_->AddRule(Where(path));
    b_->SetBody(r, body);
    return r;
  }

  Status CheckKeywords(const json& s, const std::string& path) {
    for (const auto& [key, value] : s.items()) {
      if (Annotations().count(key) || Supported().count(key)) continue;
      return InvalidArgument("unsupported JSON Schema keyword '" + key + "' at " + Where(path));
    }
    for (const char* defs : {"$defs", "definitions"}) {
      if (s.contains(defs) && !s[defs].is_object()) {
        return InvalidArgument(std::string("'") + defs + "' at " + Where(path) +
                               " must be an object");
      }
    }
    return Status::Ok();
  }

  // `key` cannot be combined with other validation keywords (but `allowed`).
  Status OnlyWith(const json& s, const std::string& path, const std::string& key,
                  const std::set<std::string>& allowed) {
    for (const auto& [other, value] : s.items()) {
      if (other == key || Annotations().count(other) || allowed.count(other)) continue;
      return InvalidArgument("'" + key + "' combined with '" + other + "' at " + Where(path) +
                             " is not supported");
    }
    return Status::Ok();
  }

  Result<int32_t> CompileRef(const json& s, const std::string& path, int depth) {
    SJ_RETURN_IF_ERROR(OnlyWith(s, path, "$ref", {}));
    if (!s["$ref"].is_string()) {
      return InvalidArgument("'$ref' at " + Where(path) + " must be a string");
    }
    const std::string ref = s["$ref"].get<std::string>();
    if (ref.empty() || ref[0] != '#') {
      return InvalidArgument("$ref '" + ref + "' at " + Where(path) +
                             " is not supported (only references inside the schema, \"#...\")");
    }
    const std::string pointer = ref.substr(1);
    auto it = refs_.find(pointer);
    if (it != refs_.end()) return it->second;
    const json* target = nullptr;
    try {
      const json::json_pointer ptr(pointer);
      if (root_.contains(ptr)) target = &root_.at(ptr);
    } catch (const json::exception&) {
    }
    if (target == nullptr) {
      return InvalidArgument("$ref '" + ref + "' at " + Where(path) + " does not resolve");
    }
    const int32_t rule = b_->AddRule(pointer.empty() ? "/" : pointer);
    refs_.emplace(pointer, rule);
    SJ_ASSIGN_OR_RETURN(int32_t body, Compile(*target, pointer, depth + 1));
    b_->SetBody(rule, b_->Call(body));
    return rule;
  }

  Result<std::set<std::string>> Types(const json& s, const std::string& path) {
    static const std::set<std::string> kAll = {"object",  "array",   "string", "number",
                                               "integer", "boolean", "null"};
    std::set<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      std::vector<json> names = t.is_array() ? t.get<std::vector<json>>() : std::vector<json>{t};
      for (const json& n : names) {
        if (!n.is_string() || !kAll.count(n.get<std::string>())) {
          return InvalidArgument("'type' at " + Where(path) + " must be one of object, array, " +
                                 "string, number, integer, boolean, null (or an array of them)");
        }
        types.insert(n.get<std::string>());
      }
      if (types.empty()) return InvalidArgument("'type' at " + Where(path) + " is empty");
      return types;
    }
    auto any = [&](std::initializer_list<const char*> keys) {
      for (const char* k : keys) {
        if (s.contains(k)) return true;
      }
      return false;
    };
    if (any({"properties", "required", "additionalProperties"})) types.insert("object");
    if (any({"items", "prefixItems", "minItems", "maxItems"})) types.insert("array");
    if (any({"minLength", "maxLength", "pattern", "format"})) types.insert("string");
    if (any({"minimum"})) types.insert("number");
    return types.empty() ? kAll : types;
  }

  Result<int32_t> CompileLiterals(const json& s, const std::string& path,
                                  const std::set<std::string>& types) {
    const bool is_enum = s.contains("enum");
    const char* key = is_enum ? "enum" : "const";
    SJ_RETURN_IF_ERROR(OnlyWith(s, path, key, {"type"}));
    if (is_enum && (!s["enum"].is_array() || s["enum"].empty())) {
      return InvalidArgument("'enum' at " + Where(path) + " must be a non-empty array");
    }
    const json values = is_enum ? s["enum"] : json::array({s["const"]});
    std::vector<ExprId> alts;
    for (const json& v : values) {
      const std::string t = v.is_object()           ? "object"
                            : v.is_array()          ? "array"
                            : v.is_string()         ? "string"
                            : v.is_number_integer() ? "integer"
                            : v.is_number()         ? "number"
                            : v.is_boolean()        ? "boolean"
                                                    : "null";
      const bool allowed = types.count(t) || (t == "integer" && types.count("number"));
      if (allowed) alts.push_back(b_->Literal(v.dump()));
    }
    if (alts.empty()) {
      return InvalidArgument(std::string("no '") + key + "' value at " + Where(path) +
                             " has an allowed 'type'");
    }
    return NewRule(path, b_->Alt(std::move(alts)));
  }

  // A non-negative count keyword, at most kMaxSchemaCount; -1 when absent.
  Result<int64_t> Count(const json& s, const std::string& path, const char* key) {
    if (!s.contains(key)) return int64_t{-1};
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      return InvalidArgument(std::string("'") + key + "' at " + Where(path) +
                             " must be a non-negative integer");
    }
    if (v.get<int64_t>() > kMaxSchemaCount) {
      return InvalidArgument(std::string("'") + key + "' " + v.dump() + " at " + Where(path) +
                             " is above the supported limit of " + std::to_string(kMaxSchemaCount));
    }
    return v.get<int64_t>();
  }

  Result<int32_t> CompileType(const json& s, const std::string& t, const std::string& path,
                              int depth) {
    if (t == "null") return rules_.Null();
    if (t == "boolean") return rules_.Boolean();
    if (t == "number" || t == "integer") {
      bool non_negative = false;
      if (s.contains("minimum")) {
        if (!s["minimum"].is_number() || s["minimum"].get<double>() != 0) {
          return InvalidArgument("'minimum' at " + Where(path) +
                                 " is supported only as 0 (minimum/maximum bounds are not)");
        }
        non_negative = true;
      }
      return rules_.Number(t == "integer", non_negative);
    }
    if (t == "string") return CompileString(s, path);
    if (t == "object") return CompileObject(s, path, depth);
    return CompileArray(s, path, depth);
  }

  Result<int32_t> CompileString(const json& s, const std::string& path) {
    SJ_ASSIGN_OR_RETURN(int64_t min, Count(s, path, "minLength"));
    SJ_ASSIGN_OR_RETURN(int64_t max, Count(s, path, "maxLength"));
    const bool lengths = min >= 0 || max >= 0;
    std::string regex;
    internal::RegexAnchoring anchoring = internal::RegexAnchoring::kSearch;
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) {
        return InvalidArgument("'pattern' at " + Where(path) + " must be a string");
      }
      regex = s["pattern"].get<std::string>();
    }
    if (s.contains("format")) {
      const json& f = s["format"];
      auto it = f.is_string() ? Formats().find(f.get<std::string>()) : Formats().end();
      if (it == Formats().end()) {
        return InvalidArgument("unsupported 'format' " + f.dump() + " at " + Where(path) +
                               " (supported: date, time, date-time, uuid, ipv4)");
      }
      if (s.contains("pattern")) {
        return InvalidArgument("'format' combined with 'pattern' at " + Where(path) +
                               " is not supported");
      }
      regex = it->second;
      anchoring = internal::RegexAnchoring::kFullMatch;
    }
    const bool has_regex = s.contains("pattern") || s.contains("format");
    if (has_regex && lengths) {
      return InvalidArgument(std::string("'") + (s.contains("pattern") ? "pattern" : "format") +
                             "' combined with 'minLength'/'maxLength' at " + Where(path) +
                             " is not supported");
    }
    if (!has_regex && !lengths) return rules_.String();
    ExprId body;
    if (has_regex) {
      auto parsed = internal::ParseRegex(regex, anchoring, internal::CharEncoding::kJsonString, b_);
      if (!parsed.ok()) {
        return InvalidArgument("'" + std::string(s.contains("pattern") ? "pattern" : "format") +
                               "' at " + Where(path) + ": " + parsed.status().message());
      }
      body = *parsed;
    } else {
      if (max >= 0 && min > max) {
        return InvalidArgument("'minLength' above 'maxLength' at " + Where(path));
      }
      body = b_->Repeat(internal::JsonStringCharExpr(b_),
                        static_cast<int32_t>(std::max<int64_t>(min, 0)),
                        max < 0 ? kUnbounded : static_cast<int32_t>(max));
    }
    return rules_.QuotedRule(body, Where(path));
  }

  Result<int32_t> CompileObject(const json& s, const std::string& path, int depth) {
    if (s.contains("additionalProperties") && !s["additionalProperties"].is_boolean()) {
      return InvalidArgument("'additionalProperties' with a schema at " + Where(path) +
                             " is not supported (use false)");
    }
    const bool closed = s.value("additionalProperties", true) == false;
    if (s.contains("properties") && !s["properties"].is_object()) {
      return InvalidArgument("'properties' at " + Where(path) + " must be an object");
    }
    std::set<std::string> required;
    if (s.contains("required")) {
      const json& r = s["required"];
      if (!r.is_array()) {
        return InvalidArgument("'required' at " + Where(path) + " must be an array of strings");
      }
      for (const json& name : r) {
        if (!name.is_string()) {
          return InvalidArgument("'required' at " + Where(path) + " must be an array of strings");
        }
        if (!s.contains("properties") || !s["properties"].contains(name.get<std::string>())) {
          return InvalidArgument("required property '" + name.get<std::string>() + "' at " +
                                 Where(path) + " is not in 'properties'");
        }
        required.insert(name.get<std::string>());
      }
    }
    if (!s.contains("properties") && !closed) return rules_.AnyObject();
    // Rule first, so that a property referring back here through $ref works.
    const int32_t rule = b_->AddRule(Where(path));
    std::vector<std::string> keys;
    std::vector<int32_t> values;
    std::vector<bool> req;
    if (s.contains("properties")) {
      for (const auto& [name, sub] : s["properties"].items()) {
        SJ_ASSIGN_OR_RETURN(int32_t v,
                            Compile(sub, path + "/properties/" + EscapePointer(name), depth + 1));
        keys.push_back(json(name).dump());
        values.push_back(v);
        req.push_back(required.count(name) != 0);
      }
    }
    b_->SetBody(rule, rules_.Object(keys, values, req));
    return rule;
  }

  Result<int32_t> CompileArray(const json& s, const std::string& path, int depth) {
    SJ_ASSIGN_OR_RETURN(int64_t min, Count(s, path, "minItems"));
    SJ_ASSIGN_OR_RETURN(int64_t max, Count(s, path, "maxItems"));
    min = std::max<int64_t>(min, 0);
    std::vector<int32_t> prefix;
    if (s.contains("prefixItems")) {
      const json& p = s["prefixItems"];
      if (!p.is_array()) {
        return InvalidArgument("'prefixItems' at " + Where(path) + " must be an array of schemas");
      }
      if (static_cast<int64_t>(p.size()) > kMaxSchemaCount) {
        return InvalidArgument("'prefixItems' at " + Where(path) + " has more than " +
                               std::to_string(kMaxSchemaCount) + " schemas");
      }
      for (size_t i = 0; i < p.size(); ++i) {
        SJ_ASSIGN_OR_RETURN(int32_t r,
                            Compile(p[i], path + "/prefixItems/" + std::to_string(i), depth + 1));
        prefix.push_back(r);
      }
    }
    int32_t items = -1;
    if (!s.contains("items")) {
      if (prefix.empty()) items = rules_.AnyValue();
    } else if (!(s["items"].is_boolean() && !s["items"].get<bool>())) {
      SJ_ASSIGN_OR_RETURN(items, Compile(s["items"], path + "/items", depth + 1));
    }
    const int64_t k = static_cast<int64_t>(prefix.size());
    if (items < 0) max = max < 0 ? k : std::min(max, k);
    if (max >= 0 && min > max) {
      return InvalidArgument("array at " + Where(path) + " cannot have " + std::to_string(min) +
                             " items (at most " + std::to_string(max) + ")");
    }
    const int32_t rule = b_->AddRule(Where(path));
    b_->SetBody(rule, rules_.Array(prefix, items, static_cast<int32_t>(min),
                                   max < 0 ? kUnbounded : static_cast<int32_t>(max)));
    return rule;
  }

  const json& root_;
  GrammarBuilder* b_;
  internal::JsonRules rules_;
  std::map<std::string, int32_t> refs_;  // JSON pointer -> rule
};

}  // namespace

Result<GrammarPtr> CompileJsonSchema(std::string_view schema_json) {
  // ordered_json keeps "properties" in the order the schema lists them.
  json ordered = json::parse(schema_json, nullptr, false);
  if (ordered.is_discarded()) return InvalidArgument("JSON Schema is not valid JSON");
  GrammarBuilder b;
  SchemaCompiler compiler(ordered, &b);
  SJ_ASSIGN_OR_RETURN(int32_t root, compiler.Compile(ordered, "", 0));
  return internal::MakeGrammar(&b, root);
}

Result<GrammarPtr> CompileJsonObject() {
  GrammarBuilder b;
  internal::JsonRules rules(&b);
  return internal::MakeGrammar(&b, rules.AnyObject());
}

}  // namespace skipjoin::grammar
