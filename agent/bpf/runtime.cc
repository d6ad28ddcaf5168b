#include "agent/bpf/runtime.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bpf/veil_abi.h"
#include "redirect.skel.h"

namespace veil::agent::bpf {

static_assert(sizeof(veil_addr_key) == 20);
static_assert(sizeof(veil_endpoint) == 20);
static_assert(sizeof(veil_config) == 32);
static_assert(sizeof(veil_flow) == 104);
static_assert(sizeof(veil_flow_event) == 144);
static_assert(VEIL_VERDICT_REDIRECTED == static_cast<int>(FlowVerdict::kRedirected));
static_assert(VEIL_VERDICT_OBSERVED == static_cast<int>(FlowVerdict::kObserved));
static_assert(VEIL_VERDICT_DIRECT == static_cast<int>(FlowVerdict::kDirect));
static_assert(VEIL_EV_ESTABLISHED == static_cast<int>(FlowEvent::Kind::kEstablished));
static_assert(VEIL_EV_CLOSED == static_cast<int>(FlowEvent::Kind::kClosed));

namespace {

namespace fs = std::filesystem;

struct SkelDeleter {
  void operator()(redirect* s) const { redirect__destroy(s); }
};
// Destroying a bpf_link closes its fd; a pinned link stays attached through its pin.
struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
struct RingDeleter {
  void operator()(ring_buffer* r) const { ring_buffer__free(r); }
};

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// "what failed: what is needed (strerror)". err is a positive errno.
Error KernelError(const std::string& what, int err, const std::string& extra_hint = "") {
  std::string hint;
  switch (err) {
    case EPERM:
    case EACCES:
      hint =
          "needs CAP_BPF and CAP_NET_ADMIN (run veild as root or add them to "
          "AmbientCapabilities in veil.service)";
      break;
    case EINVAL:
    case EOPNOTSUPP:
    case 524:  // ENOTSUPP, kernel-internal
      hint =
          "the kernel lacks a needed BPF feature (needs Linux >= 5.8 with BTF, cgroup v2, "
          "BPF links and ring buffers)";
      break;
    case ENOMEM:
    case E2BIG:
      hint =
          "not enough locked memory for BPF maps (raise LimitMEMLOCK or give "
          "CAP_SYS_RESOURCE)";
      break;
    case ENOENT:
      hint = "a kernel object is missing (is /sys/kernel/btf/vmlinux present?)";
      break;
    default:
      break;
  }
  if (!extra_hint.empty()) hint += hint.empty() ? extra_hint : "; " + extra_hint;
  std::string msg = what + " failed: ";
  if (!hint.empty()) msg += hint + " ";
  msg += "(" + std::string(std::strerror(err)) + ")";
  return Error{std::move(msg)};
}

bool OnBpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

constexpr char kBpffsRoot[] = "/sys/fs/bpf";

// Makes sure pin_dir is a directory on bpffs. An existing one must itself be on bpffs: under
// veil.service it is a bind mount of the host's /sys/fs/bpf/veil inside a tmpfs at /sys/fs/bpf,
// so its parent is not. A missing one is created in its parent, which must be on bpffs; if the
// parent is /sys/fs/bpf and nothing is mounted there, bpffs is mounted first, mode 0700 as
// systemd mounts it at boot. Mounts nothing else.
Status EnsurePinDir(const std::string& pin_dir) {
  struct stat st {};
  if (stat(pin_dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Error{"pin dir " + pin_dir + " is not a directory"};
    if (!OnBpffs(pin_dir)) {
      return Error{"pin dir " + pin_dir + " is not on a bpf filesystem: remove it, or mount " +
                   "bpffs at " + kBpffsRoot + " (`mount -t bpf -o mode=0700 bpf " + kBpffsRoot +
                   "`)"};
    }
    return Status::Ok();
  }
  if (errno != ENOENT) {
    int err = errno;
    std::string msg = "cannot reach pin dir " + pin_dir + " (" + std::strerror(err) + ")";
    if (err == EACCES) {
      // The issue this names: systemd mounts bpffs mode 0700, so only root traverses it.
      msg += ": its parent is not searchable for this user (systemd mounts " +
             std::string(kBpffsRoot) + " mode 0700); as root run `veild " +
             "--prepare-bpf-pin-dir USER` first, as veil.service does, and give veild a view "
             "in which the pin dir is reachable (the unit's TemporaryFileSystem= and BindPaths=)";
    }
    return Error{std::move(msg)};
  }
  const std::string parent = fs::path(pin_dir).parent_path().string();
  if (!OnBpffs(parent)) {
    if (parent != kBpffsRoot) {
      return Error{"pin dir " + pin_dir + " is not on a bpf filesystem: mount one with `mount -t " +
                   "bpf bpf " + parent + "` or use a pin dir under " + kBpffsRoot};
    }
    if (mount("bpf", kBpffsRoot, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
      int err = errno;
      return Error{"mounting bpffs at " + std::string(kBpffsRoot) +
                   " failed: needs CAP_SYS_ADMIN, or mount it beforehand with `mount -t bpf -o " +
                   "mode=0700 bpf " + kBpffsRoot + "` (" + std::strerror(err) + ")"};
    }
  }
  if (mkdir(pin_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    int err = errno;
    return Error{"creating pin dir " + pin_dir + " failed (" + std::strerror(err) + ")"};
  }
  return Status::Ok();
}

using Addr = std::array<uint32_t, 4>;

// Text address → 16 bytes, IPv4 as IPv4-mapped. `v4` tells which family the text was.
std::optional<Addr> ParseAddr(std::string_view text, bool* v4 = nullptr) {
  std::string s(text);
  Addr a{};
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    a[2] = htonl(0xffff);
    a[3] = a4.s_addr;
    if (v4) *v4 = true;
    return a;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(a.data(), &a6, 16);
    if (v4) *v4 = a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff);
    return a;
  }
  return std::nullopt;
}

// "a.b.c.d:port" for IPv4 and IPv4-mapped, "[v6]:port" otherwise.
std::string FormatAddr(const uint32_t* a, uint16_t port) {
  char buf[INET6_ADDRSTRLEN] = {};
  std::string out;
  if (a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff)) {
    inet_ntop(AF_INET, &a[3], buf, sizeof(buf));
    out = buf;
  } else {
    inet_ntop(AF_INET6, a, buf, sizeof(buf));
    out = "[" + std::string(buf) + "]";
  }
  return out + ":" + std::to_string(port);
}

FlowEvent ToFlowEvent(const veil_flow& f, uint64_t cookie) {
  FlowEvent e;
  e.cookie = cookie;
  e.process.pid = f.pid;
  e.process.tgid = f.tgid;
  e.process.uid = f.uid;
  e.process.gid = f.gid;
  e.process.start_time_ns = f.start_time_ns;
  e.process.cgroup_id = f.cgroup_id;
  e.process.comm.assign(f.comm, strnlen(f.comm, sizeof(f.comm)));
  e.verdict = static_cast<FlowVerdict>(f.verdict);
  e.original_dst = FormatAddr(f.orig_addr, f.orig_port);
  if (f.verdict == VEIL_VERDICT_REDIRECTED)
    e.redirected_to = FormatAddr(f.redir_addr, f.redir_port);
  if (f.src_port != 0) e.src = FormatAddr(f.src_addr, f.src_port);
  return e;
}

// /proc/PID/stat field 22 (starttime, in clock ticks since boot).
Result<uint64_t> StartTicks(uint32_t tgid) {
  std::ifstream in("/proc/" + std::to_string(tgid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return Error{"reading /proc/" + std::to_string(tgid) + "/stat"};
  auto paren = line.rfind(')');
  if (paren == std::string::npos) return Error{"malformed /proc/PID/stat"};
  std::istringstream fields(line.substr(paren + 2));
  std::string tok;
  for (int field = 3; field <= 22 && fields >> tok; ++field) {
    if (field == 22) return static_cast<uint64_t>(std::stoull(tok));
  }
  return Error{"malformed /proc/PID/stat"};
}

template <typename Key>
std::vector<Key> MapKeys(int fd) {
  std::vector<Key> keys;
  Key k{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    k = next;
    prev = &k;
  }
  return keys;
}

struct KeyLess {
  bool operator()(const veil_addr_key& a, const veil_addr_key& b) const {
    return std::memcmp(&a, &b, sizeof(a)) < 0;
  }
};

struct ProgLink {
  const char* section;  // for messages
  const char* pin_name;
};
constexpr ProgLink kLinks[] = {
    {"cgroup/connect4", "link_connect4"},
    {"cgroup/connect6", "link_connect6"},
    {"sockops", "link_sockops"},
};

}  // namespace

struct FlowLayer::Handles {
  std::unique_ptr<redirect, SkelDeleter> skel;
  std::unique_ptr<bpf_link, LinkDeleter> links[3];
  std::unique_ptr<ring_buffer, RingDeleter> ring;  // declared last: freed first
};

FlowLayer::FlowLayer(std::unique_ptr<Handles> h, Callback cb, bool adopted)
    : h_(std::move(h)), on_event_(std::move(cb)), adopted_(adopted) {}

FlowLayer::~FlowLayer() = default;

Result<std::unique_ptr<FlowLayer>> FlowLayer::Open(Options o) {
  if (Status s = EnsurePinDir(o.pin_dir); !s) return s.error();
  std::string cgroup_root = o.cgroup_root;
  if (cgroup_root.empty()) {
    auto root = CgroupV2Root();
    if (!root) return root.error();
    cgroup_root = *root;
  }
  UniqueFd cgroup(open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cgroup.get() < 0) {
    int err = errno;
    return Error{"opening cgroup " + cgroup_root + " failed (" + std::strerror(err) + ")"};
  }

  auto h = std::make_unique<Handles>();
  h->skel.reset(redirect__open());
  if (!h->skel) return KernelError("opening the redirect BPF object", errno);
  redirect* skel = h->skel.get();

  bool adopted = false;
  for (const ProgLink& l : kLinks) {
    if (access((o.pin_dir + "/" + l.pin_name).c_str(), F_OK) == 0) adopted = true;
  }
  // Every map is pinned: a restarted veild reuses them, so entries survive and the adopted
  // programs and the new ones share state.
  bpf_map* maps[] = {skel->maps.endpoints, skel->maps.db_ports, skel->maps.agent_config,
                     skel->maps.flows,     skel->maps.peers,    skel->maps.events,
                     skel->maps.lost};
  for (bpf_map* m : maps) {
    std::string path = o.pin_dir + "/" + bpf_map__name(m);
    if (int err = bpf_map__set_pin_path(m, path.c_str()); err) {
      return KernelError("setting pin path " + path, -err);
    }
  }
  if (int err = redirect__load(skel); err) {
    return KernelError("loading the redirect BPF programs", -err,
                       adopted ? "if " + o.pin_dir +
                                     " holds maps of another veil version, remove them: "
                                     "systemctl stop veil && rm -rf " +
                                     o.pin_dir
                               : "");
  }

  // Who veild is, before any program (new or adopted) sees the new config.
  veil_config cfg{};
  cfg.own_tgid = o.own_tgid.value_or(static_cast<uint32_t>(getpid()));
  cfg.own_mark = o.own_mark;
  cfg.own_cgroup_id = o.own_cgroup_id;
  if (cfg.own_tgid != 0) {
    auto ticks = StartTicks(cfg.own_tgid);
    if (!ticks) return ticks.error();
    cfg.own_start_ticks = *ticks;
    cfg.tick_ns = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  }
  uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel->maps.agent_config), &zero, &cfg, BPF_ANY) != 0) {
    return KernelError("writing the agent config map", errno);
  }
  std::set<uint16_t> ports(std::begin(kDefaultDbPorts), std::end(kDefaultDbPorts));
  ports.insert(o.extra_db_ports.begin(), o.extra_db_ports.end());
  const int ports_fd = bpf_map__fd(skel->maps.db_ports);
  for (uint16_t p : MapKeys<uint16_t>(ports_fd)) {
    if (!ports.count(p)) bpf_map_delete_elem(ports_fd, &p);
  }
  for (uint16_t p : ports) {
    uint8_t one = 1;
    if (bpf_map_update_elem(ports_fd, &p, &one, BPF_ANY) != 0) {
      return KernelError("writing the db_ports map", errno);
    }
  }

