#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::ReadFile;
using ::logpipe::testing::TempDir;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

AtomicFile MustCreate(const std::string& path) {
  Result<AtomicFile> f = AtomicFile::Create(path);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return std::move(f).value();
}

TEST(AtomicFile, CommitPublishesAllAppendedBytes) {
  TempDir dir;
  std::string path = dir.path() + "/out.json";
  AtomicFile f = MustCreate(path);
  EXPECT_EQ(f.path(), path);
  std::string expected;
  for (int i = 0; i < 10000; ++i) {
    std::string piece = "row " + std::to_string(i) + "\n";
    ASSERT_TRUE(f.Append(piece).ok());
    expected += piece;
  }
  std::string big(3 << 20, 'B');  // larger than the buffer: written directly
  big[0] = '\0';
  ASSERT_TRUE(f.Append(big).ok());
  expected += big;
  ASSERT_TRUE(f.Append("end").ok());
  expected += "end";
  ASSERT_TRUE(f.Commit().ok());
  EXPECT_EQ(ReadFile(path), expected);
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"out.json"});  // no temp left
}

TEST(AtomicFile, NothingIsVisibleAtTheTargetBeforeCommit) {
  TempDir dir;
  std::string path = dir.path() + "/report.csv";
  AtomicFile f = MustCreate(path);
  ASSERT_TRUE(f.Append(std::string(2 << 20, 'x')).ok());  // some of it already on disk
  EXPECT_FALSE(Exists(path));
  std::vector<std::string> names = Names(dir.path());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].rfind(".report.csv.tmp.", 0), 0u) << names[0];
  ASSERT_TRUE(f.Commit().ok());
  EXPECT_TRUE(Exists(path));
}

TEST(AtomicFile, OldFileStaysWholeUntilCommitThenIsReplaced) {
  TempDir dir;
  std::string path = dir.Write("out.txt", "old contents\n");
  AtomicFile f = MustCreate(path);
  ASSERT_TRUE(f.Append("new").ok());
  EXPECT_EQ(ReadFile(path), "old contents\n");
  ASSERT_TRUE(f.Commit().ok());
  EXPECT_EQ(ReadFile(path), "new");
}

TEST(AtomicFile, AbortKeepsTheOldFileAndRemovesTheTemp) {
  TempDir dir;
  std::string path = dir.Write("out.txt", "old\n");
  AtomicFile f = MustCreate(path);
  ASSERT_TRUE(f.Append(std::string(3 << 20, 'n')).ok());
  f.Abort();
  EXPECT_EQ(ReadFile(path), "old\n");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"out.txt"});
  EXPECT_FALSE(f.Commit().ok());  // nothing left to commit
  EXPECT_EQ(ReadFile(path), "old\n");
}

TEST(AtomicFile, DestroyingWithoutCommitLeavesNoHalfWrittenFile) {
  TempDir dir;
  std::string path = dir.path() + "/never.txt";
  {
    AtomicFile f = MustCreate(path);
    ASSERT_TRUE(f.Append(std::string(3 << 20, 'h')).ok());
  }
  EXPECT_FALSE(Exists(path));
  EXPECT_TRUE(Names(dir.path()).empty());
}

TEST(AtomicFile, CreatesMissingParentDirectories) {
  TempDir dir;
  std::string path = dir.path() + "/a/b/c/out.txt";
  AtomicFile f = MustCreate(path);
  ASSERT_TRUE(f.Append("x").ok());
  ASSERT_TRUE(f.Commit().ok());
  EXPECT_EQ(ReadFile(path), "x");
}

TEST(AtomicFile, RelativePathInWorkingDirectory) {
  TempDir dir;
  char old_cwd[4096];
  ASSERT_NE(getcwd(old_cwd, sizeof old_cwd), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  {
    AtomicFile f = MustCreate("plain.txt");
    ASSERT_TRUE(f.Append("rel").ok());
    Status st = f.Commit();
    EXPECT_TRUE(st.ok()) << st.message();
  }
  ASSERT_EQ(chdir(old_cwd), 0);
  EXPECT_EQ(ReadFile(dir.path() + "/plain.txt"), "rel");
}

TEST(AtomicFile, MovedFileCommitsOnce) {
  TempDir dir;
  std::string path = dir.path() + "/moved.txt";
  AtomicFile a = MustCreate(path);
  ASSERT_TRUE(a.Append("one ").ok());
  AtomicFile b = std::move(a);
  ASSERT_TRUE(b.Append("two").ok());
  AtomicFile c = MustCreate(dir.path() + "/other.txt");
  c = std::move(b);  // c's own temp file is removed
  ASSERT_TRUE(c.Commit().ok());
  EXPECT_EQ(ReadFile(path), "one two");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"moved.txt"});
  EXPECT_FALSE(c.Commit().ok());  // at most once
}

TEST(AtomicFile, TargetThatIsADirectoryIsCantCreate) {
  TempDir dir;
  Result<AtomicFile> f = AtomicFile::Create(dir.path());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCantCreate);
  EXPECT_NE(f.status().message().find(dir.path()), std::string::npos);
  EXPECT_NE(f.status().message().find("directory"), std::string::npos) << f.status().message();
}

TEST(AtomicFile, ParentThatIsAFileIsCantCreateNamingPathAndReason) {
  TempDir dir;
  std::string file = dir.Write("file.txt", "");
  std::string path = file + "/out.json";
  Result<AtomicFile> f = AtomicFile::Create(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCantCreate);
  EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("check"), std::string::npos);
}

TEST(AtomicFile, ReadOnlyDirectoryIsCantCreate) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: directory permissions do not apply";
  TempDir dir;
  std::string ro = dir.path() + "/ro";
  ASSERT_EQ(mkdir(ro.c_str(), 0555), 0);
  Result<AtomicFile> f = AtomicFile::Create(ro + "/out.txt");
  chmod(ro.c_str(), 0755);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCantCreate);
  EXPECT_NE(f.status().message().find("Permission denied"), std::string::npos);
}

}  // namespace
}  // namespace logpipe
