// Test harness over Engine: runs sequences with a chosen prefill chunk size,
// block size, batch companions and block placement, and records every row's
// logits and the greedy tokens, so tests can compare configurations.
#pragma once

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "gtest/gtest.h"
#include "worker/engine.h"

namespace skipjoin::testing {

struct SeqRecord {
  std::vector<std::vector<float>> logits;  // one per row fed: prompt rows, then decode rows
  std::vector<int32_t> tokens;             // greedy tokens
  std::vector<float> logprobs;             // each token's logprob
};

// A scratch directory unique to this process and name.
inline std::string TestTempDir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("skipjoin_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

struct RunOptions {
  int32_t chunk = 1 << 30;  // prompt tokens per step
  int32_t decode_steps = 8;
  // Swap the first sequence out to the host pool after its prefill, clobber
  // the device blocks it used, and swap it back in to other device blocks.
  bool swap_round_trip = false;
  uint32_t block_shuffle_seed = 0;  // 0: blocks in order; else a random placement
  bool return_logits = true;        // false: tokens and logprobs only (no logits rows)
  int32_t top_logprobs = 0;         // SamplingParams::logprobs of every sequence
};

// Runs prompts together (all prefills chunked, then decodes in one batch).
inline std::vector<SeqRecord> RunSequences(Engine& engine, const std::vector<std::vector<int32_t>>& prompts,
                                           const RunOptions& opt) {
  const int32_t bs = engine.kv_layout().block_size;
  const int32_t total_blocks = engine.num_device_blocks();
  std::vector<int32_t> free_blocks(total_blocks);
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  if (opt.block_shuffle_seed != 0) {
    std::mt19937 rng(opt.block_shuffle_seed);
    std::shuffle(free_blocks.begin(), free_blocks.end(), rng);
  }
  size_t next_free = 0;
  std::vector<std::vector<int32_t>> tables(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int32_t need = static_cast<int32_t>((prompts[i].size() + opt.decode_steps + 1 + bs - 1) / bs);
    for (int32_t b = 0; b < need; ++b) tables[i].push_back(free_blocks.at(next_free++));
  }
  std::vector<SeqRecord> rec(prompts.size());
  std::vector<int32_t> pos(prompts.size(), 0);
  auto step = [&](StepInput& in) {
    auto res = engine.Step(in);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    if (!res.ok()) return false;
    const int64_t V = engine.config().vocab_size;
    for (size_t k = 0; k < in.seqs.size(); ++k) {
      const size_t i = in.seqs[k].seq_id;
      const auto& lg = res->seqs[k].logits;
      for (size_t r = 0; r * V < lg.size(); ++r) rec[i].logits.emplace_back(lg.begin() + r * V, lg.begin() + (r + 1) * V);
      pos[i] += static_cast<int32_t>(in.seqs[k].tokens.size());
      if (in.seqs[k].sample) {
        rec[i].tokens.push_back(res->seqs[k].token);
        rec[i].logprobs.push_back(res->seqs[k].logprob);
      }
    }
    return true;
  };
  // Prefill.
  for (;;) {
    StepInput in;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int32_t remaining = static_cast<int32_t>(prompts[i].size()) - pos[i];
      if (remaining <= 0) continue;
      const int32_t n = std::min(remaining, opt.chunk);
      SeqInput s;
      s.seq_id = i;
      s.tokens.assign(prompts[i].begin() + pos[i], prompts[i].begin() + pos[i] + n);
      s.start_pos = pos[i];
      s.block_table = tables[i];
      s.sample = n == remaining;
      s.return_logits = opt.return_logits;
      s.sampling.logprobs = opt.top_logprobs;
      in.seqs.push_back(s);
    }
    if (in.seqs.empty()) break;
    if (!step(in)) return rec;
  }
  if (opt.swap_round_trip) {
    // Out to host blocks 0.., clobber by running a dummy sequence over the same
    // device blocks, then in to fresh device blocks.
    StepInput out;
    for (size_t b = 0; b < tables[0].size(); ++b) out.swap_out.push_back({tables[0][b], static_cast<int32_t>(b)});
    EXPECT_TRUE(engine.Step(out).ok());
    StepInput clobber;
    SeqInput junk;
    junk.seq_id = 999;
    junk.tokens.assign(tables[0].size() * bs, 1);
    junk.block_table = tables[0];
    clobber.seqs.push_back(junk);
    EXPECT_TRUE(engine.Step(clobber).ok());
    StepInput in;
    std::vector<int32_t> fresh;
    for (size_t b = 0; b < tables[0].size(); ++b) {
      fresh.push_back(free_blocks.at(next_free++));
      in.swap_in.push_back({fresh.back(), static_cast<int32_t>(b)});
    }
    EXPECT_TRUE(engine.Step(in).ok());
    tables[0] = fresh;
  }
  // Decode.
  for (int32_t d = 0; d < opt.decode_steps; ++d) {
    StepInput in;
    for (size_t i = 0; i < prompts.size(); ++i) {
      SeqInput s;
      s.seq_id = i;
      s.tokens = {rec[i].tokens.back()};
      s.start_pos = pos[i];
      s.block_table = tables[i];
      s.sample = true;
      s.sample_index = static_cast<int32_t>(rec[i].tokens.size());
      s.return_logits = opt.return_logits;
      s.sampling.logprobs = opt.top_logprobs;
      in.seqs.push_back(s);
    }
    if (!step(in)) return rec;
  }
  return rec;
}

inline float MaxAbsDiff(const SeqRecord& a, const SeqRecord& b) {
  float m = 0.f;
  EXPECT_EQ(a.logits.size(), b.logits.size());
  for (size_t r = 0; r < std::min(a.logits.size(), b.logits.size()); ++r) {
    for (size_t v = 0; v < a.logits[r].size(); ++v) m = std::max(m, std::abs(a.logits[r][v] - b.logits[r][v]));
  }
  return m;
}

}  // namespace skipjoin::testing
