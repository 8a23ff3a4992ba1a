#include "cdc/changelog_stage.h"

#include <cstring>
#include <optional>
#include <string>

#include "cdc/decimal_digits.h"
#include "cdc/json_patch.h"
#include "cdc/json_text_match.h"
#include "cdc/merge_patch.h"
#include "cdc/merge_patch_text.h"
#include "json/compact_parser.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cdc {
namespace {

const json::Value* Path(const json::Value& v, std::string_view a, std::string_view b) {
  const json::Value* x = v.Find(a);
  return x == nullptr ? nullptr : x->Find(b);
}

// `member`'s `b`: `member` is the exchange's `a` as Process found it, or null (then searched).
const json::Value* Path(const json::Value* member, const json::Value& v, std::string_view a, std::string_view b) {
  return member != nullptr ? member->Find(b) : Path(v, a, b);
}

// The envelope's fixed parts.
constexpr std::string_view kOpAt = "{\"op\":\"";
constexpr std::string_view kBefore = "\",\"before\":";
constexpr std::string_view kAfter = ",\"after\":";
constexpr std::string_view kChanges = ",\"changes\":";
constexpr std::string_view kExchange = ",\"exchange\":";
constexpr std::string_view kTs = "},\"ts_ms\":";

// `n` more bytes at the end of `*s`, to be written through the pointer returned.
char* GrowBy(std::string* s, size_t n) {
  const size_t at = s->size();
  s->resize(at + n);
  return s->data() + at;
}

// Copies `bytes` to `o`; returns the end of the copy.
__attribute__((always_inline)) inline char* Put(char* o, std::string_view bytes) {
  if (!bytes.empty()) std::memcpy(o, bytes.data(), bytes.size());
  return o + bytes.size();
}

// c (POST), u (PUT, PATCH and other writes), d (DELETE), r (GET/HEAD: a read that shows a
// change made behind the API's back).
char OpFor(std::string_view method) {
  if (method == "POST") return 'c';
  if (method == "DELETE") return 'd';
  if (method == "GET" || method == "HEAD") return 'r';
  return 'u';
}

}  // namespace

ChangelogStage::ChangelogStage(StateStore* store, ChangelogOptions options)
    : store_(store), options_(std::move(options)) {}

const spec::ResourceDefinition* ChangelogStage::ChangelogResource(const pipeline::MatchedExchange& m) {
  const spec::ResourceDefinition* res = m.operation->resource;
  if (res == nullptr || res->changelog.empty()) return nullptr;
  const json::Value* status = Path(m.response, *m.exchange, "response", "status");
  if (status == nullptr || !status->is_number() || status->number() < 200 || status->number() >= 300) return nullptr;
  return res;
}

void ChangelogStage::Prepare(const pipeline::MatchedExchange& m, Arena* arena) {
  prepared_ = false;
  const spec::ResourceDefinition* res = ChangelogResource(m);
  if (res == nullptr || res->key == nullptr) return;
  Result<std::string> key = res->key->EvaluateString(*m.context, arena);
  if (!key.ok()) return;  // OnMatched evaluates it again and dead-letters the exchange
  prepared_key_ = std::move(*key);
  prepared_resource_ = res;
  SetEncodedKey(res->name, prepared_key_);
  store_->Prefetch(encoded_key_, key_hash_);
  prepared_exchange_ = m.exchange;
  prepared_context_ = m.context;
  prepared_ = true;
}

