// Wire messages between skipjoin processes: worker <-> coordinator (WorkerHub /
// Link) and native client <-> coordinator (ClientEndpoint).
//
// Plain value structs; codec.h turns them into msgpack frames and back. Every
// frame carries kProtocolVersion, and a peer with another version is rejected
// with a clear error, so bump it whenever a field or message changes meaning.
// MessageType values are stable on the wire: append new ones, never renumber.
//
// Units: bytes, seconds (double) and token ids (int32) throughout; block ids are
// indices into a replica's device or host KV pool.
// Thread-compatible value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/serving_types.h"
#include "common/status.h"

namespace skipjoin::protocol {

// Version 1: the first wire format.
// Version 2: delta step plans in a flat layout (a request's static data and
// block table travel once), plan epochs, kPendingToken decodes; dead fields
// (capabilities, kv.dtype, nccl_unique_id, group_epoch, use_cuda_graphs) gone.
// Version 3: WorkerRegister carries the cluster id.
// Version 4: sampling parameters carry the logit processors (penalties,
// logit_bias, stop_token_ids, min_tokens) and the structured-output guide.
// Version 5: SequenceStart carries the prompt length.
// Version 6: StatusReply lists every worker slot (node, host, device, rank).
// Version 7: sampling parameters carry allowed_token_ids and bad_words.
// Frames with another version are refused.
inline constexpr uint32_t kProtocolVersion = 7;

enum class MessageType : uint32_t {
  // worker <-> coordinator
  kWorkerRegister = 1,
  kModelAssignment = 2,  // the coordinator's answer to WorkerRegister (RegisterAck)
  kWorkerReady = 3,
  kStepPlan = 4,
  kStepResult = 5,
  kHeartbeat = 6,
  kShutdown = 7,
  // both directions, both links
  kErrorReply = 8,
  // native client <-> coordinator
  kSubmitRequest = 20,
  kTokenChunk = 21,
  kCancelRequest = 22,
  kStatusRequest = 23,
  kStatusReply = 24,
  kModelsRequest = 25,
  kModelsReply = 26,
};

// "WorkerRegister", ...; "unknown" for values outside the enum.
const char* MessageTypeName(MessageType type);

// The shared vocabulary (common/serving_types.h), as the wire spells it.
using skipjoin::DeviceKind;
using skipjoin::DeviceKindName;
using skipjoin::FinishReason;
using skipjoin::FinishReasonName;
using skipjoin::SamplingParams;
using skipjoin::TokenLogprob;

// A Status as it crosses a process boundary. code is a StatusCode value.
struct ErrorInfo {
  int32_t code = 0;
  std::string message;

