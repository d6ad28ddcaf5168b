// `veilctl flows` end to end: a real ControlServer with a FlowTable fed synthetic FlowEvents (as
// the eBPF layer would), and the real veilctl binary (VEILCTL_BIN) run against its socket.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "agent/control.h"
#include "agent/flows.h"

namespace veil::agent {
namespace {

namespace fs = std::filesystem;
using bpf::FlowEvent;
using bpf::FlowVerdict;
using json = nlohmann::json;

struct Ran {
  int rc = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Forks and execs veilctl with `args`, stdout and stderr to files; waits for it.
Ran RunVeilctl(const std::vector<std::string>& args, const std::string& dir) {
  const std::string out = dir + "/out", err = dir + "/err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv = {const_cast<char*>(VEILCTL_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(VEILCTL_BIN, argv.data());
    ::_exit(127);
  }
  Ran r;
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

FlowEvent Event(FlowEvent::Kind kind, uint64_t cookie, FlowVerdict verdict, uint32_t tgid,
                uint64_t sent = 0, uint64_t received = 0) {
  FlowEvent e;
  e.kind = kind;
  e.cookie = cookie;
  e.verdict = verdict;
  e.process.pid = e.process.tgid = tgid;
  e.process.uid = 0;
  e.process.comm = "psql";
  e.src = "127.0.0.1:" + std::to_string(40000 + cookie);
  e.original_dst = "10.0.0.5:5432";
  if (verdict == FlowVerdict::kRedirected) e.redirected_to = "127.0.0.1:15432";
  e.bytes_sent = sent;
  e.bytes_received = received;
  return e;
}

grants::Principal Etl() {
  grants::Principal p;
  p.user = "etl";
  p.unit = "etl.service";
  p.exe = "/usr/bin/etl-loader";
  return p;
}

class VeilctlFlows : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "veil-flows-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    socket_ = dir_ + "/veil.sock";
  }
  void TearDown() override {
    Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Start(FlowTable* flows) {
    auto s = ControlServer::Start(io_, socket_, nullptr, clock_, {"orders-db", "audit-db"},
                                  &sessions_, flows);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
    io_thread_ = std::thread([this] {
      auto work = asio::make_work_guard(io_);
      io_.run();
    });
  }
  void Stop() {
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    server_.reset();
  }

  Ran Veilctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", socket_});
    return RunVeilctl(args, dir_);
  }

  // Three flows: a direct one, an observed one (open), a redirected one (closed).
  void Feed() {
    table_.Apply(Event(FlowEvent::Kind::kEstablished, 1, FlowVerdict::kDirect, 501), {}, "");
    table_.Apply(Event(FlowEvent::Kind::kEstablished, 2, FlowVerdict::kObserved, 502), Etl(),
                 "audit-db");
    table_.Apply(Event(FlowEvent::Kind::kEstablished, 3, FlowVerdict::kRedirected, 503), Etl(),
                 "orders-db");
    clock_.Advance(5);
    table_.Apply(Event(FlowEvent::Kind::kClosed, 3, FlowVerdict::kRedirected, 503, 120, 4096), {},
                 "");
  }

