// `skipjoin submit`: one request over the native client protocol. The
// completion text goes to stdout (streamed as it arrives with --stream, at the
// end otherwise); usage and timing go to stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "client/cluster_client.h"
#include "client/commands.h"
#include "client/logprobs_text.h"
#include "common/flags.h"
#include "common/model_file.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::cli {
namespace {

constexpr const char* kUsage =
    "usage: skipjoin submit [--coordinator tcp://HOST:PORT | --config FILE [--set k=v ...]]\n"
    "                       (--prompt TEXT | --chat TEXT) [--stream] [sampling flags]\n"
    "                       [--priority N] [--max-tokens N] [--logprobs N]\n"
    "\n"
    "Sends one request to a running cluster over the native client protocol and\n"
    "prints the completion to stdout; usage goes to stderr. Without --coordinator\n"
    "or --config the address comes from cluster_configs/local-cpu.yaml. With\n"
    "--logprobs N a table follows the completion: per token its text, logprob and\n"
    "the N most likely alternatives (token texts come from --tokenizer, else from\n"
    "the config's model.path when that file is on this machine).\n"
    "\n"
    "A coordinator that does not answer within --connect-timeout-ms fails the\n"
    "command at once; a running request is waited for as long as the coordinator\n"
    "answers (it is asked every 5 s when no tokens come).";

// Token texts for the logprobs table: from the model's tokenizer when its file
// is at hand, else none (the table shows ids). Says why on stderr.
struct TokenTexts {
  std::unique_ptr<ModelFile> file;
  std::unique_ptr<Tokenizer> tokenizer;

  void Load(const std::string& path, bool explicit_path) {
    if (path.empty() || (!explicit_path && access(path.c_str(), R_OK) != 0)) {
      std::fprintf(stderr,
                   "skipjoin submit: no model file here to read token texts from; tokens show as "
                   "ids (pass --tokenizer MODEL_FILE)\n");
      return;
    }
    auto f = ModelFile::Open(path);
    auto t =
        f.ok() ? Tokenizer::FromModelFile(**f) : Result<std::unique_ptr<Tokenizer>>(f.status());
    if (!t.ok()) {
      std::fprintf(stderr, "skipjoin submit: token texts: %s; tokens show as ids\n",
                   t.status().message().c_str());
      return;
    }
    file = std::move(f).value();
    tokenizer = std::move(t).value();
  }
  TokenTextFn Fn() const {
    if (!tokenizer) return nullptr;
    return [t = tokenizer.get()](int32_t id) {
      return id >= 0 && id < t->vocab_size() ? t->TokenPiece(id) : "#" + std::to_string(id);
    };
  }
};

}  // namespace

