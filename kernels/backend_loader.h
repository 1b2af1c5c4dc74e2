// Loading the CUDA backend module at run time (see kernels/cuda/plugin.cc).
// Thread-safety: may be called from any thread; the module stays loaded.
#pragma once

#include <memory>

#include "common/status.h"
#include "kernels/backend.h"

namespace skipjoin::kernels {

// The ABI version this build's engine expects from the module.
// 2: Backend::MemoryInfo. 3: Backend::SupportsGreedyRows / GreedyRows.
inline constexpr int kCudaPluginAbi = 3;

// A CUDA backend on device ordinal `device`. Looks for
// libskipjoin_cuda_backend.so at $SKIPJOIN_CUDA_BACKEND, else where this build
// put it, else on the library search path. Unimplemented when no module is
// found (a build without CUDA); the module's own error (no driver, no device)
// otherwise.
Result<std::unique_ptr<Backend>> LoadCudaBackend(int device);

}  // namespace skipjoin::kernels
