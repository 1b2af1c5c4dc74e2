#include "common/net_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>

namespace skipjoin {
namespace {

bool IsIpv4(std::string_view host) {
  in_addr a{};
  return inet_pton(AF_INET, std::string(host).c_str(), &a) == 1;
}

bool IsHostName(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // an absolute name
  if (host.empty() || host.size() > 253) return false;
  while (true) {
    const size_t dot = host.find('.');
    const std::string_view label = host.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    host.remove_prefix(dot + 1);
  }
}

}  // namespace

bool IsWildcardHost(std::string_view host) { return host == "0.0.0.0" || host == "*"; }

std::string HostSyntaxError(std::string_view host) {
  if (host.empty()) return "must not be empty";
  if (IsIpv4(host)) return "";
  // Digits and dots only, yet not an address: a typo, not a name.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos)
    return "'" + std::string(host) + "' is not an IPv4 address";
  if (IsHostName(host)) return "";
  const bool looks_like_endpoint =
      host.find(':') != std::string_view::npos || host.find('/') != std::string_view::npos;
  return "'" + std::string(host) + "' is not an IPv4 address or host name" +
         (looks_like_endpoint ? " (give the address alone, without a scheme or port)" : "");
}

Result<std::string> ResolveBindHost(const std::string& host) {
  if (IsWildcardHost(host)) return std::string("0.0.0.0");
  if (IsIpv4(host)) return host;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &ai); rc != 0) {
    return InvalidArgument("cannot resolve host name '" + host +
                           "' to an IPv4 address to bind: " + gai_strerror(rc));
  }
  char text[INET_ADDRSTRLEN] = {};
  const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
  inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
  freeaddrinfo(ai);
  return std::string(text);
}

}  // namespace skipjoin