  bpf_program* progs[] = {skel->progs.veil_connect4, skel->progs.veil_connect6,
                          skel->progs.veil_sockops};
  for (int i = 0; i < 3; ++i) {
    const std::string pin = o.pin_dir + "/" + kLinks[i].pin_name;
    if (access(pin.c_str(), F_OK) == 0) {
      // Adopt: swap the program inside the attached link, with no detached window.
      h->links[i].reset(bpf_link__open(pin.c_str()));
      if (!h->links[i]) return KernelError(std::string("opening pinned link ") + pin, errno);
      if (int err = bpf_link__update_program(h->links[i].get(), progs[i]); err) {
        return KernelError(std::string(kLinks[i].section) + " program swap in " + pin, -err);
      }
      continue;
    }
    h->links[i].reset(bpf_program__attach_cgroup(progs[i], cgroup.get()));
    if (!h->links[i]) {
      return KernelError(std::string(kLinks[i].section) + " attach to " + cgroup_root, errno);
    }
    if (int err = bpf_link__pin(h->links[i].get(), pin.c_str()); err) {
      return KernelError("pinning " + pin, -err);
    }
  }

  std::unique_ptr<FlowLayer> layer(new FlowLayer(std::move(h), std::move(o.on_event), adopted));
  layer->h_->ring.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), &FlowLayer::OnRingRecord,
                                         layer.get(), nullptr));
  if (!layer->h_->ring) return KernelError("opening the flow ring buffer", errno);
  return layer;
}

