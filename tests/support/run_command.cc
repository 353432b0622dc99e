#include "tests/support/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace logpipe::testing {

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_bytes,
                         const std::string& cwd) {
  CommandResult result;
  int in[2], out[2], err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Feed stdin and drain both outputs together so no pipe fills up and blocks the child.
  size_t written = 0;
  if (stdin_bytes.empty()) {
    close(in[1]);
    in[1] = -1;
  } else {
    fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open || in[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_open) { fds[n] = {out[0], POLLIN, 0}; out_i = n++; }
    if (err_open) { fds[n] = {err[0], POLLIN, 0}; err_i = n++; }
    if (in[1] >= 0) { fds[n] = {in[1], POLLOUT, 0}; in_i = n++; }
    if (poll(fds, n, -1) < 0) break;
    auto drain = [&](int i, int fd, std::string* into, bool* open) {
      if (i < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = read(fd, buf, sizeof buf);
      if (got <= 0) {
        *open = false;
      } else {
        into->append(buf, static_cast<size_t>(got));
      }
    };
    drain(out_i, out[0], &result.out, &out_open);
    drain(err_i, err[0], &result.err, &err_open);
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t put = write(in[1], stdin_bytes.data() + written, stdin_bytes.size() - written);
      if (put > 0) written += static_cast<size_t>(put);
      if (put < 0 || written == stdin_bytes.size()) {
        close(in[1]);
        in[1] = -1;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult RunLogpipe(const std::vector<std::string>& args, const std::string& stdin_bytes) {
  std::vector<std::string> argv = {LOGPIPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, stdin_bytes, LOGPIPE_SOURCE_DIR);
}

}  // namespace logpipe::testing
