#include "worker/local_runner.h"

#include <algorithm>
#include <chrono>

namespace skipjoin {

LocalRunner::LocalRunner(Engine* engine, LocalRunnerOptions options)
    : engine_(engine), options_(options) {}

Result<std::vector<std::vector<int32_t>>> LocalRunner::Run(
    const std::vector<LocalRequest>& requests,
    const std::function<void(size_t, int32_t, float)>& on_token, LocalRunStats* stats) {
  LocalRunStats local;
  LocalRunStats& st = stats ? *stats : local;
  const int32_t bs = engine_->kv_layout().block_size;
  const int64_t max_ctx = engine_->config().max_context;
  // Reserve every request's blocks up front: prompt + max_new_tokens.
  std::vector<std::vector<int32_t>> tables(requests.size());
  int32_t next_block = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const LocalRequest& r = requests[i];
    if (r.prompt.empty()) return InvalidArgument("request " + std::to_string(i) + " has an empty prompt");
    const int64_t len = static_cast<int64_t>(r.prompt.size()) + r.max_new_tokens;
    if (len > max_ctx) {
      return InvalidArgument("request " + std::to_string(i) + ": prompt (" + std::to_string(r.prompt.size()) +
                             ") + max_new_tokens (" + std::to_string(r.max_new_tokens) +
                             ") exceeds the context window of " + std::to_string(max_ctx));
    }
    const int32_t blocks = static_cast<int32_t>((len + bs - 1) / bs);
    if (next_block + blocks > engine_->num_device_blocks()) {
      return ResourceExhausted("the KV pool has " + std::to_string(engine_->num_device_blocks()) +
                               " blocks, these requests need more; raise the KV cache size");
    }
    for (int32_t b = 0; b < blocks; ++b) tables[i].push_back(next_block++);
  }

  std::vector<std::vector<int32_t>> out(requests.size());
  std::vector<int32_t> pos(requests.size(), 0);  // tokens already in the cache
  std::vector<bool> done(requests.size(), false);
  const int64_t budget = engine_->options().max_step_tokens;
  const int32_t chunk = std::max<int32_t>(1, options_.prefill_chunk);

  auto run_step = [&](StepInput& in, bool prefill) -> Status {
    const auto t0 = std::chrono::steady_clock::now();
    SJ_ASSIGN_OR_RETURN(StepOutput res, engine_->Step(in));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++st.steps;
    if (prefill) {
      st.prefill_seconds += dt;
      st.prefill_tokens += res.num_tokens;
    } else {
      st.decode_seconds += dt;
      st.decode_enqueue_seconds += res.compute_seconds;
      st.decode_tokens += res.num_tokens;
    }
    for (size_t k = 0; k < in.seqs.size(); ++k) {
      const size_t i = in.seqs[k].seq_id;
      pos[i] += static_cast<int32_t>(in.seqs[k].tokens.size());
      if (!in.seqs[k].sample) continue;
      const int32_t tok = res.seqs[k].token;
      out[i].push_back(tok);
      if (on_token) on_token(i, tok, res.seqs[k].logprob);
      const LocalRequest& r = requests[i];
      if (static_cast<int32_t>(out[i].size()) >= r.max_new_tokens ||
          std::find(r.stop_ids.begin(), r.stop_ids.end(), tok) != r.stop_ids.end()) {
        done[i] = true;
      }
    }
    return Status::Ok();
  };

  // Prefill: pack chunks of pending prompts into steps under the token budget.
  for (;;) {
    StepInput in;
    int64_t used = 0;
    for (size_t i = 0; i < requests.size() && used < budget; ++i) {
      const LocalRequest& r = requests[i];
      const int32_t remaining = static_cast<int32_t>(r.prompt.size()) - pos[i];
      if (remaining <= 0 || done[i]) continue;
      const int32_t n = static_cast<int32_t>(std::min<int64_t>({remaining, chunk, budget - used}));
      SeqInput s;
      s.seq_id = i;
      s.tokens.assign(r.prompt.begin() + pos[i], r.prompt.begin() + pos[i] + n);
      s.start_pos = pos[i];
      s.block_table = tables[i];
      s.sample = (n == remaining) && r.max_new_tokens > 0;
      s.sample_index = 0;
      s.sampling = r.sampling;
      in.seqs.push_back(std::move(s));
      used += n;
    }
    if (in.seqs.empty()) break;
    SJ_RETURN_IF_ERROR(run_step(in, true));
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].max_new_tokens <= 0) done[i] = true;
  }
  // Decode: every unfinished request feeds its last token.
  for (;;) {
    StepInput in;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (done[i]) continue;
      SeqInput s;
      s.seq_id = i;
      s.tokens = {out[i].back()};
      s.start_pos = pos[i];
      s.block_table = tables[i];
      s.sample = true;
      s.sample_index = static_cast<int32_t>(out[i].size());
      s.sampling = requests[i].sampling;
      in.seqs.push_back(std::move(s));
    }
    if (in.seqs.empty()) break;
    SJ_RETURN_IF_ERROR(run_step(in, false));
  }
  return out;
}

}  // namespace skipjoin
