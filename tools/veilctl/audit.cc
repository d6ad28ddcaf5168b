#include "tools/veilctl/audit.h"

#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "agent/events/checkpoint.h"
#include "agent/events/verify.h"

namespace veil::veilctl {

int AuditVerify(const AuditVerifyArgs& args, std::FILE* out, std::FILE* err) {
  std::unique_ptr<events::CheckpointVerifier> key;
  std::string key_path;
  if (args.key) {
    key_path = *args.key;
  } else if (::access(args.default_key.c_str(), R_OK) == 0) {
    key_path = args.default_key;
  }
  if (!key_path.empty()) {
    auto k = events::CheckpointVerifier::FromPemFile(key_path);
    if (!k.ok()) {
      std::fprintf(err, "veilctl: --key: %s\n", k.error().message.c_str());
      return 1;
    }
    key = std::move(*k);
  }
  auto result = events::VerifyFiles(args.files, key.get());
  if (!result.ok()) {
    std::fprintf(err, "veilctl: %s\n", result.error().message.c_str());
    return 1;
  }
  const events::VerifyReport& r = *result;

  if (args.output == "json") {
    nlohmann::json j = {
        {"ok", r.ok},
        {"files", r.files},
        {"records", r.records},
        {"first_seq", r.first_seq},
        {"last_seq", r.last_seq},
        {"checkpoints", r.checkpoints},
        {"checkpoints_verified", r.checkpoints_verified},
        {"key", key_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(key_path)},
        {"unsigned_tail", r.unsigned_tail},
        {"gaps", r.gaps},
        {"events_lost", r.events_lost}};
    if (!r.ok) {
      j["bad_seq"] = r.bad_seq;
      j["file"] = r.file;
      j["line"] = r.line;
      j["reason"] = r.reason;
    }
    std::fprintf(out, "%s\n", j.dump().c_str());
    return r.ok ? 0 : 1;
  }

  if (!r.ok) {
    std::fprintf(out, "FAIL: seq %llu: %s (%s:%llu)\n", static_cast<unsigned long long>(r.bad_seq),
                 r.reason.c_str(), r.file.c_str(), static_cast<unsigned long long>(r.line));
    return 1;
  }
  std::fprintf(out,
               "ok: %llu records in %llu file%s (seq %llu..%llu), %llu checkpoint%s verified\n",
               static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.files),
               r.files == 1 ? "" : "s", static_cast<unsigned long long>(r.first_seq),
               static_cast<unsigned long long>(r.last_seq),
               static_cast<unsigned long long>(r.checkpoints_verified),
               r.checkpoints_verified == 1 ? "" : "s");
  if (key_path.empty() && r.checkpoints > 0)
    std::fprintf(out, "note: %llu checkpoint signatures not checked (no key; give --key %s)\n",
                 static_cast<unsigned long long>(r.checkpoints), kDefaultAuditKey);
  if (r.unsigned_tail > 0)
    std::fprintf(out, "note: the last %llu records follow the last checkpoint (not yet signed)\n",
                 static_cast<unsigned long long>(r.unsigned_tail));
  if (r.events_lost > 0)
    std::fprintf(out, "note: %llu events recorded as lost in %llu gap record%s\n",
                 static_cast<unsigned long long>(r.events_lost),
                 static_cast<unsigned long long>(r.gaps), r.gaps == 1 ? "" : "s");
  return 0;
}

}  // namespace veil::veilctl
