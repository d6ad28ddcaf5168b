// The MCP protocol layer over real pipes: lifecycle and version negotiation, tool listing,
// argument validation as tool errors, results with structuredContent, cancellation, and the
// JSON-RPC errors a client relies on. The veil tools themselves are tested end to end with the
// official SDK client (tests/integration/test_mcp.py).
#include "tools/veilctl/mcp_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace veil::veilctl::mcp {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

Tool Echo() {
  return {"echo",
          "Echo",
          "says it back",
          Json::parse(R"({"type": "object", "properties": {
                "word": {"type": "string", "minLength": 1, "pattern": "^[a-z]+$"},
                "times": {"type": "integer", "minimum": 1, "maximum": 3}},
              "required": ["word"], "additionalProperties": false})"),
          Json::parse(R"({"type": "object", "properties": {"said": {"type": "string"}}})"),
          {{"readOnlyHint", true}},
          [](const Json& a, const CallContext&) {
            std::string out;
            for (int i = 0; i < a.value("times", 1); ++i) out += a["word"].get<std::string>();
            return ToolResult{{{"said", out}}, "", false};
          }};
}

// Waits for the cancelled flag, or 5 s.
Tool Slow() {
  return {"slow",
          "Slow",
          "waits",
          Json::parse(R"({"type": "object"})"),
          Json::parse(R"({"type": "object"})"),
          Json::object(),
          [](const Json&, const CallContext& c) {
            for (int i = 0; i < 500 && !c.cancelled.load(); ++i) std::this_thread::sleep_for(10ms);
            return c.cancelled.load() ? ToolResult::Failure("cancelled")
                                      : ToolResult{{{"done", true}}, "", false};
          }};
}

class McpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pipe(to_server_), 0);
    ASSERT_EQ(::pipe(from_server_), 0);
    server_ = std::make_unique<Server>(ServerInfo{"veil", "veil test", "9.9.9", "use the tools"},
                                       std::vector<Tool>{Echo(), Slow()});
    thread_ = std::thread([this] { server_->Serve(to_server_[0], from_server_[1]); });
  }
  void TearDown() override {
    CloseInput();
    thread_.join();
    ::close(to_server_[0]);
    ::close(from_server_[0]);
    ::close(from_server_[1]);
  }
  void CloseInput() {
    if (to_server_[1] >= 0) ::close(to_server_[1]);
    to_server_[1] = -1;
  }
  void SendRaw(const std::string& line) {
    std::string l = line + "\n";
    ASSERT_EQ(::write(to_server_[1], l.data(), l.size()), static_cast<ssize_t>(l.size()));
  }
  void Send(const Json& j) { SendRaw(j.dump()); }
  // The next message from the server, or null after `timeout`.
  Json Next(std::chrono::milliseconds timeout = 5s) {
    while (true) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return Json::parse(line);
      }
      pollfd p{from_server_[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return nullptr;
      char buf[4096];
      ssize_t n = ::read(from_server_[0], buf, sizeof(buf));
      if (n <= 0) return nullptr;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  Json Request(int id, const std::string& method, Json params = Json::object()) {
    Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
    return Next();
  }
  void Initialize() {
    Json r = Request(1, "initialize",
                     {{"protocolVersion", "2025-11-25"},
                      {"capabilities", Json::object()},
                      {"clientInfo", {{"name", "test-agent"}, {"version", "1"}}}});
    ASSERT_TRUE(r.contains("result")) << r;
    Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  }

  int to_server_[2] = {-1, -1}, from_server_[2] = {-1, -1};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::string buffer_;
};

TEST_F(McpServerTest, InitializeNegotiatesTheVersion) {
  Json r = Request(1, "initialize",
                   {{"protocolVersion", "2025-06-18"},
                    {"capabilities", Json::object()},
                    {"clientInfo", {{"name", "claude-code"}, {"version", "2.1"}}}});
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(r["result"]["capabilities"], Json::parse(R"({"tools": {"listChanged": false}})"));
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "veil");
  EXPECT_EQ(r["result"]["serverInfo"]["version"], "9.9.9");
  EXPECT_EQ(r["result"]["instructions"], "use the tools");
  EXPECT_EQ(server_->client().name, "claude-code");
  EXPECT_EQ(server_->client().protocol_version, "2025-06-18");
  // A second initialize is refused.
  EXPECT_EQ(Request(2, "initialize", {{"protocolVersion", "2025-06-18"}})["error"]["code"], -32600);
}

TEST_F(McpServerTest, AnUnknownVersionGetsTheLatest) {
  Json r = Request(7, "initialize", {{"protocolVersion", "2099-01-01"}});
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-11-25");
}

TEST_F(McpServerTest, OnlyPingBeforeInitialize) {
  EXPECT_EQ(Request(1, "ping")["result"], Json::object());
  Json r = Request(2, "tools/list");
  EXPECT_EQ(r["error"]["code"], -32600);
  EXPECT_THAT(r["error"]["message"].get<std::string>(), HasSubstr("initialize"));
}

TEST_F(McpServerTest, ToolsListCarriesSchemasAndAnnotations) {
  Initialize();
  Json r = Request(2, "tools/list");
  ASSERT_EQ(r["result"]["tools"].size(), 2u);
  const Json& echo = r["result"]["tools"][0];
  EXPECT_EQ(echo["name"], "echo");
  EXPECT_EQ(echo["title"], "Echo");
  EXPECT_EQ(echo["inputSchema"]["required"], Json::array({"word"}));
  EXPECT_EQ(echo["outputSchema"]["type"], "object");
  EXPECT_EQ(echo["annotations"]["readOnlyHint"], true);
}

