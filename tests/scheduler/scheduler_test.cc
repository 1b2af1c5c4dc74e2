// Steps the Scheduler by hand and checks each decision.
#include "coordinator/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace skipjoin::scheduler {
namespace {

constexpr int32_t kToken = 7;
constexpr int32_t kStop = 2;

// Prefill estimate = 0.01 + 0.001 * tokens; quanta 0.05, 0.1, 0.2, inf.
SchedulerOptions Options(PolicyKind policy = PolicyKind::kMlfq) {
  SchedulerOptions o;
  o.policy = policy;
  o.mlfq = {4, 0.05, 2.0, 1.0};
  o.cost_prior = {0.01, 0.001, 0, 0};
  o.fit_cost_model_online = false;
  o.max_running_sequences = 8;
  o.token_budget = 64;
  o.reserve_fraction = 0;
  o.prefetch_lookahead = 0;
  o.no_pingpong_steps = 8;
  return o;
}

class Harness {
 public:
  explicit Harness(const SchedulerOptions& o, KvPoolSpec pool = {64, 64, 4}) : s(o, &clock) {
    EXPECT_TRUE(s.AddReplica(0, pool).ok());
  }
  Status Submit(RequestId id, int32_t prompt, int32_t max_new, int32_t priority = 0) {
    RequestSpec r;
    r.id = id;
    r.prompt_token_ids.assign(prompt, 1);
    r.max_new_tokens = max_new;
    r.priority = priority;
    r.stop_token_ids = {kStop};
    r.arrival_seconds = clock.NowSeconds();
    return s.Submit(std::move(r));
  }
  // Plans a step; fails the test when there is none.
  StepPlan Plan() {
    auto p = s.NextStep(0);
    EXPECT_TRUE(p.has_value());
    return p ? *p : StepPlan{};
  }
  // Completes the planned step after `seconds`; sampled tokens are kToken.
  // `compute` > 0 reports the step's compute time apart from its copies.
  std::vector<SchedulerEvent> Done(const StepPlan& p, double seconds, int32_t token = kToken,
                                   double compute = 0) {
    clock.Advance(seconds);
    StepOutcome o;
    o.measured_seconds = seconds;
    o.compute_seconds = compute;
    for (const auto& seq : p.sequences)
      o.sampled_token_ids.push_back(seq.samples ? token : kNoToken);
    auto ev = s.OnStepDone(0, o);
    EXPECT_TRUE(ev.ok()) << ev.status().ToString();
    EXPECT_TRUE(s.CheckInvariantsForTesting().ok()) << s.CheckInvariantsForTesting().ToString();
    return ev.ok() ? *ev : std::vector<SchedulerEvent>{};
  }
  StepPlan Step(double seconds) {
    StepPlan p = Plan();
    Done(p, seconds);
    return p;
  }
  int32_t Level(RequestId id) { return s.GetRequestInfo(id)->level; }

