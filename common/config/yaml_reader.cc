#include "common/config/yaml_reader.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace skipjoin::config::internal {

std::string Where(const std::string& source, const YAML::Node& node) {
  if (!node.IsDefined()) return source;  // a default value: no line to point at
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "command line";
  return source + ":" + std::to_string(mark.line + 1);
}

Status ErrorAt(const std::string& source, const YAML::Node& node, std::string_view path,
               std::string_view what) {
  std::string msg = Where(source, node) + ": ";
  if (!path.empty()) msg += std::string(path) + ": ";
  msg += what;
  return InvalidArgument(std::move(msg));
}

namespace {
std::string Shown(const YAML::Node& node) {
  if (!node.IsScalar()) return node.IsMap() ? "a map" : node.IsSequence() ? "a list" : "nothing";
  std::string s = node.Scalar();
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return "'" + s + "'";
}
}  // namespace

Status ParseUint(const std::string& source, const YAML::Node& node, std::string_view path,
                 uint64_t max, uint64_t* out) {
  if (!node.IsScalar())
    return ErrorAt(source, node, path, "expected a non-negative integer, got " + Shown(node));
  const std::string& s = node.Scalar();
  std::string digits;
  for (char c : s) {
    if (c != '_') digits += c;  // 1_000_000 reads as 1000000
  }
  const std::string not_int = "expected a non-negative integer, got " + Shown(node);
  if (digits.empty() || digits[0] == '-') return ErrorAt(source, node, path, not_int);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  const bool whole = end == digits.data() + digits.size();
  if (whole && (ec == std::errc::result_out_of_range || (ec == std::errc() && v > max))) {
    return ErrorAt(source, node, path,
                   "value " + s + " is out of range (at most " + std::to_string(max) + ")");
  }
  if (ec != std::errc() || !whole) return ErrorAt(source, node, path, not_int);
  *out = v;
  return Status::Ok();
}

Status ParseDouble(const std::string& source, const YAML::Node& node, std::string_view path,
                   double* out) {
  if (!node.IsScalar()) return ErrorAt(source, node, path, "expected a number, got " + Shown(node));
  const std::string& s = node.Scalar();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    return ErrorAt(source, node, path, "expected a number, got " + Shown(node));
  }
  *out = v;
  return Status::Ok();
}

Status ParseBool(const std::string& source, const YAML::Node& node, std::string_view path,
                 bool* out) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true") return *out = true, Status::Ok();
    if (s == "false") return *out = false, Status::Ok();
  }
  return ErrorAt(source, node, path, "expected true or false, got " + Shown(node));
}

Status ParseString(const std::string& source, const YAML::Node& node, std::string_view path,
                   std::string* out) {
  if (!node.IsScalar()) return ErrorAt(source, node, path, "expected a string, got " + Shown(node));
  *out = node.Scalar();
  return Status::Ok();
}

MapReader::MapReader(const std::string& source, const YAML::Node& node, std::string path)
    : source_(source), node_(node), path_(std::move(path)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    status_ = ErrorAt(source_, node_, path_, "expected a map of settings, got " + Shown(node_));
  }
}

YAML::Node MapReader::Get(std::string_view key) {
  known_.insert(std::string(key));
  if (!status_.ok() || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& c = node_;  // const lookup: never inserts the key
  for (auto it = c.begin(); it != c.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool MapReader::Has(std::string_view key) {
  YAML::Node n = Get(key);
  return n.IsDefined() && !n.IsNull();
}

Status MapReader::Required(std::string_view key, std::string* out) {
  SJ_RETURN_IF_ERROR(status_);
  if (!Has(key))
    return ErrorAt(source_, node_, path_, "missing required key '" + std::string(key) + "'");
  return ParseString(source_, Get(key), Child(key), out);
}

Status MapReader::Optional(std::string_view key, std::string* out) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return Status::Ok();
  return ParseString(source_, n, Child(key), out);
}

Status MapReader::Optional(std::string_view key, std::optional<std::string>* out) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return Status::Ok();
  std::string v;
  SJ_RETURN_IF_ERROR(ParseString(source_, n, Child(key), &v));
  *out = std::move(v);
  return Status::Ok();
}

Status MapReader::Optional(std::string_view key, bool* out) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return Status::Ok();
  return ParseBool(source_, n, Child(key), out);
}

Status MapReader::Optional(std::string_view key, double* out) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return Status::Ok();
  return ParseDouble(source_, n, Child(key), out);
}

Status MapReader::Finish() {
  SJ_RETURN_IF_ERROR(status_);
  if (!node_.IsMap()) return Status::Ok();
  std::set<std::string, std::less<>> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: it-> yields a temporary
    if (!key.IsScalar()) return ErrorAt(source_, key, path_, "map keys must be plain names");
    const std::string& k = key.Scalar();
    if (!seen.insert(k).second) return ErrorAt(source_, key, path_, "duplicate key '" + k + "'");
    if (!known_.contains(k)) return ErrorAt(source_, key, path_, "unknown key '" + k + "'");
  }
  return Status::Ok();
}

}  // namespace skipjoin::config::internal
