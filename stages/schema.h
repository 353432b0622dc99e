#pragma once
// Schema: the named, typed fields that records of one job carry.
//
// Built once from config by the plan (the parse stage's named groups plus their declared
// types), then read-only. Stages refer to fields by index, never by name, in hot loops.
// Thread-safety: immutable after construction; share freely.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

enum class FieldType { kString, kInt, kFloat, kTime };

const char* FieldTypeName(FieldType type);

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kString;
  // For kTime: a strftime-style format ("%d/%b/%Y:%H:%M:%S %z"), or "epoch" / "epoch_ms".
  std::string time_format;
};

class Schema {
 public:
  // Returns the index of the new field. REQUIRES: no field named spec.name yet.
  size_t Add(FieldSpec spec);
  std::optional<size_t> Find(std::string_view name) const;
  const FieldSpec& field(size_t i) const { return fields_[i]; }
  size_t size() const { return fields_.size(); }
  const std::vector<FieldSpec>& fields() const { return fields_; }

 private:
  std::vector<FieldSpec> fields_;
};

}  // namespace logpipe
