// logpipe's entry point: everything happens in RunCli; this only guarantees that nothing
// escapes as an uncaught exception (exit 70, EX_SOFTWARE, with a message).

#include <exception>
#include <iostream>

#include "pipeline/cli.h"

int main(int argc, char** argv) {
  try {
    return logpipe::RunCli(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "logpipe: internal error: " << e.what() << " (please report this)\n";
  } catch (...) {
    std::cerr << "logpipe: internal error: unknown exception (please report this)\n";
  }
  return 70;
}
