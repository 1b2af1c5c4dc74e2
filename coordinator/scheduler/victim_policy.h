// Which resident job to evict first, as a pure comparison of two candidates
// (docs/SCHEDULER.md, "Victims by cost").
//
// Evicting a job by swap costs a round trip of its blocks, b * 2 * t_b, and
// the cost comes back every time the job must run before memory frees up. So
// the cheapest victim is the one needed again last: FastServe's estimated
// next scheduled time (ENST). Under skip-join MLFQ a job at a lower level is
// reached later than any job above it, so the level decides first; within a
// level (jobs the MLFQ order would reach about equally soon) the stall bound
// decides when each must run: a decoding job must have a token by its latest
// token + max_stall, so the one whose deadline is the furthest away stays out
// longest for one round trip, while evicting one whose deadline is near buys
// memory for a step or two before the bound brings it back. Jobs without a
// deadline (mid-prefill, or no stall bound) wait for their MLFQ turn: the
// furthest of all within the level. The FIFO position breaks ties (the later
// arrival first, as in the MLFQ order).
//
// Thread-compatible; stateless.
#pragma once

#include <cstdint>

namespace skipjoin::scheduler {

enum class VictimOrder {
  kMlfq,  // bottom of the MLFQ order first (level, then FIFO position)
  kEnst,  // level, then the furthest next required run (stall deadline) first
};

const char* VictimOrderName(VictimOrder order);

struct VictimView {
  int32_t level = 0;      // MLFQ level; higher is served later
  int64_t level_seq = 0;  // FIFO position in the level; larger is later
  // Seconds until the job must run again: its stall deadline minus now;
  // +infinity without one (not decoding, or no stall bound).
  double seconds_until_needed = 0;
};

// True when `a` should be evicted before `b`.
bool EvictBefore(VictimOrder order, const VictimView& a, const VictimView& b);

}  // namespace skipjoin::scheduler
