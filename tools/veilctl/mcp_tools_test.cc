// The veil tools of `veilctl mcp` against a scripted veild (a real unix socket speaking the
// control API's framing) and a real configuration file: which endpoints list_databases shows,
// where describe's classification comes from when veild does or does not answer ListColumns,
// and how refusals read. The whole flow with a real veild, PostgreSQL and MCP clients is
// tests/integration/test_mcp.py.
#include "tools/veilctl/mcp_tools.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "proto/control.pb.h"

namespace veil::veilctl {
namespace {

using mcp::Json;
using ::testing::Contains;
using ::testing::HasSubstr;
namespace cv1 = control::v1;

// A veild stand-in on a unix socket: each request is answered by `answer`.
class FakeVeild {
 public:
  FakeVeild(const std::string& path, std::function<cv1::Response(const cv1::Request&)> answer)
      : answer_(std::move(answer)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ::unlink(path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeVeild() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int calls() const { return calls_; }

 private:
  static bool ReadAll(int fd, void* p, size_t n) {
    char* c = static_cast<char*>(p);
    while (n > 0) {
      ssize_t r = ::read(fd, c, n);
      if (r <= 0) return false;
      c += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  void Serve() {
    while (true) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      uint8_t head[4];
      while (ReadAll(c, head, 4)) {
        uint32_t n = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) |
                     (uint32_t{head[2]} << 8) | head[3];
        std::string body(n, '\0');
        if (!ReadAll(c, body.data(), n)) break;
        cv1::Request req;
        req.ParseFromString(body);
        ++calls_;
        std::string out = answer_(req).SerializeAsString();
        uint32_t m = static_cast<uint32_t>(out.size());
        uint8_t h[4] = {uint8_t(m >> 24), uint8_t(m >> 16), uint8_t(m >> 8), uint8_t(m)};
        if (::write(c, h, 4) != 4 || ::write(c, out.data(), out.size()) != ssize_t(out.size()))
          break;
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  std::function<cv1::Response(const cv1::Request&)> answer_;
  std::atomic<int> calls_{0};
  std::thread thread_;
};

std::string Me() { return std::string("user:") + ::getpwuid(::getuid())->pw_name; }

class McpToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("veil-mcp-tools-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "veil.yaml") << "agent: {state_dir: " << dir_.string()
                                      << ", control_socket: " << (dir_ / "veil.sock").string()
                                      << ", redirect: \"off\"}\n"
                                         "endpoints:\n"
                                         "  - {name: shop-db, protocol: postgres, upstream: "
                                         "10.0.0.5:5432, listen: 127.0.0.1:1, access: grant}\n"
                                         "  - {name: hr-db, protocol: postgres, upstream: "
                                         "10.0.0.6:5432, listen: 127.0.0.1:2, access: grant}\n"
                                         "  - {name: docs-db, protocol: postgres, upstream: "
                                         "10.0.0.7:5432, listen: 127.0.0.1:3, access: open}\n"
                                         "masking:\n"
                                         "  profiles:\n"
                                         "    default:\n"
                                         "      strategies: {EMAIL: hash, default: redact}\n"
                                         "      columns:\n"
                                         "        - {match: \"*.name\", entity: PERSON_NAME}\n"
                                         "        - {match: \"audit.*\", action: pass}\n"
                                         "grants:\n"
                                         "  policies:\n"
                                         "    - {endpoints: [shop-db], requesters: [\""
                                      << Me()
                                      << "\"], approvers: [group:dba, user:bob], "
                                         "max_ttl: 4h}\n"
                                         "    - {endpoints: [hr-db], requesters: [group:hr], "
                                         "approvers: [group:dba]}\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Json Call(const std::string& tool, const Json& args, bool* is_error = nullptr,
            std::vector<std::string> only = {}) {
    McpOptions o;
    o.config_file = (dir_ / "veil.yaml").string();
    o.endpoints = std::move(only);
    auto tools = McpTools(o, [] { return std::string("unit-test"); });
    std::atomic<bool> cancelled{false};
    for (const auto& t : tools) {
      if (t.name != tool) continue;
      EXPECT_EQ(mcp::ValidateArguments(t.input_schema, args), "");
      mcp::ToolResult r = t.run(args, mcp::CallContext{cancelled});
      if (is_error) *is_error = r.is_error;
      return r.is_error ? Json(r.text) : r.structured;
    }
    ADD_FAILURE() << "no tool " << tool;
    return nullptr;
  }

  std::string socket() const { return (dir_ / "veil.sock").string(); }

  static cv1::Grant Grant(const std::string& id, const std::string& principal,
                          const std::string& endpoint, const std::string& state) {
    cv1::Grant g;
    g.set_id(id);
    g.set_principal(principal);
    g.add_endpoints(endpoint);
    g.set_access("read");
    g.set_state(state);
    g.set_requester(principal);
    g.set_reason("ticket 9");
    g.set_requested_at(1'700'000'000);
    return g;
  }

  // veild as it answers today, with ListColumns' answer given.
  std::function<cv1::Response(const cv1::Request&)> Veild(bool list_columns) {
    return [list_columns](const cv1::Request& req) {
      cv1::Response r;
      r.set_ok(true);
      r.set_caller(Me());
      if (req.has_status()) {
        for (const char* e : {"shop-db", "hr-db", "docs-db"}) r.mutable_status()->add_endpoints(e);
      } else if (req.has_list_grants()) {
        *r.add_grants() = Grant("g-aaaaaaaaaaaa", Me(), "shop-db", "pending");
        *r.add_grants() = Grant("g-bbbbbbbbbbbb", "user:someone-else", "shop-db", "active");
      } else if (req.has_list_columns()) {
        if (!list_columns) {
          r.set_ok(false);
          r.set_error("unknown call");
        } else {
          auto* c = r.add_columns();
          c->set_database("shop");
          c->set_schema("public");
          c->set_table("customers");
          c->set_column("contact");
          c->set_entity("EMAIL");
          c->set_source("content");
          c->set_confidence(0.83);
          c->set_observed(120);
        }
      } else if (req.has_request_grant()) {
        r.set_ok(false);
        r.set_error("ttl 9h exceeds the policy's max_ttl 4h");
      } else {
        r.set_ok(false);
        r.set_error("unknown call");
      }
      return r;
    };
  }

  std::filesystem::path dir_;
};

TEST_F(McpToolsTest, ListDatabasesShowsWhatTheCallerCanUseAndTheirOwnGrantsOnly) {
  FakeVeild veild(socket(), Veild(true));
  Json out = Call("list_databases", Json::object());
  EXPECT_EQ(out["caller"], Me());
  ASSERT_EQ(out["databases"].size(), 2u) << out.dump(1);  // hr-db: nobody lets us ask
  const Json& shop = out["databases"][0];
  EXPECT_EQ(shop["endpoint"], "shop-db");
  EXPECT_EQ(shop["access_mode"], "grant");
  EXPECT_EQ(shop["can_query_now"], false);
  EXPECT_EQ(shop["approvers"], Json::array({"group:dba", "user:bob"}));
  EXPECT_EQ(shop["max_ttl"], "4h");
  ASSERT_EQ(shop["grants"].size(), 1u);
  EXPECT_EQ(shop["grants"][0]["id"], "g-aaaaaaaaaaaa");
  EXPECT_THAT(shop["next_step"].get<std::string>(), HasSubstr("pending"));
  const Json& docs = out["databases"][1];
  EXPECT_EQ(docs["endpoint"], "docs-db");
  EXPECT_EQ(docs["access_mode"], "open");
  EXPECT_EQ(docs["can_query_now"], true);
  EXPECT_THAT(out["notes"], Contains(HasSubstr("1 more endpoint")));
}

TEST_F(McpToolsTest, DescribeFallsBackToTheProfileWhenVeildHasNoListColumns) {
  FakeVeild veild(socket(), Veild(false));
  Json out = Call("describe", {{"endpoint", "shop-db"}});
  EXPECT_EQ(out["catalog"]["read"], false);  // nothing listens on the endpoint's socket
  EXPECT_THAT(out["classification_sources"], Contains(HasSubstr("masking profile \"default\"")));
  EXPECT_THAT(out["classification_sources"], Contains(HasSubstr("no ListColumns")));
  EXPECT_EQ(out["rules"], Json::parse(R"json([
      {"match": "*.name", "action": "mask", "entity": "PERSON_NAME"},
      {"match": "audit.*", "action": "pass"}])json"));
  EXPECT_EQ(out["learned"], Json::array());
}

TEST_F(McpToolsTest, DescribeReportsWhatVeildLearned) {
  FakeVeild veild(socket(), Veild(true));
  Json out = Call("describe", {{"endpoint", "shop-db"}});
  EXPECT_THAT(out["classification_sources"], Contains(HasSubstr("(ListColumns)")));
  ASSERT_EQ(out["learned"].size(), 1u);
  EXPECT_EQ(out["learned"][0]["column"], "shop:public.customers.contact");
  EXPECT_EQ(out["learned"][0]["entity"], "EMAIL");
  EXPECT_EQ(out["learned"][0]["source"], "content");
}

TEST_F(McpToolsTest, RefusalsAndUnknownEndpointsAreToolErrors) {
  FakeVeild veild(socket(), Veild(true));
  bool error = false;
  Json r = Call("request_access", {{"endpoint", "shop-db"}, {"ttl", "9h"}, {"reason", "why not"}},
                &error);
  EXPECT_TRUE(error);
  EXPECT_EQ(r, "veil refused the request: ttl 9h exceeds the policy's max_ttl 4h");
  r = Call("query", {{"endpoint", "nope-db"}, {"sql", "select 1"}}, &error);
  EXPECT_TRUE(error);
  EXPECT_THAT(r.get<std::string>(), HasSubstr("no endpoint \"nope-db\" here (endpoints: "
                                              "shop-db, hr-db, docs-db"));
  r = Call("query", {{"endpoint", "shop-db"}, {"sql", "select 1"}}, &error);
  EXPECT_TRUE(error);  // no veild socket for the endpoint in this test
  EXPECT_THAT(r.get<std::string>(), HasSubstr("connecting through veil failed"));
  r = Call("access_status", {{"grant_id", "g-bbbbbbbbbbbb"}}, &error);
  EXPECT_TRUE(error);  // someone else's grant
  EXPECT_EQ(r, "no grant g-bbbbbbbbbbbb of yours (see list_databases)");
}

TEST_F(McpToolsTest, EndpointFlagLimitsWhatTheAgentSees) {
  FakeVeild veild(socket(), Veild(true));
  Json out = Call("list_databases", Json::object(), nullptr, {"docs-db"});
  ASSERT_EQ(out["databases"].size(), 1u);
  EXPECT_EQ(out["databases"][0]["endpoint"], "docs-db");
  bool error = false;
  Json r = Call("describe", {{"endpoint", "shop-db"}}, &error, {"docs-db"});
  EXPECT_TRUE(error);
  EXPECT_THAT(r.get<std::string>(), HasSubstr("no endpoint \"shop-db\" here (endpoints: docs-db"));
}

TEST_F(McpToolsTest, AgentUnreachableIsAToolError) {
  bool error = false;
  Json r = Call("list_databases", Json::object(), &error);
  EXPECT_TRUE(error);
  EXPECT_THAT(r.get<std::string>(), HasSubstr("agent unreachable at " + socket()));
}

}  // namespace
}  // namespace veil::veilctl
