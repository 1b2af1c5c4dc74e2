#include "client/bench/bench_serve.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/bench/arrivals.h"
#include "client/bench/bench_options.h"
#include "client/bench/dataset.h"
#include "client/bench/http_client.h"
#include "client/bench/load_runner.h"
#include "client/bench/report.h"
#include "client/bench/stats.h"

namespace skipjoin::cli {

namespace {

using bench::BenchServeOptions;
using nlohmann::json;

constexpr const char* kBenchUsage =
    "usage: skipjoin bench SUBCOMMAND [flags]   (skipjoin bench SUBCOMMAND --help)\n"
    "\n"
    "subcommands:\n"
    "  serve       load-test an OpenAI-compatible server (like `vllm bench serve`):\n"
    "              TTFT, TPOT, ITL, E2EL, throughput and goodput\n";

// An unreachable server fails the set-up calls within this.
constexpr std::chrono::seconds kProbeTimeout{5};
// The test request asks for at most this many tokens: it checks the URL,
// model and prompt format, not the server's speed.
constexpr int64_t kTestRequestMaxTokens = 8;

void Error(const std::string& message) {
  std::fprintf(stderr, "skipjoin bench serve: %s\n", message.c_str());
}

// Many requests in flight need as many sockets: lift the soft descriptor
// limit to the hard one.
void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::chrono::milliseconds RequestTimeout(const BenchServeOptions& o) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(o.timeout_s * 1000)));
}

// GET /v1/models: reachability, and the model when --model is not given.
Result<std::string> DiscoverModel(boost::asio::io_context& io, const bench::HttpTarget& target,
                                  const std::string& model) {
  const std::string url = target.url.ToString("/v1/models");
  auto reply = bench::HttpGet(io, target, "/v1/models", kProbeTimeout);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    const std::string why = "GET " + url + " returned HTTP " + std::to_string(reply->status) +
                            ": " + bench::ErrorMessageFromBody(reply->body);
    if (!model.empty()) {
      std::fprintf(stderr, "skipjoin bench serve: warning: %s\n", why.c_str());
      return model;
    }
    return Unavailable(why + " (pass --model to skip the lookup)");
  }
  if (!model.empty()) return model;
  const json body = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.contains("data") && body["data"].is_array() &&
      !body["data"].empty() && body["data"][0].is_object() && body["data"][0].contains("id") &&
      body["data"][0]["id"].is_string()) {
    return body["data"][0]["id"].get<std::string>();
  }
  return Unavailable("GET " + url + " listed no model (expected {\"data\": [{\"id\": ...}]}); " +
                     "pass --model");
}

// One short request before the run, so that a wrong endpoint, model or
// prompt format is one clear error instead of N failed requests.
Status TestRequest(boost::asio::io_context& io, const bench::HttpTarget& target,
                   const BenchServeOptions& o, const std::string& model,
                   const bench::BenchPrompt& first) {
  bench::BenchPrompt prompt = first;
  prompt.output_len = std::min(prompt.output_len, kTestRequestMaxTokens);
  bench::StreamRequestSpec spec;
  spec.path = o.endpoint;
  spec.body = bench::BuildRequestBody(prompt, {o.flavor, model, o.ignore_eos});
  spec.flavor = o.flavor;
  spec.timeout = RequestTimeout(o);
  spec.bench_start = std::chrono::steady_clock::now();
  bench::RequestRecord result;
  bench::StartStreamRequest(io, target, std::move(spec),
                            [&result](bench::RequestRecord r) { result = std::move(r); });
  io.restart();
  io.run();
  if (result.success) return Status::Ok();
  return Unavailable("the test request to POST " + target.url.ToString(o.endpoint) +
                     " failed: " + result.error);
}

Status WriteJson(const std::string& path, const json& doc) {
  std::ofstream out(path);
  out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  out.close();
  if (!out) return Unavailable("cannot write --json file '" + path + "'");
  return Status::Ok();
}

void PrintRunHeader(const BenchServeOptions& o, const std::string& model) {
  std::fprintf(stderr, "Target: POST %s (model %s)\n", o.url.ToString(o.endpoint).c_str(),
               model.c_str());
  if (std::isinf(o.arrivals.request_rate)) {
    std::fprintf(stderr, "Traffic request rate: inf (all requests at once)\n");
  } else {
    std::fprintf(stderr, "Traffic request rate: %g req/s, burstiness %g%s\n",
                 o.arrivals.request_rate, o.arrivals.burstiness,
                 o.arrivals.burstiness == 1.0 ? " (Poisson process)" : " (gamma arrivals)");
  }
  if (o.max_concurrency > 0) {
    std::fprintf(stderr, "Maximum request concurrency: %lld\n",
                 static_cast<long long>(o.max_concurrency));
  }
}

}  // namespace

int BenchMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::printf("%s", kBenchUsage);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "serve") return BenchServeMain({args.begin() + 1, args.end()});
  std::fprintf(stderr, "skipjoin bench: unknown subcommand '%s'\n\n%s", args[0].c_str(),
               kBenchUsage);
  return 2;
}

int BenchServeMain(const std::vector<std::string>& args) {
  auto parsed = bench::ParseBenchServeArgs(args);
  if (!parsed.ok()) {
    Error(parsed.status().message());
    return 2;
  }
  if (parsed->help) {
    std::printf("%s", parsed->help_text.c_str());
    return 0;
  }
  const BenchServeOptions& o = parsed->options;
  RaiseFileLimit();

  auto target = bench::ResolveTarget(o.url, o.api_key);
  if (!target.ok()) {
    Error(target.status().message());
    return 1;
  }
  boost::asio::io_context io;
  auto model = DiscoverModel(io, *target, o.model);
  if (!model.ok()) {
    Error(model.status().message());
    return 1;
  }
  auto prompts = bench::GenerateDataset(o.dataset);
  if (!prompts.ok()) {
    Error(prompts.status().message());
    return 2;
  }
  std::vector<bench::LoadRequest> requests;
  requests.reserve(prompts->size());
  for (const bench::BenchPrompt& p : *prompts) {
    requests.push_back(
        {bench::BuildRequestBody(p, {o.flavor, *model, o.ignore_eos}), p.input_len, p.output_len});
  }

  std::fprintf(stderr, "Starting initial single prompt test run...\n");
  if (Status st = TestRequest(io, *target, o, *model, prompts->front()); !st.ok()) {
    Error(st.message());
    return 1;
  }
  PrintRunHeader(o, *model);

  bench::LoadOptions load;
  load.path = o.endpoint;
  load.flavor = o.flavor;
  load.arrivals_s = bench::ArrivalOffsets(static_cast<int64_t>(requests.size()), o.arrivals);
  load.max_concurrency = o.max_concurrency;
  load.timeout = RequestTimeout(o);
  load.progress = o.progress;
  const bench::LoadResult result = bench::RunLoad(io, *target, requests, load);

  const bench::BenchMetrics metrics =
      bench::ComputeMetrics(result.records, result.duration_s, &o.goodput);
  std::printf("%s", bench::FormatReport(metrics, o).c_str());
  std::fflush(stdout);
  if (std::string errors = bench::FormatErrors(result.records); !errors.empty()) {
    std::fprintf(stderr, "%s", errors.c_str());
  }
  if (!o.json_path.empty()) {
    Status st = WriteJson(o.json_path, bench::ResultJson(metrics, o, *model, result.records));
    if (!st.ok()) {
      Error(st.message());
      return 1;
    }
    std::fprintf(stderr, "Results written to %s\n", o.json_path.c_str());
  }
  return metrics.completed > 0 ? 0 : 1;
}

}  // namespace skipjoin::cli
