#include "client/launch_options.h"

#include <cstdio>

namespace skipjoin::cli {

std::string YamlQuoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20 || b == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", b);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::vector<std::string> LaunchKeyOverrides(const LaunchKeyFlags& flags) {
  std::vector<std::string> sets;
  if (flags.model) sets.push_back("model.path=" + YamlQuoted(*flags.model));
  if (flags.http_port) sets.push_back("coordinator.http_port=" + std::to_string(*flags.http_port));
  if (flags.api_key) sets.push_back("coordinator.api_key=" + YamlQuoted(*flags.api_key));
  return sets;
}

}  // namespace skipjoin::cli
