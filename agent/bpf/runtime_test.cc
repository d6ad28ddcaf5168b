// The flow layer against the real kernel: programs attached to the cgroup v2 root, real sockets,
// client processes that drop to uid 65534. Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN to
// mount bpffs); skips otherwise, and fails instead under CI=true. Each test pins under its own
// /sys/fs/bpf/veil-test-<pid>-<n> and removes it; see IsolateBpffs() for the bpffs states.
#include "agent/bpf/runtime.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace veil::agent::bpf {
namespace {

constexpr uid_t kNobody = 65534;

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

socklen_t MakeAddr(const std::string& ip, uint16_t port, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof(*ss));
  auto* a4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* a6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) != 1) std::abort();
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

// ip and port of a sockaddr.
std::pair<std::string, uint16_t> Split(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    return {buf, ntohs(a->sin_port)};
  }
  auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
  return {buf, ntohs(a->sin6_port)};
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    Reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~Fd() { Reset(); }
  void Reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// A listening socket on ip:port (0: any free port).
struct Listener {
  Fd fd;
  uint16_t port = 0;
};
Listener Listen(const std::string& ip, uint16_t port = 0) {
  sockaddr_storage ss;
  socklen_t len = MakeAddr(ip, port, &ss);
  Listener l;
  l.fd = Fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(l.fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(l.fd.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(l.fd.fd, 8) != 0) {
    l.fd.Reset();
    return l;
  }
  sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  getsockname(l.fd.fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  l.port = Split(bound).second;
  return l;
}

// Accepts within timeout_ms, or returns an invalid Fd.
Fd AcceptWithin(const Listener& l, int timeout_ms, sockaddr_storage* peer = nullptr) {
  pollfd p{l.fd.fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return Fd();
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  Fd fd(accept4(l.fd.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC));
  if (peer) *peer = ss;
  return fd;
}

// A client process: names itself veil-client, optionally marks its socket (as root), drops to
// nobody, connects, reports, sends "hello", reads 3 bytes and exits.
struct Client {
  pid_t pid = -1;
  int connect_errno = -1;
  uint16_t local_port = 0;
};
struct ClientOptions {
  int family = AF_INET;
  uint32_t mark = 0;
};
Client StartClient(const std::string& ip, uint16_t port, ClientOptions o = {}) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) std::abort();
  sockaddr_storage ss;
  socklen_t len = MakeAddr(ip, port, &ss);
  if (o.family == AF_INET6 && ss.ss_family == AF_INET) std::abort();
  Client c;
  c.pid = fork();
  if (c.pid == 0) {
    prctl(PR_SET_NAME, "veil-client");
    int s = socket(o.family, SOCK_STREAM, 0);
    if (o.mark != 0) setsockopt(s, SOL_SOCKET, SO_MARK, &o.mark, sizeof(o.mark));
    if (setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(2);
    // Never outlive the test (setuid cleared an earlier death signal), never wait forever on a
    // peer that a failed expectation left unserved: an orphan holding ctest's pipe hangs CI.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    timeval limit{10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    int report[2] = {0, 0};
    if (connect(s, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      report[0] = errno;
    } else {
      sockaddr_storage local;
      socklen_t llen = sizeof(local);
      getsockname(s, reinterpret_cast<sockaddr*>(&local), &llen);
      report[1] = local.ss_family == AF_INET
                      ? ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port)
                      : ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    }
    if (write(pipefd[1], report, sizeof(report)) != sizeof(report)) _exit(3);
    if (report[0] != 0) _exit(0);
    if (write(s, "hello", 5) != 5) _exit(4);
    char buf[3];
    size_t got = 0;
    while (got < sizeof(buf)) {
      ssize_t n = read(s, buf + got, sizeof(buf) - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    close(s);
    _exit(0);
  }
  close(pipefd[1]);
  int report[2] = {-1, 0};
  pollfd p{pipefd[0], POLLIN, 0};
  if (poll(&p, 1, 5000) == 1 && read(pipefd[0], report, sizeof(report)) == sizeof(report)) {
    c.connect_errno = report[0];
    c.local_port = static_cast<uint16_t>(report[1]);
  }
  close(pipefd[0]);
  return c;
}

// Serves one client: reads "hello", answers "abc", closes, reaps the client.
void Serve(Fd conn, const Client& c) {
  char buf[5];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = read(conn.fd, buf + got, sizeof(buf) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  EXPECT_EQ(std::string(buf, got), "hello");
  EXPECT_EQ(write(conn.fd, "abc", 3), 3);
  conn.Reset();
  int status = 0;
  waitpid(c.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "client status " << status;
}

// Waits for the client; one still running after 15 s (its socket limits are 10 s) is killed.
void Reap(const Client& c) {
  if (c.pid <= 0) return;
  int status = 0;
  for (int i = 0; i < 150; ++i) {
    if (waitpid(c.pid, &status, WNOHANG) != 0) return;
    usleep(100 * 1000);
  }
  ADD_FAILURE() << "client " << c.pid << " still running after 15 s; killed";
  kill(c.pid, SIGKILL);
  waitpid(c.pid, &status, 0);
}

uint64_t StartTicksOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream f(line.substr(line.rfind(')') + 2));
  std::string tok;
  for (int field = 3; field <= 22; ++field) f >> tok;
  return std::stoull(tok);
}

uint64_t CgroupIdOfPid(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) {
      auto id = CgroupIdOf(*CgroupV2Root() + line.substr(3));
      return id.ok() ? *id : 0;
    }
  }
  return 0;
}

// VEIL_TEST_BPFFS=mounted|unmounted (tools/test.sh runs the root tests once per state): this
// test process gets a mount namespace of its own with a fresh bpffs at /sys/fs/bpf, mounted
// mode 0700 as systemd mounts it, or with nothing there (Open() mounts one). Unset: the host's
// /sys/fs/bpf as it is. Each ctest test is its own process, so each starts from that state.
void IsolateBpffs() {
  const char* state = std::getenv("VEIL_TEST_BPFFS");
  if (state == nullptr || *state == '\0') return;
  const std::string want = state;
  ASSERT_TRUE(want == "mounted" || want == "unmounted") << "VEIL_TEST_BPFFS=" << want;
  ASSERT_EQ(unshare(CLONE_NEWNS), 0) << std::strerror(errno);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  while (umount2("/sys/fs/bpf", MNT_DETACH) == 0) {
  }
  if (want == "mounted") {
    ASSERT_EQ(mount("bpf", "/sys/fs/bpf", "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700"), 0)
        << std::strerror(errno);
  }
}

class FlowLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (InCi()) GTEST_FAIL() << "CI=true: this test needs root (CAP_BPF, CAP_NET_ADMIN)";
      GTEST_SKIP() << "needs root: loads BPF programs and attaches them to the cgroup v2 root";
    }
    ASSERT_NO_FATAL_FAILURE(IsolateBpffs());
    static std::atomic<int> n{0};
    pin_dir_ = "/sys/fs/bpf/veil-test-" + std::to_string(getpid()) + "-" + std::to_string(n++);
  }

  void TearDown() override {
    layer_.reset();
    if (pin_dir_.empty()) return;
    Status s = FlowLayer::RemoveAll(pin_dir_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    EXPECT_NE(access(pin_dir_.c_str(), F_OK), 0) << pin_dir_ << " still exists";
  }

  // Opens with this test process as veild (its connects are exempt).
  void OpenLayer(std::vector<uint16_t> extra_ports = {}) {
    FlowLayer::Options o;
    o.pin_dir = pin_dir_;
    o.extra_db_ports = std::move(extra_ports);
    o.on_event = [this](const FlowEvent& e) { events_.push_back(e); };
    auto r = FlowLayer::Open(std::move(o));
    ASSERT_TRUE(r.ok()) << r.error().message;
    layer_ = std::move(*r);
  }

  // Polls until an event of `kind` for `cookie` arrives, or 3 s pass.
  std::optional<FlowEvent> WaitEvent(uint64_t cookie, FlowEvent::Kind kind) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (true) {
      for (const FlowEvent& e : events_) {
        if (e.cookie == cookie && e.kind == kind) return e;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      auto r = layer_->Poll(100);
      EXPECT_TRUE(r.ok());
    }
  }

  // An established event whose original destination is `dst`.
  std::optional<FlowEvent> WaitEstablishedTo(const std::string& dst) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (true) {
      for (const FlowEvent& e : events_) {
        if (e.original_dst == dst && e.kind == FlowEvent::Kind::kEstablished) return e;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      (void)layer_->Poll(100);
    }
  }

  std::string pin_dir_;
  std::unique_ptr<FlowLayer> layer_;
  std::vector<FlowEvent> events_;
};

std::string V4(const std::string& ip, uint16_t port) { return ip + ":" + std::to_string(port); }
std::string V6(const std::string& ip, uint16_t port) {
  return "[" + ip + "]:" + std::to_string(port);
}

TEST(CgroupV2RootTest, FindsTheCgroup2MountNotV1) {
  std::string path = ::testing::TempDir() + "/mounts";
  std::ofstream(path) << "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
                         "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
                         "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
  auto r = CgroupV2Root(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "/sys/fs/cgroup/unified");
  std::ofstream(path) << "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
  auto none = CgroupV2Root(path);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("mount -t cgroup2"), std::string::npos);
}

