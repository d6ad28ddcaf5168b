// Real uprobes on the host's libssl.so.3, a real PostgreSQL 15 with ssl=on and a real psql.
// Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN for tracefs); skips otherwise, fails under CI.
#include "agent/bpf/tls_tracer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "agent/bpf/pg_observer.h"

namespace veil::agent::bpf {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";
constexpr char kProbe[] = "SELECT 'veil-tls-probe-42'";

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

#define REQUIRE_ROOT()                                                              \
  do {                                                                              \
    if (geteuid() != 0) {                                                           \
      if (InCi()) FAIL() << "CI=true: this test needs root (CAP_BPF, CAP_PERFMON)"; \
      GTEST_SKIP() << "needs root: eBPF uprobes need CAP_BPF and CAP_PERFMON";      \
    }                                                                               \
  } while (0)

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Runs argv as `user` (if not null), stdout/stderr to `log`; returns the child's pid.
pid_t Spawn(const std::vector<std::string>& argv, const passwd* user, const std::string& log,
            int wait_fd = -1) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (wait_fd >= 0) {
    char c;
    if (read(wait_fd, &c, 1) != 1) _exit(126);
  }
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(out, 1);
  dup2(out, 2);
  if (user && (setgid(user->pw_gid) != 0 || setuid(user->pw_uid) != 0)) _exit(125);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// A PostgreSQL 15 with ssl=on and a self-signed certificate, on a free loopback port, for the
// whole suite.
class TlsTracerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    const passwd* pg = getpwnam("postgres");
    ASSERT_NE(pg, nullptr) << "no user postgres (install postgresql-15)";
    char tmpl[] = "/tmp/veil-tls-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chown(dir_.c_str(), pg->pw_uid, pg->pw_gid);
    std::string log = dir_ + "/log";
    std::string key = dir_ + "/server.key", crt = dir_ + "/server.crt";
    ASSERT_EQ(Wait(Spawn({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                          "-days", "1", "-subj", "/CN=localhost"},
                         pg, log)),
              0);
    ASSERT_EQ(Wait(Spawn({std::string(kPgBin) + "/initdb", "-D", dir_ + "/data", "-A", "trust",
                          "-U", "postgres", "--no-sync"},
                         pg, log)),
              0)
        << "initdb failed, see " << log;
    port_ = FreePort();
    postgres_ =
        Spawn({std::string(kPgBin) + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_),
               "-k", dir_, "-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c",
               "ssl_cert_file=" + crt, "-c", "ssl_key_file=" + key, "-c", "fsync=off"},
              pg, log);
    for (int i = 0; i < 100; ++i) {
      if (Wait(Spawn({"/usr/bin/psql", ConnString(), "-c", "SELECT 1"}, nullptr, log)) == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "PostgreSQL did not start, see " << log;
  }

  static void TearDownTestSuite() {
    if (postgres_ > 0) {
      kill(postgres_, SIGINT);  // fast shutdown
      Wait(postgres_);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static std::string ConnString() {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " sslmode=require user=postgres dbname=postgres";
  }

  static inline std::string dir_;
  static inline int port_ = 0;
  static inline pid_t postgres_ = -1;
};

TEST_F(TlsTracerTest, PsqlPlaintextAndItsStatementAreObserved) {
  REQUIRE_ROOT();
  ASSERT_GT(port_, 0);
  std::vector<TlsChunk> chunks;
  std::vector<ObservedStatement> statements;
  PgObserver observer({.endpoints = {"127.0.0.1:" + std::to_string(port_)}},
                      [&](const ObservedStatement& s) { statements.push_back(s); });
  auto tracer = TlsTracer::Start({}, [&](const TlsChunk& c) {
    chunks.push_back(c);
    observer.OnChunk(c);
  });
  ASSERT_TRUE(tracer.ok()) << tracer.error().message;

  // psql waits on a pipe until its pid is watched, so the whole connection is traced.
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t psql =
      Spawn({"/usr/bin/psql", ConnString(), "-c", kProbe}, nullptr, dir_ + "/psql.out", go[0]);
  close(go[0]);
  ASSERT_TRUE((*tracer)->Watch(static_cast<uint32_t>(psql)).ok());
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);

  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (waitpid(psql, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*tracer)->Poll(50).ok());
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*tracer)->Poll(50).ok());  // drain
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "psql failed, see " << dir_;

  std::string expected_remote = "127.0.0.1:" + std::to_string(port_);
  bool wrote_statement = false, read_result = false, closed = false;
  for (const TlsChunk& c : chunks) {
    // Only the watched process: the server's own SSL calls are filtered in the kernel.
    EXPECT_EQ(c.tgid, static_cast<uint32_t>(psql));
    EXPECT_EQ(c.uid, 0u);
    if (c.direction == TlsDirection::kClose) {
      closed = true;
      continue;
    }
    EXPECT_GE(c.fd, 0);
    EXPECT_EQ(c.remote, expected_remote);
    EXPECT_FALSE(c.truncated);
    if (c.direction == TlsDirection::kWrite && c.data.find(kProbe) != std::string::npos) {
      wrote_statement = true;
    }
    if (c.direction == TlsDirection::kRead &&
        c.data.find("veil-tls-probe-42") != std::string::npos &&
        c.data.find("SELECT 1") != std::string::npos) {
      read_result = true;
    }
  }
  EXPECT_TRUE(wrote_statement);
  EXPECT_TRUE(read_result);
  EXPECT_TRUE(closed) << "SSL_free of psql's connection";

  ASSERT_EQ(statements.size(), 1u);
  EXPECT_EQ(statements[0].statement, kProbe);
  EXPECT_EQ(statements[0].rows, 1u);
  EXPECT_EQ(statements[0].command_tag, "SELECT 1");
  EXPECT_EQ(statements[0].user, "postgres");
  EXPECT_EQ(statements[0].database, "postgres");
  EXPECT_EQ(statements[0].remote, expected_remote);
  EXPECT_EQ(statements[0].tgid, static_cast<uint32_t>(psql));
  EXPECT_EQ(observer.connections(), 0u) << "SSL_free dropped the state";

  TlsTracerStats stats = (*tracer)->stats();
  EXPECT_GE(stats.events, chunks.size());
  EXPECT_EQ(stats.lost, 0u);
}

