#include "protocol/codec.h"

#include <algorithm>
#include <exception>
#include <msgpack.hpp>
#include <utility>

#include "protocol/wire_format.h"

// The shared vocabulary's fields (common/serving_types.h) live in its own
// namespace, where argument-dependent lookup finds them.
namespace skipjoin {
template <typename V>
void Fields(V& v, protocol::wire::Is<SamplingParams> auto& s) {
  v("temperature", s.temperature);
  v("top_p", s.top_p);
  v("top_k", s.top_k);
  v("min_p", s.min_p);
  v("seed", s.seed);
  v("logprobs", s.logprobs);
  v("repetition_penalty", s.repetition_penalty);
  v("presence_penalty", s.presence_penalty);
  v("frequency_penalty", s.frequency_penalty);
  v("logit_bias", s.logit_bias);
  v("stop_token_ids", s.stop_token_ids);
  v("min_tokens", s.min_tokens);
  v("guide", s.guide);
  v("guide_spec", s.guide_spec);
  v("allowed_token_ids", s.allowed_token_ids);
  v("bad_words", s.bad_words);
}
template <typename V>
void Fields(V& v, protocol::wire::Is<TokenBias> auto& s) {
  v("token", s.token);
  v("bias", s.bias);
}
template <typename V>
void Fields(V& v, protocol::wire::Is<TokenLogprob> auto& s) {
  v("token", s.token);
  v("logprob", s.logprob);
}
}  // namespace skipjoin

namespace skipjoin::protocol {
namespace wire {

template <>
struct EnumNames<DeviceKind> {
  static constexpr const char* kNames[] = {"cpu", "cuda"};
};
template <>
struct EnumNames<GuideKind> {
  static constexpr const char* kNames[] = {"none", "json_object", "json_schema", "regex", "choice"};
};
template <>
struct EnumNames<FinishReason> {
  static constexpr const char* kNames[] = {"none", "stop", "length", "abort", "error"};
};

const char* ObjectTypeName(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "a boolean";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "an integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "a float";
    case msgpack::type::STR:
      return "a string";
    case msgpack::type::BIN:
      return "binary data";
    case msgpack::type::ARRAY:
      return "an array";
    case msgpack::type::MAP:
      return "a map";
    case msgpack::type::EXT:
      return "an ext value";
  }
  return "an unknown msgpack type";
}

}  // namespace wire

// Field lists: the wire schema. Names are the map keys; order is the encoding
// order. Changing a name or a type is a protocol change: bump kProtocolVersion.
using wire::Is;