void ChangelogStage::OnMatched(const pipeline::MatchedExchange& m, Arena* arena,
                               std::vector<pipeline::OutputRecord>* out) {
  const bool prepared = prepared_ && prepared_exchange_ == m.exchange && prepared_context_ == m.context;
  prepared_ = false;
  const spec::Operation& op = *m.operation;
  // Prepare found it for the same exchange (and context, hence operation).
  const spec::ResourceDefinition* res = prepared ? prepared_resource_ : ChangelogResource(m);
  if (res == nullptr) return;
  const json::Value& x = *m.exchange;

  auto dead_letter = [&](const Status& error, const spec::Expression* expression) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    out->push_back(pipeline::MakeDeadLetter({.stage = "changelog",
                                             .error = &error,
                                             .exchange = &x,
                                             .expression = expression,
                                             .operation = &op,
                                             .exchange_id = m.exchange_id,
                                             .timestamp_ms = m.timestamp_ms},
                                            options_.dead_letter_topic));
  };

  if (res->key == nullptr) return;  // the loader requires a key; be defensive
  // Prepare evaluated it (the same expression over the same context) and set encoded_key_.
  Result<std::string> key = prepared ? Result<std::string>(std::move(prepared_key_))
                                     : res->key->EvaluateString(*m.context, arena);
  if (!key.ok()) return dead_letter(key.status(), res->key.get());

  std::string& encoded_key = encoded_key_;  // reused: no allocation per exchange
  if (!prepared) SetEncodedKey(res->name, *key);
  // The key's state is read through a chain of cache misses (index bucket, entry, state:
  // state_store.h's Prefetch steps). Prepare fetched the bucket; the entry and then the state
  // are fetched here, each followed by work that does not need the stored state (the new
  // state's value and its text), so the lookup finds all three in cache. Errors of that work
  // are reported where they were before, after the lookup's and the order check.
  store_->PrefetchEntry(encoded_key, key_hash_);
  const char op_letter = OpFor(op.method);
  const json::Value* body = op_letter != 'd' ? Path(m.response, x, "response", "body") : nullptr;
  const bool no_body = body == nullptr || body->is_null() || (body->is_string() && body->string().empty());
  const bool merge = op_letter != 'd' && op.method == "PATCH" && no_body;  // needs the stored state
  json::Value after;
  std::optional<Status> after_error;  // the state expression failed (dead-lettered below)
  if (op_letter != 'd' && !merge) {
    if (res->state == nullptr) {
      after = body != nullptr ? *body : json::Value();
    } else {
      Result<spec::EvalResult> r = res->state->Evaluate(*m.context, arena);
      if (!r.ok()) after_error = r.status();
      else if (!r->defined) after_error = Status(ErrorCode::kEvalError, "the state expression gave no value (undefined)");
      else after = r->value;
    }
  }
  store_->PrefetchState(encoded_key, key_hash_);
  // The new state is written in its storage encoding at once: header, then the JSON text,
  // which is also the envelope's `after` (serialised once). Written into a reused buffer,
  // then copied once at its exact size: a fresh string grown by AppendJson past a guessed
  // reserve reallocates, and the stored copy would keep the slack.
  std::string& next_bytes = state_text_;
  next_bytes.clear();
  AppendStateHeader(op_letter == 'd', m.timestamp_ms, &next_bytes);
  // A read's text waits for the stored state (it mostly is the stored text again, below).
  const bool text_now = op_letter != 'd' && op_letter != 'r' && !merge && !after_error;
  if (text_now) json::AppendJson(after, &next_bytes);

  Result<StatePtr> stored_or = store_->Lookup(encoded_key);
  if (!stored_or.ok()) return dead_letter(stored_or.status(), nullptr);
  // Held until the end: `before` is the stored text, read in place.
  const StatePtr stored = std::move(*stored_or);
  if (stored && m.timestamp_ms < stored->ts_ms()) {
    // Out of order: a newer exchange for this key was already applied. Applying this one
    // would move the state (and the changelog) back in time, so it is not applied.
    counters_.out_of_order.fetch_add(1, std::memory_order_relaxed);
    return dead_letter(Status(ErrorCode::kInvalidArgument,
                              "out of order: exchange time " + pipeline::FormatRfc3339Ms(m.timestamp_ms) +
                                  " is older than " + pipeline::FormatRfc3339Ms(stored->ts_ms()) +
                                  ", the last applied exchange for " + res->name + " \"" + *key +
                                  "\"; not applied to the state or the changelog"),
                       nullptr);
  }

  const bool known = stored && !stored->deleted();
  json::Value before;  // null: nothing known (or deleted); parsed only when needed
  bool before_parsed = !known;
  auto parse_before = [&]() -> Status {
    if (before_parsed) return Status();
    before_parsed = true;
    // The stored text is AppendJson output: the one-walk parser reads it (same Value as
    // ParseInto, json/compact_parser.h) at about half simdjson's cost with the tree built;
    // whatever it declines goes to ParseInto, which decides.
    if (json::ParseCompactInto(stored->value(), arena, &before, json::ParseOptions().max_depth)) return Status();
    return json::ParseInto(stored->value(), arena, &before);
  };

  if (after_error) return dead_letter(*after_error, res->state.get());
  bool merged_as_text = false;  // the merged state's text and its patch (changes_) are written
  if (merge) {
    const json::Value* patch = Path(m.request, x, "request", "body");
    // A flat patch into a stored object: merged in the stored text, with the patch written in
    // the same walk (merge_patch_text.h); the general path parses, merges and diffs Values.
    if (known && patch != nullptr && MergeFlatPatchText(stored->value(), *patch, &stored_members_, &next_bytes, &changes_)) {
      merged_as_text = true;
      before_parsed = true;  // `before` is not needed: its patch is written
    } else {
      if (Status s = parse_before(); !s.ok()) return dead_letter(s, nullptr);
      after = MergePatch(before, patch != nullptr ? *patch : json::Value(), arena);
    }
  }
  if (op_letter != 'd' && !text_now && !merged_as_text) {
    // A read mostly shows the stored state again: checking the stored text against `after`
    // costs a fraction of writing it (json_text_match.h), and the text is then copied.
    if (op_letter == 'r' && known && IsJsonTextOf(after, stored->value())) next_bytes += stored->value();
    else json::AppendJson(after, &next_bytes);
  }
  const std::string_view next_text = std::string_view(next_bytes).substr(EncodedState::kHeaderBytes);

  bool changed;
  bool changes_ready = false;  // changes_ holds this exchange's patch
  if (op_letter == 'd') {
    changed = !(stored && stored->deleted());
    // A delete's patch depends only on whether `before` is null: one `replace` of the whole
    // document by null, or none. The stored text says which without a parse; any non-null
    // value stands in for it.
    if (known && stored->value() != "null") before = json::Value::Bool(true);
    before_parsed = true;
  } else if (!known) {
    changed = true;
  } else if (stored->value() == next_text) {
    // The stored text is AppendJson output too: the same text is the same value, no parse.
    changed = false;
  } else if (merged_as_text) {
    changed = changes_.size() > 2;  // "[]" when the patch changed nothing
    changes_ready = true;
  } else {
    if (Status s = parse_before(); !s.ok()) return dead_letter(s, nullptr);
    // The patch is empty ("[]") exactly when the values are equal (AppendDiff starts with
    // json::Equal): written now, it says whether anything changed, and the documents are
    // compared once instead of once here and again in AppendDiff.
    changes_.clear();
    AppendDiff(before, after, next_text, &changes_);
    changed = changes_.size() > 2;
    changes_ready = true;
  }
  if (changed) {
    if (Status s = parse_before(); !s.ok()) return dead_letter(s, nullptr);
  }
  const std::string_view before_text = known ? stored->value() : std::string_view("null");
  // The new state is stored first; the envelope is then written straight into a reused
  // record's value (pipeline::NewOutputRecord), after_text reading the stored bytes.
  const StatePtr next = EncodedState::Copy(next_bytes);
  if (state_text_.capacity() > (1u << 20)) std::string().swap(state_text_);  // one huge state: not kept
  Status put = store_->Store(encoded_key, next);
  if (!put.ok()) return dead_letter(put, nullptr);
  if (!changed) {
    counters_.unchanged.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Counted before the envelope is written (nothing fails from here on): a locked increment
  // waits for the stores before it, and the envelope's go to a reused record's cold strings.
  counters_.changes.fetch_add(1, std::memory_order_relaxed);
  const std::string_view after_text = op_letter == 'd' ? std::string_view("null") : next->value();
  {
    // The writer ends (the record complete) before another record is appended.
    pipeline::OutputRecord& rec = pipeline::NewOutputRecord(out);  // its buffer holds old contents
    rec.topic.assign(res->changelog);
    rec.timestamp_ms = m.timestamp_ms;
    pipeline::RecordWriter writer(&rec, *key);
    // The envelope is written directly around the stored texts of `before` and `after`
    // (AppendJson output of the same values), so neither is serialised a second time, and
    // straight into the record's buffer (its value).
    std::string& v = *writer.BeginValue();
    // Sized for this envelope (a create's or delete's patch is about `after` plus its op): a
    // reused value then mostly has room already, and records stay small enough to be reused.
    const json::Value* path = Path(m.request, x, "request", "path");
    const std::string& source_prefix = SourcePrefix(op);
    v.reserve(v.size() + before_text.size() + after_text.size() +
              (changes_ready ? changes_.size() : after_text.size() + 48) + source_prefix.size() +
              (path != nullptr && path->is_string() ? path->string().size() : 8) + m.exchange_id.size() + 96);
    // The fixed parts and the texts between the computed ones are written in groups, each
    // with one size change and plain copies (an append per part was ~65 instructions each,
    // thirteen per envelope).
    const std::string_view changes_text = changes_ready ? std::string_view(changes_) : std::string_view();
    {
      char* o = GrowBy(&v, kOpAt.size() + 1 + kBefore.size() + before_text.size() + kAfter.size() +
                               after_text.size() + kChanges.size() + changes_text.size());
      o = Put(o, kOpAt);
      *o++ = op_letter;
      o = Put(o, kBefore);
      o = Put(o, before_text);
      o = Put(o, kAfter);
      o = Put(o, after_text);
      o = Put(o, kChanges);
      Put(o, changes_text);
    }
    if (!changes_ready) AppendDiff(before, op_letter == 'd' ? json::Value() : after, after_text, &v);
    // source: {"api", "operation", "method", "path", "exchange"}, as AppendJson writes it.
    v += source_prefix;
    // A string (always, from the decoders) is quoted directly: what AppendJson writes for it.
    if (path != nullptr && path->is_string()) json::AppendQuoted(path->string(), &v);
    else json::AppendJson(path != nullptr ? *path : json::Value(), &v);
    v += kExchange;
    json::AppendQuoted(m.exchange_id, &v);
    {
      // ts_ms: an integer far below 2^53, so its decimal digits are what JSON.stringify writes.
      char digits[24];
      const std::string_view ts(digits, WriteDecimal(digits, m.timestamp_ms) - digits);
      char* o = GrowBy(&v, kTs.size() + ts.size() + 1);
      o = Put(o, kTs);
      o = Put(o, ts);
      *o = '}';
    }
    writer.EndValue();
    writer.Header("content-type", "application/json");
  }
  if (op_letter == 'd') {
    pipeline::OutputRecord& tomb = pipeline::NewOutputRecord(out);
    tomb.topic.assign(res->changelog);
    tomb.timestamp_ms = m.timestamp_ms;
    pipeline::RecordWriter(&tomb, *key).Value(std::nullopt);  // no headers
  }
}

