// CompileChoice: the output is exactly one of the strings.
#include <gtest/gtest.h>

#include "common/grammar/grammar.h"

namespace skipjoin::grammar {
namespace {

TEST(ChoiceTest, AcceptsExactlyTheChoices) {
  auto g = CompileChoice({"yes", "no", "not sure", "no way"});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (const char* c : {"yes", "no", "not sure", "no way"}) EXPECT_TRUE((*g)->Matches(c)) << c;
  EXPECT_FALSE((*g)->Matches("ye"));
  EXPECT_FALSE((*g)->Matches("yess"));
  EXPECT_FALSE((*g)->Matches(""));
  EXPECT_TRUE((*g)->IsValidPrefix("no "));
  EXPECT_FALSE((*g)->IsValidPrefix("nx"));
}

TEST(ChoiceTest, EmptyListIsAnError) {
  auto g = CompileChoice({});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(), "choice needs at least one string");
}

TEST(ChoiceTest, EmptyStringChoiceMatchesNothingWritten) {
  auto g = CompileChoice({"", "a"});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE((*g)->Matches(""));
  EXPECT_TRUE((*g)->Matches("a"));
}

}  // namespace
}  // namespace skipjoin::grammar
