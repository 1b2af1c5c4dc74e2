#include "client/bench/url.h"

#include <cstdlib>

namespace skipjoin::bench {

std::string HttpUrl::HostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string HttpUrl::ToString(const std::string& path) const {
  return "http://" + HostHeader() + prefix + path;
}

Result<HttpUrl> ParseBaseUrl(const std::string& url) {
  auto bad = [&url](const std::string& why) {
    return InvalidArgument("--base-url '" + url + "': " + why +
                           " (expected http://HOST[:PORT][/PREFIX])");
  };
  const std::string scheme = "http://";
  if (url.rfind("https://", 0) == 0) return bad("https is not supported (this client has no TLS)");
  if (url.rfind(scheme, 0) != 0) return bad("must start with http://");
  std::string rest = url.substr(scheme.size());
  HttpUrl out;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  if (out.prefix.find_first_of("?# ") != std::string::npos) {
    return bad("the path may not hold a query, fragment or space");
  }
  if (authority.find('@') != std::string::npos) return bad("user info is not supported");
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed '[' in the IPv6 address");
    out.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  if (!port_text.empty() || authority.back() == ':') {
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port < 1 || port > 65535) {
      return bad("port must be a number in 1..65535");
    }
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

}  // namespace skipjoin::bench