  ManualClock clock;
  Scheduler s;
};

const StepSequence* Find(const StepPlan& p, RequestId id) {
  for (const auto& s : p.sequences) {
    if (s.request_id == id) return &s;
  }
  return nullptr;
}

TEST(SchedulerTest, SkipJoinPlacesJobByEstimatedPrefill) {
  Harness h(Options(), {512, 0, 4});
  ASSERT_TRUE(h.Submit(1, 10, 4).ok());   // 0.02 s
  ASSERT_TRUE(h.Submit(2, 80, 4).ok());   // 0.09 s
  ASSERT_TRUE(h.Submit(3, 180, 4).ok());  // 0.19 s
  ASSERT_TRUE(h.Submit(4, 500, 4).ok());  // 0.51 s
  ASSERT_TRUE(h.Submit(5, 180, 4, /*priority=*/2).ok());
  EXPECT_EQ(h.Level(1), 0);
  EXPECT_EQ(h.Level(2), 1);
  EXPECT_EQ(h.Level(3), 2);
  EXPECT_EQ(h.Level(4), 3);
  EXPECT_EQ(h.Level(5), 0);
  EXPECT_EQ(h.s.stats().admitted_per_level, (std::vector<int64_t>{2, 1, 1, 1}));
}

TEST(SchedulerTest, DemotesAfterQuantumIsUsed) {
  Harness h(Options());
  ASSERT_TRUE(h.Submit(1, 10, 100).ok());
  h.Step(0.03);
  EXPECT_EQ(h.Level(1), 0);
  h.Step(0.03);  // 0.06 >= 0.05
  EXPECT_EQ(h.Level(1), 1);
  h.Step(0.09);
  EXPECT_EQ(h.Level(1), 1);
  h.Step(0.02);  // 0.11 >= 0.1
  EXPECT_EQ(h.Level(1), 2);
  EXPECT_EQ(h.s.stats().demotions, 2);
}

TEST(SchedulerTest, HigherLevelJobTakesSlotOfRunningLowerLevelJob) {
  SchedulerOptions o = Options();
  o.max_running_sequences = 1;
  Harness h(o);
  ASSERT_TRUE(h.Submit(1, 10, 100).ok());
  h.Step(0.06);  // job 1 demoted to level 1
  ASSERT_TRUE(h.Submit(2, 10, 100).ok());
  StepPlan p = h.Plan();
  ASSERT_EQ(p.sequences.size(), 1u);
  EXPECT_EQ(p.sequences[0].request_id, 2u);
  EXPECT_EQ(h.s.stats().preemptions_slot, 1);
  // Job 1 keeps its KV on the device while it waits.
  EXPECT_TRUE(h.s.GetRequestInfo(1)->resident);
}

TEST(SchedulerTest, ReplacingTheCostModelRederivesADerivedTokenBudget) {
  SchedulerOptions o = Options();
  o.token_budget = 0;  // derived: (0.1 - 0.01) / 0.001 = 90 -> 80 (multiple of 16)
  o.tbt_target_seconds = 0.1;
  o.max_running_sequences = 1;
  o.budget_mean_context = 0;
  Harness h(o);
  EXPECT_EQ(h.s.token_budget(), 80);
  h.s.ReplaceCostModel(
      StepCostModel(CostCoefficients{0.02, 0.0005, 0, 0}));  // (0.1 - 0.02) / 0.0005 = 160
  EXPECT_EQ(h.s.token_budget(), 160);
  EXPECT_DOUBLE_EQ(h.s.cost_model().coefficients().a, 0.02);
  // A fixed budget stays.
  Harness fixed(Options());
  fixed.s.ReplaceCostModel(StepCostModel(CostCoefficients{0.02, 0.0005, 0, 0}));
  EXPECT_EQ(fixed.s.token_budget(), 64);
}

TEST(SchedulerTest, SrptOracleRunsTheShortestRemainingOutputFirst) {
  SchedulerOptions o = Options(PolicyKind::kSrptOracle);
  o.max_running_sequences = 1;
  Harness h(o);
  ASSERT_TRUE(h.Submit(1, 4, 100).ok());  // level floor(log2(100)) = 6
  EXPECT_EQ(h.Level(1), 6);
  h.Step(0.01);
  ASSERT_TRUE(h.Submit(2, 4, 3).ok());  // level 1: takes the only slot
  EXPECT_EQ(h.Level(2), 1);
  for (int i = 0; i < 3; ++i) {
    StepPlan p = h.Plan();
    ASSERT_EQ(p.sequences.size(), 1u);
    EXPECT_EQ(p.sequences[0].request_id, 2u) << "step " << i;
    h.Done(p, 0.01);
  }
  EXPECT_FALSE(h.s.GetRequestInfo(2).has_value());  // finished
  EXPECT_EQ(h.s.GetRequestInfo(1)->generated, 1);
  // Job 1 rises as its remaining output shrinks: 99 left -> level 6, ... 63 left -> level 5.
  for (int i = 0; i < 36; ++i) h.Step(0.01);
  EXPECT_EQ(h.s.GetRequestInfo(1)->generated, 37);
  EXPECT_EQ(h.Level(1), 5);
}

TEST(SchedulerTest, StarvedJobClimbsOneLevelPerThresholdAndThenRuns) {
  SchedulerOptions o = Options();
  o.max_running_sequences = 1;
  // Overloaded on purpose (one slot, a new job every step): with the stall
  // bound and the started-set admission limit the started jobs would rightly
  // keep the slot; this test is about aging.
  o.max_stall_seconds = 0;
  o.max_started_factor = 1e6;
  Harness h(o, {512, 0, 4});
  ASSERT_TRUE(h.Submit(100, 500, 4).ok());  // level 3
  ASSERT_EQ(h.Level(100), 3);
  double first_run = -1;
  std::vector<int32_t> levels;
  for (int i = 0; i < 40 && first_run < 0; ++i) {
    ASSERT_TRUE(h.Submit(i, 10, 50).ok());  // a fresh level-0 job every step
    const double now = h.clock.NowSeconds();
    StepPlan p = h.Plan();
    if (levels.empty() || levels.back() != h.Level(100)) levels.push_back(h.Level(100));
    if (Find(p, 100)) first_run = now;
    h.Done(p, 0.3);
  }
  ASSERT_GE(first_run, 0) << "job 100 starved";
  // One level per threshold (1 s): 3 -> 2 -> 1 -> 0, then it runs at the front of level 0.
  EXPECT_EQ(levels, (std::vector<int32_t>{3, 2, 1, 0}));
  EXPECT_GT(first_run, 3 * 1.0 - 1e-9);
  EXPECT_LE(first_run, 3 * 1.0 + 6 * 0.3);  // other starved jobs queue for promotions too
  EXPECT_GE(h.s.stats().starvation_promotions, 3);
}

TEST(SchedulerTest, AgingPromotesAtMostOneJobPerStep) {
  SchedulerOptions o = Options();
  o.max_running_sequences = 1;
  o.max_stall_seconds = 0;
  Harness h(o, {512, 0, 4});
  for (RequestId id = 100; id < 110; ++id) ASSERT_TRUE(h.Submit(id, 500, 4).ok());  // all level 3
  h.clock.Advance(5.0);  // every one of them is starved now
  for (int step = 1; step <= 5; ++step) {
    h.Step(0.01);
    EXPECT_EQ(h.s.stats().starvation_promotions, step);
    int32_t moved = 0;
    for (RequestId id = 100; id < 110; ++id) {
      EXPECT_GE(h.Level(id), 2);  // never more than one level at a time
      moved += h.Level(id) < 3;
    }
    EXPECT_LE(moved, step);
  }
}

TEST(SchedulerTest, DecodeStallIsBoundedWhateverArrives) {
  SchedulerOptions o = Options();
  o.max_running_sequences = 1;
  o.mlfq.starvation_seconds = 1e9;  // no aging: only the stall bound can help job 100
  o.max_stall_seconds = 0.5;
  Harness h(o, {4096, 0, 4});
  ASSERT_TRUE(h.Submit(100, 10, 200).ok());
  for (int i = 0; i < 3; ++i) h.Step(0.06);  // job 100 decodes and drops to level 2
  ASSERT_GE(h.Level(100), 1);
  double last_token = h.clock.NowSeconds();
  double worst_gap = 0;
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(h.Submit(1000 + i, 10, 50).ok());  // a fresh level-0 job every step
    StepPlan p = h.Plan();
    const bool has = Find(p, 100) != nullptr;
    h.Done(p, 0.1);
    if (has) {
      worst_gap = std::max(worst_gap, h.clock.NowSeconds() - last_token);
      last_token = h.clock.NowSeconds();
    }
  }
  worst_gap = std::max(worst_gap, h.clock.NowSeconds() - last_token);
  EXPECT_LE(worst_gap, 0.5 + 1e-9);
  EXPECT_GT(h.s.stats().stall_forced, 0);
  EXPECT_GT(h.s.stats().preemptions_slot, 0);  // it really was pushed out in between
}

