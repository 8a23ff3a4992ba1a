// Dates: $now, $millis, $fromMillis, $toMillis (ISO 8601 and XPath F&O 9.8 picture strings).

#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "jsonata/functions.h"
#include "jsonata/integer_format.h"
#include "jsonata/regex.h"

namespace ec::jsonata::internal {

namespace {

constexpr double kDay = 86400000.0;
constexpr double kWeek = kDay * 7;

const char* kDays[] = {"", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                         "July",    "August",   "September", "October", "November", "December"};

int64_t NowMs(Evaluator& ev) {
  if (ev.now_ms == 0) {
    ev.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  }
  return ev.now_ms;
}

// Days since 1970-01-01 for a proleptic Gregorian date (month 1..12; day may overflow).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// JavaScript Date.UTC with month 0-based and overflow in any field.
double DateUtc(double y, double mon, double d, double h, double mi, double s, double ms) {
  double ym = y + std::floor(mon / 12);
  double mn = std::fmod(mon, 12);
  if (mn < 0) mn += 12;
  int64_t days = DaysFromCivil(static_cast<int64_t>(ym), static_cast<int64_t>(mn) + 1, 1) + static_cast<int64_t>(d) - 1;
  return static_cast<double>(days) * kDay + h * 3600000.0 + mi * 60000.0 + s * 1000.0 + ms;
}

struct Civil {
  int64_t year;
  int month;  // 0-based
  int day;
  int hour, minute, second, ms;
  int weekday;  // 0 = Sunday
};

Civil ToCivil(double millis) {
  double days_f = std::floor(millis / kDay);
  int64_t days = static_cast<int64_t>(days_f);
  int64_t rem = static_cast<int64_t>(millis - days_f * kDay);
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp + (mp < 10 ? 3 : -9);
  Civil c;
  c.year = y + (m <= 2);
  c.month = static_cast<int>(m - 1);
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(rem / 3600000);
  c.minute = static_cast<int>(rem / 60000 % 60);
  c.second = static_cast<int>(rem / 1000 % 60);
  c.ms = static_cast<int>(rem % 1000);
  int64_t wd = (days + 4) % 7;
  if (wd < 0) wd += 7;
  c.weekday = static_cast<int>(wd);
  return c;
}

double StartOfFirstWeek(int64_t year, int month) {
  double first = DateUtc(static_cast<double>(year), month, 1, 0, 0, 0, 0);
  int dow = ToCivil(first).weekday;
  if (dow == 0) dow = 7;
  return dow > 4 ? first + (8 - dow) * kDay : first - (dow - 1) * kDay;
}

struct Marker {
  bool literal = false;
  std::string value;  // literal text
  char component = 0;
  std::string pres1, pres2;
  bool has_width = false;
  int min_width = -1, max_width = -1;
  int names = 0;  // 0 none, 1 lower, 2 upper, 3 title
  bool has_int = false;
  IntegerFormat fmt;
  int n = -1;
};

const char* DefaultPresentation(char c) {
  switch (c) {
    case 'Y': case 'M': case 'D': case 'd': case 'W': case 'w': case 'X': case 'x': case 'H': case 'h': case 'f':
      return "1";
    case 'F': case 'P': case 'C': case 'E': return "n";
    case 'm': case 's': return "01";
    case 'Z': case 'z': return "01:01";
  }
  return nullptr;
}

bool AnalysePicture(Evaluator& ev, std::string_view pic, std::vector<Marker>* out) {
  size_t start = 0, pos = 0;
  auto add_literal = [&](size_t s, size_t e) {
    if (e > s) {
      std::string lit(pic.substr(s, e - s));
      std::string fixed;
      for (size_t i = 0; i < lit.size(); ++i) {
        fixed.push_back(lit[i]);
        if (lit[i] == ']' && i + 1 < lit.size() && lit[i + 1] == ']') i++;
      }
      Marker m;
      m.literal = true;
      m.value = fixed;
      out->push_back(m);
    }
  };
  while (pos < pic.size()) {
    if (pic[pos] == '[') {
      if (pos + 1 < pic.size() && pic[pos + 1] == '[') {
        add_literal(start, pos);
        Marker m;
        m.literal = true;
        m.value = "[";
        out->push_back(m);
        pos += 2;
        start = pos;
        continue;
      }
      add_literal(start, pos);
      start = pos;
      pos = pic.find(']', start);
      if (pos == std::string_view::npos) {
        ev.Fail("D3135", "No matching closing bracket ']' in date/time picture string");
        return false;
      }
      std::string marker;
      for (char c : pic.substr(start + 1, pos - start - 1))
        if (!std::isspace(static_cast<unsigned char>(c))) marker.push_back(c);
      Marker d;
      d.component = marker.empty() ? 0 : marker[0];
      size_t comma = marker.rfind(',');
      std::string pres;
      if (comma != std::string::npos) {
        std::string wm = marker.substr(comma + 1);
        size_t dash = wm.find('-');
        std::string mn = dash == std::string::npos ? wm : wm.substr(0, dash);
        std::string mx = dash == std::string::npos ? "" : wm.substr(dash + 1);
        d.has_width = true;
        // Widths are capped (kMaxWidth) so a picture cannot ask for gigabytes of padding.
        constexpr int kMaxWidth = 1000;
        if (!mn.empty() && mn != "*") d.min_width = std::min(kMaxWidth, std::max(0, std::atoi(mn.c_str())));
        if (!mx.empty() && mx != "*") d.max_width = std::min(kMaxWidth, std::max(0, std::atoi(mx.c_str())));
        pres = marker.substr(1, comma - 1);
      } else {
        pres = marker.size() > 1 ? marker.substr(1) : "";
      }
      if (pres.size() == 1) {
        d.pres1 = pres;
      } else if (pres.size() > 1) {
        char last = pres.back();
        if (std::string("atco").find(last) != std::string::npos) {
          d.pres2 = std::string(1, last);
          d.pres1 = pres.substr(0, pres.size() - 1);
        } else {
          d.pres1 = pres;
        }
      } else {
        const char* def = DefaultPresentation(d.component);
        if (!def) {
          ev.Fail("D3132", std::string("Unknown component specifier ") + d.component + " in date/time picture string");
          ev.error.value = std::string(1, d.component);
          return false;
        }
        d.pres1 = def;
      }
      if (d.pres1[0] == 'n') {
        d.names = 1;
      } else if (d.pres1[0] == 'N') {
        d.names = d.pres1.size() > 1 && d.pres1[1] == 'n' ? 3 : 2;
      } else if (std::string("YMDdFWwXxHhmsf").find(d.component) != std::string::npos) {
        std::string ip = d.pres1;
        if (!d.pres2.empty()) ip += ";" + d.pres2;
        d.fmt = AnalyseIntegerPicture(ip);
        d.has_int = true;
        if (d.min_width >= 0 && d.fmt.mandatory_digits < d.min_width) d.fmt.mandatory_digits = d.min_width;
        // The width (n) bounds how many digits a parse may take: without it adjacent numeric
        // components ("[H00][m00]") could not be split.
        {
          d.n = -1;
          if (d.max_width >= 0) {
            d.n = d.max_width;
            if (std::string("YMD").find(d.component) != std::string::npos) d.fmt.mandatory_digits = d.n;
          } else {
            int w = d.fmt.mandatory_digits + d.fmt.optional_digits;
            if (w >= 2) d.n = w;
          }
        }
      }
      if (d.component == 'Z' || d.component == 'z') {
        d.fmt = AnalyseIntegerPicture(d.pres1);
        d.has_int = true;
      }
      out->push_back(d);
      start = pos + 1;
    }
    pos++;
  }
  add_literal(start, pos);
  return true;
}

// The numeric (or text for P) value of one component.
double Fragment(double millis, char component, std::string* text) {
  Civil c = ToCivil(millis);
  switch (component) {
    case 'Y': return static_cast<double>(c.year);
    case 'M': return c.month + 1;
    case 'D': return c.day;
    case 'd': return std::floor((millis - DateUtc(static_cast<double>(c.year), 0, 1, 0, 0, 0, 0)) / kDay) + 1;
    case 'F': return c.weekday == 0 ? 7 : c.weekday;
    case 'W':
    case 'X': {
      int64_t y = c.year;
      double start = StartOfFirstWeek(y, 0);
      double next = StartOfFirstWeek(y + 1, 0);
      if (millis < start) {
        start = StartOfFirstWeek(y - 1, 0);
        y -= 1;
      } else if (millis >= next) {
        start = next;
        y += 1;
      }
      if (component == 'X') return static_cast<double>(y);
      return std::floor((millis - start) / kWeek) + 1;
    }
    case 'w':
    case 'x': {
      int64_t y = c.year;
      int m = c.month;
      double start = StartOfFirstWeek(y, m);
      int64_t ny = m == 11 ? y + 1 : y;
      int nm = m == 11 ? 0 : m + 1;
      double next = StartOfFirstWeek(ny, nm);
      if (millis < start) {
        int64_t py = m == 0 ? y - 1 : y;
        int pm = m == 0 ? 11 : m - 1;
        start = StartOfFirstWeek(py, pm);
        m = pm;
      } else if (millis >= next) {
        start = next;
        m = nm;
      }
      if (component == 'x') return m + 1;
      return std::floor((millis - start) / kWeek) + 1;
    }
    case 'H': return c.hour;
    case 'h': {
      int h = c.hour % 12;
      return h == 0 ? 12 : h;
    }
    case 'P': *text = c.hour >= 12 ? "pm" : "am"; return 0;
    case 'm': return c.minute;
    case 's': return c.second;
    case 'f': return c.ms;
    case 'C': case 'E': *text = "ISO"; return 0;
  }
  return 0;
}

std::string Upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}
std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool FormatComponent(Evaluator& ev, double millis, const Marker& m, int off_h, int off_m, std::string* out) {
  std::string text;
  double v = Fragment(millis, m.component, &text);
  if (std::string("YMDdFWwXxHhms").find(m.component) != std::string::npos) {
    if (m.component == 'Y' && m.n != -1) v = std::fmod(v, std::pow(10, m.n));
    if (m.names) {
      std::string name;
      if (m.component == 'M' || m.component == 'x') {
        name = kMonths[static_cast<int>(v) - 1];
      } else if (m.component == 'F') {
        name = kDays[static_cast<int>(v)];
      } else {
        ev.Fail("D3133", std::string("The 'name' modifier can only be applied to months and days in the date/time picture string, not ") + m.component);
        ev.error.value = std::string(1, m.component);
        return false;
      }
      if (m.names == 2) name = Upper(name);
      else if (m.names == 1) name = Lower(name);
      if (m.max_width >= 0 && static_cast<int>(name.size()) > m.max_width) name = name.substr(0, static_cast<size_t>(m.max_width));
      *out += name;
      return true;
    }
    std::string s;
    if (!FormatInteger(v, m.fmt, &s)) {
      ev.Fail("D3130", "Formatting or parsing an integer as a sequence starting with " + m.fmt.token + " is not supported by this implementation");
      return false;
    }
    *out += s;
    return true;
  }
  if (m.component == 'f') {
    std::string s;
    if (!FormatInteger(v, m.fmt, &s)) {
      ev.Fail("D3130", "Formatting or parsing an integer as a sequence starting with " + m.fmt.token + " is not supported by this implementation");
      return false;
    }
    *out += s;
    return true;
  }
  if (m.component == 'Z' || m.component == 'z') {
    int offset = off_h * 100 + off_m;
    std::string s;
    if (m.fmt.regular) {
      FormatInteger(offset, m.fmt, &s);
    } else {
      int digits = m.fmt.mandatory_digits;
      if (digits == 1 || digits == 2) {
        FormatInteger(off_h, m.fmt, &s);
        if (off_m != 0) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "%02d", std::abs(off_m));
          s += std::string(":") + buf;
        }
      } else if (digits == 3 || digits == 4) {
        FormatInteger(offset, m.fmt, &s);
      } else {
        ev.Fail("D3134", "The timezone integer format specifier cannot have more than four digits");
        ev.error.value = std::to_string(digits);
        return false;
      }
    }
    if (offset >= 0) s = "+" + s;
    if (m.component == 'z') s = "GMT" + s;
    if (offset == 0 && m.pres2 == "t") s = "Z";
    *out += s;
    return true;
  }
  if (m.component == 'P') {
    if (m.names == 2) text = Upper(text);
    *out += text;
    return true;
  }
  *out += text;
  return true;
}