int FlowLayer::OnRingRecord(void* self, void* data, size_t size) {
  if (size < sizeof(veil_flow_event)) return 0;
  veil_flow_event ev;
  std::memcpy(&ev, data, sizeof(ev));
  auto* layer = static_cast<FlowLayer*>(self);
  if (!layer->on_event_) return 0;
  FlowEvent e = ToFlowEvent(ev.flow, ev.cookie);
  e.kind = static_cast<FlowEvent::Kind>(ev.kind);
  e.ts_ns = ev.ts_ns;
  e.bytes_sent = ev.bytes_acked;
  e.bytes_received = ev.bytes_received;
  layer->on_event_(e);
  return 0;
}

Status FlowLayer::SetEndpoints(const std::vector<RedirectEndpoint>& endpoints) {
  std::map<veil_addr_key, veil_endpoint, KeyLess> want;
  for (const RedirectEndpoint& ep : endpoints) {
    const std::string name = ep.upstream_ip + ":" + std::to_string(ep.upstream_port);
    bool up_v4 = false, listen_v4 = false;
    auto up = ParseAddr(ep.upstream_ip, &up_v4);
    if (!up) return Error{"endpoint " + name + ": upstream is not an IP address"};
    auto listen = ParseAddr(ep.listen_ip, &listen_v4);
    if (!listen) return Error{"endpoint " + name + ": listen '" + ep.listen_ip + "' is not an IP"};
    if (ep.upstream_port == 0 || ep.listen_port == 0) {
      return Error{"endpoint " + name + ": port 0"};
    }
    if (up_v4 && !listen_v4 && !ep.observe) {
      return Error{"endpoint " + name +
                   ": an IPv4 upstream needs an IPv4 listen address (IPv4 "
                   "sockets cannot be redirected to IPv6)"};
    }
    veil_addr_key key{};
    std::memcpy(key.addr, up->data(), 16);
    key.port = ep.upstream_port;
    veil_endpoint val{};
    std::memcpy(val.listen_addr, listen->data(), 16);
    val.listen_port = ep.listen_port;
    val.flags = (ep.observe ? VEIL_EP_OBSERVE : 0) | (ep.fail_open ? VEIL_EP_FAIL_OPEN : 0);
    if (!want.emplace(key, val).second) return Error{"endpoint " + name + " listed twice"};
  }
  const int fd = bpf_map__fd(h_->skel->maps.endpoints);
  // Add and update first, then delete stale ones: an endpoint present in both sets never
  // disappears from the map in between.
  for (const auto& [key, val] : want) {
    if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) != 0) {
      return KernelError("writing the endpoints map", errno,
                         "at most 1024 endpoints (" + std::to_string(want.size()) + " given)");
    }
  }
  for (const veil_addr_key& key : MapKeys<veil_addr_key>(fd)) {
    if (!want.count(key)) bpf_map_delete_elem(fd, &key);
  }
  return Status::Ok();
}