TEST(SchedulerTest, LongPromptKeepsItsLevelAndItsChunksUntilPrefillCompletes) {
  SchedulerOptions o = Options();
  o.token_budget = 16;
  Harness h(o, {512, 0, 4});
  ASSERT_TRUE(h.Submit(1, 64, 4).ok());  // level 1 (prefill estimate 0.074 s), four chunks
  const int32_t level = h.Level(1);
  h.Step(0.2);                           // the first chunk alone uses more than the level's quantum
  ASSERT_TRUE(h.Submit(2, 12, 4).ok());  // a newer short prompt at level 0
  for (int chunk = 2; chunk <= 4; ++chunk) {
    StepPlan p = h.Plan();
    const StepSequence* s1 = Find(p, 1);
    ASSERT_NE(s1, nullptr) << "chunk " << chunk;
    EXPECT_EQ(s1->num_tokens, 16) << "the prefill under way keeps the budget";
    EXPECT_EQ(Find(p, 2), nullptr);
    h.Done(p, 0.2);
    if (chunk < 4) {
      EXPECT_EQ(h.Level(1), level) << "not demoted between chunks";
    }
  }
  // The prefill was charged as one unit when it completed: one level down.
  EXPECT_EQ(h.Level(1), level + 1);
}

TEST(SchedulerTest, BudgetTakesDecodesFirstThenBlockAlignedPrefillChunks) {
  SchedulerOptions o = Options();
  o.token_budget = 20;
  Harness h(o);
  ASSERT_TRUE(h.Submit(1, 4, 10).ok());
  ASSERT_TRUE(h.Submit(2, 4, 10).ok());
  h.Step(0.01);                            // both prefilled, now decoding
  ASSERT_TRUE(h.Submit(3, 100, 10).ok());  // level 2, behind the decodes
  StepPlan p = h.Plan();
  ASSERT_EQ(p.sequences.size(), 3u);
  EXPECT_EQ(Find(p, 1)->num_tokens, 1);
  EXPECT_EQ(Find(p, 1)->start_position, 4);
  EXPECT_TRUE(Find(p, 1)->samples);
  EXPECT_EQ(Find(p, 2)->num_tokens, 1);
  const StepSequence* pre = Find(p, 3);
  EXPECT_EQ(pre->start_position, 0);
  EXPECT_EQ(pre->num_tokens, 16);  // 18 left, cut to the block edge
  EXPECT_FALSE(pre->samples);
  EXPECT_EQ(pre->num_blocks, 4);
  EXPECT_EQ(p.num_tokens(), 18);
  h.Done(p, 0.01);
  p = h.Plan();
  EXPECT_EQ(Find(p, 3)->start_position, 16);
  EXPECT_EQ(Find(p, 3)->num_tokens, 16);
}

