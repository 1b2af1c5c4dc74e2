#include "coordinator/scheduler/kv_block_manager.h"

#include <string>

namespace skipjoin::scheduler {

KvBlockManager::KvBlockManager(const KvPoolSpec& spec) : spec_(spec) {
  SJ_CHECK(spec.device_blocks >= 0 && spec.host_blocks >= 0 && spec.block_size > 0)
      << "bad pool spec " << spec.device_blocks << "/" << spec.host_blocks << "/" << spec.block_size;
  device_free_.reserve(spec.device_blocks);
  for (int32_t b = spec.device_blocks - 1; b >= 0; --b) device_free_.push_back(b);
  host_free_.reserve(spec.host_blocks);
  for (int32_t b = spec.host_blocks - 1; b >= 0; --b) host_free_.push_back(b);
}

void KvBlockManager::Release(KvTable* table) {
  device_free_.insert(device_free_.end(), table->device.rbegin(), table->device.rend());
  host_free_.insert(host_free_.end(), table->host.rbegin(), table->host.rend());
  table->device.clear();
  table->host.clear();
}

namespace {
Status CheckPool(const char* pool, int32_t n, const std::vector<int32_t>& free_list,
                 std::span<const KvTable* const> tables, bool device) {
  std::vector<uint8_t> seen(n, 0);
  auto mark = [&](int32_t b, const char* where) -> Status {
    if (b < 0 || b >= n) return Internal(std::string(pool) + " block " + std::to_string(b) + " out of range in " + where);
    if (seen[b]++) return Internal(std::string(pool) + " block " + std::to_string(b) + " counted twice (" + where + ")");
    return Status::Ok();
  };
  for (int32_t b : free_list) SJ_RETURN_IF_ERROR(mark(b, "free list"));
  for (const KvTable* t : tables) {
    for (int32_t b : device ? t->device : t->host) SJ_RETURN_IF_ERROR(mark(b, "block table"));
  }
  for (int32_t b = 0; b < n; ++b) {
    if (!seen[b]) return Internal(std::string(pool) + " block " + std::to_string(b) + " leaked");
  }
  return Status::Ok();
}
}  // namespace

Status KvBlockManager::CheckConservation(std::span<const KvTable* const> tables) const {
  SJ_RETURN_IF_ERROR(CheckPool("device", spec_.device_blocks, device_free_, tables, true));
  return CheckPool("host", spec_.host_blocks, host_free_, tables, false);
}

void KvTransaction::Begin(KvBlockManager* manager) {
  manager_ = manager;
  ops_.clear();
  device_available_ = manager->device_free();
  host_available_ = manager->host_free();
}

bool KvTransaction::PlanAllocate(KvTable* table, int32_t blocks) {
  if (blocks <= 0) return true;
  if (blocks > device_available_) return false;
  device_available_ -= blocks;
  ops_.push_back({OpKind::kAllocate, table, blocks});
  return true;
}

bool KvTransaction::PlanSwapOut(KvTable* table) {
  const int32_t n = static_cast<int32_t>(table->device.size());
  if (n > host_available_) return false;
  host_available_ -= n;
  device_available_ += n;
  ops_.push_back({OpKind::kSwapOut, table, n});
  return true;
}

bool KvTransaction::PlanSwapIn(KvTable* table) {
  const int32_t n = static_cast<int32_t>(table->host.size());
  if (n > device_available_) return false;
  device_available_ -= n;
  // The host blocks become free only after this plan's copies have run.
  ops_.push_back({OpKind::kSwapIn, table, n});
  return true;
}

void KvTransaction::PlanRelease(KvTable* table) {
  device_available_ += static_cast<int32_t>(table->device.size());
  host_available_ += static_cast<int32_t>(table->host.size());
  ops_.push_back({OpKind::kRelease, table, 0});
}

void KvTransaction::Commit(std::vector<BlockPair>* swap_out, std::vector<BlockPair>* swap_in) {
  SJ_CHECK(manager_ != nullptr) << "Commit without Begin";
  KvBlockManager& m = *manager_;
  for (const Op& op : ops_) {
    if (op.kind == OpKind::kRelease) m.Release(op.table);
  }
  for (const Op& op : ops_) {
    if (op.kind != OpKind::kSwapOut) continue;
    KvTable& t = *op.table;
    SJ_CHECK(m.host_free_.size() >= t.device.size()) << "host pool overcommitted";
    for (int32_t d : t.device) {
      const int32_t h = m.host_free_.back();
      m.host_free_.pop_back();
      swap_out->push_back({d, h});
      t.host.push_back(h);
    }
    m.device_free_.insert(m.device_free_.end(), t.device.rbegin(), t.device.rend());
    t.device.clear();
  }
  for (const Op& op : ops_) {
    if (op.kind != OpKind::kSwapIn) continue;
    KvTable& t = *op.table;
    SJ_CHECK(m.device_free_.size() >= t.host.size()) << "device pool overcommitted by swap-in";
    for (int32_t h : t.host) {
      const int32_t d = m.device_free_.back();
      m.device_free_.pop_back();
      swap_in->push_back({d, h});
      t.device.push_back(d);
    }
    m.host_free_.insert(m.host_free_.end(), t.host.rbegin(), t.host.rend());
    t.host.clear();
  }
  for (const Op& op : ops_) {
    if (op.kind != OpKind::kAllocate) continue;
    SJ_CHECK(m.device_free_.size() >= static_cast<size_t>(op.blocks)) << "device pool overcommitted";
    for (int32_t i = 0; i < op.blocks; ++i) {
      op.table->device.push_back(m.device_free_.back());
      m.device_free_.pop_back();
    }
  }
  ops_.clear();
  manager_ = nullptr;
}

void KvTransaction::Abort() {
  ops_.clear();
  manager_ = nullptr;
}

}  // namespace skipjoin::scheduler
