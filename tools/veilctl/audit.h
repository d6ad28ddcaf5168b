// `veilctl audit verify FILE... [--key PUBKEY]` (SPEC §7): checks the hash chain and the signed
// checkpoints of event files offline (agent/events/verify.h does the work; this prints it).
//
//   AuditVerifyArgs args{.files = {"events.jsonl", "events.jsonl.1"}, .output = "table"};
//   int rc = veil::veilctl::AuditVerify(args, stdout, stderr);
//
// Output: table — `ok: N records in F files (seq A..B), C checkpoints verified` (plus notes on
// records after the last checkpoint, recorded losses, and unchecked signatures), or
// `FAIL: seq S: reason (FILE:LINE)`; json — one object with the same fields. Exit codes: 0 the
// chain holds; 1 it does not, or a file or the key cannot be read.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace veil::veilctl {

inline constexpr char kDefaultAuditKey[] = "/var/lib/veil/keys/audit.pub";

struct AuditVerifyArgs {
  std::vector<std::string> files;
  // --key; when absent, kDefaultAuditKey is used if it exists, else signatures are not checked.
  std::optional<std::string> key;
  std::string default_key = kDefaultAuditKey;
  std::string output = "table";  // table | json
};

int AuditVerify(const AuditVerifyArgs& args, std::FILE* out, std::FILE* err);

}  // namespace veil::veilctl
