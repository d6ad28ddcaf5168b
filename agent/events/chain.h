// The tamper-evident hash chain of usage events (SPEC §8).
//
// Every record written to a sink carries `unmapped.chain = {seq, prev, hash}`:
//   hash = hex(SHA-256(prev || canonical JSON of the record without chain.hash))
// where `prev` is the previous record's hash (64 lowercase hex chars; the first record ever has
// 64 zeros) and the canonical JSON is nlohmann's `dump()` (keys sorted, no whitespace, default
// escaping; invalid UTF-8 is replaced by U+FFFD so that serialising never throws and a parsed
// line re-serialises to the bytes that were hashed). `seq` grows by one per record.
//
//   veil::events::Chain chain;                  // or Chain(ChainHead{seq, hash}) to resume
//   nlohmann::json rec = event;
//   std::string line = chain.Stamp(rec);        // fills unmapped.chain, returns the JSON line
//   if (WriteSomewhere(line)) chain.Commit(rec); // the head moves only once the line is kept
//
// Verification (verify.h) re-parses each line, erases chain.hash and recomputes: RecordHash().
//
// Thread-safety: a Chain is a plain value; one writer owns it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/events/record.h"
#include "common/result.h"

namespace veil::events {

// 64 zeros: the `prev` of the first record of a chain.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The last record of a chain: its seq (0 = no record yet) and its hash.
struct ChainHead {
  uint64_t seq = 0;
  std::string hash = std::string(kGenesisHash);
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// The canonical serialisation used for hashing and for writing lines: dump() without whitespace,
// invalid UTF-8 replaced. Never throws.
std::string Canonical(const nlohmann::json& j);

// Recomputes the hash of a stamped record (as parsed from a line). Returns an error when
// `unmapped.chain` is missing or malformed. The record is taken by value: chain.hash is erased
// from the copy before hashing.
Result<std::string> RecordHash(nlohmann::json record);

// Reads `unmapped.chain` of a parsed record.
struct ChainFields {
  uint64_t seq = 0;
  std::string prev;
  std::string hash;
};
Result<ChainFields> ReadChainFields(const nlohmann::json& record);

// Parses one line and returns the head it represents ({seq, hash}), for resuming a chain.
Result<ChainHead> HeadOfLine(std::string_view line);

class Chain {
 public:
  Chain() = default;
  explicit Chain(ChainHead head) : head_(std::move(head)) {}

  // Writes unmapped.chain {seq = head.seq + 1, prev = head.hash, hash} into `record` (replacing
  // any chain already there; a non-object `unmapped` is replaced by an object) and returns the
  // canonical line (no newline). Does not move the head: call Commit once the line is kept.
  std::string Stamp(nlohmann::json& record) const;

  // Moves the head to a record stamped by Stamp().
  void Commit(const nlohmann::json& record);

  // The same for a rendered record (record.h), the writer's path: appends the line (no
  // newline) to `*line` and returns the head it makes, without parsing or re-serializing: the
  // hash is taken over the record's bytes with the chain pair spliced in. Byte-identical to
  // Stamp(json&) of the same event (tested). Does not move the head: Commit(head) once kept.
  ChainHead Stamp(const Record& record, std::string* line) const;
  void Commit(ChainHead head) { head_ = std::move(head); }

  const ChainHead& head() const { return head_; }

 private:
  ChainHead head_;
};

}  // namespace veil::events
