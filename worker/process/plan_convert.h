// The worker's side of the delta step contract: the per-request state a plan
// refers to (sampling parameters, block table, RNG counter, the latest sampled
// token) and the translation of a wire StepPlan (protocol/messages.h) into the
// engine's StepInput (worker/step.h). Owned and called by the Executor thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/grammar/matcher.h"
#include "common/grammar/token_vocabulary.h"
#include "common/status.h"
#include "protocol/messages.h"
#include "worker/step.h"

namespace skipjoin::worker {

// The seed a sequence samples with when its request did not set one: fixed per
// sequence id, so all ranks agree and a request's draws do not depend on batching.
uint64_t DefaultSeed(uint64_t seq_id);

// Every request a replica's plans have started and not finished. Each rank of a
// TP group gets the same plans in the same order and samples the same tokens,
// so every rank holds the same table.
class SequenceTable {
 public:
  SequenceTable(int32_t num_device_blocks, int32_t num_host_blocks, int32_t block_size);

  // Applies a plan to the table and builds the engine input: a new epoch drops
  // every request first, then finished_seq_ids are dropped, starts are added,
  // block tables grow (or are replaced) by new_blocks, and kPendingToken
  // becomes the token the sequence sampled last. Checks what the engine cannot
  // know (array lengths, flags, block ids inside the pools and covering the
  // tokens, sampling ranges, known and unique ids); kInvalidArgument names the
  // offending sequence. After an error the table is undefined until the next
  // epoch (the coordinator starts one after any failed step).
  Result<StepInput> Apply(const protocol::StepPlan& plan);
  // The vocabulary structured-output guides are matched over (the model's);
  // without one, a sequence that starts with a guide is refused.
  void SetVocabulary(std::shared_ptr<const grammar::TokenVocabulary> vocab) {
    vocab_ = std::move(vocab);
  }

  // The StepInput's history and matcher pointers stay valid until the next Apply.
  // Remembers the tokens a step sampled, for the next plan's kPendingToken and
  // the penalties' history.
  void Record(const StepOutput& output);

  size_t size() const { return seqs_.size(); }
  uint64_t epoch() const { return epoch_; }
  // The block table the worker holds for a request (tests), or null.
  const std::vector<int32_t>* BlockTableOf(uint64_t seq_id) const;

 private:
  struct Sequence {
    SamplingParams sampling;
    std::vector<int32_t> block_table;
    int32_t num_sampled = 0;                    // RNG counter: tokens sampled so far (or replayed)
    int32_t prompt_len = 0;                     // 0: unknown, nothing is replayed
    int32_t last_token = -1;                    // the latest sampled token, -1 before the first
    TokenHistory history;                       // kept only when sampling.needs_history()
    std::unique_ptr<grammar::Matcher> matcher;  // when sampling.guide is set
  };
  // A fed token that is earlier output this table has not seen (a request
  // restarted by recompute): counts it as sampled, for the RNG counter, the
  // penalties and the guide.
  static void Replay(Sequence& seq, int32_t token);
  // A matcher for a guide; compiled grammars are kept per spec (bounded).
  Result<std::unique_ptr<grammar::Matcher>> NewMatcher(const SamplingParams& sampling);

  struct CompiledGuide {
    grammar::GrammarPtr grammar;
    std::shared_ptr<grammar::MaskCache> cache;  // shared by the guide's sequences
  };
  std::shared_ptr<const grammar::TokenVocabulary> vocab_;
  std::unordered_map<std::string, CompiledGuide> guides_;

  int32_t num_device_blocks_;
  int32_t num_host_blocks_;
  int32_t block_size_;
  bool have_epoch_ = false;
  uint64_t epoch_ = 0;
  std::unordered_map<uint64_t, Sequence> seqs_;
};

// The result message for an executed step (timings are the caller's).
protocol::StepResult ToStepResult(const protocol::StepPlan& plan, uint32_t worker_id,
                                  const StepOutput& output);

}  // namespace skipjoin::worker