// (a) A client dialling a protected endpoint lands on veild's port; veild learns who it is.
TEST_F(FlowLayerTest, RedirectsAndAttributesTheClient) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  EXPECT_FALSE(layer_->adopted());
  Listener upstream = Listen("127.0.0.2"), veild = Listen("127.0.0.1");
  ASSERT_GE(upstream.fd.fd, 0);
  ASSERT_GE(veild.fd.fd, 0);
  ASSERT_TRUE(layer_->SetEndpoints({{"127.0.0.2", upstream.port, "127.0.0.1", veild.port}}).ok());

  Client c = StartClient("127.0.0.2", upstream.port);
  ASSERT_EQ(c.connect_errno, 0) << std::strerror(c.connect_errno);
  sockaddr_storage peer;
  Fd conn = AcceptWithin(veild, 3000, &peer);
  ASSERT_GE(conn.fd, 0) << "the connect did not land on the listen port";
  EXPECT_LT(AcceptWithin(upstream, 100).fd, 0) << "the upstream was reached directly";

  auto [peer_ip, peer_port] = Split(peer);
  EXPECT_EQ(peer_port, c.local_port);
  auto flow = layer_->LookupAccepted(peer_ip, peer_port);
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->process.tgid, static_cast<uint32_t>(c.pid));
  EXPECT_EQ(flow->process.pid, static_cast<uint32_t>(c.pid));
  EXPECT_EQ(flow->process.uid, kNobody);
  EXPECT_EQ(flow->process.gid, kNobody);
  EXPECT_EQ(flow->process.comm, "veil-client");
  const uint64_t tick_ns = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(flow->process.start_time_ns / tick_ns, StartTicksOf(c.pid));
  EXPECT_EQ(flow->process.cgroup_id, CgroupIdOfPid(c.pid));
  EXPECT_NE(flow->process.cgroup_id, 0u);
  EXPECT_EQ(flow->verdict, FlowVerdict::kRedirected);
  EXPECT_EQ(flow->original_dst, V4("127.0.0.2", upstream.port));
  EXPECT_EQ(flow->redirected_to, V4("127.0.0.1", veild.port));
  EXPECT_EQ(flow->src, V4("127.0.0.1", peer_port));
  EXPECT_NE(flow->cookie, 0u);

  Serve(std::move(conn), c);
  auto est = WaitEvent(flow->cookie, FlowEvent::Kind::kEstablished);
  ASSERT_TRUE(est.has_value());
  EXPECT_EQ(est->process.tgid, static_cast<uint32_t>(c.pid));
  EXPECT_EQ(est->original_dst, flow->original_dst);
  EXPECT_EQ(est->src, flow->src);
  EXPECT_NE(est->ts_ns, 0u);
  auto closed = WaitEvent(flow->cookie, FlowEvent::Kind::kClosed);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->bytes_sent, 5u);
  EXPECT_EQ(closed->bytes_received, 3u);
  EXPECT_EQ(closed->verdict, FlowVerdict::kRedirected);
  EXPECT_GE(closed->ts_ns, est->ts_ns);
  EXPECT_FALSE(layer_->LookupAccepted(peer_ip, peer_port).has_value())
      << "entries outlive the socket";
  EXPECT_EQ(layer_->lost_events(), 0u);
}

