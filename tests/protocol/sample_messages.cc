#include "tests/protocol/sample_messages.h"

namespace skipjoin::protocol {
namespace {

SamplingParams Sampling() {
  SamplingParams s;
  s.temperature = 0.7f;
  s.top_p = 0.9f;
  s.top_k = 40;
  s.min_p = 0.05f;
  s.seed = 1234567890123ull;
  s.logprobs = 3;
  s.repetition_penalty = 1.1f;
  s.presence_penalty = 0.5f;
  s.frequency_penalty = -0.25f;
  s.logit_bias = {{17, -100.0f}, {4, 2.5f}};
  s.stop_token_ids = {2, 9};
  s.min_tokens = 3;
  s.guide = GuideKind::kJsonSchema;
  s.guide_spec = R"({"type":"object"})";
  s.allowed_token_ids = {4, 17, 30};
  s.bad_words = {{8}, {21, 22, 23}};
  return s;
}

}  // namespace

std::vector<Message> OneOfEveryMessage() {
  std::vector<Message> out;
  out.push_back(WorkerRegister{"node-a", DeviceKind::kCuda, 3, 80ull << 30, 512ull << 30, 4242,
                               "c/0123456789abcdef"});
  ModelAssignment a;
  a.worker_id = 7;
  a.replica_id = 2;
  a.tp_rank = 1;
  a.tp_size = 4;
  a.model_path = "/models/x.gguf";
  a.kv = KvSettings{16, 1000, 4000, 0.85};
  a.rendezvous = Rendezvous{"tcp", "10.0.0.1", 29500};
  a.engine = EngineOptions{4096, 1024, 128, 8, "bf16"};
  out.push_back(a);
  out.push_back(WorkerReady{7, 999, 3999, 12.5});
  StepPlan p;
  p.replica_id = 2;
  p.step_id = 1ull << 40;
  p.epoch = 5;
  p.swap_out = {1, 2, 3, 4};
  p.swap_in = {5, 6, 7, 8};
  p.num_blocking_swap_in = 1;
  p.starts = {SequenceStart{11, Sampling(), 19}};
  p.seq_ids = {11, 12};
  p.start_positions = {0, 77};
  p.num_tokens = {5, 1};
  p.flags = {kSeqSample | kSeqPromptLogprobs | kSeqResetTable, kSeqSample};
  p.num_new_blocks = {2, 0};
  p.token_ids = {1, 2, 3, 4, 5, kPendingToken};
  p.new_blocks = {0, 1};
  p.finished_seq_ids = {3, 4};
  out.push_back(p);
  StepResult r;
  r.replica_id = 2;
  r.step_id = 99;
  r.worker_id = 7;
  r.sequences = {SequenceOutput{11, 42, -0.5f, {{42, -0.5f}, {43, -1.25f}}, {-1.0f, -2.0f}}};
  r.timings = StepTimings{0.02, 0.015, 0.003};
  r.error = ErrorInfo{static_cast<int32_t>(StatusCode::kResourceExhausted), "out of blocks"};
  out.push_back(r);
  out.push_back(Heartbeat{7, 1.7e9, WorkerStats{100, 1ull << 33, 1ull << 20, 12.25}});
  out.push_back(Shutdown{"bye"});
  out.push_back(ErrorReply{ErrorInfo{1, "bad request"}, "req-1"});
  SubmitRequest s;
  s.client_request_id = "c-1";
  s.messages = std::vector<ChatMessage>{{"system", "be brief"}, {"user", "héllo"}};
  s.sampling = Sampling();
  s.max_tokens = 64;
  s.stop = {"\n\n", "END"};
  s.priority = -3;
  s.stream = false;
  s.echo = true;
  out.push_back(s);
  SubmitRequest s2;
  s2.client_request_id = "c-2";
  s2.prompt_tokens = std::vector<int32_t>{1, 2, 3};
  out.push_back(s2);
  TokenChunk c;
  c.request_id = "c-1";
  c.text_delta = "wörld";
  c.token_ids = {5, 6};
  c.logprobs = {TokenLogprobs{5, -0.1f, {{5, -0.1f}, {9, -3.0f}}}, TokenLogprobs{6, -0.2f, {}}};
  c.finish_reason = FinishReason::kLength;
  c.usage = Usage{10, 2};
  out.push_back(c);
  out.push_back(CancelRequest{"c-1"});
  out.push_back(StatusRequest{});
  out.push_back(
      StatusReply{{ReplicaStatus{0, "r0", true, 2, 3, 4, 5, 6, 7, 8, 9}},
                  {1, 0, 2, 5},
                  {WorkerStatus{0, 0, "gpu-a", "10.0.0.1", "cuda:0", true, true},
                   WorkerStatus{0, 1, "gpu-b", "gpu-b.example", "cuda:3", true, false},
                   WorkerStatus{0, 2, "gpu-b", "gpu-b.example", "cuda:4", false, false}}});
  out.push_back(ModelsRequest{});
  out.push_back(ModelsReply{{ModelInfo{"smollm2", 8192}}});
  return out;
}

}  // namespace skipjoin::protocol