TEST_F(McpServerTest, CallReturnsStructuredContentAndItsText) {
  Initialize();
  Json r =
      Request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"word", "hi"}, {"times", 2}}}});
  EXPECT_EQ(r["id"], 3);
  EXPECT_EQ(r["result"]["isError"], false);
  EXPECT_EQ(r["result"]["structuredContent"], Json::parse(R"({"said": "hihi"})"));
  EXPECT_EQ(r["result"]["content"][0]["type"], "text");
  EXPECT_EQ(Json::parse(r["result"]["content"][0]["text"].get<std::string>()),
            r["result"]["structuredContent"]);
}

TEST_F(McpServerTest, BadArgumentsAreToolErrorsTheModelCanFix) {
  Initialize();
  auto error_text = [&](int id, Json args) {
    Json r = Request(id, "tools/call", {{"name", "echo"}, {"arguments", args}});
    EXPECT_EQ(r["result"]["isError"], true) << r;
    EXPECT_FALSE(r["result"].contains("structuredContent"));
    return r["result"]["content"][0]["text"].get<std::string>();
  };
  EXPECT_EQ(error_text(4, Json::object()), "Invalid arguments: arguments.word is required");
  EXPECT_EQ(error_text(5, {{"word", 3}}),
            "Invalid arguments: arguments.word must be string, not integer");
  EXPECT_EQ(error_text(6, {{"word", "Hi"}}),
            "Invalid arguments: arguments.word must match ^[a-z]+$");
  EXPECT_EQ(error_text(7, {{"word", "hi"}, {"times", 9}}),
            "Invalid arguments: arguments.times must be at most 3");
  EXPECT_EQ(error_text(8, {{"word", "hi"}, {"password", "x"}}),
            "Invalid arguments: arguments.password is not an argument of this tool (arguments: "
            "times, word)");
}

TEST_F(McpServerTest, ProtocolErrors) {
  Initialize();
  EXPECT_EQ(Request(9, "tools/call", {{"name", "nope"}})["error"]["code"], -32602);
  EXPECT_EQ(Request(10, "resources/list")["error"]["code"], -32601);
  SendRaw("{not json");
  Json r = Next();
  EXPECT_EQ(r["error"]["code"], -32700);
  EXPECT_TRUE(r["id"].is_null());
  SendRaw(R"([{"jsonrpc": "2.0", "id": 11, "method": "ping"}])");
  EXPECT_EQ(Next()["error"]["code"], -32600);
  // String ids are echoed as given.
  Send({{"jsonrpc", "2.0"}, {"id", "abc"}, {"method", "ping"}});
  EXPECT_EQ(Next()["id"], "abc");
}

TEST_F(McpServerTest, PingIsAnsweredWhileAToolRunsAndCancelStopsIt) {
  Initialize();
  Send({{"jsonrpc", "2.0"},
        {"id", 20},
        {"method", "tools/call"},
        {"params", {{"name", "slow"}, {"arguments", Json::object()}}}});
  Json pong = Request(21, "ping");
  EXPECT_EQ(pong["id"], 21);
  auto start = std::chrono::steady_clock::now();
  Send({{"jsonrpc", "2.0"},
        {"method", "notifications/cancelled"},
        {"params", {{"requestId", 20}, {"reason", "user stopped it"}}}});
  // The tool stops; a cancelled request gets no response. The next call is served at once.
  Json r = Request(22, "tools/call", {{"name", "echo"}, {"arguments", {{"word", "ok"}}}});
  EXPECT_EQ(r["id"], 22);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(Next(200ms).is_null());
}

TEST_F(McpServerTest, CallsReceivedBeforeStdinEndsAreAnswered) {
  Initialize();
  Send({{"jsonrpc", "2.0"},
        {"id", 30},
        {"method", "tools/call"},
        {"params", {{"name", "echo"}, {"arguments", {{"word", "bye"}}}}}});
  CloseInput();
  Json r = Next();
  EXPECT_EQ(r["id"], 30);
  EXPECT_EQ(r["result"]["structuredContent"]["said"], "bye");
}

TEST(ValidateArguments, TypesAndArrays) {
  Json schema = Json::parse(R"({"type": "object", "properties": {
      "n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
      "mode": {"type": "string", "enum": ["a", "b"]}, "x": {"type": ["string", "null"]}}})");
  EXPECT_EQ(ValidateArguments(schema, Json::parse(R"({"n": 2, "tags": ["a"], "x": null})")), "");
  EXPECT_EQ(ValidateArguments(schema, Json::parse(R"({"n": 2.0})")), "");
  EXPECT_EQ(ValidateArguments(schema, Json::parse(R"({"n": 2.5})")),
            "arguments.n must be integer, not number");
  EXPECT_EQ(ValidateArguments(schema, Json::parse(R"({"tags": ["a", 1]})")),
            "arguments.tags[1] must be string, not integer");
  EXPECT_EQ(ValidateArguments(schema, Json::parse(R"({"mode": "c"})")),
            "arguments.mode must be one of \"a\", \"b\"");
  EXPECT_EQ(ValidateArguments(schema, Json::parse("[]")), "arguments must be object, not array");
}

}  // namespace
}  // namespace veil::veilctl::mcp
