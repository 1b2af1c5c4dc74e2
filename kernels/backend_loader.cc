#include "kernels/backend_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace skipjoin::kernels {
namespace {

using MakeFn = Backend* (*)(int, char*, size_t);
using AbiFn = int (*)();

struct Module {
  void* handle = nullptr;
  MakeFn make = nullptr;
  std::string error;
};

Module Open() {
  Module m;
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("SKIPJOIN_CUDA_BACKEND"); p != nullptr && *p != '\0') {
    candidates.push_back(p);
  } else {
#ifdef SKIPJOIN_CUDA_PLUGIN_PATH
    candidates.push_back(SKIPJOIN_CUDA_PLUGIN_PATH);
#endif
    candidates.push_back("libskipjoin_cuda_backend.so");
  }
  std::string tried;
  for (const std::string& path : candidates) {
    // RTLD_LOCAL: the CUDA libraries' symbols stay out of the global scope.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = dlerror();
      tried += "\n  " + path + ": " + (e ? e : "not loadable");
      continue;
    }
    auto abi = reinterpret_cast<AbiFn>(dlsym(h, "SkipjoinCudaPluginAbi"));
    auto make = reinterpret_cast<MakeFn>(dlsym(h, "SkipjoinMakeCudaBackend"));
    if (abi == nullptr || make == nullptr || abi() != kCudaPluginAbi) {
      tried += "\n  " + path + ": not a skipjoin CUDA backend of this version";
      dlclose(h);
      continue;
    }
    m.handle = h;
    m.make = make;
    return m;
  }
  m.error = "no CUDA backend module could be loaded (build with a CUDA compiler and "
            "SKIPJOIN_WITH_CUDA=ON, or set SKIPJOIN_CUDA_BACKEND); tried:" + tried;
  return m;
}

}  // namespace

Result<std::unique_ptr<Backend>> LoadCudaBackend(int device) {
  static std::once_flag once;
  static Module module;
  std::call_once(once, [] { module = Open(); });
  if (module.make == nullptr) return Unimplemented(module.error);
  char err[512] = {0};
  Backend* b = module.make(device, err, sizeof(err));
  if (b == nullptr) return Unavailable(std::string("cuda:") + std::to_string(device) + ": " + err);
  return std::unique_ptr<Backend>(b);
}

}  // namespace skipjoin::kernels
