// Engine::Step: swap copies, then one forward pass over a mixed batch, then
// the LM head on the rows that need logits, then sampling on rank 0.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "worker/engine_impl.h"
#include "worker/sampler.h"

namespace skipjoin {
namespace {

// Runs one op; with profiling on, synchronizes and charges its wall time to
// the op's kind (profiling serializes the backend, so it is off by default).
#define SJ_OP(kind, expr)                                                     \
  do {                                                                        \
    const auto sj_t0 = std::chrono::steady_clock::now();                      \
    SJ_RETURN_IF_ERROR(expr);                                                 \
    if (m.options.profile) {                                                  \
      SJ_RETURN_IF_ERROR(be.Synchronize());                                   \
      m.op_seconds[static_cast<size_t>(OpKind::kind)] += SecondsSince(sj_t0); \
    }                                                                         \
  } while (0)

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Host-side index tables of one step.
struct StepTables {
  std::vector<int32_t> tokens, positions, slots;
  std::vector<int32_t> query_start, context_lens, block_tables;
  int32_t max_blocks = 0, max_query = 0, max_context = 0;
  // Rows whose logits are computed, and per sequence the first of its rows in
  // that list and how many it has.
  std::vector<int32_t> logit_rows;
  std::vector<int32_t> seq_logit_begin, seq_logit_count;
};

Status BuildTables(const StepInput& in, const kernels::KvLayout& kv, int64_t max_tokens,
                   int64_t max_context, StepTables* t) {
  const int32_t bs = kv.block_size;
  int64_t total = 0;
  for (const SeqInput& s : in.seqs) {
    total += static_cast<int64_t>(s.tokens.size());
    t->max_blocks = std::max<int32_t>(t->max_blocks, static_cast<int32_t>(s.block_table.size()));
  }
  if (total > max_tokens) {
    return InvalidArgument("step has " + std::to_string(total) + " tokens, the engine allows " +
                           std::to_string(max_tokens));
  }
  t->query_start.push_back(0);
  t->block_tables.assign(in.seqs.size() * std::max(t->max_blocks, 1), 0);
  for (size_t i = 0; i < in.seqs.size(); ++i) {
    const SeqInput& s = in.seqs[i];
    const int32_t n = static_cast<int32_t>(s.tokens.size());
    const std::string who = "sequence " + std::to_string(s.seq_id);
    if (n == 0) return InvalidArgument(who + " has no tokens");
    if (s.start_pos < 0) return InvalidArgument(who + " has negative start_pos");
    const int64_t ctx = int64_t{s.start_pos} + n;
    if (ctx > max_context) {
      return InvalidArgument(who + " reaches position " + std::to_string(ctx) +
                             ", past the context window of " + std::to_string(max_context));
    }
    if (static_cast<int64_t>(s.block_table.size()) * bs < ctx) {
      return InvalidArgument(who + " needs " + std::to_string((ctx + bs - 1) / bs) +
                             " blocks, its table has " + std::to_string(s.block_table.size()));
    }
    for (int32_t b : s.block_table) {
      if (b < 0 || b >= kv.num_blocks) {
        return InvalidArgument(who + " uses block " + std::to_string(b) + ", the pool has " +
                               std::to_string(kv.num_blocks));
      }
    }
    std::copy(s.block_table.begin(), s.block_table.end(),
              t->block_tables.begin() + i * t->max_blocks);
    const int32_t row0 = t->query_start.back();
    for (int32_t j = 0; j < n; ++j) {
      const int32_t pos = s.start_pos + j;
      t->tokens.push_back(s.tokens[j]);
      t->positions.push_back(pos);
      t->slots.push_back(s.block_table[pos / bs] * bs + pos % bs);
    }
    t->query_start.push_back(row0 + n);
    t->context_lens.push_back(static_cast<int32_t>(ctx));
    t->max_query = std::max(t->max_query, n);
    t->max_context = std::max<int32_t>(t->max_context, static_cast<int32_t>(ctx));
    t->seq_logit_begin.push_back(static_cast<int32_t>(t->logit_rows.size()));
    if (s.return_logits || s.prompt_logprobs) {
      for (int32_t j = 0; j < n; ++j) t->logit_rows.push_back(row0 + j);
    } else if (s.sample) {
      t->logit_rows.push_back(row0 + n - 1);
    }
    t->seq_logit_count.push_back(static_cast<int32_t>(t->logit_rows.size()) -
                                 t->seq_logit_begin.back());
  }
  return Status::Ok();
}

// A sequence that, if it samples, wants only the greedy token and its logprob:
// no logits, no prompt logprobs, no top logprobs, no processors, no guide.
bool NeedsOnlyGreedy(const SeqInput& s) {
  if (!s.sample) return !s.return_logits && !s.prompt_logprobs;
  const SamplingParams& p = s.sampling;
  return !s.return_logits && !s.prompt_logprobs && s.matcher == nullptr &&
         (p.temperature <= 0.0f || p.top_k == 1) && !p.has_logit_processors() && p.logprobs == 0;
}

}  // namespace

Result<StepOutput> Engine::Step(const StepInput& input) {
  Impl& m = *impl_;
  kernels::Backend& be = *m.backend;
  const ModelConfig& c = m.config;
  const ShardDims& s = m.shard;
  const kernels::KvLayout& kv = m.kv;
  StepOutput out;

  // 1. Swaps: out first (they free device blocks that swap-ins may reuse).
  const auto t_swap = std::chrono::steady_clock::now();
  if (!input.swap_out.empty() || !input.swap_in.empty()) {
    if (m.num_host_blocks == 0)
      return FailedPrecondition("step asks for swaps but the host pool is empty");
    std::vector<int32_t> dev, host;
    for (const BlockPair& p : input.swap_out) {
      dev.push_back(p.device);
      host.push_back(p.host);
    }
    for (int64_t l = 0; l < c.num_layers && !dev.empty(); ++l) {
      SJ_RETURN_IF_ERROR(be.CopyBlocksToHost(m.k_dev[l], kv.num_blocks, m.k_host[l],
                                             m.num_host_blocks, dev.data(), host.data(), dev.size(),
                                             kv.block_elems()));
      SJ_RETURN_IF_ERROR(be.CopyBlocksToHost(m.v_dev[l], kv.num_blocks, m.v_host[l],
                                             m.num_host_blocks, dev.data(), host.data(), dev.size(),
                                             kv.block_elems()));
    }
    dev.clear();
    host.clear();
    for (const BlockPair& p : input.swap_in) {
      dev.push_back(p.device);
      host.push_back(p.host);
    }
    for (int64_t l = 0; l < c.num_layers && !dev.empty(); ++l) {
      SJ_RETURN_IF_ERROR(be.CopyBlocksToDevice(m.k_host[l], m.num_host_blocks, m.k_dev[l],
                                               kv.num_blocks, host.data(), dev.data(), dev.size(),
                                               kv.block_elems()));
      SJ_RETURN_IF_ERROR(be.CopyBlocksToDevice(m.v_host[l], m.num_host_blocks, m.v_dev[l],
                                               kv.num_blocks, host.data(), dev.data(), dev.size(),
                                               kv.block_elems()));
    }
  }
  out.swap_seconds = SecondsSince(t_swap);
  if (input.seqs.empty()) return out;

  // 2. Index tables.
  const auto t_compute = std::chrono::steady_clock::now();
  StepTables tab;
  SJ_RETURN_IF_ERROR(BuildTables(input, kv, m.options.max_step_tokens, c.max_context, &tab));
  const int64_t T = static_cast<int64_t>(tab.tokens.size());
  out.num_tokens = T;
  const int64_t H = c.hidden_size, hd = c.head_dim;
  const int64_t q_w = int64_t{s.q_heads} * hd, kv_w = int64_t{s.kv_heads} * hd;
  const int64_t qkv_w = s.qkv_width(hd);
  const size_t esz = kernels::DTypeSize(be.act_dtype());
  char* qkv = static_cast<char*>(m.qkv);
  kernels::AttentionBatch batch;
  batch.num_seqs = static_cast<int32_t>(input.seqs.size());
  batch.query_start = tab.query_start.data();
  batch.context_lens = tab.context_lens.data();
  batch.block_tables = tab.block_tables.data();
  batch.max_blocks_per_seq = tab.max_blocks;
  batch.max_query_len = tab.max_query;
  batch.max_context_len = tab.max_context;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  // Collectives run only with tp > 1, where the backend's activations are host
  // float32 (the CPU backend); Engine::Create refuses TP on other backends
  // until an NCCL communicator exists.
  const int tp = m.comm->size();

  // 3. Layers. x is the residual stream; h the normalized input of a sublayer.
  SJ_OP(kEmbed, be.Embedding(m.embed, c.vocab_size, H, tab.tokens.data(), T, m.x));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& w = m.layers[l];
    if (l == 0) {
      SJ_OP(kNorm, be.RmsNorm(m.x, w.attn_norm, T, H, c.rms_norm_eps, m.h));
    } else {
      SJ_OP(kNorm, be.AddRmsNorm(m.x, m.o, w.attn_norm, T, H, c.rms_norm_eps, m.h));
    }
    SJ_OP(kQkv, be.Linear(m.h, w.wqkv, w.bqkv, T, qkv_w, H, m.qkv));
    void* q = qkv;
    void* k = qkv + q_w * esz;
    void* v = qkv + (q_w + kv_w) * esz;
    SJ_OP(kRope,
          be.Rope(q, qkv_w, s.q_heads, k, qkv_w, s.kv_heads, static_cast<int32_t>(hd),
                  tab.positions.data(), T, static_cast<const float*>(m.inv_freq), c.rope_neox));
    SJ_OP(kKvAppend,
          be.KvAppend(k, qkv_w, v, qkv_w, tab.slots.data(), T, kv, m.k_dev[l], m.v_dev[l]));
    SJ_OP(kAttention,
          be.PagedAttention(q, qkv_w, s.q_heads, m.k_dev[l], m.v_dev[l], kv, batch, scale, m.attn));
    SJ_OP(kOutProj, be.Linear(m.attn, w.wo, nullptr, T, H, q_w, m.o));
    if (tp > 1) SJ_OP(kAllReduce, m.comm->AllReduceSum(static_cast<float*>(m.o), T * H));
    SJ_OP(kNorm, be.AddRmsNorm(m.x, m.o, w.ffn_norm, T, H, c.rms_norm_eps, m.h));
    SJ_OP(kGateUp, be.Linear(m.h, w.w_gate_up, nullptr, T, 2 * s.ffn, H, m.gate_up));
    SJ_OP(kSiluMul, be.SiluMul(m.gate_up, T, s.ffn, m.act));
    SJ_OP(kDown, be.Linear(m.act, w.w_down, nullptr, T, H, s.ffn, m.o));
    if (tp > 1) SJ_OP(kAllReduce, m.comm->AllReduceSum(static_cast<float*>(m.o), T * H));
  }

