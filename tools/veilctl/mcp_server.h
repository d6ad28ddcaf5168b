// A Model Context Protocol server over stdio: the protocol half of `veilctl mcp` (the tools are
// in mcp_tools.h). https://modelcontextprotocol.io/specification/2025-11-25
//
//   mcp::Server server({.name = "veil", .version = "0.1.0"}, tools);
//   return server.Serve(STDIN_FILENO, STDOUT_FILENO);
//
// Transport (stdio): one JSON-RPC 2.0 message per line, UTF-8, on stdin and stdout; nothing else
// is ever written to stdout (logs go to stderr). When stdin ends, the calls already received
// are answered and the server returns.
//
// Lifecycle: the client's `initialize` names a protocol version; the server answers with the
// same version when it speaks it (2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05), else with its
// latest, and declares one capability, `tools`. Until `initialize` has been answered only `ping`
// is served. JSON-RPC batches (allowed by 2025-03-26 only, removed since) are refused.
//
// Tools: `tools/list` lists each tool with its input and output JSON Schemas and annotations;
// `tools/call` validates the arguments against the input schema (a mismatch is a tool error
// the model can correct, as 2025-11-25 asks, not a protocol error), then runs the tool on a
// worker thread, one call at a time in arrival order, so `ping` and cancellation are answered
// while a query runs. A result carries `structuredContent` (matching the output schema) and the
// same JSON as text for clients that read only text; a failure is `isError: true` with text.
// `notifications/cancelled` sets the running call's cancelled flag (a query is cancelled in
// PostgreSQL) or drops a queued one; no response is sent for a cancelled request.
//
// Thread-safety: Serve() once; client() from any thread.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace veil::veilctl::mcp {

using Json = nlohmann::json;

// Newest first; the first is what a client that asks for an unknown version gets.
inline constexpr std::array<std::string_view, 4> kProtocolVersions = {"2025-11-25", "2025-06-18",
                                                                      "2025-03-26", "2024-11-05"};

struct ToolResult {
  Json structured = Json::object();  // structuredContent; must match the tool's output schema
  std::string text;                  // empty: the structured JSON, serialized
  bool is_error = false;

  static ToolResult Failure(std::string text) { return {Json::object(), std::move(text), true}; }
};

// What a running tool may look at.
struct CallContext {
  // Set when the client cancels this request (notifications/cancelled). Long tools poll it.
  const std::atomic<bool>& cancelled;
};

struct Tool {
  std::string name;
  std::string title;
  std::string description;
  Json input_schema;
  Json output_schema;
  Json annotations = Json::object();  // readOnlyHint, destructiveHint, ...
  std::function<ToolResult(const Json& arguments, const CallContext& context)> run;
};

struct ServerInfo {
  std::string name;
  std::string title;
  std::string version;
  std::string instructions;  // how to use the tools together, for the model
};

struct ClientInfo {
  std::string name;
  std::string version;
  std::string protocol_version;  // as negotiated
};

// The subset of JSON Schema the tools' input schemas use: type (object, string, integer,
// number, boolean, array), properties, required, additionalProperties: false, enum, minimum,
// maximum, minLength, maxLength, pattern (ECMAScript, via std::regex). Returns "" when `value`
// matches, else a message naming the first offending argument.
std::string ValidateArguments(const Json& schema, const Json& value);

class Server {
 public:
  Server(ServerInfo info, std::vector<Tool> tools);

  // Serves until `in` ends (or fails). Returns the exit code for the process: 0.
  int Serve(int in_fd, int out_fd);

  ClientInfo client() const;

 private:
  struct Call;
  void Handle(const Json& message);
  void Send(const Json& message);
  void Reply(const Json& id, Json result);
  void ReplyError(const Json& id, int code, std::string message);
  Json ToolList() const;
  void RunCalls();

  ServerInfo info_;
  std::vector<Tool> tools_;
  int out_fd_ = -1;
  std::mutex out_mu_;
  mutable std::mutex mu_;  // guards the fields below
  ClientInfo client_;
  bool initialized_ = false;
  struct Queue;
  std::shared_ptr<Queue> queue_;
};

}  // namespace veil::veilctl::mcp
