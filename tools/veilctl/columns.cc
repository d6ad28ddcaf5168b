#include "tools/veilctl/columns.h"

#include <libpq-fe.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tools/veilctl/agent_client.h"
#include "tools/veilctl/endpoints.h"
#include "tools/veilctl/pg_handles.h"

namespace veil::veilctl {
namespace {

namespace cv1 = control::v1;

using Conn = PgConn;
using Res = PgRes;

nlohmann::json ColumnJson(const cv1::Column& c) {
  return {{"database", c.database()}, {"schema", c.schema()},
          {"table", c.table()},       {"column", c.column()},
          {"type", c.type()},         {"entity", c.entity()},
          {"source", c.source()},     {"confidence", c.confidence()},
          {"observed", c.observed()}, {"masked", c.masked()}};
}

std::string Name(const cv1::Column& c) {
  return c.database() + ":" + c.schema() + "." + c.table() + "." + c.column();
}

void PrintTable(const std::vector<cv1::Column>& columns) {
  std::printf("%-48s %-16s %-8s %10s %9s\n", "COLUMN", "ENTITY", "SOURCE", "CONFIDENCE",
              "OBSERVED");
  for (const auto& c : columns)
    std::printf("%-48s %-16s %-8s %10.2f %9llu\n", Name(c).c_str(),
                c.entity().empty() ? "-" : c.entity().c_str(),
                c.source().empty() ? "-" : c.source().c_str(), c.confidence(),
                static_cast<unsigned long long>(c.observed()));
}

Result<std::vector<cv1::Column>> List(const ColumnsOptions& o, bool all, int* rc) {
  cv1::Request req;
  req.mutable_list_columns()->set_endpoint(o.endpoint);
  req.mutable_list_columns()->set_all(all);
  auto resp = Call(o.socket, req);
  if (!resp.ok()) {
    *rc = 3;
    return resp.error();
  }
  if (!resp->ok()) {
    *rc = 1;
    return Error{"columns refused: " + resp->error()};
  }
  return std::vector<cv1::Column>(resp->columns().begin(), resp->columns().end());
}

// The endpoint's listen port, from the configuration veild runs with.
Result<int> ListenPortOf(const ColumnsOptions& o) {
  if (o.listen_port > 0) return o.listen_port;
  auto loaded = LoadConfig(o.config_file);
  if (!loaded.ok()) return Error{loaded.error().message + " (or give --port)"};
  auto e = FindEndpoint(*loaded, o.endpoint);
  if (!e.ok()) return e.error();
  if (int port = ListenPort(*e); port > 0) return port;
  return Error{"endpoint " + o.endpoint + " has no listen address in " + o.config_file};
}

std::string QuoteIdent(PGconn* c, const std::string& s) {
  char* q = PQescapeIdentifier(c, s.data(), s.size());
  std::string out = q ? q : "\"\"";
  PQfreemem(q);
  return out;
}

}  // namespace

int RunColumns(const ColumnsOptions& o) {
  int rc = 0;
  auto columns = List(o, o.all, &rc);
  if (!columns.ok()) {
    std::fprintf(stderr, "veilctl: %s\n", columns.error().message.c_str());
    return rc;
  }
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *columns) out.push_back(ColumnJson(c));
    std::printf("%s\n", out.dump().c_str());
  } else {
    PrintTable(*columns);
  }
  return 0;
}

int RunDiscover(const ColumnsOptions& o) {
  auto port = ListenPortOf(o);
  if (!port.ok()) {
    std::fprintf(stderr, "veilctl: discover: %s\n", port.error().message.c_str());
    return 1;
  }
  std::string folder = o.listen_socket.empty() ? SocketFolder(o.socket) : o.listen_socket;
  // host and port name veild's unix socket; user, database and password come from libpq's
  // usual sources (PGUSER, PGDATABASE, ~/.pgpass, PGSERVICE), never from this command line.
  const char* keys[] = {"host", "port", "application_name", "connect_timeout", nullptr};
  std::string port_text = std::to_string(*port);
  const char* values[] = {folder.c_str(), port_text.c_str(), "veilctl discover", "10", nullptr};
  Conn conn(PQconnectdbParams(keys, values, 1));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::fprintf(stderr, "veilctl: discover: connecting through veild (%s, port %d): %s",
                 folder.c_str(), *port, PQerrorMessage(conn.get()));
    return 1;
  }
  // Text-like columns of ordinary tables, materialized views and foreign tables.
  Res cols(
      PQexec(conn.get(),
             "SELECT n.nspname, c.relname, a.attname FROM pg_catalog.pg_attribute a "
             "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
             "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
             "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
             "WHERE c.relkind IN ('r', 'p', 'm', 'f') AND a.attnum > 0 AND NOT "
             "a.attisdropped AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
             "AND n.nspname NOT LIKE 'pg_toast%' AND NOT pg_catalog.pg_is_other_temp_schema(n.oid) "
             "AND (t.typcategory = 'S' OR t.oid IN (114, 3802, 142)) "
             "AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT') "
             "ORDER BY 1, 2, a.attnum"));
  if (PQresultStatus(cols.get()) != PGRES_TUPLES_OK) {
    std::fprintf(stderr, "veilctl: discover: listing columns: %s", PQerrorMessage(conn.get()));
    return 1;
  }
  const std::string database = PQdb(conn.get());
  std::set<std::tuple<std::string, std::string, std::string>> sampled;
  for (int i = 0; i < PQntuples(cols.get()); ++i) {
    std::string schema = PQgetvalue(cols.get(), i, 0), table = PQgetvalue(cols.get(), i, 1),
                column = PQgetvalue(cols.get(), i, 2);
    std::string sql = "SELECT " + QuoteIdent(conn.get(), column) + " FROM " +
                      QuoteIdent(conn.get(), schema) + "." + QuoteIdent(conn.get(), table) +
                      " LIMIT " + std::to_string(o.sample);
    Res rows(PQexec(conn.get(), sql.c_str()));  // masked by veild; read and dropped
    if (PQresultStatus(rows.get()) != PGRES_TUPLES_OK) {
      std::fprintf(stderr, "veilctl: discover: %s.%s.%s: %s", schema.c_str(), table.c_str(),
                   column.c_str(), PQresultErrorMessage(rows.get()));
      continue;
    }
    sampled.emplace(schema, table, column);
  }
  conn.reset();
  int rc = 0;
  auto columns = List(o, /*all=*/true, &rc);
  if (!columns.ok()) {
    std::fprintf(stderr, "veilctl: %s\n", columns.error().message.c_str());
    return rc;
  }
  std::vector<cv1::Column> shown;
  for (const auto& c : *columns)
    if (c.database() == database && sampled.contains({c.schema(), c.table(), c.column()}))
      shown.push_back(c);
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : shown) out.push_back(ColumnJson(c));
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("sampled %zu text columns of %s (up to %llu values each) through veild\n",
                sampled.size(), database.c_str(), static_cast<unsigned long long>(o.sample));
    PrintTable(shown);
  }
  return 0;
}

}  // namespace veil::veilctl