  // 4. Final norm and LM head on the rows that need logits only.
  const int64_t R = static_cast<int64_t>(tab.logit_rows.size());
  if (R > 0) {
    if (R > m.logit_rows_capacity) {
      // Grow geometrically so a run of growing batches reallocates rarely.
      const int64_t cap = std::max<int64_t>(R, 2 * m.logit_rows_capacity);
      SJ_ASSIGN_OR_RETURN(m.rows_h, m.Realloc(m.rows_h, cap * H * esz));
      SJ_ASSIGN_OR_RETURN(m.logits_local, m.Realloc(m.logits_local, cap * s.vocab * sizeof(float)));
      if (tp > 1) {
        SJ_ASSIGN_OR_RETURN(
            m.logits_all, m.Realloc(m.logits_all, cap * s.vocab * m.comm->size() * sizeof(float)));
      }
      m.logit_rows_capacity = cap;
    }
    // The norm over all T rows costs T * H, nothing next to the layers.
    SJ_OP(kNorm, be.AddRmsNorm(m.x, m.o, m.out_norm, T, H, c.rms_norm_eps, m.h));
    SJ_RETURN_IF_ERROR(be.GatherRows(m.h, T, H, tab.logit_rows.data(), R, m.rows_h));
    // Logits are float32 whatever the activation dtype (the host samples from them).
    SJ_OP(kLmHead,
          be.LinearLogits(m.rows_h, m.lm_head, R, s.vocab, H, static_cast<float*>(m.logits_local)));
    if (tp > 1) {
      SJ_OP(kAllReduce, m.comm->AllGather(static_cast<float*>(m.logits_local), R * s.vocab,
                                          static_cast<float*>(m.logits_all)));
    }
  }
  out.compute_seconds = SecondsSince(t_compute);

