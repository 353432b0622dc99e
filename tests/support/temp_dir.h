#pragma once
// TempDir: a fresh directory under $TMPDIR for one test, removed with everything in it when
// the TempDir is destroyed. Also small file helpers for building nasty inputs.

#include <string>
#include <string_view>

namespace logpipe::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Returns path()/name after writing `bytes` to it (creating parent directories).
  std::string Write(const std::string& name, std::string_view bytes) const;

 private:
  std::string path_;
};

// Reads a whole (small) file; fails the test if it cannot.
std::string ReadFile(const std::string& path);

// Absolute path of a file in the source tree, e.g. SourcePath("data/sample/x.log").
std::string SourcePath(const std::string& relative);

}  // namespace logpipe::testing
