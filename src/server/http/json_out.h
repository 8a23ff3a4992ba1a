#pragma once
// A streaming JSON writer for API responses (numbers as JSON.stringify writes them).
// Misuse (a value where a key is due) is a programmer error and produces invalid JSON.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "json/value.h"
#include "json/writer.h"

namespace ec::server {

class JsonOut {
 public:
  JsonOut& BeginObject() { Sep(); out_ += '{'; first_.push_back(true); return *this; }
  JsonOut& EndObject() { out_ += '}'; first_.pop_back(); return *this; }
  JsonOut& BeginArray() { Sep(); out_ += '['; first_.push_back(true); return *this; }
  JsonOut& EndArray() { out_ += ']'; first_.pop_back(); return *this; }
  JsonOut& Key(std::string_view k) {
    Sep();
    json::AppendQuoted(k, &out_);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonOut& String(std::string_view s) { Sep(); json::AppendQuoted(s, &out_); return *this; }
  JsonOut& Number(double d) { Sep(); json::AppendJsNumber(d, &out_); return *this; }
  JsonOut& Int(int64_t i) { Sep(); out_ += std::to_string(i); return *this; }
  JsonOut& Bool(bool b) { Sep(); out_ += b ? "true" : "false"; return *this; }
  JsonOut& Null() { Sep(); out_ += "null"; return *this; }
  JsonOut& Value(const json::Value& v) { Sep(); json::AppendJson(v, &out_); return *this; }
  // Already-serialised JSON.
  JsonOut& Raw(std::string_view json) { Sep(); out_ += json; return *this; }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Sep() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace ec::server
