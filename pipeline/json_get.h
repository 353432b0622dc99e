#pragma once
// Strict reads of integers from nlohmann JSON, for the files logpipe writes and reads back
// (shard plans, part trailers), which users can edit or damage: a number of the wrong kind
// (a float where a count belongs, a negative size, one out of range) throws
// std::invalid_argument naming the field instead of converting, which for an out-of-range
// float is undefined behaviour. Callers catch std::exception around a whole decode.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace logpipe::json_get {

template <typename Json>
uint64_t U64(const Json& j, const char* field, uint64_t max = UINT64_MAX) {
  const Json& v = j.at(field);
  if (!v.is_number_unsigned() || v.template get<uint64_t>() > max) {
    throw std::invalid_argument(std::string("\"") + field + "\" is not a count in range");
  }
  return v.template get<uint64_t>();
}

template <typename Json>
int64_t I64(const Json& j, const char* field) {
  const Json& v = j.at(field);
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.template get<uint64_t>() > uint64_t(INT64_MAX))) {
    throw std::invalid_argument(std::string("\"") + field + "\" is not an integer in range");
  }
  return v.template get<int64_t>();
}

// Whether `j` is an object whose "format" is the string `name` (never throws).
template <typename Json>
bool IsFormat(const Json& j, const char* name) {
  if (!j.is_object()) return false;
  auto it = j.find("format");
  return it != j.end() && it->is_string() && it->template get<std::string>() == name;
}

}  // namespace logpipe::json_get