template <typename V>
void Fields(V& v, Is<ErrorInfo> auto& s) {
  v("code", s.code);
  v("message", s.message);
}
template <typename V>
void Fields(V& v, Is<WorkerRegister> auto& s) {
  v("node", s.node);
  v("device_kind", s.device_kind);
  v("device_index", s.device_index);
  v("device_memory_bytes", s.device_memory_bytes);
  v("host_memory_bytes", s.host_memory_bytes);
  v("pid", s.pid);
  v("cluster_id", s.cluster_id);
}
template <typename V>
void Fields(V& v, Is<KvSettings> auto& s) {
  v("block_size", s.block_size);
  v("num_device_blocks", s.num_device_blocks);
  v("num_host_blocks", s.num_host_blocks);
  v("device_memory_fraction", s.device_memory_fraction);
}
template <typename V>
void Fields(V& v, Is<Rendezvous> auto& s) {
  v("backend", s.backend);
  v("store_host", s.store_host);
  v("store_port", s.store_port);
}
template <typename V>
void Fields(V& v, Is<EngineOptions> auto& s) {
  v("max_context", s.max_context);
  v("max_batch_tokens", s.max_batch_tokens);
  v("max_sequences", s.max_sequences);
  v("cpu_threads", s.cpu_threads);
  v("dtype", s.dtype);
}
template <typename V>
void Fields(V& v, Is<ModelAssignment> auto& s) {
  v("worker_id", s.worker_id);
  v("replica_id", s.replica_id);
  v("tp_rank", s.tp_rank);
  v("tp_size", s.tp_size);
  v("model_path", s.model_path);
  v("kv", s.kv);
  v("rendezvous", s.rendezvous);
  v("engine", s.engine);
}
template <typename V>
void Fields(V& v, Is<WorkerReady> auto& s) {
  v("worker_id", s.worker_id);
  v("num_device_blocks", s.num_device_blocks);
  v("num_host_blocks", s.num_host_blocks);
  v("load_seconds", s.load_seconds);
}
template <typename V>
void Fields(V& v, Is<SequenceStart> auto& s) {
  v("seq_id", s.seq_id);
  v("sampling", s.sampling);
  v("prompt_len", s.prompt_len);
}
// Short keys: a plan goes out every step, and its per-sequence cost is what
// the arrays hold (a steady decode: a few bytes each).
template <typename V>
void Fields(V& v, Is<StepPlan> auto& s) {
  v("replica", s.replica_id);
  v("step", s.step_id);
  v("epoch", s.epoch);
  v("swap_out", s.swap_out);
  v("swap_in", s.swap_in);
  v("blocking_in", s.num_blocking_swap_in);
  v("starts", s.starts);
  v("ids", s.seq_ids);
  v("pos", s.start_positions);
  v("n", s.num_tokens);
  v("flags", s.flags);
  v("nb", s.num_new_blocks);
  v("tokens", s.token_ids);
  v("blocks", s.new_blocks);
  v("finished", s.finished_seq_ids);
}
template <typename V>
void Fields(V& v, Is<SequenceOutput> auto& s) {
  v("seq_id", s.seq_id);
  v("sampled_token", s.sampled_token);
  v("logprob", s.logprob);
  v("top_logprobs", s.top_logprobs);
  v("prompt_logprobs", s.prompt_logprobs);
}
template <typename V>
void Fields(V& v, Is<StepTimings> auto& s) {
  v("total_seconds", s.total_seconds);
  v("compute_seconds", s.compute_seconds);
  v("swap_seconds", s.swap_seconds);
  v("idle_seconds", s.idle_seconds);
}
template <typename V>
void Fields(V& v, Is<StepResult> auto& s) {
  v("replica_id", s.replica_id);
  v("step_id", s.step_id);
  v("worker_id", s.worker_id);
  v("sequences", s.sequences);
  v("timings", s.timings);
  v("error", s.error);
}
template <typename V>
void Fields(V& v, Is<WorkerStats> auto& s) {
  v("steps_executed", s.steps_executed);
  v("device_memory_used_bytes", s.device_memory_used_bytes);
  v("host_memory_used_bytes", s.host_memory_used_bytes);
  v("busy_seconds", s.busy_seconds);
}
template <typename V>
void Fields(V& v, Is<Heartbeat> auto& s) {
  v("worker_id", s.worker_id);
  v("unix_seconds", s.unix_seconds);
  v("stats", s.stats);
}
template <typename V>
void Fields(V& v, Is<Shutdown> auto& s) {
  v("reason", s.reason);
}
template <typename V>
void Fields(V& v, Is<ErrorReply> auto& s) {
  v("error", s.error);
  v("request_id", s.request_id);
}
template <typename V>
void Fields(V& v, Is<ChatMessage> auto& s) {
  v("role", s.role);
  v("content", s.content);
}
template <typename V>
void Fields(V& v, Is<SubmitRequest> auto& s) {
  v("client_request_id", s.client_request_id);
  v("prompt_text", s.prompt_text);
  v("prompt_tokens", s.prompt_tokens);
  v("messages", s.messages);
  v("sampling", s.sampling);
  v("max_tokens", s.max_tokens);
  v("stop", s.stop);
  v("priority", s.priority);
  v("stream", s.stream);
  v("echo", s.echo);
  v("ignore_eos", s.ignore_eos);
  v("include_stop_str_in_output", s.include_stop_str_in_output);
}
template <typename V>
void Fields(V& v, Is<Usage> auto& s) {
  v("prompt_tokens", s.prompt_tokens);
  v("completion_tokens", s.completion_tokens);
}
template <typename V>
void Fields(V& v, Is<TokenLogprobs> auto& s) {
  v("token", s.token);
  v("logprob", s.logprob);
  v("top", s.top);
}
template <typename V>
void Fields(V& v, Is<TokenChunk> auto& s) {
  v("request_id", s.request_id);
  v("text_delta", s.text_delta);
  v("token_ids", s.token_ids);
  v("logprobs", s.logprobs);
  v("finish_reason", s.finish_reason);
  v("usage", s.usage);
  v("error", s.error);
}
template <typename V>
void Fields(V& v, Is<CancelRequest> auto& s) {
  v("request_id", s.request_id);
}
template <typename V>
void Fields(V&, Is<StatusRequest> auto&) {}
template <typename V>
void Fields(V& v, Is<ReplicaStatus> auto& s) {
  v("replica_id", s.replica_id);
  v("name", s.name);
  v("alive", s.alive);
  v("workers", s.workers);
  v("running", s.running);
  v("waiting", s.waiting);
  v("swapped", s.swapped);
  v("kv_device_blocks_free", s.kv_device_blocks_free);
  v("kv_device_blocks_used", s.kv_device_blocks_used);
  v("kv_host_blocks_free", s.kv_host_blocks_free);
  v("kv_host_blocks_used", s.kv_host_blocks_used);
}
template <typename V>
void Fields(V& v, Is<WorkerStatus> auto& s) {
  v("replica_id", s.replica_id);
  v("rank", s.rank);
  v("node", s.node);
  v("host", s.host);
  v("device", s.device);
  v("registered", s.registered);
  v("ready", s.ready);
}
template <typename V>
void Fields(V& v, Is<StatusReply> auto& s) {
  v("replicas", s.replicas);
  v("queue_levels", s.queue_levels);
  v("workers", s.workers);
}
template <typename V>
void Fields(V&, Is<ModelsRequest> auto&) {}
template <typename V>
void Fields(V& v, Is<ModelInfo> auto& s) {
  v("id", s.id);
  v("max_context", s.max_context);
}
template <typename V>
void Fields(V& v, Is<ModelsReply> auto& s) {
  v("models", s.models);
}

