// CostModelStore: the per model and device file of the fitted step cost model.
#include "coordinator/server/cost_model_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace skipjoin::server {
namespace {

config::ClusterConfig Config(const std::string& dir, const char* device = "{kind: cpu, index: 0, threads: 2}") {
  auto c = config::ParseClusterConfig(std::string(R"(
name: t
nodes: [{name: n, host: 127.0.0.1, devices: [)") + device + R"(]}]
model: {path: /tmp/none.gguf, name: "my model/v1"}
replicas: {count: 1, tp: 1}
scheduler: {cost_model_dir: )" + dir + R"(}
kv: {num_device_blocks: 64}
)",
                                      "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : config::ClusterConfig{};
}

class CostModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("sj_cost_" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CostModelStoreTest, KeyNamesModelDeviceThreadsAndTp) {
  EXPECT_EQ(CostModelKey(Config(dir_)), "my_model_v1.cpu-t2.tp1");
  EXPECT_EQ(CostModelStore::PathFor(Config(dir_ + "/")), dir_ + "/my_model_v1.cpu-t2.tp1.json");
  EXPECT_EQ(CostModelKey(Config(dir_, "{kind: cuda, index: 0}")), "my_model_v1.cuda.tp1");
  // The prior follows the device kind.
  EXPECT_DOUBLE_EQ(CostPriorFor(Config(dir_)).b, scheduler::CpuSmolLmCostPrior().b);
  EXPECT_DOUBLE_EQ(CostPriorFor(Config(dir_, "{kind: cuda, index: 0}")).b, scheduler::Gpu7bCostPrior().b);
}

TEST_F(CostModelStoreTest, SavesAndLoadsTheFit) {
  CostModelStore store(CostModelStore::PathFor(Config(dir_)));
  EXPECT_EQ(store.Load().status().code(), StatusCode::kNotFound);
  scheduler::StepCostModel m(scheduler::CostCoefficients{0.01, 0.002, 0.003, 1e-6});
  for (int i = 1; i <= 50; ++i) {
    m.Observe({static_cast<double>(i * 7 % 64), static_cast<double>(i % 8 + 1), static_cast<double>(i * 40)},
              0.005 + 0.003 * (i * 7 % 64) + 0.01 * (i % 8 + 1));
  }
  ASSERT_TRUE(store.Save(m).ok());  // creates the folder
  auto back = store.Load();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->num_observations(), 50);
  EXPECT_DOUBLE_EQ(back->coefficients().a, m.coefficients().a);
  EXPECT_DOUBLE_EQ(back->coefficients().b, m.coefficients().b);
  EXPECT_DOUBLE_EQ(back->coefficients().c, m.coefficients().c);
  EXPECT_DOUBLE_EQ(back->coefficients().d, m.coefficients().d);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(CostModelStoreTest, MalformedFilesAreClearErrors) {
  const std::string path = dir_ + "/m.json";
  std::filesystem::create_directories(dir_);
  CostModelStore store(path);
  for (const char* text : {"not json", "[1,2]", R"({"a":0.1,"b":0.2,"c":0.3})", R"({"a":1e400,"b":0,"c":0,"d":0})",
                           R"({"a":0.1,"b":0,"c":0,"d":0,"covariance":[1,2]})",
                           R"({"a":0.1,"b":0,"c":0,"d":0,"prior_variance":-1})"}) {
    std::ofstream(path) << text;
    auto r = store.Load();
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(r.status().message().rfind(path + ": cost model", 0), 0u) << r.status().message();
  }
}

}  // namespace
}  // namespace skipjoin::server
