// The CUDA Backend (kernels/backend.h) and device discovery. Only built when
// the build found a CUDA compiler (SKIPJOIN_HAVE_CUDA); this header includes
// no CUDA headers, so the engine and tests compile with a plain C++ compiler.
//
// The backend keeps bfloat16 activations and runs every op on one compute
// stream of its device; KV swap copies run on a second (copy) stream ordered
// against compute with events. Index arrays the Backend API passes as host
// pointers are staged through pinned buffers (re-sent only when they change).
// Thread-safety: as Backend, one driving thread.
#pragma once

#include <memory>

#include "common/status.h"
#include "kernels/backend.h"

namespace skipjoin::kernels {

// Number of visible CUDA devices; an error (naming the CUDA error) when the
// driver or a device is missing.
Result<int> CudaDeviceCount();

// A backend on device `device` (an ordinal, as in "cuda:N").
Result<std::unique_ptr<Backend>> MakeCudaBackend(int device);

}  // namespace skipjoin::kernels
