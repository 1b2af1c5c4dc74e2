// The CUDA backend as a loadable module (libskipjoin_cuda_backend.so). The
// engine dlopens it with RTLD_LOCAL only when a "cuda:N" device is asked for,
// so processes that never use a GPU (the coordinator, CPU workers) do not load
// the CUDA runtime and cuBLAS, whose exported symbols otherwise interfere
// with other libraries in the process (civetweb's server start fails once
// libcublasLt is loaded, seen with CUDA 13).
#include <cstring>

#include "kernels/backend_loader.h"
#include "kernels/cuda/cuda_backend.h"

extern "C" {

// Bumped when the Backend interface changes; the loader refuses a mismatch.
int SkipjoinCudaPluginAbi() { return skipjoin::kernels::kCudaPluginAbi; }

// Returns a new backend, or null with a message in err (err_len bytes).
skipjoin::kernels::Backend* SkipjoinMakeCudaBackend(int device, char* err, size_t err_len) {
  auto b = skipjoin::kernels::MakeCudaBackend(device);
  if (!b.ok()) {
    std::strncpy(err, b.status().ToString().c_str(), err_len - 1);
    err[err_len - 1] = '\0';
    return nullptr;
  }
  return std::move(b).value().release();
}

}  // extern "C"
