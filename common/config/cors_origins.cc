// coordinator.cors_origins: the browser origins the HTTP API answers with
// CORS headers.
#include <algorithm>
#include <cctype>

#include "common/config/sections.h"
#include "common/config/yaml_reader.h"

namespace skipjoin::config::internal {

namespace {

// "" when `origin` (already lower case) is a serialized origin as browsers
// send it in the Origin header, "http[s]://host[:port]"; else what is wrong.
std::string OriginSyntaxError(const std::string& origin) {
  std::string_view rest = origin;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return "must be \"*\" or an origin such as https://app.example.com (scheme http or https)";
  }
  if (rest.find('/') != std::string_view::npos) {
    return "an origin has no path, not even a trailing '/' (https://app.example.com)";
  }
  std::string_view host = rest;
  std::string_view port;
  if (host.starts_with('[')) {  // IPv6 literal
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return "has a malformed IPv6 address";
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && !port.starts_with(':')) return "has text after the IPv6 address";
    if (!port.empty()) port.remove_prefix(1);
    for (char c : host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return "has a malformed IPv6 address";
    }
  } else {
    if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return "has an empty port";
    }
    if (host.empty()) return "has no host";
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
        return "has a character a host name cannot hold";
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      return "has a malformed port";
    }
    const int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return "has a port outside 1..65535";
  }
  return "";
}

}  // namespace

Status ReadCorsOrigins(const std::string& source, const YAML::Node& node,
                       std::vector<std::string>* out) {
  constexpr std::string_view kPath = "coordinator.cors_origins";
  if (!node.IsDefined() || node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) {
    return ErrorAt(source, node, kPath,
                   "expected a list of origins (https://app.example.com) or [\"*\"]");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = std::string(kPath) + "[" + std::to_string(i) + "]";
    std::string origin;
    SJ_RETURN_IF_ERROR(ParseString(source, node[i], where, &origin));
    // Scheme and host are case-insensitive; browsers send them in lower case.
    std::transform(origin.begin(), origin.end(), origin.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (origin != "*") {
      if (const std::string why = OriginSyntaxError(origin); !why.empty())
        return ErrorAt(source, node[i], where, "'" + origin + "' " + why);
    }
    if (std::find(out->begin(), out->end(), origin) != out->end())
      return ErrorAt(source, node[i], where, "'" + origin + "' is listed twice");
    out->push_back(std::move(origin));
  }
  if (out->size() > 1 && std::find(out->begin(), out->end(), "*") != out->end()) {
    return ErrorAt(source, node, kPath,
                   "\"*\" already allows every origin; list it alone or list origins");
  }
  return Status::Ok();
}

}  // namespace skipjoin::config::internal