// (b) veild's own sockets (its tgid, or its SO_MARK) reach the upstream untouched.
TEST_F(FlowLayerTest, OwnSocketsAreNotRedirected) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener upstream = Listen("127.0.0.2"), veild = Listen("127.0.0.1");
  ASSERT_TRUE(layer_->SetEndpoints({{"127.0.0.2", upstream.port, "127.0.0.1", veild.port}}).ok());

  // From this process (the exempt tgid).
  Fd own(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss;
  socklen_t len = MakeAddr("127.0.0.2", upstream.port, &ss);
  ASSERT_EQ(connect(own.fd, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  sockaddr_storage peer;
  EXPECT_GE(AcceptWithin(upstream, 3000, &peer).fd, 0) << "own tgid was redirected";
  EXPECT_LT(AcceptWithin(veild, 100).fd, 0);
  auto [ip, port] = Split(peer);
  EXPECT_FALSE(layer_->LookupAccepted(ip, port).has_value()) << "own socket traced";

  // From another process whose socket carries veild's mark.
  Client marked = StartClient("127.0.0.2", upstream.port, {.mark = kVeilSocketMark});
  ASSERT_EQ(marked.connect_errno, 0);
  Fd up = AcceptWithin(upstream, 3000);
  EXPECT_GE(up.fd, 0) << "marked socket was redirected";
  EXPECT_LT(AcceptWithin(veild, 100).fd, 0);
  Serve(std::move(up), marked);

  // The same process without the mark is redirected (the control).
  Client plain = StartClient("127.0.0.2", upstream.port);
  ASSERT_EQ(plain.connect_errno, 0);
  Fd redirected = AcceptWithin(veild, 3000);
  EXPECT_GE(redirected.fd, 0);
  Serve(std::move(redirected), plain);

  // MarkSocket is what veild calls on its upstream sockets.
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(MarkSocket(s.fd).ok());
  uint32_t mark = 0;
  socklen_t mlen = sizeof(mark);
  getsockopt(s.fd, SOL_SOCKET, SO_MARK, &mark, &mlen);
  EXPECT_EQ(mark, kVeilSocketMark);
}

// (c) IPv6, and an AF_INET6 socket dialling an IPv4-mapped address (what Java does).
TEST_F(FlowLayerTest, RedirectsIpv6AndIpv4MappedConnects) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener up6 = Listen("::1"), veild6 = Listen("::1");
  Listener up4 = Listen("127.0.0.2"), veild4 = Listen("127.0.0.1");
  ASSERT_GE(up6.fd.fd, 0);
  ASSERT_GE(veild6.fd.fd, 0);
  ASSERT_TRUE(layer_
                  ->SetEndpoints({{"::1", up6.port, "::1", veild6.port},
                                  {"127.0.0.2", up4.port, "127.0.0.1", veild4.port}})
                  .ok());

  Client c6 = StartClient("::1", up6.port, {.family = AF_INET6});
  ASSERT_EQ(c6.connect_errno, 0) << std::strerror(c6.connect_errno);
  sockaddr_storage peer;
  Fd conn = AcceptWithin(veild6, 3000, &peer);
  ASSERT_GE(conn.fd, 0);
  EXPECT_LT(AcceptWithin(up6, 100).fd, 0);
  auto [ip6, port6] = Split(peer);
  auto flow6 = layer_->LookupAccepted(ip6, port6);
  ASSERT_TRUE(flow6.has_value());
  EXPECT_EQ(flow6->process.tgid, static_cast<uint32_t>(c6.pid));
  EXPECT_EQ(flow6->original_dst, V6("::1", up6.port));
  EXPECT_EQ(flow6->redirected_to, V6("::1", veild6.port));
  EXPECT_EQ(flow6->src, V6("::1", port6));
  Serve(std::move(conn), c6);

  Client mapped = StartClient("::ffff:127.0.0.2", up4.port, {.family = AF_INET6});
  ASSERT_EQ(mapped.connect_errno, 0) << std::strerror(mapped.connect_errno);
  Fd conn4 = AcceptWithin(veild4, 3000, &peer);
  ASSERT_GE(conn4.fd, 0) << "IPv4-mapped connect not redirected";
  EXPECT_LT(AcceptWithin(up4, 100).fd, 0);
  auto [ip4, port4] = Split(peer);
  EXPECT_EQ(ip4, "127.0.0.1");
  auto flow4 = layer_->LookupAccepted(ip4, port4);
  ASSERT_TRUE(flow4.has_value());
  EXPECT_EQ(flow4->process.tgid, static_cast<uint32_t>(mapped.pid));
  EXPECT_EQ(flow4->original_dst, V4("127.0.0.2", up4.port));
  EXPECT_EQ(flow4->redirected_to, V4("127.0.0.1", veild4.port));
  Serve(std::move(conn4), mapped);
}

// (d) A crash leaves the redirect pinned (fail closed); a new Open adopts it intact.
TEST_F(FlowLayerTest, CrashFailsClosedAndReopenAdopts) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener upstream = Listen("127.0.0.2");
  Listener veild = Listen("127.0.0.1");
  const uint16_t listen_port = veild.port;
  ASSERT_TRUE(layer_->SetEndpoints({{"127.0.0.2", upstream.port, "127.0.0.1", listen_port}}).ok());

  layer_.reset();  // no Shutdown(): veild died
  veild.fd.Reset();
  Client c = StartClient("127.0.0.2", upstream.port);
  EXPECT_EQ(c.connect_errno, ECONNREFUSED) << std::strerror(c.connect_errno);
  EXPECT_LT(AcceptWithin(upstream, 200).fd, 0) << "the database was reached with veild down";
  Reap(c);

  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  EXPECT_TRUE(layer_->adopted());
  veild = Listen("127.0.0.1", listen_port);
  ASSERT_GE(veild.fd.fd, 0);
  Client again = StartClient("127.0.0.2", upstream.port);  // no SetEndpoints: entries survived
  ASSERT_EQ(again.connect_errno, 0);
  sockaddr_storage peer;
  Fd conn = AcceptWithin(veild, 3000, &peer);
  ASSERT_GE(conn.fd, 0);
  auto [ip, port] = Split(peer);
  auto flow = layer_->LookupAccepted(ip, port);
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->process.tgid, static_cast<uint32_t>(again.pid));
  Serve(std::move(conn), again);
  ASSERT_TRUE(WaitEvent(flow->cookie, FlowEvent::Kind::kClosed).has_value())
      << "no events from the adopted programs";
}

