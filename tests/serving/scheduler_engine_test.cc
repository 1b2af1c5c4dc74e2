// The Scheduler driving the real engine in one process: whatever the policy
// (mlfq, fcfs) and however often requests are preempted (slot pressure, swap to
// the host pool, recompute), every request's greedy tokens equal those of the
// request run alone. This is the contract between the scheduler's step plans
// (positions, block tables, swap pairs, recompute re-feeds) and the engine.
#include <map>

#include "coordinator/scheduler/clock.h"
#include "coordinator/scheduler/scheduler.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"
#include "tests/testutil/tiny_model.h"
#include "worker/local_runner.h"

namespace skipjoin {
namespace {

struct ServeResult {
  std::map<scheduler::RequestId, std::vector<int32_t>> outputs;
  scheduler::SchedulerStats stats;
};

std::vector<int32_t> Prompt(int len, int seed) {
  std::vector<int32_t> p(len);
  uint32_t x = 977u * (seed + 3);
  for (int i = 0; i < len; ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = static_cast<int32_t>((x >> 10) % 250);
  }
  return p;
}

class SchedulerEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(testing::TestTempDir("scheduler_engine") + "/tiny.gguf");
    testutil::TinyModelSpec spec;
    ASSERT_TRUE(testutil::WriteTinyGguf(spec, *path_).ok());
  }
  static void TearDownTestSuite() { delete path_; }

  void SetUp() override {
    for (int i = 0; i < 10; ++i) prompts_.push_back(Prompt(20 + 7 * i, i));
  }

  std::vector<int32_t> Alone(const std::vector<int32_t>& prompt) {
    EngineOptions o;
    o.model_path = *path_;
    o.num_device_blocks = 64;
    auto e = Engine::Create(o, nullptr);
    EXPECT_TRUE(e.ok());
    LocalRequest r;
    r.prompt = prompt;
    r.max_new_tokens = kNewTokens;
    LocalRunner runner(e->get());
    auto out = runner.Run({r});
    EXPECT_TRUE(out.ok());
    return (*out)[0];
  }

  ServeResult Serve(scheduler::PolicyKind policy, int32_t device_blocks, int32_t host_blocks, int32_t max_running) {
    EngineOptions eo;
    eo.model_path = *path_;
    eo.num_device_blocks = device_blocks;
    eo.num_host_blocks = host_blocks;
    auto engine = Engine::Create(eo, nullptr);
    EXPECT_TRUE(engine.ok());
    scheduler::ManualClock clock;
    scheduler::SchedulerOptions so;
    so.policy = policy;
    so.max_running_sequences = max_running;
    so.token_budget = 64;
    so.mlfq.base_quantum_seconds = 0.002;  // tiny steps: make demotion and preemption happen
    scheduler::Scheduler sched(so, &clock);
    EXPECT_TRUE(sched.AddReplica(0, {device_blocks, host_blocks, 16}).ok());
    for (size_t i = 0; i < prompts_.size(); ++i) {
      scheduler::RequestSpec spec;
      spec.id = i + 1;
      spec.prompt_token_ids = prompts_[i];
      spec.max_new_tokens = kNewTokens;
      spec.priority = static_cast<int32_t>(i % 3) - 1;
      spec.arrival_seconds = clock.NowSeconds();
      EXPECT_TRUE(sched.Submit(spec).ok());
    }
    ServeResult run;
    std::map<scheduler::RequestId, int32_t> sampled;
    size_t finished = 0;
    scheduler::StepPlan plan;
    for (int guard = 0; guard < 5000 && finished < prompts_.size(); ++guard) {
      if (!sched.BuildNextStep(0, &plan)) break;
      StepInput in;
      for (const scheduler::BlockPair& p : plan.swap_out) in.swap_out.push_back(p);
      for (const scheduler::BlockPair& p : plan.swap_in) in.swap_in.push_back(p);
      for (const scheduler::StepSequence& s : plan.sequences) {
        SeqInput si;
        si.seq_id = s.request_id;
        auto toks = plan.tokens_of(s);
        si.tokens.assign(toks.begin(), toks.end());
        si.start_pos = s.start_position;
        auto table = plan.block_table_of(s);
        si.block_table.assign(table.begin(), table.end());
        si.sample = s.samples;
        si.sample_index = sampled[s.request_id];
        in.seqs.push_back(std::move(si));
      }
      auto res = (*engine)->Step(in);
      EXPECT_TRUE(res.ok()) << res.status().ToString();
      if (!res.ok()) break;
      scheduler::StepOutcome outcome;
      outcome.measured_seconds = 0.001 * (1 + plan.num_tokens() / 16);  // virtual time
      clock.Set(clock.NowSeconds() + outcome.measured_seconds);
      for (size_t k = 0; k < plan.sequences.size(); ++k) {
        outcome.sampled_token_ids.push_back(plan.sequences[k].samples ? res->seqs[k].token : scheduler::kNoToken);
        if (plan.sequences[k].samples) ++sampled[plan.sequences[k].request_id];
      }
      auto events = sched.OnStepDone(0, outcome);
      EXPECT_TRUE(events.ok());
      for (const scheduler::SchedulerEvent& ev : *events) {
        if (ev.kind == scheduler::EventKind::kToken) run.outputs[ev.request_id].push_back(ev.token_id);
        if (ev.kind == scheduler::EventKind::kFinished) ++finished;
        EXPECT_NE(ev.kind, scheduler::EventKind::kFailed);
      }
    }
    EXPECT_EQ(finished, prompts_.size());
    run.stats = sched.stats();
    return run;
  }

