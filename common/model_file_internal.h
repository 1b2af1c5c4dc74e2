// Format-specific ModelFile factories behind ModelFile::Open. Internal to
// skipjoin_common; other modules call ModelFile::Open.
#pragma once

#include <memory>
#include <string>

#include "common/model_file.h"

namespace skipjoin::internal {

// A single .gguf file.
Result<std::unique_ptr<ModelFile>> OpenGgufModelFile(const std::string& path);
// A Hugging Face directory: config.json + model.safetensors or
// model.safetensors.index.json with its shards.
Result<std::unique_ptr<ModelFile>> OpenSafetensorsModelFile(const std::string& dir);

// Checks a 1-D/2-D read request against a tensor's row-major shape and
// returns {num_rows, num_cols}. A 1-D tensor is one row.
Result<std::pair<int64_t, int64_t>> CheckReadRange(const std::string& where,
                                                   const std::string& name,
                                                   const std::vector<int64_t>& shape,
                                                   IndexRange rows, IndexRange cols);

}  // namespace skipjoin::internal