// A clean stop drops fail-open endpoints only; SetEndpoints deletes stale ones.
TEST_F(FlowLayerTest, ShutdownKeepsFailClosedEndpointsOnly) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener closed_up = Listen("127.0.0.2"), open_up = Listen("127.0.0.2");
  Listener veild = Listen("127.0.0.1");
  ASSERT_TRUE(layer_
                  ->SetEndpoints({{"127.0.0.2", closed_up.port, "127.0.0.1", veild.port},
                                  {"127.0.0.2", open_up.port, "127.0.0.1", veild.port, false,
                                   /*fail_open=*/true}})
                  .ok());
  ASSERT_TRUE(layer_->Shutdown().ok());
  layer_.reset();

  Client to_open = StartClient("127.0.0.2", open_up.port);
  ASSERT_EQ(to_open.connect_errno, 0);
  Fd direct = AcceptWithin(open_up, 3000);
  EXPECT_GE(direct.fd, 0) << "fail-open endpoint still redirected after Shutdown";
  Serve(std::move(direct), to_open);
  Client to_closed = StartClient("127.0.0.2", closed_up.port);
  ASSERT_EQ(to_closed.connect_errno, 0);
  Fd redirected = AcceptWithin(veild, 3000);
  EXPECT_GE(redirected.fd, 0) << "fail-closed endpoint lost by Shutdown";
  Serve(std::move(redirected), to_closed);

  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  ASSERT_TRUE(layer_->SetEndpoints({}).ok());
  Client after = StartClient("127.0.0.2", closed_up.port);
  ASSERT_EQ(after.connect_errno, 0);
  Fd up = AcceptWithin(closed_up, 3000);
  EXPECT_GE(up.fd, 0) << "stale endpoint not deleted";
  Serve(std::move(up), after);
}

