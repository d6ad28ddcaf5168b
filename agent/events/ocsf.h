// The usage events veild emits (SPEC §8), as OCSF 1.3 JSON objects: one per session opened and
// closed, one per statement, one per grant change, one per control-API call. The model is
// proto/events.proto (veil.events.v1.Event); these builders fill it from plain structs the
// agent already has and render it as JSON with OCSF's field names. The event pipeline then adds
// `unmapped.chain` and writes one object per line.
//
//   SessionInfo s{.session_id = "s-42", .principal = p, .pid = 4242, ...};
//   sink.Write(SessionEvent(now_ms, s, SessionPhase::kOpen));
//   sink.Write(QueryEvent(now_ms, s, {.sql = query_text, .rows = 12, .masked = counts}));
//   sink.Write(GrantEvent(now_ms, grant, GrantChange::kApproved, &approver));
//
// What the JSON is guaranteed to be, for the chain and for the SIEM:
//   - integers only: no float anywhere, so canonical JSON survives a parse round trip;
//   - every string valid UTF-8 (invalid bytes become U+FFFD), so dump() cannot throw;
//   - no raw sensitive value: QueryEvent normalizes the statement itself (normalize.h) —
//     callers pass the text as received and cannot forget; masked values are counts per entity
//     and per column; a failed statement is recorded by SQLSTATE, never by the server's
//     message (a failed cast echoes the value); grant reasons are left out (free text);
//   - `metadata.uid` is 128 random bits in hex (OpenSSL RAND_bytes), `time` ms since the epoch.
//
// Builders are pure apart from drawing the random uid; safe from any thread. They do not throw
// (nlohmann::json may throw std::bad_alloc only).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/events/record.h"
#include "agent/grants/grant.h"
#include "agent/grants/principal.h"
#include "agent/sql/lexer.h"

namespace google::protobuf {
class Message;
}

namespace veil::events {

inline constexpr std::string_view kOcsfVersion = "1.3.0";
inline constexpr std::string_view kProductName = "veil";

// OCSF class and activity ids used by veil.
inline constexpr int kClassDatastoreActivity = 6005;
inline constexpr int kClassUserAccessManagement = 3005;
inline constexpr int kClassApiActivity = 6003;
inline constexpr int kActivityOther = 99;

struct NetAddress {
  std::string ip;  // textual, v4 or v6
  uint16_t port = 0;
};

// A proxied session: who, from where, to what. Filled once when the session is admitted.
struct SessionInfo {
  std::string session_id;        // metadata.correlation_uid of every event of the session
  grants::Principal principal;   // from the kernel (SPEC §2)
  int64_t pid = 0;               // of the client process; 0 if unknown
  NetAddress client;             // src_endpoint
  NetAddress server;             // dst_endpoint: the upstream veil connected to
  std::string endpoint;          // configured endpoint name
  std::string database;          // from the startup packet
  std::string database_user;     // from the startup packet
  std::string grant_id;          // empty when no grant was needed (access mode open)
  std::string application_name;  // from the startup packet; "veilctl mcp: NAME" marks MCP
  // database.type, named by the session's protocol ("PostgreSQL", "MySQL").
  std::string database_type = "PostgreSQL";
};

// `veilctl mcp` connects with application_name "veilctl mcp: <MCP client name>"; events of such
// sessions carry unmapped.client "mcp" and unmapped.client_name. Keep in step with
// tools/veilctl/mcp_tools.cc.
inline constexpr std::string_view kMcpApplicationPrefix = "veilctl mcp";

// Masked values, counted; keys are entity names ("EMAIL") and columns ("public.users.email").
struct MaskedCounts {
  std::map<std::string, int64_t> by_entity;
  std::map<std::string, int64_t> by_column;
};

enum class SessionPhase {
  kOpen,     // admitted and connected upstream
  kRefused,  // refused before it began (no grant, TLS required, ...)
  kClose,
};

// What a closing session did in total (kClose), or why it was refused (kRefused: sqlstate and
// close_reason, veil's own words as the client saw them). Ignored for kOpen.
struct SessionTotals {
  int64_t statements = 0;
  int64_t rows = 0;
  int64_t bytes = 0;  // to the client
  int64_t duration_ms = 0;
  MaskedCounts masked;
  std::string close_reason;  // e.g. "client", "grant_expired", "grant_revoked", "killed", "error"
  std::string sqlstate;      // the FATAL the client got, if any
};

// One statement (a simple Query, or an Execute of a prepared one).
struct StatementDigest;  // normalize.h

struct StatementInfo {
  std::string_view sql;  // as received; QueryEvent normalizes it and never records it raw
  bool standard_conforming_strings = true;         // the session's setting, for normalization
  sql::Dialect dialect = sql::Dialect::kPostgres;  // how the text is read (MySQL sessions: kMySql)

