#pragma once
// The canonical decoder's fast path for ingest: a record that is already a canonical exchange
// (contract §1 fields in canonical order, header names lower case, no escapes in strings) is
// turned into its stored JSON text straight from the input bytes, without building a json::Value
// tree, normalising it and writing it back out. It writes exactly what the tree path writes
// (DecodeRecords with DecodeOptions::json_out, "detect" or "canonical"): same bytes, same id
// (the stable id hashes the same text), redaction applied. Anything it is not sure about
// (another order, escapes, base64 or string JSON bodies, headers to normalise, a record the
// tree path would reject) makes it decline, and the caller takes the tree path.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/exchange.h"

namespace ec::pipeline {

class CanonicalTextDecoder {
 public:
  // `options` (limits, redact paths, clock) must outlive the decoder's use with them.
  explicit CanonicalTextDecoder(const DecodeOptions& options);
  // Its tables point into its own members: not copied or moved.
  CanonicalTextDecoder(const CanonicalTextDecoder&) = delete;
  CanonicalTextDecoder& operator=(const CanonicalTextDecoder&) = delete;

  // Whether this decoder decodes as one built for `options` would: the same depth limit and
  // redact paths, what the constructor derives its tables from. Then Rebind(options) lets it
  // serve them: ingest keeps one per thread across requests instead of building one per
  // request (~16k instructions and a 12 KB clear of its tables each time).
  bool BuiltAs(const DecodeOptions& options) const;
  // The options the next records are decoded under (limits, clock), BuiltAs them.
  void Rebind(const DecodeOptions& options) { options_ = &options; }

  // False when no record can take the fast path under these options (a redact path that starts
  // at id, time or "*", too many or too long paths): Decode then always declines.
  bool usable() const { return usable_; }

  // Appends the stored text of the exchange in `text` (one JSON object, trimmed) to *out and
  // sets *id_at/*id_size to where its id lies in *out; returns true. Returns false and leaves
  // *out as it was when the record needs the tree path.
  bool Decode(std::string_view text, std::string* out, size_t* id_at, size_t* id_size);
  // As Decode, with stable ids hashed two records at once (canonical_text_hash.h). *hash_later
  // is the hashed text of an earlier record whose digits wait, or empty. A record that needs a
  // stable id (it has none) and finds it empty leaves its 32 digits as '0's, appends its hashed
  // text to it and sets *deferred; one that finds it full is hashed with it and sets *paired:
  // its own digits are in *out, the earlier record's at pending_digits (32 chars), and the
  // caller writes those and empties *hash_later. Redaction is applied in *out as by Decode.
  bool Decode(std::string_view text, std::string* out, size_t* id_at, size_t* id_size, std::string* hash_later,
              bool* deferred, bool* paired, char* pending_digits);

  // How Decode finds where strings end (see quotes_): kAvx2 when the CPU has it (chosen at
  // construction), kSse2 on the x86-64 baseline, kNone: a scan per string only. All three
  // decode alike; tests run each.
  enum class StringIndex { kAvx2, kSse2, kNone };
  static StringIndex BestStringIndex();
  void set_string_index(StringIndex index) { string_index_ = index; }

 private:
  // The walk over the record, writing into *out_ (see there); false to decline.
  bool Walk(std::string_view text, std::string_view* id);
  // Writes {"id":"<id or a placeholder>"[,"time":..], and sets hash_at_ to its last ','.
  void Prefix(std::string_view id, bool have_time);
  // Replaces the redacted_ spans of *out_ by kRedacted, moving the bytes after them.
  void Redact();
  static constexpr size_t kMaxPaths = 16;
  static constexpr size_t kMaxSegments = 16;
  // A redact path matched up to segment `pos`; `headers`: its keys here compare ignoring case.
  struct State {
    uint8_t path;
    uint8_t pos;
    bool headers;
  };
  struct States {
    State s[kMaxPaths];
    uint8_t n = 0;
    // Which member names can hit a state here: bit size % 64 of each state's segment, all
    // ones when one is "*". Most names miss on length alone, so Match answers them with one
    // test instead of a loop over the states.
    uint64_t sizes = 0;
  };
  // Names of 64 bytes and more share a bit with a shorter size (Match compares them): the
  // shift alone (x86 takes its count mod 64), no clamp per name.
  static uint64_t SizeBit(size_t size) { return uint64_t{1} << (size & 63); }
  // Whether a member named `key` can hit a redact state of `states` (else Match need not run).
  static bool MayMatch(const States& states, std::string_view key) {
    return (states.sizes & SizeBit(key.size())) != 0;  // sizes is 0 when n is
  }
  enum class Mode { kAny, kHeaders, kQuery };

