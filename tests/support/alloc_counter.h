#pragma once
// A counting replacement of the global operator new/delete for test binaries.
//
// Linking tests/support/alloc_counter.cc (part of logpipe_test_support) replaces every
// replaceable form of operator new and delete (plain, array, nothrow, aligned, sized) with
// versions that call malloc/free and count each allocation. Stage tests use it to show that
// a hot path allocates nothing:
//   const uint64_t before = logpipe::testing::AllocationCount();
//   stage->Process(batch, *scratch);
//   EXPECT_EQ(logpipe::testing::AllocationCount() - before, 0u);
// Thread-safety: the counter is a relaxed atomic; counts from other threads are included, so
//   measure while no other thread allocates.
// Note: inside namespace logpipe, `testing::` now finds logpipe::testing; write `::testing::`
//   for GoogleTest names there.

#include <cstdint>

namespace logpipe {
namespace testing {

// Number of calls to any operator new since the program started.
uint64_t AllocationCount();

}  // namespace testing
}  // namespace logpipe
