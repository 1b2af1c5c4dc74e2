// Cross-origin resource sharing for the HTTP API: which browser origins may
// call it (coordinator.cors_origins) and the Access-Control-* headers that
// say so. Off (no origins) by default: then no response carries any.
//
// Thread-safety: immutable once built; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skipjoin::frontend {

// One response header, name and value.
using HeaderLine = std::pair<std::string, std::string>;

class CorsPolicy {
 public:
  // The headers a browser may send on an API request (Access-Control-Allow-Headers).
  static constexpr std::string_view kAllowHeaders = "Authorization, Content-Type, X-Request-Id";
  // How long a browser may cache a preflight answer, seconds (Access-Control-Max-Age).
  static constexpr int kMaxAgeSeconds = 600;

  // `origins`: "scheme://host[:port]" entries, or "*" for any origin; the
  // config checked their form. Compared without regard to case.
  explicit CorsPolicy(std::vector<std::string> origins);

  bool enabled() const { return !origins_.empty(); }

  // Headers for a response to a request whose Origin header is `origin`
  // ("" when it sent none): Access-Control-Allow-Origin (the origin itself,
  // with Vary: Origin, or "*" when any origin is allowed) and
  // Access-Control-Expose-Headers (X-Request-Id). None when CORS is off or
  // the origin is not allowed.
  std::vector<HeaderLine> ResponseHeaders(std::string_view origin) const;

  // Headers for the answer to a preflight OPTIONS request on a path that
  // serves `methods` ("GET" or "POST"): ResponseHeaders plus
  // Access-Control-Allow-Methods/-Headers/-Max-Age. None when not allowed.
  std::vector<HeaderLine> PreflightHeaders(std::string_view origin, std::string_view methods) const;

 private:
  bool any_ = false;                  // "*" is listed
  std::vector<std::string> origins_;  // lower case
};

}  // namespace skipjoin::frontend
