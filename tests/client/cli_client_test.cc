// The pure parts of the cluster commands: launch's key flags as --set
// overrides, where a native client connects (with --set applied to its
// config), submit's logprobs table, and the log line time stamp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "client/cluster_client.h"
#include "client/launch_options.h"
#include "client/logprobs_text.h"
#include "common/config/cluster_config.h"
#include "common/logging.h"

namespace skipjoin::cli {
namespace {

constexpr const char* kConfig =
    "name: t\n"
    "coordinator: {node: local, http_port: 8000, client_port: 5555, worker_port: 5556}\n"
    "nodes:\n"
    "  - {name: local, host: 127.0.0.1, devices: [{kind: cpu, index: 0}]}\n"
    "model: {path: /models/a.gguf, name: a}\n"
    "replicas: {count: 1, tp: 1}\n"
    "security: {auth: none}\n";

config::ClusterConfig Load(const std::vector<std::string>& sets) {
  auto cfg = config::ParseClusterConfig(kConfig, "test.yaml", sets);
  EXPECT_TRUE(cfg.ok()) << cfg.status().message();
  return cfg.ok() ? *cfg : config::ClusterConfig{};
}

TEST(LaunchKeyOverridesTest, NoFlagsNoOverrides) { EXPECT_TRUE(LaunchKeyOverrides({}).empty()); }

TEST(LaunchKeyOverridesTest, ModelFlagSetsModelPath) {
  LaunchKeyFlags f;
  f.model = "/data/other model.gguf";
  const auto cfg = Load(LaunchKeyOverrides(f));
  EXPECT_EQ(cfg.model.path, "/data/other model.gguf");
  EXPECT_EQ(cfg.coordinator.http_port, 8000);
  EXPECT_FALSE(cfg.coordinator.api_key.has_value());
}

TEST(LaunchKeyOverridesTest, HttpPortFlagSetsCoordinatorHttpPort) {
  LaunchKeyFlags f;
  f.http_port = 9123;
  EXPECT_EQ(Load(LaunchKeyOverrides(f)).coordinator.http_port, 9123);
}

TEST(LaunchKeyOverridesTest, ApiKeyFlagSetsCoordinatorApiKey) {
  LaunchKeyFlags f;
  f.api_key = "s3cret";
  const auto cfg = Load(LaunchKeyOverrides(f));
  ASSERT_TRUE(cfg.coordinator.api_key.has_value());
  EXPECT_EQ(*cfg.coordinator.api_key, "s3cret");
}

// Each flag gives the config the same value as the --set of its key.
TEST(LaunchKeyOverridesTest, FlagsEqualTheirSetOverrides) {
  LaunchKeyFlags f;
  f.model = "/m/x.gguf";
  f.http_port = 9001;
  f.api_key = "k1";
  const auto by_flags = Load(LaunchKeyOverrides(f));
  const auto by_sets =
      Load({"model.path=/m/x.gguf", "coordinator.http_port=9001", "coordinator.api_key=k1"});
  EXPECT_EQ(by_flags.model.path, by_sets.model.path);
  EXPECT_EQ(by_flags.model.name, by_sets.model.name);
  EXPECT_EQ(by_flags.coordinator.http_port, by_sets.coordinator.http_port);
  EXPECT_EQ(by_flags.coordinator.api_key, by_sets.coordinator.api_key);
  EXPECT_EQ(config::ClusterId(by_flags), config::ClusterId(by_sets));
}

// Launch appends the flags' overrides after the --set ones: the flag wins.
TEST(LaunchKeyOverridesTest, FlagWinsOverAnEarlierSetOfTheSameKey) {
  LaunchKeyFlags f;
  f.http_port = 9002;
  std::vector<std::string> sets = {"coordinator.http_port=9009"};
  for (auto& s : LaunchKeyOverrides(f)) sets.push_back(s);
  EXPECT_EQ(Load(sets).coordinator.http_port, 9002);
}

// A value that YAML would read as a list, a map, a number or a comment stays text.
TEST(LaunchKeyOverridesTest, ValuesThatLookLikeYamlStayText) {
  for (const std::string key : {"[a, b]", "a: b", "12345", "#k", "\"q\\", "*x"}) {
    LaunchKeyFlags f;
    f.api_key = key;
    f.model = key;
    const auto cfg = Load(LaunchKeyOverrides(f));
    ASSERT_TRUE(cfg.coordinator.api_key.has_value()) << key;
    EXPECT_EQ(*cfg.coordinator.api_key, key);
    EXPECT_EQ(cfg.model.path, key);
  }
}

TEST(LaunchKeyOverridesTest, OutOfRangePortIsAnErrorLikeItsSet) {
  LaunchKeyFlags f;
  f.http_port = 70000;
  auto cfg = config::ParseClusterConfig(kConfig, "test.yaml", LaunchKeyOverrides(f));
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("http_port"), std::string::npos) << cfg.status().message();
}

class ConfigFile {
 public:
  ConfigFile()
      : path_(std::filesystem::temp_directory_path() /
              ("cli_client_test_" + std::to_string(getpid()) + ".yaml")) {
    std::ofstream(path_) << kConfig;
  }
  ~ConfigFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// ResolveClientTarget on a config file with kConfig, plus these flags.
Result<ClientTarget> ResolveWithConfig(std::vector<std::string> sets,
                                       std::string coordinator = "") {
  ConfigFile file;
  ClientFlags flags;
  flags.config = file.path();
  flags.coordinator = std::move(coordinator);
  flags.sets = std::move(sets);
  return ResolveClientTarget(flags);
}

TEST(ResolveClientTargetTest, ReadsTheEndpointAndModelFromTheConfig) {
  auto t = ResolveWithConfig({});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->endpoint, "tcp://127.0.0.1:5555");
  EXPECT_EQ(t->model_path, "/models/a.gguf");
  EXPECT_FALSE(t->curve.enabled());
}

TEST(ResolveClientTargetTest, AppliesSetOverridesToTheConfig) {
  auto t = ResolveWithConfig(
      {"coordinator.client_port=6123", "nodes.0.host=127.0.0.2", "model.path=/other.gguf"});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->endpoint, "tcp://127.0.0.2:6123");
  EXPECT_EQ(t->model_path, "/other.gguf");
}

