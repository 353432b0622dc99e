#include "io/status.h"

#include <gtest/gtest.h>

#include <string>

namespace logpipe {
namespace {

TEST(Status, DefaultIsOkWithExitCodeZero) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.exit_code(), 0);
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Status, CodesMapOntoSysexits) {
  // Values from sysexits.h, written out by hand.
  EXPECT_EQ(ExitCodeFor(StatusCode::kUsage), 64);
  EXPECT_EQ(ExitCodeFor(StatusCode::kDataError), 65);
  EXPECT_EQ(ExitCodeFor(StatusCode::kNoInput), 66);
  EXPECT_EQ(ExitCodeFor(StatusCode::kUnavailable), 69);
  EXPECT_EQ(ExitCodeFor(StatusCode::kInternal), 70);
  EXPECT_EQ(ExitCodeFor(StatusCode::kCantCreate), 73);
  EXPECT_EQ(ExitCodeFor(StatusCode::kIoError), 74);
  EXPECT_EQ(ExitCodeFor(StatusCode::kTempFail), 75);
  EXPECT_EQ(ExitCodeFor(StatusCode::kConfig), 78);
  EXPECT_EQ(ExitCodeFor(StatusCode::kInterrupted), 130);
  EXPECT_EQ(ExitCodeFor(StatusCode::kTerminated), 143);
}

TEST(Status, HelpersSetTheirCode) {
  EXPECT_EQ(UsageError("x").code(), StatusCode::kUsage);
  EXPECT_EQ(DataError("x").code(), StatusCode::kDataError);
  EXPECT_EQ(NoInputError("x").code(), StatusCode::kNoInput);
  EXPECT_EQ(InternalError("x").code(), StatusCode::kInternal);
  EXPECT_EQ(CantCreateError("x").code(), StatusCode::kCantCreate);
  EXPECT_EQ(IoError("x").code(), StatusCode::kIoError);
  EXPECT_EQ(ConfigError("x").code(), StatusCode::kConfig);
  EXPECT_EQ(NoInputError("x").exit_code(), 66);
}

TEST(Status, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kTerminated); ++c) {
    std::string name = StatusCodeName(static_cast<StatusCode>(c));
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name, "unknown");
  }
}

TEST(Status, WithPrefixPrependsNameAndKeepsCode) {
  Status s = DataError("bad line").WithPrefix("a.log:3");
  EXPECT_EQ(s.code(), StatusCode::kDataError);
  EXPECT_EQ(s.message(), "a.log:3: bad line");
  EXPECT_TRUE(Status::Ok().WithPrefix("x").ok());
}

TEST(Status, EncodeDecodeRoundTripsCodeAndBytes) {
  std::string msg("a.log.gz: truncated\0 gzip \xff", 27);
  Status in(StatusCode::kDataError, msg);
  std::string bytes;
  in.EncodeTo(&bytes);
  Status out;
  ASSERT_TRUE(Status::DecodeFrom(bytes, &out));
  EXPECT_EQ(out.code(), StatusCode::kDataError);
  EXPECT_EQ(out.message(), msg);
}

TEST(Status, EncodedOkDecodesAsOk) {
  std::string bytes;
  Status::Ok().EncodeTo(&bytes);
  Status out = InternalError("before");
  ASSERT_TRUE(Status::DecodeFrom(bytes, &out));
  EXPECT_TRUE(out.ok());
}

TEST(Status, DecodeRejectsShortOrInconsistentBytes) {
  Status out;
  EXPECT_FALSE(Status::DecodeFrom("", &out));
  EXPECT_FALSE(Status::DecodeFrom("1234567", &out));
  std::string bytes;
  IoError("abc").EncodeTo(&bytes);
  EXPECT_FALSE(Status::DecodeFrom(bytes + "x", &out));                        // trailing byte
  EXPECT_FALSE(Status::DecodeFrom(bytes.substr(0, bytes.size() - 1), &out));  // cut short
  std::string bad_code = bytes;
  bad_code[0] = 99;
  EXPECT_FALSE(Status::DecodeFrom(bad_code, &out));
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(NoInputError("x.log: missing"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNoInput);
  EXPECT_EQ(bad.status().message(), "x.log: missing");
}

Status FailsThenNeverReached(bool* reached) {
  LOGPIPE_RETURN_IF_ERROR(IoError("first"));
  *reached = true;
  return Status::Ok();
}

TEST(Status, ReturnIfErrorReturnsEarly) {
  bool reached = false;
  Status s = FailsThenNeverReached(&reached);
  EXPECT_FALSE(reached);
  EXPECT_EQ(s.message(), "first");
}

}  // namespace
}  // namespace logpipe
