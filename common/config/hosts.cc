// Host keys of the cluster config: advertised addresses (coordinator.host,
// nodes[].host) and bind addresses (coordinator.bind, nodes[].bind).
#include "common/config/sections.h"
#include "common/config/yaml_reader.h"
#include "common/net_address.h"

namespace skipjoin::config::internal {

Status ReadHost(const std::string& source, MapReader& r, std::string_view key, HostRole role,
                std::string* out) {
  SJ_RETURN_IF_ERROR(r.Optional(key, out));
  const std::string path = r.Child(key);
  if (role == HostRole::kAdvertise && IsWildcardHost(*out)) {
    const std::string bind = r.path() + ".bind";
    return ErrorAt(source, r.Get(key), path,
                   "'" + *out +
                       "' is not an address others can dial; set it to the address they reach "
                       "this machine at and " +
                       bind + ": 0.0.0.0 to listen on every interface");
  }
  if (role == HostRole::kBind && IsWildcardHost(*out)) return Status::Ok();
  if (const std::string why = HostSyntaxError(*out); !why.empty()) {
    return ErrorAt(
        source, r.Has(key) ? r.Get(key) : r.node(), path,
        why +
            (role == HostRole::kBind && !out->empty() ? " (or 0.0.0.0 for every interface)" : ""));
  }
  return Status::Ok();
}

}  // namespace skipjoin::config::internal
