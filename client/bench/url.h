// The server address of `skipjoin bench serve`: http://HOST[:PORT][/PREFIX].
// Plain values; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace skipjoin::bench {

struct HttpUrl {
  std::string host;  // name or address; IPv6 without brackets
  uint16_t port = 80;
  std::string prefix;  // path before each endpoint, "" or "/..." without a trailing '/'

  // The Host header value ("host:port", IPv6 bracketed).
  std::string HostHeader() const;
  // "http://host:port" + prefix + path.
  std::string ToString(const std::string& path = "") const;
};

// Parses --base-url. Only plain http (this client has no TLS); the error says
// what is wrong and names the flag.
Result<HttpUrl> ParseBaseUrl(const std::string& url);

}  // namespace skipjoin::bench