std::optional<FlowEvent> FlowLayer::LookupAccepted(std::string_view peer_ip,
                                                   uint16_t peer_port) const {
  auto addr = ParseAddr(peer_ip);
  if (!addr) return std::nullopt;
  veil_addr_key key{};
  std::memcpy(key.addr, addr->data(), 16);
  key.port = peer_port;
  uint64_t cookie = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(h_->skel->maps.peers), &key, &cookie) != 0) {
    return std::nullopt;
  }
  veil_flow flow{};
  if (bpf_map_lookup_elem(bpf_map__fd(h_->skel->maps.flows), &cookie, &flow) != 0) {
    return std::nullopt;
  }
  return ToFlowEvent(flow, cookie);
}

int FlowLayer::event_fd() const { return ring_buffer__epoll_fd(h_->ring.get()); }

Result<int> FlowLayer::Poll(int timeout_ms) {
  int n = ring_buffer__poll(h_->ring.get(), timeout_ms);
  if (n == -EINTR) return 0;
  if (n < 0) return KernelError("polling the flow ring buffer", -n);
  return n;
}

uint64_t FlowLayer::lost_events() const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return 0;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(h_->skel->maps.lost), &zero, per_cpu.data()) != 0) {
    return 0;
  }
  uint64_t total = 0;
  for (uint64_t n : per_cpu) total += n;
  return total;
}

