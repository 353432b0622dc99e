#include "stages/event_start.h"

#include <gtest/gtest.h>

namespace logpipe {
namespace {

TEST(EventStart, StartRegexMarksLinesThatBeginEvents) {
  Result<std::unique_ptr<EventStart>> s = EventStart::Create(R"(^\[\d{4}-)", true, false);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE((*s)->StartsEvent("[2016-12-19 18:14:40,211] WARN x"));
  EXPECT_FALSE((*s)->StartsEvent("java.io.IOException: boom"));
  EXPECT_FALSE((*s)->StartsEvent("\tat kafka.Foo(Foo.scala:1)"));
  EXPECT_FALSE((*s)->StartsEvent(""));
  StartsEventFn fn = (*s)->AsFunction();
  EXPECT_TRUE(fn("[2023-05-15 18:19:49] local.ERROR: x"));
}

TEST(EventStart, StartRegexIsSearchedAnywhereInTheLine) {
  Result<std::unique_ptr<EventStart>> s = EventStart::Create("ERROR", true, false);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->StartsEvent("2024 ERROR x"));
}

TEST(EventStart, ContinueRegexMarksLinesThatJoinTheEventBefore) {
  Result<std::unique_ptr<EventStart>> s = EventStart::Create(R"(^(\s|Caused by:|#\d))", false, false);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE((*s)->StartsEvent("\tat x"));
  EXPECT_FALSE((*s)->StartsEvent("Caused by: y"));
  EXPECT_FALSE((*s)->StartsEvent("#12 {main}"));
  EXPECT_TRUE((*s)->StartsEvent("2024-01-01 INFO z"));
  EXPECT_TRUE((*s)->StartsEvent(""));
}

TEST(EventStart, BadRegexQuotesThePatternAndRe2sMessage) {
  Result<std::unique_ptr<EventStart>> s = EventStart::Create("^[a", true, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'^[a'"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("missing ]"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace logpipe
