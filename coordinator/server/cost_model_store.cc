#include "coordinator/server/cost_model_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace skipjoin::server {

namespace {

const config::DeviceConfig* FirstDevice(const config::ClusterConfig& c) {
  if (c.replicas.empty() || c.replicas[0].devices.empty()) return nullptr;
  const config::DeviceRef& ref = c.replicas[0].devices[0];
  const config::NodeConfig* node = c.FindNode(ref.node);
  if (node == nullptr) return nullptr;
  for (const config::DeviceConfig& d : node->devices) {
    if (d.kind == ref.kind && d.index == ref.index) return &d;
  }
  return nullptr;
}

}  // namespace

std::string CostModelKey(const config::ClusterConfig& c) {
  std::string device = "cpu";
  uint32_t tp = 1;
  if (const config::DeviceConfig* d = FirstDevice(c)) {
    device = config::DeviceKindName(d->kind);
    if (d->kind == config::DeviceKind::kCpu) {
      device += d->threads > 0 ? "-t" + std::to_string(d->threads) : "-tauto";
    }
  }
  if (!c.replicas.empty()) tp = c.replicas[0].tp;
  std::string key = c.model.name + "." + device + ".tp" + std::to_string(tp);
  for (char& ch : key) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) ch = '_';
  }
  return key;
}

scheduler::CostCoefficients CostPriorFor(const config::ClusterConfig& c) {
  const config::DeviceConfig* d = FirstDevice(c);
  if (d != nullptr && d->kind == config::DeviceKind::kCuda) return scheduler::Gpu7bCostPrior();
  return scheduler::CpuSmolLmCostPrior();
}

double DefaultMaxStallSeconds(const config::ClusterConfig& c) {
  const config::DeviceConfig* d = FirstDevice(c);
  return d != nullptr && d->kind == config::DeviceKind::kCuda ? 1.0 : 10.0;
}

std::string CostModelStore::PathFor(const config::ClusterConfig& c) {
  std::string dir = c.scheduler.cost_model_dir.empty() ? config::DefaultCostModelDir()
                                                       : c.scheduler.cost_model_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/" + CostModelKey(c) + ".json";
}

Result<scheduler::StepCostModel> CostModelStore::Load() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return NotFound(path_ + ": no saved cost model");
    return InvalidArgument(path_ + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20))
    return InvalidArgument(path_ + ": larger than 1 MiB, not a cost model");
  auto model = scheduler::StepCostModel::FromJson(text.str(), e_prior_);
  if (!model.ok()) return InvalidArgument(path_ + ": " + model.status().message());
  return model;
}

Status CostModelStore::Save(const scheduler::StepCostModel& model) const {
  std::error_code ec;
  const std::filesystem::path file(path_);
  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) return Internal(path_ + ": cannot create folder: " + ec.message());
  }
  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Internal(tmp + ": cannot write: " + std::strerror(errno));
    out << model.ToJson() << "\n";
    out.flush();
    if (!out) return Internal(tmp + ": write failed: " + std::strerror(errno));
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Internal(path_ + ": cannot replace: " + ec.message());
  }
  return Status::Ok();
}

}  // namespace skipjoin::server
