#include "agent/bpf/pg_observer.h"

#include <charconv>
#include <deque>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>

#include "agent/protocol/postgres/decoder.h"
#include "agent/protocol/postgres/message.h"

namespace veil::agent::bpf {
namespace {

// A reply this far from its request is not worth the memory: the map is reset.
constexpr size_t kMaxNamedStatements = 10000;

uint32_t ReadBe32(std::string_view s, size_t pos) {
  return (uint32_t{static_cast<uint8_t>(s[pos])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[pos + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[pos + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[pos + 3])};
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The untyped packet a client opens with: length, then protocol 3.x (StartupMessage). Cancel
// and SSL/GSS requests never travel inside TLS.
bool LooksLikeStartup(std::string_view data) {
  if (data.size() < 8) return false;
  uint32_t length = ReadBe32(data, 0);
  uint32_t version = ReadBe32(data, 4);
  return length >= 8 && length <= 10000 && (version >> 16) == 3;
}

bool IsFrontendType(char c) {
  return std::string_view("QPBDECSHXdcfpF").find(c) != std::string_view::npos;
}
bool IsBackendType(char c) {
  return std::string_view("RKSZTDCIENA123ntsGHWdcVv").find(c) != std::string_view::npos;
}

// Does `data` start at a message boundary? True if it is a run of frames that each decode
// cleanly, the last possibly cut short after a plausible header.
bool LooksAligned(std::string_view data, bool frontend, const pg::DecoderLimits& limits) {
  pg::FrontendDecoder fe(limits, pg::FrontendDecoder::Phase::kTyped);
  pg::BackendDecoder be(limits);
  pg::FrontendMessage fe_msg;
  pg::BackendMessage be_msg;
  size_t pos = 0;
  while (pos < data.size()) {
    if (!(frontend ? IsFrontendType(data[pos]) : IsBackendType(data[pos]))) return false;
    if (data.size() - pos < 5) return true;
    uint32_t length = ReadBe32(data, pos + 1);
    if (length < 4 || length > limits.max_message) return false;
    size_t consumed = 0;
    pg::DecodeResult r = frontend ? fe.Decode(Bytes(data.substr(pos)), &consumed, &fe_msg)
                                  : be.Decode(Bytes(data.substr(pos)), &consumed, &be_msg);
    if (r.status == pg::DecodeStatus::kError) return false;
    if (r.status == pg::DecodeStatus::kNeedMoreData) return true;
    pos += consumed;
  }
  return true;
}

struct Pending {
  enum Kind { kSimple, kExecute, kSync } kind;
  std::string text;
  uint64_t sequence = 0;  // order of the request on its connection
};

}  // namespace

int64_t RowsFromCommandTag(std::string_view tag) {
  static constexpr std::string_view kCounted[] = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                                  "MERGE",  "FETCH",  "MOVE",   "COPY"};
  size_t space = tag.find(' ');
  std::string_view verb = tag.substr(0, space);
  bool counted = false;
  for (std::string_view v : kCounted) counted |= (verb == v);
  if (!counted || space == std::string_view::npos) return -1;
  std::string_view number = tag.substr(tag.rfind(' ') + 1);
  int64_t rows = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), rows);
  if (ec != std::errc() || end != number.data() + number.size()) return -1;
  return rows;
}

struct PgObserver::Connection {
  uint64_t sequence = 0;  // creation order, for eviction
  uint32_t tgid = 0;
  uint32_t uid = 0;
  std::string remote;
  std::string user;
  std::string database;
  pg::DecoderLimits limits;

  // Client -> server.
  std::unique_ptr<pg::FrontendDecoder> frontend;
  std::string frontend_buffer;
  bool frontend_started = false;  // any client bytes seen
  bool frontend_aligned = false;
  // Server -> client.
  pg::BackendDecoder backend;
  pg::BackendMessage backend_message;  // reused: DataRow decodes in place
  std::string backend_buffer;
  bool backend_aligned = false;
  // Requests before this sequence number may have had (part of) their replies in skipped server
  // chunks: on realignment they are forgotten rather than paired with a later reply.
  uint64_t backend_skip_mark = 0;

  std::map<std::string, std::string, std::less<>> statements;  // prepared name -> SQL
  std::map<std::string, std::string, std::less<>> portals;     // portal -> SQL
  std::string last_parse;  // for an error answering a Parse that had no Execute
  std::deque<Pending> pending;
  uint64_t next_request = 0;

  void Push(Pending::Kind kind, std::string text) {
    pending.push_back({kind, std::move(text), next_request++});
  }
  void MarkBackendSkip() {
    backend_aligned = false;
    backend_buffer.clear();
    backend_skip_mark = next_request;
  }
  uint64_t rows = 0;  // DataRows since the last CommandComplete

