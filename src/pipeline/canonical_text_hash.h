#pragma once
// The stable id's SHA-256 (pipeline/ids.h, Sha256Hex128To) of two records at once. With the
// CPU's SHA extensions one SHA-256 is bound by the latency of its round instructions (each
// round pair waits for the one before), not by their throughput: two independent messages
// interleaved round by round run in about the time of one. Ingest hashes every record that
// comes without an id (the contract's stable id), so it hashes them two by two.

#include <string_view>

namespace ec::pipeline {

// Writes Sha256Hex128To(a) at out_a and Sha256Hex128To(b) at out_b (32 lower-case hex digits
// each, no NUL): the same digits, interleaved when the CPU has the SHA extensions, else one
// after the other through OpenSSL.
void Sha256Hex128PairTo(std::string_view a, char* out_a, std::string_view b, char* out_b);

// How Sha256Hex128PairTo hashes: kShaNi interleaved (chosen when the CPU has it), kOpenSsl one
// by one. Tests run both.
enum class PairHash { kShaNi, kOpenSsl };
PairHash BestPairHash();
void Sha256Hex128PairTo(std::string_view a, char* out_a, std::string_view b, char* out_b, PairHash how);

}  // namespace ec::pipeline
