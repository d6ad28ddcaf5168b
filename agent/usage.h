// What a session reports beside its data path: usage events (OCSF, agent/events/) and metrics
// (agent/metrics.h). Sessions call a UsageSink; they never format events or touch a sink, so
// the data path cannot block on either, and tests can record the calls.
//
// Every call is cheap and non-blocking; an implementation is thread-safe (sessions run on every
// io thread). Nothing passed here may hold a raw value: statements are normalized by the sink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/grants/principal.h"
#include "agent/statement_record.h"

namespace veil::events {
class QueryEventTemplate;
}

namespace veil::agent {

// Who and where, fixed for a session once it is admitted.
struct SessionContext {
  uint64_t id = 0;
  std::string endpoint;
  grants::Principal principal;  // from the kernel (eBPF flow or peer credentials)
  std::string principal_display;
  std::optional<int32_t> pid;  // client process, when known
  std::string src;             // client address "ip:port" or "unix"
  std::string dst;             // what the client dialled (original destination) or the listen
  std::string upstream;        // host:port of the real database
  std::string database_user, database;
  std::string database_type = "PostgreSQL";  // OCSF database.type: the session's protocol names it
  std::string grant_id;
  std::string application_name;  // from the startup packet: context for events only
  // The usage sink's cache for this session: its part of every statement event, rendered on
  // the first statement (the fields above do not change once a session is admitted). Sessions
  // leave it alone; a copy of the context shares it.
  mutable std::shared_ptr<const events::QueryEventTemplate> event_template;
};

struct SessionTotals {
  uint64_t statements = 0, rows = 0, bytes = 0, values_masked = 0;
};

class UsageSink {
 public:
  virtual ~UsageSink() = default;
  virtual void SessionOpened(const SessionContext& s) = 0;
  // Refused before it began (no grant, TLS required): `sqlstate` and `reason` as the client saw.
  virtual void SessionRefused(const SessionContext& s, std::string_view sqlstate,
                              std::string_view reason) = 0;
  virtual void SessionClosed(const SessionContext& s, const SessionTotals& totals,
                             std::string_view reason) = 0;
  virtual void Statement(const SessionContext& s, const StatementRecord& statement) = 0;
};

}  // namespace veil::agent