TEST(SchedulerTest, PlanCarriesTokensAndBlockTables) {
  Harness h(Options());
  ASSERT_TRUE(h.Submit(1, 6, 3).ok());
  StepPlan p = h.Plan();
  ASSERT_EQ(p.sequences.size(), 1u);
  EXPECT_EQ(p.tokens_of(p.sequences[0]).size(), 6u);
  EXPECT_EQ(p.block_table_of(p.sequences[0]).size(), 2u);
  h.Done(p, 0.01, 42);
  p = h.Plan();
  ASSERT_EQ(p.tokens_of(p.sequences[0]).size(), 1u);
  EXPECT_EQ(p.tokens_of(p.sequences[0])[0], 42);
  EXPECT_EQ(p.sequences[0].start_position, 6);
}

// Three resident jobs at levels 1..3 fill 6 of 9 blocks; a level-0 job needing
// 4 blocks arrives and only the lowest job has to make room. (By default a
// new job starts only in free memory; these cases pin the eviction mechanics
// that swapped jobs coming back, growing jobs and this option use.)
class PressureTest : public ::testing::Test {
 protected:
  void Build(SchedulerOptions o, int32_t host_blocks) {
    o.max_running_sequences = 3;
    o.admit_into_free_memory = false;
    h_ = std::make_unique<Harness>(o, KvPoolSpec{9, host_blocks, 4});
    ASSERT_TRUE(h_->Submit(1, 8, 20, -1).ok());  // level 1
    ASSERT_TRUE(h_->Submit(2, 8, 20, -2).ok());  // level 2
    ASSERT_TRUE(h_->Submit(3, 8, 20, -3).ok());  // level 3
    h_->Step(0.001);
    ASSERT_EQ(h_->s.device_free(0), 3);
    ASSERT_TRUE(h_->Submit(4, 16, 1, 0).ok());  // level 0, finishes after its prefill
  }
  std::unique_ptr<Harness> h_;
};

TEST_F(PressureTest, SwapsOutLowestPriorityFirst) {
  Build(Options(), 16);
  StepPlan p = h_->Plan();
  EXPECT_EQ(p.swapped_out_requests, (std::vector<RequestId>{3}));
  EXPECT_EQ(p.swap_out.size(), 2u);
  EXPECT_TRUE(p.recomputed.empty());
  ASSERT_NE(Find(p, 4), nullptr);
  EXPECT_EQ(Find(p, 4)->num_tokens, 16);
  EXPECT_TRUE(h_->s.GetRequestInfo(3)->swapped);
  EXPECT_TRUE(h_->s.GetRequestInfo(2)->resident);
  EXPECT_EQ(h_->s.stats().preemptions_swap, 1);
  h_->Done(p, 0.001);
}

TEST(SchedulerTest, ByDefaultANewJobWaitsForFreeMemoryInsteadOfEvicting) {
  // PressureTest's set-up with the default admission.
  SchedulerOptions o = Options();
  o.max_running_sequences = 3;
  Harness h(o, KvPoolSpec{9, 16, 4});
  ASSERT_TRUE(h.Submit(1, 8, 20, -1).ok());
  ASSERT_TRUE(h.Submit(2, 8, 20, -2).ok());
  ASSERT_TRUE(h.Submit(3, 8, 20, -3).ok());
  h.Step(0.001);
  ASSERT_TRUE(h.Submit(4, 16, 1, 0).ok());  // level 0, needs 5 of the 3 free blocks
  StepPlan p = h.Plan();
  EXPECT_TRUE(p.swap_out.empty());
  EXPECT_TRUE(p.recomputed.empty());
  EXPECT_EQ(Find(p, 4), nullptr);
  EXPECT_EQ(p.sequences.size(), 3u);  // the started jobs keep running
  EXPECT_GT(h.s.stats().admission_deferrals, 0);
  h.Done(p, 0.001);
}

