// Offline verification of event files written by the pipeline: `veilctl audit verify` (SPEC §7).
//
//   auto key = veil::events::CheckpointVerifier::FromPemFile("/var/lib/veil/keys/audit.pub");
//   auto report = veil::events::VerifyFiles({"events.jsonl.1", "events.jsonl"}, key->get());
//   if (!report.ok()) ...            // a file could not be read
//   else if (!report->ok) ...        // report->bad_seq, report->reason, report->file, ->line
//
// Files may be given in any order (rotated files are sorted by their first seq) and together
// must form one chain. Each line is re-parsed, chain.hash erased and the hash recomputed
// (chain.h). What is detected, and reported as the first bad seq with a reason:
//   - an edited record (its content no longer matches its hash);
//   - an edited and re-hashed record (the next record's prev no longer matches);
//   - a deleted record (a seq is missing), a reordered one (the missing seq comes later), an
//     inserted one (a seq repeats or goes back, or a record's prev does not link);
//   - a truncated file (its last line has no newline: a torn record);
//   - a checkpoint that does not cover the record before it, or (with a key) whose Ed25519
//     signature does not verify or was made with another key.
// Records that follow the last checkpoint are not covered by a signature: someone who can
// rewrite the file could cut them off unseen. They are reported (`unsigned_tail`), not failed.
// The oldest file may start at any seq (older files were rotated away); a chain that starts at
// seq 1 must start from the genesis hash.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/events/checkpoint.h"
#include "common/result.h"

namespace veil::events {

struct VerifyReport {
  bool ok = true;
  uint64_t files = 0;
  uint64_t records = 0;               // records checked and found good
  uint64_t checkpoints = 0;           // checkpoint records found good
  uint64_t checkpoints_verified = 0;  // of those, signatures checked with the key
  uint64_t gaps = 0;                  // gap records: losses that the writer recorded
  uint64_t events_lost = 0;           // sum of their counts
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t unsigned_tail = 0;  // records after the last checkpoint
  // When !ok: the first bad seq (the seq that was expected where the chain broke), where, why.
  uint64_t bad_seq = 0;
  std::string file;
  uint64_t line = 0;  // 1-based
  std::string reason;
};

// Verifies `paths` as one chain. `key` may be null: checkpoints are then checked for linkage
// but not for their signature. Errors only when a file cannot be opened or read.
Result<VerifyReport> VerifyFiles(const std::vector<std::string>& paths,
                                 const CheckpointVerifier* key);

}  // namespace veil::events