Status FlowLayer::Shutdown() {
  const int fd = bpf_map__fd(h_->skel->maps.endpoints);
  for (const veil_addr_key& key : MapKeys<veil_addr_key>(fd)) {
    veil_endpoint val{};
    if (bpf_map_lookup_elem(fd, &key, &val) == 0 && (val.flags & VEIL_EP_FAIL_OPEN)) {
      if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
        return KernelError("removing a fail-open endpoint", errno);
      }
    }
  }
  return Status::Ok();
}

Status FlowLayer::RemoveAll(const std::string& pin_dir) {
  std::error_code ec;
  if (!fs::exists(pin_dir, ec)) return Status::Ok();
  std::vector<fs::path> pins;
  for (const auto& entry : fs::directory_iterator(pin_dir, ec)) pins.push_back(entry.path());
  if (ec) return Error{"listing " + pin_dir + " failed (" + ec.message() + ")"};
  // Detach first, so a veild still holding the links stops redirecting too.
  for (const fs::path& p : pins) {
    if (p.filename().string().rfind("link_", 0) != 0) continue;
    UniqueFd fd(bpf_obj_get(p.c_str()));
    if (fd.get() < 0) return KernelError("opening pinned link " + p.string(), errno);
    if (bpf_link_detach(fd.get()) != 0) return KernelError("detaching " + p.string(), errno);
  }
  for (const fs::path& p : pins) {
    if (unlink(p.c_str()) != 0 && errno != ENOENT) {
      return KernelError("removing pin " + p.string(), errno);
    }
  }
  if (rmdir(pin_dir.c_str()) != 0 && errno != ENOENT) {
    return KernelError("removing " + pin_dir, errno);
  }
  return Status::Ok();
}

Status FlowLayer::PreparePinDir(const std::string& pin_dir, uint32_t uid, uint32_t gid) {
  if (Status s = EnsurePinDir(pin_dir); !s) return s;
  UniqueFd dir(open(pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir.get() < 0) return KernelError("opening " + pin_dir, errno);
  // The pins too: ones a veild run as root left behind would otherwise refuse the adoption.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pin_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (fchownat(dir.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return KernelError("changing the owner of " + entry.path().string(), errno);
    }
  }
  if (ec) return Error{"listing " + pin_dir + " failed (" + ec.message() + ")"};
  if (fchown(dir.get(), uid, gid) != 0)
    return KernelError("changing the owner of " + pin_dir, errno);
  if (fchmod(dir.get(), 0700) != 0) return KernelError("changing the mode of " + pin_dir, errno);
  return Status::Ok();
}

Status MarkSocket(int fd, uint32_t mark) {
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
    int err = errno;
    if (err == EPERM) {
      return Error{"setting SO_MARK failed: needs CAP_NET_ADMIN (" +
                   std::string(std::strerror(err)) + ")"};
    }
    return Error{"setting SO_MARK failed (" + std::string(std::strerror(err)) + ")"};
  }
  return Status::Ok();
}

Result<std::string> CgroupV2Root(const std::string& mounts) {
  std::ifstream in(mounts);
  std::string dev, dir, type;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (fields >> dev >> dir >> type && type == "cgroup2") return dir;
  }
  return Error{"no cgroup v2 hierarchy in " + mounts +
               ": mount one (`mount -t cgroup2 none /sys/fs/cgroup`) or boot with "
               "systemd.unified_cgroup_hierarchy=1"};
}

Result<uint64_t> CgroupIdOf(const std::string& cgroup_dir) {
  struct stat st {};
  if (stat(cgroup_dir.c_str(), &st) != 0) {
    int err = errno;
    return Error{"stat " + cgroup_dir + " failed (" + std::strerror(err) + ")"};
  }
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace veil::agent::bpf
