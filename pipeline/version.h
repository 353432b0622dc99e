#pragma once
// The logpipe version string, set by CMake from project(VERSION).

namespace logpipe {

const char* Version();

}  // namespace logpipe
