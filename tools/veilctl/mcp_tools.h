// `veilctl mcp [--endpoint NAME…]` (SPEC §7): an MCP server on stdio that gives an AI agent
// masked, just-in-time database access through veild, as the unix user that runs it.
//
// Tools (input and output JSON Schemas in mcp_tools.cc):
//   list_databases  the endpoints this caller may use: access mode, whether a query would be
//                   admitted now, the caller's active and pending grants with their expiry, who
//                   approves a request, the longest ttl a request may ask for.
//   describe        tables and columns with their types (information_schema, read through veild
//                   itself, so it needs what a query needs), and per column what veil will do
//                   to its values: always masked, NULL, scanned for PII, never; the entity and
//                   strategy, and why (a profile rule, the column's name, its content as veild
//                   learned it: ListColumns). Without a grant it still gives the rules and what
//                   veild has learned, and says why the catalog could not be read.
//   query           one read statement through veild's unix socket for the endpoint, with libpq
//                   (mcp_pg.h); masked rows as structured content, with the row cap, byte cap
//                   and statement timeout stated, and the masked columns named. veild's
//                   refusals (no grant: 28000, guardrail: 42501) are tool errors that carry
//                   veild's HINT and the request_access call that would help.
//   request_access  endpoint, ttl, reason: a grant request as this user (control API); its id,
//                   state, and who can approve it.
//   access_status   a grant's state, optionally waiting (polling veild) while it is pending.
//
// Identity is the kernel's: the control socket and the endpoint socket both take the caller from
// SO_PEERCRED. No tool takes a credential; libpq reads PGUSER, PGPASSWORD, PGDATABASE,
// ~/.pgpass and service files. Every statement carries application_name "veilctl mcp: <the MCP
// client's name>", which veild records in its usage events (unmapped.client = "mcp") as context
// only.
//
// The configuration file (default /etc/veil/veil.yaml, readable by group veil) gives endpoint
// listen ports, access modes, policies and masking profiles; it is re-read when it changes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tools/veilctl/mcp_pg.h"
#include "tools/veilctl/mcp_server.h"

namespace veil::veilctl {

struct McpOptions {
  std::string socket;  // control socket
  std::string config_file = "/etc/veil/veil.yaml";
  std::vector<std::string> endpoints;  // --endpoint: only these (empty: every endpoint)
  QueryLimits limits;                  // caps a tool call may lower, never raise
};

// Serves MCP on stdin/stdout until stdin ends. Returns the process exit code.
int RunMcp(const McpOptions& options);

// The five tools, for RunMcp and for tests. `client_name` gives the MCP client's name for
// application_name (called on the tool's thread).
std::vector<mcp::Tool> McpTools(const McpOptions& options,
                                std::function<std::string()> client_name);

}  // namespace veil::veilctl