void ChangelogStage::SetEncodedKey(std::string_view resource, std::string_view key) {
  // EncodeKey(resource, key) into the reused string with one size change and two copies (three
  // appends were three capacity checks and copies per exchange).
  encoded_key_.resize(resource.size() + 1 + key.size());
  char* o = Put(encoded_key_.data(), resource);
  *o++ = '\0';
  Put(o, key);
  key_hash_ = StateKeyHash(encoded_key_);
}

const std::string& ChangelogStage::SourcePrefix(const spec::Operation& op) {
  const std::string_view api = op.api != nullptr ? std::string_view(op.api->title) : std::string_view();
  SourceText& entry = source_prefixes_[&op];
  // A reloaded spec may put another operation at a freed one's address: the names say whether
  // the entry is this operation's.
  if (entry.prefix.empty() || entry.api != api || entry.id != op.id || entry.method != op.method) {
    if (source_prefixes_.size() > kMaxSourcePrefixes) {
      source_prefixes_.clear();
      return SourcePrefix(op);
    }
    entry.api = api;
    entry.id = op.id;
    entry.method = op.method;
    entry.prefix = ",\"source\":{\"api\":";
    json::AppendQuoted(api, &entry.prefix);
    entry.prefix += ",\"operation\":";
    json::AppendQuoted(op.id, &entry.prefix);
    entry.prefix += ",\"method\":";
    json::AppendQuoted(op.method, &entry.prefix);
    entry.prefix += ",\"path\":";
  }
  return entry.prefix;
}

}  // namespace ec::cdc