  const int64_t V = c.vocab_size;
  out.seqs.resize(input.seqs.size());
  const auto t_sample = std::chrono::steady_clock::now();

  // 5a. A step whose every row only wants its greedy token (the common decode
  // batch) picks them on the device and brings back 8 bytes a row.
  if (R > 0 && tp == 1 && s.vocab == V && be.SupportsGreedyRows() &&
      std::all_of(input.seqs.begin(), input.seqs.end(), NeedsOnlyGreedy)) {
    std::vector<int32_t> tokens(R);
    std::vector<float> logprobs(R);
    SJ_RETURN_IF_ERROR(be.GreedyRows(static_cast<const float*>(m.logits_local), R, V, tokens.data(),
                                     logprobs.data()));
    for (size_t i = 0; i < input.seqs.size(); ++i) {
      SeqOutput& so = out.seqs[i];
      so.seq_id = input.seqs[i].seq_id;
      if (tab.seq_logit_count[i] == 0) continue;
      so.token = tokens[tab.seq_logit_begin[i]];
      so.logprob = logprobs[tab.seq_logit_begin[i]];
    }
    if (m.options.profile)
      m.op_seconds[static_cast<size_t>(OpKind::kSample)] += SecondsSince(t_sample);
    return out;
  }

  // 5. Logits to the host as [R, vocab] (shard r holds columns [r * s.vocab, ...)).
  SJ_RETURN_IF_ERROR(m.ReserveHostLogits(R * V));
  if (R > 0 && tp == 1 && s.vocab == V) {
    SJ_RETURN_IF_ERROR(be.DownloadLogits(m.host_logits, m.logits_local, R * V));
  } else if (R > 0) {
    std::vector<float>& gathered = m.host_gathered;
    gathered.resize(R * s.vocab * tp);
    SJ_RETURN_IF_ERROR(be.DownloadLogits(gathered.data(), tp > 1 ? m.logits_all : m.logits_local,
                                         R * s.vocab * tp));
    for (int r = 0; r < tp; ++r) {
      const int64_t v0 = r * s.vocab, v1 = std::min(V, v0 + s.vocab);
      for (int64_t row = 0; row < R && v1 > v0; ++row) {
        std::copy_n(gathered.data() + (r * R + row) * s.vocab, v1 - v0,
                    m.host_logits + row * V + v0);
      }
    }
  }

