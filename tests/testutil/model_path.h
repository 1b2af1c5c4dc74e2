// Where tests find the real SmolLM2-135M-Instruct GGUF: SKIPJOIN_MODEL_PATH,
// then ~/.cache/skipjoin/models, then the unpacked fixture location. "" when
// none exists (the test then skips). Any thread.
#pragma once

#include <string>

namespace skipjoin::testutil {

std::string SmolLm2ModelPath();

}  // namespace skipjoin::testutil