int SubmitMain(const std::vector<std::string>& raw_args) {
  ClientFlags client_flags;
  std::vector<std::string> args;
  client_flags.sets = TakeConfigOverrides(raw_args, &args);
  std::string prompt, chat, system, stop, tokenizer_path;
  bool stream = false, show_ids = false;
  int64_t max_tokens = 0, top_k = 0, seed = -1, priority = 0, logprobs = 0, timeout_ms = 30000;
  double temperature = 0.0, top_p = 1.0, min_p = 0.0;
  FlagSet flags(kUsage);
  AddClientFlags(&flags, &client_flags);
  flags.String("prompt", &prompt, "prompt text (a completion)");
  flags.String("chat", &chat, "a user message; the coordinator applies the chat template");
  flags.String("system", &system, "system message for --chat");
  flags.Bool("stream", &stream, "print tokens as they arrive");
  flags.Int("max-tokens", &max_tokens, "tokens to generate at most; 0 takes the cluster default");
  flags.Double("temperature", &temperature, "sampling temperature; 0 is greedy");
  flags.Double("top-p", &top_p, "nucleus sampling mass in (0, 1]");
  flags.Int("top-k", &top_k, "sample among the k most likely tokens; 0 is off");
  flags.Double("min-p", &min_p, "drop tokens below min-p times the top probability; 0 is off");
  flags.Int("seed", &seed, "seed of the sampling draws; -1 lets the cluster pick");
  flags.Int("logprobs", &logprobs, "print each token's logprob and N alternatives (0..20)");
  flags.String("tokenizer", &tokenizer_path,
               "model file to read token texts from for --logprobs (default: the config's "
               "model.path; give it when the cluster was launched with --model)");
  flags.String("stop", &stop, "a stop string");
  flags.Int("priority", &priority, "higher runs first among equals");
  flags.Int("timeout-ms", &timeout_ms,
            "give up when the coordinator answers nothing, not even a probe, this long, ms");
  flags.Bool("show-ids", &show_ids, "print the generated token ids to stderr");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin submit: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s%s", flags.Help().c_str(), kSetFlagHelp);
    return 0;
  }
  if (prompt.empty() == chat.empty()) {
    std::fprintf(stderr, "skipjoin submit: give exactly one of --prompt and --chat (see --help)\n");
    return 2;
  }
  if (temperature < 0 || top_p <= 0 || top_p > 1 || min_p < 0 || min_p > 1 || top_k < 0 ||
      max_tokens < 0 || logprobs < 0 || logprobs > 20 || timeout_ms <= 0 ||
      client_flags.connect_timeout_ms <= 0) {
    std::fprintf(
        stderr,
        "skipjoin submit: need temperature >= 0, 0 < top-p <= 1, 0 <= min-p <= 1, top-k >= 0, "
        "max-tokens >= 0, 0 <= logprobs <= 20, timeout-ms > 0, connect-timeout-ms > 0\n");
    return 2;
  }
  auto endpoint = ResolveClientTarget(client_flags);
  if (!endpoint.ok()) {
    std::fprintf(stderr, "skipjoin submit: %s\n", endpoint.status().message().c_str());
    return 2;
  }
  auto client = NativeClient::Connect(*endpoint);
  if (!client.ok()) {
    std::fprintf(stderr, "skipjoin submit: %s\n", client.status().ToString().c_str());
    return 1;
  }
  TokenTexts texts;
  if (logprobs > 0) {
    texts.Load(tokenizer_path.empty() ? endpoint->model_path : tokenizer_path,
               !tokenizer_path.empty());
  }
  WaitOptions wait;
  wait.connect = std::chrono::milliseconds(client_flags.connect_timeout_ms);
  wait.silence = std::chrono::milliseconds(timeout_ms);

  protocol::SubmitRequest req;
  req.client_request_id = "submit-" + std::to_string(getpid());
  if (!prompt.empty()) {
    req.prompt_text = prompt;
  } else {
    std::vector<protocol::ChatMessage> messages;
    if (!system.empty()) messages.push_back({"system", system});
    messages.push_back({"user", chat});
    req.messages = std::move(messages);
  }
  req.sampling.temperature = static_cast<float>(temperature);
  req.sampling.top_p = static_cast<float>(top_p);
  req.sampling.top_k = static_cast<int32_t>(top_k);
  req.sampling.min_p = static_cast<float>(min_p);
  if (seed >= 0) req.sampling.seed = static_cast<uint64_t>(seed);
  req.sampling.logprobs = static_cast<int32_t>(logprobs);
  req.max_tokens = static_cast<uint32_t>(max_tokens);
  if (!stop.empty()) req.stop.push_back(stop);
  req.priority = static_cast<int32_t>(priority);
  req.stream = stream;

  const auto start = std::chrono::steady_clock::now();
  double first_token_s = -1;
  std::string text;
  std::vector<int32_t> ids;
  std::vector<protocol::TokenLogprobs> token_logprobs;
  protocol::TokenChunk last;
  Status st = (*client)->Submit(
      req,
      [&](const protocol::TokenChunk& chunk) {
        if (first_token_s < 0 && !chunk.token_ids.empty()) {
          first_token_s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
        ids.insert(ids.end(), chunk.token_ids.begin(), chunk.token_ids.end());
        token_logprobs.insert(token_logprobs.end(), chunk.logprobs.begin(), chunk.logprobs.end());
        if (stream) {
          std::fwrite(chunk.text_delta.data(), 1, chunk.text_delta.size(), stdout);
          std::fflush(stdout);
        } else {
          text += chunk.text_delta;
        }
        last = chunk;
      },
      wait);
  if (!stream) std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() || stream) std::printf("\n");
  if (logprobs > 0 && !token_logprobs.empty()) {
    std::printf("\nlogprobs (%lld alternatives per token):\n%s", static_cast<long long>(logprobs),
                FormatLogprobsTable(token_logprobs, texts.Fn()).c_str());
  }
  std::fflush(stdout);
  if (!st.ok()) {
    std::fprintf(stderr, "skipjoin submit: %s\n", st.ToString().c_str());
    return 1;
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (show_ids) {
    std::fprintf(stderr, "ids:");
    for (int32_t id : ids) std::fprintf(stderr, " %d", id);
    std::fprintf(stderr, "\n");
  }
  const protocol::Usage usage = last.usage.value_or(protocol::Usage{});
  std::fprintf(stderr,
               "finish_reason=%s prompt_tokens=%u completion_tokens=%u time_to_first_token=%.3fs "
               "total=%.3fs\n",
               protocol::FinishReasonName(last.finish_reason), usage.prompt_tokens,
               usage.completion_tokens, first_token_s < 0 ? 0.0 : first_token_s, total);
  return 0;
}

}  // namespace skipjoin::cli
