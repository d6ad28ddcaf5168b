#include "tools/veilctl/mcp_pg.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "tools/veilctl/pg_handles.h"

namespace veil::veilctl {
namespace {

using Res = PgRes;

std::string Field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v ? v : "";
}

PgError ErrorOf(const PGresult* r) {
  PgError e;
  e.severity = Field(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (e.severity.empty()) e.severity = Field(r, PG_DIAG_SEVERITY);
  e.sqlstate = Field(r, PG_DIAG_SQLSTATE);
  e.message = Field(r, PG_DIAG_MESSAGE_PRIMARY);
  e.detail = Field(r, PG_DIAG_MESSAGE_DETAIL);
  e.hint = Field(r, PG_DIAG_MESSAGE_HINT);
  if (e.message.empty()) e.message = PQresultErrorMessage(r);
  return e;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t b = s.find_first_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b);
}

// A failed connection's text, "connection to server on socket \"…\" failed: FATAL:  veil: no
// active grant for user:alice on shop-db\nHINT:  veilctl grants request …": libpq has no
// structured form of it, so its lines are read back into fields.
PgError ConnectErrorOf(const std::string& text) {
  PgError e;
  e.at_connect = true;
  std::string rest = text;
  if (size_t f = rest.find("failed: "); f != std::string::npos) rest = rest.substr(f + 8);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t nl = rest.find('\n', start);
    std::string line = rest.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? rest.size() + 1 : nl + 1;
    for (const char* sev : {"FATAL:", "ERROR:", "PANIC:"}) {
      if (line.starts_with(sev) && e.message.empty()) {
        e.severity = std::string(sev, std::strlen(sev) - 1);
        e.message = Trim(line.substr(std::strlen(sev)));
        line.clear();
      }
    }
    if (line.starts_with("DETAIL:"))
      e.detail = Trim(line.substr(7));
    else if (line.starts_with("HINT:"))
      e.hint = Trim(line.substr(5));
    else if (!line.empty() && e.message.empty())
      e.message = Trim(line);
  }
  // veild's refusals (SPEC §5) by their words: libpq does not pass a connection's SQLSTATE on.
  if (e.message.starts_with("veil: no active grant") ||
      e.message.starts_with("veil: this endpoint requires TLS"))
    e.sqlstate = "28000";
  else if (e.message.starts_with("veil: grant ") || e.message.starts_with("veil: session"))
    e.sqlstate = "57P01";
  else if (e.message.starts_with("veil: "))
    e.sqlstate = "08006";
  return e;
}

std::string QuoteOption(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == ' ' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void Cancel(PGconn* c) {
  if (PGcancel* cancel = PQgetCancel(c)) {
    char err[256];
    PQcancel(cancel, err, sizeof(err));
    PQfreeCancel(cancel);
  }
}

}  // namespace

std::string PgError::Text() const {
  std::string out = severity.empty() ? "ERROR" : severity;
  if (!sqlstate.empty()) out += " " + sqlstate;
  out += ": " + message;
  if (!detail.empty()) out += "\nDETAIL: " + detail;
  if (!hint.empty()) out += "\nHINT: " + hint;
  return out;
}

