#include "io/input_paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::TempDir;
using Paths = std::vector<std::string>;

Paths Expand(const Paths& entries) {
  Result<Paths> r = ExpandInputPaths(entries);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Paths{};
}

TEST(InputPaths, FileEntryIsReturnedAsGiven) {
  TempDir dir;
  std::string a = dir.Write("a.log", "x\n");
  EXPECT_EQ(Expand({a}), Paths{a});
}

TEST(InputPaths, DashMeansStandardInput) { EXPECT_EQ(Expand({"-"}), Paths{"-"}); }

TEST(InputPaths, MissingFileIsNoInputNamingTheEntry) {
  TempDir dir;
  std::string missing = dir.path() + "/missing.log";
  Result<Paths> r = ExpandInputPaths({missing});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoInput);
  EXPECT_NE(r.status().message().find(missing), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("check"), std::string::npos);
}

TEST(InputPaths, MissingRelativePathMentionsTheWorkingDirectory) {
  Result<Paths> r = ExpandInputPaths({"surely/not/here.log"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("surely/not/here.log"), std::string::npos);
  EXPECT_NE(r.status().message().find("working directory"), std::string::npos)
      << r.status().message();
}

TEST(InputPaths, GlobResultsAreSortedBytewise) {
  TempDir dir;
  for (const char* n : {"b.log", "a10.log", "a.log", "C.log", "skip.txt"}) dir.Write(n, "x\n");
  const std::string d = dir.path();
  // Bytewise: uppercase before lowercase, "a.log" before "a10.log" ('.' < '1').
  EXPECT_EQ(Expand({d + "/*.log"}),
            (Paths{d + "/C.log", d + "/a.log", d + "/a10.log", d + "/b.log"}));
}

TEST(InputPaths, GlobWithQuestionMarkAndClass) {
  TempDir dir;
  for (const char* n : {"app-1.log", "app-2.log", "app-3.log", "app-10.log"}) dir.Write(n, "");
  const std::string d = dir.path();
  EXPECT_EQ(Expand({d + "/app-[12].log"}), (Paths{d + "/app-1.log", d + "/app-2.log"}));
  EXPECT_EQ(Expand({d + "/app-?.log"}),
            (Paths{d + "/app-1.log", d + "/app-2.log", d + "/app-3.log"}));
}

TEST(InputPaths, GlobMatchingNothingIsNoInput) {
  TempDir dir;
  dir.Write("a.txt", "");
  std::string pattern = dir.path() + "/*.log";
  Result<Paths> r = ExpandInputPaths({pattern});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoInput);
  EXPECT_NE(r.status().message().find(pattern), std::string::npos);
  EXPECT_NE(r.status().message().find("no file matches"), std::string::npos)
      << r.status().message();
}

TEST(InputPaths, GlobInMissingDirectoryIsNoInput) {
  TempDir dir;
  Result<Paths> r = ExpandInputPaths({dir.path() + "/nodir/*.log"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoInput);
}

TEST(InputPaths, DirectoryIsReadRecursivelyAndSorted) {
  TempDir dir;
  const std::string d = dir.path();
  dir.Write("logs/z.log", "");
  dir.Write("logs/sub/b.log.gz", "");
  dir.Write("logs/a.log", "");
  dir.Write("logs/sub/deeper/c", "");
  EXPECT_EQ(Expand({d + "/logs"}), (Paths{d + "/logs/a.log", d + "/logs/sub/b.log.gz",
                                          d + "/logs/sub/deeper/c", d + "/logs/z.log"}));
}

TEST(InputPaths, DirectoryWithNoFileIsNoInput) {
  TempDir dir;
  dir.Write("empty/sub/.keep", "");
  ASSERT_EQ(unlink((dir.path() + "/empty/sub/.keep").c_str()), 0);
  Result<Paths> r = ExpandInputPaths({dir.path() + "/empty"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoInput);
  EXPECT_NE(r.status().message().find(dir.path() + "/empty"), std::string::npos);
  EXPECT_NE(r.status().message().find("no file"), std::string::npos) << r.status().message();
}

TEST(InputPaths, GlobMatchingADirectoryExpandsIt) {
  TempDir dir;
  const std::string d = dir.path();
  dir.Write("day1/x.log", "");
  dir.Write("day2/y.log", "");
  EXPECT_EQ(Expand({d + "/day*"}), (Paths{d + "/day1/x.log", d + "/day2/y.log"}));
}

TEST(InputPaths, EntriesKeepTheirOrder) {
  TempDir dir;
  std::string b = dir.Write("b.log", ""), a = dir.Write("a.log", "");
  EXPECT_EQ(Expand({b, a}), (Paths{b, a}));
}

TEST(InputPaths, FileNamedTwiceIsReadOnceFirstPlaceWins) {
  TempDir dir;
  const std::string d = dir.path();
  std::string a = dir.Write("a.log", ""), b = dir.Write("b.log", "");
  EXPECT_EQ(Expand({b, d + "/*.log", a}), (Paths{b, a}));
  // The same file under another spelling is still the same file.
  EXPECT_EQ(Expand({a, d + "/./a.log", d}), (Paths{a, b}));
}

TEST(InputPaths, FileWhoseNameLooksLikeAGlobIsFound) {
  TempDir dir;
  std::string odd = dir.Write("app[1].log", "");
  EXPECT_EQ(Expand({odd}), Paths{odd});
}

TEST(InputPaths, EmptyEntryIsNoInput) {
  Result<Paths> r = ExpandInputPaths({""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoInput);
}

TEST(InputPaths, UnreadableDirectoryIsNoInput) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: chmod 000 does not block listing";
  TempDir dir;
  dir.Write("locked/a.log", "");
  std::string locked = dir.path() + "/locked";
  ASSERT_EQ(chmod(locked.c_str(), 0), 0);
  Result<Paths> r = ExpandInputPaths({locked});
  chmod(locked.c_str(), 0755);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoInput);
  EXPECT_NE(r.status().message().find(locked), std::string::npos);
}

}  // namespace
}  // namespace logpipe
