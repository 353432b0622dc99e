#pragma once
// InputStream: every input of a run, one after another, as one sequence of Chunks numbered
// by `seq`. Opens each input only when the previous one is exhausted, so at most one file
// descriptor (and one decompressor) is open at a time.
//
// Thread-safety: none; one reader (the executor's reading thread) calls Next().
// Cost: one Chunker's buffers; the caller's Chunk is refilled in place.
// Errors: the first open or read failure, naming the input (kNoInput, kIoError, kDataError).

#include <memory>
#include <string>
#include <vector>

#include "io/chunker.h"
#include "io/status.h"

namespace logpipe {

class InputStream {
 public:
  InputStream(std::vector<std::string> inputs, ChunkerOptions options);

  // Fills `chunk` with the next chunk of the run; false after the last input is exhausted.
  Result<bool> Next(Chunk* chunk);

  const std::vector<std::string>& inputs() const { return inputs_; }

 private:
  std::vector<std::string> inputs_;
  ChunkerOptions options_;
  size_t next_input_ = 0;
  std::unique_ptr<Chunker> current_;
  uint64_t next_seq_ = 0;
};

}  // namespace logpipe