namespace {

// Checks that need more than one field.
Status Validate(const SubmitRequest& r) {
  int prompts = int{r.prompt_text.has_value()} + int{r.prompt_tokens.has_value()} +
                int{r.messages.has_value()};
  if (prompts != 1) {
    return DataLoss(
        "SubmitRequest needs exactly one of prompt_text, prompt_tokens, messages; got " +
        std::to_string(prompts));
  }
  return Status::Ok();
}
template <typename T>
Status Validate(const T&) {
  return Status::Ok();
}

// An array or map over its cap: the configured limit (kResourceExhausted) or
// more entries than the frame has bytes for (corrupt or truncated: kDataLoss).
Status ElementCountError(const char* what, uint32_t max_elements, size_t frame_cap) {
  if (max_elements < frame_cap) {
    return ResourceExhausted(std::string("frame has an ") + what + " of more than " +
                             std::to_string(max_elements) + " entries");
  }
  return DataLoss(std::string("frame declares an ") + what +
                  " with more entries than it has bytes for");
}

template <typename T>
Result<Message> DecodeBody(const msgpack::object& body) {
  wire::Reader reader;
  T msg;
  reader.Read(body, msg);
  if (!reader.status().ok()) return reader.status().WithContext(MessageTypeName(T::kType));
  SJ_RETURN_IF_ERROR(Validate(msg));
  return Message(std::move(msg));
}

// Finds the variant alternative whose kType is `type`.
template <size_t I = 0>
Result<Message> DecodeByType(uint64_t type, const msgpack::object& body) {
  if constexpr (I == std::variant_size_v<Message>) {
    return Unimplemented("unknown message type " + std::to_string(type));
  } else {
    using T = std::variant_alternative_t<I, Message>;
    if (type == static_cast<uint64_t>(T::kType)) return DecodeBody<T>(body);
    return DecodeByType<I + 1>(type, body);
  }
}

}  // namespace

