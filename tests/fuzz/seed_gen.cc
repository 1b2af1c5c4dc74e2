// Writes the generated part of the fuzz seed corpora: valid inputs built with
// the project's own writers (protocol frames, tiny GGUF and Hugging Face
// models, chat conversations) and a few edge cases derived from them. The
// hand-written seeds (JSON bodies, HTTP requests) live next to them in
// tests/fuzz/corpus/<target>/ as plain files.
//
//   fuzz_seed_gen tests/fuzz/corpus
//
// Output is deterministic, so rerunning it leaves the committed files as they
// are unless a writer changed.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/gguf.h"
#include "common/status.h"
#include "protocol/codec.h"
#include "tests/fuzz/fuzz_models.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/protocol/sample_messages.h"
#include "tests/testutil/gguf_writer.h"

namespace skipjoin::fuzz {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

void WriteSeed(const fs::path& dir, const std::string& name, std::string_view bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  SJ_CHECK(out.good()) << "cannot write " << (dir / name);
}

std::string ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  SJ_CHECK(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void ProtocolSeeds(const fs::path& dir) {
  std::string step_plan;
  int n = 0;
  for (const protocol::Message& m : protocol::OneOfEveryMessage()) {
    const std::string frame = protocol::Encode(m);
    const std::string type = protocol::MessageTypeName(protocol::TypeOf(m));
    if (type == "StepPlan") step_plan = frame;
    WriteSeed(dir, std::to_string(n++) + "-" + type + ".bin", frame);
  }
  // Edge cases: a cut frame, one byte flipped in the version, an empty frame.
  WriteSeed(dir, "edge-truncated-StepPlan.bin", step_plan.substr(0, step_plan.size() / 2));
  std::string other_version = step_plan;
  other_version[1] = static_cast<char>(other_version[1] + 1);
  WriteSeed(dir, "edge-other-version.bin", other_version);
  WriteSeed(dir, "edge-empty.bin", "");
}

void GgufSeeds(const fs::path& dir, const ScratchDir& scratch) {
  testutil::TinyModelSpec spec = FuzzModelSpec();
  spec.gguf_weight_type = GgmlType::kF16;
  const std::string f16 = scratch.path() + "/f16.gguf";
  SJ_CHECK(testutil::WriteTinyGguf(spec, f16).ok());
  WriteSeed(dir, "tiny-f16.gguf", ReadWhole(f16));
  // Quantized weights need rows of whole 32-element blocks.
  spec.hidden = 32;
  spec.intermediate = 32;
  spec.gguf_weight_type = GgmlType::kQ4_1;
  const std::string q4 = scratch.path() + "/q4_1.gguf";
  SJ_CHECK(testutil::WriteTinyGguf(spec, q4).ok());
  WriteSeed(dir, "tiny-q4_1.gguf", ReadWhole(q4));
  // Every metadata value type, and a v2 header.
  testutil::GgufWriter w;
  w.set_version(2);
  w.AddU8("u8", 1);
  w.AddI16("i16", -2);
  w.AddU32("u32", 3);
  w.AddI64("i64", -4);
  w.AddF32("f32", 0.5f);
  w.AddF64("f64", -0.25);
  w.AddBool("bool", true);
  w.AddString("general.architecture", "llama");
  w.AddStringArray("strings", {"a", "", "\xc3\xa9"});
  w.AddIntArray("ints", testutil::GgufType::kI32, {1, -1, 1 << 30});
  w.AddFloatArray("floats", testutil::GgufType::kF64, {1.5, -2.5});
  w.AddNestedStringArray("nested", {{"x"}, {"y", "z"}});
  w.AddTensor("t", {2, 2}, GgmlType::kF32, std::vector<uint8_t>(16, 0));
  const auto bytes = w.Serialize();
  WriteSeed(dir, "metadata-v2.gguf", std::string(bytes.begin(), bytes.end()));
  WriteSeed(dir, "edge-magic-only.gguf", "GGUF");
}

void HfSeeds(const fs::path& dir, const ScratchDir& scratch) {
  const std::string hf = scratch.path() + "/hf";
  fs::create_directories(hf);
  SJ_CHECK(testutil::WriteTinyHfDir(FuzzModelSpec(), hf, 1, "F16").ok());
  // Byte 0 picks the file (safetensors_fuzz.cc).
  WriteSeed(dir, "model-f16.safetensors", '\0' + ReadWhole(hf + "/model.safetensors"));
  WriteSeed(dir, "config.json", '\1' + ReadWhole(hf + "/config.json"));
  WriteSeed(dir, "tokenizer.json", '\2' + ReadWhole(hf + "/tokenizer.json"));
  const std::string bf16 = scratch.path() + "/bf16.safetensors";
  SJ_CHECK(testutil::WriteSafetensors(bf16, {{"x", {2, 3}, {1, 2, 3, 4, 5, 6}}}, "BF16").ok());
  WriteSeed(dir, "one-tensor-bf16.safetensors", '\0' + ReadWhole(bf16));
  // A header length far past the end of the file.
  WriteSeed(dir, "edge-header-too-long.safetensors", "\0\xff\xff\xff\xff\0\0\0\0{}"s);
}

void ChatSeeds(const fs::path& dir) {
  const std::string conversation =
      "\0\0\0\1\0system\0Be brief.\0user\0Hi <|im_end|> there\0assistant\0Hello!\0user\0?"s;
  const std::pair<const char*, std::string> templates[] = {
      {"chatml",
       "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
       "{% endfor %}"},
      {"chatml-default-system",
       "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful "
       "assistant.<|im_end|>\n' }}{% endif %}<|im_start|>"},
      {"llama3", "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' }}"},
      {"llama31", "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: Dec 2023"},
      {"llama2", "[INST] <<SYS>>\n{{ system }}\n<</SYS>>\n\n{{ user }} [/INST]"},
      {"mistral", "{{ bos_token }}[INST] {{ m['content'] }} [/INST]"},
      {"unknown", "{{ messages }}"},
  };
  for (const auto& [name, text] : templates) WriteSeed(dir, name, text + conversation);
  WriteSeed(dir, "edge-empty-conversation", "<|im_start|>\0\0\0\1"s);
  WriteSeed(dir, "edge-unknown-role", "[INST]\0\0\0\0robot\0beep"s);
}

}  // namespace
}  // namespace skipjoin::fuzz

int main(int argc, char** argv) {
  using namespace skipjoin::fuzz;
  if (argc != 2) {
    std::cerr << "usage: fuzz_seed_gen CORPUS_DIR (tests/fuzz/corpus)\n";
    return 2;
  }
  const fs::path root = argv[1];
  const ScratchDir scratch;
  ProtocolSeeds(root / "protocol_codec");
  GgufSeeds(root / "gguf", scratch);
  HfSeeds(root / "safetensors", scratch);
  ChatSeeds(root / "chat_template");
  return 0;
}
