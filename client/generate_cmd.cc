// `skipjoin generate`: load a model in this process, run one prompt, stream the
// text to stdout. Progress and speed go to stderr so stdout is just the text.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "client/commands.h"
#include "common/flags.h"
#include "common/model_file.h"
#include "coordinator/tokenizer/chat_template.h"
#include "coordinator/tokenizer/detokenizer.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "worker/local_runner.h"

namespace skipjoin::cli {
namespace {

constexpr const char* kUsage =
    "usage: skipjoin generate [--model PATH] --prompt TEXT [--chat] [sampling flags]\n"
    "\n"
    "Loads the model in this process (no cluster), runs the prompt and streams the\n"
    "completion to stdout. Load progress and tokens/s go to stderr. With --chat the\n"
    "prompt is a user message formatted with the model's chat template.";

void ProgressBar(int64_t done, int64_t total) {
  if (!isatty(STDERR_FILENO) && done != total) return;
  const int width = 30;
  const int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
  std::fprintf(stderr, "\rloading [%s%s] %lld/%lld tensors", std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
               static_cast<long long>(total));
  if (done == total) std::fprintf(stderr, "\n");
}

}  // namespace

int GenerateMain(const std::vector<std::string>& args) {
  std::string model = DefaultModelPath(), prompt, system, prompt_ids, device = "cpu";
  bool chat = false, ignore_eos = false, show_ids = false;
  int64_t max_tokens = 128, top_k = 0, seed = 0, threads = 0, kv_mib = 256, chunk = 512;
  double temperature = 0.0, top_p = 1.0, min_p = 0.0;
  FlagSet flags(kUsage);
  flags.String("model", &model, "model: a .gguf file or a Hugging Face directory");
  flags.String("prompt", &prompt, "the prompt text (required)");
  flags.String("prompt-ids", &prompt_ids, "the prompt as comma-separated token ids (instead of --prompt)");
  flags.Bool("chat", &chat, "format the prompt as a user message with the chat template");
  flags.String("system", &system, "system message for --chat (else the template's default)");
  flags.Int("max-tokens", &max_tokens, "tokens to generate at most");
  flags.Double("temperature", &temperature, "sampling temperature; 0 is greedy");
  flags.Double("top-p", &top_p, "nucleus sampling mass in (0, 1]");
  flags.Int("top-k", &top_k, "sample among the k most likely tokens; 0 is off");
  flags.Double("min-p", &min_p, "drop tokens below min-p times the top probability; 0 is off");
  flags.Int("seed", &seed, "seed of the sampling draws");
  flags.Bool("ignore-eos", &ignore_eos, "keep generating past end-of-sequence tokens");
  flags.String("device", &device, "cpu, or cuda:N in a build with the CUDA backend");
  flags.Int("threads", &threads, "CPU threads; 0 uses all cores");
  flags.Int("kv-cache-mib", &kv_mib, "KV cache size in MiB");
  flags.Int("prefill-chunk", &chunk, "prompt tokens per step");
  flags.Bool("show-ids", &show_ids, "print the prompt and generated token ids to stderr");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin generate: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return 0;
  }
  if (prompt.empty() && !flags.positional().empty()) prompt = flags.positional()[0];
  if (prompt.empty() && prompt_ids.empty()) {
    std::fprintf(stderr, "skipjoin generate: --prompt (or --prompt-ids) is required (see --help)\n");
    return 2;
  }
  if (temperature < 0 || top_p <= 0 || top_p > 1 || min_p < 0 || min_p > 1 || top_k < 0 || max_tokens < 0) {
    std::fprintf(stderr,
                 "skipjoin generate: need temperature >= 0, 0 < top-p <= 1, 0 <= min-p <= 1, "
                 "top-k >= 0, max-tokens >= 0\n");
    return 2;
  }