TEST(ResolveClientTargetTest, BadSetIsAnError) {
  auto t = ResolveWithConfig({"coordinator.client_prot=6123"});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("client_prot"), std::string::npos) << t.status().message();
}

TEST(ResolveClientTargetTest, SetWithoutAConfigIsAnError) {
  ClientFlags flags;
  flags.coordinator = "127.0.0.1:7000";
  flags.sets = {"coordinator.client_port=6123"};
  auto t = ResolveClientTarget(flags);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("--config"), std::string::npos) << t.status().message();
}

TEST(ResolveClientTargetTest, CoordinatorFlagWinsOverTheConfig) {
  auto t = ResolveWithConfig({}, "10.1.2.3:7000");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->endpoint, "tcp://10.1.2.3:7000");
}

TEST(UnreachableErrorTest, NamesTheAddressTheWaitAndWhatToCheck) {
  const Status st = UnreachableError("tcp://127.0.0.1:5555", std::chrono::milliseconds(2000));
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(st.message().find("no coordinator answered at tcp://127.0.0.1:5555 within 2 s"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("skipjoin launch CONFIG"), std::string::npos) << st.message();
  EXPECT_EQ(SecondsText(std::chrono::milliseconds(1500)), "1.5 s");
}

TEST(QuotedTokenTextTest, EscapesWhatATerminalWouldNotShow) {
  EXPECT_EQ(QuotedTokenText(" Paris"), "\" Paris\"");
  EXPECT_EQ(QuotedTokenText("a\nb\t\"c\\"), "\"a\\nb\\t\\\"c\\\\\"");
  EXPECT_EQ(QuotedTokenText("\x01"), "\"\\x01\"");
  EXPECT_EQ(QuotedTokenText("é"), "\"é\"");         // whole UTF-8 character
  EXPECT_EQ(QuotedTokenText("\xC3"), "\"\\xC3\"");  // half of one
  EXPECT_EQ(QuotedTokenText("\xE2\x82"), "\"\\xE2\\x82\"");
}

std::vector<protocol::TokenLogprobs> TwoTokens() {
  protocol::TokenLogprobs a;
  a.token = 1;
  a.logprob = -0.0213f;
  a.top = {{1, -0.0213f}, {2, -4.512f}};
  protocol::TokenLogprobs b;
  b.token = 3;
  b.logprob = -1.5f;
  b.top = {{2, -0.25f}, {3, -1.5f}};
  return {a, b};
}

std::string Piece(int32_t id) {
  switch (id) {
    case 1:
      return " Paris";
    case 2:
      return " the";
    default:
      return "\n";
  }
}

TEST(LogprobsTableTest, OneLinePerTokenWithTextLogprobAndAlternatives) {
  const std::string table = FormatLogprobsTable(TwoTokens(), Piece);
  EXPECT_EQ(table,
            "#  token      logprob  alternatives, most likely first\n"
            "0  \" Paris\"   -0.0213  \" Paris\" -0.0213 | \" the\" -4.5120\n"
            "1  \"\\n\"       -1.5000  \" the\" -0.2500 | \"\\n\" -1.5000\n");
}

TEST(LogprobsTableTest, WithoutTokenizerShowsIds) {
  const std::string table = FormatLogprobsTable(TwoTokens(), nullptr);
  EXPECT_NE(table.find("0  #1      -0.0213  #1 -0.0213 | #2 -4.5120\n"), std::string::npos)
      << table;
}

TEST(LogprobsTableTest, NoAlternativesWhenNoneCame) {
  protocol::TokenLogprobs a;
  a.token = 1;
  a.logprob = -2.0f;
  const std::string table = FormatLogprobsTable({a}, Piece);
  EXPECT_NE(table.find("0  \" Paris\"   -2.0000\n"), std::string::npos) << table;
}

TEST(LogTimeTest, IsoUtcWithMilliseconds) {
  using namespace std::chrono;
  // 2026-12-03T14:35:01.123Z
  const sys_time<milliseconds> t =
      sys_days{year{2026} / 12 / 3} + hours{14} + minutes{35} + seconds{1} + milliseconds{123};
  EXPECT_EQ(FormatLogTime(t), "2026-12-03T14:35:01.123Z");
  EXPECT_EQ(FormatLogTime(sys_days{year{1970} / 1 / 1}), "1970-01-01T00:00:00.000Z");
  // Milliseconds are truncated: 999.9 ms is still .999.
  EXPECT_EQ(FormatLogTime(sys_days{year{2000} / 2 / 29} + microseconds{999900}),
            "2000-02-29T00:00:00.999Z");
}

}  // namespace
}  // namespace skipjoin::cli