  std::string dir_, socket_;
  grants::FakeClock clock_{1'700'000'000};
  FlowTable table_{clock_};
  SessionRegistry sessions_;
  asio::io_context io_;
  std::unique_ptr<ControlServer> server_;
  std::thread io_thread_;
};

TEST_F(VeilctlFlows, AllAsJson) {
  Feed();
  Start(&table_);
  Ran r = Veilctl({"flows", "--all", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  json flows = json::parse(r.out);
  ASSERT_TRUE(flows.is_array());
  ASSERT_EQ(flows.size(), 3u) << r.out;
  // Open flows first, each group in opening order.
  EXPECT_EQ(flows[0]["pid"], 501);
  EXPECT_EQ(flows[0]["verdict"], "direct");
  EXPECT_EQ(flows[0]["endpoint"], "");
  EXPECT_EQ(flows[0]["principal"], "unknown");
  EXPECT_EQ(flows[0]["state"], "open");

  EXPECT_EQ(flows[1]["pid"], 502);
  EXPECT_EQ(flows[1]["verdict"], "observed");
  EXPECT_EQ(flows[1]["endpoint"], "audit-db");
  EXPECT_EQ(flows[1]["state"], "open");
  EXPECT_EQ(flows[1]["closed_at"], 0);

  const json& f = flows[2];
  EXPECT_EQ(f["cookie"], 3);
  EXPECT_EQ(f["pid"], 503);
  EXPECT_EQ(f["comm"], "psql");
  EXPECT_EQ(f["exe"], "/usr/bin/etl-loader");
  EXPECT_EQ(f["principal"], "user:etl");
  EXPECT_EQ(f["src"], "127.0.0.1:40003");
  EXPECT_EQ(f["dst"], "10.0.0.5:5432");
  EXPECT_EQ(f["redirected_to"], "127.0.0.1:15432");
  EXPECT_EQ(f["endpoint"], "orders-db");
  EXPECT_EQ(f["verdict"], "redirected");
  EXPECT_EQ(f["bytes_sent"], 120);
  EXPECT_EQ(f["bytes_received"], 4096);
  EXPECT_EQ(f["opened_at"], 1'700'000'000);
  EXPECT_EQ(f["closed_at"], 1'700'000'005);
  EXPECT_EQ(f["state"], "closed");
}

TEST_F(VeilctlFlows, WithoutAllOnlyConfiguredEndpoints) {
  Feed();
  Start(&table_);
  Ran r = Veilctl({"-o", "json", "flows"});
  ASSERT_EQ(r.rc, 0) << r.err;
  json flows = json::parse(r.out);
  ASSERT_EQ(flows.size(), 2u) << r.out;
  EXPECT_EQ(flows[0]["verdict"], "observed");
  EXPECT_EQ(flows[1]["verdict"], "redirected");
}

TEST_F(VeilctlFlows, Table) {
  Feed();
  Start(&table_);
  Ran r = Veilctl({"flows", "--all"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    rows.emplace_back(std::istream_iterator<std::string>(words),
                      std::istream_iterator<std::string>());
  }
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"PID", "EXE", "PRINCIPAL", "SRC", "DST", "ENDPOINT",
                                               "VERDICT", "BYTES", "STATE"}));
  // No exe known: the kernel's comm in brackets; no endpoint: "-"; open: no byte counts yet.
  EXPECT_EQ(rows[1], (std::vector<std::string>{"501", "[psql]", "unknown", "127.0.0.1:40001",
                                               "10.0.0.5:5432", "-", "direct", "-", "open"}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"503", "/usr/bin/etl-loader", "user:etl",
                                               "127.0.0.1:40003", "10.0.0.5:5432", "orders-db",
                                               "redirected", "120/4096", "closed"}));
}

TEST_F(VeilctlFlows, WatchStreamsOneJsonObjectPerChange) {
  Start(&table_);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    execl(VEILCTL_BIN, VEILCTL_BIN, "--socket", socket_.c_str(), "-o", "json", "flows", "--watch",
          static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // Changes before the watch began are not replayed; wait until veild holds the subscription.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (table_.WatcherCount() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(table_.WatcherCount(), 1u);
  Feed();  // direct (filtered out without --all), observed open, redirected open, closed

  std::string buf;
  std::vector<json> got;
  while (got.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(out[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1))
      got.push_back(json::parse(buf.substr(0, nl)));
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]["verdict"], "observed");
  EXPECT_EQ(got[0]["state"], "open");
  EXPECT_EQ(got[1]["cookie"], 3);
  EXPECT_EQ(got[1]["state"], "open");
  EXPECT_EQ(got[2]["cookie"], 3);
  EXPECT_EQ(got[2]["state"], "closed");
  EXPECT_EQ(got[2]["bytes_received"], 4096);

  // The client goes away: veild drops the subscription.
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  while (table_.WatcherCount() != 0 &&
         std::chrono::steady_clock::now() < deadline + std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(table_.WatcherCount(), 0u);
}

TEST_F(VeilctlFlows, FlowTracingOffIsARefusal) {
  Start(nullptr);
  for (const auto& args : {std::vector<std::string>{"flows"},
                           std::vector<std::string>{"flows", "--watch", "-o", "json"}}) {
    Ran r = Veilctl(args);
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("flow tracing is off (agent.redirect: off)"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  // Other calls on the same server still work.
  Ran r = Veilctl({"-o", "json", "status"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["endpoints"], json::array({"orders-db", "audit-db"}));
  r = Veilctl({"-o", "json", "sessions"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::array());
}

TEST_F(VeilctlFlows, UnreachableAndUsage) {
  Ran r = Veilctl({"flows"});  // nothing listens on the socket
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("agent unreachable"), std::string::npos) << r.err;
  r = Veilctl({"flows", "--watch"});
  EXPECT_EQ(r.rc, 3);
  r = Veilctl({"flows", "--bogus"});
  EXPECT_EQ(r.rc, 2);
}

}  // namespace
}  // namespace veil::agent
