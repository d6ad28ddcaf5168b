// What veild saw of each `veilctl clone` run, for the run's summary and its one usage event.
//
// veilctl clone starts pg_dump (and its estimate query) with application_name
// "veil-clone:<run id>" (kCloneApplicationPrefix). CloneTap sits in front of veild's UsageSink:
// every session whose startup application_name has that form adds its statements' masked
// counts (per column and per entity) to its run here, then passes every call on unchanged.
// When the copy is done, veilctl calls FinishClone on the control API; the control server takes
// the run's totals (Take) and emits one event for the whole run.
//
// A tag is only context: a run's counts are handed only to the principal whose sessions made
// them (the kernel's, from peer credentials), so another user cannot read or finish someone
// else's run. The table is bounded: kMaxRuns runs at most, the oldest dropped first.
//
// Thread-safe: sessions on every io thread report here; the control server reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agent/events/ocsf.h"
#include "agent/usage.h"

namespace veil::agent {

inline constexpr std::string_view kCloneApplicationPrefix = "veil-clone:";

// The run id in an application_name ("veil-clone:<16..64 hex digits>"), or nothing.
std::optional<std::string> CloneRunOf(std::string_view application_name);

struct CloneTotals {
  std::string principal;  // of the run's sessions (Display())
  std::string endpoint;
  events::MaskedCounts masked;
  int64_t statements = 0;
  int64_t rows = 0;  // result rows veild sent the run's sessions (COPY lines included)
  int64_t sessions = 0;
  int open = 0;  // sessions still running
};

class CloneRuns {
 public:
  static constexpr size_t kMaxRuns = 16;

  void Opened(const std::string& run, const SessionContext& s);
  void Statement(const std::string& run, const SessionContext& s, const StatementRecord& r);
  void Closed(const std::string& run, const SessionContext& s);

  // Sessions of the run still open (0 for an unknown run).
  int Open(const std::string& run) const;
  // Removes the run and returns its totals; nothing if it is unknown. A run whose sessions
  // belong to another principal than `principal` is left alone: an Error.
  Result<std::optional<CloneTotals>> Take(const std::string& run, const std::string& principal);

 private:
  CloneTotals& At(const std::string& run);  // creates it (dropping the oldest run if full)

  mutable std::mutex mu_;
  std::map<std::string, CloneTotals> runs_;
  std::list<std::string> order_;  // oldest first
};

// A UsageSink that feeds CloneRuns and forwards everything to `inner` (which may be null).
class CloneTap final : public UsageSink {
 public:
  CloneTap(UsageSink* inner, CloneRuns* runs) : inner_(inner), runs_(runs) {}

  void SessionOpened(const SessionContext& s) override;
  void SessionRefused(const SessionContext& s, std::string_view sqlstate,
                      std::string_view reason) override;
  void SessionClosed(const SessionContext& s, const SessionTotals& totals,
                     std::string_view reason) override;
  void Statement(const SessionContext& s, const StatementRecord& statement) override;

 private:
  UsageSink* inner_;
  CloneRuns* runs_;
};

}  // namespace veil::agent
