#pragma once
// Deterministic ids: exchange ids from content, event ids from (exchange id, definition).

#include <cstddef>
#include <string>
#include <string_view>

namespace ec::pipeline {

// 32 lower-case hex digits: the first 128 bits of SHA-256(`data`).
std::string Sha256Hex128(std::string_view data);
// The same digits appended to `out` (no temporary string).
void AppendSha256Hex128(std::string_view data, std::string* out);
// The number of those digits, and the same digits written at `out` (kSha256Hex128Length
// chars, no NUL), e.g. into the room a record left for its id.
inline constexpr size_t kSha256Hex128Length = 32;
void Sha256Hex128To(std::string_view data, char* out);
// The 32 lower-case hex digits of the 16 bytes at `bytes`, written at `out` (no NUL): the
// digits of every id here, and of the stable ids hashed two at a time
// (canonical_text_hash.h).
void Hex16To(const unsigned char* bytes, char* out);

// An RFC 9562 version-5 UUID (SHA-1, name-based) of `name` in Eventception's namespace,
// e.g. "2f1c...-...": the same name always gives the same id.
std::string UuidV5(std::string_view name);

// The CloudEvents id of event definition `index` of type `type` for exchange `exchange_id`:
// UuidV5(exchange_id + "\n" + type + "\n" + index).
std::string EventId(std::string_view exchange_id, std::string_view type, size_t index);

// The text length of a UUID ("8-4-4-4-12" hex digits).
inline constexpr size_t kUuidLength = 36;
// As UuidV5 / EventId, written into `out` (kUuidLength chars, no NUL): the pipeline builds one
// id per event, and a std::string of 36 chars is a heap allocation.
void UuidV5To(std::string_view name, char* out);
void EventIdTo(std::string_view exchange_id, std::string_view type, size_t index, char* out);

}  // namespace ec::pipeline
