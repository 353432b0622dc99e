#include "io/input_paths.h"

#include <errno.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

namespace logpipe {
namespace {

namespace fs = std::filesystem;

bool IsGlob(const std::string& entry) { return entry.find_first_of("*?[") != std::string::npos; }

std::string WorkingDirectory() {
  char buf[4096];
  if (getcwd(buf, sizeof buf) == nullptr) return "(unknown)";
  return buf;
}

std::string RelativeHint(const std::string& entry) {
  if (!entry.empty() && entry[0] == '/') return "";
  return " (relative paths start from the working directory " + WorkingDirectory() + ")";
}

// The first directory glob(3) could not read, for the message when nothing matches.
thread_local std::string t_glob_error;

int OnGlobError(const char* path, int err) {
  if (t_glob_error.empty() && err != ENOENT && err != ENOTDIR) {
    t_glob_error = std::string(path) + ": " + std::strerror(err);
  }
  return 0;  // keep going
}

// Appends every regular file below `dir` (following symlinks to files, not to directories).
Status ListDirectory(const std::string& entry, const std::string& dir,
                     std::vector<std::string>* out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  fs::recursive_directory_iterator end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) out->push_back(it->path().string());
  }
  if (ec) {
    return NoInputError(entry + ": cannot list directory " + dir + ": " + ec.message() +
                        "; check that it and its subdirectories are readable");
  }
  return Status::Ok();
}

// Expands one entry into `paths` (sorted). Never throws.
Status ExpandEntry(const std::string& entry, std::vector<std::string>* paths) {
  if (entry.empty()) {
    return NoInputError("an input path is empty; give a file, directory, glob or \"-\"");
  }
  if (entry == "-") {
    paths->push_back(entry);
    return Status::Ok();
  }
  if (IsGlob(entry)) {
    glob_t g;
    std::memset(&g, 0, sizeof g);
    t_glob_error.clear();
    int rc = glob(entry.c_str(), 0, &OnGlobError, &g);
    struct stat literal;
    if (rc == GLOB_NOMATCH && stat(entry.c_str(), &literal) == 0 && !S_ISDIR(literal.st_mode)) {
      globfree(&g);  // a file whose name holds glob characters, e.g. "app[1].log"
      paths->push_back(entry);
      return Status::Ok();
    }
    if (rc != 0) {
      globfree(&g);
      std::string why = rc == GLOB_NOSPACE ? "out of memory while expanding this glob"
                                           : "no file matches this glob";
      if (!t_glob_error.empty()) why += " (could not read " + t_glob_error + ")";
      return NoInputError(entry + ": " + why + "; check the pattern and the directory" +
                          RelativeHint(entry));
    }
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    for (const std::string& m : matches) {
      struct stat st;
      if (stat(m.c_str(), &st) != 0) continue;  // e.g. a dangling symlink
      if (S_ISDIR(st.st_mode)) {
        LOGPIPE_RETURN_IF_ERROR(ListDirectory(entry, m, paths));
      } else {
        paths->push_back(m);
      }
    }
    if (paths->empty()) {
      return NoInputError(entry +
                          ": the glob matches only directories with no file in them; "
                          "check the pattern");
    }
  } else {
    struct stat st;
    if (stat(entry.c_str(), &st) != 0) {
      int err = errno;
      std::string hint = err == EACCES ? "; check the permissions of the directories above it"
                                       : "; check the path" + RelativeHint(entry);
      return NoInputError(entry + ": " + std::strerror(err) + hint);
    }
    if (S_ISDIR(st.st_mode)) {
      LOGPIPE_RETURN_IF_ERROR(ListDirectory(entry, entry, paths));
      if (paths->empty()) {
        return NoInputError(entry +
                            ": directory holds no file; check that the logs were "
                            "copied there, or name the files directly");
      }
    } else {
      paths->push_back(entry);  // a regular file, or a pipe such as /dev/fd/63
    }
  }
  std::sort(paths->begin(), paths->end());
  return Status::Ok();
}

// Identity of an input for de-duplication: device and inode when it can be stat()ed, else
// its name.
std::pair<std::pair<uint64_t, uint64_t>, std::string> Identity(const std::string& path) {
  struct stat st;
  if (path != "-" && stat(path.c_str(), &st) == 0) {
    return {{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)}, ""};
  }
  return {{0, 0}, path};
}

}  // namespace

Result<std::vector<std::string>> ExpandInputPaths(const std::vector<std::string>& entries) {
  try {
    std::vector<std::string> result;
    std::set<std::pair<std::pair<uint64_t, uint64_t>, std::string>> seen;
    for (const std::string& entry : entries) {
      std::vector<std::string> paths;
      LOGPIPE_RETURN_IF_ERROR(ExpandEntry(entry, &paths));
      for (std::string& p : paths) {
        if (seen.insert(Identity(p)).second) result.push_back(std::move(p));
      }
    }
    return result;
  } catch (const std::exception& e) {
    return NoInputError(std::string("expanding input paths failed: ") + e.what());
  } catch (...) {
    return NoInputError("expanding input paths failed: unknown error");
  }
}

}  // namespace logpipe
