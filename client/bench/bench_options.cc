#include "client/bench/bench_options.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/flags.h"

namespace skipjoin::bench {

namespace {

constexpr const char* kUsage =
    "usage: skipjoin bench serve [--base-url URL] [--dataset random|pareto|fixed] [flags]\n"
    "\n"
    "Load generator for any OpenAI-compatible server (skipjoin, vLLM, SGLang, llama.cpp,\n"
    "...), with the semantics of `vllm bench serve`. It builds a seeded synthetic\n"
    "dataset, sends every request as a streaming POST (stream: true,\n"
    "stream_options.include_usage) at gamma-distributed arrival times, and reports:\n"
    "  TTFT  time to first token: send -> first chunk with generated text (ms)\n"
    "  TPOT  time per output token after the first: (E2EL - TTFT) / (tokens - 1) (ms)\n"
    "  ITL   inter-token latency: gaps between consecutive content chunks (ms)\n"
    "  E2EL  end-to-end latency: send -> end of the stream (ms)\n"
    "plus request, output-token and total-token throughput over the benchmark\n"
    "duration (first send to last completion), and with --goodput the rate of\n"
    "requests meeting every given objective. Output token counts come from the\n"
    "usage chunk, else from the number of content chunks.\n"
    "\n"
    "Before the run one short test request checks the URL, model and prompt format;\n"
    "an unreachable server fails within 5 s. Progress goes to stderr, the result\n"
    "block to stdout, and --json FILE writes the results with one record per\n"
    "request. Exits 0 when at least one request succeeded, 1 when none did or the\n"
    "server is unusable, 2 for bad flags.\n"
    "\n"
    "Datasets (seeded by --seed; lengths in tokens):\n"
    "  random  input and output lengths uniform in [len*(1-r), len*(1+r)], r = --range-ratio\n"
    "  pareto  inputs as random; outputs Pareto(--pareto-alpha), clamped to\n"
    "          [1, --max-output-len], scale solved so the clamped mean is --output-len\n"
    "  fixed   exactly --input-len in and --output-len out\n"
    "Prompts are random token ids in [--vocab-low, --vocab-high] (--prompt-format ids),\n"
    "or random English words, about one token each (--prompt-format text; the default\n"
    "for a .../chat/completions endpoint, which takes text only).\n"
    "\n"
    "Example:\n"
    "  skipjoin bench serve --base-url http://127.0.0.1:8000 --num-prompts 200 \\\n"
    "      --request-rate 4 --input-len 256 --output-len 64 --ignore-eos \\\n"
    "      --goodput ttft:500 tpot:50 --json bench.json";

// vLLM spells `--goodput ttft:500 tpot:50`: the items are separate words.
// FlagSet takes one value per flag, so the words after --goodput that look
// like NAME:VALUE are joined into its value first.
std::vector<std::string> JoinGoodputWords(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    out.push_back(args[i]);
    const bool bare = args[i] == "--goodput";
    if (!bare && args[i].rfind("--goodput=", 0) != 0) continue;
    std::string value = bare ? "" : args[i].substr(10);
    size_t j = i + 1;
    // The bare flag's first word is its value whatever it looks like (unless
    // it is the next flag), so a typo gets the goodput error rather than
    // "unexpected argument".
    if (bare && j < args.size() && args[j].rfind("--", 0) != 0) value = args[j++];
    while (j < args.size() && args[j].rfind("--", 0) != 0 &&
           args[j].find(':') != std::string::npos) {
      value += " " + args[j++];
    }
    out.back() = "--goodput=" + value;
    i = j - 1;
  }
  return out;
}

}  // namespace

