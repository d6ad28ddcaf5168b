// What veil's eBPF connect hooks (bpf/redirect.bpf.c, loaded by agent/bpf/runtime.h) add to a
// client's blocking connect()+close() on loopback, in four cases:
//   1. hooks detached (no FlowLayer loaded): the baseline;
//   2. attached, destination a port that is neither a database port nor an endpoint (what every
//      other connect on the host pays);
//   3. attached, destination a traced database port (an extra DB port): a flow entry and two
//      ring-buffer events per connection, drained with Poll(0) outside the timed region;
//   4. attached, destination a protected endpoint, rewritten to another local listener.
// and once more detached after RemoveAll, to show how far the baseline drifted during the run.
//
// This process is not exempt (own_tgid = 0, own_mark = 0), so its connects go through the
// programs like any client's. The programs attach to the cgroup v2 root and stay attached while
// their pins exist, so the pins live in a private dir (/sys/fs/bpf/veil-bench-<pid>) that is
// removed on every exit path, including SIGINT/SIGTERM. Needs root. Prints a table; not a test.
//
//   sudo build/tools/bench/connect_bench [iterations]     (default 100000 per case)
//
// Each client socket gets SO_LINGER {1,0} so close() sends a RST: no TIME_WAIT accumulates over
// 100k connects (which would exhaust ephemeral ports). The accept side runs in the same thread,
// untimed, after each close(): on loopback the handshake completes inside connect(), so no
// server thread is needed, the accept queue never grows, and no cross-thread wakeups add noise
// on a small shared machine. It also proves where each connection landed (case 4: the
// redirect's listener, never the decoy listening on the original address).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/bpf/runtime.h"

namespace {

using veil::Error;
using veil::Result;
using veil::Status;
using veil::agent::bpf::FlowEvent;
using veil::agent::bpf::FlowLayer;
using veil::agent::bpf::FlowVerdict;
using veil::agent::bpf::RedirectEndpoint;
using Clock = std::chrono::steady_clock;

constexpr int kDefaultIterations = 100000;
constexpr int kDrainEvery = 64;  // connects between Poll(0) drains: 128 events, well under 256 KiB
constexpr int kAcceptTimeoutMs = 2000;

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

struct Listener {
  Fd fd;
  std::string ip;
  uint16_t port = 0;
  std::string name() const { return ip + ":" + std::to_string(port); }
};

// A non-blocking listener on ip and an ephemeral port that is not one of veil's default
// database ports (those are traced in every case with hooks attached).
Result<Listener> Listen(const std::string& ip) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    Listener l;
    l.ip = ip;
    l.fd = Fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (l.fd.get() < 0) return Error{Errno("socket")};
    sockaddr_in a = Addr(ip, 0);
    if (bind(l.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      return Error{Errno(("bind " + ip).c_str())};
    }
    if (listen(l.fd.get(), 4096) != 0) return Error{Errno("listen")};
    socklen_t len = sizeof(a);
    if (getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return Error{Errno("getsockname")};
    }
    l.port = ntohs(a.sin_port);
    if (std::find(std::begin(veil::agent::bpf::kDefaultDbPorts),
                  std::end(veil::agent::bpf::kDefaultDbPorts),
                  l.port) == std::end(veil::agent::bpf::kDefaultDbPorts)) {
      return l;
    }
  }
  return Error{"no ephemeral port outside the default database ports"};
}

// Accepts one connection on l (waiting up to kAcceptTimeoutMs) and closes it.
Status AcceptOne(const Listener& l) {
  while (true) {
    int fd = accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return Status::Ok();
    }
    if (errno == EINTR && !g_stop) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Error{Errno("accept")};
    if (g_stop) return Error{"interrupted"};
    pollfd p{l.fd.get(), POLLIN, 0};
    int n = poll(&p, 1, kAcceptTimeoutMs);
    if (n == 0) {
      return Error{"no connection arrived at " + l.name() + " within " +
                   std::to_string(kAcceptTimeoutMs) + " ms (hooks not applied as expected?)"};
    }
    if (n < 0 && errno != EINTR) return Error{Errno("poll")};
  }
}

// How many connections wait on l right now (drains them).
int DrainPending(const Listener& l) {
  int n = 0;
  while (true) {
    int fd = accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return n;
    close(fd);
    ++n;
  }
}

// Events of this process seen by the ring-buffer callback.
struct EventCounts {
  uint64_t established = 0;
  uint64_t closed = 0;
  uint64_t direct = 0;
  uint64_t redirected = 0;
  uint64_t total() const { return established + closed; }
};

struct Case {
  std::string name;
  sockaddr_in dst{};
  const Listener* lands_on = nullptr;  // where the connection must arrive
  FlowLayer* layer = nullptr;          // drained every kDrainEvery connects; may be null
  bool expect_events = false;
};

struct Row {
  std::string name;
  double median_us = 0, p99_us = 0, mean_us = 0;
  std::optional<uint64_t> events, expected_events, lost;
  std::string note;
};

