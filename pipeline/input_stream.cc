#include "pipeline/input_stream.h"

#include <utility>

#include "io/byte_source.h"
#include "io/url_fetch.h"
#include "pipeline/progress.h"
#include "pipeline/run_interrupt.h"

namespace logpipe {

InputStream::InputStream(std::vector<std::string> inputs, std::vector<InputRange> ranges,
                         const Plan& plan, std::vector<SkippedInput>* skipped, RunTrace* trace,
                         bool report_progress)
    : inputs_(std::move(inputs)), ranges_(std::move(ranges)), plan_(plan), skipped_(skipped),
      progress_(report_progress ? ProgressMeter::Active() : nullptr) {
  if (progress_ != nullptr) {
    std::vector<uint64_t> begins;
    for (size_t i = 0; i < inputs_.size(); ++i) begins.push_back(RangeOf(ranges_, i).begin);
    progress_->SetInputs(inputs_, std::move(begins));
  }
  if (plan_.fetch.model == FetchModel::kSerial) return;
  std::vector<FetchInput> fetch_inputs;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const std::string& name = inputs_[i];
    const InputRange range = RangeOf(ranges_, i);
    fetch_inputs.push_back({name, IsUrl(name) ? plan_.UrlOptionsFor(name) : UrlOptions(),
                            range.begin, range.end});
  }
  prefetcher_ = std::make_unique<Prefetcher>(std::move(fetch_inputs), plan_.fetch.model,
                                             plan_.fetch.workers, plan_.fetch.buffer_bytes,
                                             trace);
}

Result<std::unique_ptr<ByteSource>> InputStream::Open(size_t index) {
  if (prefetcher_) return prefetcher_->Open(index);
  const std::string& name = inputs_[index];
  if (!IsUrl(name)) {
    const InputRange range = RangeOf(ranges_, index);
    return range.whole() ? OpenInput(name) : OpenInputRange(name, range.begin, range.end);
  }
  return DecodeByMagic(OpenUrl(name, plan_.UrlOptionsFor(name), plan_.fetch.buffer_bytes));
}

bool InputStream::Skip(const Status& status) {
  const std::string& name = inputs_[next_input_ - 1];
  if (plan_.fetch.on_error != OnFetchError::kSkip || !IsUrl(name)) return false;
  if (skipped_ != nullptr) skipped_->push_back({name, status.message()});
  current_.reset();
  return true;
}

Result<bool> InputStream::Next(Chunk* chunk) {
  // SIGINT/SIGTERM: every executor reads through here, so each stops at its next chunk
  // through its read-error path (pipeline/run_interrupt.h).
  if (StopRequested()) return InterruptedStatus();
  while (true) {
    if (current_ == nullptr) {
      if (next_input_ == inputs_.size()) return false;
      Result<std::unique_ptr<ByteSource>> source = Open(next_input_);
      ++next_input_;
      if (!source.ok()) {
        if (Skip(source.status())) continue;
        return source.status();
      }
      const InputRange range = RangeOf(ranges_, next_input_ - 1);
      current_ = std::make_unique<Chunker>(std::move(source.value()),
                                           static_cast<uint32_t>(next_input_ - 1),
                                           plan_.chunker, range.begin, range.first_line);
    }
    Result<bool> more = current_->Next(chunk);
    if (!more.ok()) {
      if (Skip(more.status())) continue;
      return more.status();
    }
    if (*more) {
      chunk->seq = next_seq_++;
      if (progress_ != nullptr) progress_->OnChunk(*chunk);  // two relaxed atomic stores
      return true;
    }
    current_.reset();
  }
}

}  // namespace logpipe
