// Per-replica KV block accounting: a device pool and a host swap pool of
// fixed-size blocks, free lists, and plan-then-commit transactions. The block
// tables themselves live with each request (KvTable); the manager owns only
// the free lists, so every block is, at every step boundary, either free or in
// exactly one table (CheckConservation verifies it).
//
// Plan-then-commit: a KvTransaction reserves capacity while the scheduler
// plans a step; nothing is mutated until Commit, so an abandoned plan needs no
// rollback. Commit applies operations in the order the worker executes them:
// releases, swap-outs (device -> host), swap-ins (host -> device), allocations.
// Host blocks freed by a swap-in are not reused by a swap-out of the same plan
// (the worker copies out before it copies in), device blocks freed by a
// swap-out are reused by swap-ins and allocations of the same plan.
// Thread-compatible: owned by the Scheduler's thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/serving_types.h"
#include "common/status.h"

namespace skipjoin::scheduler {

struct KvPoolSpec {
  int32_t device_blocks = 0;  // blocks in the accelerator pool
  int32_t host_blocks = 0;    // blocks in the host swap pool (0 disables swapping)
  int32_t block_size = 16;    // tokens per block
};

using skipjoin::BlockPair;  // one copy of a block between the pools

// A request's blocks: on the device while it is resident, on the host while it
// is swapped out; never both.
struct KvTable {
  std::vector<int32_t> device;
  std::vector<int32_t> host;
};

class KvBlockManager {
 public:
  explicit KvBlockManager(const KvPoolSpec& spec);

  const KvPoolSpec& spec() const { return spec_; }
  int32_t device_free() const { return static_cast<int32_t>(device_free_.size()); }
  int32_t host_free() const { return static_cast<int32_t>(host_free_.size()); }
  int32_t device_used() const { return spec_.device_blocks - device_free(); }
  int32_t host_used() const { return spec_.host_blocks - host_free(); }
  int32_t BlocksFor(int64_t tokens) const {
    return static_cast<int32_t>((tokens + spec_.block_size - 1) / spec_.block_size);
  }

  // Frees every block of `table` at once. Only at a step boundary (no step of
  // this replica in flight).
  void Release(KvTable* table);

  // Ok when every block is free or in exactly one of `tables`.
  Status CheckConservation(std::span<const KvTable* const> tables) const;

 private:
  friend class KvTransaction;
  KvPoolSpec spec_;
  std::vector<int32_t> device_free_;  // stack; back() is handed out next
  std::vector<int32_t> host_free_;
};

class KvTransaction {
 public:
  // Starts a new plan against `manager`, forgetting any previous one. Reuses
  // its storage so that a step allocates nothing in steady state.
  void Begin(KvBlockManager* manager);

  // Capacity left for further planned operations.
  int32_t device_available() const { return device_available_; }
  int32_t host_available() const { return host_available_; }

  // Each returns false (and plans nothing) when capacity is short.
  bool PlanAllocate(KvTable* table, int32_t blocks);
  bool PlanSwapOut(KvTable* table);  // all of its device blocks to the host
  bool PlanSwapIn(KvTable* table);   // all of its host blocks to the device
  void PlanRelease(KvTable* table);  // drop the blocks (recompute later)

  // Applies the plan and appends the copies the worker must make.
  void Commit(std::vector<BlockPair>* swap_out, std::vector<BlockPair>* swap_in);
  // Drops the plan.
  void Abort();

 private:
  enum class OpKind { kRelease, kSwapOut, kSwapIn, kAllocate };
  struct Op {
    OpKind kind;
    KvTable* table;
    int32_t blocks;
  };
  KvBlockManager* manager_ = nullptr;
  std::vector<Op> ops_;
  int32_t device_available_ = 0;
  int32_t host_available_ = 0;
};

}  // namespace skipjoin::scheduler
