#pragma once
// Reading a stored state's text without parsing it: the changelog stage's fast paths (a PATCH
// merged into the stored text, merge_patch_text.h) copy the stored members they keep byte for
// byte, which gives what the general path (parse, merge, json::AppendJson) writes only when
// the text is exactly AppendJson's output for its value. This checks that, in one walk, for a
// subset of JSON simple enough to check cheaply, and declines the rest.

#include <string_view>
#include <vector>

namespace ec::cdc {

struct TextMember {
  std::string_view key;    // the key's bytes between its quotes (no escapes: see below)
  std::string_view value;  // the value's text
};

// True when `text` is an object whose text is exactly what json::AppendJson writes for the
// Value json::ParseInto gives for it, checked for this subset: no whitespace, ASCII only, no
// backslash or control byte in any string, no duplicate key in any object, numbers written as
// JavaScript writes them (an integer or plain decimal of at most 15 significant digits, no
// trailing fraction zero, no exponent, no -0), nesting below 64. `*members` gets its top-level
// members in order. False for everything else, valid JSON outside the subset included (the
// caller then takes the general path, which decides).
bool SplitCanonicalObject(std::string_view text, std::vector<TextMember>* members);

// Whether the number text `t` (the bytes of one JSON number) is written as json::AppendJsNumber
// writes its value, by the rule above. For tests and the walk.
bool IsCanonicalNumberText(std::string_view t);

}  // namespace ec::cdc