bool FormatDateTime(Evaluator& ev, double millis, Val picture, Val tz, std::string* out) {
  int off_h = 0, off_m = 0;
  if (!tz.undef()) {
    int offset = std::atoi(std::string(tz.str()).c_str());
    off_h = static_cast<int>(std::floor(offset / 100.0));
    off_m = offset % 100;
    if (offset < 0 && off_m != 0) off_h = offset / 100;  // JS: Math.floor(-530/100) = -6, -530 % 100 = -30
    off_h = static_cast<int>(std::floor(offset / 100.0));
  }
  std::vector<Marker> spec;
  std::string_view pic = picture.undef() ? "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]" : picture.str();
  if (!AnalysePicture(ev, pic, &spec)) return false;
  double shifted = millis + (60.0 * off_h + off_m) * 60000.0;
  for (const Marker& m : spec) {
    if (m.literal) {
      *out += m.value;
    } else if (!FormatComponent(ev, shifted, m, off_h, off_m, out)) {
      return false;
    }
  }
  return true;
}

// ---- parsing ----

std::string EscapeRegex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string(".*+?^${}()|[]\\").find(c) != std::string::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

struct MatchPart {
  std::string regex;
  char component = 0;
  int kind = 0;  // 0 none, 1 integer format, 2 names lookup, 3 timezone
  IntegerFormat fmt;
  std::map<std::string, int> lookup;
  std::u32string tz_sep;
};

