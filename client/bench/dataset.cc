#include "client/bench/dataset.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "client/bench/rng.h"

namespace skipjoin::bench {

namespace {

// Common short English words: most encode to one token (with its leading
// space) in byte-level BPE vocabularies, so a prompt of n words is about n
// tokens. The server's usage count is what the report uses.
constexpr const char* kWords[] = {
    "the",   "of",     "and",   "to",    "in",    "is",    "it",    "that",  "for",   "on",
    "was",   "with",   "as",    "at",    "by",    "be",    "this",  "from",  "or",    "are",
    "an",    "but",    "not",   "you",   "all",   "can",   "had",   "her",   "one",   "our",
    "out",   "day",    "get",   "has",   "him",   "his",   "how",   "man",   "new",   "now",
    "old",   "see",    "two",   "way",   "who",   "boy",   "did",   "its",   "let",   "put",
    "say",   "she",    "too",   "use",   "time",  "year",  "work",  "back",  "life",  "hand",
    "part",  "child",  "eye",   "woman", "place", "week",  "case",  "point", "home",  "water",
    "room",  "area",   "money", "story", "fact",  "month", "lot",   "right", "study", "book",
    "job",   "word",   "issue", "side",  "kind",  "head",  "house", "power", "hour",  "game",
    "line",  "end",    "door",  "city",  "name",  "team",  "idea",  "body",  "face",  "level",
    "music", "light",  "river", "stone", "green", "small", "large", "early", "young", "long",
    "great", "little", "own",   "other", "good",  "high",  "last",  "first", "next",  "open",
};
constexpr int64_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

// Distinct, fixed offsets keep the length, content and arrival streams of
// one seed independent of each other.
constexpr uint64_t kContentStream = 0x9e3779b97f4a7c15ull;

// Integers uniform in [len*(1-r), len*(1+r)], at least 1.
int64_t UniformLength(Rng& rng, int64_t len, double ratio) {
  const auto lo = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(len * (1.0 - ratio))));
  const auto hi = std::max<int64_t>(lo, static_cast<int64_t>(std::floor(len * (1.0 + ratio))));
  return rng.UniformInt(lo, hi);
}

}  // namespace

Result<DatasetKind> ParseDatasetKind(const std::string& name) {
  if (name == "random") return DatasetKind::kRandom;
  if (name == "pareto") return DatasetKind::kPareto;
  if (name == "fixed") return DatasetKind::kFixed;
  return InvalidArgument("--dataset must be random, pareto or fixed, got '" + name + "'");
}

Result<PromptFormat> ParsePromptFormat(const std::string& name) {
  if (name == "ids") return PromptFormat::kTokenIds;
  if (name == "text") return PromptFormat::kText;
  return InvalidArgument("--prompt-format must be ids or text, got '" + name + "'");
}

const char* DatasetKindName(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kRandom:
      return "random";
    case DatasetKind::kPareto:
      return "pareto";
    case DatasetKind::kFixed:
      return "fixed";
  }
  return "?";
}

Status ValidateDatasetOptions(const DatasetOptions& o) {
  if (o.num_prompts < 1) return InvalidArgument("--num-prompts must be at least 1");
  if (o.input_len < 1) return InvalidArgument("--input-len must be at least 1 token");
  if (o.output_len < 1) return InvalidArgument("--output-len must be at least 1 token");
  if (!(o.range_ratio >= 0.0 && o.range_ratio < 1.0)) {
    return InvalidArgument("--range-ratio must be in [0, 1)");
  }
  if (o.kind == DatasetKind::kPareto) {
    if (!(o.pareto_alpha > 0.0) || !std::isfinite(o.pareto_alpha)) {
      return InvalidArgument("--pareto-alpha must be a positive number");
    }
    if (o.max_output_len < o.output_len) {
      return InvalidArgument("--max-output-len (" + std::to_string(o.max_output_len) +
                             ") must be at least --output-len (" + std::to_string(o.output_len) +
                             ") for --dataset pareto");
    }
  }
  if (o.prompt_format == PromptFormat::kTokenIds) {
    if (o.vocab_low < 0 || o.vocab_high < o.vocab_low ||
        o.vocab_high > std::numeric_limits<int32_t>::max()) {
      return InvalidArgument("need 0 <= --vocab-low <= --vocab-high < 2^31, got " +
                             std::to_string(o.vocab_low) + ".." + std::to_string(o.vocab_high));
    }
  }
  return Status::Ok();
}

double ClampedParetoMean(double alpha, double scale, double max_len) {
  // E[clamp(X, 1, M)] = lo + integral_lo^M P(X > t) dt with lo = max(scale, 1),
  // and P(X > t) = (scale / t)^alpha for t >= scale.
  const double lo = std::max(scale, 1.0);
  if (lo >= max_len) return max_len;
  double tail;
  if (std::fabs(alpha - 1.0) < 1e-12) {
    tail = std::log(max_len / lo);
  } else {
    tail = (std::pow(max_len, 1.0 - alpha) - std::pow(lo, 1.0 - alpha)) / (1.0 - alpha);
  }
  return lo + std::pow(scale, alpha) * tail;
}

double ParetoScaleForMean(double alpha, double mean, double max_len) {
  // The clamped mean rises monotonically with the scale, from 1 (scale -> 0)
  // to max_len (scale = max_len): bisect.
  double lo = 0.0, hi = max_len;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (ClampedParetoMean(alpha, mid, max_len) < mean ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Result<std::vector<BenchPrompt>> GenerateDataset(const DatasetOptions& o) {
  SJ_RETURN_IF_ERROR(ValidateDatasetOptions(o));
  Rng lengths(o.seed);
  Rng content(o.seed ^ kContentStream);
  const double max_out = static_cast<double>(o.max_output_len);
  const double pareto_scale = o.kind == DatasetKind::kPareto
                                  ? ParetoScaleForMean(o.pareto_alpha, o.output_len, max_out)
                                  : 0.0;
  std::vector<BenchPrompt> prompts(static_cast<size_t>(o.num_prompts));
  for (BenchPrompt& p : prompts) {
    switch (o.kind) {
      case DatasetKind::kFixed:
        p.input_len = o.input_len;
        p.output_len = o.output_len;
        break;
      case DatasetKind::kRandom:
        p.input_len = UniformLength(lengths, o.input_len, o.range_ratio);
        p.output_len = UniformLength(lengths, o.output_len, o.range_ratio);
        break;
      case DatasetKind::kPareto: {
        p.input_len = UniformLength(lengths, o.input_len, o.range_ratio);
        const double x = lengths.Pareto(o.pareto_alpha, pareto_scale);
        p.output_len = static_cast<int64_t>(std::llround(std::clamp(x, 1.0, max_out)));
        break;
      }
    }
    if (o.prompt_format == PromptFormat::kTokenIds) {
      p.token_ids.resize(static_cast<size_t>(p.input_len));
      for (int32_t& id : p.token_ids) {
        id = static_cast<int32_t>(content.UniformInt(o.vocab_low, o.vocab_high));
      }
    } else {
      for (int64_t w = 0; w < p.input_len; ++w) {
        if (w > 0) p.text += ' ';
        p.text += kWords[content.UniformInt(0, kNumWords - 1)];
      }
    }
  }
  return prompts;
}

}  // namespace skipjoin::bench
