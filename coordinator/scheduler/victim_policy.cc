#include "coordinator/scheduler/victim_policy.h"

namespace skipjoin::scheduler {

const char* VictimOrderName(VictimOrder order) {
  switch (order) {
    case VictimOrder::kMlfq:
      return "mlfq";
    case VictimOrder::kEnst:
      return "enst";
  }
  return "?";
}

bool EvictBefore(VictimOrder order, const VictimView& a, const VictimView& b) {
  if (a.level != b.level) return a.level > b.level;
  switch (order) {
    case VictimOrder::kMlfq:
      break;
    case VictimOrder::kEnst:
      if (a.seconds_until_needed != b.seconds_until_needed)
        return a.seconds_until_needed > b.seconds_until_needed;
      break;
  }
  return a.level_seq > b.level_seq;
}

}  // namespace skipjoin::scheduler
