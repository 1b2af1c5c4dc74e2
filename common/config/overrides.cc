#include "common/config/overrides.h"

#include <string>
#include <vector>

namespace skipjoin::config::internal {
namespace {

// A copy of `n` without file marks (so errors say "command line").
YAML::Node Unmarked(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(n.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const YAML::Node& e : n) out.push_back(Unmarked(e));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (auto it = n.begin(); it != n.end(); ++it) out[it->first.Scalar()] = Unmarked(it->second);
      return out;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return YAML::Node(YAML::NodeType::Null);
  }
  return YAML::Node(YAML::NodeType::Null);
}

bool IsIndex(const std::string& s) {
  return !s.empty() && s.size() < 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Status ApplyOverride(YAML::Node* root, std::string_view override_text) {
  const std::string text(override_text);
  const auto bad = [&](const std::string& what) {
    return InvalidArgument("--set " + text + ": " + what);
  };
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return bad("expected key.path=value");
  const std::string key_path = text.substr(0, eq);
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    size_t dot = key_path.find('.', start);
    keys.push_back(
        key_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (keys.back().empty()) return bad("empty key in '" + key_path + "'");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  YAML::Node value;
  try {
    value = Unmarked(YAML::Load(text.substr(eq + 1)));
  } catch (const YAML::Exception& e) {
    return bad("value is not valid YAML: " + e.msg);
  }
  if (!root->IsDefined() || root->IsNull()) *root = YAML::Node(YAML::NodeType::Map);
  // Walk with fresh handles: assigning through a YAML::Node handle rebinds
  // what it refers to, so each step reads the child into a new variable.
  std::vector<YAML::Node> chain{*root};
  std::string walked;
  for (size_t i = 0; i < keys.size(); ++i) {
    YAML::Node cur = chain.back();
    const std::string& k = keys[i];
    const bool last = i + 1 == keys.size();
    if (cur.IsSequence()) {
      if (!IsIndex(k)) return bad("'" + walked + "' is a list; expected an index, got '" + k + "'");
      const size_t idx = std::stoul(k);
      if (idx >= cur.size()) {
        return bad("index " + k + " is past the end of '" + walked + "' (" +
                   std::to_string(cur.size()) + " entries)");
      }
      if (last) {
        cur[idx] = value;
        return Status::Ok();
      }
      chain.push_back(cur[idx]);
    } else {
      if (cur.IsScalar()) return bad("'" + walked + "' is a single value, not a section");
      if (cur.IsNull()) cur = YAML::Node(YAML::NodeType::Map);  // "section:" with nothing under it
      if (last) {
        cur[k] = value;
        return Status::Ok();
      }
      const YAML::Node existing = cur[k];
      if (!existing.IsDefined() || existing.IsNull()) cur[k] = YAML::Node(YAML::NodeType::Map);
      chain.push_back(cur[k]);
    }
    walked += (walked.empty() ? "" : ".") + k;
  }
  return Status::Ok();
}

}  // namespace skipjoin::config::internal
