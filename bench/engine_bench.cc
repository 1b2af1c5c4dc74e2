// engine_bench: prefill and decode throughput of the engine in this process.
// For each batch size B: B sequences of --prompt-len tokens are prefilled
// together (one step while the token budget allows), then decoded for
// --decode-steps steps in one batch. Prints one JSON object per line:
//   {"engine":"skipjoin","batch":B,"prefill_tok_s":...,"decode_tok_s":...,...}
// Timings are wall-clock over the steps only (not loading), best of --repeat.
// For the memory roofline each line also carries decode_step_s (one decode
// step of the best run) and decode_bytes_per_step: the weights (read once a
// step) plus the K/V bytes attention reads at the run's mean context; their
// ratio is decode_gb_s, to set against the device's measured copy bandwidth.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/flags.h"
#include "worker/local_runner.h"

using namespace skipjoin;

int main(int argc, char** argv) {
  std::string model = DefaultModelPath(), batches = "1,8,32", weight_format = "auto", device = "cpu";
  int64_t prompt_len = 128, decode_steps = 64, threads = 0, repeat = 3;
  bool profile = false;
  FlagSet flags("usage: engine_bench [--model PATH] [--batches 1,8,32] [--prompt-len N] [--decode-steps N]");
  flags.String("model", &model, "model file or directory");
  flags.String("device", &device, "cpu, or cuda:N in a build with the CUDA backend");
  flags.String("batches", &batches, "comma-separated batch sizes");
  flags.Int("prompt-len", &prompt_len, "prompt tokens per sequence");
  flags.Int("decode-steps", &decode_steps, "decode steps per run");
  flags.Int("threads", &threads, "CPU threads; 0 uses all cores");
  flags.Int("repeat", &repeat, "runs per batch size; the best is reported");
  flags.String("weight-format", &weight_format, "auto (keep quantized blocks) or dense");
  flags.Bool("profile", &profile, "also print per-op time shares of one extra run per batch size");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status st = flags.Parse(args); !st.ok() || flags.help_requested()) {
    std::fprintf(stderr, "%s%s\n", st.ok() ? "" : (st.message() + "\n").c_str(), flags.Help().c_str());
    return st.ok() ? 0 : 2;
  }
  std::vector<int> sizes;
  std::stringstream ss(batches);
  for (std::string item; std::getline(ss, item, ',');) sizes.push_back(std::stoi(item));
  const int max_b = *std::max_element(sizes.begin(), sizes.end());

  EngineOptions o;
  o.model_path = model;
  o.device = device;
  o.num_threads = static_cast<int>(threads);
  o.weight_format = weight_format;
  o.block_size = 16;
  o.num_device_blocks = static_cast<int32_t>(max_b * ((prompt_len + decode_steps + 15) / 16 + 1));
  o.max_step_tokens = static_cast<int32_t>(std::max<int64_t>(4096, max_b * prompt_len));
  auto engine = Engine::Create(o, nullptr);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  LocalRunnerOptions ro;
  ro.prefill_chunk = static_cast<int32_t>(prompt_len);
  LocalRunner runner(engine->get(), ro);
  for (int b : sizes) {
    std::vector<LocalRequest> reqs(b);
    for (int i = 0; i < b; ++i) {
      reqs[i].max_new_tokens = static_cast<int32_t>(decode_steps + 1);  // first token comes from prefill
      for (int64_t t = 0; t < prompt_len; ++t) reqs[i].prompt.push_back(static_cast<int32_t>(100 + (t * 7 + i * 13) % 20000));
    }
    double best_prefill = 0, best_decode = 0, best_step_s = 0, best_enqueue_s = 0;
    for (int r = 0; r < repeat; ++r) {
      LocalRunStats st;
      auto res = runner.Run(reqs, nullptr, &st);
      if (!res.ok()) {
        std::fprintf(stderr, "engine_bench: %s\n", res.status().ToString().c_str());
        return 1;
      }
      best_prefill = std::max(best_prefill, st.prefill_tokens / st.prefill_seconds);
      if (st.decode_tokens / st.decode_seconds > best_decode) {
        best_decode = st.decode_tokens / st.decode_seconds;
        best_step_s = st.decode_seconds / static_cast<double>(decode_steps);
        best_enqueue_s = st.decode_enqueue_seconds / static_cast<double>(decode_steps);
      }
    }
    // Decode step k attends over prompt_len + k + 1 keys, k = 0 .. decode_steps - 1.
    const double mean_context = static_cast<double>(prompt_len) + static_cast<double>(decode_steps + 1) / 2.0;
    const double step_bytes = static_cast<double>((*engine)->weight_bytes()) +
                              b * mean_context * static_cast<double>((*engine)->kv_bytes_per_token());
    std::printf(
        "{\"engine\":\"skipjoin\",\"batch\":%d,\"prompt_len\":%lld,\"decode_steps\":%lld,"
        "\"prefill_tok_s\":%.1f,\"decode_tok_s\":%.1f,\"weight_bytes\":%lld,\"weight_format\":\"%s\","
        "\"device\":\"%s\",\"decode_step_s\":%.6f,\"decode_enqueue_s\":%.6f,"
        "\"decode_bytes_per_step\":%.0f,\"decode_gb_s\":%.2f}\n",
        b, static_cast<long long>(prompt_len), static_cast<long long>(decode_steps), best_prefill, best_decode,
        static_cast<long long>((*engine)->weight_bytes()), weight_format.c_str(), device.c_str(), best_step_s,
        best_enqueue_s, step_bytes, best_step_s > 0 ? step_bytes / best_step_s / 1e9 : 0.0);
    std::fflush(stdout);
  }
  if (profile) {
    // A separate engine: per-op timing synchronizes after every op.
    o.profile = true;
    for (int b : sizes) {
      auto pe = Engine::Create(o, nullptr);
      if (!pe.ok()) return 1;
      LocalRunner prunner(pe->get(), ro);
      std::vector<LocalRequest> reqs(b);
      for (int i = 0; i < b; ++i) {
        reqs[i].max_new_tokens = static_cast<int32_t>(decode_steps + 1);
        for (int64_t t = 0; t < prompt_len; ++t) reqs[i].prompt.push_back(static_cast<int32_t>(100 + (t * 7 + i * 13) % 20000));
      }
      if (!prunner.Run(reqs).ok()) return 1;
      double total = 0;
      for (const auto& [name, secs] : (*pe)->OpProfile()) total += secs;
      std::printf("{\"engine\":\"skipjoin\",\"batch\":%d,\"profile_share\":{", b);
      bool first = true;
      for (const auto& [name, secs] : (*pe)->OpProfile()) {
        std::printf("%s\"%s\":%.3f", first ? "" : ",", name.c_str(), total > 0 ? secs / total : 0.0);
        first = false;
      }
      std::printf("},\"profiled_seconds\":%.3f}\n", total);
    }
  }
  return 0;
}
