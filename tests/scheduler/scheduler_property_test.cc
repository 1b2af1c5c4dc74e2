// Randomized: arrivals, cancels, stop-string finishes, replica deaths and
// revivals, under both policies and tight pools. After every operation the
// block accounting must balance, and at the end every admitted request must
// have finished, been cancelled, or failed with its replica. Run with one, two
// and three steps in flight per replica: with more than one, a decode planned
// behind a step that samples its previous token carries kPendingToken.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "coordinator/scheduler/scheduler.h"

namespace skipjoin::scheduler {
namespace {

void RunSeed(uint64_t seed, PolicyKind policy, int max_in_flight) {
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
  o.max_steps_in_flight = max_in_flight;
  ManualClock clock;
  Scheduler s(o, &clock);
  const int32_t kReplicas = 3;
  KvPoolSpec pool{uni(12, 30), uni(0, 24), 4};
  for (int r = 0; r < kReplicas; ++r) ASSERT_TRUE(s.AddReplica(r, pool).ok());
  std::vector<std::deque<StepPlan>> inflight(kReplicas);
  // Per request: the number of sampling sequences in flight, to check which
  // decodes must refer to a pending token.
  std::map<RequestId, int> sampling_in_flight;
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
    for (const StepSequence& q : p.sequences) {
      // A request whose sampling step is still in flight feeds that sample,
      // as its last token, whenever the chunk reaches the end of the
      // sequence (a decode, or a prefill redone after recompute).
      ASSERT_TRUE(live.count(q.request_id)) << "planned after it ended, seed " << seed;
      const bool behind = sampling_in_flight[q.request_id] > 0;
      std::span<const int32_t> t = p.tokens_of(q);
      for (size_t i = 0; i < t.size(); ++i) {
        const bool pending = behind && q.samples && i + 1 == t.size();
        ASSERT_EQ(t[i] == kPendingToken, pending)
            << "seed " << seed << " request " << q.request_id << " step " << p.step_id
            << " position " << q.start_position + static_cast<int32_t>(i) << " token " << t[i]
            << " of " << t.size() << " behind " << behind << " samples " << q.samples;
      }
    }
  };
  auto plan = [&](int r) {
    while (static_cast<int>(inflight[r].size()) < max_in_flight) {
      std::optional<StepPlan> p = s.NextStep(r);
      if (!p) return;
      check_plan(*p);
      ASSERT_EQ(s.steps_in_flight(r), static_cast<int>(inflight[r].size()) + 1);
      for (const StepSequence& q : p->sequences)
        if (q.samples) ++sampling_in_flight[q.request_id];
      inflight[r].push_back(std::move(*p));
      if (uni(0, 1)) return;
    }
    ASSERT_FALSE(s.NextStep(r).has_value()) << "more steps than allowed in flight, seed " << seed;
  };
  auto retire = [&](const StepPlan& p) {
    for (const StepSequence& q : p.sequences)
      if (q.samples && --sampling_in_flight[q.request_id] == 0)
        sampling_in_flight.erase(q.request_id);
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
      for (const StepPlan& p : inflight[r]) retire(p);
      inflight[r].clear();
      for (RequestId id : loss.failed) live.erase(id);
      ASSERT_TRUE(s.AddReplica(r, pool).ok());
      check("replica death");
    } else {
      for (int r = 0; r < kReplicas; ++r) {
        if (!inflight[r].empty()) {
          StepOutcome out;
          out.measured_seconds = 0.001 * uni(1, 60);
          for (const StepSequence& q : inflight[r].front().sequences) {
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
          retire(inflight[r].front());
          inflight[r].pop_front();
          check("step done");
        }
        if (uni(0, 3) > 0 || op >= 600) {
          plan(r);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
  // Steps still in flight may carry requests cancelled meanwhile: finish them.
  for (int r = 0; r < kReplicas; ++r) {
    for (; !inflight[r].empty(); inflight[r].pop_front()) {
      StepOutcome out;
      for (const StepSequence& q : inflight[r].front().sequences)
        out.sampled_token_ids.push_back(q.samples ? 5 : kNoToken);
      auto ev = s.OnStepDone(r, out);
      ASSERT_TRUE(ev.ok()) << ev.status().ToString();
      EXPECT_TRUE(ev->empty()) << "events for requests already ended, seed " << seed;
    }
    EXPECT_EQ(s.steps_in_flight(r), 0) << "seed " << seed;
  }
  EXPECT_EQ(s.num_requests(), 0) << "seed " << seed;
  for (int r = 0; r < kReplicas; ++r) {
    EXPECT_EQ(s.device_free(r), pool.device_blocks) << "seed " << seed;
    EXPECT_EQ(s.host_free(r), pool.host_blocks) << "seed " << seed;
  }
}

class SchedulerPropertyTest : public ::testing::TestWithParam<int> {};

TEST_P(SchedulerPropertyTest, ConservationUnderRandomOperationsMlfq) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    RunSeed(seed, PolicyKind::kMlfq, GetParam());
    if (HasFatalFailure()) return;
  }
}

TEST_P(SchedulerPropertyTest, ConservationUnderRandomOperationsFcfs) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    RunSeed(seed, PolicyKind::kFcfs, GetParam());
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(StepsInFlight, SchedulerPropertyTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace skipjoin::scheduler
