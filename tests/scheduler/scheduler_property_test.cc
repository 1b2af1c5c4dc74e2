// Randomized: arrivals, cancels, stop-string finishes, replica deaths and
// revivals, under both policies and tight pools. After every operation the
// block accounting must balance, and at the end every admitted request must
// have finished, been cancelled, or failed with its replica.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "coordinator/scheduler/scheduler.h"

namespace skipjoin::scheduler {
namespace {

void RunSeed(uint64_t seed, PolicyKind policy) {
  std::mt19937_64 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  SchedulerOptions o;
  o.policy = policy;
  o.mlfq = {4, 0.02, 2.0, 0.5};
  o.max_running_sequences = uni(1, 6);
  o.token_budget = uni(4, 40);
  o.reserve_fraction = uni(0, 2) * 0.1;
  o.prefetch_lookahead = uni(0, 4);
  o.no_pingpong_steps = uni(0, 4);
  ManualClock clock;
  Scheduler s(o, &clock);
  const int32_t kReplicas = 3;
  KvPoolSpec pool{uni(12, 30), uni(0, 24), 4};
  for (int r = 0; r < kReplicas; ++r) ASSERT_TRUE(s.AddReplica(r, pool).ok());
  std::vector<std::optional<StepPlan>> inflight(kReplicas);
  std::set<RequestId> live;
  RequestId next_id = 0;
  auto check = [&](const char* where) {
    Status st = s.CheckInvariantsForTesting();
    ASSERT_TRUE(st.ok()) << "seed " << seed << " after " << where << ": " << st.ToString();
  };
  auto check_plan = [&](const StepPlan& p) {
    std::set<int32_t> used;
    for (const StepSequence& q : p.sequences) {
      ASSERT_GE(q.num_blocks * pool.block_size, q.start_position + q.num_tokens) << "seed " << seed;
      ASSERT_LT((q.num_blocks - 1) * pool.block_size, q.start_position + q.num_tokens)
          << "seed " << seed;
      for (int32_t b : p.block_table_of(q))
        ASSERT_TRUE(used.insert(b).second) << "block shared, seed " << seed;
    }
    ASSERT_LE(static_cast<int32_t>(p.sequences.size()), o.max_running_sequences);
    ASSERT_LE(p.num_tokens(), o.token_budget);
  };
  for (int op = 0; op < 600 || !live.empty(); ++op) {
    ASSERT_LT(op, 20000) << "seed " << seed << ": requests never finish";
    const int kind = op < 600 ? uni(0, 9) : 6;
    clock.Advance(0.001 * uni(0, 20));
    if (kind <= 2) {
      RequestSpec r;
      r.id = next_id++;
      r.prompt_token_ids.assign(uni(1, 30), 1);
      r.max_new_tokens = uni(1, 20);
      r.priority = uni(-1, 1);
      r.stop_token_ids = {99};
      if (s.Submit(r).ok()) live.insert(r.id);
      check("submit");
    } else if (kind == 3 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, uni(0, static_cast<int>(live.size()) - 1));
      const RequestId id = *it;
      ASSERT_TRUE((uni(0, 1) ? s.Cancel(id) : s.Finish(id)).ok());
      live.erase(id);
      check("cancel");
    } else if (kind == 4 && uni(0, 30) == 0) {
      const int r = uni(0, kReplicas - 1);
      ReplicaLoss loss = s.MarkReplicaDead(r);
      inflight[r].reset();
      for (RequestId id : loss.failed) live.erase(id);
      ASSERT_TRUE(s.AddReplica(r, pool).ok());
      check("replica death");
    } else {
      for (int r = 0; r < kReplicas; ++r) {
        if (inflight[r]) {
          StepOutcome out;
          out.measured_seconds = 0.001 * uni(1, 60);
          for (const StepSequence& q : inflight[r]->sequences) {
            out.sampled_token_ids.push_back(q.samples ? (uni(0, 15) == 0 ? 99 : 5) : kNoToken);
          }
          auto ev = s.OnStepDone(r, out);
          ASSERT_TRUE(ev.ok()) << ev.status().ToString();
          for (const SchedulerEvent& e : *ev) {
            if (e.kind != EventKind::kToken) {
              ASSERT_EQ(live.erase(e.request_id), 1u) << "finished twice or unknown, seed " << seed;
            } else {
              ASSERT_TRUE(live.count(e.request_id)) << "token for a dead request, seed " << seed;
            }
          }
          inflight[r].reset();
          check("step done");
        }
        if (uni(0, 3) > 0 || op >= 600) {
          inflight[r] = s.NextStep(r);
          if (inflight[r]) check_plan(*inflight[r]);
        }
      }
    }
  }
  // Steps still in flight may carry requests cancelled meanwhile: finish them.
  for (int r = 0; r < kReplicas; ++r) {
    if (!inflight[r]) continue;
    StepOutcome out;
    for (const StepSequence& q : inflight[r]->sequences)
      out.sampled_token_ids.push_back(q.samples ? 5 : kNoToken);
    auto ev = s.OnStepDone(r, out);
    ASSERT_TRUE(ev.ok()) << ev.status().ToString();
    EXPECT_TRUE(ev->empty()) << "events for requests already ended, seed " << seed;
  }
  EXPECT_EQ(s.num_requests(), 0) << "seed " << seed;
  for (int r = 0; r < kReplicas; ++r) {
    EXPECT_EQ(s.device_free(r), pool.device_blocks) << "seed " << seed;
    EXPECT_EQ(s.host_free(r), pool.host_blocks) << "seed " << seed;
  }
}

TEST(SchedulerPropertyTest, ConservationUnderRandomOperationsMlfq) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    RunSeed(seed, PolicyKind::kMlfq);
    if (HasFatalFailure()) return;
  }
}

TEST(SchedulerPropertyTest, ConservationUnderRandomOperationsFcfs) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    RunSeed(seed, PolicyKind::kFcfs);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace skipjoin::scheduler
