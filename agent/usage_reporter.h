// The UsageSink of veild: each session call becomes an OCSF event handed to the event pipeline
// (never waiting on a sink) and a few metric updates. Statements are normalized inside
// events::QueryEvent, so no literal leaves the agent; masked values are counts only.
//
// Thread-safe: sessions on every io thread call it at once.
#pragma once

#include <string>

#include "agent/events/ocsf.h"
#include "agent/events/pipeline.h"
#include "agent/metrics.h"
#include "agent/usage.h"

namespace veil::agent {

// A statement's masked values as events count them: per entity name and per column label.
events::MaskedCounts MaskedCountsOf(const StatementRecord& statement);

class UsageReporter final : public UsageSink {
 public:
  // Either may be null (events or metrics off). Both must outlive this object.
  UsageReporter(events::Pipeline* pipeline, Metrics* metrics);

  void SessionOpened(const SessionContext& s) override;
  void SessionRefused(const SessionContext& s, std::string_view sqlstate,
                      std::string_view reason) override;
  void SessionClosed(const SessionContext& s, const SessionTotals& totals,
                     std::string_view reason) override;
  void Statement(const SessionContext& s, const StatementRecord& statement) override;
  // A connect the kernel refused (EPERM in the connect hook): a 6005 Connect event with status
  // Failure, status_code EPERM and `reason` as its detail. No session existed.
  void ConnectDenied(const SessionContext& s, std::string_view reason);

  // "<boot id>-<session id>": unique across restarts, for metadata.correlation_uid.
  std::string CorrelationId(uint64_t session_id) const;

 private:
  events::SessionInfo Info(const SessionContext& s) const;

  events::Pipeline* pipeline_;
  Metrics* metrics_;
  std::string boot_id_;
};

}  // namespace veil::agent
