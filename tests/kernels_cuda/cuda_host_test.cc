// Device selection in a CUDA build, checked without a device: bad device
// strings are argument errors, TP on CUDA is refused until NCCL exists, and a
// missing device is a clear error rather than a crash.
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_backend.h"
#include "tests/engine/engine_harness.h"
#include "tests/testutil/tiny_model.h"
#include "worker/engine.h"

namespace skipjoin {
namespace {

class CudaDeviceSelectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(testing::TestTempDir("cuda_host") + "/tiny.gguf");
    ASSERT_TRUE(testutil::WriteTinyGguf(testutil::TinyModelSpec{}, *path_).ok());
  }
  static void TearDownTestSuite() { delete path_; }
  static Status Create(const std::string& device, int tp_size = 1) {
    EngineOptions o;
    o.model_path = *path_;
    o.device = device;
    o.tp_size = tp_size;
    o.num_device_blocks = 8;
    LocalCommGroup group(tp_size);
    auto comm = group.Rank(0);
    auto e = Engine::Create(o, tp_size > 1 ? comm.get() : nullptr);
    return e.ok() ? Status::Ok() : e.status();
  }
  static std::string* path_;
};
std::string* CudaDeviceSelectionTest::path_ = nullptr;

TEST_F(CudaDeviceSelectionTest, MalformedDeviceStringsAreArgumentErrors) {
  for (const char* dev : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:0:1", "cuda:123456"}) {
    Status st = Create(dev);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << dev << ": " << st.ToString();
  }
}

TEST_F(CudaDeviceSelectionTest, TensorParallelOnCudaIsUnimplemented) {
  Status st = Create("cuda:0", 2);
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented) << st.ToString();
  EXPECT_NE(st.message().find("NCCL"), std::string::npos) << st.message();
}

TEST_F(CudaDeviceSelectionTest, MissingDeviceIsAnErrorNotACrash) {
  auto count = kernels::CudaDeviceCount();
  const int visible = count.ok() ? *count : 0;
  Status st = Create("cuda:" + std::to_string(visible));  // one past the last device
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kUnavailable)
      << st.ToString();
  if (visible == 0) {
    EXPECT_EQ(Create("cuda:0").code(), StatusCode::kUnavailable);
    EXPECT_EQ(kernels::MakeCudaBackend(0).status().code(), StatusCode::kUnavailable);
  }
}

TEST_F(CudaDeviceSelectionTest, KvMemoryFractionNeedsABackendThatReportsMemory) {
  EngineOptions o;
  o.model_path = *path_;
  o.kv_memory_fraction = 0.5;  // num_device_blocks 0: size from memory
  auto e = Engine::Create(o, nullptr);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnimplemented) << e.status().ToString();
  EXPECT_NE(e.status().message().find("num_device_blocks"), std::string::npos) << e.status().message();
  o.kv_memory_fraction = 1.5;
  EXPECT_EQ(Engine::Create(o, nullptr).status().code(), StatusCode::kInvalidArgument);
  o.num_device_blocks = 8;  // a fixed pool ignores the fraction
  EXPECT_TRUE(Engine::Create(o, nullptr).ok());
}

TEST_F(CudaDeviceSelectionTest, ProbeDeviceReportsMemoryOrTheReason) {
  EXPECT_EQ(ProbeDevice("cpu").status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(ProbeDevice("cuda:x").status().code(), StatusCode::kInvalidArgument);
  auto mem = ProbeDevice("cuda:0");
  if (mem.ok()) {
    EXPECT_GT(mem->total_bytes, 0);
    EXPECT_GT(mem->free_bytes, 0);
    EXPECT_LE(mem->free_bytes, mem->total_bytes);
  } else {
    EXPECT_EQ(mem.status().code(), StatusCode::kUnavailable) << mem.status().ToString();
    EXPECT_NE(mem.status().message().find("cuda:0"), std::string::npos) << mem.status().message();
  }
}

}  // namespace
}  // namespace skipjoin