  auto file = ModelFile::Open(model);
  if (!file.ok()) {
    std::fprintf(stderr, "skipjoin generate: %s\n", file.status().message().c_str());
    if (model == DefaultModelPath()) {
      std::fprintf(stderr, "fetch the default model with scripts/fetch_model.sh\n");
    }
    return 1;
  }
  auto tok = Tokenizer::FromModelFile(**file);
  if (!tok.ok()) {
    std::fprintf(stderr, "skipjoin generate: tokenizer: %s\n", tok.status().message().c_str());
    return 1;
  }
  const Tokenizer& tokenizer = **tok;
  std::vector<int32_t> ids;
  if (!prompt_ids.empty()) {
    size_t pos = 0;
    while (pos < prompt_ids.size()) {
      size_t end = prompt_ids.find(',', pos);
      if (end == std::string::npos) end = prompt_ids.size();
      const std::string item = prompt_ids.substr(pos, end - pos);
      char* stop = nullptr;
      const long v = std::strtol(item.c_str(), &stop, 10);
      if (item.empty() || *stop != '\0' || v < 0 || v >= tokenizer.vocab_size()) {
        std::fprintf(stderr, "skipjoin generate: --prompt-ids: '%s' is not a token id in [0, %d)\n",
                     item.c_str(), tokenizer.vocab_size());
        return 2;
      }
      ids.push_back(static_cast<int32_t>(v));
      pos = end + 1;
    }
  } else if (chat) {
    std::vector<ChatMessage> messages;
    if (!system.empty()) messages.push_back({"system", system});
    messages.push_back({"user", prompt});
    ChatTemplate tmpl = ChatTemplate::FromTemplateText(tokenizer.chat_template());
    auto text = tmpl.Apply(messages, /*add_generation_prompt=*/true);
    if (!text.ok()) {
      std::fprintf(stderr, "skipjoin generate: chat template: %s\n", text.status().message().c_str());
      return 1;
    }
    ids = tokenizer.Encode(*text, /*add_special=*/true, /*parse_special=*/true);
  } else {
    ids = tokenizer.Encode(prompt, /*add_special=*/true, /*parse_special=*/false);
  }
  if (ids.empty()) {
    std::fprintf(stderr, "skipjoin generate: the prompt encodes to no tokens\n");
    return 2;
  }

  EngineOptions opts;
  opts.model_path = model;
  opts.num_threads = static_cast<int>(threads);
  opts.device = device;
  opts.kv_cache_bytes = kv_mib << 20;
  auto engine = Engine::Create(opts, nullptr, [](int64_t d, int64_t t, const std::string&) { ProgressBar(d, t); });
  if (!engine.ok()) {
    std::fprintf(stderr, "\nskipjoin generate: %s\n", engine.status().message().c_str());
    return 1;
  }
  const ModelConfig& cfg = (*engine)->config();
  std::fprintf(stderr, "model %s (%s, %lld layers, %lld MiB of weights) loaded in %.2f s\n",
               cfg.name.empty() ? cfg.architecture.c_str() : cfg.name.c_str(), (*file)->format(),
               static_cast<long long>(cfg.num_layers),
               static_cast<long long>((*engine)->weight_bytes() >> 20), (*engine)->load_seconds());
  file->reset();  // the engine holds its own mapping

  LocalRequest req;
  req.prompt = ids;
  req.max_new_tokens = static_cast<int32_t>(
      std::min<int64_t>(max_tokens, cfg.max_context - static_cast<int64_t>(ids.size())));
  if (req.max_new_tokens <= 0) {
    std::fprintf(stderr, "skipjoin generate: the prompt (%zu tokens) fills the context window (%lld)\n",
                 ids.size(), static_cast<long long>(cfg.max_context));
    return 2;
  }
  req.sampling.temperature = static_cast<float>(temperature);
  req.sampling.top_p = static_cast<float>(top_p);
  req.sampling.top_k = static_cast<int32_t>(top_k);
  req.sampling.min_p = static_cast<float>(min_p);
  req.sampling.seed = static_cast<uint64_t>(seed);
  if (!ignore_eos) req.stop_ids = tokenizer.StopTokenIds();

  IncrementalDetokenizer detok(tokenizer, /*skip_special=*/true);
  LocalRunnerOptions ropts;
  ropts.prefill_chunk = static_cast<int32_t>(std::max<int64_t>(1, chunk));
  LocalRunner runner(engine->get(), ropts);
  LocalRunStats stats;
  std::vector<int32_t> generated;
  auto res = runner.Run(
      {req},
      [&](size_t, int32_t token, float) {
        generated.push_back(token);
        if (!ignore_eos && std::find(req.stop_ids.begin(), req.stop_ids.end(), token) != req.stop_ids.end()) return;
        std::string piece = detok.Push(token);
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      },
      &stats);
  std::string rest = detok.Flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::printf("\n");
  if (!res.ok()) {
    std::fprintf(stderr, "skipjoin generate: %s\n", res.status().message().c_str());
    return 1;
  }
  if (show_ids) {
    std::fprintf(stderr, "prompt ids:");
    for (int32_t id : ids) std::fprintf(stderr, " %d", id);
    std::fprintf(stderr, "\ngenerated ids:");
    for (int32_t id : generated) std::fprintf(stderr, " %d", id);
    std::fprintf(stderr, "\n");
  }
  std::fprintf(stderr, "prompt: %lld tokens, %.1f tokens/s; generated: %lld tokens, %.1f tokens/s\n",
               static_cast<long long>(stats.prefill_tokens),
               stats.prefill_seconds > 0 ? stats.prefill_tokens / stats.prefill_seconds : 0.0,
               static_cast<long long>(generated.size()),
               stats.decode_seconds > 0 ? stats.decode_tokens / stats.decode_seconds : 0.0);
  return 0;
}

}  // namespace skipjoin::cli