  static ErrorInfo FromStatus(const Status& s) {
    return {static_cast<int32_t>(s.code()), s.message()};
  }
  // Unknown codes become kInternal so a newer peer cannot smuggle in garbage.
  Status ToStatus() const;
  bool operator==(const ErrorInfo&) const = default;
};

// ---------------------------------------------------------------------------
// worker <-> coordinator

// Worker -> coordinator, first message on a new link.
struct WorkerRegister {
  static constexpr MessageType kType = MessageType::kWorkerRegister;
  std::string node;  // node name from the cluster config
  DeviceKind device_kind = DeviceKind::kCpu;
  uint32_t device_index = 0;         // CUDA ordinal, or the CPU worker slot
  uint64_t device_memory_bytes = 0;  // total memory of the device (CPU: usable RAM share)
  uint64_t host_memory_bytes = 0;    // host RAM available for the swap pool
  int64_t pid = 0;
  // config::ClusterId of the config the worker was started from; the
  // coordinator refuses another cluster's.
  std::string cluster_id;
  bool operator==(const WorkerRegister&) const = default;
};

struct KvSettings {
  uint32_t block_size = 16;             // tokens per KV block
  uint32_t num_device_blocks = 0;       // 0: the worker sizes the pool from memory_fraction
  uint32_t num_host_blocks = 0;         // swap pool size; 0 disables swapping
  double device_memory_fraction = 0.9;  // share of free device memory for weights + KV
  bool operator==(const KvSettings&) const = default;
};

// How the ranks of one TP group find each other: rank 0 listens on the store
// address the coordinator picks, the other ranks connect to it; then they run
// the collectives `backend` names.
struct Rendezvous {
  // The collectives (replicas[].tp_comm, auto resolved by the coordinator):
  // "shm" (all ranks on one node), "ring" or "gloo" (ranks on several nodes),
  // "tcp" (the star through rank 0), or "none" (tp == 1).
  std::string backend;
  std::string store_host;  // rank 0's address for the CPU communicator
  uint32_t store_port = 0;
  bool operator==(const Rendezvous&) const = default;
};

// Engine options that do not depend on the scheduling policy.
struct EngineOptions {
  uint32_t max_context = 0;         // 0: the model's own context length
  uint32_t max_batch_tokens = 512;  // most tokens in one step (the token budget)
  uint32_t max_sequences = 256;     // most sequences in one step
  uint32_t cpu_threads = 0;         // 0: all cores the worker may use
  // model.dtype: the activation dtype; "auto" or the backend's own ("f32" on
  // CPU, "bf16" on CUDA). Anything else is refused when the model loads.
  std::string dtype = "auto";
  bool operator==(const EngineOptions&) const = default;
};

// Coordinator -> worker, answer to WorkerRegister (the RegisterAck).
struct ModelAssignment {
  static constexpr MessageType kType = MessageType::kModelAssignment;
  uint32_t worker_id = 0;
  uint32_t replica_id = 0;
  uint32_t tp_rank = 0;
  uint32_t tp_size = 1;
  std::string model_path;  // a .gguf file or a HF directory, readable on the worker's node
  KvSettings kv;
  Rendezvous rendezvous;
  EngineOptions engine;
  bool operator==(const ModelAssignment&) const = default;
};

// Worker -> coordinator once the model is loaded and the KV pools exist.
struct WorkerReady {
  static constexpr MessageType kType = MessageType::kWorkerReady;
  uint32_t worker_id = 0;
  uint32_t num_device_blocks = 0;  // what the worker actually allocated
  uint32_t num_host_blocks = 0;
  double load_seconds = 0;
  bool operator==(const WorkerReady&) const = default;
};

// What a worker keeps about a request from the step it first runs in until
// its id comes back in finished_seq_ids (or the epoch changes): sent once.
struct SequenceStart {
  uint64_t seq_id = 0;  // the coordinator's request id
  SamplingParams sampling;
  // Tokens of the prompt (0: unknown). Fed tokens past it are earlier output:
  // a request restarted by recompute (new epoch, another replica) has the
  // worker replay them into its RNG counter, penalty counts and guide.
  uint32_t prompt_len = 0;
  bool operator==(const SequenceStart&) const = default;
};

// StepPlan::flags bits, one byte per sequence.
inline constexpr uint8_t kSeqSample = 1;          // sample a token after the last one fed
inline constexpr uint8_t kSeqPromptLogprobs = 2;  // return logprobs of the tokens fed (echo)
inline constexpr uint8_t kSeqResetTable = 4;      // new_blocks replace the block table
inline constexpr uint8_t kSeqKnownFlags = 7;

// In token_ids: the token this sequence sampled in the step before, which
// the coordinator has not seen yet (two steps in flight); the worker fills it in.
inline constexpr int32_t kPendingToken = -2;

// Coordinator -> every rank of a replica, the same bytes to each. Executed in
// order: swap_out copies, swap_in copies, then the batch. Flat: per-sequence
// arrays in batch order, with token ids and new block ids concatenated.
struct StepPlan {
  static constexpr MessageType kType = MessageType::kStepPlan;
  uint32_t replica_id = 0;
  uint64_t step_id = 0;  // strictly increasing per replica
  // Changes whenever the coordinator re-forms its view of the replica; a
  // worker that sees a new epoch drops every request's state first.
  uint64_t epoch = 0;
  std::vector<uint32_t> swap_out;  // device -> host, as (device, host) pairs
  std::vector<uint32_t> swap_in;   // host -> device, as (device, host) pairs
  // The first num_blocking_swap_in pairs of swap_in belong to this step's
  // sequences; the rest prefetch and may land after compute.
  uint32_t num_blocking_swap_in = 0;
  std::vector<SequenceStart> starts;  // requests this worker has not seen
  std::vector<uint64_t> seq_ids;
  std::vector<uint32_t> start_positions;   // tokens already cached
  std::vector<uint32_t> num_tokens;        // tokens fed this step (>= 1)
  std::vector<uint8_t> flags;              // kSeq* bits
  std::vector<uint32_t> num_new_blocks;    // appended to (or replacing) the block table
  std::vector<int32_t> token_ids;          // sum(num_tokens)
  std::vector<uint32_t> new_blocks;        // sum(num_new_blocks) device block ids
  std::vector<uint64_t> finished_seq_ids;  // drop these requests' state first
  size_t num_sequences() const { return seq_ids.size(); }
  bool operator==(const StepPlan&) const = default;
};

struct SequenceOutput {
  uint64_t seq_id = 0;
  int32_t sampled_token = -1;              // -1 when the sequence did not sample this step
  float logprob = 0;                       // of sampled_token
  std::vector<TokenLogprob> top_logprobs;  // SamplingParams::logprobs entries, best first
  std::vector<float> prompt_logprobs;      // one per input token after the first when asked
  bool operator==(const SequenceOutput&) const = default;
};

struct StepTimings {
  double total_seconds = 0;  // start of the step (not its wait in the queue) to send of the result
  double compute_seconds = 0;  // forward pass + sampling
  double swap_seconds = 0;     // block copies
  // How long the worker sat without work waiting for this plan after its
  // previous step ended (0 when the plan was already queued): the part of the
  // coordinator's round trip that steps in flight did not hide.
  double idle_seconds = 0;
  bool operator==(const StepTimings&) const = default;
};

// Rank 0 -> coordinator after a step.
struct StepResult {
  static constexpr MessageType kType = MessageType::kStepResult;
  uint32_t replica_id = 0;
  uint64_t step_id = 0;
  uint32_t worker_id = 0;
  std::vector<SequenceOutput> sequences;
  StepTimings timings;
  std::optional<ErrorInfo> error;  // set when the step failed; sequences is then empty
  bool operator==(const StepResult&) const = default;
};

struct WorkerStats {
  uint64_t steps_executed = 0;
  uint64_t device_memory_used_bytes = 0;
  uint64_t host_memory_used_bytes = 0;
  double busy_seconds = 0;  // time spent executing steps since start
  bool operator==(const WorkerStats&) const = default;
};

struct Heartbeat {
  static constexpr MessageType kType = MessageType::kHeartbeat;
  uint32_t worker_id = 0;
  double unix_seconds = 0;  // sender's wall clock
  WorkerStats stats;
  bool operator==(const Heartbeat&) const = default;
};

// Coordinator -> worker (exit after the current step), or client -> nothing.
struct Shutdown {
  static constexpr MessageType kType = MessageType::kShutdown;
  std::string reason;
  bool operator==(const Shutdown&) const = default;
};

// Either side, either link: the peer's last message could not be served.
struct ErrorReply {
  static constexpr MessageType kType = MessageType::kErrorReply;
  ErrorInfo error;
  std::string request_id;  // the client request it concerns; empty if none
  bool operator==(const ErrorReply&) const = default;
};

// ---------------------------------------------------------------------------
// native client <-> coordinator

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
  bool operator==(const ChatMessage&) const = default;
};

