#include "jsonata/integer_format.h"

#include <cmath>
#include <map>
#include <numeric>

#include "jsonata/lexer.h"

namespace ec::jsonata::internal {
namespace {

const uint32_t kDecimalGroups[] = {
    0x30,   0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50,
    0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10};

const char* kFew[] = {"Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
                      "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen",
                      "Nineteen"};
const char* kOrdinals[] = {"Zeroth", "First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh",
                           "Eighth", "Ninth", "Tenth", "Eleventh", "Twelfth", "Thirteenth", "Fourteenth",
                           "Fifteenth", "Sixteenth", "Seventeenth", "Eighteenth", "Nineteenth"};
const char* kDecades[] = {"Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred"};
const char* kOrdinalTens[] = {"Twentieth", "Thirtieth", "Fortieth", "Fiftieth", "Sixtieth", "Seventieth",
                              "Eightieth", "Ninetieth"};
const char* kMagnitudes[] = {"Thousand", "Million", "Billion", "Trillion"};

std::string Lookup(double num, bool prev, bool ord) {
  std::string words;
  if (num <= 19) {
    words = std::string(prev ? " and " : "") + (ord ? kOrdinals[static_cast<int>(num)] : kFew[static_cast<int>(num)]);
  } else if (num < 100) {
    int tens = static_cast<int>(num / 10);
    int rem = static_cast<int>(std::fmod(num, 10));
    words = std::string(prev ? " and " : "") + (ord && rem == 0 ? kOrdinalTens[tens - 2] : kDecades[tens - 2]);
    if (rem > 0) words += "-" + Lookup(rem, false, ord);
  } else if (num < 1000) {
    int hundreds = static_cast<int>(num / 100);
    int rem = static_cast<int>(std::fmod(num, 100));
    words = std::string(prev ? ", " : "") + kFew[hundreds] + " Hundred";
    if (rem > 0) words += Lookup(rem, true, ord);
    else if (ord) words += "th";
  } else {
    int mag = static_cast<int>(std::floor(std::log10(num) / 3));
    if (mag > 4) mag = 4;
    double factor = std::pow(10, mag * 3);
    double mant = std::floor(num / factor);
    double rem = num - mant * factor;
    words = std::string(prev ? ", " : "") + Lookup(mant, false, false) + " " + kMagnitudes[mag - 1];
    if (rem > 0) words += Lookup(rem, true, ord);
    else if (ord) words += "th";
  }
  return words;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::u32string ToU32(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c >> 5) == 6) { cp = c & 0x1F; len = 2; }
    else if ((c >> 4) == 14) { cp = c & 0x0F; len = 3; }
    else { cp = c & 0x07; len = 4; }
    for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string FromU32(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) AppendUtf8(c, &out);
  return out;
}

std::string NumberToWords(double value, bool ordinal) { return Lookup(value, false, ordinal); }

IntegerFormat AnalyseIntegerPicture(std::string_view picture) {
  IntegerFormat f;
  std::string_view primary = picture;
  size_t semi = picture.rfind(';');
  if (semi != std::string_view::npos) {
    primary = picture.substr(0, semi);
    std::string_view mod = picture.substr(semi + 1);
    if (!mod.empty() && mod[0] == 'o') f.ordinal = true;
  }
  if (primary == "A") { f.letter_case = IntegerFormat::kUpper; f.primary = IntegerFormat::kLetters; }
  else if (primary == "a") { f.primary = IntegerFormat::kLetters; }
  else if (primary == "I") { f.letter_case = IntegerFormat::kUpper; f.primary = IntegerFormat::kRoman; }
  else if (primary == "i") { f.primary = IntegerFormat::kRoman; }
  else if (primary == "W") { f.letter_case = IntegerFormat::kUpper; f.primary = IntegerFormat::kWords; }
  else if (primary == "Ww") { f.letter_case = IntegerFormat::kTitle; f.primary = IntegerFormat::kWords; }
  else if (primary == "w") { f.primary = IntegerFormat::kWords; }
  else {
    std::u32string cps = ToU32(primary);
    int zero = -1;
    int sep_pos = 0;
    std::vector<IntegerFormat::Sep> seps;
    for (auto it = cps.rbegin(); it != cps.rend(); ++it) {
      char32_t cp = *it;
      bool digit = false;
      for (uint32_t g : kDecimalGroups) {
        if (cp >= g && cp <= g + 9) {
          digit = true;
          f.mandatory_digits++;
          sep_pos++;
          if (zero < 0) zero = static_cast<int>(g);
          else if (static_cast<int>(g) != zero) f.error = "D3131";
          break;
        }
      }
      if (!digit) {
        if (cp == '#') {
          sep_pos++;
          f.optional_digits++;
        } else {
          seps.push_back({sep_pos, std::u32string(1, cp)});
        }
      }
    }
    if (f.mandatory_digits > 0) {
      f.primary = IntegerFormat::kDecimal;
      f.zero_code = static_cast<uint32_t>(zero);
      int regular = 0;
      if (!seps.empty()) {
        bool same = true;
        for (auto& s : seps) same = same && s.character == seps[0].character;
        if (same) {
          int factor = 0;
          for (auto& s : seps) factor = std::gcd(factor, s.position);
          bool ok = true;
          for (size_t i = 1; i <= seps.size(); ++i) {
            bool found = false;
            for (auto& s : seps) found = found || s.position == static_cast<int>(i) * factor;
            ok = ok && found;
          }
          if (ok) regular = factor;
        }
      }
      if (regular > 0) {
        f.regular = true;
        f.separators = {{regular, seps[0].character}};
      } else {
        f.separators = seps;
      }
    } else {
      f.primary = IntegerFormat::kSequence;
      f.token = std::string(primary);
    }
  }
  return f;
}

bool FormatInteger(double value, const IntegerFormat& f, std::string* out) {
  bool negative = value < 0;
  value = std::fabs(value);
  std::string r;
  switch (f.primary) {
    case IntegerFormat::kLetters: {
      char a = f.letter_case == IntegerFormat::kUpper ? 'A' : 'a';
      std::string letters;
      while (value > 0) {
        letters.insert(letters.begin(), static_cast<char>(std::fmod(value - 1, 26) + a));
        value = std::floor((value - 1) / 26);
      }
      r = letters;
      break;
    }
    case IntegerFormat::kRoman: {
      static const std::pair<int, const char*> kRoman[] = {{1000, "m"}, {900, "cm"}, {500, "d"}, {400, "cd"},
                                                           {100, "c"},  {90, "xc"},  {50, "l"},  {40, "xl"},
                                                           {10, "x"},   {9, "ix"},   {5, "v"},   {4, "iv"},
                                                           {1, "i"}};
      for (auto& [v, s] : kRoman) {
        while (value >= v) {
          r += s;
          value -= v;
        }
      }
      if (f.letter_case == IntegerFormat::kUpper) r = Upper(r);
      break;
    }
    case IntegerFormat::kWords:
      r = NumberToWords(value, f.ordinal);
      if (f.letter_case == IntegerFormat::kUpper) r = Upper(r);
      else if (f.letter_case == IntegerFormat::kLower) r = Lower(r);
      break;
    case IntegerFormat::kDecimal: {
      std::string digits;
      char buf[64];
      if (value < 1e21) {
        std::snprintf(buf, sizeof buf, "%.0f", value);
        digits = buf;
      } else {
        std::snprintf(buf, sizeof buf, "%g", value);
        digits = buf;
      }
      std::u32string s = ToU32(digits);
      if (static_cast<int>(s.size()) < f.mandatory_digits) s.insert(0, f.mandatory_digits - s.size(), U'0');
      if (f.zero_code != '0') {
        for (char32_t& c : s)
          if (c >= '0' && c <= '9') c = c - '0' + f.zero_code;
      }
      if (f.regular) {
        int pos = f.separators[0].position;
        int n = static_cast<int>((s.size() - 1) / pos);
        for (int i = n; i > 0; --i) {
          size_t at = s.size() - static_cast<size_t>(i * pos);
          s.insert(at, f.separators[0].character);
        }
      } else {
        for (auto it = f.separators.rbegin(); it != f.separators.rend(); ++it) {
          int at = static_cast<int>(s.size()) - it->position;
          if (at < 0) at = 0;
          s.insert(static_cast<size_t>(at), it->character);
        }
      }
      r = FromU32(s);
      if (f.ordinal) {
        char last = r.empty() ? 0 : r.back();
        const char* suffix = last == '1' ? "st" : last == '2' ? "nd" : last == '3' ? "rd" : "th";
        if (r.size() > 1 && r[r.size() - 2] == '1') suffix = "th";
        r += suffix;
      }
      break;
    }
    case IntegerFormat::kSequence:
      return false;
  }
  *out = (negative ? "-" : "") + r;
  return true;
}

bool ParseInteger(std::string_view text, const IntegerFormat& f, double* out) {
  switch (f.primary) {
    case IntegerFormat::kLetters: {
      double v = 0;
      char a = f.letter_case == IntegerFormat::kUpper ? 'A' : 'a';
      for (char c : text) v = v * 26 + (c - a + 1);
      *out = v;
      return true;
    }
    case IntegerFormat::kRoman: {
      static const std::map<char, int> kVals = {{'M', 1000}, {'D', 500}, {'C', 100}, {'L', 50},
                                                {'X', 10},   {'V', 5},   {'I', 1}};
      double v = 0;
      int max = 1;
      for (size_t i = text.size(); i-- > 0;) {
        auto it = kVals.find(static_cast<char>(std::toupper(static_cast<unsigned char>(text[i]))));
        if (it == kVals.end()) return false;
        if (it->second < max) {
          v -= it->second;
        } else {
          max = it->second;
          v += it->second;
        }
      }
      *out = v;
      return true;
    }
    case IntegerFormat::kWords: {
      static const std::map<std::string, double> kWords = [] {
        std::map<std::string, double> m;
        for (int i = 0; i < 20; ++i) {
          m[Lower(kFew[i])] = i;
          m[Lower(kOrdinals[i])] = i;
        }
        for (int i = 0; i < 9; ++i) m[Lower(kDecades[i])] = (i + 2) * 10;
        for (int i = 0; i < 8; ++i) m[Lower(kOrdinalTens[i])] = (i + 2) * 10;
        m["hundredth"] = 100;
        for (int i = 0; i < 4; ++i) {
          m[Lower(kMagnitudes[i])] = std::pow(10, (i + 1) * 3);
          m[Lower(kMagnitudes[i]) + "th"] = std::pow(10, (i + 1) * 3);
        }
        return m;
      }();
      std::string t = Lower(std::string(text));
      // split on ", ", " and ", whitespace and '-'
      std::vector<std::string> parts;
      std::string cur;
      for (size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (c == ',' || c == ' ' || c == '-') {
          if (!cur.empty()) parts.push_back(cur);
          cur.clear();
          continue;
        }
        cur.push_back(c);
      }
      if (!cur.empty()) parts.push_back(cur);
      std::vector<double> segs{0};
      for (const std::string& p : parts) {
        if (p == "and") continue;
        auto it = kWords.find(p);
        if (it == kWords.end()) return false;
        double v = it->second;
        if (v < 100) {
          double top = segs.back();
          segs.pop_back();
          if (top >= 1000) {
            segs.push_back(top);
            top = 0;
          }
          segs.push_back(top + v);
        } else {
          double top = segs.back();
          segs.pop_back();
          segs.push_back(top * v);
        }
      }
      double sum = 0;
      for (double s : segs) sum += s;
      *out = sum;
      return true;
    }
    case IntegerFormat::kDecimal: {
      std::u32string s = ToU32(text);
      double v = 0;
      bool any = false;
      for (char32_t c : s) {
        if (c >= f.zero_code && c <= f.zero_code + 9) {
          v = v * 10 + (c - f.zero_code);
          any = true;
        }
      }
      *out = v;
      return any;
    }
    case IntegerFormat::kSequence:
      return false;
  }
  return false;
}

}  // namespace ec::jsonata::internal
