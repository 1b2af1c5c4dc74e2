#include "client/node_health.h"

namespace skipjoin::cli {

NodeWorkers NodeWorkersIn(const protocol::StatusReply& status, const std::string& node) {
  NodeWorkers out;
  for (const protocol::WorkerStatus& w : status.workers) {
    if (w.node != node) continue;
    ++out.total;
    if (w.ready) {
      ++out.ready;
      continue;
    }
    const std::string replica = w.replica_id < status.replicas.size()
                                    ? status.replicas[w.replica_id].name
                                    : "replica " + std::to_string(w.replica_id);
    out.waiting.push_back(replica + " rank " + std::to_string(w.rank) + " (" + w.device +
                          "): " + (w.registered ? "registered" : "missing"));
  }
  return out;
}

std::string DescribeNodeWorkers(const NodeWorkers& w, const std::string& node) {
  std::string text = std::to_string(w.ready) + " of " + std::to_string(w.total) +
                     " workers of node '" + node + "' ready";
  for (size_t i = 0; i < w.waiting.size(); ++i)
    text += (i == 0 ? "; waiting for " : ", ") + w.waiting[i];
  return text;
}

}  // namespace skipjoin::cli