// Client -> coordinator. Exactly one of prompt_text, prompt_tokens, messages
// is set (the decoder enforces it).
struct SubmitRequest {
  static constexpr MessageType kType = MessageType::kSubmitRequest;
  std::string client_request_id;  // unique per client connection; echoed in replies
  std::optional<std::string> prompt_text;
  std::optional<std::vector<int32_t>> prompt_tokens;
  std::optional<std::vector<ChatMessage>> messages;  // chat template applied by the coordinator
  SamplingParams sampling;
  uint32_t max_tokens = 0;                  // 0: the coordinator's default
  std::vector<std::string> stop;            // stop strings
  int32_t priority = 0;                     // higher runs first among equals
  bool stream = true;                       // false: one TokenChunk at the end
  bool echo = false;                        // also return prompt tokens and their logprobs
  bool ignore_eos = false;                  // do not end on end-of-sequence tokens
  bool include_stop_str_in_output = false;  // keep a matched stop string in the text
  // sampling.stop_token_ids are the request's own; the coordinator adds the
  // model's end-of-sequence tokens unless ignore_eos.
  bool operator==(const SubmitRequest&) const = default;
};

struct Usage {
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  bool operator==(const Usage&) const = default;
};

struct TokenLogprobs {
  int32_t token = 0;
  float logprob = 0;
  std::vector<TokenLogprob> top;
  bool operator==(const TokenLogprobs&) const = default;
};

