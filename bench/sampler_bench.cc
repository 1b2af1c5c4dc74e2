// sampler_bench: what drawing one token costs the worker's host sampler
// (worker/sampler.h) per sequence, for the sampling settings people use, over
// a row of --vocab logits drawn from N(0, --scale^2) (fixed seed). Prints one
// line per setting: mean and p99 microseconds per row over --rows rows.
//   sampler_bench [--vocab 49152] [--rows 2000] [--scale 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/flags.h"
#include "worker/sampler.h"

using namespace skipjoin;

int main(int argc, char** argv) {
  int64_t vocab = 49152, rows = 2000;
  double scale = 3.0;
  FlagSet flags("usage: sampler_bench [--vocab N] [--rows N] [--scale S]");
  flags.Int("vocab", &vocab, "logits per row");
  flags.Int("rows", &rows, "rows timed per setting");
  flags.Double("scale", &scale, "standard deviation of the logits");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status st = flags.Parse(args); !st.ok() || flags.help_requested()) {
    std::fprintf(stderr, "%s%s\n", st.ok() ? "" : (st.message() + "\n").c_str(),
                 flags.Help().c_str());
    return st.ok() ? 0 : 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(scale));
  std::vector<std::vector<float>> data(16, std::vector<float>(vocab));
  for (auto& row : data)
    for (float& x : row) x = normal(rng);

  struct Setting {
    const char* name;
    SamplingParams p;
  };
  std::vector<Setting> settings;
  auto add = [&](const char* name, auto&& set) {
    SamplingParams p;
    p.seed = 7;
    set(p);
    settings.push_back({name, p});
  };
  add("greedy", [](SamplingParams& p) { p.temperature = 0.0f; });
  add("temperature 1", [](SamplingParams&) {});
  add("temperature 0.7, top_p 0.9", [](SamplingParams& p) {
    p.temperature = 0.7f;
    p.top_p = 0.9f;
  });
  add("top_k 50", [](SamplingParams& p) { p.top_k = 50; });
  add("min_p 0.05", [](SamplingParams& p) { p.min_p = 0.05f; });
  add("temperature 1, logprobs 5", [](SamplingParams& p) { p.logprobs = 5; });
  add("temperature 1, frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = 0.5f; });

  SamplerScratch scratch;
  TokenHistory history;
  for (int t = 0; t < 64; ++t) {
    history.seen.insert(t * 31);
    history.output_counts[t * 31] = 1 + t % 3;
  }
  for (const Setting& s : settings) {
    std::vector<double> us;
    us.reserve(rows);
    int64_t checksum = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const std::vector<float>& row = data[i % data.size()];
      const auto t0 = std::chrono::steady_clock::now();
      SampleResult r = SampleRow(row.data(), vocab, s.p, static_cast<int32_t>(i),
                                 s.p.needs_history() ? &history : nullptr, &scratch);
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      checksum += r.token;
    }
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double v : us) sum += v;
    std::printf("%-34s mean %8.1f us  p99 %8.1f us  (token checksum %lld)\n", s.name,
                sum / us.size(), us[std::min(us.size() - 1, us.size() * 99 / 100)],
                static_cast<long long>(checksum));
  }
  return 0;
}
