#include "common/config/supervision_config.h"

#include "common/config/sections.h"
#include "common/config/yaml_reader.h"

namespace skipjoin::config::internal {

Status ParseSupervision(const std::string& source, const YAML::Node& section,
                        SupervisionConfig* out) {
  MapReader r(source, section, "supervision");
  SJ_RETURN_IF_ERROR(r.status());
  SJ_RETURN_IF_ERROR(r.Optional("restart", &out->restart));
  constexpr uint32_t kHourMs = 3'600'000;
  SJ_RETURN_IF_ERROR(r.Optional("backoff_initial_ms", &out->backoff_initial_ms));
  if (out->backoff_initial_ms < 1 || out->backoff_initial_ms > kHourMs) {
    return ErrorAt(source, r.Get("backoff_initial_ms"), "supervision.backoff_initial_ms",
                   "must be between 1 and 3600000 (one hour)");
  }
  SJ_RETURN_IF_ERROR(r.Optional("backoff_max_ms", &out->backoff_max_ms));
  if (out->backoff_max_ms < out->backoff_initial_ms || out->backoff_max_ms > kHourMs) {
    return ErrorAt(
        source, r.Has("backoff_max_ms") ? r.Get("backoff_max_ms") : r.Get("backoff_initial_ms"),
        "supervision.backoff_max_ms", "must be between backoff_initial_ms and 3600000 (one hour)");
  }
  SJ_RETURN_IF_ERROR(r.Optional("stable_after_ms", &out->stable_after_ms));
  if (out->stable_after_ms < 1 || out->stable_after_ms > 24 * kHourMs) {
    return ErrorAt(source, r.Get("stable_after_ms"), "supervision.stable_after_ms",
                   "must be between 1 and 86400000 (one day)");
  }
  SJ_RETURN_IF_ERROR(r.Optional("max_restarts", &out->max_restarts));
  if (out->max_restarts < 1 || out->max_restarts > 1000) {
    return ErrorAt(source, r.Get("max_restarts"), "supervision.max_restarts",
                   "must be between 1 and 1000 (set restart: false for none)");
  }
  return r.Finish();
}

}  // namespace skipjoin::config::internal
