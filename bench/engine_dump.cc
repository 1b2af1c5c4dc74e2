// engine_dump: runs token-id prompts through the engine and writes what the
// reference comparisons need (scripts/reference/compare_transformers.py,
// scripts/gpu/verify.sh): the full logits of every prompt position as .npy
// float32 [len, vocab], and greedy continuations. Token ids in, no tokenizer,
// so it builds in the engine-only build of a GPU machine.
//
// Input (--prompts FILE.json), the schema of tests/fixtures/smollm2/greedy_*.json:
//   {"eos_id": 2, "prompts": [{"name": "a", "ids": [1, 2, 3], "n_generate": 16}, ...]}
// eos_id and n_generate are optional (no stop token; --generate tokens).
// Output (--out FILE.json):
//   {"device": "cuda:0", "model": ..., "prompts": [{"name", "ids", "output_ids",
//    "logits_file"}]}
// Logits are teacher-forced: each prompt is one prefill step with every row's
// logits returned. Greedy continuations run all prompts batched (outputs do
// not depend on batching), stopping at eos_id or after n_generate tokens.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/flags.h"
#include "worker/local_runner.h"

using namespace skipjoin;
using nlohmann::json;

namespace {

// numpy .npy v1.0, little-endian float32, C order.
bool WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(reinterpret_cast<const char*>(magic), 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(rows * cols * sizeof(float)));
  return static_cast<bool>(out);
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "engine_dump: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = DefaultModelPath(), device = "cpu", prompts_path, out_path, logits_dir,
              weight_format = "auto";
  int64_t generate = 0, threads = 0;
  bool no_logits = false;
  FlagSet flags(
      "usage: engine_dump --model PATH --prompts FILE.json --out FILE.json [--device cuda:0]\n"
      "                   [--logits-dir DIR] [--generate N] [--no-logits]");
  flags.String("model", &model, "model file or directory");
  flags.String("device", &device, "cpu or cuda:N");
  flags.String("prompts", &prompts_path, "JSON file with the prompts' token ids (required)");
  flags.String("out", &out_path, "JSON file to write (required)");
  flags.String("logits-dir", &logits_dir, "where the .npy logits go (default: next to --out)");
  flags.Int("generate", &generate, "greedy tokens per prompt when a prompt gives no n_generate");
  flags.Bool("no-logits", &no_logits, "skip the teacher-forced logits");
  flags.Int("threads", &threads, "CPU threads; 0 uses all cores");
  flags.String("weight-format", &weight_format, "auto (keep quantized blocks) or dense");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status st = flags.Parse(args); !st.ok() || flags.help_requested() || prompts_path.empty() ||
                                     out_path.empty()) {
    std::fprintf(stderr, "%s%s\n", st.ok() ? "" : (st.message() + "\n").c_str(), flags.Help().c_str());
    return st.ok() && flags.help_requested() ? 0 : 2;
  }
  if (logits_dir.empty()) {
    const size_t slash = out_path.rfind('/');
    logits_dir = slash == std::string::npos ? "." : out_path.substr(0, slash);
  }

  std::ifstream in(prompts_path);
  if (!in) return Fail("cannot open " + prompts_path);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("prompts") || !doc["prompts"].is_array()) {
    return Fail(prompts_path + ": expected a JSON object with a 'prompts' array");
  }
  struct Prompt {
    std::string name;
    std::vector<int32_t> ids;
    int32_t n_generate = 0;
  };
  std::vector<Prompt> prompts;
  for (const json& p : doc["prompts"]) {
    Prompt q;
    if (!p.is_object() || !p.contains("ids") || !p["ids"].is_array() || p["ids"].empty()) {
      return Fail(prompts_path + ": prompt " + std::to_string(prompts.size()) + " needs a non-empty 'ids' array");
    }
    for (const json& id : p["ids"]) {
      if (!id.is_number_integer()) return Fail(prompts_path + ": token ids must be integers");
      q.ids.push_back(id.get<int32_t>());
    }
    q.name = p.value("name", "p" + std::to_string(prompts.size()));
    q.n_generate = p.value("n_generate", static_cast<int32_t>(generate));
    prompts.push_back(std::move(q));
  }
  std::vector<int32_t> stop_ids;
  if (doc.contains("eos_id") && doc["eos_id"].is_number_integer()) stop_ids.push_back(doc["eos_id"].get<int32_t>());

  EngineOptions o;
  o.model_path = model;
  o.device = device;
  o.num_threads = static_cast<int>(threads);
  o.weight_format = weight_format;
  o.block_size = 16;
  int64_t blocks = 0, longest = 16;
  for (const Prompt& p : prompts) {
    blocks += (static_cast<int64_t>(p.ids.size()) + p.n_generate + 15) / 16;
    longest = std::max<int64_t>(longest, static_cast<int64_t>(p.ids.size()));
  }
  o.num_device_blocks = static_cast<int32_t>(blocks + 1);
  int64_t total_prompt = 0;
  for (const Prompt& p : prompts) total_prompt += static_cast<int64_t>(p.ids.size());
  o.max_step_tokens = static_cast<int32_t>(std::max<int64_t>({longest, total_prompt, 64}));
  auto engine = Engine::Create(o, nullptr);
  if (!engine.ok()) return Fail(engine.status().ToString());
  const int64_t V = (*engine)->config().vocab_size;
  for (const Prompt& p : prompts) {
    for (int32_t id : p.ids) {
      if (id < 0 || id >= V) return Fail("prompt " + p.name + ": token id " + std::to_string(id) + " outside the vocabulary");
    }
  }

  json out;
  out["device"] = device;
  out["model"] = model;
  out["vocab_size"] = V;
  out["prompts"] = json::array();
  for (const Prompt& p : prompts) out["prompts"].push_back({{"name", p.name}, {"ids", p.ids}});

  if (!no_logits) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      const Prompt& p = prompts[i];
      StepInput step;
      SeqInput s;
      s.seq_id = i;
      s.tokens = p.ids;
      s.start_pos = 0;
      for (int32_t b = 0; b * 16 < static_cast<int32_t>(p.ids.size()); ++b) s.block_table.push_back(b);
      s.return_logits = true;
      step.seqs.push_back(std::move(s));
      auto res = (*engine)->Step(step);
      if (!res.ok()) return Fail("prompt " + p.name + ": " + res.status().ToString());
      const std::vector<float>& logits = res->seqs[0].logits;
      if (static_cast<int64_t>(logits.size()) != static_cast<int64_t>(p.ids.size()) * V) {
        return Fail("prompt " + p.name + ": the engine returned " + std::to_string(logits.size()) + " logits");
      }
      const std::string file = "logits_" + std::to_string(i) + ".npy";
      if (!WriteNpy(logits_dir + "/" + file, logits.data(), static_cast<int64_t>(p.ids.size()), V)) {
        return Fail("cannot write " + logits_dir + "/" + file);
      }
      out["prompts"][i]["logits_file"] = file;
    }
  }

  std::vector<LocalRequest> reqs;
  for (const Prompt& p : prompts) {
    LocalRequest r;
    r.prompt = p.ids;
    r.max_new_tokens = p.n_generate;
    r.stop_ids = stop_ids;
    reqs.push_back(std::move(r));
  }
  bool any_generate = false;
  for (const Prompt& p : prompts) any_generate |= p.n_generate > 0;
  if (any_generate) {
    LocalRunnerOptions ro;
    ro.prefill_chunk = static_cast<int32_t>(longest);
    LocalRunner runner(engine->get(), ro);
    LocalRunStats stats;
    auto res = runner.Run(reqs, nullptr, &stats);
    if (!res.ok()) return Fail("greedy run: " + res.status().ToString());
    for (size_t i = 0; i < prompts.size(); ++i) out["prompts"][i]["output_ids"] = (*res)[i];
    out["decode_tok_s"] = stats.decode_seconds > 0 ? stats.decode_tokens / stats.decode_seconds : 0.0;
  }
  std::ofstream of(out_path);
  of << out.dump(1) << "\n";
  if (!of) return Fail("cannot write " + out_path);
  std::fprintf(stderr, "engine_dump: %zu prompts on %s -> %s\n", prompts.size(), device.c_str(), out_path.c_str());
  return 0;
}