  explicit Connection(pg::DecoderLimits l) : limits(l), backend(l) {}
};

PgObserver::PgObserver(PgObserverOptions options, ObservedStatementCallback callback)
    : options_(std::move(options)),
      endpoints_(options_.endpoints.begin(), options_.endpoints.end()),
      callback_(std::move(callback)) {}

PgObserver::~PgObserver() = default;

void PgObserver::OnChunk(const TlsChunk& chunk) {
  Key key{chunk.tgid, chunk.ssl};
  if (chunk.direction == TlsDirection::kClose) {
    connections_.erase(key);
    return;
  }
  auto it = connections_.find(key);
  if (it == connections_.end()) {
    if (!endpoints_.empty() && !endpoints_.count(chunk.remote)) return;
    if (connections_.size() >= options_.max_connections) {
      auto oldest = connections_.begin();
      for (auto c = connections_.begin(); c != connections_.end(); ++c) {
        if (c->second->sequence < oldest->second->sequence) oldest = c;
      }
      connections_.erase(oldest);
    }
    pg::DecoderLimits limits;
    limits.max_message = options_.max_buffered;
    auto conn = std::make_unique<Connection>(limits);
    conn->sequence = next_sequence_++;
    conn->tgid = chunk.tgid;
    conn->remote = chunk.remote;
    it = connections_.emplace(key, std::move(conn)).first;
  }
  Connection& conn = *it->second;
  conn.uid = chunk.uid;
  if (conn.remote.empty()) conn.remote = chunk.remote;
  bool client_to_server = chunk.direction == TlsDirection::kWrite;
  if (!Feed(conn, client_to_server, chunk.data, chunk.truncated)) {
    ++stats_.dropped_connections;
    connections_.erase(key);
  }
}

bool PgObserver::Feed(Connection& conn, bool client_to_server, std::string_view data,
                      bool truncated) {
  if (data.empty()) return true;
  if (client_to_server) {
    if (!conn.frontend_started) {
      // Decide on the first 8 bytes, however they were split.
      conn.frontend_buffer.append(data);
      if (conn.frontend_buffer.size() < 8) return true;
      conn.frontend_started = true;
      std::string first = std::move(conn.frontend_buffer);
      conn.frontend_buffer.clear();
      if (LooksLikeStartup(first)) {
        conn.frontend = std::make_unique<pg::FrontendDecoder>(conn.limits);
        conn.frontend_aligned = true;
      }
      return Feed(conn, client_to_server, first, truncated);
    }
    if (!conn.frontend_aligned) {
      if (!LooksAligned(data, /*frontend=*/true, conn.limits)) {
        ++stats_.skipped_chunks;
        return true;
      }
      ++stats_.realigned;
      conn.frontend =
          std::make_unique<pg::FrontendDecoder>(conn.limits, pg::FrontendDecoder::Phase::kTyped);
      conn.frontend_buffer.clear();
      conn.frontend_aligned = true;
    }
    conn.frontend_buffer.append(data);
  } else {
    if (!conn.backend_aligned) {
      if (!LooksAligned(data, /*frontend=*/false, conn.limits)) {
        ++stats_.skipped_chunks;
        conn.MarkBackendSkip();
        return true;
      }
      ++stats_.realigned;
      conn.backend = pg::BackendDecoder(conn.limits);
      conn.backend_buffer.clear();
      conn.backend_aligned = true;
      conn.rows = 0;
      while (!conn.pending.empty() && conn.pending.front().sequence < conn.backend_skip_mark) {
        conn.pending.pop_front();
      }
    }
    conn.backend_buffer.append(data);
  }
  if (!Decode(conn, client_to_server)) return false;
  if (truncated) {
    // Bytes after this chunk are missing: find the next boundary again.
    if (client_to_server) {
      conn.frontend_aligned = false;
      conn.frontend_buffer.clear();
    } else {
      conn.MarkBackendSkip();
    }
  }
  return true;
}

bool PgObserver::Decode(Connection& conn, bool client_to_server) {
  std::string& buffer = client_to_server ? conn.frontend_buffer : conn.backend_buffer;
  size_t pos = 0;
  while (pos < buffer.size()) {
    std::span<const uint8_t> rest = Bytes(std::string_view(buffer).substr(pos));
    size_t consumed = 0;
    if (client_to_server) {
      pg::FrontendMessage message;
      pg::DecodeResult r = conn.frontend->Decode(rest, &consumed, &message);
      if (r.status == pg::DecodeStatus::kError) return false;
      if (r.status == pg::DecodeStatus::kNeedMoreData) break;
      OnFrontend(conn, message);
    } else {
      pg::DecodeResult r = conn.backend.Decode(rest, &consumed, &conn.backend_message);
      if (r.status == pg::DecodeStatus::kError) return false;
      if (r.status == pg::DecodeStatus::kNeedMoreData) break;
      OnBackend(conn);
    }
    pos += consumed;
  }
  buffer.erase(0, pos);
  // The decoder refuses frames declared larger than max_buffered as soon as their header
  // arrives; this bounds what a run of small incomplete headers could hold.
  return buffer.size() <= options_.max_buffered;
}

void PgObserver::OnFrontend(Connection& conn, const pg::FrontendMessage& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, pg::StartupMessage>) {
          conn.user = std::string(m.user());
          conn.database = std::string(m.database());
          conn.backend_aligned = true;  // the server's first reply follows
        } else if constexpr (std::is_same_v<T, pg::Query>) {
          conn.Push(Pending::kSimple, std::string(m.sql));
        } else if constexpr (std::is_same_v<T, pg::Parse>) {
          if (conn.statements.size() >= kMaxNamedStatements) conn.statements.clear();
          conn.last_parse = std::string(m.query);
          conn.statements[std::string(m.statement)] = conn.last_parse;
        } else if constexpr (std::is_same_v<T, pg::Bind>) {
          if (conn.portals.size() >= kMaxNamedStatements) conn.portals.clear();
          auto s = conn.statements.find(m.statement);
          conn.portals[std::string(m.portal)] =
              s == conn.statements.end() ? std::string() : s->second;
        } else if constexpr (std::is_same_v<T, pg::Execute>) {
          auto p = conn.portals.find(m.portal);
          conn.Push(Pending::kExecute, p == conn.portals.end() ? std::string() : p->second);
        } else if constexpr (std::is_same_v<T, pg::Sync>) {
          conn.Push(Pending::kSync, {});
        } else if constexpr (std::is_same_v<T, pg::Close>) {
          if (m.target == 'S') {
            if (auto s = conn.statements.find(m.name); s != conn.statements.end()) {
              conn.statements.erase(s);
            }
          } else if (auto p = conn.portals.find(m.name); p != conn.portals.end()) {
            conn.portals.erase(p);
          }
        }
      },
      message);
}

