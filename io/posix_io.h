#pragma once
// Two POSIX calls as every file reader in logpipe makes them: open(2) retried when a signal
// interrupts it, and pread(2) at an offset with the two errors a reader of a plain file reports
// (the file shrank under it; the device failed), worded the same everywhere.
//
// Thread-safety: both are plain system calls; callers own their descriptors.
// Errors: OpenRetrying returns -1 with errno set, like open(2); PreadSome returns kIo naming
//   `name`, the byte it failed at and what to do.

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/status.h"

namespace logpipe {

// open(path, flags, mode), again while it fails with EINTR.
int OpenRetrying(const std::string& path, int flags, mode_t mode = 0);

// Reads 1 to n bytes of `fd` at `offset` (fewer when the kernel returns fewer), retrying EINTR.
// Errors: kIo "<name>: the file shrank during the run: bytes <offset>-<gone_end> are gone" when
// the file ends before `offset` (gone_end: where the bytes the caller expected end), or
// "<name>: read failed at byte <offset>: <reason>". REQUIRES: n > 0.
Result<size_t> PreadSome(int fd, const std::string& name, uint64_t offset, char* buf, size_t n,
                         uint64_t gone_end);

// PreadSome until all n bytes are read; the same errors, at the byte the file ended or failed.
Status PreadFull(int fd, const std::string& name, uint64_t offset, char* buf, size_t n);

}  // namespace logpipe
