#include "tools/veilctl/mcp_tools.h"

#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "agent/grants/principal.h"
#include "config/loader.h"
#include "masker/entity.h"
#include "masker/profile.h"
#include "masker/strategy.h"
#include "tools/veilctl/agent_client.h"
#include "tools/veilctl/endpoints.h"
#include "tools/veilctl/mcp_server.h"

#ifndef VEIL_VERSION
#define VEIL_VERSION "0.0.0"
#endif

namespace veil::veilctl {
namespace {

using mcp::Json;
using mcp::ToolResult;
namespace cv1 = control::v1;

// veild marks the usage events of sessions whose application_name starts so (agent/events/
// ocsf.h kMcpApplicationPrefix): keep the two in step.
constexpr std::string_view kApplicationPrefix = "veilctl mcp";

constexpr char kInstructions[] =
    "veil gives you masked, just-in-time access to databases. Start with list_databases. "
    "describe shows an endpoint's tables and, per column, whether its values come back masked "
    "and how. query runs one read-only SQL statement through veil: sensitive values come back "
    "masked (tokens such as [EMAIL], [PERSON_NAME] or u_…@masked.invalid, partial values, or "
    "NULL); they are masked on purpose and cannot be unmasked, so do not try. Masked tokens are "
    "deterministic: joins, GROUP BY and count(DISTINCT) on them still work. If query answers "
    "that there is no active grant, call request_access with the endpoint, a ttl such as 1h and "
    "a concrete reason a human can judge; a person approves it with veilctl, and access_status "
    "(with wait_seconds) tells you when it is active. Never ask the user for database "
    "passwords: this server's environment supplies them.";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Utc(int64_t t) {
  if (t <= 0) return "";
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Duration(int64_t s) {
  std::string out;
  for (auto [unit, n] : {std::pair{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}})
    if (s >= n) {
      out += std::to_string(s / n) + unit;
      s %= n;
    }
  return out.empty() ? "0s" : out;
}

std::string AccessName(config::v1::Endpoint::Access a) {
  switch (a) {
    case config::v1::Endpoint::ACCESS_GRANT:
      return "grant";
    case config::v1::Endpoint::ACCESS_OPEN:
      return "open";
    case config::v1::Endpoint::ACCESS_OBSERVE:
      return "observe";
    default:
      return "unknown";
  }
}

// The MCP client's name as it may appear in application_name (NAMEDATALEN: 63 bytes) and in
// events: printable ASCII only.
std::string ApplicationName(const std::string& client) {
  std::string clean;
  for (char c : client)
    if (std::isalnum(static_cast<unsigned char>(c)) || std::strchr(" ._-/@+", c)) clean += c;
  std::string out(kApplicationPrefix);
  out += ": " + (clean.empty() ? std::string("unnamed client") : clean);
  if (out.size() > 63) out.resize(63);
  return out;
}

// -------------------------------------------------------------------------------------------
// Schemas. Keywords shared by JSON Schema draft-07 and 2020-12 only, so every client's
// validator reads them alike.

Json Parse(const char* text) { return Json::parse(text); }

const char kGrantSchema[] = R"json({
  "type": "object",
  "properties": {
    "id": {"type": "string"},
    "endpoints": {"type": "array", "items": {"type": "string"}},
    "principal": {"type": "string"},
    "state": {"type": "string", "enum": ["pending", "active", "expired", "revoked", "denied"]},
    "access": {"type": "string"},
    "requested_at": {"type": "string", "description": "UTC, RFC 3339"},
    "not_before": {"type": "string"},
    "not_after": {"type": "string", "description": "when an active grant ends (UTC)"},
    "expires_in_seconds": {"type": "integer"},
    "reason": {"type": "string"},
    "requester": {"type": "string"},
    "approved_by": {"type": "array", "items": {"type": "string"}}
  },
  "required": ["id", "endpoints", "state", "access"]
})json";

Json GrantSchema() { return Parse(kGrantSchema); }

Json ListDatabasesInput() {
  return Parse(R"json({"type": "object", "properties": {}, "additionalProperties": false})json");
}

Json ListDatabasesOutput() {
  Json s = Parse(R"json({
    "type": "object",
    "properties": {
      "caller": {"type": "string", "description": "who veild sees: the unix user running this server"},
      "databases": {"type": "array", "items": {
        "type": "object",
        "properties": {
          "endpoint": {"type": "string"},
          "protocol": {"type": "string"},
          "access_mode": {"type": "string", "enum": ["grant", "open", "unknown"],
            "description": "grant: a query needs an active grant; open: no grant needed"},
          "can_query_now": {"type": "boolean"},
          "can_request_access": {"type": "boolean"},
          "approvers": {"type": "array", "items": {"type": "string"}},
          "approvals_needed": {"type": "integer"},
          "max_ttl": {"type": "string"},
          "masking_profile": {"type": "string"},
          "grants": {"type": "array", "items": {}},
          "next_step": {"type": "string"}
        },
        "required": ["endpoint", "access_mode", "can_query_now", "grants", "next_step"]
      }},
      "notes": {"type": "array", "items": {"type": "string"}}
    },
    "required": ["caller", "databases"]
  })json");
  s["properties"]["databases"]["items"]["properties"]["grants"]["items"] = GrantSchema();
  return s;
}

Json DescribeInput() {
  return Parse(R"json({
    "type": "object",
    "properties": {
      "endpoint": {"type": "string", "minLength": 1, "description": "an endpoint from list_databases"},
      "database": {"type": "string", "description": "database name; default: the server's PGDATABASE"},
      "schema": {"type": "string", "description": "only this schema"},
      "table": {"type": "string", "description": "only this table"}
    },
    "required": ["endpoint"],
    "additionalProperties": false
  })json");
}

const char kClassification[] = R"json({
  "masking": {"type": "string", "enum": ["always", "null", "scanned", "never"],
    "description": "always: the whole value is replaced; null: the value becomes NULL; scanned: PII found inside the value is replaced; never: returned as stored"},
  "entity": {"type": "string", "description": "what veil takes the values to be, e.g. EMAIL"},
  "strategy": {"type": "string", "description": "how a masked value looks: redact ([EMAIL]), hash (deterministic token), partial, fpe, null"},
  "source": {"type": "string", "enum": ["rule", "name", "content", "lineage", "type", "default", "unknown"]},
  "why": {"type": "string"}
})json";