// PressureTest's set-up with the default admission and a 3-block fallback
// debt limit: job 4 (level 0, 5 blocks, 3 free) may push 2 blocks to the host
// before any copy has been measured; the step that does reports 20 ms of
// compute and 10 ms per copied block.
class DebtAdmissionTest : public ::testing::Test {
 protected:
  void Build(double swap_debt_share, bool eager = false) {
    SchedulerOptions o = Options();
    o.admit_into_free_memory = !eager;
    o.max_running_sequences = 3;
    o.max_stall_seconds = 1.0;
    o.swap_admit_fraction = 0.25;  // ceil(0.25 * 9) = 3 blocks until copies are measured
    o.swap_debt_share = swap_debt_share;
    h_ = std::make_unique<Harness>(o, KvPoolSpec{9, 16, 4});
    ASSERT_TRUE(h_->Submit(1, 8, 20, -1).ok());
    ASSERT_TRUE(h_->Submit(2, 8, 20, -2).ok());
    ASSERT_TRUE(h_->Submit(3, 8, 20, -3).ok());
    h_->Step(0.001);
    ASSERT_EQ(h_->s.block_copy_seconds(0), 0);
    ASSERT_TRUE(h_->Submit(4, 16, 20, 0).ok());
    StepPlan p = h_->Plan();
    ASSERT_EQ(p.swapped_out_requests, (std::vector<RequestId>{3}));
    ASSERT_NE(Find(p, 4), nullptr);
    const double copies = 0.010 * static_cast<double>(p.swap_out.size());
    h_->Done(p, 0.020 + copies, kToken, /*compute=*/0.020);
  }
  std::unique_ptr<Harness> h_;
};

TEST_F(DebtAdmissionTest, MeasuresTheBlockCopyTimeFromTheStepsWithCopies) {
  Build(0.05);
  EXPECT_NEAR(h_->s.block_copy_seconds(0), 0.010, 1e-12);
  // The next step's copies (job 4 grows into job 2's two blocks) take 20 ms
  // a block: the estimate moves a tenth of the way.
  StepPlan p = h_->Plan();
  ASSERT_EQ(p.swapped_out_requests, (std::vector<RequestId>{2}));
  ASSERT_EQ(p.swap_out.size(), 2u);
  h_->Done(p, 0.020 + 2 * 0.020, kToken, 0.020);
  EXPECT_NEAR(h_->s.block_copy_seconds(0), 0.011, 1e-12);
  // Without a reported compute time the cost model's prediction stands in:
  // 0.01 s + 1 ms per token fed.
  int32_t copied = 0;
  for (int step = 0; step < 40 && h_->s.has_work(0); ++step) {
    p = h_->Plan();
    const double compute = 0.01 + 0.001 * p.num_tokens();
    const int32_t blocks = static_cast<int32_t>(p.swap_out.size()) + p.num_blocking_swap_in;
    copied += blocks;
    h_->Done(p, compute + 0.011 * blocks);
  }
  ASSERT_GT(copied, 0);
  EXPECT_NEAR(h_->s.block_copy_seconds(0), 0.011, 1e-9);
}

TEST_F(DebtAdmissionTest, NewJobWaitsWhenItsEvictionWouldExceedTheDebtLimit) {
  // 0.05 * 1 s / (2 * 10 ms) = 2 blocks, all held by job 3 on the host.
  Build(0.05);
  ASSERT_TRUE(h_->Submit(5, 16, 20, 1).ok());  // above everyone, needs 5 blocks, none free
  const int64_t deferrals = h_->s.stats().admission_deferrals;
  StepPlan p = h_->Plan();
  EXPECT_EQ(Find(p, 5), nullptr);
  // Only job 4's growth evicts (job 2), nothing for job 5.
  EXPECT_EQ(p.swapped_out_requests, (std::vector<RequestId>{2}));
  EXPECT_GT(h_->s.stats().admission_deferrals, deferrals);
  h_->Done(p, 0.020, kToken, 0.020);
}

TEST_F(DebtAdmissionTest, NewJobEvictsWithinTheDebtLimit) {
  // 0.5 * 1 s / (2 * 10 ms) = 25 blocks: room for job 5's eviction.
  Build(0.5);
  ASSERT_TRUE(h_->Submit(5, 16, 20, 1).ok());
  StepPlan p = h_->Plan();
  ASSERT_NE(Find(p, 5), nullptr);
  EXPECT_FALSE(p.swap_out.empty());
  EXPECT_TRUE(p.recomputed.empty());
  EXPECT_LE(h_->s.stats().swapped_out_blocks - 2, 25);
  h_->Done(p, 0.020, kToken, 0.020);
}