TEST_F(FlowLayerTest, SetEndpointsRefusesBadEntriesWithoutChangingTheMap) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener upstream = Listen("127.0.0.2");
  Listener veild = Listen("127.0.0.1");
  ASSERT_TRUE(layer_->SetEndpoints({{"127.0.0.2", upstream.port, "127.0.0.1", veild.port}}).ok());
  Status bad = layer_->SetEndpoints({{"db.example", 5432, "127.0.0.1", 15432}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not an IP"), std::string::npos);
  Status no_port = layer_->SetEndpoints({{"127.0.0.2", 5432, "127.0.0.1", 0}});
  ASSERT_FALSE(no_port.ok());
  EXPECT_NE(no_port.error().message.find("listen port 0"), std::string::npos);
  // Neither refusal changed the map: the endpoint set before is still redirected.
  Client c = StartClient("127.0.0.2", upstream.port);
  ASSERT_EQ(c.connect_errno, 0);
  Fd redirected = AcceptWithin(veild, 3000);
  ASSERT_GE(redirected.fd, 0) << "a refused SetEndpoints dropped the endpoint";
  Serve(std::move(redirected), c);
}

// An IPv4 socket cannot be rewritten to an IPv6 listen address: such an endpoint is accepted
// (IPv6 clients of the same address are redirected), and an IPv4 client is refused, never
// sent to the database directly.
TEST_F(FlowLayerTest, AnIpv4ClientOfAnEndpointListeningOnIpv6IsRefused) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener upstream = Listen("127.0.0.2");
  ASSERT_TRUE(layer_->SetEndpoints({{"127.0.0.2", upstream.port, "::1", 15432}}).ok());
  Client c = StartClient("127.0.0.2", upstream.port);
  EXPECT_NE(c.connect_errno, 0) << "connected; expected a refusal";
  EXPECT_LT(AcceptWithin(upstream, 200).fd, 0) << "the database was reached directly";
  Reap(c);
}

