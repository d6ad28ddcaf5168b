// The PostgreSQL side of `veilctl mcp`: one libpq connection to an endpoint's unix socket in
// veild's socket folder (`.s.PGSQL.<listen port>` beside the control socket, SPEC §3), so the
// principal veild sees is this very process, from the kernel (SO_PEERCRED).
//
//   PgTarget t{.socket_dir = "/run/veil", .port = 15432, .application_name = "veilctl mcp: x"};
//   PgError err;
//   auto conn = PgConnection::Open(t, &err);       // nullptr: err says why (grant, password…)
//   auto r = conn->Run("SELECT …", limits, cancelled);
//
// Credentials come only from libpq's own sources: PGUSER, PGPASSWORD, PGDATABASE, ~/.pgpass,
// PGSERVICE and the service file. host and port are always veild's socket; a `hostaddr` from
// the environment or a service file would send the connection around veild, so it is refused.
//
// Run() executes one statement with the extended protocol (PostgreSQL refuses several
// statements in one), read-only (default_transaction_read_only) and under a statement_timeout,
// reading rows one at a time: past max_rows or max_bytes it stops keeping rows and cancels the
// statement (CancelRequest, forwarded by veild), so a huge result never reaches memory. The
// caller's `cancelled` flag and a client-side deadline cancel it too.
//
// Not thread-safe: one connection, one caller.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace veil::veilctl {

struct PgTarget {
  std::string socket_dir;
  int port = 0;
  std::string database;  // empty: libpq's default (PGDATABASE, the service, the user name)
  std::string application_name;
  std::chrono::milliseconds statement_timeout{30000};
};

struct QueryLimits {
  uint64_t max_rows = 200;
  uint64_t max_bytes = 256 * 1024;  // of values, as text
  std::chrono::milliseconds statement_timeout{30000};
};

// What PostgreSQL (or veild, in PostgreSQL's words) answered.
struct PgError {
  std::string severity;  // ERROR, FATAL
  std::string sqlstate;  // may be empty for a connection failure that names none
  std::string message;
  std::string detail;
  std::string hint;
  bool at_connect = false;
  std::string Text() const;  // "FATAL 28000: message\nDETAIL: …\nHINT: …"
};

struct QueryColumn {
  std::string name;
  uint32_t type_oid = 0;
  uint32_t table_oid = 0;  // 0: not a plain table column
  int attnum = 0;
};

struct QueryResult {
  std::vector<QueryColumn> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  uint64_t bytes = 0;
  bool truncated = false;
  std::string truncated_by;  // "max_rows" | "max_bytes"
  std::string command_tag;   // e.g. "SELECT 3"; empty when truncated
  int64_t duration_ms = 0;
};

class PgConnection {
 public:
  static std::unique_ptr<PgConnection> Open(const PgTarget& target, PgError* error);
  ~PgConnection();

  std::variant<QueryResult, PgError> Run(const std::string& sql, const QueryLimits& limits,
                                         const std::atomic<bool>& cancelled,
                                         const std::vector<std::string>& params = {});
  std::string database() const;

 private:
  explicit PgConnection(PGconn* c) : conn_(c) {}
  PGconn* conn_;
};

// "int4", "text", … for built-in type OIDs; "oid 16385" for others.
std::string TypeName(uint32_t oid);
// Whether veild content-scans a column of this type (agent/protocol/postgres/transcoder.cc:
// numbers, dates, inet, uuid, … are not text). By OID, and by name for information_schema's
// udt_name.
bool TextLike(uint32_t oid);
bool TextLike(std::string_view udt_name);

}  // namespace veil::veilctl
