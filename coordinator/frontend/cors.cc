#include "coordinator/frontend/cors.h"

#include <algorithm>
#include <cctype>

namespace skipjoin::frontend {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
  for (const std::string& o : origins) {
    if (o == "*") any_ = true;
    origins_.push_back(Lower(o));
  }
}

std::vector<HeaderLine> CorsPolicy::ResponseHeaders(std::string_view origin) const {
  std::vector<HeaderLine> headers;
  // Without an Origin the request did not come from a browser's cross-origin
  // fetch, and there is nothing to allow.
  if (!enabled() || origin.empty()) return headers;
  if (any_) {
    headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else {
    if (std::find(origins_.begin(), origins_.end(), Lower(origin)) == origins_.end())
      return headers;
    headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    // The answer depends on the Origin: a shared cache must not reuse it for another.
    headers.emplace_back("Vary", "Origin");
  }
  headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id");
  return headers;
}

std::vector<HeaderLine> CorsPolicy::PreflightHeaders(std::string_view origin,
                                                     std::string_view methods) const {
  std::vector<HeaderLine> headers = ResponseHeaders(origin);
  if (headers.empty()) return headers;
  headers.emplace_back("Access-Control-Allow-Methods", std::string(methods) + ", OPTIONS");
  headers.emplace_back("Access-Control-Allow-Headers", std::string(kAllowHeaders));
  headers.emplace_back("Access-Control-Max-Age", std::to_string(kMaxAgeSeconds));
  return headers;
}

}  // namespace skipjoin::frontend