// Coordinator -> client: the next piece of a request's output.
struct TokenChunk {
  static constexpr MessageType kType = MessageType::kTokenChunk;
  std::string request_id;  // SubmitRequest::client_request_id
  std::string text_delta;  // UTF-8; never splits a code point
  std::vector<int32_t> token_ids;
  std::vector<TokenLogprobs> logprobs;  // one per token when asked
  FinishReason finish_reason = FinishReason::kNone;
  std::optional<Usage> usage;      // set on the last chunk
  std::optional<ErrorInfo> error;  // set when finish_reason is kError
  bool operator==(const TokenChunk&) const = default;
};

struct CancelRequest {
  static constexpr MessageType kType = MessageType::kCancelRequest;
  std::string request_id;
  bool operator==(const CancelRequest&) const = default;
};

struct StatusRequest {
  static constexpr MessageType kType = MessageType::kStatusRequest;
  bool operator==(const StatusRequest&) const = default;
};

struct ReplicaStatus {
  uint32_t replica_id = 0;
  std::string name;
  bool alive = false;
  uint32_t workers = 0;  // registered and ready
  uint32_t running = 0;  // sequences in the running batch
  uint32_t waiting = 0;  // queued, not started
  uint32_t swapped = 0;  // preempted to the host pool
  uint32_t kv_device_blocks_free = 0;
  uint32_t kv_device_blocks_used = 0;
  uint32_t kv_host_blocks_free = 0;
  uint32_t kv_host_blocks_used = 0;
  bool operator==(const ReplicaStatus&) const = default;
};

// One TP rank of a replica, as the config places it, and whether a worker
// holds it.
struct WorkerStatus {
  uint32_t replica_id = 0;
  uint32_t rank = 0;
  std::string node;         // the config's node name
  std::string host;         // that node's advertised address (nodes[].host)
  std::string device;       // "cpu:0", "cuda:3"
  bool registered = false;  // a worker process holds this rank
  bool ready = false;       // ... and has loaded its shard
  bool operator==(const WorkerStatus&) const = default;
};

struct StatusReply {
  static constexpr MessageType kType = MessageType::kStatusReply;
  std::vector<ReplicaStatus> replicas;
  std::vector<uint32_t> queue_levels;  // requests per MLFQ level, highest priority first
  std::vector<WorkerStatus> workers;   // every rank of every replica, by replica then rank
  bool operator==(const StatusReply&) const = default;
};

struct ModelsRequest {
  static constexpr MessageType kType = MessageType::kModelsRequest;
  bool operator==(const ModelsRequest&) const = default;
};

struct ModelInfo {
  std::string id;  // served model name
  uint32_t max_context = 0;
  bool operator==(const ModelInfo&) const = default;
};

struct ModelsReply {
  static constexpr MessageType kType = MessageType::kModelsReply;
  std::vector<ModelInfo> models;
  bool operator==(const ModelsReply&) const = default;
};

// Any message. The alternative order is not the wire order (MessageType is).
using Message = std::variant<WorkerRegister, ModelAssignment, WorkerReady, StepPlan, StepResult,
                             Heartbeat, Shutdown, ErrorReply, SubmitRequest, TokenChunk,
                             CancelRequest, StatusRequest, StatusReply, ModelsRequest, ModelsReply>;

MessageType TypeOf(const Message& message);

}  // namespace skipjoin::protocol