  // Whitespace between tokens is dropped (compact input has none: one compare; a control byte
  // there, invalid JSON, is left where it is by DropWs and declined by what reads it).
  void SkipWs() {
    if (p_ < end_ && static_cast<unsigned char>(*p_) <= ' ') DropWs();
  }
  void DropWs();
  // Consumes the ':' after a member name, after whitespace only when the ':' is not next
  // (compact input: one compare instead of a whitespace test and the ':' test).
  bool Colon() {
    if (p_ < end_ && *p_ == ':') {
      ++p_;
      return true;
    }
    SkipWs();
    if (p_ >= end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }
  // At '"': the bytes between the quotes. Inline for a string that ends within the next 16
  // bytes without escapes or bytes >= 0x80 (most member names and values of an exchange: ~60
  // strings per shop record, each a call before); RawStringSlow scans the others.
  inline bool RawString(std::string_view* raw);
  bool RawStringSlow(std::string_view* raw);
  // RawString in a clean record whose string ends past the 64-byte word it starts in.
  bool CleanStringFar(std::string_view* raw);
  // Per record: builds quotes_ and sets clean_ (see there).
  void IndexStrings(std::string_view text);
  bool Number();
  bool Value(uint32_t depth, const States& states);
  bool Object(uint32_t depth, const States& states, Mode mode);
  bool GeneralObject(uint32_t depth, const States& states, Mode mode);  // Object's members, any case
  // Object for the common case of a clean record (quotes_), Mode::kAny and no redact path
  // below: its loop on a local pointer, p_ stored only around the calls it makes.
  bool PlainObject(uint32_t depth);
  bool Array(uint32_t depth, const States& states);
  // Which redact paths hit member `key` under `states`: *redact when one ends here, else the
  // states for the member's value.
  // `key_lower`: the key has no byte 'A'..'Z' (a header name the fast path takes), so a name
  // under "headers" is compared with the segment lower-cased once, not ignoring case per byte.
  void Match(const States& states, std::string_view key, bool* redact, States* child, bool key_lower = false) const;
  // The member's value (its name is written already), recording a redacted span when a path
  // ends at `key`. The value's writer is a template argument, so it is a direct (inlinable)
  // call rather than one through a member-function pointer per member.
  using Writer = bool (CanonicalTextDecoder::*)(uint32_t, const States&);
  template <Writer write>
  bool Member(std::string_view key, uint32_t depth, const States& states);
  template <Writer write>
  bool Redactable(uint32_t depth, const States& child, bool redact);
  // Member for a name whose Match result is known already (the exchange's own members, whose
  // results the constructor computes once: ~6 Match calls per shop record less).
  template <Writer write>
  bool Known(uint32_t depth, const States& child, bool redact);
  // Writes the member "key":value that the input leaves out, at input position `at`.
  void Insert(const char* at, std::string_view key, std::string_view value, bool comma_before,
              const States& states);
  // The record is written straight into *out_ (the caller's buffer, where it is stored): the
  // input with changes, the bytes from copy_ on copied when the output first differs from them
  // (whitespace dropped, a number rewritten, a member inserted).
  void FlushTo(const char* at) {
    out_->append(copy_, static_cast<size_t>(at - copy_));
    copy_ = at;
  }
  void Flush() { FlushTo(p_); }
  bool Message(bool is_request, const States& states);
  bool AnyValue(uint32_t depth, const States& states) { return Value(depth, states); }
  bool RequestValue(uint32_t, const States& states) { return Message(true, states); }
  bool ResponseValue(uint32_t, const States& states) { return Message(false, states); }
  bool ObjectValue(uint32_t depth, const States& states);
  bool HeadersValue(uint32_t depth, const States& states);
  bool QueryValue(uint32_t depth, const States& states);
  bool LiteralValue(uint32_t depth, const States& states);  // writes literal_

  const DecodeOptions* options_;
  bool usable_ = true;
  uint32_t max_depth_ = 0;
  std::vector<std::string> redact_;  // the redact paths, owned: paths_ and segments_ point into them
  std::vector<std::vector<std::string_view>> paths_;
  // paths_[path][pos] as Match reads it per member: the segment, whether it is "*", ends its
  // path, or is "headers" (its children compare ignoring case). Flat, for one load per state.
  struct Segment {
    std::string_view text;
    std::string_view lower;  // text lower-cased (in lowered_)
    bool star = false;
    bool last = false;
    bool headers = false;
  };
  Segment segments_[kMaxPaths][kMaxSegments];
  std::string lowered_[kMaxPaths];  // each redact path lower-cased, for Segment::lower
  States top_;
  // Match's results for the exchange's own members, by their index in the key lists of
  // canonical_text.cc: the record's members under top_, request's and response's members under
  // the states of "request" / "response".
  static constexpr size_t kTopKeyCount = 7, kRequestKeyCount = 6, kResponseKeyCount = 3;
  struct KnownMatch {
    bool redact = false;
    States child;
  };
  KnownMatch top_known_[kTopKeyCount];
  KnownMatch request_known_[kRequestKeyCount];
  KnownMatch response_known_[kResponseKeyCount];
  const States none_{};  // no redact path below here
  // Per record.
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  const char* copy_ = nullptr;
  bool dropping_ = false;  // input being dropped (the id member): whitespace is not flushed
  // A structural pass per record, before the walk. A record without a backslash, a control
  // byte or a byte >= 0x80 anywhere is clean_: each of its strings ends at the next '"' and
  // needs no UTF-8 check, so RawString finds the end as the next set bit of quotes_ (bit i % 64
  // of word i / 64 for a '"' at base_[i]; one word more than the record fills, zero past its
  // end) with one shift and tzcnt, instead of a 16-byte scan with four compares per string
  // (~50-80 strings per shop record). Other records (escapes, UTF-8, line breaks) are scanned
  // per string as before.
  bool clean_ = false;
  const char* base_ = nullptr;
  std::vector<uint64_t> quotes_;
  StringIndex string_index_;
  // Where the record goes. After the id (and the time when the input has none) it holds the
  // exchange without id, unredacted, from hash_at_ on: what the stable id hashes, with the ','
  // at hash_at_ standing for its '{'. Redaction is applied in place once it is hashed.
  std::string* out_ = nullptr;
  size_t hash_at_ = 0;
  std::vector<std::pair<size_t, size_t>> redacted_;  // spans of *out_ stored as kRedacted
  std::string tail_;    // the record after its first redacted span, when redaction grows it
  std::string_view literal_;
  std::string_view content_type_;
  bool content_type_seen_ = false;
};

}  // namespace ec::pipeline
