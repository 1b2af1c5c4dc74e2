// A small command-line flag parser for the skipjoin subcommands: --name value,
// --name=value, and boolean --name. Unknown flags and missing or malformed
// values are errors that name the flag. Plain value type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace skipjoin {

class FlagSet {
 public:
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  // Declares a flag; help is one line. Defaults are shown in --help.
  void String(const std::string& name, std::string* target, const std::string& help);
  void Int(const std::string& name, int64_t* target, const std::string& help);
  void Double(const std::string& name, double* target, const std::string& help);
  void Bool(const std::string& name, bool* target, const std::string& help);
  // Flags without a default: *target stays empty unless the flag is given.
  void String(const std::string& name, std::optional<std::string>* target, const std::string& help);
  void Int(const std::string& name, std::optional<int64_t>* target, const std::string& help);

  // Parses args (without the program and subcommand names). Positional
  // arguments are collected in positional(). `--help` sets help_requested().
  Status Parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }
  // Flags given explicitly on the command line.
  bool WasSet(const std::string& name) const { return set_.count(name) != 0; }
  std::string Help() const;

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kOptionalString, kOptionalInt };
  struct Flag {
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
  };
  std::string usage_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::vector<std::string> positional_;
  std::map<std::string, bool> set_;
  bool help_ = false;
};

// Splits the repeatable config overrides ("--set k=v" and "--set=k=v") from
// the other arguments (FlagSet keeps one value per flag): returns the
// overrides in order and leaves the rest in *rest.
std::vector<std::string> TakeConfigOverrides(const std::vector<std::string>& args,
                                             std::vector<std::string>* rest);
// The --help line of --set, for commands that take TakeConfigOverrides.
inline constexpr const char* kSetFlagHelp =
    "  --set key=value         override a key of the cluster config (repeatable; "
    "docs/CONFIGURATION.md)\n";

// The default model: $SKIPJOIN_MODEL_PATH, else
// ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/models/SmolLM2-135M-Instruct.Q4_1.gguf
// (what scripts/fetch_model.sh writes).
std::string DefaultModelPath();

}  // namespace skipjoin
