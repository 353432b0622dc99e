#include "io/chunk.h"

#include <cstring>

namespace logpipe {

void Chunk::Reserve(size_t n) {
  if (n <= capacity_) return;
  // Uninitialised on purpose: the chunker overwrites what it uses.
  std::unique_ptr<char[]> bigger(new char[n]);
  if (size_ > 0) std::memcpy(bigger.get(), buf_.get(), size_);
  buf_ = std::move(bigger);
  capacity_ = n;
}

}  // namespace logpipe
