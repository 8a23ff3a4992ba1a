#pragma once
// A fast matcher for the simple regular expressions filters use most: a literal prefix,
// character classes and repetition (`^o-[0-9]+$`, `^[a-z0-9._-]+@example\.com$`). It runs a
// bit-parallel NFA over the text: linear time, no allocation, no setup per call, several times
// quicker than a general engine on short strings.
//
// Compile() accepts only a subset whose RE2 meaning it reproduces exactly and returns nullptr
// for anything else (the caller then keeps using RE2):
//   ASCII literals and escaped punctuation, \d \w \s, \n \t \r \f \v; classes [...] of ASCII
//   literals, ranges and \d \w \s (not negated); the quantifiers * + ? {n} {n,} {n,m} (greedy
//   or lazy: a yes/no match is the same) on a single atom; ^ first and $ last (RE2's $ is the
//   end of the text). At most 63 atoms after expanding counted repetitions.
// Every atom matches one ASCII byte, so no byte of a multi-byte UTF-8 character matches one,
// which is what RE2's code-point matching gives for these patterns.

#include <cstdint>
#include <memory>
#include <string_view>

namespace ec::cel {

class SimpleRegex {
 public:
  // nullptr when `pattern` is outside the subset (or not a valid regular expression).
  static std::unique_ptr<SimpleRegex> Compile(std::string_view pattern);

  // RE2::PartialMatch(text, pattern): some substring matches (anchors respected).
  bool PartialMatch(std::string_view text) const {
    uint64_t s = start_;
    for (unsigned char c : text) {
      if (!anchor_end_ && (s & accept_) != 0) return true;
      uint64_t m = c < 128 ? s & match_[c] : 0;
      s = Close(((m & ~star_) << 1) | (m & star_));
      if (anchor_start_) {
        if (s == 0) return false;
      } else {
        s |= start_;
      }
    }
    return (s & accept_) != 0;
  }

 private:
  SimpleRegex() = default;
  // Adds the states reachable by skipping atoms that may match zero times.
  uint64_t Close(uint64_t s) const {
    uint64_t prev;
    do {
      prev = s;
      s |= (s & skip_) << 1;
    } while (s != prev);
    return s;
  }

  uint64_t match_[128] = {};  // per ASCII byte: the atoms (bit i = atom i) that accept it
  uint64_t star_ = 0;         // atoms that may repeat: matching keeps the state where it is
  uint64_t skip_ = 0;         // atoms that may match zero times
  uint64_t start_ = 0;        // Close(state 0)
  uint64_t accept_ = 0;       // state k: all k atoms matched
  bool anchor_start_ = false;
  bool anchor_end_ = false;
};

}  // namespace ec::cel