Json DescribeOutput() {
  Json column = {{"type", "object"},
                 {"properties", Parse(kClassification)},
                 {"required", {"name", "masking", "source"}}};
  column["properties"]["name"] = {{"type", "string"}};
  column["properties"]["type"] = {{"type", "string"}};
  column["properties"]["nullable"] = {{"type", "boolean"}};
  Json s = Parse(R"json({
    "type": "object",
    "properties": {
      "endpoint": {"type": "string"},
      "database": {"type": "string"},
      "masking_profile": {"type": "string"},
      "catalog": {"type": "object", "properties": {
        "read": {"type": "boolean"},
        "detail": {"type": "string"}
      }, "required": ["read", "detail"]},
      "classification_sources": {"type": "array", "items": {"type": "string"}},
      "tables": {"type": "array", "items": {"type": "object", "properties": {
        "schema": {"type": "string"},
        "table": {"type": "string"},
        "columns": {"type": "array"}
      }, "required": ["schema", "table", "columns"]}},
      "rules": {"type": "array", "items": {"type": "object", "properties": {
        "match": {"type": "string"},
        "action": {"type": "string"},
        "entity": {"type": "string"},
        "strategy": {"type": "string"},
        "scan": {"type": "boolean"}
      }, "required": ["match", "action"]}},
      "learned": {"type": "array", "items": {"type": "object", "properties": {
        "column": {"type": "string"},
        "entity": {"type": "string"},
        "source": {"type": "string"},
        "confidence": {"type": "number"},
        "observed": {"type": "integer"}
      }, "required": ["column", "entity", "source"]}},
      "truncated": {"type": "boolean"}
    },
    "required": ["endpoint", "catalog", "classification_sources", "tables", "rules"]
  })json");
  s["properties"]["tables"]["items"]["properties"]["columns"]["items"] = column;
  return s;
}

Json QueryInput(const QueryLimits& limits) {
  Json s = Parse(R"json({
    "type": "object",
    "properties": {
      "endpoint": {"type": "string", "minLength": 1},
      "sql": {"type": "string", "minLength": 1, "maxLength": 100000,
        "description": "one read-only SQL statement (PostgreSQL); no trailing second statement"},
      "database": {"type": "string", "description": "database name; default: the server's PGDATABASE"},
      "max_rows": {"type": "integer", "minimum": 1}
    },
    "required": ["endpoint", "sql"],
    "additionalProperties": false
  })json");
  s["properties"]["max_rows"]["maximum"] = limits.max_rows;
  s["properties"]["max_rows"]["description"] =
      "rows to return at most (default and cap " + std::to_string(limits.max_rows) + ")";
  return s;
}

Json QueryOutput() {
  Json column = {{"type", "object"},
                 {"properties", Parse(kClassification)},
                 {"required", {"name", "type", "masked"}}};
  column["properties"]["name"] = {{"type", "string"}};
  column["properties"]["type"] = {{"type", "string"}};
  column["properties"]["masked"] = {
      {"type", "boolean"},
      {"description",
       "true when values of this column came back masked (by rule, by lineage, "
       "or masked tokens seen in them)"}};
  column["properties"]["base_column"] = {{"type", "string"}};
  Json s = Parse(R"json({
    "type": "object",
    "properties": {
      "endpoint": {"type": "string"},
      "database": {"type": "string"},
      "columns": {"type": "array"},
      "rows": {"type": "array", "description": "values as PostgreSQL's text form; null is SQL NULL",
        "items": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
      "row_count": {"type": "integer"},
      "truncated": {"type": "boolean"},
      "truncated_by": {"type": "string", "enum": ["max_rows", "max_bytes"]},
      "limits": {"type": "object", "properties": {
        "max_rows": {"type": "integer"},
        "max_bytes": {"type": "integer"},
        "statement_timeout_ms": {"type": "integer"}
      }, "required": ["max_rows", "max_bytes", "statement_timeout_ms"]},
      "masked_columns": {"type": "array", "items": {"type": "string"}},
      "command_tag": {"type": "string"},
      "duration_ms": {"type": "integer"},
      "grant_id": {"type": "string"},
      "notes": {"type": "array", "items": {"type": "string"}}
    },
    "required": ["endpoint", "columns", "rows", "row_count", "truncated", "limits", "masked_columns"]
  })json");
  s["properties"]["columns"]["items"] = column;
  return s;
}

Json RequestAccessInput() {
  return Parse(R"json({
    "type": "object",
    "properties": {
      "endpoint": {"type": "string", "minLength": 1},
      "ttl": {"type": "string", "pattern": "^([0-9]+[smhd])+$",
        "description": "how long, e.g. 30m, 1h, 1h30m; at most the policy's max_ttl (list_databases)"},
      "reason": {"type": "string", "minLength": 3, "maxLength": 500,
        "description": "why access is needed, for the human who approves (a ticket, the question being answered); recorded and audited"}
    },
    "required": ["endpoint", "ttl", "reason"],
    "additionalProperties": false
  })json");
}

Json GrantOutput(bool with_request_fields) {
  Json s = Parse(R"json({
    "type": "object",
    "properties": {
      "grant": {},
      "approvers": {"type": "array", "items": {"type": "string"},
        "description": "principals who may approve (user:NAME, group:NAME)"},
      "approvals_needed": {"type": "integer"},
      "can_query_now": {"type": "boolean"},
      "next_step": {"type": "string"}
    },
    "required": ["grant", "can_query_now", "next_step"]
  })json");
  s["properties"]["grant"] = GrantSchema();
  if (with_request_fields) s["required"].push_back("approvers");
  return s;
}

Json AccessStatusInput() {
  return Parse(R"json({
    "type": "object",
    "properties": {
      "grant_id": {"type": "string", "pattern": "^g-[a-z2-7]{12}$"},
      "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 300,
        "description": "while the grant is pending, wait up to this long for a decision"}
    },
    "required": ["grant_id"],
    "additionalProperties": false
  })json");
}

