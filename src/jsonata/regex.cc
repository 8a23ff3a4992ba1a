#include "jsonata/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace ec::jsonata::internal {

Regex::~Regex() {
  if (code) pcre2_code_free(code);
}

bool CompileRegex(std::string_view pattern, std::string_view flags, Regex* out, std::string* error) {
  out->pattern = std::string(pattern);
  out->flags = std::string(flags);
  // JavaScript: '$' matches only at the very end unless multiline; \uXXXX escapes; UTF-8 text.
  uint32_t options = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF;
  for (char c : flags) {
    if (c == 'i') options |= PCRE2_CASELESS;
    if (c == 'm') options |= PCRE2_MULTILINE;
  }
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &err, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    *error = reinterpret_cast<char*>(buf);
    return false;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  uint32_t count = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
  out->code = code;
  out->capture_count = count;
  return true;
}

bool RegexSearch(const Regex& re, std::string_view subject, size_t from, RegexMatch* m) {
  if (from > subject.size()) return false;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(re.code, nullptr);
  int rc = pcre2_match(re.code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), from, 0, md,
                       nullptr);
  if (rc < 0) {
    pcre2_match_data_free(md);
    return false;
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  m->start = ov[0];
  m->end = ov[1];
  m->groups.clear();
  for (uint32_t i = 1; i <= re.capture_count; ++i) {
    if (static_cast<int>(i) < rc && ov[2 * i] != PCRE2_UNSET)
      m->groups.emplace_back(ov[2 * i], ov[2 * i + 1]);
    else
      m->groups.emplace_back(std::string_view::npos, 0);
  }
  pcre2_match_data_free(md);
  return true;
}

}  // namespace ec::jsonata::internal