// (e) A connect to a database port without an endpoint is a kDirect flow; an observe endpoint
// is traced as kObserved and not rewritten.
TEST_F(FlowLayerTest, TracesDirectAndObservedDatabaseConnects) {
  Listener extra = Listen("127.0.0.3");
  ASSERT_NO_FATAL_FAILURE(OpenLayer({extra.port}));
  Client c = StartClient("127.0.0.3", extra.port);
  ASSERT_EQ(c.connect_errno, 0);
  Fd conn = AcceptWithin(extra, 3000);
  ASSERT_GE(conn.fd, 0);
  Serve(std::move(conn), c);
  auto direct = WaitEstablishedTo(V4("127.0.0.3", extra.port));
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->verdict, FlowVerdict::kDirect);
  EXPECT_EQ(direct->redirected_to, "");
  EXPECT_EQ(direct->process.tgid, static_cast<uint32_t>(c.pid));
  auto direct_closed = WaitEvent(direct->cookie, FlowEvent::Kind::kClosed);
  ASSERT_TRUE(direct_closed.has_value());
  EXPECT_EQ(direct_closed->bytes_sent, 5u);

  // A default port (ClickHouse's 8123), when this host lets us listen on it.
  Listener clickhouse = Listen("127.0.0.3", 8123);
  if (clickhouse.fd.fd >= 0) {
    Client d = StartClient("127.0.0.3", 8123);
    ASSERT_EQ(d.connect_errno, 0);
    Fd dc = AcceptWithin(clickhouse, 3000);
    ASSERT_GE(dc.fd, 0);
    Serve(std::move(dc), d);
    auto e = WaitEstablishedTo("127.0.0.3:8123");
    ASSERT_TRUE(e.has_value()) << "default db port not traced";
    EXPECT_EQ(e->verdict, FlowVerdict::kDirect);
  }

  // A port that is no database port is not traced.
  Listener other = Listen("127.0.0.3");
  Client o = StartClient("127.0.0.3", other.port);
  ASSERT_EQ(o.connect_errno, 0);
  Fd oc = AcceptWithin(other, 3000);
  ASSERT_GE(oc.fd, 0);
  Serve(std::move(oc), o);
  EXPECT_FALSE(WaitEstablishedTo(V4("127.0.0.3", other.port)).has_value());

  Listener observed = Listen("127.0.0.2"), veild = Listen("127.0.0.1");
  RedirectEndpoint ep{"127.0.0.2", observed.port, "127.0.0.1", veild.port};
  ep.observe = true;
  ASSERT_TRUE(layer_->SetEndpoints({ep}).ok());
  Client ob = StartClient("127.0.0.2", observed.port);
  ASSERT_EQ(ob.connect_errno, 0);
  sockaddr_storage peer;
  Fd obc = AcceptWithin(observed, 3000, &peer);
  ASSERT_GE(obc.fd, 0) << "observe endpoint was rewritten";
  auto [ip, port] = Split(peer);
  auto flow = layer_->LookupAccepted(ip, port);
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->verdict, FlowVerdict::kObserved);
  EXPECT_EQ(flow->redirected_to, "");
  Serve(std::move(obc), ob);
}

