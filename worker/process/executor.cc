#include "worker/process/executor.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "common/gguf.h"
#include "common/grammar/gguf_vocabulary.h"
#include "common/logging.h"
#include "worker/process/comm_connect.h"

namespace skipjoin::worker {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

Executor::Executor(ExecutorOptions options, monitoring::WorkerMetrics* metrics,
                   Mailbox<Outgoing>* outbox)
    : options_(std::move(options)), metrics_(metrics), outbox_(outbox) {}

Executor::~Executor() { Stop(); }

void Executor::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool Executor::Submit(ExecutorWork work) { return inbox_.Push(std::move(work)); }

void Executor::Stop() {
  stopping_ = true;
  inbox_.Close();
  if (thread_.joinable()) thread_.join();
}

void Executor::Send(protocol::Message message, bool fatal) {
  outbox_->Push(Outgoing{std::move(message), fatal});
}

void Executor::Run() {
  while (auto work = inbox_.Pop()) {
    if (stopping_) break;
    if (auto* a = std::get_if<protocol::ModelAssignment>(&work->message)) {
      Load(*a);
    } else {
      Execute(std::get<protocol::StepPlan>(work->message), work->received);
    }
  }
  engine_.reset();  // before the communicator it borrows
  comm_.reset();
}

void Executor::Load(const protocol::ModelAssignment& a) {
  if (engine_) {
    // Registered again (the coordinator restarted, or dropped this worker
    // after a reconnect): the old assignment's requests and KV are gone with
    // it. The model is loaded afresh, which also rebuilds a TP communicator.
    SJ_LOG(Info) << "new assignment after re-registering: dropping the old engine";
    table_.reset();
    engine_.reset();
    comm_.reset();
    last_step_end_.reset();
  }
  assignment_ = a;
  const auto start = Clock::now();
  SJ_LOG(Info) << "loading " << a.model_path << " as worker " << a.worker_id << ", replica "
               << a.replica_id << ", tp rank " << a.tp_rank << "/" << a.tp_size;
  EngineOptions eo;
  eo.model_path = a.model_path;
  eo.tp_rank = static_cast<int>(a.tp_rank);
  eo.tp_size = static_cast<int>(a.tp_size);
  // "cpu:N" is a CPU worker slot (all run on the one CPU backend); "cuda:N" a GPU.
  const bool cuda = options_.device.rfind("cuda", 0) == 0;
  eo.device = cuda ? options_.device : "cpu";
  eo.num_threads = options_.threads > 0 ? options_.threads : static_cast<int>(a.engine.cpu_threads);
  eo.block_size = static_cast<int32_t>(a.kv.block_size);
  eo.num_device_blocks = static_cast<int32_t>(a.kv.num_device_blocks);
  eo.num_host_blocks = static_cast<int32_t>(a.kv.num_host_blocks);
  // The coordinator leaves a GPU's pool size to the worker: what remains of
  // device_memory_fraction x the free device memory after weights and scratch.
  if (cuda && eo.num_device_blocks == 0) eo.kv_memory_fraction = a.kv.device_memory_fraction;
  eo.max_step_tokens = std::max<int32_t>(static_cast<int32_t>(a.engine.max_batch_tokens), 16);
  eo.max_context = static_cast<int32_t>(a.engine.max_context);
  eo.dtype = a.engine.dtype;

  Status st;
  if (a.tp_size > 1) {
    HostChannelOptions to;
    to.rank = static_cast<int>(a.tp_rank);
    to.size = static_cast<int>(a.tp_size);
    to.host = a.rendezvous.store_host;
    to.port = static_cast<uint16_t>(a.rendezvous.store_port);
    to.bind_host = options_.tp_bind;
    to.timeout = options_.tp_connect_timeout;
    auto comm = ConnectCommunicator(a.rendezvous.backend, to);
    if (comm.ok()) {
      comm_ = std::move(comm).value();
    } else {
      st = comm.status().WithContext("tensor-parallel rendezvous");
    }
  }
  if (st.ok()) {
    auto engine = Engine::Create(eo, a.tp_size > 1 ? comm_.get() : nullptr);
    if (engine.ok()) {
      engine_ = std::move(engine).value();
    } else {
      st = engine.status().WithContext("loading " + a.model_path);
    }
  }
  if (!st.ok()) {
    SJ_LOG(Error) << st.ToString();
    Send(protocol::ErrorReply{protocol::ErrorInfo::FromStatus(st), ""}, /*fatal=*/true);
    return;
  }
  const double load_seconds = SecondsSince(start);
  table_.emplace(engine_->num_device_blocks(), engine_->num_host_blocks(), eo.block_size);
  // Structured outputs match over the model's vocabulary, which a GGUF file
  // carries; without it, guided requests are refused by name.
  if (auto gguf = GgufFile::Open(a.model_path); gguf.ok()) {
    auto vocab = grammar::TokenVocabularyFromGguf(**gguf);
    if (vocab.ok()) {
      table_->SetVocabulary(std::move(vocab).value());
    } else {
      SJ_LOG(Warn) << "no structured outputs: " << vocab.status().ToString();
    }
  }
  protocol::WorkerReady ready;
  ready.worker_id = a.worker_id;
  ready.num_device_blocks = static_cast<uint32_t>(engine_->num_device_blocks());
  ready.num_host_blocks = static_cast<uint32_t>(engine_->num_host_blocks());
  ready.load_seconds = load_seconds;
  stats_.device_memory_used_bytes = static_cast<uint64_t>(engine_->weight_bytes());
  metrics_->SetIdentity({options_.node, options_.device, std::to_string(a.worker_id),
                         std::to_string(a.replica_id), std::to_string(a.tp_rank),
                         std::to_string(a.tp_size)});
  metrics_->KvBlocksAllocated(monitoring::KvPool::kDevice).Set(ready.num_device_blocks);
  metrics_->KvBlocksAllocated(monitoring::KvPool::kHost).Set(ready.num_host_blocks);
  metrics_->load_seconds().Set(load_seconds);
  metrics_->ready().Set(1);
  SJ_LOG(Info) << "ready in " << load_seconds << " s: " << ready.num_device_blocks
               << " device KV blocks, " << ready.num_host_blocks << " host KV blocks";
  Send(ready);
}

void Executor::Execute(const protocol::StepPlan& plan, Clock::time_point received) {
  // With steps queued behind this one's predecessor, the time it waited is not
  // its own: its time starts when it starts or arrives, whichever is later.
  const Clock::time_point started = std::max(received, Clock::now());
  const double idle = last_step_end_ && received > *last_step_end_
                          ? std::chrono::duration<double>(received - *last_step_end_).count()
                          : 0.0;
  const bool answers = assignment_.tp_rank == 0;
  protocol::StepResult result;
  result.replica_id = plan.replica_id;
  result.step_id = plan.step_id;
  result.worker_id = assignment_.worker_id;
  Status st;
  if (!engine_) {
    st = FailedPrecondition("step " + std::to_string(plan.step_id) +
                            " arrived before the model was loaded");
  }
  std::optional<StepInput> input;
  if (st.ok()) {
    auto in = table_->Apply(plan);
    if (in.ok()) {
      input = std::move(in).value();
    } else {
      st = in.status();
    }
  }
  if (st.ok()) {
    const auto t0 = Clock::now();
    auto out = engine_->Step(*input);
    const double busy = SecondsSince(t0);
    stats_.busy_micros += static_cast<uint64_t>(busy * 1e6);
    if (out.ok()) {
      table_->Record(*out);
      result = ToStepResult(plan, assignment_.worker_id, *out);
      result.timings.compute_seconds = out->compute_seconds;
      result.timings.swap_seconds = out->swap_seconds;
      metrics_->step_execution().Observe(out->compute_seconds);
      if (!plan.swap_in.empty() || !plan.swap_out.empty()) {
        metrics_->swap().Observe(out->swap_seconds);
        metrics_->SwapBlocks(monitoring::SwapDirection::kOut)
            .Increment(static_cast<double>(plan.swap_out.size() / 2));
        metrics_->SwapBlocks(monitoring::SwapDirection::kIn)
            .Increment(static_cast<double>(plan.swap_in.size() / 2));
      }
      metrics_->tokens_processed().Increment(static_cast<double>(out->num_tokens));
      double sampled = 0;
      for (const auto& s : out->seqs) sampled += s.token >= 0 ? 1 : 0;
      metrics_->tokens_sampled().Increment(sampled);
      metrics_->steps_ok().Increment();
    } else {
      st = out.status();
    }
  }
  stats_.steps_executed++;
  if (!st.ok()) {
    SJ_LOG(Error) << "step " << plan.step_id << " of replica " << plan.replica_id
                  << " failed: " << st.ToString();
    metrics_->steps_failed().Increment();
    result.sequences.clear();
    result.error = protocol::ErrorInfo::FromStatus(st);
  }
  result.timings.total_seconds = SecondsSince(started);
  result.timings.idle_seconds = idle;
  last_step_end_ = Clock::now();
  if (answers) Send(std::move(result));
}

}  // namespace skipjoin::worker
