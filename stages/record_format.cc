#include "stages/record_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "io/text_escape.h"
#include "stages/time_format.h"

namespace logpipe {

namespace {

struct Column {
  size_t field = 0;
  FieldType type = FieldType::kString;
};

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// Appends a present value's text form, as JSON (`json`) or as one CSV field.
void AppendValue(const Value& v, FieldType type, bool json, std::string* out) {
  switch (type) {
    case FieldType::kString:
      if (json) {
        AppendJsonString(v.text, out);
      } else {
        AppendCsvField(v.text, out);
      }
      break;
    case FieldType::kInt:
      AppendInt(v.i, out);
      break;
    case FieldType::kFloat:
      if (std::isfinite(v.f)) {
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof(buf), v.f);
        out->append(buf, r.ptr);
      } else if (json) {
        out->append("null");
      }
      break;
    case FieldType::kTime:
      if (json) out->push_back('"');
      AppendIsoTime(v.i, out);
      if (json) out->push_back('"');
      break;
  }
}

class JsonLinesFormatter : public RecordFormatter {
 public:
  JsonLinesFormatter(std::vector<Column> columns, std::vector<std::string> prefixes,
                     bool line_numbers)
      : columns_(std::move(columns)), prefixes_(std::move(prefixes)), line_numbers_(line_numbers) {}

  std::string Header() const override { return std::string(); }

  void Format(const RecordBatch& batch, std::string* out) const override {
    for (uint32_t row : batch.selected) {
      if (line_numbers_) {
        out->append("{\"_line\":");
        AppendInt(static_cast<int64_t>(batch.line_number(row)), out);
      } else if (columns_.empty()) {
        out->push_back('{');
      }
      for (size_t c = 0; c < columns_.size(); ++c) {
        out->append(prefixes_[c]);
        const Value& v = batch.field(columns_[c].field, row);
        if (v.present) {
          AppendValue(v, columns_[c].type, /*json=*/true, out);
        } else {
          out->append("null");
        }
      }
      out->append("}\n");
    }
  }

 private:
  std::vector<Column> columns_;
  std::vector<std::string> prefixes_;  // `{"name":` for the first key, then `,"name":`
  bool line_numbers_;
};

class CsvFormatter : public RecordFormatter {
 public:
  CsvFormatter(std::vector<Column> columns, std::string header, bool line_numbers)
      : columns_(std::move(columns)), header_(std::move(header)), line_numbers_(line_numbers) {}

  std::string Header() const override { return header_; }

  void Format(const RecordBatch& batch, std::string* out) const override {
    for (uint32_t row : batch.selected) {
      if (line_numbers_) {
        AppendInt(static_cast<int64_t>(batch.line_number(row)), out);
        if (!columns_.empty()) out->push_back(',');
      }
      const size_t start = out->size();
      for (size_t c = 0; c < columns_.size(); ++c) {
        if (c) out->push_back(',');
        const Value& v = batch.field(columns_[c].field, row);
        if (v.present) AppendValue(v, columns_[c].type, /*json=*/false, out);
      }
      // A row of one empty field would be a blank line, which CSV readers skip.
      if (out->size() == start && !line_numbers_) out->append("\"\"");
      out->push_back('\n');
    }
  }

 private:
  std::vector<Column> columns_;
  std::string header_;
  bool line_numbers_;
};

}  // namespace

Result<std::unique_ptr<RecordFormatter>> NewRecordFormatter(const RecordOutputOptions& options,
                                                            const Schema& schema) {
  std::vector<std::string> names = options.fields;
  if (names.empty()) {
    for (const FieldSpec& f : schema.fields()) names.push_back(f.name);
  }
  std::vector<Column> columns;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::optional<size_t> f = schema.Find(name);
    if (!f) {
      std::string known;
      for (size_t j = 0; j < schema.size(); ++j) {
        if (j) known += ", ";
        known += schema.field(j).name;
      }
      return ConfigError("records output: unknown field '" + name + "' (fields: " + known + ")");
    }
    if (std::find(names.begin(), names.begin() + i, name) != names.begin() + i) {
      return ConfigError("records output: field '" + name + "' is listed twice");
    }
    if (options.with_line_numbers && name == "_line") {
      return ConfigError(
          "records output: field '_line' clashes with the line number column; rename the group");
    }
    columns.push_back({*f, schema.field(*f).type});
  }

  if (options.format == RecordFormat::kJsonLines) {
    std::vector<std::string> prefixes;
    for (size_t i = 0; i < names.size(); ++i) {
      std::string prefix = (i == 0 && !options.with_line_numbers) ? "{" : ",";
      AppendJsonString(names[i], &prefix);
      prefix.push_back(':');
      prefixes.push_back(std::move(prefix));
    }
    return std::unique_ptr<RecordFormatter>(std::make_unique<JsonLinesFormatter>(
        std::move(columns), std::move(prefixes), options.with_line_numbers));
  }
  std::string header;
  if (options.with_line_numbers) {
    header = "_line";
    if (!names.empty()) header.push_back(',');
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) header.push_back(',');
    AppendCsvField(names[i], &header);
  }
  header.push_back('\n');
  return std::unique_ptr<RecordFormatter>(std::make_unique<CsvFormatter>(
      std::move(columns), std::move(header), options.with_line_numbers));
}

}  // namespace logpipe