bool IntegerRegex(Evaluator& ev, const IntegerFormat& f, int n, std::string* re) {
  bool upper = f.letter_case == IntegerFormat::kUpper;
  std::string occ = "+";
  if (n > 0) occ = f.optional_digits == 0 ? "{" + std::to_string(n) + "}"
                                           : "{" + std::to_string(n - f.optional_digits) + "," + std::to_string(n) + "}";
  switch (f.primary) {
    case IntegerFormat::kLetters: *re = upper ? "[A-Z]+" : "[a-z]+"; return true;
    case IntegerFormat::kRoman: *re = upper ? "[MDCLXVI]+" : "[mdclxvi]+"; return true;
    case IntegerFormat::kWords: {
      static const char* kWords[] = {"and", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                     "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                     "seventeen", "eighteen", "nineteen", "zeroth", "first", "second", "third",
                                     "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
                                     "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
                                     "eighteenth", "nineteenth", "twenty", "thirty", "forty", "fifty", "sixty",
                                     "seventy", "eighty", "ninety", "hundred", "twentieth", "thirtieth", "fortieth",
                                     "fiftieth", "sixtieth", "seventieth", "eightieth", "ninetieth", "hundredth",
                                     "thousand", "million", "billion", "trillion", "thousandth", "millionth",
                                     "billionth", "trillionth"};
      std::vector<std::string> w(std::begin(kWords), std::end(kWords));
      std::sort(w.begin(), w.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
      std::string r = "(?:";
      for (const auto& x : w) r += x + "|";
      r += " |-|,)+";
      *re = r;
      return true;
    }
    case IntegerFormat::kDecimal:
      *re = "[0-9]" + occ;
      if (f.ordinal) *re += "(?:th|st|nd|rd)";
      return true;
    case IntegerFormat::kSequence:
      ev.Fail("D3130", "Formatting or parsing an integer as a sequence starting with " + f.token + " is not supported by this implementation");
      ev.error.value = f.token;
      return false;
  }
  return false;
}

bool ParseDateTime(Evaluator& ev, std::string_view ts, std::string_view picture, Val* result) {
  std::vector<Marker> spec;
  if (!AnalysePicture(ev, picture, &spec)) return false;
  std::vector<MatchPart> parts;
  for (const Marker& m : spec) {
    MatchPart p;
    if (m.literal) {
      p.regex = EscapeRegex(m.value);
    } else if (m.component == 'Z' || m.component == 'z') {
      p.kind = 3;
      p.component = m.component;
      if (m.fmt.regular && !m.fmt.separators.empty()) p.tz_sep = m.fmt.separators[0].character;
      p.regex = m.component == 'z' ? "GMT" : "";
      p.regex += "[-+][0-9]+";
      if (!p.tz_sep.empty()) p.regex += EscapeRegex(FromU32(p.tz_sep)) + "[0-9]+";
    } else if (m.has_int) {
      p.kind = 1;
      p.component = m.component;
      p.fmt = m.fmt;
      if (!IntegerRegex(ev, m.fmt, m.n, &p.regex)) return false;
    } else {
      p.kind = 2;
      p.component = m.component;
      p.regex = "[a-zA-Z]+";
      if (m.component == 'M' || m.component == 'x') {
        for (int i = 0; i < 12; ++i) {
          std::string name = kMonths[i];
          if (m.max_width > 0) name = name.substr(0, static_cast<size_t>(m.max_width));
          p.lookup[Lower(name)] = i + 1;
        }
      } else if (m.component == 'F') {
        for (int i = 1; i < 8; ++i) {
          std::string name = kDays[i];
          if (m.max_width > 0) name = name.substr(0, static_cast<size_t>(m.max_width));
          p.lookup[Lower(name)] = i;
        }
      } else if (m.component == 'P') {
        p.lookup = {{"am", 0}, {"pm", 1}};
      } else {
        ev.Fail("D3133", std::string("The 'name' modifier can only be applied to months and days in the date/time picture string, not ") + m.component);
        ev.error.value = std::string(1, m.component);
        return false;
      }
    }
    parts.push_back(std::move(p));
  }
  std::string full = "^";
  for (const auto& p : parts) full += "(" + p.regex + ")";
  full += "$";
  Regex re;
  std::string err;
  if (!CompileRegex(full, "i", &re, &err)) return true;  // undefined
  RegexMatch match;
  if (!RegexSearch(re, ts, 0, &match)) return true;
  std::map<char, double> comp;
  for (size_t i = 0; i < parts.size() && i < match.groups.size(); ++i) {
    const MatchPart& p = parts[i];
    auto g = match.groups[i];
    if (p.kind == 0 || g.first == std::string_view::npos) continue;
    std::string text(ts.substr(g.first, g.second - g.first));
    if (p.kind == 1) {
      IntegerFormat f = p.fmt;
      std::string digits = text;
      if (f.primary == IntegerFormat::kDecimal && f.ordinal && digits.size() >= 2) digits = digits.substr(0, digits.size() - 2);
      double v = 0;
      if (p.component == 'f') {
        // fractional seconds: the digits are a decimal fraction of a second
        std::string frac = digits.substr(0, 3);
        while (frac.size() < 3) frac.push_back('0');
        comp['f'] = std::atoi(frac.c_str());
        continue;
      }
      if (f.primary == IntegerFormat::kRoman || f.primary == IntegerFormat::kWords || f.primary == IntegerFormat::kLetters) {
        if (f.primary == IntegerFormat::kWords) digits = Lower(digits);
        if (!ParseInteger(digits, f, &v)) return true;
      } else {
        f.ordinal = false;
        if (!ParseInteger(digits, f, &v)) return true;
      }
      comp[p.component] = v;
    } else if (p.kind == 2) {
      auto it = p.lookup.find(Lower(text));
      if (it != p.lookup.end()) comp[p.component] = it->second;
      else comp[p.component] = NAN;
    } else if (p.kind == 3) {
      std::string v = p.component == 'z' ? text.substr(3) : text;
      int oh = 0, om = 0;
      if (!p.tz_sep.empty()) {
        std::string sep = FromU32(p.tz_sep);
        size_t at = v.find(sep);
        oh = std::atoi(v.substr(0, at).c_str());
        om = std::atoi(v.substr(at + sep.size()).c_str());
      } else {
        size_t nd = v.size() - 1;
        if (nd <= 2) {
          oh = std::atoi(v.c_str());
        } else {
          oh = std::atoi(v.substr(0, 3).c_str());
          om = std::atoi(v.substr(3).c_str());
        }
      }
      comp[p.component] = oh * 60 + om;
    }
  }
  if (comp.empty()) return true;
  auto has = [&](char c) { return comp.count(c) > 0; };
  int mask = 0;
  auto shift = [&](bool bit) { mask = (mask << 1) + (bit ? 1 : 0); };
  auto is_type = [&](int type) { return !(~type & mask) && (type & mask); };
  for (char c : std::string("YXMxWwdD")) shift(has(c));
  bool date_a = is_type(161);
  bool date_b = !date_a && is_type(130);
  bool date_c = is_type(84);
  bool date_d = !date_c && is_type(72);
  mask = 0;
  for (char c : std::string("PHhmsf")) shift(has(c));
  bool time_a = is_type(23);
  bool time_b = !time_a && is_type(47);
  std::string comps = std::string(date_b ? "YD" : date_c ? "XxwF" : date_d ? "XWF" : "YMD") + (time_b ? "Phmsf" : "Hmsf");
  double now = static_cast<double>(NowMs(ev));
  bool start_specified = false, end_specified = false;
  for (char c : comps) {
    if (!has(c)) {
      if (start_specified) {
        comp[c] = std::string("MDd").find(c) != std::string::npos ? 1 : 0;
        end_specified = true;
      } else {
        std::string t;
        comp[c] = Fragment(now, c, &t);
      }
    } else {
      start_specified = true;
      if (end_specified) {
        ev.Fail("D3136", "The date/time picture string is missing specifiers required to parse the timestamp");
        return false;
      }
    }
  }
  if (comp['M'] > 0) comp['M'] -= 1;
  else comp['M'] = 0;
  if (date_b) {
    double first = DateUtc(comp['Y'], 0, 1, 0, 0, 0, 0);
    Civil c = ToCivil(first + (comp['d'] - 1) * kDay);
    comp['M'] = c.month;
    comp['D'] = c.day;
  }
  if (date_c || date_d) {
    ev.Fail("D3136", "The date/time picture string is missing specifiers required to parse the timestamp");
    return false;
  }
  if (time_b) {
    comp['H'] = comp['h'] == 12 ? 0 : comp['h'];
    if (comp['P'] == 1) comp['H'] += 12;
  }
  for (char c : std::string("YMDHmsf"))
    if (std::isnan(comp[c])) return true;
  double millis = DateUtc(comp['Y'], comp['M'], comp['D'], comp['H'], comp['m'], comp['s'], comp['f']);
  double tzv = has('Z') ? comp['Z'] : has('z') ? comp['z'] : 0;
  millis -= tzv * 60000.0;
  *result = Val::Num(millis);
  return true;
}

// Date.parse for the ISO 8601 forms jsonata accepts.
bool ParseIso(std::string_view s, double* out) {
  auto num = [&](size_t at, size_t len, int* v) {
    if (at + len > s.size()) return false;
    int x = 0;
    for (size_t i = 0; i < len; ++i) {
      char c = s[at + i];
      if (c < '0' || c > '9') return false;
      x = x * 10 + (c - '0');
    }
    *v = x;
    return true;
  };
  int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0;
  double ms = 0;
  size_t p = 0;
  if (!num(0, 4, &y)) return false;
  p = 4;
  if (p < s.size() && s[p] == '-') {
    if (!num(p + 1, 2, &mo)) return false;
    p += 3;
    if (p < s.size() && s[p] == '-') {
      if (!num(p + 1, 2, &d)) return false;
      p += 3;
    }
  }
  double tz = 0;
  if (p < s.size() && s[p] == 'T') {
    if (!num(p + 1, 2, &h) || p + 3 >= s.size() || s[p + 3] != ':' || !num(p + 4, 2, &mi)) return false;
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!num(p + 1, 2, &sec)) return false;
      p += 3;
    }
    if (p < s.size() && s[p] == '.') {
      size_t q = p + 1;
      double scale = 100;
      while (q < s.size() && s[q] >= '0' && s[q] <= '9') {
        ms += (s[q] - '0') * scale;
        scale /= 10;
        q++;
      }
      ms = std::floor(ms);
      p = q;
    }
  }
  if (p < s.size()) {
    if (s[p] == 'Z') {
      p++;
    } else if (s[p] == '+' || s[p] == '-') {
      int th, tm = 0;
      if (!num(p + 1, 2, &th)) return false;
      size_t q = p + 3;
      if (q < s.size() && s[q] == ':') q++;
      if (!num(q, 2, &tm)) return false;
      tz = (th * 60 + tm) * (s[p] == '-' ? -1 : 1);
      p = q + 2;
    }
  }
  if (p != s.size()) return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 59) return false;
  *out = DateUtc(y, mo - 1, d, h, mi, sec, ms) - tz * 60000.0;
  return true;
}

}  // namespace

EC_JSONATA_FN(FnMillis) { return Val::Num(static_cast<double>(NowMs(ev))); }

EC_JSONATA_FN(FnNow) {
  std::string out;
  if (!FormatDateTime(ev, static_cast<double>(NowMs(ev)), Arg(args, 0), Arg(args, 1), &out)) return {};
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnFromMillis) {
  Val m = Arg(args, 0);
  // Outside JavaScript's Date range (or NaN) there is no date to format.
  if (m.undef() || !std::isfinite(m.d) || std::fabs(m.d) > 8.64e15) return {};
  std::string out;
  if (!FormatDateTime(ev, m.d, Arg(args, 1), Arg(args, 2), &out)) return {};
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnToMillis) {
  Val ts = Arg(args, 0), pic = Arg(args, 1);
  if (ts.undef()) return {};
  if (pic.undef()) {
    double v;
    if (!ParseIso(ts.str(), &v)) {
      return ev.FailV("D3110", "The timestamp string " + std::string(ts.str()) + " does not match the expected format", ts);
    }
    return Val::Num(v);
  }
  Val r;
  if (!ParseDateTime(ev, ts.str(), pic.str(), &r)) return {};
  return r;
}

}  // namespace ec::jsonata::internal