Result<ParsedBenchArgs> ParseBenchServeArgs(const std::vector<std::string>& raw_args) {
  ParsedBenchArgs parsed;
  BenchServeOptions& o = parsed.options;
  DatasetOptions& d = o.dataset;
  std::string base_url = "http://127.0.0.1:8000", dataset = "random", prompt_format = "ids",
              goodput;
  int64_t num_prompts = d.num_prompts, input_len = d.input_len, output_len = d.output_len,
          max_output_len = d.max_output_len, vocab_low = d.vocab_low, vocab_high = d.vocab_high,
          seed = 0, max_concurrency = 0;
  double request_rate = std::numeric_limits<double>::infinity(), burstiness = 1.0,
         range_ratio = d.range_ratio, pareto_alpha = d.pareto_alpha, timeout_s = o.timeout_s;
  bool no_progress = false;

  FlagSet flags(kUsage);
  flags.String("base-url", &base_url, "server address, http://HOST[:PORT][/PREFIX]");
  flags.String("endpoint", &o.endpoint,
               "API path after the base URL: /v1/completions or /v1/chat/completions");
  flags.String("model", &o.model,
               "model name sent with each request (default: the first of GET /v1/models)");
  flags.Int("num-prompts", &num_prompts, "number of requests to send");
  flags.Double("request-rate", &request_rate,
               "mean arrival rate in requests/s; inf sends every request at once");
  flags.Double("burstiness", &burstiness,
               "gamma shape of the arrival gaps: 1 = Poisson, < 1 burstier, > 1 steadier "
               "(gap CV = 1/sqrt(B))");
  flags.Int("max-concurrency", &max_concurrency,
            "requests in flight at most (later arrivals wait); 0 = no limit");
  flags.Int("seed", &seed, "seed of the dataset and of the arrival times");
  flags.String("dataset", &dataset, "random, pareto or fixed (see above)");
  flags.Int("input-len", &input_len, "prompt length in tokens (the mean for random / pareto)");
  flags.Int("output-len", &output_len,
            "tokens to generate per request (max_tokens; the mean for random / pareto)");
  flags.Double("range-ratio", &range_ratio,
               "random / pareto: lengths uniform in [len*(1-r), len*(1+r)], 0 <= r < 1");
  flags.Double("pareto-alpha", &pareto_alpha,
               "pareto: tail index of the output lengths (> 0; smaller = heavier tail)");
  flags.Int("max-output-len", &max_output_len,
            "pareto: output lengths are clamped to at most this many tokens");
  flags.String("prompt-format", &prompt_format,
               "ids (a list of token ids) or text (random words); a chat endpoint defaults "
               "to text");
  flags.Int("vocab-low", &vocab_low, "ids: smallest token id used");
  flags.Int("vocab-high", &vocab_high, "ids: largest token id used (inclusive)");
  flags.Bool("ignore-eos", &o.ignore_eos,
             "send ignore_eos: true, so each request generates exactly its output length");
  flags.String("goodput", &goodput,
               "SLOs in ms, any of ttft:MS tpot:MS e2el:MS; reports the rate of requests "
               "meeting all of them");
  flags.String("json", &o.json_path, "write all results and per-request records to this file");
  flags.String("api-key", &o.api_key,
               "sent as Authorization: Bearer KEY (default: $OPENAI_API_KEY if set)");
  flags.Double("timeout", &timeout_s,
               "seconds one request may take, connect to end of stream; 0 = no limit");
  flags.Bool("no-progress", &no_progress, "do not draw the progress bar on stderr");

  SJ_RETURN_IF_ERROR(flags.Parse(JoinGoodputWords(raw_args)));
  if (flags.help_requested()) {
    parsed.help = true;
    parsed.help_text = flags.Help();
    return parsed;
  }
  if (!flags.positional().empty()) {
    return InvalidArgument("unexpected argument '" + flags.positional()[0] + "' (see --help)");
  }

  SJ_ASSIGN_OR_RETURN(o.url, ParseBaseUrl(base_url));
  if (o.endpoint.empty() || o.endpoint[0] != '/') {
    return InvalidArgument("--endpoint must be a path starting with '/', got '" + o.endpoint + "'");
  }
  o.flavor = FlavorForEndpoint(o.endpoint);
  SJ_ASSIGN_OR_RETURN(d.kind, ParseDatasetKind(dataset));
  if (o.flavor == ApiFlavor::kChat && !flags.WasSet("prompt-format")) prompt_format = "text";
  SJ_ASSIGN_OR_RETURN(d.prompt_format, ParsePromptFormat(prompt_format));
  if (o.flavor == ApiFlavor::kChat && d.prompt_format == PromptFormat::kTokenIds) {
    return InvalidArgument("--prompt-format ids does not work with the chat endpoint '" +
                           o.endpoint + "' (messages are text); use --prompt-format text");
  }
  if (seed < 0) return InvalidArgument("--seed must be >= 0");
  d.num_prompts = num_prompts;
  d.input_len = input_len;
  d.output_len = output_len;
  d.range_ratio = range_ratio;
  d.pareto_alpha = pareto_alpha;
  d.max_output_len = max_output_len;
  d.vocab_low = vocab_low;
  d.vocab_high = vocab_high;
  d.seed = static_cast<uint64_t>(seed);
  SJ_RETURN_IF_ERROR(ValidateDatasetOptions(d));

  o.arrivals.request_rate = request_rate;
  o.arrivals.burstiness = burstiness;
  o.arrivals.seed = static_cast<uint64_t>(seed);
  SJ_RETURN_IF_ERROR(ValidateArrivalOptions(o.arrivals));

  if (max_concurrency < 0) return InvalidArgument("--max-concurrency must be >= 0 (0 = no limit)");
  o.max_concurrency = max_concurrency;
  if (!std::isfinite(timeout_s) || timeout_s < 0) {
    return InvalidArgument("--timeout must be a number of seconds >= 0 (0 = no limit)");
  }
  o.timeout_s = timeout_s;
  if (flags.WasSet("goodput")) {
    SJ_ASSIGN_OR_RETURN(o.goodput, ParseGoodput(goodput));
  }
  if (!flags.WasSet("api-key")) {
    if (const char* key = std::getenv("OPENAI_API_KEY"); key != nullptr) o.api_key = key;
  }
  o.progress = !no_progress;
  return parsed;
}

}  // namespace skipjoin::bench