// -------------------------------------------------------------------------------------------
// The tools' state: configuration, compiled profiles, veild.

struct EndpointView {
  std::string name;
  std::string access = "unknown";
  std::string protocol = "postgres";
  int port = 0;
  std::string profile = "default";
};

class Veil {
 public:
  Veil(McpOptions options, std::function<std::string()> client_name)
      : options_(std::move(options)),
        client_name_(std::move(client_name)),
        me_(grants::FromUid(::getuid())) {
    ::unsetenv("PGHOSTADDR");  // would send libpq around veild's socket (mcp_pg.h)
  }

  ToolResult ListDatabases(const Json& args, const mcp::CallContext& ctx);
  ToolResult Describe(const Json& args, const mcp::CallContext& ctx);
  ToolResult Query(const Json& args, const mcp::CallContext& ctx);
  ToolResult RequestAccess(const Json& args, const mcp::CallContext& ctx);
  ToolResult AccessStatus(const Json& args, const mcp::CallContext& ctx);

 private:
  // The configuration, re-read when the file changes; null (and `problem`) if unreadable. A
  // caller keeps the one it got for the whole call, even if the file changes meanwhile.
  std::shared_ptr<const config::LoadedConfig> Config(std::string* problem = nullptr);
  Result<cv1::Response> Control(const cv1::Request& req);
  // Endpoints this server may show: configured (or known to veild), minus --endpoint's others.
  Result<std::vector<EndpointView>> Endpoints();
  Result<EndpointView> Endpoint(const std::string& name);
  std::shared_ptr<const masker::MaskingProfile> Profile(const std::string& name);
  Result<std::vector<cv1::Grant>> MyGrants();
  bool Mine(const cv1::Grant& g) const {
    return me_.Matches(g.principal()) || g.requester() == me_.Display();
  }
  struct PolicyView {
    bool can_request = false;
    std::vector<std::string> approvers;
    int approvals = 0;
    int64_t max_ttl = 0;
    bool auto_approve = false;
  };
  PolicyView PolicyFor(const std::string& endpoint);
  bool Standing(const std::string& endpoint);
  std::unique_ptr<PgConnection> Connect(const EndpointView& ep, const std::string& database,
                                        PgError* error);
  // A refusal as a tool error: veild's words, its HINT, and what the agent can do about it.
  ToolResult Refusal(const EndpointView& ep, const PgError& e);
  // What veild has learned of the endpoint's columns; `source` says where it came from.
  std::vector<cv1::Column> Learned(const std::string& endpoint, std::string* source);
  Json Classify(const masker::MaskingProfile* profile, const std::string& schema,
                const std::string& table, const std::string& column, bool text_like,
                const cv1::Column* learned);

  McpOptions options_;
  std::function<std::string()> client_name_;
  grants::Principal me_;
  std::mutex mu_;
  std::shared_ptr<const config::LoadedConfig> config_;
  std::string config_problem_;
  struct timespec config_mtime_ {};
  std::map<std::string, std::pair<std::string, std::shared_ptr<const masker::MaskingProfile>>>
      profiles_;  // by name: (serialized config it was compiled from, compiled)
};

std::shared_ptr<const config::LoadedConfig> Veil::Config(std::string* problem) {
  struct stat st {};
  if (::stat(options_.config_file.c_str(), &st) != 0) {
    config_.reset();
    config_problem_ = options_.config_file + ": " + std::strerror(errno);
  } else if (!config_ || st.st_mtim.tv_sec != config_mtime_.tv_sec ||
             st.st_mtim.tv_nsec != config_mtime_.tv_nsec) {
    auto loaded = config::LoadFile(options_.config_file);
    if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded)) {
      config_.reset();
      config_problem_ = diags->empty() ? options_.config_file : diags->front().ToString();
    } else {
      config_ = std::make_shared<const config::LoadedConfig>(
          std::get<config::LoadedConfig>(std::move(loaded)));
      config_problem_.clear();
      config_mtime_ = st.st_mtim;
    }
  }
  if (problem) *problem = config_problem_;
  return config_;
}

Result<cv1::Response> Veil::Control(const cv1::Request& req) {
  std::string socket = options_.socket;
  if (socket.empty()) {
    const auto cfg = Config();
    socket = cfg ? cfg->config.agent().control_socket() : "/run/veil/veil.sock";
  }
  return Call(socket, req);
}

Result<std::vector<EndpointView>> Veil::Endpoints() {
  cv1::Request req;
  req.mutable_status();
  auto status = Control(req);
  if (!status.ok()) return status.error();
  std::set<std::string> live(status->status().endpoints().begin(),
                             status->status().endpoints().end());
  std::vector<EndpointView> out;
  auto wanted = [&](const std::string& name) {
    return options_.endpoints.empty() ||
           std::find(options_.endpoints.begin(), options_.endpoints.end(), name) !=
               options_.endpoints.end();
  };
  if (const auto cfg = Config()) {
    for (const auto& e : cfg->config.endpoints()) {
      if (!live.contains(e.name()) || !wanted(e.name())) continue;
      EndpointView v;
      v.name = e.name();
      v.access = AccessName(e.access());
      v.protocol = e.protocol() == config::v1::Endpoint::PROTOCOL_MYSQL ? "mysql" : "postgres";
      v.profile = e.masking();
      v.port = ListenPort(e);
      out.push_back(std::move(v));
    }
  } else {
    for (const auto& name : live)
      if (wanted(name)) out.push_back({.name = name});
  }
  return out;
}

