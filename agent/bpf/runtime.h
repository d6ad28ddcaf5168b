// The eBPF redirect and flow layer: loads bpf/redirect.bpf.c, attaches it to the cgroup v2 root,
// keeps what protected endpoints cover in the kernel, and delivers flows as FlowEvent.
//
// veild uses the FlowSource interface; tests of agent logic substitute a synthetic source.
//
//   FlowLayer::Options o;                       // pin dir /sys/fs/bpf/veil, this process exempt
//   o.on_event = [](const FlowEvent& e) { ... };
//   auto layer = FlowLayer::Open(std::move(o));
//   if (!layer.ok()) return Fatal(layer.error().message);  // names the capability / feature
//   (*layer)->SetPolicy({.unlisted = Unlisted::kDeny, .exempt = {.uids = {postgres_uid}}});
//   (*layer)->SetCoverage({{.prefix = "127.0.0.0/8", .port = 5432, .listen_ip = "127.0.0.1",
//                           .listen_port = 15432, .endpoint_id = 1, .loopback = true}},
//                         {{.name = ".s.PGSQL.5432", .redirect_path = "/run/veil/.s.PGSQL.15432",
//                           .endpoint_id = 1}});
//   // In the asio loop: wait for event_fd() to be readable, then Poll(0).
//   // After accept(): (*layer)->LookupAccepted(peer_ip, peer_port) -> process + original dst;
//   // on a unix socket: LookupUnix(inode of the client's socket, from sock_diag).
//   // Upstream sockets: MarkSocket(fd, kVeilSocketMark) before connect() (belt and braces; the
//   // tgid check already exempts them).
//   (*layer)->Shutdown();                       // clean stop: fail-open endpoints stop redirecting
//
// Fail closed. Maps and links are pinned under the pin dir, so when veild dies the redirect stays
// in the kernel and a client lands on a closed listen port (ECONNREFUSED), never on the
// database. Open() over existing pins adopts them: pinned maps of this layout
// (VEIL_ABI_VERSION, part of their pin names) are reused (entries intact) and the program inside
// each pinned link is swapped atomically, so traffic never bypasses veil during a restart. Pins
// of another layout (an upgrade) are not reused: new maps are made, and the old programs keep
// running on the old maps until the first SetCoverage() has filled the new ones; then the
// programs are swapped and the old maps' pins removed. Uninstall with RemoveAll(), or as an SRE,
// with veild stopped:
//   systemctl stop veil && rm -rf /sys/fs/bpf/veil
// (removing the pins drops the last reference to the links, which detaches the programs;
// `bpftool cgroup tree` then shows no veil_connect4/6, veil_connect_unix or veil_sockops).
//
// Loop avoidance: veild's own connects are never redirected nor traced. A socket is veild's if
// its process has veild's tgid *and* start time (so a recycled pid after a crash is not
// exempted), or it carries veild's SO_MARK (setting a mark needs CAP_NET_ADMIN, so clients cannot
// forge it), or it comes from veild's cgroup when one is given (use it only when veild runs in a
// cgroup of its own, e.g. veil.service). All three live in a map that a restarted veild updates.
//
// Start time: FlowProcess::start_time_ns is the group leader's task->start_boottime, the value
// /proc/TGID/stat field 22 reports in clock ticks: starttime == start_time_ns / (1e9 / CLK_TCK).
//
// Threading: not thread-safe; call everything from one thread (the event loop). The callback
// runs inside Poll(). LookupAccepted and LookupUnix only read maps and may be called from any
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/bpf/flow_event.h"
#include "common/result.h"

