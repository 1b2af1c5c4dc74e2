// Keeps the Scheduler's fitted step cost model on disk, one file per served
// model and device kind, so that a restarted coordinator starts calibrated
// instead of from the prior. Files are JSON (StepCostModel::ToJson) written
// atomically: a temporary file in the same folder, then rename.
//
// Thread-compatible; the coordinator's core thread owns its store.
#pragma once

#include <string>

#include "common/config/cluster_config.h"
#include "common/status.h"
#include "coordinator/scheduler/cost_model.h"

namespace skipjoin::server {

// "<model name>.<device>.tp<N>", e.g. "smollm2-135m-instruct.cpu-t1.tp1" or
// "llama-7b.cuda.tp2", from the first replica (the Scheduler keeps one model
// for all replicas). Characters outside [A-Za-z0-9._-] become '_'.
std::string CostModelKey(const config::ClusterConfig& config);

// The prior for the first replica's device kind: measured SmolLM2-135M on one
// CPU thread for cpu, the derived 7B-class coefficients for cuda.
scheduler::CostCoefficients CostPriorFor(const config::ClusterConfig& config);
// The decode-stall bound when the config leaves it unset: 1 s on CUDA devices,
// 10 s on CPU ones (whose steps are about ten times longer).
double DefaultMaxStallSeconds(const config::ClusterConfig& config);

class CostModelStore {
 public:
  // `path` is the file; see PathFor.
  // `e_prior`: the e term for files saved before it existed (CostPriorFor).
  explicit CostModelStore(std::string path, double e_prior = 0.0)
      : path_(std::move(path)), e_prior_(e_prior) {}
  // <dir>/<CostModelKey>.json; dir "" = config::DefaultCostModelDir().
  static std::string PathFor(const config::ClusterConfig& config);

  const std::string& path() const { return path_; }
  // NotFound when there is no file; InvalidArgument "<path>: <what>" when it
  // cannot be read as a cost model.
  Result<scheduler::StepCostModel> Load() const;
  // Creates the folder when missing.
  Status Save(const scheduler::StepCostModel& model) const;

 private:
  std::string path_;
  double e_prior_ = 0.0;
};

}  // namespace skipjoin::server
