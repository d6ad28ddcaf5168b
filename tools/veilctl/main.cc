// veilctl: the operator CLI (SPEC §7). `scan` and `mask` run the masking engine offline;
// `status` and `grants …` talk to veild over its control socket (the caller is who the kernel
// says it is: no user name or token is sent).
//
// Exit codes: 0 ok, 1 refused or not found, 2 usage error, 3 agent unreachable.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "masker/masker.h"
#include "tools/veilctl/agent_client.h"
#include "tools/veilctl/audit.h"
#include "tools/veilctl/clone.h"
#include "tools/veilctl/columns.h"
#include "tools/veilctl/flows.h"
#include "tools/veilctl/mcp_tools.h"
#include "tools/veilctl/offline.h"

namespace {

int RunOffline(veil::veilctl::Mode mode, const veil::veilctl::ProfileChoice& choice,
               const std::vector<std::string>& files) {
  auto profile = veil::veilctl::LoadProfile(choice);
  if (!profile.ok()) {
    std::fprintf(stderr, "veilctl: %s\n", profile.error().message.c_str());
    return 1;
  }
  veil::masker::Masker masker(*profile);
  if (files.empty()) {
    auto st = veil::veilctl::Process(mode, masker, stdin, stdout, "");
    if (!st.ok()) {
      std::fprintf(stderr, "veilctl: stdin: %s\n", st.error().message.c_str());
      return 1;
    }
    return 0;
  }
  int rc = 0;
  for (const std::string& f : files) {
    std::FILE* in = f == "-" ? stdin : std::fopen(f.c_str(), "rb");
    if (!in) {
      std::fprintf(stderr, "veilctl: %s: %s\n", f.c_str(), std::strerror(errno));
      rc = 1;
      continue;
    }
    auto st = veil::veilctl::Process(mode, masker, in, stdout, files.size() > 1 ? f : "");
    if (in != stdin) std::fclose(in);
    if (!st.ok()) {
      std::fprintf(stderr, "veilctl: %s: %s\n", f.c_str(), st.error().message.c_str());
      rc = 1;
    }
  }
  return rc;
}

std::string DefaultSocket() {
  auto loaded = veil::config::LoadFile("/etc/veil/veil.yaml");
  if (auto* cfg = std::get_if<veil::config::LoadedConfig>(&loaded))
    return cfg->config.agent().control_socket();
  return "/run/veil/veil.sock";
}

std::string Time(int64_t t) {
  if (t == 0) return "-";
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json GrantJson(const veil::control::v1::Grant& g) {
  return {{"id", g.id()},
          {"principal", g.principal()},
          {"endpoints", std::vector<std::string>(g.endpoints().begin(), g.endpoints().end())},
          {"access", g.access()},
          {"state", g.state()},
          {"not_before", g.not_before()},
          {"not_after", g.not_after()},
          {"reason", g.reason()},
          {"requester", g.requester()},
          {"approvers", std::vector<std::string>(g.approvers().begin(), g.approvers().end())}};
}

// Runs one agent call and prints its answer. Exit codes: 0 ok, 1 refused, 3 unreachable.
int RunAgent(const std::string& socket, const veil::control::v1::Request& req,
             const std::string& output, const std::string& what) {
  auto resp = veil::veilctl::Call(socket.empty() ? DefaultSocket() : socket, req);
  if (!resp.ok()) {
    std::fprintf(stderr, "veilctl: %s\n", resp.error().message.c_str());
    return 3;
  }
  if (!resp->ok()) {
    std::fprintf(stderr, "veilctl: %s refused: %s\n", what.c_str(), resp->error().c_str());
    return 1;
  }
  const bool json = output == "json";
  if (req.has_status()) {
    const auto& st = resp->status();
    auto list = [](const auto& field) {
      return std::vector<std::string>(field.begin(), field.end());
    };
    if (json) {
      nlohmann::json coverage = nlohmann::json::array();
      for (const auto& c : st.coverage())
        coverage.push_back({{"endpoint", c.endpoint()},
                            {"port", c.port()},
                            {"addresses", list(c.addresses())},
                            {"unix_sockets", list(c.unix_sockets())},
                            {"local", c.local()},
                            {"observe", c.observe()},
                            {"redirect_to", c.redirect_to()},
                            {"unix_redirect_to", c.unix_redirect_to()}});
      std::printf("%s\n", nlohmann::json{{"version", st.version()},
                                         {"caller", resp->caller()},
                                         {"endpoints", list(st.endpoints())},
                                         {"grants_active", st.grants_active()},
                                         {"grants_pending", st.grants_pending()},
                                         {"redirect", st.redirect()},
                                         {"unlisted_databases", st.unlisted_databases()},
                                         {"direct_principals", list(st.direct_principals())},
                                         {"unix_sockets_covered", st.unix_sockets_covered()},
                                         {"unix_sockets_why_not", st.unix_sockets_why_not()},
                                         {"coverage", coverage},
                                         {"warnings", list(st.coverage_warnings())}}
                              .dump()
                              .c_str());
    } else {
      std::printf("veild %s, you are %s\nendpoints: %d, grants active: %lld, pending: %lld\n",
                  st.version().c_str(), resp->caller().c_str(), st.endpoints_size(),
                  static_cast<long long>(st.grants_active()),
                  static_cast<long long>(st.grants_pending()));
      auto joined = [](const auto& field) {
        std::string out;
        for (const auto& v : field) out += (out.empty() ? "" : ", ") + v;
        return out;
      };
      std::printf("redirect: %s\n", st.redirect().c_str());
      if (st.redirect() == "ebpf") {
        std::printf(
            "unlisted databases: %s; direct principals: %s\n", st.unlisted_databases().c_str(),
            st.direct_principals().empty() ? "none" : joined(st.direct_principals()).c_str());
        if (st.unix_sockets_covered())
          std::printf("unix sockets: covered (cgroup/connect_unix)\n");
        else
          std::printf("unix sockets: NOT covered: %s\n", st.unix_sockets_why_not().c_str());
        for (const auto& c : st.coverage()) {
          std::printf("%s: port %u%s%s%s\n", c.endpoint().c_str(), c.port(),
                      c.local() ? ", upstream on this host" : "",
                      c.observe() ? ", observed (not redirected)" : " -> ",
                      c.observe() ? "" : c.redirect_to().c_str());
          std::printf("  addresses: %s\n", joined(c.addresses()).c_str());
          if (!c.unix_sockets().empty()) {
            std::printf("  unix sockets (any folder): %s%s%s%s\n", joined(c.unix_sockets()).c_str(),
                        c.observe() ? "" : " -> ", c.unix_redirect_to().c_str(),
                        st.unix_sockets_covered() ? "" : " (NOT covered on this kernel)");
          }
        }
        for (const auto& w : st.coverage_warnings()) std::printf("warning: %s\n", w.c_str());
      }
    }
    return 0;
  }
  if (req.has_kill_session()) return 0;
  if (req.has_list_sessions()) {
    if (json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& s : resp->sessions())
        out.push_back({{"id", s.id()},
                       {"endpoint", s.endpoint()},
                       {"principal", s.principal()},
                       {"peer", s.peer()},
                       {"database_user", s.database_user()},
                       {"database", s.database()},
                       {"grant_id", s.grant_id()},
                       {"started_at", s.started_at()}});
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("%-6s %-14s %-22s %-22s %-12s %-15s %s\n", "ID", "ENDPOINT", "PRINCIPAL", "PEER",
                  "DB USER", "GRANT", "SINCE");
      for (const auto& s : resp->sessions())
        std::printf("%-6llu %-14s %-22s %-22s %-12s %-15s %s\n",
                    static_cast<unsigned long long>(s.id()), s.endpoint().c_str(),
                    s.principal().c_str(), s.peer().c_str(), s.database_user().c_str(),
                    s.grant_id().empty() ? "-" : s.grant_id().c_str(),
                    Time(s.started_at()).c_str());
    }
    return 0;
  }
  if (req.has_request_grant() && !json) {  // the id alone, for scripts
    std::printf("%s\n", resp->grants(0).id().c_str());
    return 0;
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& g : resp->grants()) out.push_back(GrantJson(g));
    std::printf("%s\n", (req.has_list_grants() ? out : out.at(0)).dump().c_str());
    return 0;
  }
  std::printf("%-15s %-20s %-16s %-6s %-8s %-21s %s\n", "ID", "PRINCIPAL", "ENDPOINTS", "ACCESS",
              "STATE", "UNTIL", "REASON");
  for (const auto& g : resp->grants()) {
    std::string eps;
    for (const auto& e : g.endpoints()) eps += (eps.empty() ? "" : ",") + e;
    std::printf("%-15s %-20s %-16s %-6s %-8s %-21s %s\n", g.id().c_str(), g.principal().c_str(),
                eps.c_str(), g.access().c_str(), g.state().c_str(), Time(g.not_after()).c_str(),
                g.reason().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"veilctl: inspect flows, manage grants, and scan or mask files with veil's engine"};
  app.require_subcommand(1);
  std::string socket, output = "table";
  app.add_option("--socket", socket, "control socket (default: from the configuration)");
  app.add_option("-o,--output", output, "output format")->check(CLI::IsMember({"table", "json"}));

  veil::veilctl::ProfileChoice choice;
  std::vector<std::string> files;
  auto add_offline = [&](const char* name, const char* help) {
    CLI::App* c = app.add_subcommand(name, help);
    c->add_option("--config", choice.config_file,
                  "configuration file (default /etc/veil/veil.yaml)");
    c->add_option("--profile", choice.profile, "masking profile (default: default)");
    c->add_option("files", files, "files to read; stdin if none");
    return c;
  };
  CLI::App* scan = add_offline(
      "scan", "print one JSON object per finding: {line,start,end,entity,score} (offline)");
  CLI::App* mask = add_offline("mask", "print the input with every finding masked (offline)");

  // Agent commands.
  CLI::App* status = app.add_subcommand(
      "status", "veild's version, endpoints, grant counts and what each endpoint covers");
  CLI::App* flows = app.add_subcommand(
      "flows", "database flows veild traced: pid exe principal src dst endpoint verdict bytes");
  flows->fallthrough();  // `veilctl flows --all -o json` as well as `veilctl -o json flows --all`
  bool flows_all = false, flows_watch = false;
  flows->add_flag("--all", flows_all,
                  "every database flow, not only those to configured endpoints");
  flows->add_flag("--watch", flows_watch,
                  "print each change as it happens (-o json: one per line)");
  CLI::App* sessions = app.add_subcommand("sessions", "live proxied sessions");
  uint64_t session_id = 0;
  CLI::App* kill = sessions->add_subcommand("kill", "end a live session (FATAL 57P01)");
  kill->add_option("id", session_id, "session id (from veilctl sessions)")->required();
  CLI::App* grants = app.add_subcommand("grants", "just-in-time grants");
  grants->require_subcommand(1);
  std::string state, endpoint, ttl, reason, access = "read", id;
  CLI::App* list = grants->add_subcommand("list", "list grants");
  list->add_option("--state", state, "pending|active|expired|revoked|denied");
  CLI::App* request = grants->add_subcommand("request", "request a grant; prints its id");
  request->add_option("endpoint", endpoint, "endpoint name")->required();
  request->add_option("--ttl", ttl, "how long, e.g. 1h, 30m")->required();
  request->add_option("--reason", reason, "why (recorded and audited)")->required();
  request->add_option("--access", access, "read|write")->check(CLI::IsMember({"read", "write"}));
  CLI::App* approve = grants->add_subcommand("approve", "approve a pending grant");
  CLI::App* deny = grants->add_subcommand("deny", "deny a pending grant");
  CLI::App* revoke = grants->add_subcommand("revoke", "revoke a grant; ends its sessions");
  for (CLI::App* c : {approve, deny, revoke}) c->add_option("id", id, "grant id")->required();

  veil::veilctl::ColumnsOptions columns_options;
  CLI::App* columns = app.add_subcommand(
      "columns", "an endpoint's sensitive columns: entity, source (rule|name|content|lineage)");
  columns->fallthrough();
  columns->add_option("endpoint", columns_options.endpoint, "endpoint name")->required();
  columns->add_flag("--all", columns_options.all, "every column veild knows, sensitive or not");
  CLI::App* discover = app.add_subcommand(
      "discover", "sample an endpoint's text columns through veild and classify them");
  discover->fallthrough();
  discover->add_option("endpoint", columns_options.endpoint, "endpoint name")->required();
  discover->add_option("--sample", columns_options.sample, "values to read per column")
      ->check(CLI::Range(1, 1000000));
  discover->add_option("--port", columns_options.listen_port,
                       "the endpoint's listen port (default: from --config)");
  discover->add_option("--config", columns_options.config_file,
                       "configuration file (default /etc/veil/veil.yaml)");

  veil::veilctl::CloneOptions clone_options;
  CLI::App* clone = app.add_subcommand(
      "clone",
      "copy a protected postgres database, masked through veild, into an empty sandbox "
      "database (pg_dump | psql, streamed)");
  clone->fallthrough();
  clone->add_option("endpoint", clone_options.endpoint, "endpoint name")->required();
  clone
      ->add_option("target", clone_options.target,
                   "the sandbox database: a libpq connection string or URI; it must exist "
                   "(createdb) and hold no table")
      ->required();
  clone->add_option("--database", clone_options.database,
                    "source database (default: the target's database name)");
  clone->add_option("--user", clone_options.user,
                    "source database user (default: libpq's: PGUSER, your login)");
  clone->add_option("--config", clone_options.config_file,
                    "configuration file (default /etc/veil/veil.yaml)");

  veil::veilctl::McpOptions mcp_options;
  uint64_t mcp_timeout_ms = mcp_options.limits.statement_timeout.count();
  CLI::App* mcp = app.add_subcommand(
      "mcp",
      "MCP server on stdio for AI agents: list_databases, describe, query (masked, "
      "through veild), request_access, access_status");
  mcp->add_option("--endpoint", mcp_options.endpoints, "offer only these endpoints (repeatable)");
  mcp->add_option("--config", mcp_options.config_file,
                  "configuration file (default /etc/veil/veil.yaml)");
  mcp->add_option("--max-rows", mcp_options.limits.max_rows, "rows per query at most")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  mcp->add_option("--max-bytes", mcp_options.limits.max_bytes, "bytes of values per query at most")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{64} << 20));
  mcp->add_option("--statement-timeout", mcp_timeout_ms, "milliseconds per statement at most")
      ->check(CLI::Range(uint64_t{100}, uint64_t{3600000}));

  CLI::App* audit = app.add_subcommand("audit", "the usage event log");
  audit->require_subcommand(1);
  veil::veilctl::AuditVerifyArgs audit_args;
  std::string audit_key;
  CLI::App* verify = audit->add_subcommand(
      "verify", "check the hash chain and signed checkpoints; exit 1 and the first bad seq");
  verify->add_option("files", audit_args.files, "event files, rotated ones in any order")
      ->required();
  verify->add_option("--key", audit_key,
                     std::string("checkpoint public key (default ") +
                         veil::veilctl::kDefaultAuditKey + " if it exists)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  veil::control::v1::Request req;
  if (status->parsed()) {
    req.mutable_status();
    return RunAgent(socket, req, output, "status");
  }
  if (flows->parsed())
    return veil::veilctl::RunFlows(
        socket.empty() ? DefaultSocket() : socket,
        {.all = flows_all, .watch = flows_watch, .json = output == "json"});
  if (kill->parsed()) {
    req.mutable_kill_session()->set_id(session_id);
    return RunAgent(socket, req, output, "sessions kill");
  }
  if (sessions->parsed()) {
    req.mutable_list_sessions();
    return RunAgent(socket, req, output, "sessions");
  }
  if (list->parsed()) {
    req.mutable_list_grants()->set_state(state);
    return RunAgent(socket, req, output, "grants list");
  }
  if (request->parsed()) {
    int64_t seconds = veil::veilctl::ParseTtl(ttl);
    if (seconds <= 0) {
      std::fprintf(stderr, "veilctl: --ttl %s: give a duration such as 1h, 30m or 1h30m\n",
                   ttl.c_str());
      return 2;
    }
    auto* r = req.mutable_request_grant();
    r->set_endpoint(endpoint);
    r->set_ttl_seconds(seconds);
    r->set_reason(reason);
    r->set_access(access);
    return RunAgent(socket, req, output, "grant request");
  }
  if (approve->parsed()) req.mutable_approve_grant()->set_id(id);
  if (deny->parsed()) req.mutable_deny_grant()->set_id(id);
  if (revoke->parsed()) req.mutable_revoke_grant()->set_id(id);
  if (approve->parsed() || deny->parsed() || revoke->parsed())
    return RunAgent(socket, req, output,
                    approve->parsed() ? "approve"
                    : deny->parsed()  ? "deny"
                                      : "revoke");
  if (verify->parsed()) {
    if (!audit_key.empty()) audit_args.key = audit_key;
    audit_args.output = output;
    return veil::veilctl::AuditVerify(audit_args, stdout, stderr);
  }
  if (columns->parsed() || discover->parsed()) {
    columns_options.socket = socket.empty() ? DefaultSocket() : socket;
    columns_options.json = output == "json";
    return columns->parsed() ? veil::veilctl::RunColumns(columns_options)
                             : veil::veilctl::RunDiscover(columns_options);
  }
  if (clone->parsed()) {
    clone_options.socket = socket;  // empty: the configuration's control socket
    clone_options.json = output == "json";
    return veil::veilctl::RunClone(clone_options);
  }
  if (mcp->parsed()) {
    mcp_options.socket = socket;  // empty: from the configuration file, re-read as it changes
    mcp_options.limits.statement_timeout = std::chrono::milliseconds(mcp_timeout_ms);
    return veil::veilctl::RunMcp(mcp_options);
  }
  if (scan->parsed()) return RunOffline(veil::veilctl::Mode::kScan, choice, files);
  if (mask->parsed()) return RunOffline(veil::veilctl::Mode::kMask, choice, files);
  return 2;
}
