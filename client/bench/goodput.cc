#include "client/bench/goodput.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace skipjoin::bench {

Result<GoodputSlo> ParseGoodput(const std::string& spec) {
  GoodputSlo slo;
  size_t pos = 0;
  while (pos < spec.size()) {
    const size_t start = spec.find_first_not_of(" ,", pos);
    if (start == std::string::npos) break;
    size_t end = spec.find_first_of(" ,", start);
    if (end == std::string::npos) end = spec.size();
    pos = end;
    const std::string item = spec.substr(start, end - start);
    const size_t colon = item.find(':');
    if (colon == std::string::npos) {
      return InvalidArgument("--goodput item '" + item +
                             "' is not NAME:MS (NAME is ttft, tpot or e2el)");
    }
    const std::string name = item.substr(0, colon), value = item.substr(colon + 1);
    std::optional<double>* target = nullptr;
    if (name == "ttft") target = &slo.ttft_ms;
    if (name == "tpot") target = &slo.tpot_ms;
    if (name == "e2el") target = &slo.e2el_ms;
    if (target == nullptr) {
      return InvalidArgument("--goodput item '" + item + "': unknown metric '" + name +
                             "' (use ttft, tpot or e2el)");
    }
    if (target->has_value()) return InvalidArgument("--goodput gives '" + name + "' twice");
    char* parse_end = nullptr;
    errno = 0;
    const double ms = std::strtod(value.c_str(), &parse_end);
    if (value.empty() || *parse_end != '\0' || errno != 0 || !std::isfinite(ms) || ms <= 0) {
      return InvalidArgument("--goodput item '" + item +
                             "': the limit must be a positive number of milliseconds");
    }
    *target = ms;
  }
  if (slo.empty())
    return InvalidArgument("--goodput needs at least one of ttft:MS tpot:MS e2el:MS");
  return slo;
}

bool MeetsSlo(const GoodputSlo& slo, double ttft_ms, double tpot_ms, double e2el_ms) {
  if (slo.ttft_ms && ttft_ms > *slo.ttft_ms) return false;
  if (slo.tpot_ms && tpot_ms > *slo.tpot_ms) return false;
  if (slo.e2el_ms && e2el_ms > *slo.e2el_ms) return false;
  return true;
}

}  // namespace skipjoin::bench
