// PostgreSQL statements observed in the TLS plaintext of client processes, for `access: observe`
// endpoints: nothing is redirected or modified; veild only learns who ran what. TlsTracer
// (tls_tracer.h) delivers the client's plaintext per connection (tgid, SSL*); its write direction
// is client -> server and feeds a FrontendDecoder, its read direction feeds a BackendDecoder
// (agent/protocol/postgres/decoder.h). Each completed or failed statement becomes one
// ObservedStatement.
//
//   PgObserver observer({.endpoints = {"10.0.0.5:5432"}}, [&](const ObservedStatement& s) {
//     EmitUsage(s.tgid, s.user, Normalize(s.statement), s.rows);  // literals are the caller's
//   });
//   auto tracer = TlsTracer::Start({}, [&](const TlsChunk& c) { observer.OnChunk(c); });
//
// Starting mid-connection (the process was watched after its handshake, or a chunk was lost or
// truncated): a direction is "aligned" when its bytes are known to start at a message boundary.
// The client direction is aligned from the start only if its first bytes are a StartupMessage;
// the server direction only if the client's StartupMessage was seen. An unaligned direction
// waits for a chunk that parses as a run of valid frames from its first byte to its end (the
// last may be incomplete): one SSL_write/SSL_read carries what the peer flushed at once, and
// libpq and the server flush at message boundaries, so such a chunk soon comes, while random
// mid-message bytes almost never decode as whole valid frames. Chunks before that are skipped.
// Requests sent before the last skipped server chunk are forgotten when the server direction
// realigns (their replies may have been in it), so a reply is not paired with the wrong request;
// for clients that wait for ReadyForQuery before the next request (psql, most drivers) this is
// exact.
//
// A decode error or a frame larger than `max_buffered` drops that connection's state (counted);
// later chunks of the connection start over, unaligned. Nothing here can crash on input.
//
// Thread-safety: none; call OnChunk from the thread that polls the tracer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/bpf/tls_tracer.h"
#include "agent/protocol/postgres/message.h"

namespace veil::agent::bpf {

struct ObservedStatement {
  uint32_t tgid = 0;
  uint32_t uid = 0;
  std::string remote;    // the server, "ip:port"
  std::string user;      // from the StartupMessage; "" if the connection was joined later
  std::string database;  // likewise (defaults to the user, as the server does)
  // Raw SQL from Query, or from the Parse behind an Execute. Not normalized: it may hold
  // literals, and the caller must normalize before it leaves the process.
  std::string statement;
  bool extended = false;    // Parse/Bind/Execute rather than a simple Query
  std::string command_tag;  // "SELECT 1", "INSERT 0 3"; "" on error
  uint64_t rows = 0;        // from the tag when it has a count, else the DataRows seen
  std::string sqlstate;     // the ErrorResponse's SQLSTATE; "" on success
};

using ObservedStatementCallback = std::function<void(const ObservedStatement&)>;

struct PgObserverOptions {
  // Server addresses ("ip:port", "[v6]:port") of `access: observe` endpoints. A chunk whose
  // remote is not one of them is ignored. Empty: every connection is decoded.
  std::vector<std::string> endpoints;
  size_t max_buffered = size_t{16} << 20;  // per direction: a larger frame drops the connection
  size_t max_connections = 4096;           // beyond this the oldest connection state is dropped
};

struct PgObserverStats {
  uint64_t statements = 0;           // ObservedStatements delivered
  uint64_t skipped_chunks = 0;       // chunks skipped while a direction was unaligned
  uint64_t realigned = 0;            // directions that found a message boundary mid-stream
  uint64_t dropped_connections = 0;  // malformed input or oversized frames
};

class PgObserver {
 public:
  PgObserver(PgObserverOptions options, ObservedStatementCallback callback);
  ~PgObserver();
  PgObserver(const PgObserver&) = delete;
  PgObserver& operator=(const PgObserver&) = delete;

  // Feeds one chunk of a client's plaintext; kClose chunks forget the connection.
  void OnChunk(const TlsChunk& chunk);

  size_t connections() const { return connections_.size(); }
  const PgObserverStats& stats() const { return stats_; }

 private:
  struct Connection;
  using Key = std::pair<uint32_t, uint64_t>;  // (tgid, SSL*)

  bool Feed(Connection& conn, bool client_to_server, std::string_view data, bool truncated);
  bool Decode(Connection& conn, bool client_to_server);
  void OnFrontend(Connection& conn, const pg::FrontendMessage& message);
  void OnBackend(Connection& conn);  // the message is in conn's reusable backend_message
  void Emit(Connection& conn, std::string statement, bool extended, std::string tag,
            std::string sqlstate);

  PgObserverOptions options_;
  std::set<std::string> endpoints_;
  ObservedStatementCallback callback_;
  std::map<Key, std::unique_ptr<Connection>> connections_;
  uint64_t next_sequence_ = 0;
  PgObserverStats stats_;
};

// The row count a CommandComplete tag reports ("SELECT 5" -> 5, "INSERT 0 3" -> 3), or -1 for
// tags without one ("CREATE TABLE", "BEGIN").
int64_t RowsFromCommandTag(std::string_view tag);

}  // namespace veil::agent::bpf