namespace {

template <typename T>
void EncodeTo(const T& message, std::string* out) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(&buffer);
  wire::Writer writer(&pk);
  pk.pack_array(3);
  pk.pack(kProtocolVersion);
  pk.pack(static_cast<uint32_t>(T::kType));
  writer.Write(message);
  out->assign(buffer.data(), buffer.size());
}

}  // namespace

std::string Encode(const Message& message) {
  std::string out;
  std::visit([&](const auto& m) { EncodeTo(m, &out); }, message);
  return out;
}

void EncodeInto(const StepPlan& plan, std::string* out) { EncodeTo(plan, out); }

Result<Message> Decode(std::string_view frame, const CodecLimits& limits) {
  if (frame.size() > limits.max_frame_bytes) {
    return ResourceExhausted("frame of " + std::to_string(frame.size()) +
                             " bytes exceeds the limit of " +
                             std::to_string(limits.max_frame_bytes) + " bytes");
  }
  if (frame.empty()) return DataLoss("empty frame");
  // Every element takes at least one byte (a map entry two), so capping counts
  // by the frame size keeps msgpack's up-front allocation proportional to it.
  const size_t n = frame.size();
  const msgpack::unpack_limit unpack_limit(std::min<size_t>(limits.max_elements, n),
                                           std::min<size_t>(limits.max_elements, n / 2),
                                           /*str=*/n, /*bin=*/n, /*ext=*/0, limits.max_depth);
  msgpack::object_handle handle;
  size_t offset = 0;
  try {
    handle = msgpack::unpack(frame.data(), n, offset, nullptr, nullptr, unpack_limit);
  } catch (const msgpack::insufficient_bytes&) {
    return DataLoss("truncated frame: msgpack data ends early (" + std::to_string(n) + " bytes)");
  } catch (const msgpack::depth_size_overflow&) {
    return ResourceExhausted("frame nests arrays and maps deeper than " +
                             std::to_string(limits.max_depth));
  } catch (const msgpack::array_size_overflow&) {
    return ElementCountError("array", limits.max_elements, n);
  } catch (const msgpack::map_size_overflow&) {
    return ElementCountError("map", limits.max_elements, n / 2);
  } catch (const msgpack::size_overflow& e) {  // str, bin, ext: longer than the frame
    return DataLoss(std::string("frame declares a value longer than itself (") + e.what() + ")");
  } catch (const msgpack::parse_error& e) {
    return DataLoss(std::string("malformed msgpack: ") + e.what());
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory decoding a frame of " + std::to_string(n) + " bytes");
  } catch (const std::exception& e) {
    return DataLoss(std::string("cannot decode frame: ") + e.what());
  }
  if (offset != n) {
    return DataLoss(std::to_string(n - offset) + " trailing bytes after the message");
  }
  const msgpack::object& top = handle.get();
  if (top.type != msgpack::type::ARRAY || top.via.array.size != 3) {
    return DataLoss(
        std::string("frame is not a [version, type, body] array (got ") +
        wire::ObjectTypeName(top) +
        (top.type == msgpack::type::ARRAY ? " of " + std::to_string(top.via.array.size) : "") +
        ")");
  }
  const msgpack::object& version = top.via.array.ptr[0];
  const msgpack::object& type = top.via.array.ptr[1];
  if (version.type != msgpack::type::POSITIVE_INTEGER) {
    return DataLoss(std::string("protocol version is ") + wire::ObjectTypeName(version) +
                    ", not an integer");
  }
  if (version.via.u64 != kProtocolVersion) {
    return FailedPrecondition("peer speaks protocol version " + std::to_string(version.via.u64) +
                              ", this build speaks version " + std::to_string(kProtocolVersion));
  }
  if (type.type != msgpack::type::POSITIVE_INTEGER) {
    return DataLoss(std::string("message type is ") + wire::ObjectTypeName(type) +
                    ", not an integer");
  }
  return DecodeByType(type.via.u64, top.via.array.ptr[2]);
}

}  // namespace skipjoin::protocol
