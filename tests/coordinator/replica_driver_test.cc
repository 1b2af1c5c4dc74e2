// The step contract end to end without sockets: Scheduler plans ->
// ReplicaDriver deltas -> msgpack bytes -> the worker's SequenceTable -> the
// engine's StepInput, which must be exactly the batch the Scheduler planned
// (tokens, pending tokens filled in, block tables, swaps), under random
// arrivals, cancels, swaps, recompute and epochs, with one, two and three
// steps in flight. And the size of a steady decode step on the wire.
#include "coordinator/server/replica_driver.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>

#include "coordinator/scheduler/scheduler.h"
#include "protocol/codec.h"
#include "worker/process/plan_convert.h"

namespace skipjoin::server {
namespace {

using scheduler::RequestId;

struct Sent {
  std::string frame;         // what went on the wire
  scheduler::StepPlan plan;  // what the scheduler planned
};

// Runs `steps` decode-only steps of `n` requests and returns the largest
// encoded plan among them.
size_t SteadyDecodeBytes(int n, int32_t max_in_flight) {
  scheduler::SchedulerOptions o;
  o.max_running_sequences = n;
  o.token_budget = 4 * n + 64;
  o.max_steps_in_flight = max_in_flight;
  scheduler::ManualClock clock;
  scheduler::Scheduler s(o, &clock);
  EXPECT_TRUE(s.AddReplica(0, {4096, 0, 16}).ok());
  // Request ids as the coordinator makes them (large), prompts of a chat turn.
  for (int i = 0; i < n; ++i) {
    scheduler::RequestSpec r;
    r.id = 3'000'000'000ull + static_cast<RequestId>(i);
    r.prompt_token_ids.assign(200, 17);
    r.max_new_tokens = 400;
    EXPECT_TRUE(s.Submit(std::move(r)).ok());
  }
  ReplicaDriver d(0, max_in_flight);
  protocol::StepPlan wire;
  std::string frame;
  size_t largest = 0;
  int decode_steps = 0;
  for (int step = 0; step < 600 && decode_steps < 100; ++step) {
    while (d.can_send()) {
      scheduler::StepPlan* p = d.NextPlanStorage();
      if (!s.BuildNextStep(0, p)) break;
      bool decode_only =
          p->swap_in.empty() && p->swap_out.empty() && static_cast<int>(p->sequences.size()) == n;
      for (const scheduler::StepSequence& q : p->sequences) decode_only &= q.num_tokens == 1;
      d.Prepare(nullptr, 0, &wire);
      protocol::EncodeInto(wire, &frame);
      if (decode_only) {
        EXPECT_TRUE(wire.starts.empty()) << "sampling parameters sent again";
        largest = std::max(largest, frame.size());
        ++decode_steps;
      }
    }
    scheduler::StepOutcome out;
    out.measured_seconds = 0.01;
    for (const scheduler::StepSequence& q : d.front()->plan.sequences)
      out.sampled_token_ids.push_back(q.samples ? 5 : scheduler::kNoToken);
    clock.Advance(0.01);
    EXPECT_TRUE(s.OnStepDone(0, out).ok());
    d.PopFront();
  }
  EXPECT_EQ(decode_steps, 100);
  return largest;
}

TEST(ReplicaDriverTest, SteadyDecodeCostsAFewBytesPerSequence) {
  for (int32_t k : {1, 2}) {
    const size_t b8 = SteadyDecodeBytes(8, k);
    const size_t b32 = SteadyDecodeBytes(32, k);
    const double per_seq = static_cast<double>(b32 - b8) / 24.0;
    const double fixed = static_cast<double>(b8) - 8 * per_seq;
    // Target: <= 32 bytes per decoding sequence plus a constant.
    EXPECT_LE(per_seq, 32.0) << "k=" << k << " 8 seqs " << b8 << " B, 32 seqs " << b32 << " B";
    EXPECT_LE(fixed, 128.0) << "k=" << k;
    RecordProperty("bytes_per_decode_sequence", std::to_string(per_seq));
    std::printf("k=%d steady decode plan: %zu B at 8 sequences, %zu B at 32 (%.1f B/sequence)\n", k,
                b8, b32, per_seq);
  }
}

// Over all seeds of a run: that the random walk reached what it must cover.
struct Coverage {
  int64_t swaps = 0, recomputes = 0, pending_tokens = 0, epochs = 0;
};

void RunSeed(uint64_t seed, int32_t max_in_flight, Coverage* coverage) {
  std::mt19937_64 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  scheduler::SchedulerOptions o;
  o.policy = uni(0, 1) ? scheduler::PolicyKind::kMlfq : scheduler::PolicyKind::kFcfs;
  o.mlfq = {4, 0.02, 2.0, 0.5};
  o.max_running_sequences = uni(1, 6);
  o.token_budget = uni(4, 40);
  o.prefetch_lookahead = uni(0, 3);
  o.no_pingpong_steps = uni(0, 3);
  o.max_steps_in_flight = max_in_flight;
  scheduler::ManualClock clock;
  scheduler::Scheduler s(o, &clock);
  const scheduler::KvPoolSpec pool{uni(10, 24), uni(0, 20), 4};
  ASSERT_TRUE(s.AddReplica(0, pool).ok());
  ReplicaDriver d(0, max_in_flight);
  std::map<RequestId, SequenceInfo> infos;
  ReplicaDriver::InfoFn info = [&](RequestId id) -> const SequenceInfo* {
    auto it = infos.find(id);
    return it == infos.end() ? nullptr : &it->second;
  };
  worker::SequenceTable table(pool.device_blocks, pool.host_blocks, pool.block_size);
  std::deque<std::string> wire_queue;
  std::map<RequestId, int32_t> last_sampled;
  std::set<RequestId> live;
  RequestId next_id = 1;
  protocol::StepPlan wire;
  for (int op = 0; op < 500 || !live.empty(); ++op) {
    ASSERT_LT(op, 20000) << "seed " << seed << ": requests never finish";
    const int kind = op < 500 ? uni(0, 9) : 9;
    clock.Advance(0.001 * uni(0, 10));
    if (kind <= 2) {
      scheduler::RequestSpec r;
      r.id = next_id++;
      for (int i = uni(1, 20); i > 0; --i) r.prompt_token_ids.push_back(uni(10, 90));
      r.max_new_tokens = uni(1, 12);
      r.stop_token_ids = {99};
      SequenceInfo si;
      si.sampling.temperature = 0.5f * static_cast<float>(uni(0, 2));
      si.sampling.top_k = uni(0, 5);
      si.echo = uni(0, 3) == 0;
      si.prompt_len = static_cast<int32_t>(r.prompt_token_ids.size());
      infos[r.id] = si;
      if (s.Submit(std::move(r)).ok()) live.insert(next_id - 1);
    } else if (kind == 3 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, uni(0, static_cast<int>(live.size()) - 1));
      ASSERT_TRUE(s.Cancel(*it).ok());
      d.Forget(*it);
      live.erase(it);
    } else if (kind == 4 && uni(0, 20) == 0) {
      // A failed step: the replica is formed again, both sides resync.
      scheduler::ReplicaLoss loss = s.MarkReplicaDead(0);
      ASSERT_TRUE(s.AddReplica(0, pool).ok());
      for (RequestId id : loss.failed) live.erase(id);
      d.NewEpoch();
      wire_queue.clear();
      ++coverage->epochs;
    } else {
      // The worker runs the oldest step in flight.
      if (d.front() != nullptr) {
        auto plan = protocol::DecodeAs<protocol::StepPlan>(wire_queue.front());
        ASSERT_TRUE(plan.ok()) << plan.status().ToString();
        auto in = table.Apply(*plan);
        ASSERT_TRUE(in.ok()) << "seed " << seed << ": " << in.status().ToString();
        const scheduler::StepPlan& want = d.front()->plan;
        ASSERT_EQ(in->seqs.size(), want.sequences.size());
        ASSERT_EQ(in->swap_out.size(), want.swap_out.size());
        for (size_t i = 0; i < want.swap_out.size(); ++i) {
          EXPECT_EQ(in->swap_out[i].device, want.swap_out[i].device);
          EXPECT_EQ(in->swap_out[i].host, want.swap_out[i].host);
        }
        ASSERT_EQ(in->swap_in.size(), want.swap_in.size());
        for (size_t i = 0; i < want.swap_in.size(); ++i) {
          EXPECT_EQ(in->swap_in[i].device, want.swap_in[i].device);
          EXPECT_EQ(in->swap_in[i].host, want.swap_in[i].host);
        }
        StepOutput out;
        scheduler::StepOutcome outcome;
        outcome.measured_seconds = 0.001 * uni(1, 30);
        for (size_t i = 0; i < want.sequences.size(); ++i) {
          const scheduler::StepSequence& q = want.sequences[i];
          const SeqInput& got = in->seqs[i];
          const std::string who = "seed " + std::to_string(seed) + " request " +
                                  std::to_string(q.request_id) + " step " +
                                  std::to_string(want.step_id);
          ASSERT_EQ(got.seq_id, q.request_id) << who;
          EXPECT_EQ(got.start_pos, q.start_position) << who;
          EXPECT_EQ(got.sample, q.samples) << who;
          const auto tokens = want.tokens_of(q);
          ASSERT_EQ(got.tokens.size(), tokens.size()) << who;
          for (size_t t = 0; t < tokens.size(); ++t) {
            const bool pending = tokens[t] == scheduler::kPendingToken;
            coverage->pending_tokens += pending;
            const int32_t expect = pending ? last_sampled.at(q.request_id) : tokens[t];
            EXPECT_EQ(got.tokens[t], expect) << who << " token " << t;
          }
          const auto blocks = want.block_table_of(q);
          EXPECT_EQ(got.block_table, std::vector<int32_t>(blocks.begin(), blocks.end())) << who;
          const SequenceInfo& si = infos.at(q.request_id);
          EXPECT_EQ(got.sampling.temperature, si.sampling.temperature) << who;
          EXPECT_EQ(got.sampling.top_k, si.sampling.top_k) << who;
          EXPECT_EQ(got.prompt_logprobs, si.echo && q.start_position < si.prompt_len) << who;
          SeqOutput so;
          so.seq_id = q.request_id;
          so.token = q.samples ? (uni(0, 12) == 0 ? 99 : uni(10, 90)) : -1;
          if (q.samples) last_sampled[q.request_id] = so.token;
          out.seqs.push_back(so);
          outcome.sampled_token_ids.push_back(q.samples ? so.token : scheduler::kNoToken);
        }
        table.Record(out);
        wire_queue.pop_front();
        d.PopFront();
        clock.Advance(outcome.measured_seconds);
        auto ev = s.OnStepDone(0, outcome);
        ASSERT_TRUE(ev.ok()) << ev.status().ToString();
        for (const scheduler::SchedulerEvent& e : *ev) {
          if (e.kind == scheduler::EventKind::kToken) continue;
          d.Forget(e.request_id);
          live.erase(e.request_id);
        }
      }
      // The coordinator plans while steps run.
      while (d.can_send() && uni(0, 3) > 0) {
        scheduler::StepPlan* p = d.NextPlanStorage();
        if (!s.BuildNextStep(0, p)) break;
        d.Prepare(info, clock.NowSeconds(), &wire);
        std::string frame;
        protocol::EncodeInto(wire, &frame);
        wire_queue.push_back(std::move(frame));
      }
    }
  }
  EXPECT_EQ(d.num_known(), 0u) << "seed " << seed << ": ended requests the driver still tracks";
  coverage->swaps += s.stats().preemptions_swap;
  coverage->recomputes += s.stats().preemptions_recompute;
}

class ReplicaDriverRoundTrip : public ::testing::TestWithParam<int32_t> {};

TEST_P(ReplicaDriverRoundTrip, WorkerRebuildsTheScheduledBatchFromDeltas) {
  Coverage c;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    RunSeed(seed, GetParam(), &c);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(c.swaps, 0);
  EXPECT_GT(c.recomputes, 0);
  EXPECT_GT(c.epochs, 0);
  if (GetParam() > 1) {
    EXPECT_GT(c.pending_tokens, 0);
  } else {
    EXPECT_EQ(c.pending_tokens, 0);
  }
  std::printf("swaps %lld, recomputes %lld, pending tokens %lld, epochs %lld\n",
              static_cast<long long>(c.swaps), static_cast<long long>(c.recomputes),
              static_cast<long long>(c.pending_tokens), static_cast<long long>(c.epochs));
}

INSTANTIATE_TEST_SUITE_P(StepsInFlight, ReplicaDriverRoundTrip, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace skipjoin::server
