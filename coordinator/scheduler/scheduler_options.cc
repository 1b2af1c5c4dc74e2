#include "coordinator/scheduler/scheduler_options.h"

#include <string>

namespace skipjoin::scheduler {

const char* PolicyKindName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kMlfq:
      return "mlfq";
    case PolicyKind::kFcfs:
      return "fcfs";
    case PolicyKind::kSrptOracle:
      return "srpt-oracle";
  }
  return "?";
}

Result<PolicyKind> ParsePolicyKind(std::string_view name) {
  if (name == "mlfq") return PolicyKind::kMlfq;
  if (name == "fcfs") return PolicyKind::kFcfs;
  if (name == "srpt-oracle") return PolicyKind::kSrptOracle;
  return InvalidArgument("unknown scheduling policy '" + std::string(name) +
                         "' (expected mlfq, fcfs or srpt-oracle)");
}

}  // namespace skipjoin::scheduler