namespace veil::agent::bpf {

// One entry of the kernel's coverage: a connect to `prefix` on `port` is what it says. Entries
// are kept in an LPM trie, so a more specific prefix wins over a wider one.
struct CoverageEntry {
  std::string prefix;  // an address or a CIDR: "10.0.0.5", "::1", "127.0.0.0/8", "fd00::/64";
                       // IPv4 also matches its IPv4-mapped form
  uint16_t port = 0;
  std::string listen_ip;  // the redirect target; an IPv6 one leaves AF_INET clients refused
  uint16_t listen_port = 0;
  uint32_t endpoint_id = 0;  // reported with the flow (KernelFlows maps it to a name)
  bool observe = false;      // trace as kObserved, never rewrite
  bool fail_open = false;    // removed by Shutdown(): clients reach the database while veild is off
  bool loopback = false;     // 127/8, ::1, 0.0.0.0, ::: this host only from veild's network
                             // namespace, another namespace's own from any other
  bool local = false;        // another address of this host (reachable from other namespaces)
  bool veild = false;        // veild's own listen address: never recorded, rewritten or refused
};

// A unix socket name covered by an endpoint (cgroup/connect_unix): any connect whose last path
// component is `name` ("@name" for an abstract socket) goes to `redirect_path` instead.
struct UnixCoverageEntry {
  std::string name;
  std::string redirect_path;  // veild's socket; at most 108 bytes
  uint32_t endpoint_id = 0;
  bool observe = false;
  bool fail_open = false;
  bool veild = false;  // veild's own socket (name only): never recorded or refused
};

// What happens to a connect to a database port or socket that no endpoint covers
// (agent.unlisted_databases).
enum class Unlisted { kObserve, kAllow, kDeny };

// agent.direct_principals as the kernel checks them in the connect hooks.
struct Exemptions {
  std::vector<uint32_t> uids;
  std::vector<uint32_t> gids;  // primary or any supplementary group (the first 64)
  // Cgroup directory names (postgresql.service, docker-<id>.scope): a task in or below one whose
  // every ancestor is a *.slice.
  std::vector<std::string> cgroup_names;
  // Executables by (st_dev, st_ino) as stat() reports them.
  std::vector<std::pair<uint64_t, uint64_t>> exes;
};

struct Policy {
  Unlisted unlisted = Unlisted::kObserve;
  Exemptions exempt;
  std::vector<uint16_t> db_ports;            // besides kDefaultDbPorts and the coverage's ports
  std::vector<std::string> db_socket_names;  // besides .s.PGSQL.*: "mysqld.sock", ...
};

// A protected endpoint by one address (the shape SetEndpoints takes): connects to upstream go to
// listen.
struct RedirectEndpoint {
  std::string upstream_ip;  // IPv4 or IPv6 text; IPv4 also matches ::ffff:a.b.c.d
  uint16_t upstream_port = 0;
  std::string listen_ip;  // IPv4 listen needs an IPv4 upstream or IPv4-mapped clients
  uint16_t listen_port = 0;
  bool observe = false;    // trace as kObserved, never rewrite
  bool fail_open = false;  // removed by Shutdown(): clients reach the database while veild is off
};

// Ports whose connects are traced as kDirect flows when no endpoint matches.
inline constexpr uint16_t kDefaultDbPorts[] = {5432, 3306, 1433, 1521, 27017,
                                               6379, 9042, 5439, 8123};
// Unix socket names that are databases besides PostgreSQL's .s.PGSQL.PORT.
inline constexpr const char* kDefaultDbSocketNames[] = {"mysqld.sock", "mysql.sock"};

// The SO_MARK veild puts on its own upstream sockets ("veil").
inline constexpr uint32_t kVeilSocketMark = 0x7665696c;

// Whether unix-socket connects are covered (cgroup/connect_unix, Linux >= 6.7), and if not, why.
struct UnixSupport {
  bool covered = false;
  std::string why_not;
};

// Where flows come from. FlowLayer is the kernel one; tests provide synthetic ones.
class FlowSource {
 public:
  using Callback = std::function<void(const FlowEvent&)>;
  virtual ~FlowSource() = default;

  // Makes the kernel's coverage equal to `tcp` and `unix` (adds, updates, deletes stale).
  // Validates all entries first; on an error nothing is changed.
  virtual Status SetCoverage(const std::vector<CoverageEntry>& tcp,
                             const std::vector<UnixCoverageEntry>& unix) = 0;
  // The policy for what no endpoint covers, and who is exempt.
  virtual Status SetPolicy(const Policy& policy) = 0;
  // SetCoverage with one exact entry per endpoint and no unix entries (tests, benchmarks).
  Status SetEndpoints(const std::vector<RedirectEndpoint>& endpoints);
  // The flow of a socket veild accepted, by the peer address accept() returned. Process,
  // verdict, original_dst, redirected_to, src and cookie are filled; kind is kEstablished.
  // Empty when the peer did not come through the redirect/trace (or the socket has closed).
  virtual std::optional<FlowEvent> LookupAccepted(std::string_view peer_ip,
                                                  uint16_t peer_port) const = 0;
  // The unix-socket connect of the client whose socket has inode `client_inode` (the peer of a
  // socket veild accepted, from sock_diag); kind is kUnix. Empty if there was none.
  virtual std::optional<FlowEvent> LookupUnix(uint64_t client_inode) const = 0;
  virtual UnixSupport unix_support() const = 0;
  // A file descriptor that becomes readable when Poll() has events; -1 if there is none.
  virtual int event_fd() const = 0;
  // Delivers pending events to the callback, waiting up to timeout_ms (0: don't wait).
  // Returns how many were delivered.
  virtual Result<int> Poll(int timeout_ms) = 0;
  // Events the kernel could not queue because the ring buffer was full.
  virtual uint64_t lost_events() const = 0;
  // Clean stop: fail-open endpoints are removed; fail-closed ones and all pins stay.
  virtual Status Shutdown() = 0;
};

class FlowLayer final : public FlowSource {
 public:
  struct Options {
    // bpffs is mounted at /sys/fs/bpf if missing. An existing pin_dir must itself be on bpffs
    // (it may be a bind mount, as in veil.service); a missing one is created in its parent.
    std::string pin_dir = "/sys/fs/bpf/veil";
    std::string cgroup_root;  // empty: the cgroup2 mount in /proc/mounts
    // The exempt process; nullopt: this process. 0 disables the tgid check.
    std::optional<uint32_t> own_tgid;
    uint32_t own_mark = kVeilSocketMark;  // 0 disables the mark check
    uint64_t own_cgroup_id = 0;           // 0 disables; see CgroupIdOf()
    std::vector<uint16_t> extra_db_ports;
    // Load cgroup/connect_unix where the kernel verifies it (Linux >= 6.7). The environment
    // variable VEIL_BPF_UNIX=off turns it off too (a kernel whose hook misbehaves).
    bool unix_sockets = true;
    Callback on_event;  // may be empty
  };

