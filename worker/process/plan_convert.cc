#include "worker/process/plan_convert.h"

#include <cmath>
#include <string>
#include <unordered_set>

#include "common/grammar/guide.h"
#include "common/logging.h"

namespace skipjoin::worker {
namespace {

Status ToPairs(const std::vector<uint32_t>& flat, const char* what, int32_t num_device_blocks,
               int32_t num_host_blocks, std::vector<BlockPair>* out) {
  if (flat.size() % 2 != 0)
    return InvalidArgument(std::string(what) + ": an odd number of block ids (pairs expected)");
  out->clear();
  out->reserve(flat.size() / 2);
  for (size_t i = 0; i < flat.size(); i += 2) {
    const uint32_t device = flat[i], host = flat[i + 1];
    if (device >= static_cast<uint32_t>(num_device_blocks) ||
        host >= static_cast<uint32_t>(num_host_blocks)) {
      return InvalidArgument(std::string(what) + ": copy device block " + std::to_string(device) +
                             " <-> host block " + std::to_string(host) + " is outside the pools (" +
                             std::to_string(num_device_blocks) + " device, " +
                             std::to_string(num_host_blocks) + " host blocks)");
    }
    out->push_back({static_cast<int32_t>(device), static_cast<int32_t>(host)});
  }
  return Status::Ok();
}

Status CheckSampling(const protocol::SamplingParams& p, const std::string& where) {
  if (!(p.temperature >= 0) || !(p.top_p > 0 && p.top_p <= 1) || p.top_k < 0 ||
      !(p.min_p >= 0 && p.min_p <= 1) || p.logprobs < 0 || p.logprobs > 20 ||
      !(p.repetition_penalty > 0 && std::isfinite(p.repetition_penalty)) ||
      !(p.presence_penalty >= -2 && p.presence_penalty <= 2) ||
      !(p.frequency_penalty >= -2 && p.frequency_penalty <= 2) || p.min_tokens < 0) {
    return InvalidArgument(where + ": sampling parameters out of range");
  }
  for (const TokenBias& b : p.logit_bias) {
    if (!(b.bias >= -100 && b.bias <= 100))
      return InvalidArgument(where + ": logit bias of token " + std::to_string(b.token) +
                             " is outside [-100, 100]");
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

SequenceTable::SequenceTable(int32_t num_device_blocks, int32_t num_host_blocks, int32_t block_size)
    : num_device_blocks_(num_device_blocks),
      num_host_blocks_(num_host_blocks),
      block_size_(block_size > 0 ? block_size : 1) {}

const std::vector<int32_t>* SequenceTable::BlockTableOf(uint64_t seq_id) const {
  auto it = seqs_.find(seq_id);
  return it == seqs_.end() ? nullptr : &it->second.block_table;
}

Result<StepInput> SequenceTable::Apply(const protocol::StepPlan& plan) {
  if (!have_epoch_ || plan.epoch != epoch_) {
    seqs_.clear();
    epoch_ = plan.epoch;
    have_epoch_ = true;
  }
  const size_t n = plan.seq_ids.size();
  if (plan.start_positions.size() != n || plan.num_tokens.size() != n || plan.flags.size() != n ||
      plan.num_new_blocks.size() != n) {
    return InvalidArgument(
        "step " + std::to_string(plan.step_id) + ": per-sequence arrays differ in length (ids " +
        std::to_string(n) + ", pos " + std::to_string(plan.start_positions.size()) + ", n " +
        std::to_string(plan.num_tokens.size()) + ", flags " + std::to_string(plan.flags.size()) +
        ", nb " + std::to_string(plan.num_new_blocks.size()) + ")");
  }
  uint64_t total_tokens = 0, total_blocks = 0;
  for (size_t i = 0; i < n; ++i) {
    total_tokens += plan.num_tokens[i];
    total_blocks += plan.num_new_blocks[i];
  }
  if (total_tokens != plan.token_ids.size() || total_blocks != plan.new_blocks.size()) {
    return InvalidArgument("step " + std::to_string(plan.step_id) + ": " +
                           std::to_string(plan.token_ids.size()) + " token ids and " +
                           std::to_string(plan.new_blocks.size()) +
                           " new blocks, but the sequences count " + std::to_string(total_tokens) +
                           " and " + std::to_string(total_blocks));
  }
  StepInput input;
  SJ_RETURN_IF_ERROR(
      ToPairs(plan.swap_out, "swap_out", num_device_blocks_, num_host_blocks_, &input.swap_out));
  SJ_RETURN_IF_ERROR(
      ToPairs(plan.swap_in, "swap_in", num_device_blocks_, num_host_blocks_, &input.swap_in));
  if (plan.num_blocking_swap_in > input.swap_in.size()) {
    return InvalidArgument("blocking_in " + std::to_string(plan.num_blocking_swap_in) +
                           " exceeds the " + std::to_string(input.swap_in.size()) +
                           " swap-in copies");
  }
  for (uint64_t id : plan.finished_seq_ids) seqs_.erase(id);
  for (const protocol::SequenceStart& start : plan.starts) {
    const std::string where = "sequence " + std::to_string(start.seq_id);
    SJ_RETURN_IF_ERROR(CheckSampling(start.sampling, where));
    Sequence seq;
    seq.sampling = start.sampling;
    seq.prompt_len = static_cast<int32_t>(start.prompt_len);
    // Every rank derives the same seed when the request set none.
    if (!seq.sampling.seed) seq.sampling.seed = DefaultSeed(start.seq_id);
    if (seq.sampling.guide != GuideKind::kNone) {
      auto matcher = NewMatcher(seq.sampling);
      if (!matcher.ok()) return InvalidArgument(where + ": " + matcher.status().message());
      seq.matcher = std::move(matcher).value();
    }
    if (!seqs_.emplace(start.seq_id, std::move(seq)).second)
      return InvalidArgument(where + " started twice (it was never finished)");
  }
  std::unordered_set<uint64_t> seen;
  seen.reserve(n);
  input.seqs.resize(n);
  size_t token_at = 0, block_at = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = plan.seq_ids[i];
    const std::string where = "sequence " + std::to_string(id);
    auto it = seqs_.find(id);
    if (it == seqs_.end()) {
      return InvalidArgument(where + " was not started on this worker (epoch " +
                             std::to_string(epoch_) + ")");
    }
    if (!seen.insert(id).second) return InvalidArgument(where + " appears twice in the step");
    Sequence& seq = it->second;
    const uint8_t flags = plan.flags[i];
    if (flags & ~protocol::kSeqKnownFlags)
      return InvalidArgument(where + ": unknown flag bits " + std::to_string(flags));
    const uint32_t count = plan.num_tokens[i];
    if (count == 0) return InvalidArgument(where + ": no tokens");
    if (flags & protocol::kSeqResetTable) seq.block_table.clear();
    for (uint32_t k = 0; k < plan.num_new_blocks[i]; ++k) {
      const uint32_t b = plan.new_blocks[block_at++];
      if (b >= static_cast<uint32_t>(num_device_blocks_)) {
        return InvalidArgument(where + ": block " + std::to_string(b) +
                               " is outside the device pool (" +
                               std::to_string(num_device_blocks_) + " blocks)");
      }
      seq.block_table.push_back(static_cast<int32_t>(b));
    }
    const uint64_t end = uint64_t{plan.start_positions[i]} + count;
    if (uint64_t{seq.block_table.size()} * static_cast<uint64_t>(block_size_) < end) {
      return InvalidArgument(where + ": " + std::to_string(seq.block_table.size()) +
                             " blocks cannot hold positions up to " + std::to_string(end));
    }
    SeqInput& in = input.seqs[i];
    in.seq_id = id;
    in.start_pos = static_cast<int32_t>(plan.start_positions[i]);
    in.tokens.assign(plan.token_ids.begin() + token_at, plan.token_ids.begin() + token_at + count);
    token_at += count;
    for (int32_t& t : in.tokens) {
      if (t != protocol::kPendingToken) continue;
      if (seq.last_token < 0)
        return InvalidArgument(where + ": a pending token, but it has sampled nothing");
      t = seq.last_token;
    }
    if (seq.prompt_len > 0) {
      // Output index of each fed token; those this table has not counted yet
      // (restarted by recompute) are replayed in order.
      for (uint32_t k = 0; k < count; ++k) {
        const int64_t out = int64_t{in.start_pos} + k - seq.prompt_len;
        if (out == seq.num_sampled) Replay(seq, in.tokens[k]);
      }
    }
    in.block_table = seq.block_table;
    in.sample = (flags & protocol::kSeqSample) != 0;
    in.prompt_logprobs = (flags & protocol::kSeqPromptLogprobs) != 0;
    in.sampling = seq.sampling;
    if (seq.sampling.needs_history()) {
      seq.history.seen.insert(in.tokens.begin(), in.tokens.end());
      in.history = &seq.history;
    }
    in.matcher = seq.matcher.get();
    if (in.sample) in.sample_index = seq.num_sampled++;
  }
  return input;
}

void SequenceTable::Replay(Sequence& seq, int32_t token) {
  ++seq.num_sampled;
  seq.last_token = token;
  if (seq.sampling.needs_history()) {
    ++seq.history.output_counts[token];
    seq.history.output.push_back(token);
  }
  if (seq.matcher && !seq.matcher->AcceptToken(token)) {
    // Output this guide did not produce (the request's guide cannot change):
    // the constraint can no longer be kept, so say so rather than mask wrongly.
    SJ_LOG(Warn) << "replayed token " << token << " does not match the sequence's guide";
  }
}

Result<std::unique_ptr<grammar::Matcher>> SequenceTable::NewMatcher(
    const SamplingParams& sampling) {
  if (!vocab_) {
    return InvalidArgument(
        "structured outputs need the model's vocabulary, which this worker has not loaded (a GGUF "
        "model file carries it)");
  }
  const std::string key =
      std::to_string(static_cast<int>(sampling.guide)) + ":" + sampling.guide_spec;
  auto it = guides_.find(key);
  if (it == guides_.end()) {
    auto g = grammar::CompileGuide(sampling.guide, sampling.guide_spec);
    if (!g.ok()) return g.status();
    if (guides_.size() >= 64) guides_.clear();  // sequences keep theirs alive
    CompiledGuide c;
    c.grammar = std::move(g).value();
    c.cache = std::make_shared<grammar::MaskCache>(c.grammar, vocab_);
    it = guides_.emplace(key, std::move(c)).first;
  }
  return std::make_unique<grammar::Matcher>(it->second.grammar, vocab_, it->second.cache);
}

void SequenceTable::Record(const StepOutput& output) {
  for (const SeqOutput& s : output.seqs) {
    if (s.token < 0) continue;
    auto it = seqs_.find(s.seq_id);
    if (it == seqs_.end()) continue;
    Sequence& seq = it->second;
    seq.last_token = s.token;
    // Never refused: the token came from this matcher's mask.
    if (seq.matcher) seq.matcher->AcceptToken(s.token);
    if (seq.sampling.needs_history()) {
      seq.history.seen.insert(s.token);
      ++seq.history.output_counts[s.token];
      seq.history.output.push_back(s.token);
    }
  }
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
    o.top_logprobs = s.top;
    o.prompt_logprobs = s.prompt_logprobs;
    r.sequences.push_back(std::move(o));
  }
  return r;
}

}  // namespace skipjoin::worker
