// GgufFile: metadata round trip, and malformed files turn into errors that
// name the file and the key or tensor (never a crash or an out-of-bounds read).
#include "common/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "tests/testutil/gguf_writer.h"
#include "tests/testutil/tiny_model.h"

namespace skipjoin {
namespace {

using testutil::GgufType;
using testutil::GgufWriter;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/gguf_test_" + std::to_string(::getpid()) + "_" + name;
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), b.size());
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

Result<std::unique_ptr<GgufFile>> OpenBytes(const std::vector<uint8_t>& b,
                                            const std::string& name) {
  const std::string path = TempPath(name);
  WriteBytes(path, b);
  return GgufFile::Open(path);
}

TEST(GgufTest, RoundTripsEveryMetadataType) {
  GgufWriter w;
  w.AddU8("u8", 200);
  w.AddI8("i8", -100);
  w.AddU16("u16", 60000);
  w.AddI16("i16", -30000);
  w.AddU32("u32", 4000000000u);
  w.AddI32("i32", -2000000000);
  w.AddU64("u64", 1ull << 40);
  w.AddI64("i64", -(1ll << 50));
  w.AddF32("f32", 0.25f);
  w.AddF64("f64", 1e-300);
  w.AddBool("yes", true);
  w.AddBool("no", false);
  w.AddString("s", "héllo");
  w.AddString("empty", "");
  w.AddStringArray("sa", {"a", "", "ccc"});
  w.AddIntArray("ia", GgufType::kI32, {1, -2, 3});
  w.AddIntArray("u8a", GgufType::kU8, {0, 255});
  w.AddIntArray("ba", GgufType::kBool, {1, 0});
  w.AddFloatArray("fa", GgufType::kF32, {0.5, -1.5});
  w.AddFloatArray("da", GgufType::kF64, {1e100});
  w.AddNestedStringArray("nested", {{"x", "y"}, {}, {"z"}});
  w.AddStringArray("empty_arr", {});
  w.set_version(2);
  auto g = OpenBytes(w.Serialize(), "types.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const GgufFile& f = **g;
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(*f.GetInt("u8"), 200);
  EXPECT_EQ(*f.GetInt("i8"), -100);
  EXPECT_EQ(*f.GetInt("u16"), 60000);
  EXPECT_EQ(*f.GetInt("i16"), -30000);
  EXPECT_EQ(*f.GetInt("u32"), 4000000000ll);
  EXPECT_EQ(*f.GetInt("i32"), -2000000000);
  EXPECT_EQ(*f.GetInt("u64"), 1ll << 40);
  EXPECT_EQ(*f.GetInt("i64"), -(1ll << 50));
  EXPECT_EQ(*f.GetFloat("f32"), 0.25);
  EXPECT_EQ(*f.GetFloat("f64"), 1e-300);
  EXPECT_EQ(*f.GetFloat("u32"), 4e9);  // GetFloat accepts integers
  EXPECT_TRUE(*f.GetBool("yes"));
  EXPECT_FALSE(*f.GetBool("no"));
  EXPECT_EQ(*f.GetString("s"), "héllo");
  EXPECT_EQ(*f.GetString("empty"), "");
  EXPECT_EQ(*f.GetStringArray("sa"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(*f.GetIntArray("ia"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f.GetIntArray("u8a"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(*f.GetIntArray("ba"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(*f.GetFloatArray("fa"), (std::vector<double>{0.5, -1.5}));
  EXPECT_EQ(*f.GetFloatArray("da"), (std::vector<double>{1e100}));
  EXPECT_EQ(*f.GetFloatArray("ia"), (std::vector<double>{1, -2, 3}));
  // Nested arrays are flattened in order.
  EXPECT_EQ(*f.GetStringArray("nested"), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_TRUE(f.GetIntArray("empty_arr").ok() || f.GetStringArray("empty_arr").ok());
  EXPECT_EQ(f.metadata().size(), 22u);

  EXPECT_EQ(f.GetInt("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(f.GetInt("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetString("u8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetBool("u8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetStringArray("ia").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.GetInt("missing").status().message().find("missing"), std::string::npos);
}

TEST(GgufTest, ReadsTensorsAtCustomAlignment) {
  for (uint32_t alignment : {32u, 64u, 8u}) {
    GgufWriter w;
    w.set_alignment(alignment);
    std::vector<float> a = {1, 2, 3}, b(32 * 2, 0.5f);
    ASSERT_TRUE(w.AddTensorF32("a", {3}, GgmlType::kF32, a).ok());
    ASSERT_TRUE(w.AddTensorF32("b", {2, 32}, GgmlType::kQ8_0, b).ok());
    auto g = OpenBytes(w.Serialize(), "align.gguf");
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    const GgufTensorInfo* ta = (*g)->FindTensor("a");
    const GgufTensorInfo* tb = (*g)->FindTensor("b");
    ASSERT_TRUE(ta && tb);
    EXPECT_EQ(tb->dims, (std::vector<int64_t>{32, 2}));  // ggml order
    EXPECT_EQ(tb->nbytes, 2u * 34);
    EXPECT_EQ(ta->offset % alignment, 0u);
    EXPECT_EQ(tb->offset % alignment, 0u);
    float got[3];
    std::memcpy(got, (*g)->TensorData(*ta).data(), 12);
    EXPECT_EQ(got[2], 3.0f);
    EXPECT_EQ((*g)->FindTensor("nope"), nullptr);
  }
}

TEST(GgufTest, RejectsBadMagicAndVersion) {
  GgufWriter w;
  w.AddU32("x", 1);
  std::vector<uint8_t> b = w.Serialize();
  b[0] = 'X';
  auto g = OpenBytes(b, "magic.gguf");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("magic.gguf"), std::string::npos);
  EXPECT_NE(g.status().message().find("magic"), std::string::npos);
  for (uint32_t v : {1u, 4u, 0x03000000u}) {
    w.set_version(v);
    g = OpenBytes(w.Serialize(), "version.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(g.status().message().find("version"), std::string::npos);
  }
  EXPECT_FALSE(OpenBytes({}, "empty.gguf").ok());
  EXPECT_EQ(GgufFile::Open(TempPath("does_not_exist")).status().code(), StatusCode::kNotFound);
}

TEST(GgufTest, TruncationAnywhereIsAnError) {
  const std::string path = TempPath("tiny_full.gguf");
  testutil::TinyModelSpec spec;
  spec.layers = 1;
  spec.gguf_weight_type = GgmlType::kQ4_1;
  ASSERT_TRUE(testutil::WriteTinyGguf(spec, path).ok());
  const std::vector<uint8_t> full = ReadBytes(path);
  ASSERT_TRUE(GgufFile::Open(path).ok());
  const std::string cut = TempPath("tiny_cut.gguf");
  std::vector<size_t> cuts;
  // Every few bytes through the header and metadata, sparser through the data.
  for (size_t n = 0; n < full.size(); n += (n < 16384 ? 11 : 4093)) cuts.push_back(n);
  // Shrink one file in place (rewriting it each time is slow on some disks).
  WriteBytes(cut, full);
  int tried = 0;
  for (auto it = cuts.rbegin(); it != cuts.rend(); ++it) {
    const size_t n = *it;
    ASSERT_EQ(::truncate(cut.c_str(), static_cast<off_t>(n)), 0);
    auto g = GgufFile::Open(cut);
    EXPECT_FALSE(g.ok()) << "truncated at " << n << " of " << full.size();
    if (!g.ok()) {
      EXPECT_NE(g.status().message().find(cut), std::string::npos) << g.status().ToString();
    }
    ++tried;
  }
  EXPECT_GT(tried, 1000);
  // One byte short of the last tensor's data (padding after it is optional).
  uint64_t data_end = 0;
  auto reopened = GgufFile::Open(path);
  ASSERT_TRUE(reopened.ok());
  for (const GgufTensorInfo& t : (*reopened)->tensors()) {
    data_end = std::max<uint64_t>(data_end, t.offset + t.nbytes);
  }
  WriteBytes(cut, std::vector<uint8_t>(full.begin(), full.begin() + data_end - 1));
  auto g = GgufFile::Open(cut);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(g.status().message().find("tensor '"), std::string::npos) << g.status().ToString();
}

TEST(GgufTest, RejectsUnknownTensorType) {
  GgufWriter w;
  w.AddTensor("weird.weight", {4}, static_cast<GgmlType>(99), std::vector<uint8_t>(16));
  auto g = OpenBytes(w.Serialize(), "type.gguf");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("weird.weight"), std::string::npos);
  EXPECT_NE(g.status().message().find("99"), std::string::npos);
}

TEST(GgufTest, RejectsTensorDataPastEof) {
  GgufWriter w;
  // Declares 1000 floats but carries 4 bytes of data.
  w.AddTensor("big.weight", {1000}, GgmlType::kF32, std::vector<uint8_t>(4));
  auto g = OpenBytes(w.Serialize(), "eof.gguf");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(g.status().message().find("big.weight"), std::string::npos);
}

TEST(GgufTest, RejectsAbsurdCountsWithoutAllocating) {
  auto u32 = [](uint32_t v) {
    std::vector<uint8_t> b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
  };
  auto u64 = [](uint64_t v) {
    std::vector<uint8_t> b(8);
    std::memcpy(b.data(), &v, 8);
    return b;
  };
  auto cat = [](std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  {  // array of 2^60 u32
    GgufWriter w;
    w.AddRaw("huge.array", 9, cat(u32(4), u64(1ull << 60)));
    auto g = OpenBytes(w.Serialize(), "huge_array.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("huge.array"), std::string::npos);
  }
  {  // array of 2^62 strings
    GgufWriter w;
    w.AddRaw("huge.strings", 9, cat(u32(8), u64(1ull << 62)));
    EXPECT_FALSE(OpenBytes(w.Serialize(), "huge_strings.gguf").ok());
  }
  {  // string of length 2^63
    GgufWriter w;
    w.AddRaw("huge.string", 8, u64(1ull << 63));
    auto g = OpenBytes(w.Serialize(), "huge_string.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("huge.string"), std::string::npos);
  }
  {  // arrays nested deeper than any real file
    std::vector<uint8_t> payload;
    for (int i = 0; i < 100; ++i) payload = cat(payload, cat(u32(9), u64(1)));
    GgufWriter w;
    w.AddRaw("deep", 9, payload);
    EXPECT_FALSE(OpenBytes(w.Serialize(), "deep.gguf").ok());
  }
  {  // unknown value type
    GgufWriter w;
    w.AddRaw("odd", 77, u64(0));
    auto g = OpenBytes(w.Serialize(), "odd.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("odd"), std::string::npos);
  }
  {  // header tensor / kv counts of 2^63
    GgufWriter w;
    std::vector<uint8_t> b = w.Serialize();
    std::vector<uint8_t> c = b;
    std::memcpy(b.data() + 8, u64(1ull << 63).data(), 8);
    EXPECT_FALSE(OpenBytes(b, "ntensors.gguf").ok());
    std::memcpy(c.data() + 16, u64(1ull << 63).data(), 8);
    EXPECT_FALSE(OpenBytes(c, "nkv.gguf").ok());
  }
  {  // dims whose product overflows
    GgufWriter w;
    w.AddTensor("overflow", {1ll << 40, 1ll << 40}, GgmlType::kF32, {});
    auto g = OpenBytes(w.Serialize(), "overflow.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("overflow"), std::string::npos);
  }
}

TEST(GgufTest, RejectsDuplicatesAndBadAlignment) {
  {
    GgufWriter w;
    w.AddU32("k", 1);
    w.AddU32("k", 2);
    auto g = OpenBytes(w.Serialize(), "dupkey.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("'k'"), std::string::npos);
  }
  {
    GgufWriter w;
    w.AddTensor("t", {1}, GgmlType::kF32, std::vector<uint8_t>(4));
    w.AddTensor("t", {1}, GgmlType::kF32, std::vector<uint8_t>(4));
    EXPECT_FALSE(OpenBytes(w.Serialize(), "duptensor.gguf").ok());
  }
  {
    GgufWriter w;
    w.AddU32("general.alignment", 48);
    EXPECT_FALSE(OpenBytes(w.Serialize(), "align48.gguf").ok());
  }
  {  // Q8_0 row of 16 elements: not a whole block
    GgufWriter w;
    w.AddTensor("partial", {16}, GgmlType::kQ8_0, std::vector<uint8_t>(34));
    auto g = OpenBytes(w.Serialize(), "partial.gguf");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("partial"), std::string::npos);
  }
}

}  // namespace
}  // namespace skipjoin
