#include "coordinator/server/replica_driver.h"

#include <algorithm>

namespace skipjoin::server {

static_assert(scheduler::kPendingToken == protocol::kPendingToken,
              "the scheduler and the wire mean the same token by kPendingToken");

ReplicaDriver::ReplicaDriver(uint32_t replica_index, int32_t max_in_flight)
    : replica_index_(replica_index), max_in_flight_(std::max(1, max_in_flight)) {}

void ReplicaDriver::NewEpoch() {
  ++epoch_;
  while (!in_flight_.empty()) PopFront();
  known_.clear();
  finished_.clear();
}

scheduler::StepPlan* ReplicaDriver::NextPlanStorage() {
  if (!spare_.empty()) {
    next_ = std::move(spare_.back());
    spare_.pop_back();
  }
  next_.Clear();
  return &next_;
}

void ReplicaDriver::PopFront() {
  if (in_flight_.empty()) return;
  spare_.push_back(std::move(in_flight_.front().plan));
  in_flight_.pop_front();
}

void ReplicaDriver::Forget(scheduler::RequestId id) {
  if (known_.erase(id) > 0) finished_.push_back(id);
}

void ReplicaDriver::Prepare(const InfoFn& info, double now, protocol::StepPlan* wire) {
  const scheduler::StepPlan& plan = next_;
  *wire = protocol::StepPlan{};
  wire->replica_id = replica_index_;
  wire->step_id = ++wire_step_;
  wire->epoch = epoch_;
  wire->swap_out.reserve(plan.swap_out.size() * 2);
  for (const scheduler::BlockPair& p : plan.swap_out) {
    wire->swap_out.push_back(static_cast<uint32_t>(p.device));
    wire->swap_out.push_back(static_cast<uint32_t>(p.host));
  }
  wire->swap_in.reserve(plan.swap_in.size() * 2);
  for (const scheduler::BlockPair& p : plan.swap_in) {
    wire->swap_in.push_back(static_cast<uint32_t>(p.device));
    wire->swap_in.push_back(static_cast<uint32_t>(p.host));
  }
  wire->num_blocking_swap_in = static_cast<uint32_t>(plan.num_blocking_swap_in);
  const size_t n = plan.sequences.size();
  wire->seq_ids.reserve(n);
  wire->start_positions.reserve(n);
  wire->num_tokens.reserve(n);
  wire->flags.reserve(n);
  wire->num_new_blocks.reserve(n);
  wire->token_ids.reserve(plan.token_ids.size());
  for (const scheduler::StepSequence& s : plan.sequences) {
    const SequenceInfo* si = info ? info(s.request_id) : nullptr;
    auto [it, is_new] = known_.try_emplace(s.request_id);
    if (is_new) {
      protocol::SequenceStart start;
      start.seq_id = s.request_id;
      if (si != nullptr) {
        start.sampling = si->sampling;
        start.prompt_len = static_cast<uint32_t>(si->prompt_len);
      }
      wire->starts.push_back(start);
    }
    std::vector<int32_t>& held = it->second;
    const auto table = plan.block_table_of(s);
    uint8_t flags = 0;
    size_t keep = held.size();
    if (keep > table.size() || !std::equal(held.begin(), held.end(), table.begin())) {
      flags |= protocol::kSeqResetTable;
      keep = 0;
      held.clear();
    }
    for (size_t b = keep; b < table.size(); ++b) {
      wire->new_blocks.push_back(static_cast<uint32_t>(table[b]));
      held.push_back(table[b]);
    }
    if (s.samples) flags |= protocol::kSeqSample;
    if (si != nullptr && si->echo && s.start_position < si->prompt_len)
      flags |= protocol::kSeqPromptLogprobs;
    wire->seq_ids.push_back(s.request_id);
    wire->start_positions.push_back(static_cast<uint32_t>(s.start_position));
    wire->num_tokens.push_back(static_cast<uint32_t>(s.num_tokens));
    wire->flags.push_back(flags);
    wire->num_new_blocks.push_back(static_cast<uint32_t>(table.size() - keep));
    const auto tokens = plan.tokens_of(s);
    wire->token_ids.insert(wire->token_ids.end(), tokens.begin(), tokens.end());
  }
  wire->finished_seq_ids = std::move(finished_);
  finished_.clear();
  InFlight record;
  record.wire_step = wire->step_id;
  record.sent_at = now;
  record.plan = std::move(next_);
  in_flight_.push_back(std::move(record));
}

}  // namespace skipjoin::server