TEST_F(TlsTracerTest, UnwatchedProcessesAreNotDelivered) {
  REQUIRE_ROOT();
  ASSERT_GT(port_, 0);
  int delivered = 0;
  auto tracer = TlsTracer::Start({}, [&](const TlsChunk&) { ++delivered; });
  ASSERT_TRUE(tracer.ok()) << tracer.error().message;
  pid_t psql = Spawn({"/usr/bin/psql", ConnString(), "-c", kProbe}, nullptr, dir_ + "/psql.out");
  EXPECT_EQ(Wait(psql), 0);
  ASSERT_TRUE((*tracer)->Poll(100).ok());
  EXPECT_EQ(delivered, 0);
  EXPECT_EQ((*tracer)->stats().events, 0u);
}

TEST_F(TlsTracerTest, ResolvesTheRemoteAddressOfASocketFromProc) {
  REQUIRE_ROOT();
  ASSERT_GT(port_, 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto remote = ResolveRemoteAddress("/proc", static_cast<uint32_t>(getpid()), fd);
  ASSERT_TRUE(remote.ok()) << remote.error().message;
  EXPECT_EQ(*remote, "127.0.0.1:" + std::to_string(port_));
  close(fd);

  int file = open("/proc/self/stat", O_RDONLY);
  auto not_socket = ResolveRemoteAddress("/proc", static_cast<uint32_t>(getpid()), file);
  ASSERT_FALSE(not_socket.ok());
  EXPECT_THAT(not_socket.error().message, HasSubstr("not a socket"));
  close(file);
}

TEST(FindLibssl, FindsTheHostsLibssl) {
  auto found = FindLibssl();
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_FALSE(found->empty());
  EXPECT_THAT((*found)[0], HasSubstr("libssl.so.3"));
}

TEST(TlsTracerStart, ExplicitPathThatDoesNotExistIsNamed) {
  auto tracer = TlsTracer::Start({.libssl_paths = {"/nonexistent/libssl.so.3"}}, nullptr);
  ASSERT_FALSE(tracer.ok());
  EXPECT_THAT(tracer.error().message, HasSubstr("/nonexistent/libssl.so.3"));
}

}  // namespace
}  // namespace veil::agent::bpf