  // 6. Sampling and logprobs per sequence: independent rows (each draw is fixed
  // by its seed and sample index), spread over the backend's host threads.
  auto sample = [&](int64_t begin, int64_t end) {
    thread_local SamplerScratch scratch;
    for (int64_t i = begin; i < end; ++i) {
      const SeqInput& si = input.seqs[i];
      SeqOutput& so = out.seqs[i];
      so.seq_id = si.seq_id;
      const int32_t count = tab.seq_logit_count[i];
      const float* rows = m.host_logits + int64_t{tab.seq_logit_begin[i]} * V;
      if (count == 0) continue;
      if (si.return_logits) so.logits.assign(rows, rows + int64_t{count} * V);
      if (si.prompt_logprobs) {
        for (int32_t j = 0; j < count; ++j) {
          const int32_t next = j + 1 < count ? si.tokens[j + 1] : si.next_token;
          if (next < 0 || next >= V) break;
          so.prompt_logprobs.push_back(LogProbOf(rows + int64_t{j} * V, V, next));
        }
      }
      if (si.sample) {
        SampleResult r = SampleRow(rows + int64_t{count - 1} * V, V, si.sampling, si.sample_index,
                                   si.history, &scratch, si.matcher);
        so.token = r.token;
        so.logprob = r.logprob;
        so.top = std::move(r.top);
      }
    }
  };
  be.HostParallelFor(static_cast<int64_t>(input.seqs.size()), sample);
  if (m.options.profile)
    m.op_seconds[static_cast<size_t>(OpKind::kSample)] += SecondsSince(t_sample);
  return out;
}

std::vector<std::pair<std::string, double>> Engine::OpProfile() const {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < impl_->op_seconds.size(); ++i) {
    out.emplace_back(OpKindName(static_cast<OpKind>(i)), impl_->op_seconds[i]);
  }
  return out;
}

}  // namespace skipjoin