TEST_F(DebtAdmissionTest, EagerAdmissionKeepsItsFixedLimit) {
  // With admit_into_free_memory off the measured copy time does not apply:
  // the limit stays ceil(0.25 * 9) = 3 blocks, and job 3's 2 leave room
  // (priced, 0.03 * 1 s / (2 * 10 ms) = 1 block would close admission).
  Build(0.03, /*eager=*/true);
  ASSERT_GT(h_->s.block_copy_seconds(0), 0);
  ASSERT_TRUE(h_->Submit(5, 16, 20, 1).ok());
  StepPlan p = h_->Plan();
  EXPECT_NE(Find(p, 5), nullptr);
  h_->Done(p, 0.020, kToken, 0.020);
}

TEST_F(PressureTest, RecomputesWhenHostPoolIsFull) {
  Build(Options(), 0);
  StepPlan p = h_->Plan();
  EXPECT_TRUE(p.swap_out.empty());
  EXPECT_EQ(p.recomputed, (std::vector<RequestId>{3}));
  EXPECT_EQ(h_->s.GetRequestInfo(3)->num_computed, 0);
  EXPECT_EQ(h_->s.stats().recomputed_tokens, 8);
  h_->Done(p, 0.001);
}

TEST_F(PressureTest, SwapsInAheadOfTurn) {
  SchedulerOptions o = Options();
  o.prefetch_lookahead = 8;
  o.no_pingpong_steps = 0;
  o.swap_admit_fraction = 1.0;  // job 5 may start although job 3's KV is on the host
  Build(o, 16);
  StepPlan p = h_->Plan();  // job 3 swapped out; job 4 finishes
  h_->Done(p, 0.001);
  ASSERT_TRUE(h_->Submit(5, 4, 5).ok());
  p = h_->Plan();  // jobs 5, 1, 2 fill the slots; 3 is next in line and there is room
  EXPECT_EQ(Find(p, 3), nullptr) << "ran before its swap-in";
  ASSERT_EQ(p.swap_in.size(), 2u);
  EXPECT_EQ(p.num_blocking_swap_in, 0);  // a prefetch: may overlap compute
  EXPECT_TRUE(h_->s.GetRequestInfo(3)->resident);
  EXPECT_EQ(h_->s.stats().prefetch_swap_ins, 1);
  h_->Done(p, 0.001);
}

TEST_F(PressureTest, NoSwapInWithinPingPongWindow) {
  SchedulerOptions o = Options();
  o.prefetch_lookahead = 8;
  o.no_pingpong_steps = 8;
  o.swap_admit_fraction = 1.0;
  Build(o, 16);
  StepPlan p = h_->Plan();
  h_->Done(p, 0.001);
  ASSERT_TRUE(h_->Submit(5, 4, 5).ok());
  for (int step = 3; step < 10; ++step) {
    p = h_->Plan();
    EXPECT_EQ(static_cast<int32_t>(p.swap_in.size()), p.num_blocking_swap_in)
        << "prefetched at step " << step;
    h_->Done(p, 0.001);
  }
  EXPECT_EQ(h_->s.stats().prefetch_swap_ins, 0);
}

TEST(SchedulerTest, FcfsRunsInArrivalOrderAndPreemptsByRecompute) {
  SchedulerOptions o = Options(PolicyKind::kFcfs);
  o.max_running_sequences = 1;
  Harness h(o, {5, 16, 4});
  ASSERT_TRUE(h.Submit(1, 500 / 50, 6).ok());
  ASSERT_TRUE(h.Submit(2, 4, 2).ok());
  EXPECT_EQ(h.Level(1), 0);
  // A long-running first job is never overtaken under fcfs.
  for (int i = 0; i < 6; ++i) {
    StepPlan p = h.Plan();
    ASSERT_EQ(p.sequences.size(), 1u);
    EXPECT_EQ(p.sequences[0].request_id, 1u);
    h.Done(p, 1.0);
  }
  StepPlan p = h.Plan();
  EXPECT_EQ(p.sequences[0].request_id, 2u);
  h.Done(p, 1.0);
}