void PgObserver::OnBackend(Connection& conn) {
  if (std::holds_alternative<pg::ReadyForQuery>(conn.backend_message)) {
    // The end of a simple Query or of an extended batch: drop its entries.
    while (!conn.pending.empty()) {
      Pending::Kind kind = conn.pending.front().kind;
      conn.pending.pop_front();
      if (kind != Pending::kExecute) break;
    }
    conn.rows = 0;
  } else {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, pg::DataRowView>) {
            ++conn.rows;
          } else if constexpr (std::is_same_v<T, pg::CommandComplete>) {
            if (conn.pending.empty() || conn.pending.front().kind == Pending::kSync) return;
            Pending& front = conn.pending.front();
            bool extended = front.kind == Pending::kExecute;
            std::string text = extended ? std::move(front.text) : front.text;
            if (extended) conn.pending.pop_front();
            Emit(conn, std::move(text), extended, std::string(m.tag), {});
          } else if constexpr (std::is_same_v<T, pg::EmptyQueryResponse> ||
                               std::is_same_v<T, pg::PortalSuspended>) {
            if (!conn.pending.empty() && conn.pending.front().kind == Pending::kExecute) {
              conn.pending.pop_front();
            }
          } else if constexpr (std::is_same_v<T, pg::ErrorResponse>) {
            if (conn.pending.empty()) return;
            Pending& front = conn.pending.front();
            if (front.kind == Pending::kSimple) {
              Emit(conn, front.text, false, {}, std::string(m.sqlstate()));
              return;
            }
            // Extended: the server skips to the next Sync.
            std::string text =
                front.kind == Pending::kExecute ? std::move(front.text) : conn.last_parse;
            while (!conn.pending.empty() && conn.pending.front().kind == Pending::kExecute) {
              conn.pending.pop_front();
            }
            Emit(conn, std::move(text), true, {}, std::string(m.sqlstate()));
          }
        },
        conn.backend_message);
  }
}

void PgObserver::Emit(Connection& conn, std::string statement, bool extended, std::string tag,
                      std::string sqlstate) {
  uint64_t counted = conn.rows;
  conn.rows = 0;
  if (statement.empty()) return;  // its request was not seen (joined mid-batch)
  ObservedStatement s;
  s.tgid = conn.tgid;
  s.uid = conn.uid;
  s.remote = conn.remote;
  s.user = conn.user;
  s.database = conn.database;
  s.statement = std::move(statement);
  s.extended = extended;
  int64_t tagged = RowsFromCommandTag(tag);
  s.rows = tagged >= 0 ? static_cast<uint64_t>(tagged) : (sqlstate.empty() ? counted : 0);
  s.command_tag = std::move(tag);
  s.sqlstate = std::move(sqlstate);
  ++stats_.statements;
  callback_(s);
}

}  // namespace veil::agent::bpf
