#include "pipeline/input_stream.h"

#include <utility>

namespace logpipe {

InputStream::InputStream(std::vector<std::string> inputs, ChunkerOptions options)
    : inputs_(std::move(inputs)), options_(options) {}

Result<bool> InputStream::Next(Chunk* chunk) {
  while (true) {
    if (current_ == nullptr) {
      if (next_input_ == inputs_.size()) return false;
      Result<std::unique_ptr<ByteSource>> source = OpenInput(inputs_[next_input_]);
      if (!source.ok()) return source.status();
      current_ = std::make_unique<Chunker>(std::move(source.value()),
                                           static_cast<uint32_t>(next_input_), options_);
      ++next_input_;
    }
    Result<bool> more = current_->Next(chunk);
    if (!more.ok()) return more.status();
    if (*more) {
      chunk->seq = next_seq_++;
      return true;
    }
    current_.reset();
  }
}

}  // namespace logpipe