TEST(SchedulerTest, FcfsRecomputesInsteadOfSwapping) {
  SchedulerOptions o = Options(PolicyKind::kFcfs);
  o.max_running_sequences = 2;
  Harness h(o, {5, 16, 4});
  ASSERT_TRUE(h.Submit(1, 8, 10).ok());
  ASSERT_TRUE(h.Submit(2, 8, 10).ok());
  bool recomputed = false;
  for (int i = 0; i < 30 && h.s.num_requests() > 0; ++i) {
    StepPlan p = h.Plan();
    EXPECT_TRUE(p.swap_out.empty());
    if (!p.recomputed.empty()) {
      EXPECT_EQ(p.recomputed, (std::vector<RequestId>{2}));  // the later arrival
      recomputed = true;
    }
    h.Done(p, 0.01);
  }
  EXPECT_TRUE(recomputed);
  EXPECT_EQ(h.s.num_requests(), 0);
}

TEST(SchedulerTest, FinishesOnStopTokenAndOnLength) {
  Harness h(Options());
  ASSERT_TRUE(h.Submit(1, 4, 3).ok());
  ASSERT_TRUE(h.Submit(2, 4, 10).ok());
  StepPlan p = h.Plan();
  StepOutcome out;
  out.measured_seconds = 0.01;
  for (const auto& s : p.sequences)
    out.sampled_token_ids.push_back(s.request_id == 2 ? kStop : kToken);
  auto ev = h.s.OnStepDone(0, out);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 3u);
  EXPECT_EQ((*ev)[2].kind, EventKind::kFinished);
  EXPECT_EQ((*ev)[2].request_id, 2u);
  EXPECT_EQ((*ev)[2].reason, FinishReason::kStop);
  h.Step(0.01);
  auto last = h.Done(h.Plan(), 0.01);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[1].reason, FinishReason::kLength);
  EXPECT_EQ(h.s.num_requests(), 0);
  EXPECT_EQ(h.s.device_free(0), 64);
}

TEST(SchedulerTest, CancelFreesBlocksAtOnceAndDropsTheStepInFlight) {
  Harness h(Options());
  ASSERT_TRUE(h.Submit(1, 8, 10).ok());
  StepPlan p = h.Plan();
  ASSERT_TRUE(h.s.Cancel(1).ok());
  // Free for the next plan already: the worker runs steps in order, so a later
  // step that reuses them writes after the one in flight.
  EXPECT_EQ(h.s.device_free(0), 64);
  EXPECT_EQ(h.s.num_requests(), 1);  // until the step in flight comes back
  auto ev = h.Done(p, 0.01);
  EXPECT_TRUE(ev.empty());
  EXPECT_EQ(h.s.device_free(0), 64);
  EXPECT_FALSE(h.s.NextStep(0).has_value());
  EXPECT_EQ(h.s.Cancel(1).code(), StatusCode::kNotFound);
  // Idle replica: freed at once.
  ASSERT_TRUE(h.Submit(2, 8, 10).ok());
  h.Step(0.01);
  ASSERT_TRUE(h.s.Finish(2).ok());
  EXPECT_EQ(h.s.device_free(0), 64);
}