Status Drain(FlowLayer* layer, int timeout_ms = 0) {
  while (true) {
    auto r = layer->Poll(timeout_ms);
    if (!r.ok()) return Error{r.error().message};
    if (*r == 0) return Status::Ok();
    timeout_ms = 0;
  }
}

Result<Row> Measure(const Case& c, int iterations, const EventCounts& counts) {
  const int warmup = std::max(100, std::min(1000, iterations / 10));
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iterations));
  const EventCounts before = counts;
  const uint64_t lost_before = c.layer ? c.layer->lost_events() : 0;
  for (int i = 0; i < warmup + iterations; ++i) {
    if (g_stop) return Error{"interrupted"};
    // Socket creation and SO_LINGER are untimed; the timed region is connect() and close().
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{Errno("socket")};
    const linger lg{1, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0) {
      Error e{Errno("SO_LINGER")};
      close(fd);
      return e;
    }
    const auto t0 = Clock::now();
    const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&c.dst), sizeof(c.dst));
    const int saved = errno;
    close(fd);
    const auto t1 = Clock::now();
    if (rc != 0) {
      errno = saved;
      return Error{Errno("connect") + " (iteration " + std::to_string(i) + ")"};
    }
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (Status s = AcceptOne(*c.lands_on); !s.ok()) return Error{s.error().message};
    if (c.layer && i % kDrainEvery == kDrainEvery - 1) {
      if (Status s = Drain(c.layer); !s.ok()) return Error{s.error().message};
    }
  }
  Row row;
  row.name = c.name;
  std::sort(us.begin(), us.end());
  const size_t n = us.size();
  row.median_us = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
  row.p99_us = us[static_cast<size_t>(std::ceil(0.99 * static_cast<double>(n))) - 1];
  double sum = 0;
  for (double v : us) sum += v;
  row.mean_us = sum / static_cast<double>(n);
  if (c.layer) {
    // The last closes' events may still be in flight; give them a moment.
    if (Status s = Drain(c.layer, 100); !s.ok()) return Error{s.error().message};
    row.events = counts.total() - before.total();
    row.expected_events = c.expect_events ? 2ull * static_cast<uint64_t>(warmup + iterations) : 0;
    row.lost = c.layer->lost_events() - lost_before;
  }
  return row;
}