std::unique_ptr<PgConnection> PgConnection::Open(const PgTarget& t, PgError* error) {
  const std::string port = std::to_string(t.port);
  const std::string options = "-c default_transaction_read_only=on -c statement_timeout=" +
                              QuoteOption(std::to_string(t.statement_timeout.count()));
  std::vector<const char*> keys = {
      "host", "port", "application_name", "options", "client_encoding", "connect_timeout"};
  std::vector<const char*> values = {t.socket_dir.c_str(), port.c_str(), t.application_name.c_str(),
                                     options.c_str(),      "UTF8",       "10"};
  if (!t.database.empty()) {
    keys.push_back("dbname");
    values.push_back(t.database.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (!c) {
    *error = {"FATAL", "", "out of memory", "", "", true};
    return nullptr;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    *error = ConnectErrorOf(PQerrorMessage(c));
    PQfinish(c);
    return nullptr;
  }
  // A hostaddr (PGHOSTADDR, a service file) makes libpq dial TCP instead of veild's socket.
  if (const char* addr = PQhostaddr(c); addr && *addr) {
    *error = {"FATAL",
              "",
              "the connection went to " + std::string(addr) +
                  " instead of veild's socket: unset hostaddr (PGHOSTADDR or the "
                  "service file)",
              "",
              "",
              true};
    PQfinish(c);
    return nullptr;
  }
  return std::unique_ptr<PgConnection>(new PgConnection(c));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

std::string PgConnection::database() const { return PQdb(conn_) ? PQdb(conn_) : ""; }

std::variant<QueryResult, PgError> PgConnection::Run(const std::string& sql,
                                                     const QueryLimits& limits,
                                                     const std::atomic<bool>& cancelled,
                                                     const std::vector<std::string>& params) {
  const auto start = std::chrono::steady_clock::now();
  // veild and the server enforce statement_timeout; this deadline only covers a server that
  // does not answer the cancel.
  const auto deadline = start + limits.statement_timeout + std::chrono::seconds(2);
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0)) {
    return PgError{"ERROR", "", PQerrorMessage(conn_)};
  }
  PQsetSingleRowMode(conn_);
  QueryResult out;
  std::optional<PgError> error;
  std::string stopped;  // why we cancelled: "max_rows", "max_bytes", "cancelled", "timeout"
  auto stop = [&](const char* why) {
    if (!stopped.empty()) return;
    stopped = why;
    Cancel(conn_);
  };
  while (true) {
    while (PQisBusy(conn_)) {
      if (cancelled.load()) stop("cancelled");
      if (std::chrono::steady_clock::now() > deadline) stop("timeout");
      pollfd p{PQsocket(conn_), POLLIN, 0};
      if (::poll(&p, 1, 100) < 0 && errno != EINTR) break;
      if (!PQconsumeInput(conn_)) break;
    }
    Res r(PQgetResult(conn_));
    if (!r) break;
    switch (PQresultStatus(r.get())) {
      case PGRES_SINGLE_TUPLE: {
        if (out.columns.empty())
          for (int i = 0; i < PQnfields(r.get()); ++i)
            out.columns.push_back({PQfname(r.get(), i), PQftype(r.get(), i), PQftable(r.get(), i),
                                   PQftablecol(r.get(), i)});
        if (!stopped.empty()) break;  // draining after a cancel
        if (out.rows.size() >= limits.max_rows) {
          out.truncated = true;
          out.truncated_by = "max_rows";
          stop("max_rows");
          break;
        }
        uint64_t row_bytes = 0;
        std::vector<std::optional<std::string>> row;
        for (int i = 0; i < PQnfields(r.get()); ++i) {
          if (PQgetisnull(r.get(), 0, i)) {
            row.emplace_back();
            continue;
          }
          row.emplace_back(std::string(PQgetvalue(r.get(), 0, i), PQgetlength(r.get(), 0, i)));
          row_bytes += static_cast<uint64_t>(PQgetlength(r.get(), 0, i));
        }
        if (out.bytes + row_bytes > limits.max_bytes) {
          out.truncated = true;
          out.truncated_by = "max_bytes";
          stop("max_bytes");
          break;
        }
        out.bytes += row_bytes;
        out.rows.push_back(std::move(row));
        break;
      }
      case PGRES_TUPLES_OK:
        if (out.columns.empty())
          for (int i = 0; i < PQnfields(r.get()); ++i)
            out.columns.push_back({PQfname(r.get(), i), PQftype(r.get(), i), PQftable(r.get(), i),
                                   PQftablecol(r.get(), i)});
        out.command_tag = PQcmdStatus(r.get());
        break;
      case PGRES_COMMAND_OK:
        out.command_tag = PQcmdStatus(r.get());
        break;
      case PGRES_EMPTY_QUERY:
        error = PgError{"ERROR", "42601", "the statement is empty"};
        break;
      default: {
        PgError e = ErrorOf(r.get());
        // The cancel we sent for a cap: the rows kept are the answer.
        if (e.sqlstate == "57014" && (stopped == "max_rows" || stopped == "max_bytes")) break;
        if (!error) error = e;
        break;
      }
    }
  }
  out.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  if (stopped == "cancelled") return PgError{"ERROR", "57014", "cancelled by the MCP client"};
  if (stopped == "timeout" || (error && error->sqlstate == "57014" &&
                               error->message.find("statement timeout") != std::string::npos)) {
    return PgError{"ERROR", "57014",
                   "the statement ran longer than the statement timeout (" +
                       std::to_string(limits.statement_timeout.count()) + " ms) and was cancelled"};
  }
  if (error) return *error;
  if (PQstatus(conn_) != CONNECTION_OK)
    return PgError{"FATAL", "08006", Trim(PQerrorMessage(conn_))};
  if (out.truncated) out.command_tag.clear();
  return out;
}

std::string TypeName(uint32_t oid) {
  static const std::map<uint32_t, const char*> kNames = {
      {16, "bool"},        {17, "bytea"},       {18, "char"},          {19, "name"},
      {20, "int8"},        {21, "int2"},        {23, "int4"},          {25, "text"},
      {26, "oid"},         {114, "json"},       {142, "xml"},          {650, "cidr"},
      {700, "float4"},     {701, "float8"},     {705, "unknown"},      {774, "macaddr8"},
      {790, "money"},      {829, "macaddr"},    {869, "inet"},         {1000, "bool[]"},
      {1005, "int2[]"},    {1007, "int4[]"},    {1009, "text[]"},      {1016, "int8[]"},
      {1015, "varchar[]"}, {1042, "bpchar"},    {1043, "varchar"},     {1082, "date"},
      {1083, "time"},      {1114, "timestamp"}, {1184, "timestamptz"}, {1186, "interval"},
      {1266, "timetz"},    {1560, "bit"},       {1562, "varbit"},      {1700, "numeric"},
      {2950, "uuid"},      {3802, "jsonb"},     {3807, "jsonb[]"},     {199, "json[]"}};
  auto it = kNames.find(oid);
  return it != kNames.end() ? it->second : "oid " + std::to_string(oid);
}

bool TextLike(uint32_t oid) {
  static const std::set<uint32_t> kNonText = {16,   17,   20,   21,   23,   26,   27,   28,   29,
                                              700,  701,  790,  1082, 1083, 1114, 1184, 1186, 1266,
                                              1560, 1562, 1700, 2950, 869,  650,  829,  774};
  return !kNonText.contains(oid);
}

bool TextLike(std::string_view udt) {
  static const std::set<std::string_view> kNonText = {
      "bool",      "bytea",       "int8",     "int2",    "int4",    "oid",    "tid",
      "xid",       "cid",         "float4",   "float8",  "money",   "date",   "time",
      "timestamp", "timestamptz", "interval", "timetz",  "bit",     "varbit", "numeric",
      "uuid",      "inet",        "cidr",     "macaddr", "macaddr8"};
  return !kNonText.contains(udt);
}

}  // namespace veil::veilctl