TEST(SchedulerTest, SubmitValidatesRequests) {
  Harness h(Options(), {4, 0, 4});
  EXPECT_EQ(h.Submit(1, 10, 7).code(), StatusCode::kOk);  // 16 KV tokens: fits exactly
  EXPECT_EQ(h.Submit(2, 10, 8).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(h.Submit(1, 4, 4).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.Submit(3, 0, 4).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.Submit(4, 4, 0).code(), StatusCode::kInvalidArgument);
}

TEST(SchedulerTest, AdmitsToLeastLoadedReplicaAndRequeuesOnDeath) {
  ManualClock clock;
  Scheduler s(Options(), &clock);
  ASSERT_TRUE(s.AddReplica(0, {64, 64, 4}).ok());
  ASSERT_TRUE(s.AddReplica(1, {64, 64, 4}).ok());
  for (RequestId id = 1; id <= 4; ++id) {
    RequestSpec r;
    r.id = id;
    r.prompt_token_ids.assign(8, 1);
    r.max_new_tokens = 4;
    ASSERT_TRUE(s.Submit(r).ok());
  }
  EXPECT_EQ(s.num_requests_on(0), 2);
  EXPECT_EQ(s.num_requests_on(1), 2);
  ASSERT_TRUE(s.NextStep(0).has_value());
  ReplicaLoss loss = s.MarkReplicaDead(0);
  EXPECT_EQ(loss.requeued.size(), 2u);
  EXPECT_TRUE(loss.failed.empty());
  EXPECT_EQ(s.num_requests_on(1), 4);
  EXPECT_FALSE(s.NextStep(0).has_value());
  EXPECT_FALSE(s.OnStepDone(0, StepOutcome{}).ok());
  EXPECT_TRUE(s.CheckInvariantsForTesting().ok());
  loss = s.MarkReplicaDead(1);
  EXPECT_EQ(loss.failed.size(), 4u);
  EXPECT_EQ(s.num_requests(), 0);
  RequestSpec r;
  r.id = 9;
  r.prompt_token_ids = {1};
  r.max_new_tokens = 1;
  EXPECT_EQ(s.Submit(r).code(), StatusCode::kUnavailable);
}

TEST(SchedulerTest, PolicyNamesParse) {
  EXPECT_EQ(*ParsePolicyKind("mlfq"), PolicyKind::kMlfq);
  EXPECT_EQ(*ParsePolicyKind("fcfs"), PolicyKind::kFcfs);
  EXPECT_FALSE(ParsePolicyKind("lifo").ok());
}

TEST(SchedulerTest, DefaultTokenBudgetComesFromCostModel) {
  SchedulerOptions o;
  ManualClock clock;
  Scheduler s(o, &clock);
  StepCostModel m(o.cost_prior);
  EXPECT_EQ(s.token_budget(), m.TokenBudgetFor(o.tbt_target_seconds, o.max_running_sequences,
                                               o.budget_mean_context, 16));
  EXPECT_GT(s.token_budget(), 256);
}

// Two steps in flight: step 2 is planned while step 1 runs, its decode feeds
// the token step 1 samples (kPendingToken); a stop token sampled in step 1
// ends the request at once, step 2's output for it is dropped, and no later
// plan carries it.
TEST(SchedulerTest, SecondStepInFlightFeedsThePendingTokenAndDropsAFinishedRequest) {
  SchedulerOptions o = Options();
  o.max_steps_in_flight = 2;
  Harness h(o);
  ASSERT_TRUE(h.Submit(1, 8, 10).ok());
  ASSERT_TRUE(h.Submit(2, 8, 10).ok());
  StepPlan p1 = h.Plan();
  ASSERT_EQ(p1.sequences.size(), 2u);
  EXPECT_TRUE(p1.sequences[0].samples && p1.sequences[1].samples);
  StepPlan p2 = h.Plan();
  ASSERT_EQ(p2.sequences.size(), 2u);
  for (const StepSequence& q : p2.sequences) {
    EXPECT_EQ(q.num_tokens, 1);
    EXPECT_EQ(q.start_position, 8);
    ASSERT_EQ(p2.tokens_of(q).size(), 1u);
    EXPECT_EQ(p2.tokens_of(q)[0], kPendingToken);
  }
  EXPECT_FALSE(h.s.NextStep(0).has_value()) << "a third step while two are in flight";
  EXPECT_EQ(h.s.steps_in_flight(0), 2);
  // Step 1: request 1 samples the stop token, request 2 a normal one.
  h.clock.Advance(0.01);
  StepOutcome out;
  out.measured_seconds = 0.01;
  for (const StepSequence& q : p1.sequences)
    out.sampled_token_ids.push_back(q.request_id == 1 ? kStop : kToken);
  auto ev = h.s.OnStepDone(0, out);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  int finished = 0;
  for (const SchedulerEvent& e : *ev) {
    if (e.kind == EventKind::kFinished) {
      EXPECT_EQ(e.request_id, 1u);
      EXPECT_EQ(e.reason, FinishReason::kStop);
      ++finished;
    }
  }
  EXPECT_EQ(finished, 1);
  EXPECT_TRUE(h.s.CheckInvariantsForTesting().ok()) << h.s.CheckInvariantsForTesting().ToString();
  // Step 3 is planned while step 2 runs: request 1 is gone from it, and
  // request 2 decodes the token step 2 samples.
  StepPlan p3 = h.Plan();
  ASSERT_EQ(p3.sequences.size(), 1u);
  EXPECT_EQ(p3.sequences[0].request_id, 2u);
  EXPECT_EQ(p3.sequences[0].start_position, 9);
  EXPECT_EQ(p3.tokens_of(p3.sequences[0])[0], kPendingToken);
  // Step 2 completes: only request 2's token is reported.
  std::vector<SchedulerEvent> ev2 = h.Done(p2, 0.01);
  ASSERT_EQ(ev2.size(), 1u);
  EXPECT_EQ(ev2[0].request_id, 2u);
  EXPECT_EQ(ev2[0].kind, EventKind::kToken);
  EXPECT_EQ(h.s.num_requests(), 1);
  h.Done(p3, 0.01);
  EXPECT_EQ(h.s.GetRequestInfo(2)->generated, 3);
}

}  // namespace
}  // namespace skipjoin::scheduler
