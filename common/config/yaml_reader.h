// Internal to skipjoin_config: strict, line-aware reading of YAML maps.
//
// A MapReader wraps one YAML map. Each Required/Optional call names a key it
// knows; Finish() then rejects any key nobody asked for, so a typo such as
// `tokn_budget` is an error at its own line instead of a silently ignored
// setting. Errors read "file:line: path.to.key: what is wrong".
// Thread-compatible.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skipjoin::config::internal {

// "file:line" for a node read from the file, "command line" for one that a
// --set override created (such nodes carry no mark).
std::string Where(const std::string& source, const YAML::Node& node);

// InvalidArgument("<where>: <path>: <what>").
Status ErrorAt(const std::string& source, const YAML::Node& node, std::string_view path,
               std::string_view what);

// Scalar conversions; error text names the expected type.
Status ParseUint(const std::string& source, const YAML::Node& node, std::string_view path,
                 uint64_t max, uint64_t* out);
Status ParseDouble(const std::string& source, const YAML::Node& node, std::string_view path,
                   double* out);
Status ParseBool(const std::string& source, const YAML::Node& node, std::string_view path,
                 bool* out);
Status ParseString(const std::string& source, const YAML::Node& node, std::string_view path,
                   std::string* out);

class MapReader {
 public:
  // `node` must be a map or null (an empty section); anything else is an error
  // reported by status().
  MapReader(const std::string& source, const YAML::Node& node, std::string path);

  const Status& status() const { return status_; }
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  std::string Child(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // The value of `key` (a null node when absent), marking the key as known.
  YAML::Node Get(std::string_view key);
  bool Has(std::string_view key);

  // Each leaves *out unchanged when the key is absent or null; Required then errs.
  Status Required(std::string_view key, std::string* out);
  Status Optional(std::string_view key, std::string* out);
  Status Optional(std::string_view key, std::optional<std::string>* out);
  Status Optional(std::string_view key, bool* out);
  Status Optional(std::string_view key, double* out);
  template <typename U>
  Status Optional(std::string_view key, U* out) {  // unsigned integers
    YAML::Node n = Get(key);
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    uint64_t v = 0;
    SJ_RETURN_IF_ERROR(
        ParseUint(source_, n, Child(key), static_cast<uint64_t>(static_cast<U>(-1)), &v));
    *out = static_cast<U>(v);
    return Status::Ok();
  }
  template <typename U>
  Status Optional(std::string_view key, std::optional<U>* out) {
    YAML::Node n = Get(key);
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    U v{};
    SJ_RETURN_IF_ERROR(Optional(key, &v));
    *out = v;
    return Status::Ok();
  }

  // Rejects keys that were never asked for, and duplicate keys.
  Status Finish();

 private:
  const std::string& source_;
  YAML::Node node_;
  std::string path_;
  Status status_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace skipjoin::config::internal
