#include "client/bench/bench_options.h"

#include <gtest/gtest.h>

#include <cmath>

namespace skipjoin::bench {
namespace {

Result<ParsedBenchArgs> Parse(std::vector<std::string> args) { return ParseBenchServeArgs(args); }

std::string ErrorOf(std::vector<std::string> args) {
  auto r = ParseBenchServeArgs(args);
  return r.ok() ? "" : r.status().message();
}

TEST(BenchOptionsTest, DefaultsMatchVllmBenchServe) {
  auto r = Parse({});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const BenchServeOptions& o = r->options;
  EXPECT_EQ(o.url.ToString(), "http://127.0.0.1:8000");
  EXPECT_EQ(o.endpoint, "/v1/completions");
  EXPECT_EQ(o.flavor, ApiFlavor::kCompletions);
  EXPECT_TRUE(o.model.empty());
  EXPECT_EQ(o.dataset.num_prompts, 1000);
  EXPECT_EQ(o.dataset.input_len, 1024);
  EXPECT_EQ(o.dataset.output_len, 128);
  EXPECT_EQ(o.dataset.prompt_format, PromptFormat::kTokenIds);
  EXPECT_TRUE(std::isinf(o.arrivals.request_rate));
  EXPECT_EQ(o.arrivals.burstiness, 1.0);
  EXPECT_EQ(o.max_concurrency, 0);
  EXPECT_TRUE(o.goodput.empty());
  EXPECT_TRUE(o.progress);
}

TEST(BenchOptionsTest, GoodputTakesItsItemsAsSeparateWords) {
  auto r = Parse({"--goodput", "ttft:500", "tpot:50", "--num-prompts", "3"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->options.goodput.ttft_ms, 500.0);
  EXPECT_EQ(r->options.goodput.tpot_ms, 50.0);
  EXPECT_EQ(r->options.dataset.num_prompts, 3);
  auto eq = Parse({"--goodput=e2el:900", "tpot:20"});
  ASSERT_TRUE(eq.ok()) << eq.status().ToString();
  EXPECT_EQ(eq->options.goodput.e2el_ms, 900.0);
  EXPECT_EQ(eq->options.goodput.tpot_ms, 20.0);
  EXPECT_NE(ErrorOf({"--goodput", "ttfb:5"}).find("unknown metric"), std::string::npos);
  EXPECT_NE(ErrorOf({"--goodput", "--seed", "1"}).find("--goodput needs"), std::string::npos);
}

TEST(BenchOptionsTest, RateSeedAndLimitsAreParsed) {
  auto r = Parse({"--request-rate", "2.5", "--burstiness", "0.5", "--seed", "9",
                  "--max-concurrency", "4", "--timeout", "1.5", "--ignore-eos", "--no-progress",
                  "--dataset", "pareto", "--pareto-alpha", "1.1", "--model", "m"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const BenchServeOptions& o = r->options;
  EXPECT_EQ(o.arrivals.request_rate, 2.5);
  EXPECT_EQ(o.arrivals.burstiness, 0.5);
  EXPECT_EQ(o.arrivals.seed, 9u);
  EXPECT_EQ(o.dataset.seed, 9u);
  EXPECT_EQ(o.max_concurrency, 4);
  EXPECT_EQ(o.timeout_s, 1.5);
  EXPECT_TRUE(o.ignore_eos);
  EXPECT_FALSE(o.progress);
  EXPECT_EQ(o.dataset.kind, DatasetKind::kPareto);
  EXPECT_EQ(o.dataset.pareto_alpha, 1.1);
  EXPECT_EQ(o.model, "m");
}

TEST(BenchOptionsTest, ChatEndpointDefaultsToTextAndRefusesTokenIds) {
  auto r = Parse({"--endpoint", "/v1/chat/completions"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->options.flavor, ApiFlavor::kChat);
  EXPECT_EQ(r->options.dataset.prompt_format, PromptFormat::kText);
  EXPECT_NE(ErrorOf({"--endpoint", "/v1/chat/completions", "--prompt-format", "ids"})
                .find("--prompt-format"),
            std::string::npos);
}

TEST(BenchOptionsTest, BadFlagsAreErrorsThatNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    const char* names;
  };
  for (const Case& c : std::vector<Case>{
           {{"--num-prompts", "0"}, "--num-prompts"},
           {{"--num-prompts", "many"}, "--num-prompts"},
           {{"--request-rate", "0"}, "--request-rate"},
           {{"--burstiness", "-1"}, "--burstiness"},
           {{"--max-concurrency", "-2"}, "--max-concurrency"},
           {{"--timeout", "-1"}, "--timeout"},
           {{"--base-url", "https://h"}, "--base-url"},
           {{"--base-url", "localhost:8000"}, "--base-url"},
           {{"--endpoint", "v1/completions"}, "--endpoint"},
           {{"--dataset", "sharegpt"}, "--dataset"},
           {{"--range-ratio", "1.5"}, "--range-ratio"},
           {{"--seed", "-3"}, "--seed"},
           {{"--no-such-flag"}, "--no-such-flag"},
           {{"stray"}, "stray"},
       }) {
    const std::string error = ErrorOf(c.args);
    EXPECT_NE(error.find(c.names), std::string::npos) << c.args[0] << " -> '" << error << "'";
  }
}

TEST(BenchOptionsTest, HelpListsEveryFlagWithItsDefault) {
  auto r = Parse({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
  for (const char* flag :
       {"--base-url",      "--endpoint",    "--model",        "--num-prompts",
        "--request-rate",  "--burstiness",  "--seed",         "--max-concurrency",
        "--ignore-eos",    "--goodput",     "--json",         "--api-key",
        "--timeout",       "--no-progress", "--dataset",      "--input-len",
        "--output-len",    "--range-ratio", "--pareto-alpha", "--max-output-len",
        "--prompt-format", "--vocab-low",   "--vocab-high"}) {
    EXPECT_NE(r->help_text.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(r->help_text.find("(default: inf)"), std::string::npos);
  EXPECT_NE(r->help_text.find("(default: http://127.0.0.1:8000)"), std::string::npos);
}

}  // namespace
}  // namespace skipjoin::bench
