#include "worker/process/plan_convert.h"

#include <string>
#include <unordered_set>

namespace skipjoin::worker {
namespace {

Status CheckCopies(const std::vector<protocol::BlockCopy>& copies, const char* what,
                   int32_t num_device_blocks, int32_t num_host_blocks) {
  for (const auto& c : copies) {
    if (c.device_block >= static_cast<uint32_t>(num_device_blocks) ||
        c.host_block >= static_cast<uint32_t>(num_host_blocks)) {
      return InvalidArgument(std::string(what) + ": copy device block " +
                             std::to_string(c.device_block) + " <-> host block " +
                             std::to_string(c.host_block) + " is outside the pools (" +
                             std::to_string(num_device_blocks) + " device, " +
                             std::to_string(num_host_blocks) + " host blocks)");
    }
  }
  return Status::Ok();
}

}  // namespace

uint64_t DefaultSeed(uint64_t seq_id) {
  // splitmix64 finalizer: distinct, well-mixed seeds for consecutive ids.
  uint64_t z = seq_id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Result<StepInput> ToStepInput(const protocol::StepPlan& plan, int32_t num_device_blocks,
                              int32_t num_host_blocks, SampleCounters& counters) {
  SJ_RETURN_IF_ERROR(CheckCopies(plan.swap_out, "swap_out", num_device_blocks, num_host_blocks));
  SJ_RETURN_IF_ERROR(CheckCopies(plan.swap_in, "swap_in", num_device_blocks, num_host_blocks));
  StepInput input;
  for (const auto& c : plan.swap_out) {
    input.swap_out.push_back(
        {static_cast<int32_t>(c.device_block), static_cast<int32_t>(c.host_block)});
  }
  for (const auto& c : plan.swap_in) {
    input.swap_in.push_back(
        {static_cast<int32_t>(c.device_block), static_cast<int32_t>(c.host_block)});
  }
  std::unordered_set<uint64_t> seen;
  input.seqs.reserve(plan.sequences.size());
  for (const auto& s : plan.sequences) {
    const std::string where = "sequence " + std::to_string(s.seq_id);
    if (!seen.insert(s.seq_id).second) return InvalidArgument(where + " appears twice in the step");
    if (s.token_ids.empty()) return InvalidArgument(where + ": no tokens");
    for (uint32_t b : s.block_table) {
      if (b >= static_cast<uint32_t>(num_device_blocks)) {
        return InvalidArgument(where + ": block " + std::to_string(b) +
                               " is outside the device pool (" + std::to_string(num_device_blocks) +
                               " blocks)");
      }
    }
    const auto& p = s.sampling;
    if (!(p.temperature >= 0) || !(p.top_p > 0 && p.top_p <= 1) || p.top_k < 0 ||
        !(p.min_p >= 0 && p.min_p <= 1) || p.logprobs < 0 || p.logprobs > 20) {
      return InvalidArgument(where + ": sampling parameters out of range");
    }
    SeqInput in;
    in.seq_id = s.seq_id;
    in.tokens = s.token_ids;
    in.start_pos = static_cast<int32_t>(s.start_position);
    in.block_table.assign(s.block_table.begin(), s.block_table.end());
    in.sample = s.sample;
    in.prompt_logprobs = s.prompt_logprobs;
    in.sampling.temperature = p.temperature;
    in.sampling.top_p = p.top_p;
    in.sampling.top_k = p.top_k;
    in.sampling.min_p = p.min_p;
    in.sampling.seed = p.seed.value_or(DefaultSeed(s.seq_id));
    in.sampling.logprobs = p.logprobs;
    input.seqs.push_back(std::move(in));
  }
  // Validated: now commit the counters.
  for (auto& in : input.seqs) {
    if (in.sample) in.sample_index = counters.Next(in.seq_id);
  }
  for (uint64_t id : plan.finished_seq_ids) counters.Forget(id);
  return input;
}

protocol::StepResult ToStepResult(const protocol::StepPlan& plan, uint32_t worker_id,
                                  const StepOutput& output) {
  protocol::StepResult r;
  r.replica_id = plan.replica_id;
  r.step_id = plan.step_id;
  r.worker_id = worker_id;
  r.sequences.reserve(output.seqs.size());
  for (const auto& s : output.seqs) {
    protocol::SequenceOutput o;
    o.seq_id = s.seq_id;
    o.sampled_token = s.token;
    o.logprob = s.logprob;
    for (const auto& t : s.top) o.top_logprobs.push_back({t.token, t.logprob});
    o.prompt_logprobs = s.prompt_logprobs;
    r.sequences.push_back(std::move(o));
  }
  return r;
}

}  // namespace skipjoin::worker