// veil.service's layout: PreparePinDir (its `ExecStartPre=+`) makes the pin dir on the host's
// bpffs for the service user; veild then sees /sys/fs/bpf as a tmpfs that holds only a bind
// mount of that folder (TemporaryFileSystem= + BindPaths=). Pins made there are on the host's
// bpffs: they outlive that view (fail closed) and are adopted from the host's side.
TEST_F(FlowLayerTest, PinsThroughABindMountInATmpfsAsVeilServiceSeesThem) {
  Status prepared = FlowLayer::PreparePinDir(pin_dir_, kNobody, kNobody);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  struct stat st {};
  ASSERT_EQ(stat(pin_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNobody);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  Listener upstream = Listen("127.0.0.2");
  Listener veild = Listen("127.0.0.1");
  char stage[] = "/tmp/veil-stage-XXXXXX";
  ASSERT_NE(mkdtemp(stage), nullptr);
  int report[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  pid_t child = fork();
  if (child == 0) {
    // Exit codes name the step that failed; 0: pinned through the view.
    const std::string at = pin_dir_;
    if (unshare(CLONE_NEWNS) != 0) _exit(10);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(11);
    if (mount(at.c_str(), stage, nullptr, MS_BIND, nullptr) != 0) _exit(12);
    if (mount("tmpfs", "/sys/fs/bpf", "tmpfs", 0, "mode=0755") != 0) _exit(13);
    if (mkdir(at.c_str(), 0755) != 0) _exit(14);
    if (mount(stage, at.c_str(), nullptr, MS_MOVE, nullptr) != 0) _exit(15);
    struct statfs parent {};
    if (statfs("/sys/fs/bpf", &parent) != 0 || parent.f_type == BPF_FS_MAGIC) _exit(16);
    FlowLayer::Options o;
    o.pin_dir = at;
    auto layer = FlowLayer::Open(std::move(o));
    if (!layer.ok()) {
      const std::string& m = layer.error().message;
      (void)!write(report[1], m.data(), m.size());
      _exit(17);
    }
    if (!(*layer)->SetEndpoints({{"127.0.0.2", upstream.port, "127.0.0.1", veild.port}}).ok()) {
      _exit(18);
    }
    _exit(0);  // veild dies with its view of bpffs; the pins are the host's
  }
  close(report[1]);
  int status = 0;
  waitpid(child, &status, 0);
  char why[512] = {};
  (void)!read(report[0], why, sizeof(why) - 1);
  close(report[0]);
  rmdir(stage);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "child status " << status << ": " << why;

  ASSERT_EQ(access((pin_dir_ + "/link_connect4").c_str(), F_OK), 0);
  veild.fd.Reset();
  Client c = StartClient("127.0.0.2", upstream.port);
  EXPECT_EQ(c.connect_errno, ECONNREFUSED) << std::strerror(c.connect_errno);
  EXPECT_LT(AcceptWithin(upstream, 200).fd, 0) << "the database was reached with veild down";
  Reap(c);
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  EXPECT_TRUE(layer_->adopted());

  // `rm -rf` of the folder (an SRE removing the redirect by hand) and the next start.
  layer_.reset();
  ASSERT_TRUE(FlowLayer::RemoveAll(pin_dir_).ok());
  prepared = FlowLayer::PreparePinDir(pin_dir_, kNobody, kNobody);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  ASSERT_EQ(stat(pin_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
}

// (f) RemoveAll detaches even while a FlowLayer holds the links, and leaves no pin.
TEST_F(FlowLayerTest, RemoveAllLeavesNoPinAndNoRedirect) {
  ASSERT_NO_FATAL_FAILURE(OpenLayer());
  Listener upstream = Listen("127.0.0.2"), veild = Listen("127.0.0.1");
  ASSERT_TRUE(layer_->SetEndpoints({{"127.0.0.2", upstream.port, "127.0.0.1", veild.port}}).ok());
  Status s = FlowLayer::RemoveAll(pin_dir_);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_NE(access(pin_dir_.c_str(), F_OK), 0);

  Client c = StartClient("127.0.0.2", upstream.port);
  ASSERT_EQ(c.connect_errno, 0);
  Fd conn = AcceptWithin(upstream, 3000);
  EXPECT_GE(conn.fd, 0) << "still redirected after RemoveAll";
  EXPECT_LT(AcceptWithin(veild, 100).fd, 0);
  Serve(std::move(conn), c);
  EXPECT_TRUE(FlowLayer::RemoveAll(pin_dir_).ok()) << "a second RemoveAll is not a no-op";
}

}  // namespace
}  // namespace veil::agent::bpf
