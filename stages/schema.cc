#include "stages/schema.h"

#include <cassert>

namespace logpipe {

const char* FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString: return "string";
    case FieldType::kInt: return "int";
    case FieldType::kFloat: return "float";
    case FieldType::kTime: return "time";
  }
  return "?";
}

size_t Schema::Add(FieldSpec spec) {
  assert(!Find(spec.name).has_value());
  fields_.push_back(std::move(spec));
  return fields_.size() - 1;
}

std::optional<size_t> Schema::Find(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace logpipe
