// The `supervision:` section of the cluster config: how `skipjoin launch`
// treats a process of its node that dies (client/supervisor.h applies it).
// Value types; thread-compatible. docs/CONFIGURATION.md documents each key.
#pragma once

#include <cstdint>

namespace skipjoin::config {

struct SupervisionConfig {
  // Start a coordinator or worker again when it dies unexpectedly (a signal
  // or a non-zero exit status). false: launch reports the death; a dead
  // worker is not replaced and a dead coordinator stops the node.
  bool restart = true;
  // Delay before the first restart after a failure, milliseconds; it doubles
  // with each failure in a row, up to backoff_max_ms.
  uint32_t backoff_initial_ms = 500;
  uint32_t backoff_max_ms = 30000;
  // A process that ran at least this long before it failed starts a new run
  // of failures (its next restart waits backoff_initial_ms again), ms.
  uint32_t stable_after_ms = 60000;
  // Restarts of one process in a row, each after it ran less than
  // stable_after_ms; its next failure makes launch give up on it (a worker
  // stays down, the coordinator stops the node).
  uint32_t max_restarts = 5;
};

}  // namespace skipjoin::config
