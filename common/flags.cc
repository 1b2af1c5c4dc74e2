#include "common/flags.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace skipjoin {

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  flags_[name] = {Kind::kString, target, help, *target};
  order_.push_back(name);
}
void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help) {
  flags_[name] = {Kind::kInt, target, help, std::to_string(*target)};
  order_.push_back(name);
}
void FlagSet::Double(const std::string& name, double* target, const std::string& help) {
  std::ostringstream os;
  os << *target;
  flags_[name] = {Kind::kDouble, target, help, os.str()};
  order_.push_back(name);
}
void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  flags_[name] = {Kind::kBool, target, help, *target ? "true" : "false"};
  order_.push_back(name);
}

void FlagSet::String(const std::string& name, std::optional<std::string>* target,
                     const std::string& help) {
  flags_[name] = {Kind::kOptionalString, target, help, ""};
  order_.push_back(name);
}
void FlagSet::Int(const std::string& name, std::optional<int64_t>* target,
                  const std::string& help) {
  flags_[name] = {Kind::kOptionalInt, target, help, ""};
  order_.push_back(name);
}

Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) return InvalidArgument("unknown flag --" + name + " (see --help)");
    Flag& f = it->second;
    if (f.kind == Kind::kBool) {
      if (!has_value) {
        *static_cast<bool*>(f.target) = true;
      } else if (value == "true" || value == "1") {
        *static_cast<bool*>(f.target) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(f.target) = false;
      } else {
        return InvalidArgument("flag --" + name + " takes true or false, got '" + value + "'");
      }
      set_[name] = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return InvalidArgument("flag --" + name + " needs a value");
      value = args[++i];
    }
    switch (f.kind) {
      case Kind::kString:
        *static_cast<std::string*>(f.target) = value;
        break;
      case Kind::kOptionalString:
        *static_cast<std::optional<std::string>*>(f.target) = value;
        break;
      case Kind::kInt:
      case Kind::kOptionalInt: {
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || errno != 0) {
          return InvalidArgument("flag --" + name + " takes an integer, got '" + value + "'");
        }
        if (f.kind == Kind::kInt) {
          *static_cast<int64_t*>(f.target) = v;
        } else {
          *static_cast<std::optional<int64_t>*>(f.target) = v;
        }
        break;
      }
      case Kind::kDouble: {
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || errno != 0) {
          return InvalidArgument("flag --" + name + " takes a number, got '" + value + "'");
        }
        *static_cast<double*>(f.target) = v;
        break;
      }
      case Kind::kBool:
        break;
    }
    set_[name] = true;
  }
  return Status::Ok();
}

std::string FlagSet::Help() const {
  std::ostringstream os;
  os << usage_ << "\n\nFlags:\n";
  for (const std::string& name : order_) {
    const Flag& f = flags_.at(name);
    std::string left = "  --" + name;
    if (f.kind != Kind::kBool) left += " VALUE";
    os << left;
    if (left.size() < 26)
      os << std::string(26 - left.size(), ' ');
    else
      os << "\n" << std::string(26, ' ');
    os << f.help;
    if (!f.default_text.empty() && f.kind != Kind::kBool)
      os << " (default: " << f.default_text << ")";
    os << "\n";
  }
  return os.str();
}

std::vector<std::string> TakeConfigOverrides(const std::vector<std::string>& args,
                                             std::vector<std::string>* rest) {
  std::vector<std::string> sets;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--set" && i + 1 < args.size()) {
      sets.push_back(args[++i]);
    } else if (args[i].rfind("--set=", 0) == 0) {
      sets.push_back(args[i].substr(6));
    } else {
      rest->push_back(args[i]);
    }
  }
  return sets;
}

std::string DefaultModelPath() {
  if (const char* p = std::getenv("SKIPJOIN_MODEL_PATH"); p != nullptr && *p != '\0') return p;
  std::string cache;
  if (const char* c = std::getenv("SKIPJOIN_CACHE"); c != nullptr && *c != '\0') {
    cache = c;
  } else {
    const char* home = std::getenv("HOME");
    cache = std::string(home ? home : ".") + "/.cache/skipjoin";
  }
  return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace skipjoin
