#include "io/posix_io.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using testing::TempDir;

TEST(PosixIo, OpenRetryingOpensOrSetsErrno) {
  TempDir dir;
  const std::string path = dir.Write("a.log", "hello\n");
  const int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  close(fd);
  errno = 0;
  EXPECT_EQ(OpenRetrying(dir.path() + "/missing.log", O_RDONLY), -1);
  EXPECT_EQ(errno, ENOENT);
  const int created = OpenRetrying(dir.path() + "/new.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(created, 0);
  close(created);
}

TEST(PosixIo, PreadReadsAtAnOffsetAndNamesShrinkAndFailure) {
  TempDir dir;
  const std::string path = dir.Write("a.log", "0123456789");
  const int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char buf[16] = {};
  Result<size_t> got = PreadSome(fd, "a.log", 3, buf, 4, 7);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(std::string(buf, *got), std::string("3456").substr(0, *got));
  ASSERT_TRUE(PreadFull(fd, "a.log", 2, buf, 8).ok());
  EXPECT_EQ(std::string(buf, 8), "23456789");

  // Past the end: the bytes the caller expected are gone, from where they were sought.
  got = PreadSome(fd, "a.log", 10, buf, 4, 14);
  EXPECT_EQ(got.status().code(), StatusCode::kIoError);
  EXPECT_EQ(got.status().message(),
            "a.log: the file shrank during the run: bytes 10-14 are gone (was it truncated?); "
            "run again when it is stable");
  // PreadFull reads what there is, then says where the file ended.
  const Status short_read = PreadFull(fd, "a.log", 6, buf, 8);
  EXPECT_EQ(short_read.code(), StatusCode::kIoError);
  EXPECT_NE(short_read.message().find("bytes 10-14 are gone"), std::string::npos)
      << short_read.message();
  close(fd);

  // A descriptor that cannot be read: the OS reason and what to check.
  const Status bad = PreadFull(fd, "a.log", 0, buf, 1);
  EXPECT_EQ(bad.code(), StatusCode::kIoError);
  EXPECT_NE(bad.message().find("a.log: read failed at byte 0: "), std::string::npos)
      << bad.message();
  EXPECT_NE(bad.message().find("check the disk"), std::string::npos) << bad.message();
}

}  // namespace
}  // namespace logpipe
