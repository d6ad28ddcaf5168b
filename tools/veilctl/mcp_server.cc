#include "tools/veilctl/mcp_server.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <regex>
#include <thread>

namespace veil::veilctl::mcp {
namespace {

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;

// A message longer than this is refused (and skipped) rather than buffered without bound.
constexpr size_t kMaxLine = 16u << 20;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string TypeOf(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool HasType(const Json& v, const std::string& type) {
  if (type == "integer")
    return v.is_number_integer() ||
           (v.is_number_float() && v.get<double>() == static_cast<double>(v.get<int64_t>()));
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return true;
}

std::string Validate(const Json& schema, const Json& v, const std::string& at) {
  if (!schema.is_object()) return "";
  if (auto t = schema.find("type"); t != schema.end()) {
    std::vector<std::string> types;
    if (t->is_string()) types.push_back(t->get<std::string>());
    if (t->is_array())
      for (const auto& x : *t) types.push_back(x.get<std::string>());
    bool any = types.empty();
    for (const auto& ty : types) any = any || HasType(v, ty);
    if (!any) {
      std::string want;
      for (const auto& ty : types) want += (want.empty() ? "" : " or ") + ty;
      return at + " must be " + want + ", not " + TypeOf(v);
    }
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool found = false;
    for (const auto& x : *e) found = found || x == v;
    if (!found) {
      std::string options;
      for (const auto& x : *e) options += (options.empty() ? "" : ", ") + Dump(x);
      return at + " must be one of " + options;
    }
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (auto m = schema.find("minLength"); m != schema.end() && Utf8Length(s) < m->get<size_t>())
      return at + " must have at least " + std::to_string(m->get<size_t>()) + " characters";
    if (auto m = schema.find("maxLength"); m != schema.end() && Utf8Length(s) > m->get<size_t>())
      return at + " must have at most " + std::to_string(m->get<size_t>()) + " characters";
    if (auto p = schema.find("pattern"); p != schema.end() && p->is_string()) {
      try {
        if (!std::regex_search(s, std::regex(p->get<std::string>(), std::regex::ECMAScript)))
          return at + " must match " + p->get<std::string>();
      } catch (const std::regex_error&) {
        // A pattern std::regex cannot compile is not checked here; the tool checks its input.
      }
    }
  }
  if (v.is_number()) {
    const double x = v.get<double>();
    if (auto m = schema.find("minimum"); m != schema.end() && x < m->get<double>())
      return at + " must be at least " + Dump(*m);
    if (auto m = schema.find("maximum"); m != schema.end() && x > m->get<double>())
      return at + " must be at most " + Dump(*m);
  }
  if (v.is_object()) {
    const Json props = schema.value("properties", Json::object());
    for (const auto& r : schema.value("required", Json::array()))
      if (!v.contains(r.get<std::string>()))
        return at + "." + r.get<std::string>() + " is required";
    for (const auto& [key, value] : v.items()) {
      if (auto p = props.find(key); p != props.end()) {
        if (std::string why = Validate(*p, value, at + "." + key); !why.empty()) return why;
      } else if (schema.value("additionalProperties", Json(true)) == Json(false)) {
        std::string known;
        for (const auto& [k, _] : props.items()) known += (known.empty() ? "" : ", ") + k;
        return at + "." + key + " is not an argument of this tool (arguments: " + known + ")";
      }
    }
  }
  if (v.is_array()) {
    if (auto items = schema.find("items"); items != schema.end())
      for (size_t i = 0; i < v.size(); ++i)
        if (std::string why = Validate(*items, v[i], at + "[" + std::to_string(i) + "]");
            !why.empty())
          return why;
  }
  return "";
}

bool ValidId(const Json& id) { return id.is_string() || id.is_number_integer(); }

}  // namespace

std::string ValidateArguments(const Json& schema, const Json& value) {
  return Validate(schema, value, "arguments");
}

struct Server::Call {
  Json id;
  const Tool* tool = nullptr;
  Json arguments;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

// The calls waiting for the worker, and the one it runs.
struct Server::Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Call> waiting;
  std::optional<Json> running_id;
  std::shared_ptr<std::atomic<bool>> running_cancelled;
  bool closing = false;
};

Server::Server(ServerInfo info, std::vector<Tool> tools)
    : info_(std::move(info)), tools_(std::move(tools)), queue_(std::make_shared<Queue>()) {}

ClientInfo Server::client() const {
  std::lock_guard l(mu_);
  return client_;
}

void Server::Send(const Json& message) {
  std::string line = Dump(message) + "\n";
  std::lock_guard l(out_mu_);
  const char* p = line.data();
  size_t n = line.size();
  while (n > 0) {
    ssize_t w = ::write(out_fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the client went away; stdin's end stops the server
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Server::Reply(const Json& id, Json result) {
  Send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

void Server::ReplyError(const Json& id, int code, std::string message) {
  Send({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

Json Server::ToolList() const {
  Json tools = Json::array();
  for (const Tool& t : tools_) {
    Json annotations = t.annotations;
    annotations["title"] = t.title;
    tools.push_back({{"name", t.name},
                     {"title", t.title},
                     {"description", t.description},
                     {"inputSchema", t.input_schema},
                     {"outputSchema", t.output_schema},
                     {"annotations", annotations}});
  }
  return {{"tools", tools}};
}

void Server::Handle(const Json& message) {
  if (message.is_array()) {
    ReplyError(nullptr, kInvalidRequest,
               "JSON-RPC batches are not supported (MCP removed them in 2025-06-18)");
    return;
  }
  if (!message.is_object() || message.value("jsonrpc", "") != "2.0") {
    if (message.is_object() && message.contains("id") && ValidId(message["id"]))
      ReplyError(message["id"], kInvalidRequest, "not a JSON-RPC 2.0 message");
    else
      ReplyError(nullptr, kInvalidRequest, "not a JSON-RPC 2.0 message");
    return;
  }
  auto method_it = message.find("method");
  if (method_it == message.end()) return;  // a response: this server sends no requests
  if (!method_it->is_string()) {
    if (message.contains("id") && ValidId(message["id"]))
      ReplyError(message["id"], kInvalidRequest, "method must be a string");
    return;
  }
  const std::string method = method_it->get<std::string>();
  const Json params = message.value("params", Json::object());
  if (!message.contains("id")) {  // a notification
    if (method == "notifications/cancelled" && params.is_object() && params.contains("requestId")) {
      const Json& target = params["requestId"];
      std::lock_guard l(queue_->mu);
      if (queue_->running_id && *queue_->running_id == target)
        queue_->running_cancelled->store(true);
      std::erase_if(queue_->waiting, [&](const Call& c) { return c.id == target; });
    }
    return;  // notifications/initialized and anything else: nothing to answer
  }
  const Json id = message["id"];
  if (!ValidId(id)) {
    ReplyError(nullptr, kInvalidRequest, "id must be a string or an integer");
    return;
  }
  if (!params.is_object()) {
    ReplyError(id, kInvalidParams, "params must be an object");
    return;
  }
  if (method == "ping") {
    Reply(id, Json::object());
    return;
  }
  if (method == "initialize") {
    std::lock_guard l(mu_);
    if (initialized_) {
      ReplyError(id, kInvalidRequest, "already initialized");
      return;
    }
    std::string asked = params.value("protocolVersion", "");
    std::string version(kProtocolVersions.front());
    for (std::string_view v : kProtocolVersions)
      if (asked == v) version = asked;
    const Json client = params.value("clientInfo", Json::object());
    client_ = {client.is_object() ? client.value("name", "") : "",
               client.is_object() ? client.value("version", "") : "", version};
    initialized_ = true;
    Json server = {{"name", info_.name}, {"version", info_.version}};
    if (!info_.title.empty()) server["title"] = info_.title;
    Json result = {{"protocolVersion", version},
                   {"capabilities", {{"tools", {{"listChanged", false}}}}},
                   {"serverInfo", server}};
    if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
    Reply(id, result);
    return;
  }
  {
    std::lock_guard l(mu_);
    if (!initialized_) {
      ReplyError(id, kInvalidRequest, "the server is not initialized: send initialize first");
      return;
    }
  }
  if (method == "tools/list") {
    Reply(id, ToolList());
    return;
  }
  if (method != "tools/call") {
    ReplyError(id, kMethodNotFound, "method not found: " + method);
    return;
  }
  const Json name = params.value("name", Json());
  const Tool* tool = nullptr;
  for (const Tool& t : tools_)
    if (name.is_string() && t.name == name.get<std::string>()) tool = &t;
  if (!tool) {
    ReplyError(id, kInvalidParams,
               "unknown tool: " + (name.is_string() ? name.get<std::string>() : Dump(name)));
    return;
  }
  Json arguments = params.value("arguments", Json::object());
  if (arguments.is_null()) arguments = Json::object();
  if (std::string why = ValidateArguments(tool->input_schema, arguments); !why.empty()) {
    Reply(id, {{"content", {{{"type", "text"}, {"text", "Invalid arguments: " + why}}}},
               {"isError", true}});
    return;
  }
  {
    std::lock_guard l(queue_->mu);
    queue_->waiting.push_back({id, tool, std::move(arguments)});
  }
  queue_->cv.notify_one();
}

void Server::RunCalls() {
  std::unique_lock l(queue_->mu);
  while (true) {
    queue_->cv.wait(l, [&] { return queue_->closing || !queue_->waiting.empty(); });
    if (queue_->waiting.empty()) return;  // closing, and nothing left to answer
    Call call = std::move(queue_->waiting.front());
    queue_->waiting.pop_front();
    queue_->running_id = call.id;
    queue_->running_cancelled = call.cancelled;
    l.unlock();
    ToolResult r;
    try {
      r = call.tool->run(call.arguments, CallContext{*call.cancelled});
    } catch (const std::exception& e) {
      r = ToolResult::Failure(std::string("internal error in ") + call.tool->name + ": " +
                              e.what());
    }
    if (!call.cancelled->load()) {  // a cancelled request gets no response
      Json result = {
          {"content", {{{"type", "text"}, {"text", r.text.empty() ? Dump(r.structured) : r.text}}}},
          {"isError", r.is_error}};
      if (!r.is_error) result["structuredContent"] = std::move(r.structured);
      Reply(call.id, std::move(result));
    }
    l.lock();
    queue_->running_id.reset();
    queue_->running_cancelled.reset();
  }
}

int Server::Serve(int in_fd, int out_fd) {
  out_fd_ = out_fd;
  std::thread worker([this] { RunCalls(); });
  std::string buffer;
  bool skipping = false;  // inside an over-long line
  char chunk[65536];
  while (true) {
    ssize_t n = ::read(in_fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buffer.data() + start, nl - start);
      if (skipping) {
        skipping = false;
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      Json message = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (message.is_discarded()) {
        ReplyError(nullptr, kParseError, "parse error: not valid JSON");
        continue;
      }
      try {
        Handle(message);
      } catch (const std::exception& e) {
        if (message.is_object() && message.contains("id") && ValidId(message["id"]))
          ReplyError(message["id"], kInternalError, e.what());
      }
    }
    buffer.erase(0, start);
    if (buffer.size() > kMaxLine) {
      ReplyError(nullptr, kParseError, "message too long (over 16 MiB)");
      buffer.clear();
      skipping = true;
    }
  }
  // stdin ended: the client is done sending. What it asked for is still answered (a script may
  // pipe its requests in and close); a client that wants out at once sends SIGTERM.
  {
    std::lock_guard l(queue_->mu);
    queue_->closing = true;
  }
  queue_->cv.notify_all();
  worker.join();
  return 0;
}

}  // namespace veil::veilctl::mcp