  // The lexer options its text is normalized with.
  sql::LexOptions lex_options() const {
    return {.standard_conforming_strings = standard_conforming_strings, .dialect = dialect};
  }
  std::string statement_name;  // prepared statement name; empty if unnamed
  std::string kind;            // the classifier's verdict, e.g. "read", "ddl"
  std::string command_tag;     // e.g. "SELECT 3"
  int64_t rows = 0;
  int64_t bytes = 0;  // to the client
  int64_t duration_ms = 0;
  MaskedCounts masked;
  std::string guardrail;  // non-empty: the statement was blocked by this guardrail
  std::string sqlstate;   // non-empty: the statement failed with this SQLSTATE
  std::vector<std::string> lineage_masked;  // output columns replaced for their lineage
  // The text's digest when the caller has it (DigestStatement(sql, lex_options()), valid for
  // the call): spares the builder a second lookup.
  const StatementDigest* digest = nullptr;
};

// 6005 Datastore Activity: activity 3 Connect for kOpen (status Success) and kRefused (status
// Failure, status_code the SQLSTATE); 99 Other with activity_name "Close" for kClose.
nlohmann::json SessionEvent(int64_t time_ms, const SessionInfo& session, SessionPhase phase,
                            const SessionTotals& totals = {});

// 6005 Datastore Activity, activity 4 Query. status Failure when blocked (severity Medium,
// status_code 42501) or failed (status_code = sqlstate).
nlohmann::json QueryEvent(int64_t time_ms, const SessionInfo& session,
                          const StatementInfo& statement);

// The statement events of one session, fast: the session's part of QueryEvent (actor,
// endpoints, database, metadata, unmapped session fields: fixed once a session is admitted) is
// rendered once here, and Build() renders only the statement's own fields and merges the two
// in key order into a Record (record.h) that the chain takes as it is. Build() gives the bytes
// ToRecord(QueryEvent(time_ms, session, statement)) gives (tested), at a small fraction of the
// cost (tools/bench/events_bench). Immutable after construction; Build() is safe from any
// thread.
class QueryEventTemplate {
 public:
  explicit QueryEventTemplate(SessionInfo session);
  Record Build(int64_t time_ms, const StatementInfo& statement) const;
  const SessionInfo& session() const { return session_; }

  // A member of a rendered object: its key, and the member rendered canonically ("key":value).
  struct Member {
    std::string key;
    std::string json;
  };

 private:
  SessionInfo session_;
  std::vector<Member> top_;       // top-level members but metadata and unmapped
  std::vector<Member> metadata_;  // metadata's members but uid
  std::vector<Member> unmapped_;  // the session's unmapped members
};

enum class GrantChange { kRequested, kIssued, kApproved, kDenied, kExpired, kRevoked };

// "requested", "issued" (auto-approved at once), "approved", "denied", "expired", "revoked".
std::string_view GrantChangeName(GrantChange change);

// 3005 User Access Management for `grant` after `change`: 1 Assign Privileges (issued,
// approved), 2 Revoke Privileges (expired, revoked), 99 Other (requested: "Request",
// denied: "Deny"). `actor` made the change; nullptr when veil itself did (expiry, a pending
// request timing out, auto-approval). correlation_uid is the grant id.
nlohmann::json GrantEvent(int64_t time_ms, const grants::Grant& grant, GrantChange change,
                          const grants::Principal* actor, int64_t actor_pid = 0);

enum class ApiActivity { kCreate = 1, kRead = 2, kUpdate = 3, kDelete = 4 };

// One control-API call (SPEC §7), as veild saw it on the control socket.
struct ApiCall {
  std::string operation;  // "grants.request", "grants.approve", "sessions.kill", ...
  ApiActivity activity = ApiActivity::kRead;
  grants::Principal caller;  // from SO_PEERCRED
  int64_t pid = 0;
  std::string resource_uid;   // e.g. the grant id or session id the call named
  std::string resource_type;  // "grant", "session"
  bool ok = true;
  std::string error;  // veil's own refusal text when !ok; never data
  std::string socket_path;
};

// The OCSF activity of a control-API operation: *.request and clone → Create; status, *.list →
// Read; approve, deny, revoke → Update (a grant's state changes, the grant stays);
// sessions.kill → Delete. Unknown operations → Read.
ApiActivity ApiActivityFor(std::string_view operation);

// 6003 API Activity.
nlohmann::json ApiEvent(int64_t time_ms, const ApiCall& call);

// One `veilctl clone` run, reported once at its end (FinishClone on the control API).
struct CloneRun {
  ApiCall call;  // operation "clone", activity Create; ok/error: the run's outcome
  std::string run_id;
  std::string endpoint;                          // read through
  std::string database;                          // the source database
  std::string target;                            // the copy, "host:port/dbname": never a credential
  std::map<std::string, int64_t> rows_by_table;  // as veilctl counted them in the stream
  MaskedCounts masked;                           // as veild counted them in the run's sessions
  int64_t statements = 0;
  int64_t sessions = 0;
  int64_t duration_ms = 0;
};

// 6003 API Activity, operation "clone", activity 1 Create: the control-API call that finished
// the run, with resources [{type: "database", uid: target}], dst_endpoint.name the endpoint,
// database.name the source database, duration, and in unmapped: endpoint, clone_run, target,
// rows (total) and rows_by_table, masked (per entity and per column), statements, sessions,
// duration_ms. A failed run has status Failure and status_detail veilctl's words for it.
nlohmann::json CloneEvent(int64_t time_ms, const CloneRun& run);

// The JSON rendering of any veil.events.v1 message: proto field names, fields that are set
// only (ListFields), integers as numbers (int64 too), maps as objects, strings sanitized to
// UTF-8. Float and double fields are never rendered; the schema has none.
nlohmann::json RenderJson(const google::protobuf::Message& message);

// A fresh event id: 32 lowercase hex digits from RAND_bytes.
std::string NewEventUid();

}  // namespace veil::events
