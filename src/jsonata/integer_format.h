#pragma once
// XPath/XSLT integer pictures (fn:format-integer) shared by $formatInteger, $parseInteger and
// the date/time picture components.

#include <string>
#include <string_view>
#include <vector>

namespace ec::jsonata::internal {

struct IntegerFormat {
  enum Primary { kDecimal, kLetters, kRoman, kWords, kSequence } primary = kDecimal;
  enum Case { kLower, kUpper, kTitle } letter_case = kLower;
  bool ordinal = false;
  uint32_t zero_code = '0';
  int mandatory_digits = 0;
  int optional_digits = 0;
  bool regular = false;
  struct Sep {
    int position;
    std::u32string character;
  };
  std::vector<Sep> separators;  // when regular: one entry with the interval
  std::string token;            // kSequence: the unsupported picture
  std::string error;            // D3131 etc. when the picture is invalid
};

IntegerFormat AnalyseIntegerPicture(std::string_view picture);
// Formats floor(value) by `format`; false with D3130 when the format is a numbering sequence.
bool FormatInteger(double value, const IntegerFormat& format, std::string* out);
// Parses `text` by `format` (decimal, letters, roman, words). False when it does not match.
bool ParseInteger(std::string_view text, const IntegerFormat& format, double* out);
std::string NumberToWords(double value, bool ordinal);

std::u32string ToU32(std::string_view s);
std::string FromU32(const std::u32string& s);

}  // namespace ec::jsonata::internal