  // Opens, configures, loads and attaches, adopting pins under options.pin_dir if present.
  // Errors name what is missing and how to fix it.
  static Result<std::unique_ptr<FlowLayer>> Open(Options options);
  // Detaches every pinned link under pin_dir (even if a running veild holds it) and deletes all
  // pins and the directory. Ok if pin_dir does not exist.
  static Status RemoveAll(const std::string& pin_dir);
  // For a veild that runs as uid:gid without CAP_SYS_ADMIN or CAP_DAC_* (veil.service's
  // `ExecStartPre=+veild --prepare-bpf-pin-dir veil`, as root): mounts bpffs at /sys/fs/bpf
  // when nothing is mounted there (mode 0700, as systemd does), creates pin_dir if missing
  // (e.g. after `rm -rf /sys/fs/bpf/veil`), and makes it and the pins in it owned by uid:gid,
  // the folder mode 0700. Existing pins stay, so a restart still adopts them.
  static Status PreparePinDir(const std::string& pin_dir, uint32_t uid, uint32_t gid);

  ~FlowLayer() override;  // closes handles; pins (and so the redirect) stay
  FlowLayer(const FlowLayer&) = delete;
  FlowLayer& operator=(const FlowLayer&) = delete;

  Status SetCoverage(const std::vector<CoverageEntry>& tcp,
                     const std::vector<UnixCoverageEntry>& unix) override;
  Status SetPolicy(const Policy& policy) override;
  std::optional<FlowEvent> LookupAccepted(std::string_view peer_ip,
                                          uint16_t peer_port) const override;
  std::optional<FlowEvent> LookupUnix(uint64_t client_inode) const override;
  UnixSupport unix_support() const override { return unix_; }
  int event_fd() const override;
  Result<int> Poll(int timeout_ms) override;
  uint64_t lost_events() const override;
  Status Shutdown() override;

  // True when Open() found existing pins and took them over.
  bool adopted() const { return adopted_; }

 private:
  struct Handles;
  explicit FlowLayer(std::unique_ptr<Handles> h, Callback cb, bool adopted);
  static int OnRingRecord(void* self, void* data, size_t size);
  // Writes db_ports: the defaults, the policy's and every covered port.
  Status SyncPorts();
  // Puts the loaded programs into the links: attaches new ones, swaps adopted ones, then removes
  // the pins of maps no program uses any more.
  Status Activate();

  std::unique_ptr<Handles> h_;
  Callback on_event_;
  bool adopted_ = false;
  // Adopted links still run the programs of an older map layout: they are swapped at the end of
  // the first SetCoverage, once the new maps hold the coverage.
  bool activate_pending_ = false;
  UnixSupport unix_;
  std::vector<uint16_t> policy_ports_, coverage_ports_, option_ports_;
};

// Sets SO_MARK on a socket (needs CAP_NET_ADMIN). Call before connect().
Status MarkSocket(int fd, uint32_t mark = kVeilSocketMark);

// The mount point of the cgroup v2 hierarchy, from a /proc/mounts-format file.
Result<std::string> CgroupV2Root(const std::string& mounts = "/proc/mounts");

// The cgroup v2 id (what bpf_get_current_cgroup_id returns) of a cgroup directory.
Result<uint64_t> CgroupIdOf(const std::string& cgroup_dir);

}  // namespace veil::agent::bpf