Result<EndpointView> Veil::Endpoint(const std::string& name) {
  auto all = Endpoints();
  if (!all.ok()) return all.error();
  std::string names;
  for (const auto& e : *all) {
    if (e.name == name) return e;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  return Error{"no endpoint \"" + name + "\" here (endpoints: " +
               (names.empty() ? std::string("none") : names) + "; see list_databases)"};
}

std::shared_ptr<const masker::MaskingProfile> Veil::Profile(const std::string& name) {
  const auto cfg = Config();
  if (!cfg) return nullptr;
  auto it = cfg->config.masking().profiles().find(name);
  if (it == cfg->config.masking().profiles().end()) return nullptr;
  const std::string serialized = it->second.SerializeAsString();
  std::lock_guard l(mu_);
  auto& cached = profiles_[name];
  if (cached.second && cached.first == serialized) return cached.second;
  // Only the column decisions are used (PolicyFor): a throwaway key, never veild's.
  std::array<uint8_t, masker::MaskKey::kSize> k{};
  RAND_bytes(k.data(), static_cast<int>(k.size()));
  auto compiled = masker::MaskingProfile::Compile(it->second, "masking.profiles." + name,
                                                  masker::MaskKey::FromBytes(k));
  if (auto* p = std::get_if<std::shared_ptr<const masker::MaskingProfile>>(&compiled)) {
    cached = {serialized, *p};
    return *p;
  }
  return nullptr;
}

Result<std::vector<cv1::Grant>> Veil::MyGrants() {
  cv1::Request req;
  req.mutable_list_grants();
  auto resp = Control(req);
  if (!resp.ok()) return resp.error();
  if (!resp->ok()) {
    // No endpoint uses grants: nobody has any.
    if (resp->error().find("no endpoint uses grants") != std::string::npos)
      return std::vector<cv1::Grant>{};
    return Error{"veild refused to list grants: " + resp->error()};
  }
  std::vector<cv1::Grant> out;
  for (const auto& g : resp->grants())
    if (Mine(g)) out.push_back(g);
  return out;
}

Veil::PolicyView Veil::PolicyFor(const std::string& endpoint) {
  PolicyView v;
  const auto cfg = Config();
  if (!cfg) return v;
  std::set<std::string> approvers;
  for (const auto& p : cfg->config.grants().policies()) {
    if (std::find(p.endpoints().begin(), p.endpoints().end(), endpoint) == p.endpoints().end())
      continue;
    bool requester = false, automatic = false;
    for (const auto& r : p.requesters()) requester = requester || me_.Matches(r);
    for (const auto& r : p.auto_approve()) automatic = automatic || me_.Matches(r);
    if (!requester && !automatic) continue;
    v.can_request = true;
    v.auto_approve = v.auto_approve || automatic;
    for (const auto& a : p.approvers()) approvers.insert(a);
    const int n = static_cast<int>(p.approvals());
    if (n > 0) v.approvals = v.approvals == 0 ? n : std::min(v.approvals, n);
    v.max_ttl = std::max<int64_t>(v.max_ttl, p.max_ttl().seconds());
  }
  v.approvers.assign(approvers.begin(), approvers.end());
  return v;
}

bool Veil::Standing(const std::string& endpoint) {
  const auto cfg = Config();
  if (!cfg) return false;
  for (const auto& s : cfg->config.grants().standing())
    if (me_.Matches(s.principal()) &&
        std::find(s.endpoints().begin(), s.endpoints().end(), endpoint) != s.endpoints().end())
      return true;
  return false;
}

Json GrantJson(const cv1::Grant& g, int64_t now) {
  Json j = {{"id", g.id()},
            {"endpoints", std::vector<std::string>(g.endpoints().begin(), g.endpoints().end())},
            {"principal", g.principal()},
            {"state", g.state()},
            {"access", g.access()},
            {"reason", g.reason()},
            {"requester", g.requester()},
            {"approved_by", std::vector<std::string>(g.approvers().begin(), g.approvers().end())}};
  if (g.requested_at()) j["requested_at"] = Utc(g.requested_at());
  if (g.not_before()) j["not_before"] = Utc(g.not_before());
  if (g.not_after()) {
    j["not_after"] = Utc(g.not_after());
    if (g.state() == "active") j["expires_in_seconds"] = std::max<int64_t>(0, g.not_after() - now);
  }
  return j;
}

ToolResult Unreachable(const Error& e) {
  return ToolResult::Failure("veild could not be asked: " + e.message);
}

ToolResult Veil::ListDatabases(const Json&, const mcp::CallContext&) {
  cv1::Request req;
  req.mutable_status();
  auto status = Control(req);
  if (!status.ok()) return Unreachable(status.error());
  auto endpoints = Endpoints();
  if (!endpoints.ok()) return Unreachable(endpoints.error());
  auto grants = MyGrants();
  if (!grants.ok()) return ToolResult::Failure(grants.error().message);
  std::string problem;
  const bool have_config = Config(&problem) != nullptr;
  const int64_t now = Now();
  Json out = {{"caller", status->caller()}, {"databases", Json::array()}};
  Json notes = Json::array();
  if (!have_config)
    notes.push_back("the configuration could not be read (" + problem +
                    "): access modes, approvers and listen ports are unknown, so query and "
                    "describe cannot reach the endpoints");
  int hidden = 0;
  for (const auto& ep : *endpoints) {
    if (ep.access == "observe" || ep.protocol != "postgres") continue;  // not queried via veild
    Json mine = Json::array();
    bool active = false, pending = false;
    for (const auto& g : *grants) {
      if (std::find(g.endpoints().begin(), g.endpoints().end(), ep.name) == g.endpoints().end())
        continue;
      if (g.state() != "active" && g.state() != "pending") continue;
      active = active || (g.state() == "active" && g.not_after() > now);
      pending = pending || g.state() == "pending";
      mine.push_back(GrantJson(g, now));
    }
    const PolicyView policy = PolicyFor(ep.name);
    const bool standing = Standing(ep.name);
    if (ep.access == "grant" && !policy.can_request && mine.empty() && !standing) {
      ++hidden;  // nothing this caller can do there
      continue;
    }
    const bool can_query = ep.access == "open" || active || standing;
    Json d = {{"endpoint", ep.name},      {"protocol", ep.protocol},
              {"access_mode", ep.access}, {"can_query_now", can_query},
              {"grants", mine},           {"masking_profile", ep.profile}};
    if (ep.access == "grant") {
      d["can_request_access"] = policy.can_request;
      d["approvers"] = policy.approvers;
      if (policy.approvals) d["approvals_needed"] = policy.approvals;
      if (policy.max_ttl) d["max_ttl"] = Duration(policy.max_ttl);
    }
    std::string next;
    if (can_query)
      next = "describe it, then query it; results come back masked";
    else if (pending)
      next =
          "a request is pending: an approver runs `veilctl grants approve <id>`; "
          "access_status with wait_seconds tells you when it is active";
    else if (policy.can_request)
      next = std::string("call request_access with a ttl (at most ") +
             (policy.max_ttl ? Duration(policy.max_ttl) : std::string("the policy's max_ttl")) +
             ") and a concrete reason" +
             (policy.auto_approve ? "; your requests are approved automatically" : "");
    else
      next = "no policy lets this user request access here";
    d["next_step"] = next;
    out["databases"].push_back(std::move(d));
  }
  if (hidden > 0)
    notes.push_back(std::to_string(hidden) +
                    " more endpoint(s) need grants that no policy lets this user request");
  if (!notes.empty()) out["notes"] = notes;
  return {out, "", false};
}

std::unique_ptr<PgConnection> Veil::Connect(const EndpointView& ep, const std::string& database,
                                            PgError* error) {
  std::string socket = options_.socket;
  if (socket.empty()) {
    const auto cfg = Config();
    socket = cfg ? cfg->config.agent().control_socket() : "/run/veil/veil.sock";
  }
  PgTarget t;
  t.socket_dir = SocketFolder(socket);
  t.port = ep.port;
  t.database = database;
  t.application_name = ApplicationName(client_name_());
  t.statement_timeout = options_.limits.statement_timeout;
  return PgConnection::Open(t, error);
}

ToolResult Veil::Refusal(const EndpointView& ep, const PgError& e) {
  std::string text;
  if (e.sqlstate == "28000" && e.message.find("no active grant") != std::string::npos) {
    const PolicyView p = PolicyFor(ep.name);
    text = "veil refused the connection (SQLSTATE 28000): " + e.message;
    if (!e.hint.empty()) text += "\nHINT: " + e.hint;
    if (p.can_request)
      text += "\nTo ask for access from here, call request_access with {\"endpoint\": \"" +
              ep.name + "\", \"ttl\": \"1h\", \"reason\": \"<why you need it>\"}" +
              (p.approvers.empty() ? std::string()
                                   : "; it is approved by " +
                                         [&] {
                                           std::string a;
                                           for (const auto& x : p.approvers)
                                             a += (a.empty() ? "" : ", ") + x;
                                           return a;
                                         }()) +
              ".";
    else
      text +=
          "\nNo grant policy lets this user request access to " + ep.name + ": ask an operator.";
    return ToolResult::Failure(text);
  }
  if (e.sqlstate == "42501" && e.message.starts_with("veil:")) {
    text = "veil blocked the statement (SQLSTATE 42501): " + e.message;
    if (!e.hint.empty()) text += "\nHINT: " + e.hint;
    text += "\nOnly read statements within the endpoint's guardrails are allowed; rewrite it.";
    return ToolResult::Failure(text);
  }
  if (e.at_connect && e.message.find("password") != std::string::npos)
    return ToolResult::Failure(
        "PostgreSQL asked for a password that this server does not have: " + e.message +
        "\nCredentials come from the MCP server's environment (PGUSER, PGPASSWORD, PGDATABASE), "
        "~/.pgpass or a service file of the user running it, never from a tool argument.");
  text = (e.at_connect ? "connecting through veil failed: " : "the statement failed: ") + e.Text();
  return ToolResult::Failure(text);
}

std::vector<cv1::Column> Veil::Learned(const std::string& endpoint, std::string* source) {
  cv1::Request req;
  req.mutable_list_columns()->set_endpoint(endpoint);
  req.mutable_list_columns()->set_all(false);
  auto resp = Control(req);
  if (!resp.ok()) {
    *source = "";
    return {};
  }
  if (!resp->ok()) {
    *source = resp->error() == "unknown call"
                  ? "this veild cannot tell what it has learned (no ListColumns): the masking "
                    "profile's column rules and names only"
                  : "";
    return {};
  }
  *source = "veild: columns it learned are sensitive from content or lineage (ListColumns)";
  return {resp->columns().begin(), resp->columns().end()};
}

std::string EntityName(const masker::MaskingProfile& p, uint8_t id) {
  return std::string(p.detector()->EntityName(id));
}

Json Veil::Classify(const masker::MaskingProfile* profile, const std::string& schema,
                    const std::string& table, const std::string& column, bool text_like,
                    const cv1::Column* learned) {
  using A = masker::ColumnPolicy::Action;
  if (learned && learned->source() == "lineage")
    return {{"masking", text_like ? "always" : "null"},
            {"entity", learned->entity()},
            {"source", "lineage"},
            {"why", "values derived from a " + learned->entity() +
                        " column were written into it, so veil masks it whole"}};
  if (!profile)
    return {{"masking", text_like ? "scanned" : "never"},
            {"source", "unknown"},
            {"why", "the masking profile could not be read: text values are scanned by content"}};
  masker::ColumnPolicy pol = profile->PolicyFor(
      {.schema = schema, .table = table, .column = column, .text_like = text_like});
  auto strategy = [&](uint8_t e) {
    return std::string(masker::StrategyName(pol.strategy.value_or(profile->StrategyFor(e))));
  };
  if (pol.action == A::kForce) {
    const std::string entity = EntityName(*profile, pol.entity);
    return {{"masking", text_like ? "always" : "null"},
            {"entity", entity},
            {"strategy", strategy(pol.entity)},
            {"source", "rule"},
            {"why", "a column rule of the masking profile says every value is " + entity}};
  }
  if (pol.action == A::kPass) {
    const bool rule =
        profile->PolicyFor({.schema = schema, .table = table, .column = column, .text_like = true})
            .action == A::kPass;
    return {{"masking", "never"},
            {"source", rule ? "rule" : "type"},
            {"why", rule ? "a column rule of the masking profile passes it through"
                         : "not a text type, and neither its name nor a rule says it is "
                           "sensitive: returned as stored"}};
  }
  Json out = {{"masking", text_like ? "scanned" : "null"}, {"source", "default"}};
  if (pol.has_hint) {
    const std::string entity = EntityName(*profile, pol.entity);
    out["entity"] = entity;
    out["strategy"] = strategy(pol.entity);
    out["source"] = "name";
    out["why"] = text_like ? "its name says it holds " + entity + ": values are scanned, and " +
                                 entity + " in them is masked"
                           : "its name says it holds " + entity +
                                 " and it is not text: a "
                                 "masked value becomes NULL";
  } else {
    out["why"] = "values are scanned for PII by content; what is found is masked";
  }
  if (learned && learned->source() == "content" && text_like) {
    out["entity"] = learned->entity();
    out["strategy"] = strategy(
        static_cast<uint8_t>(std::max(0, profile->detector()->EntityId(learned->entity()))));
    out["source"] = "content";
    char share[16];
    std::snprintf(share, sizeof(share), "%.0f%%", learned->confidence() * 100);
    out["why"] = std::string("veild saw ") + share + " of its values masked as " +
                 learned->entity() + ": they are scanned and masked";
  }
  return out;
}

ToolResult Veil::Describe(const Json& args, const mcp::CallContext& ctx) {
  auto ep = Endpoint(args.at("endpoint").get<std::string>());
  if (!ep.ok()) return ToolResult::Failure(ep.error().message);
  const std::string schema_filter = args.value("schema", ""),
                    table_filter = args.value("table", "");
  std::string problem;
  const auto cfg = Config(&problem);
  auto profile = Profile(ep->profile);
  Json out = {{"endpoint", ep->name},
              {"masking_profile", ep->profile},
              {"tables", Json::array()},
              {"rules", Json::array()},
              {"classification_sources", Json::array()}};
  if (cfg) {
    out["classification_sources"].push_back("masking profile \"" + ep->profile + "\" of " +
                                            options_.config_file +
                                            ": column rules, then column names");
    auto it = cfg->config.masking().profiles().find(ep->profile);
    if (it != cfg->config.masking().profiles().end()) {
      for (const auto& r : it->second.columns()) {
        Json rule = {
            {"match", r.match()},
            {"action", r.action() == config::v1::ColumnRule::ACTION_PASS ? "pass" : "mask"}};
        if (!r.entity().empty()) rule["entity"] = r.entity();
        if (r.scan()) rule["scan"] = true;
        if (r.strategy() != config::v1::MaskingProfile::STRATEGY_UNSPECIFIED) {
          std::string name = config::v1::MaskingProfile::Strategy_Name(r.strategy());
          name = name.substr(std::string("STRATEGY_").size());
          std::transform(name.begin(), name.end(), name.begin(), ::tolower);
          rule["strategy"] = name;
        }
        out["rules"].push_back(rule);
      }
    }
  } else {
    out["classification_sources"].push_back("no masking profile: " + problem);
  }
  std::string learned_source;
  std::vector<cv1::Column> learned = Learned(ep->name, &learned_source);
  if (!learned_source.empty()) out["classification_sources"].push_back(learned_source);

  PgError error;
  std::unique_ptr<PgConnection> conn;
  if (ep->port > 0) conn = Connect(*ep, args.value("database", ""), &error);
  std::string database = args.value("database", "");
  if (!conn) {
    std::string why = ep->port == 0
                          ? "the endpoint's listen port is unknown (configuration unreadable)"
                          : error.Text();
    if (error.sqlstate == "28000" && error.message.find("no active grant") != std::string::npos)
      why = "reading the catalog needs an active grant like any query (" + error.message +
            "); until then, the rules and what veild learned below say what is masked. Call "
            "request_access to get one.";
    out["catalog"] = {{"read", false}, {"detail", why}};
  } else {
    database = conn->database();
    QueryLimits limits = options_.limits;
    limits.max_rows = 5000;
    limits.max_bytes = 4u << 20;
    auto r = conn->Run(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.udt_name, "
        "c.is_nullable FROM information_schema.columns c "
        "WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND c.table_schema NOT LIKE 'pg\\_toast%' "
        "AND ($1 = '' OR c.table_schema = $1) AND ($2 = '' OR c.table_name = $2) "
        "ORDER BY c.table_schema, c.table_name, c.ordinal_position",
        limits, ctx.cancelled, {schema_filter, table_filter});
    if (auto* e = std::get_if<PgError>(&r)) {
      out["catalog"] = {{"read", false}, {"detail", "information_schema: " + e->Text()}};
    } else {
      const auto& q = std::get<QueryResult>(r);
      out["catalog"] = {{"read", true},
                        {"detail", "information_schema.columns of " + database +
                                       ", read through veild (columns this role may read)"}};
      if (q.truncated) out["truncated"] = true;
      Json* table = nullptr;
      for (const auto& row : q.rows) {
        const std::string s = row[0].value_or(""), t = row[1].value_or(""), c = row[2].value_or(""),
                          data_type = row[3].value_or(""), udt = row[4].value_or("");
        if (!table || (*table)["schema"] != s || (*table)["table"] != t) {
          out["tables"].push_back({{"schema", s}, {"table", t}, {"columns", Json::array()}});
          table = &out["tables"].back();
        }
        const cv1::Column* l = nullptr;
        for (const auto& x : learned)
          if (x.database() == database && x.schema() == s && x.table() == t && x.column() == c)
            l = &x;
        Json col = Classify(profile.get(), s, t, c, TextLike(udt), l);
        col["name"] = c;
        col["type"] = data_type == "USER-DEFINED" || data_type == "ARRAY" ? udt : data_type;
        col["nullable"] = row[5].value_or("") == "YES";
        (*table)["columns"].push_back(std::move(col));
      }
      if (!schema_filter.empty() || !table_filter.empty())
        if (out["tables"].empty())
          out["catalog"]["detail"] = out["catalog"]["detail"].get<std::string>() +
                                     "; no table matched the schema/table given";
    }
  }
  if (!database.empty()) out["database"] = database;
  Json learned_json = Json::array();
  for (const auto& x : learned) {
    if (!database.empty() && x.database() != database) continue;
    learned_json.push_back(
        {{"column", x.database() + ":" + x.schema() + "." + x.table() + "." + x.column()},
         {"entity", x.entity()},
         {"source", x.source()},
         {"confidence", x.confidence()},
         {"observed", x.observed()}});
  }
  out["learned"] = learned_json;
  return {out, "", false};
}

// Masked tokens in a value: "[EMAIL]" (redact) or "…@masked.invalid" (hashed e-mail).
void TokensIn(const std::string& v, const masker::MaskingProfile* profile,
              std::set<std::string>* entities) {
  for (size_t open = v.find('['); open != std::string::npos; open = v.find('[', open + 1)) {
    size_t close = v.find(']', open);
    if (close == std::string::npos || close - open > 40) continue;
    std::string name = v.substr(open + 1, close - open - 1);
    bool known = masker::BuiltinEntityFromName(name).has_value() ||
                 (profile && profile->detector()->EntityId(name) >= 0);
    if (known) entities->insert(name);
  }
  if (v.find("@masked.invalid") != std::string::npos) entities->insert("EMAIL");
}

ToolResult Veil::Query(const Json& args, const mcp::CallContext& ctx) {
  auto ep = Endpoint(args.at("endpoint").get<std::string>());
  if (!ep.ok()) return ToolResult::Failure(ep.error().message);
  if (ep->port == 0)
    return ToolResult::Failure(
        "the endpoint's listen port is unknown: the configuration could not be read");
  QueryLimits limits = options_.limits;
  if (args.contains("max_rows"))
    limits.max_rows = std::min<uint64_t>(limits.max_rows, args["max_rows"].get<uint64_t>());
  PgError error;
  auto conn = Connect(*ep, args.value("database", ""), &error);
  if (!conn) return Refusal(*ep, error);
  auto r = conn->Run(args.at("sql").get<std::string>(), limits, ctx.cancelled);
  if (auto* e = std::get_if<PgError>(&r)) return Refusal(*ep, *e);
  const QueryResult& q = std::get<QueryResult>(r);
  const std::string database = conn->database();

  // Which base column each result column reads, from the catalog (one more statement, also
  // through veild).
  std::map<std::pair<uint32_t, int>, std::array<std::string, 3>> base;
  std::set<uint32_t> tables;
  for (const auto& c : q.columns)
    if (c.table_oid) tables.insert(c.table_oid);
  if (!tables.empty()) {
    std::string oids = "{";
    for (uint32_t t : tables) oids += (oids.size() > 1 ? "," : "") + std::to_string(t);
    oids += "}";
    QueryLimits small = limits;
    small.max_rows = 10000;
    small.max_bytes = 4u << 20;
    auto names = conn->Run(
        "SELECT a.attrelid::int8, a.attnum::int4, n.nspname, c.relname, a.attname "
        "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0",
        small, ctx.cancelled, {oids});
    if (auto* n = std::get_if<QueryResult>(&names))
      for (const auto& row : n->rows)
        base[{static_cast<uint32_t>(std::stoul(row[0].value_or("0"))),
              std::stoi(row[1].value_or("0"))}] = {row[2].value_or(""), row[3].value_or(""),
                                                   row[4].value_or("")};
  }
  std::string learned_source;
  std::vector<cv1::Column> learned = Learned(ep->name, &learned_source);
  auto profile = Profile(ep->profile);

  Json columns = Json::array(), masked_columns = Json::array();
  for (size_t i = 0; i < q.columns.size(); ++i) {
    const QueryColumn& c = q.columns[i];
    std::string schema, table, column = c.name;
    if (auto it = base.find({c.table_oid, c.attnum}); it != base.end()) {
      schema = it->second[0];
      table = it->second[1];
      column = it->second[2];
    }
    const cv1::Column* l = nullptr;
    for (const auto& x : learned)
      if (!table.empty() && x.database() == database && x.schema() == schema &&
          x.table() == table && x.column() == column)
        l = &x;
    Json col = Classify(profile.get(), schema, table, column, TextLike(c.type_oid), l);
    std::set<std::string> seen;
    for (const auto& row : q.rows)
      if (row[i]) TokensIn(*row[i], profile.get(), &seen);
    const bool whole =
        col["masking"] == "always" || (col["masking"] == "null" && col["source"] != "default");
    const bool masked = whole || !seen.empty();
    // What the values showed wins over what the name suggested (an "address" of e-mails).
    if (!seen.empty() && !whole &&
        (!col.contains("entity") || !seen.contains(col["entity"].get<std::string>())))
      col["entity"] = *seen.begin();
    if (!seen.empty() && !whole) {
      std::string list;
      for (const auto& e : seen) list += (list.empty() ? "" : ", ") + e;
      col["why"] = std::string(col.value("why", "")) + "; masked " + list +
                   " tokens are in the values returned";
    }
    col["name"] = c.name;
    col["type"] = TypeName(c.type_oid);
    col["masked"] = masked;
    if (!table.empty()) col["base_column"] = schema + "." + table + "." + column;
    if (masked) masked_columns.push_back(c.name);
    columns.push_back(std::move(col));
  }
  Json rows = Json::array();
  for (const auto& row : q.rows) {
    Json r = Json::array();
    for (const auto& v : row) r.push_back(v ? Json(*v) : Json(nullptr));
    rows.push_back(std::move(r));
  }
  Json out = {{"endpoint", ep->name},
              {"database", database},
              {"columns", std::move(columns)},
              {"rows", std::move(rows)},
              {"row_count", q.rows.size()},
              {"truncated", q.truncated},
              {"limits",
               {{"max_rows", limits.max_rows},
                {"max_bytes", limits.max_bytes},
                {"statement_timeout_ms", limits.statement_timeout.count()}}},
              {"masked_columns", std::move(masked_columns)},
              {"duration_ms", q.duration_ms}};
  if (q.truncated) out["truncated_by"] = q.truncated_by;
  if (!q.command_tag.empty()) out["command_tag"] = q.command_tag;
  Json notes = Json::array();
  if (q.truncated)
    notes.push_back("the result was cut at " +
                    std::string(q.truncated_by == "max_rows"
                                    ? std::to_string(limits.max_rows) + " rows"
                                    : std::to_string(limits.max_bytes) + " bytes") +
                    "; add WHERE, LIMIT or aggregates to see what you need");
  if (!notes.empty()) out["notes"] = notes;
  return {out, "", false};
}

ToolResult GrantResult(const cv1::Grant& g, const std::vector<std::string>& approvers,
                       int approvals, bool with_approvers) {
  const int64_t now = Now();
  const bool active = g.state() == "active" && g.not_after() > now;
  Json out = {{"grant", GrantJson(g, now)}, {"can_query_now", active}};
  if (with_approvers || !approvers.empty()) out["approvers"] = approvers;
  if (approvals) out["approvals_needed"] = approvals;
  std::string next;
  if (active)
    next = "active until " + Utc(g.not_after()) + ": call query";
  else if (g.state() == "pending") {
    std::string who;
    for (const auto& a : approvers) who += (who.empty() ? "" : ", ") + a;
    next = "pending: " + (who.empty() ? std::string("an approver") : who) +
           " must run `veilctl grants approve " + g.id() +
           "`; call access_status with wait_seconds to wait for the decision";
  } else {
    next = g.state() + ": no access under this grant; request_access asks again";
  }
  out["next_step"] = next;
  return {out, "", false};
}

ToolResult Veil::RequestAccess(const Json& args, const mcp::CallContext&) {
  auto ep = Endpoint(args.at("endpoint").get<std::string>());
  if (!ep.ok()) return ToolResult::Failure(ep.error().message);
  if (ep->access == "open")
    return ToolResult::Failure(ep->name + " needs no grant (access: open): query it directly");
  const int64_t ttl = ParseTtl(args.at("ttl").get<std::string>());
  if (ttl <= 0) return ToolResult::Failure("ttl: give a duration such as 30m, 1h or 1h30m");
  std::string reason = args.at("reason").get<std::string>();
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
    return ToolResult::Failure("reason: say why access is needed");
  cv1::Request req;
  auto* r = req.mutable_request_grant();
  r->set_endpoint(ep->name);
  r->set_ttl_seconds(ttl);
  r->set_reason(reason);
  r->set_access("read");
  auto resp = Control(req);
  if (!resp.ok()) return Unreachable(resp.error());
  if (!resp->ok() || resp->grants_size() != 1)
    return ToolResult::Failure("veil refused the request: " + resp->error());
  const PolicyView p = PolicyFor(ep->name);
  return GrantResult(resp->grants(0), p.approvers, p.approvals, true);
}

ToolResult Veil::AccessStatus(const Json& args, const mcp::CallContext& ctx) {
  const std::string id = args.at("grant_id").get<std::string>();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(args.value("wait_seconds", 0));
  while (true) {
    auto grants = MyGrants();
    if (!grants.ok()) return ToolResult::Failure(grants.error().message);
    const cv1::Grant* g = nullptr;
    for (const auto& x : *grants)
      if (x.id() == id) g = &x;
    if (!g) return ToolResult::Failure("no grant " + id + " of yours (see list_databases)");
    if (g->state() != "pending" || std::chrono::steady_clock::now() >= deadline ||
        ctx.cancelled.load()) {
      const PolicyView p = PolicyFor(g->endpoints_size() ? g->endpoints(0) : "");
      return GrantResult(*g, p.approvers, p.approvals, false);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

std::vector<mcp::Tool> McpTools(const McpOptions& options,
                                std::function<std::string()> client_name) {
  auto veil = std::make_shared<Veil>(options, std::move(client_name));
  const QueryLimits& limits = options.limits;
  auto bind = [veil](ToolResult (Veil::*f)(const Json&, const mcp::CallContext&)) {
    return [veil, f](const Json& a, const mcp::CallContext& c) { return ((*veil).*f)(a, c); };
  };
  const Json read_only = {{"readOnlyHint", true}, {"openWorldHint", false}};
  std::vector<mcp::Tool> tools = {
      {"list_databases", "List databases",
       "The databases (veil endpoints) you may use: access mode, whether a query would be "
       "admitted now, your active and pending grants with their expiry, who approves a request "
       "and the longest ttl you may ask for.",
       ListDatabasesInput(), ListDatabasesOutput(), read_only, bind(&Veil::ListDatabases)},
      {"describe", "Describe tables and masking",
       "Tables and columns of an endpoint with their types and, per column, what veil does to "
       "its values before you see them (always masked, NULL, scanned for PII, never), the "
       "entity and why. Reading the catalog needs the same access as a query; without it you "
       "still get the masking rules and what veil has learned.",
       DescribeInput(), DescribeOutput(), read_only, bind(&Veil::Describe)},
      {"query", "Run a read-only SQL query (masked)",
       "Runs one read-only SQL statement on an endpoint through veil and returns the rows with "
       "sensitive values masked. Results are capped at " +
           std::to_string(limits.max_rows) + " rows and " + std::to_string(limits.max_bytes) +
           " bytes, statements at " + std::to_string(limits.statement_timeout.count()) +
           " ms. A refusal (no active grant, a guardrail) comes back as an error with the way "
           "forward.",
       QueryInput(limits), QueryOutput(), read_only, bind(&Veil::Query)},
      {"request_access",
       "Request just-in-time access",
       "Asks for a time-boxed read grant on an endpoint, as the user running this server. A "
       "human approver must approve it (unless policy approves it automatically); returns the "
       "grant id, its state and who can approve it.",
       RequestAccessInput(),
       GrantOutput(true),
       {{"readOnlyHint", false},
        {"destructiveHint", false},
        {"idempotentHint", false},
        {"openWorldHint", false}},
       bind(&Veil::RequestAccess)},
      {"access_status", "Check a grant",
       "The state of one of your grants (pending, active, expired, revoked, denied) and when an "
       "active one ends; with wait_seconds, waits while it is pending.",
       AccessStatusInput(), GrantOutput(false), read_only, bind(&Veil::AccessStatus)},
  };
  return tools;
}

int RunMcp(const McpOptions& options) {
  mcp::Server* server = nullptr;
  auto tools = McpTools(options, [&server] { return server ? server->client().name : ""; });
  mcp::Server s({.name = "veil",
                 .title = "veil: masked, just-in-time database access",
                 .version = VEIL_VERSION,
                 .instructions = kInstructions},
                std::move(tools));
  server = &s;
  return s.Serve(STDIN_FILENO, STDOUT_FILENO);
}

}  // namespace veil::veilctl