  void ExpectSameAsAlone(const ServeResult& run) {
    for (size_t i = 0; i < prompts_.size(); ++i) {
      EXPECT_EQ(run.outputs.at(i + 1), reference_.at(i)) << "request " << i + 1;
    }
  }

  void ComputeReference() {
    for (const auto& p : prompts_) reference_.push_back(Alone(p));
  }

  static constexpr int32_t kNewTokens = 24;
  static std::string* path_;
  std::vector<std::vector<int32_t>> prompts_;
  std::vector<std::vector<int32_t>> reference_;
};
std::string* SchedulerEngineTest::path_ = nullptr;

TEST_F(SchedulerEngineTest, MlfqWithSlotPressureAndSwapsMatchesRunsAlone) {
  ComputeReference();
  // 16 device blocks hold ~2-3 of these requests at full length: the rest wait
  // on the host or in the queue. At most 3 run per step.
  ServeResult run = Serve(scheduler::PolicyKind::kMlfq, 16, 96, 3);
  ExpectSameAsAlone(run);
  EXPECT_GT(run.stats.preemptions_swap + run.stats.preemptions_slot, 0);
  std::printf("  mlfq: %lld steps, %lld slot / %lld swap / %lld recompute preemptions, %lld blocks swapped out\n",
              static_cast<long long>(run.stats.steps), static_cast<long long>(run.stats.preemptions_slot),
              static_cast<long long>(run.stats.preemptions_swap),
              static_cast<long long>(run.stats.preemptions_recompute),
              static_cast<long long>(run.stats.swapped_out_blocks));
}

TEST_F(SchedulerEngineTest, MlfqRecomputesWhenTheHostPoolIsFullAndStillMatches) {
  ComputeReference();
  ServeResult run = Serve(scheduler::PolicyKind::kMlfq, 16, 0, 4);
  ExpectSameAsAlone(run);
  EXPECT_GT(run.stats.preemptions_recompute + run.stats.preemptions_slot, 0);
}

TEST_F(SchedulerEngineTest, FcfsWithRecomputePreemptionMatchesRunsAlone) {
  ComputeReference();
  ServeResult run = Serve(scheduler::PolicyKind::kFcfs, 16, 0, 8);
  ExpectSameAsAlone(run);
  EXPECT_GT(run.stats.preemptions_recompute, 0);
  std::printf("  fcfs: %lld steps, %lld recompute preemptions, %lld tokens recomputed\n",
              static_cast<long long>(run.stats.steps), static_cast<long long>(run.stats.preemptions_recompute),
              static_cast<long long>(run.stats.recomputed_tokens));
}

TEST_F(SchedulerEngineTest, AmpleMemoryMlfqAndFcfsAgree) {
  ComputeReference();
  ExpectSameAsAlone(Serve(scheduler::PolicyKind::kMlfq, 256, 64, 64));
  ExpectSameAsAlone(Serve(scheduler::PolicyKind::kFcfs, 256, 0, 64));
}

}  // namespace
}  // namespace skipjoin
