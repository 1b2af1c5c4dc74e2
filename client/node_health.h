// When `skipjoin launch CONFIG --node NAME` calls a node without the
// coordinator healthy: every rank the config places on that node is held by
// a ready worker, as the coordinator's StatusReply (the one `skipjoin status`
// prints) says. The coordinator's /health answers 200 as soon as any replica
// is live, which says nothing about this node's workers.
//
// Pure functions; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "protocol/messages.h"

namespace skipjoin::cli {

struct NodeWorkers {
  int total = 0;  // ranks the config places on the node
  int ready = 0;  // of those, held by a ready worker
  // The others, as "replica-0 rank 1 (cpu:1): missing" or ": registered".
  std::vector<std::string> waiting;
  bool healthy() const { return ready == total; }
};

// `status.workers` filtered by node name.
NodeWorkers NodeWorkersIn(const protocol::StatusReply& status, const std::string& node);

// "2 of 3 workers of node 'w1' ready; waiting for replica-0 rank 1 (cpu:1): missing".
std::string DescribeNodeWorkers(const NodeWorkers& w, const std::string& node);

}  // namespace skipjoin::cli
