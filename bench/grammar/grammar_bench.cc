// grammar_bench: what a structured-output token mask costs over a real model
// vocabulary. Reads the vocabulary from a GGUF file, then times
// Matcher::FillNextTokenMask along
//   - guided: 8 sequences spelling a fixed valid document for a schema (each
//     step takes the allowed token that covers the most of what is left),
//   - guided+cache: the same, the 8 sharing one MaskCache,
//   - json_object: the same document under json_object mode,
//   - random: 8 random walks under the schema (random allowed tokens, EOS as
//     soon as it is allowed),
// and prints p50 / p99 / max / mean microseconds per mask.
//   grammar_bench [--model PATH] [--walks N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/gguf.h"
#include "common/grammar/gguf_vocabulary.h"
#include "common/grammar/matcher.h"

namespace skipjoin::grammar {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "email": {"type": ["string", "null"]},
    "role": {"enum": ["admin", "editor", "viewer"]},
    "scores": {"type": "array", "items": {"type": "number"}, "maxItems": 8},
    "address": {"type": "object", "properties": {
      "street": {"type": "string"}, "city": {"type": "string"}, "zip": {"type": "string"}},
      "required": ["street", "city", "zip"], "additionalProperties": false},
    "active": {"type": "boolean"}
  },
  "required": ["name", "age", "email", "role", "scores", "address", "active"],
  "additionalProperties": false
})";

constexpr const char* kDocument =
    R"({"name": "Ada Lovelace", "age": 36, "email": null, "role": "editor", )"
    R"("scores": [9.5, 7.25, 10], "address": {"street": "12 St James's Square", )"
    R"("city": "London", "zip": "SW1Y 4JH"}, "active": true})";

bool Bit(const std::vector<uint32_t>& mask, int32_t id) { return (mask[id / 32] >> (id % 32)) & 1; }

struct Samples {
  std::vector<double> us;
  void Report(const char* name) {
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double v : us) sum += v;
    auto pct = [&](double p) { return us[std::min(us.size() - 1, size_t(p * us.size()))]; };
    std::printf("%-12s masks=%6zu  p50=%8.1f us  p99=%8.1f us  max=%8.1f us  mean=%8.1f us\n", name,
                us.size(), pct(0.50), pct(0.99), us.back(), sum / us.size());
  }
};

double TimeMask(const Matcher& m, std::vector<uint32_t>* mask) {
  const auto t0 = Clock::now();
  m.FillNextTokenMask(mask);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// Spells `doc` token by token, always taking the longest allowed token that
// is a prefix of the rest. Returns false if it gets stuck.
bool Guided(const GrammarPtr& g, const std::shared_ptr<const TokenVocabulary>& v,
            const std::string& doc, std::shared_ptr<MaskCache> cache, Samples* s) {
  Matcher m(g, v, std::move(cache));
  std::vector<uint32_t> mask;
  size_t pos = 0;
  while (true) {
    s->us.push_back(TimeMask(m, &mask));
    if (pos == doc.size()) return m.IsAccepting();
    int32_t best = -1;
    for (int32_t id = 0; id < v->size(); ++id) {
      if (!Bit(mask, id) || v->is_eos(id)) continue;
      const std::string& b = v->bytes(id);
      if (doc.compare(pos, b.size(), b) == 0 && (best < 0 || b.size() > v->bytes(best).size())) {
        best = id;
      }
    }
    if (best < 0 || !m.AcceptToken(best)) {
      std::fprintf(stderr, "guided walk stuck at byte %zu\n", pos);
      return false;
    }
    pos += v->bytes(best).size();
  }
}

void Random(const GrammarPtr& g, const std::shared_ptr<const TokenVocabulary>& v, uint32_t seed,
            Samples* s) {
  Matcher m(g, v);
  std::mt19937 rng(seed);
  std::vector<uint32_t> mask;
  std::vector<int32_t> allowed;
  for (int step = 0; step < 2000; ++step) {
    s->us.push_back(TimeMask(m, &mask));
    allowed.clear();
    for (int32_t id = 0; id < v->size(); ++id) {
      if (!Bit(mask, id)) continue;
      if (v->is_eos(id)) return;
      allowed.push_back(id);
    }
    if (allowed.empty()) return;
    m.AcceptToken(allowed[rng() % allowed.size()]);
  }
}

int Main(int argc, char** argv) {
  std::string model;
  if (const char* home = std::getenv("HOME")) {
    model = std::string(home) + "/.cache/skipjoin/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  }
  int walks = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--model") == 0) model = argv[i + 1];
    if (std::strcmp(argv[i], "--walks") == 0) walks = std::atoi(argv[i + 1]);
  }
  auto gguf = GgufFile::Open(model);
  if (!gguf.ok()) {
    std::fprintf(stderr, "%s\n", gguf.status().ToString().c_str());
    return 1;
  }
  auto t0 = Clock::now();
  auto vocab = TokenVocabularyFromGguf(**gguf);
  if (!vocab.ok()) {
    std::fprintf(stderr, "%s\n", vocab.status().ToString().c_str());
    return 1;
  }
  const double vocab_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  t0 = Clock::now();
  auto schema = CompileJsonSchema(kSchema);
  const double compile_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  auto object = CompileJsonObject();
  if (!schema.ok() || !object.ok()) {
    std::fprintf(stderr, "compile failed\n");
    return 1;
  }
  std::printf("vocabulary: %d tokens, %zu trie nodes, built in %.1f ms\n", (*vocab)->size(),
              (*vocab)->nodes().size(), vocab_ms);
  std::printf("schema: %zu automaton states, compiled in %.2f ms\n", (*schema)->state_count(),
              compile_ms);
  Samples guided, shared, object_mode, random;
  auto cache = std::make_shared<MaskCache>(*schema, *vocab);
  for (int i = 0; i < walks; ++i) {
    if (!Guided(*schema, *vocab, kDocument, nullptr, &guided)) return 1;
    if (!Guided(*schema, *vocab, kDocument, cache, &shared)) return 1;
    if (!Guided(*object, *vocab, kDocument, nullptr, &object_mode)) return 1;
    Random(*schema, *vocab, static_cast<uint32_t>(i + 1), &random);
  }
  guided.Report("guided");
  shared.Report("guided+cache");
  object_mode.Report("json_object");
  random.Report("random");
  return 0;
}

}  // namespace
}  // namespace skipjoin::grammar

int main(int argc, char** argv) { return skipjoin::grammar::Main(argc, argv); }