// Always removes the pins (and so detaches the programs from the cgroup root).
class PinGuard {
 public:
  explicit PinGuard(std::string dir) : dir_(std::move(dir)) {}
  ~PinGuard() { Remove(); }
  bool Remove() {
    Status s = FlowLayer::RemoveAll(dir_);
    if (!s.ok()) {
      std::fprintf(stderr,
                   "connect_bench: removing %s failed: %s\n  remove it by hand: rm -rf %s\n",
                   dir_.c_str(), s.error().message.c_str(), dir_.c_str());
      return false;
    }
    return true;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

void PrintRows(const std::vector<Row>& rows) {
  std::printf("\n%-58s %8s %8s %8s %9s %9s %13s %6s\n", "case", "median", "p99", "mean", "+median",
              "+mean", "ring events", "lost");
  // "µs" is 3 bytes for 2 columns, hence the wider fields.
  std::printf("%-58s %9s %9s %9s %10s %10s %13s %6s\n", "", "µs", "µs", "µs", "µs", "µs",
              "got/expected", "");
  const Row& base = rows.front();
  for (const Row& r : rows) {
    char ev[32] = "-", lost[16] = "-";
    if (r.events) {
      std::snprintf(ev, sizeof(ev), "%llu/%llu", static_cast<unsigned long long>(*r.events),
                    static_cast<unsigned long long>(*r.expected_events));
      std::snprintf(lost, sizeof(lost), "%llu", static_cast<unsigned long long>(*r.lost));
    }
    if (&r == &base) {
      std::printf("%-58s %8.2f %8.2f %8.2f %9s %9s %13s %6s\n", r.name.c_str(), r.median_us,
                  r.p99_us, r.mean_us, "-", "-", ev, lost);
    } else {
      std::printf("%-58s %8.2f %8.2f %8.2f %+9.2f %+9.2f %13s %6s\n", r.name.c_str(), r.median_us,
                  r.p99_us, r.mean_us, r.median_us - base.median_us, r.mean_us - base.mean_us, ev,
                  lost);
    }
  }
  for (const Row& r : rows) {
    if (!r.note.empty()) std::printf("note: %s: %s\n", r.name.c_str(), r.note.c_str());
  }
}

int Run(int iterations) {
  auto a = Listen("127.0.0.1");      // case 1, 2: a port veil does not care about
  auto b = Listen("127.0.0.1");      // case 3: made a traced database port
  auto decoy = Listen("127.0.0.2");  // case 4: the protected upstream's address
  auto proxy = Listen("127.0.0.1");  // case 4: where the redirect sends it ("veild")
  for (auto* l : {&a, &b, &decoy, &proxy}) {
    if (!l->ok()) {
      std::fprintf(stderr, "connect_bench: %s\n", l->error().message.c_str());
      return 1;
    }
  }

  utsname u{};
  uname(&u);
  std::printf("veil connect hook cost: blocking TCP connect()+close() on loopback, kernel %s\n",
              u.release);
  std::printf("%d timed iterations per case after %d warm-up; times are per connect()+close()\n",
              iterations, std::max(100, std::min(1000, iterations / 10)));
  std::printf("client sockets: SO_LINGER {1,0}, so close() sends RST and no TIME_WAIT builds up\n");
  std::printf("server side: accepted and closed by the same thread after each close(), untimed\n");
  std::printf(
      "hooks: own_tgid=0, own_mark=0 (this process is not exempt); ring buffer drained "
      "with Poll(0) every %d connects, untimed\n",
      kDrainEvery);

  std::vector<Row> rows;
  auto add = [&](const Case& c, const EventCounts& counts) -> bool {
    std::fprintf(stderr, "  running: %s\n", c.name.c_str());
    auto r = Measure(c, iterations, counts);
    if (!r.ok()) {
      std::fprintf(stderr, "connect_bench: %s: %s\n", c.name.c_str(), r.error().message.c_str());
      return false;
    }
    rows.push_back(std::move(*r));
    return true;
  };

  Case c1{"1 detached (baseline)", Addr(a->ip, a->port), &*a};
  if (!add(c1, EventCounts{})) return 1;

  PinGuard pins("/sys/fs/bpf/veil-bench-" + std::to_string(getpid()));
  if (!pins.Remove()) return 1;  // a stale dir of a recycled pid
  std::fprintf(stderr, "  pins in %s (removed on exit; after a SIGKILL: rm -rf it)\n",
               pins.dir().c_str());

  EventCounts counts;
  const uint32_t me = static_cast<uint32_t>(getpid());
  FlowLayer::Options o;
  o.pin_dir = pins.dir();
  o.own_tgid = 0;
  o.own_mark = 0;
  o.extra_db_ports = {b->port};
  o.on_event = [&counts, me](const FlowEvent& e) {
    if (e.process.tgid != me) return;  // another client on the host hit a default DB port
    (e.kind == FlowEvent::Kind::kEstablished ? counts.established : counts.closed)++;
    if (e.verdict == FlowVerdict::kDirect) counts.direct++;
    if (e.verdict == FlowVerdict::kRedirected) counts.redirected++;
  };
  auto layer = FlowLayer::Open(std::move(o));
  if (!layer.ok()) {
    std::fprintf(stderr, "connect_bench: %s\n", layer.error().message.c_str());
    return 1;
  }
  Status s = (*layer)->SetEndpoints({{decoy->ip, decoy->port, proxy->ip, proxy->port}});
  if (!s.ok()) {
    std::fprintf(stderr, "connect_bench: SetEndpoints: %s\n", s.error().message.c_str());
    return 1;
  }
  FlowLayer* fl = layer->get();

  Case c2{"2 attached, port " + std::to_string(a->port) + " (no DB port, no endpoint)",
          Addr(a->ip, a->port), &*a, fl, false};
  if (!add(c2, counts)) return 1;

  EventCounts before3 = counts;
  Case c3{"3 attached, traced DB port " + std::to_string(b->port) + " (kDirect)",
          Addr(b->ip, b->port), &*b, fl, true};
  if (!add(c3, counts)) return 1;
  if (counts.direct - before3.direct != rows.back().events) {
    rows.back().note = "some events were not kDirect";
  }

  EventCounts before4 = counts;
  Case c4{"4 attached, endpoint " + decoy->name() + " -> " + proxy->name(),
          Addr(decoy->ip, decoy->port), &*proxy, fl, true};
  if (!add(c4, counts)) return 1;
  if (counts.redirected - before4.redirected != rows.back().events) {
    rows.back().note = "some events were not kRedirected";
  }
  if (int n = DrainPending(*decoy); n > 0) {
    rows.back().note += " " + std::to_string(n) + " connects reached the decoy (not redirected)";
  }

  layer->reset();
  if (!pins.Remove()) return 1;
  Case c5{"5 detached again (drift check, after RemoveAll)", Addr(a->ip, a->port), &*a};
  if (!add(c5, EventCounts{})) return 1;

  PrintRows(rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = kDefaultIterations;
  if (argc > 1) {
    char* end = nullptr;
    long v = std::strtol(argv[1], &end, 10);
    if (*end != '\0' || v < 100 || v > 100000000) {
      std::fprintf(stderr, "usage: %s [iterations >= 100]\n", argv[0]);
      return 2;
    }
    iterations = static_cast<int>(v);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "connect_bench: needs root (CAP_BPF, CAP_NET_ADMIN): it loads veil's BPF programs "
                 "and attaches them to the cgroup v2 root\n");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: blocking calls return EINTR and the run unwinds
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return Run(iterations);
}
