// `veilctl flows [--all] [--watch]` (SPEC §7): the database flows veild traced, one row per flow —
// PID EXE PRINCIPAL SRC DST ENDPOINT VERDICT BYTES, then STATE (open | closed) — or with
// `-o json` an array of objects (a list) or one object per line (--watch).
//
//   return veil::veilctl::RunFlows(socket, {.all = all, .watch = watch, .json = json});
//
// --watch keeps the connection open and prints each change (a flow opened or closed) as it comes,
// flushing after each; it ends when veild closes the connection (exit 3) or the user stops it.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "proto/control.pb.h"

namespace veil::veilctl {

struct FlowsOptions {
  bool all = false;    // every database flow, not only flows to configured endpoints
  bool watch = false;  // stream changes instead of listing
  bool json = false;
};

// Exit codes as veilctl's: 0 ok, 1 refused, 3 agent unreachable (or gone during --watch).
int RunFlows(const std::string& socket, const FlowsOptions& options);

// The JSON object of one flow: cookie, pid, comm, exe, principal, src, dst, redirected_to,
// endpoint, verdict, bytes_sent, bytes_received, opened_at, closed_at, state ("open"|"closed").
nlohmann::json FlowJson(const control::v1::Flow& flow);
// The table's header and one row, each ending in a newline.
std::string FlowTableHeader();
std::string FlowTableRow(const control::v1::Flow& flow);

// Streams a WatchFlows call: `on_change` gets every Response after the first. Returns the first
// Response (a refusal has ok = false), or an Error when veild cannot be reached; returns when the
// connection ends or `on_change` returns false.
Result<control::v1::Response> WatchFlows(
    const std::string& socket, bool all,
    const std::function<bool(const control::v1::Response&)>& on_change);

}  // namespace veil::veilctl
