// The tiny model behind the model-file fuzz seeds (tests/fuzz/seed_gen.cc)
// and the config the safetensors target serves them with: small enough that a
// whole model is a few kilobytes, complete enough that ModelFile::Open
// accepts it and the fuzzer reaches the tensor reads.
#pragma once

#include "tests/testutil/tiny_model.h"

namespace skipjoin::fuzz {

inline testutil::TinyModelSpec FuzzModelSpec() {
  testutil::TinyModelSpec spec;
  spec.hidden = 8;
  spec.intermediate = 16;
  spec.layers = 1;
  spec.heads = 2;
  spec.kv_heads = 1;
  spec.max_context = 64;
  spec.tied = true;
  return spec;
}

}  // namespace skipjoin::fuzz
