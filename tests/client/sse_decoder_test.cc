#include "client/bench/sse_decoder.h"

#include <gtest/gtest.h>

namespace skipjoin::bench {
namespace {

TEST(SseDecoderTest, EventsSurviveAnySplitOfTheBytes) {
  const std::string body =
      "data: {\"a\":1}\n\n: a comment\nevent: message\ndata: {\"b\":2}\r\n\r\ndata: [DONE]\n\n";
  const std::vector<std::string> want = {"{\"a\":1}", "{\"b\":2}", "[DONE]"};
  for (size_t piece = 1; piece <= body.size(); ++piece) {
    SseDecoder d;
    std::vector<std::string> events;
    for (size_t i = 0; i < body.size(); i += piece) {
      ASSERT_TRUE(d.Feed(std::string_view(body).substr(i, piece), &events).ok());
    }
    d.Finish(&events);
    EXPECT_EQ(events, want) << "pieces of " << piece;
  }
}

TEST(SseDecoderTest, DataLinesJoinAndTheSpaceAfterTheColonIsOptional) {
  SseDecoder d;
  std::vector<std::string> events;
  ASSERT_TRUE(d.Feed("data:first\ndata: second\n\n", &events).ok());
  EXPECT_EQ(events, std::vector<std::string>{"first\nsecond"});
}

TEST(SseDecoderTest, FinishKeepsALastEventWithoutItsBlankLine) {
  SseDecoder d;
  std::vector<std::string> events;
  ASSERT_TRUE(d.Feed("data: [DONE]", &events).ok());
  EXPECT_TRUE(events.empty());
  d.Finish(&events);
  EXPECT_EQ(events, std::vector<std::string>{"[DONE]"});
}

TEST(SseDecoderTest, AnOversizedEventIsAnError) {
  SseDecoder d;
  std::vector<std::string> events;
  const std::string big(SseDecoder::kMaxEventBytes + 1, 'x');
  EXPECT_EQ(d.Feed("data: " + big, &events).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace skipjoin::bench
