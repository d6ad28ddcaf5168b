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
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bpf/veil_abi.h"
#include "redirect.skel.h"

namespace veil::agent::bpf {

static_assert(sizeof(veil_target_key) == 24);
static_assert(sizeof(veil_addr_key) == 20);
static_assert(sizeof(veil_endpoint) == 24);
static_assert(sizeof(veil_unix_key) == 108);
static_assert(sizeof(veil_unix_target) == 116);
static_assert(sizeof(veil_config) == 48);
static_assert(sizeof(veil_exe_key) == 16);
static_assert(sizeof(veil_cgroup_name) == 128);
static_assert(sizeof(veil_flow) == 112);
static_assert(sizeof(veil_unix_flow) == 224);
static_assert(sizeof(veil_flow_event) == 152);
static_assert(sizeof(veil_unix_event) == 248);
static_assert(VEIL_VERDICT_REDIRECTED == static_cast<int>(FlowVerdict::kRedirected));
static_assert(VEIL_VERDICT_OBSERVED == static_cast<int>(FlowVerdict::kObserved));
static_assert(VEIL_VERDICT_DIRECT == static_cast<int>(FlowVerdict::kDirect));
static_assert(VEIL_VERDICT_DENIED == static_cast<int>(FlowVerdict::kDenied));
static_assert(VEIL_REASON_NONE == static_cast<int>(FlowReason::kNone));
static_assert(VEIL_REASON_UNLISTED == static_cast<int>(FlowReason::kUnlisted));
static_assert(VEIL_REASON_UNREACHABLE == static_cast<int>(FlowReason::kUnreachable));
static_assert(VEIL_REASON_EXEMPT == static_cast<int>(FlowReason::kExempt));
static_assert(VEIL_EV_ESTABLISHED == static_cast<int>(FlowEvent::Kind::kEstablished));
static_assert(VEIL_EV_CLOSED == static_cast<int>(FlowEvent::Kind::kClosed));
static_assert(VEIL_EV_DENIED == static_cast<int>(FlowEvent::Kind::kDenied));
static_assert(VEIL_EV_UNIX == static_cast<int>(FlowEvent::Kind::kUnix));

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

// "addr" or "addr/len" → the LPM key of (port, prefix), host bits cleared.
std::optional<veil_target_key> ParsePrefix(std::string_view text, uint16_t port) {
  size_t slash = text.find('/');
  bool v4 = false;
  auto addr = ParseAddr(text.substr(0, slash), &v4);
  if (!addr) return std::nullopt;
  const bool text_v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  unsigned len = text_v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    std::string_view n = text.substr(slash + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (n.empty() || ec != std::errc() || end != n.data() + n.size() || v > len)
      return std::nullopt;
    len = v;
  }
  // IPv4 lives in the last 32 bits of its mapped form.
  const unsigned bits = text_v4 ? 96 + len : len;
  veil_target_key key{};
  key.prefixlen = 32 + bits;
  key.port = port;
  for (unsigned word = 0; word < 4; ++word) {
    const unsigned from = word * 32;
    uint32_t host = ntohl((*addr)[word]);
    if (bits <= from) {
      host = 0;
    } else if (bits < from + 32) {
      host &= ~0u << (32 - (bits - from));
    }
    key.addr[word] = htonl(host);
  }
  return key;
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

// "@name" → "\0name"; a path stays as it is. At most 108 bytes.
std::optional<veil_unix_key> UnixKey(std::string_view name) {
  std::string bytes(name);
  if (!bytes.empty() && bytes[0] == '@') bytes[0] = '\0';
  if (bytes.empty() || bytes.size() > VEIL_UNIX_PATH_LEN) return std::nullopt;
  veil_unix_key key{};
  std::memcpy(key.name, bytes.data(), bytes.size());
  return key;
}

// A unix path as dialled, abstract names as "@name".
std::string FormatUnixPath(const char* path, size_t max) {
  size_t n = 0;
  if (max > 0 && path[0] == '\0') {
    // Abstract: every byte counts; trailing NULs are padding.
    n = max;
    while (n > 1 && path[n - 1] == '\0') --n;
    std::string out(path, n);
    out[0] = '@';
    return out;
  }
  n = strnlen(path, max);
  return std::string(path, n);
}

void FillFlowEvent(const veil_flow& f, FlowEvent* e) {
  e->process.pid = f.pid;
  e->process.tgid = f.tgid;
  e->process.uid = f.uid;
  e->process.gid = f.gid;
  e->process.start_time_ns = f.start_time_ns;
  e->process.cgroup_id = f.cgroup_id;
  e->process.comm.assign(f.comm, strnlen(f.comm, sizeof(f.comm)));
  e->verdict = static_cast<FlowVerdict>(f.verdict);
  e->endpoint_id = f.endpoint_id;
  e->reason = static_cast<FlowReason>(f.reason);
}

FlowEvent ToFlowEvent(const veil_flow& f, uint64_t cookie) {
  FlowEvent e;
  e.cookie = cookie;
  FillFlowEvent(f, &e);
  e.original_dst = FormatAddr(f.orig_addr, f.orig_port);
  if (f.verdict == VEIL_VERDICT_REDIRECTED)
    e.redirected_to = FormatAddr(f.redir_addr, f.redir_port);
  if (f.src_port != 0) e.src = FormatAddr(f.src_addr, f.src_port);
  return e;
}

FlowEvent ToFlowEvent(const veil_unix_flow& u, uint64_t inode) {
  FlowEvent e;
  e.kind = FlowEvent::Kind::kUnix;
  e.cookie = inode;
  FillFlowEvent(u.flow, &e);
  e.original_dst = "unix:" + FormatUnixPath(u.path, std::min<size_t>(u.path_len, sizeof(u.path)));
  e.src = "unix";
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

// This process's network namespace, as bpf_get_netns_cookie() names it; 0 if the kernel cannot
// tell (before 5.14), which makes every namespace count as veild's.
uint64_t OwnNetnsCookie() {
  constexpr int kSoNetnsCookie = 71;  // newer than this glibc's headers
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (fd.get() < 0 || getsockopt(fd.get(), SOL_SOCKET, kSoNetnsCookie, &cookie, &len) != 0)
    return 0;
  return cookie;
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

struct BytesLess {
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return std::memcmp(&a, &b, sizeof(T)) < 0;
  }
};

// Makes the map at `fd` hold exactly `want`: adds and updates first, then deletes stale keys, so
// an entry present in both sets never disappears in between.
template <typename Key, typename Value>
Status SyncMap(int fd, const std::map<Key, Value, BytesLess>& want, const std::string& what) {
  for (const auto& [key, val] : want) {
    if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) != 0) {
      return KernelError("writing the " + what + " map", errno,
                         std::to_string(want.size()) + " entries given");
    }
  }
  for (const Key& key : MapKeys<Key>(fd)) {
    if (!want.count(key)) bpf_map_delete_elem(fd, &key);
  }
  return Status::Ok();
}

constexpr uint32_t kUnixConnectAttach = 49;  // BPF_CGROUP_UNIX_CONNECT, newer than libbpf 1.1

struct ProgLink {
  const char* section;  // for messages
  const char* pin_name;
};
constexpr ProgLink kLinks[] = {
    {"cgroup/connect4", "link_connect4"},
    {"cgroup/connect6", "link_connect6"},
    {"sockops", "link_sockops"},
    {"cgroup/connect_unix", "link_connect_unix"},
};
constexpr int kUnixLink = 3;

std::string MapPinName(const bpf_map* m) {
  return std::string(bpf_map__name(m)) + "_v" + std::to_string(VEIL_ABI_VERSION);
}

// libbpf's own messages are silenced while a load that may fail is tried (the connect_unix
// program on a kernel without it: the verifier's log would only be noise).
int QuietPrint(enum libbpf_print_level, const char*, va_list) { return 0; }

}  // namespace

struct FlowLayer::Handles {
  std::unique_ptr<redirect, SkelDeleter> skel;
  std::unique_ptr<bpf_link, LinkDeleter> links[4];
  std::unique_ptr<ring_buffer, RingDeleter> ring;  // declared last: freed first
  std::string pin_dir;
  std::string cgroup_root;
  bool unix_loaded = false;
};

FlowLayer::FlowLayer(std::unique_ptr<Handles> h, Callback cb, bool adopted)
    : h_(std::move(h)), on_event_(std::move(cb)), adopted_(adopted) {}

FlowLayer::~FlowLayer() = default;

Status FlowSource::SetEndpoints(const std::vector<RedirectEndpoint>& endpoints) {
  std::vector<CoverageEntry> entries;
  for (const RedirectEndpoint& ep : endpoints) {
    const std::string name = ep.upstream_ip + ":" + std::to_string(ep.upstream_port);
    if (!ParseAddr(ep.upstream_ip))
      return Error{"endpoint " + name + ": upstream is not an IP address"};
    CoverageEntry c;
    c.prefix = ep.upstream_ip;
    c.port = ep.upstream_port;
    c.listen_ip = ep.observe ? ep.upstream_ip : ep.listen_ip;
    c.listen_port = ep.observe ? ep.upstream_port : ep.listen_port;
    c.observe = ep.observe;
    c.fail_open = ep.fail_open;
    entries.push_back(std::move(c));
  }
  return SetCoverage(entries, {});
}

Result<std::unique_ptr<FlowLayer>> FlowLayer::Open(Options o) {
  if (Status s = EnsurePinDir(o.pin_dir); !s) return s.error();
  std::string cgroup_root = o.cgroup_root;
  if (cgroup_root.empty()) {
    auto root = CgroupV2Root();
    if (!root) return root.error();
    cgroup_root = *root;
  }

  bool adopted = false;
  for (const ProgLink& l : kLinks) {
    if (access((o.pin_dir + "/" + l.pin_name).c_str(), F_OK) == 0) adopted = true;
  }
  const char* unix_env = std::getenv("VEIL_BPF_UNIX");
  const bool want_unix = o.unix_sockets && !(unix_env && std::string(unix_env) == "off");

  // Opens, pins and loads the object; with_unix: also the connect_unix program.
  bool maps_existed = false;
  auto load = [&](bool with_unix) -> Result<std::unique_ptr<Handles>> {
    auto h = std::make_unique<Handles>();
    h->pin_dir = o.pin_dir;
    h->cgroup_root = cgroup_root;
    h->skel.reset(redirect__open());
    if (!h->skel) return KernelError("opening the redirect BPF object", errno);
    redirect* skel = h->skel.get();
    bpf_program* unix_prog = skel->progs.veil_connect_unix;
    bpf_program__set_type(unix_prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
    bpf_program__set_expected_attach_type(unix_prog,
                                          static_cast<bpf_attach_type>(kUnixConnectAttach));
    bpf_program__set_autoload(unix_prog, with_unix);
    // Every map is pinned: a restarted veild reuses them, so entries survive and the adopted
    // programs and the new ones share state.
    maps_existed = false;
    bpf_map* m = nullptr;
    bpf_object__for_each_map(m, skel->obj) {
      std::string path = o.pin_dir + "/" + MapPinName(m);
      if (access(path.c_str(), F_OK) == 0) maps_existed = true;
      if (int err = bpf_map__set_pin_path(m, path.c_str()); err) {
        return KernelError("setting pin path " + path, -err);
      }
    }
    libbpf_print_fn_t previous = with_unix ? libbpf_set_print(QuietPrint) : nullptr;
    int err = redirect__load(skel);
    if (with_unix) libbpf_set_print(previous);
    if (err) {
      return KernelError("loading the redirect BPF programs", -err,
                         maps_existed ? "if " + o.pin_dir +
                                            " holds maps of another veil build, remove them: "
                                            "systemctl stop veil && rm -rf " +
                                            o.pin_dir
                                      : "");
    }
    h->unix_loaded = with_unix;
    return h;
  };

  UnixSupport unix;
  Result<std::unique_ptr<Handles>> loaded = Error{"not loaded"};
  if (want_unix) {
    loaded = load(true);
    if (loaded.ok()) {
      unix.covered = true;
    } else {
      unix.why_not =
          "the kernel did not load the cgroup/connect_unix program (Linux >= 6.7 "
          "is needed): " +
          loaded.error().message;
    }
  } else {
    unix.why_not = "turned off (VEIL_BPF_UNIX=off)";
  }
  if (!unix.covered) loaded = load(false);
  if (!loaded.ok()) return loaded.error();
  std::unique_ptr<Handles> h = std::move(loaded).value();
  redirect* skel = h->skel.get();

  // Who veild is, before any program (new or adopted) sees the new config. The policy fields of
  // an adopted entry stay until SetPolicy() replaces them.
  const int config_fd = bpf_map__fd(skel->maps.agent_config);
  uint32_t zero = 0;
  veil_config cfg{};
  (void)bpf_map_lookup_elem(config_fd, &zero, &cfg);
  cfg.own_tgid = o.own_tgid.value_or(static_cast<uint32_t>(getpid()));
  cfg.own_mark = o.own_mark;
  cfg.own_cgroup_id = o.own_cgroup_id;
  cfg.own_start_ticks = 0;
  cfg.tick_ns = 0;
  if (cfg.own_tgid != 0) {
    auto ticks = StartTicks(cfg.own_tgid);
    if (!ticks) return ticks.error();
    cfg.own_start_ticks = *ticks;
    cfg.tick_ns = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  }
  cfg.own_netns_cookie = OwnNetnsCookie();
  if (bpf_map_update_elem(config_fd, &zero, &cfg, BPF_ANY) != 0) {
    return KernelError("writing the agent config map", errno);
  }

  std::unique_ptr<FlowLayer> layer(new FlowLayer(std::move(h), std::move(o.on_event), adopted));
  layer->unix_ = std::move(unix);
  layer->option_ports_ = o.extra_db_ports;
  if (maps_existed) {
    // Surviving endpoints keep their ports looked at until SetPolicy() and SetCoverage() replace
    // them: pruning them here would open a window in which a fail-closed endpoint is reached
    // directly (the restart's, between Open() and the first SetCoverage()).
    for (const veil_target_key& k : MapKeys<veil_target_key>(bpf_map__fd(skel->maps.targets)))
      layer->coverage_ports_.push_back(k.port);
    layer->policy_ports_ = MapKeys<uint16_t>(bpf_map__fd(skel->maps.db_ports));
  }
  if (Status s = layer->SyncPorts(); !s) return s.error();
  // Adopted links that run programs of another map layout keep running them, on their own maps,
  // until the first SetCoverage() has filled the new maps: an upgrade leaves no moment in which
  // a protected endpoint is reachable directly.
  if (adopted && !maps_existed) {
    layer->activate_pending_ = true;
  } else if (Status s = layer->Activate(); !s) {
    return s.error();
  }
  layer->h_->ring.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), &FlowLayer::OnRingRecord,
                                         layer.get(), nullptr));
  if (!layer->h_->ring) return KernelError("opening the flow ring buffer", errno);
  return layer;
}

Status FlowLayer::Activate() {
  redirect* skel = h_->skel.get();
  UniqueFd cgroup(open(h_->cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cgroup.get() < 0) {
    int err = errno;
    return Error{"opening cgroup " + h_->cgroup_root + " failed (" + std::strerror(err) + ")"};
  }
  bpf_program* progs[] = {skel->progs.veil_connect4, skel->progs.veil_connect6,
                          skel->progs.veil_sockops, skel->progs.veil_connect_unix};
  for (int i = 0; i < 4; ++i) {
    const std::string pin = h_->pin_dir + "/" + kLinks[i].pin_name;
    const bool pinned = access(pin.c_str(), F_OK) == 0;
    if (i == kUnixLink && !h_->unix_loaded) {
      // Not covered now: an earlier veild's unix hook would go on running on stale maps.
      if (pinned) {
        UniqueFd fd(bpf_obj_get(pin.c_str()));
        if (fd.get() >= 0) bpf_link_detach(fd.get());
        unlink(pin.c_str());
      }
      continue;
    }
    if (pinned) {
      // Adopt: swap the program inside the attached link, with no detached window.
      h_->links[i].reset(bpf_link__open(pin.c_str()));
      if (!h_->links[i]) return KernelError(std::string("opening pinned link ") + pin, errno);
      if (int err = bpf_link__update_program(h_->links[i].get(), progs[i]); err) {
        return KernelError(std::string(kLinks[i].section) + " program swap in " + pin, -err);
      }
      continue;
    }
    h_->links[i].reset(bpf_program__attach_cgroup(progs[i], cgroup.get()));
    if (!h_->links[i]) {
      return KernelError(std::string(kLinks[i].section) + " attach to " + h_->cgroup_root, errno);
    }
    if (int err = bpf_link__pin(h_->links[i].get(), pin.c_str()); err) {
      return KernelError("pinning " + pin, -err);
    }
  }
  // Maps of another layout (an upgraded veild's, or the unversioned names of the first one) are
  // used by no program now.
  const std::string suffix = "_v" + std::to_string(VEIL_ABI_VERSION);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(h_->pin_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("link_") || name.ends_with(suffix)) continue;
    if (unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
      return KernelError("removing the stale pin " + entry.path().string(), errno);
    }
  }
  activate_pending_ = false;
  return Status::Ok();
}

Status FlowLayer::SyncPorts() {
  std::map<uint16_t, uint8_t> ports;
  auto add = [&](const std::vector<uint16_t>& v) {
    for (uint16_t p : v) ports[p] = 1;
  };
  for (uint16_t p : kDefaultDbPorts) ports[p] = 1;
  add(option_ports_);
  add(policy_ports_);
  add(coverage_ports_);
  const int fd = bpf_map__fd(h_->skel->maps.db_ports);
  for (const auto& [p, one] : ports) {
    if (bpf_map_update_elem(fd, &p, &one, BPF_ANY) != 0) {
      return KernelError(
          "writing the db_ports map", errno,
          "at most 1024 database ports (" + std::to_string(ports.size()) + " given)");
    }
  }
  for (uint16_t p : MapKeys<uint16_t>(fd)) {
    if (!ports.count(p)) bpf_map_delete_elem(fd, &p);
  }
  return Status::Ok();
}

int FlowLayer::OnRingRecord(void* self, void* data, size_t size) {
  auto* layer = static_cast<FlowLayer*>(self);
  if (size < 1 || !layer->on_event_) return 0;
  const uint8_t kind = *static_cast<const uint8_t*>(data);
  if (kind == VEIL_EV_UNIX) {
    if (size < sizeof(veil_unix_event)) return 0;
    veil_unix_event ev;
    std::memcpy(&ev, data, sizeof(ev));
    FlowEvent e = ToFlowEvent(ev.unix_flow, ev.inode);
    e.ts_ns = ev.ts_ns;
    layer->on_event_(e);
    return 0;
  }
  if (size < sizeof(veil_flow_event)) return 0;
  veil_flow_event ev;
  std::memcpy(&ev, data, sizeof(ev));
  FlowEvent e = ToFlowEvent(ev.flow, ev.cookie);
  e.kind = static_cast<FlowEvent::Kind>(ev.kind);
  e.ts_ns = ev.ts_ns;
  e.bytes_sent = ev.bytes_acked;
  e.bytes_received = ev.bytes_received;
  layer->on_event_(e);
  return 0;
}

Status FlowLayer::SetCoverage(const std::vector<CoverageEntry>& tcp,
                              const std::vector<UnixCoverageEntry>& unix) {
  std::map<veil_target_key, veil_endpoint, BytesLess> want;
  std::vector<uint16_t> ports;
  for (const CoverageEntry& c : tcp) {
    const std::string name = c.prefix + " port " + std::to_string(c.port);
    if (c.port == 0) return Error{"coverage " + name + ": port 0"};
    auto key = ParsePrefix(c.prefix, c.port);
    if (!key) return Error{"coverage " + name + ": not an address or CIDR"};
    veil_endpoint val{};
    val.endpoint_id = c.endpoint_id;
    val.flags = (c.observe ? VEIL_EP_OBSERVE : 0) | (c.fail_open ? VEIL_EP_FAIL_OPEN : 0) |
                (c.loopback ? VEIL_EP_LOOPBACK : 0) | (c.local ? VEIL_EP_LOCAL : 0) |
                (c.veild ? VEIL_EP_VEILD : 0);
    if (!c.veild) {
      auto listen = ParseAddr(c.listen_ip);
      if (!listen) return Error{"coverage " + name + ": listen '" + c.listen_ip + "' is not an IP"};
      if (c.listen_port == 0) return Error{"coverage " + name + ": listen port 0"};
      std::memcpy(val.listen_addr, listen->data(), 16);
      val.listen_port = c.listen_port;
    }
    if (!want.emplace(*key, val).second) return Error{"coverage " + name + " listed twice"};
    ports.push_back(c.port);
  }
  std::map<veil_unix_key, veil_unix_target, BytesLess> want_unix;
  for (const UnixCoverageEntry& u : unix) {
    auto key = UnixKey(u.name);
    if (!key) return Error{"unix coverage '" + u.name + "': empty or longer than 108 bytes"};
    veil_unix_target val{};
    val.endpoint_id = u.endpoint_id;
    val.flags = (u.observe ? VEIL_EP_OBSERVE : 0) | (u.fail_open ? VEIL_EP_FAIL_OPEN : 0) |
                (u.veild ? VEIL_EP_VEILD : 0);
    if (!u.veild) {
      if (u.redirect_path.empty() || u.redirect_path.size() > VEIL_UNIX_PATH_LEN)
        return Error{"unix coverage '" + u.name + "': redirect path '" + u.redirect_path +
                     "' is empty or longer than 108 bytes"};
      std::memcpy(val.path, u.redirect_path.data(), u.redirect_path.size());
      val.path_len = static_cast<uint16_t>(u.redirect_path.size());
    }
    if (!want_unix.emplace(*key, val).second)
      return Error{"unix coverage '" + u.name + "' listed twice"};
  }
  coverage_ports_ = std::move(ports);
  // Ports first: a covered address on a port the hook does not look at would not be redirected.
  if (Status s = SyncPorts(); !s) return s;
  if (Status s = SyncMap(bpf_map__fd(h_->skel->maps.targets), want, "targets"); !s) return s;
  if (Status s = SyncMap(bpf_map__fd(h_->skel->maps.unix_targets), want_unix, "unix_targets"); !s)
    return s;
  if (activate_pending_) return Activate();
  return Status::Ok();
}

Status FlowLayer::SetPolicy(const Policy& policy) {
  redirect* skel = h_->skel.get();
  std::map<uint32_t, uint8_t, BytesLess> uids, gids;
  std::map<veil_cgroup_name, uint8_t, BytesLess> cgroups;
  std::map<veil_exe_key, uint8_t, BytesLess> exes;
  std::map<veil_unix_key, uint8_t, BytesLess> sockets;
  for (uint32_t u : policy.exempt.uids) uids[u] = 1;
  for (uint32_t g : policy.exempt.gids) gids[g] = 1;
  for (const std::string& n : policy.exempt.cgroup_names) {
    if (n.empty() || n.size() >= VEIL_CGROUP_NAME_LEN)
      return Error{"cgroup name '" + n + "' is empty or longer than 127 bytes"};
    veil_cgroup_name key{};
    std::memcpy(key.name, n.data(), n.size());
    cgroups[key] = 1;
  }
  for (const auto& [dev, ino] : policy.exempt.exes) {
    veil_exe_key key{};
    key.ino = ino;
    // The kernel's dev_t (MKDEV: 12-bit major, 20-bit minor) from userspace's encoding.
    key.dev = static_cast<uint32_t>((major(dev) << 20) | minor(dev));
    exes[key] = 1;
  }
  for (const char* n : kDefaultDbSocketNames) sockets[*UnixKey(n)] = 1;
  for (const std::string& n : policy.db_socket_names) {
    auto key = UnixKey(n);
    if (!key) return Error{"database socket name '" + n + "' is empty or too long"};
    sockets[*key] = 1;
  }
  if (Status s = SyncMap(bpf_map__fd(skel->maps.exempt_uids), uids, "exempt_uids"); !s) return s;
  if (Status s = SyncMap(bpf_map__fd(skel->maps.exempt_gids), gids, "exempt_gids"); !s) return s;
  if (Status s = SyncMap(bpf_map__fd(skel->maps.exempt_cgroups), cgroups, "exempt_cgroups"); !s)
    return s;
  if (Status s = SyncMap(bpf_map__fd(skel->maps.exempt_exes), exes, "exempt_exes"); !s) return s;
  if (Status s = SyncMap(bpf_map__fd(skel->maps.db_socket_names), sockets, "db_socket_names"); !s)
    return s;
  policy_ports_ = policy.db_ports;
  if (Status s = SyncPorts(); !s) return s;
  // The mode last, once who is exempt is in place.
  const int config_fd = bpf_map__fd(skel->maps.agent_config);
  uint32_t zero = 0;
  veil_config cfg{};
  if (bpf_map_lookup_elem(config_fd, &zero, &cfg) != 0)
    return KernelError("reading the agent config map", errno);
  cfg.unlisted = policy.unlisted == Unlisted::kDeny    ? VEIL_UNLISTED_DENY
                 : policy.unlisted == Unlisted::kAllow ? VEIL_UNLISTED_ALLOW
                                                       : VEIL_UNLISTED_OBSERVE;
  cfg.exempt = (uids.empty() ? 0 : VEIL_EXEMPT_UID) | (gids.empty() ? 0 : VEIL_EXEMPT_GID) |
               (cgroups.empty() ? 0 : VEIL_EXEMPT_CGROUP) | (exes.empty() ? 0 : VEIL_EXEMPT_EXE);
  if (bpf_map_update_elem(config_fd, &zero, &cfg, BPF_ANY) != 0)
    return KernelError("writing the agent config map", errno);
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

std::optional<FlowEvent> FlowLayer::LookupUnix(uint64_t client_inode) const {
  veil_unix_flow flow{};
  if (bpf_map_lookup_elem(bpf_map__fd(h_->skel->maps.unix_flows), &client_inode, &flow) != 0)
    return std::nullopt;
  return ToFlowEvent(flow, client_inode);
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
  const int fd = bpf_map__fd(h_->skel->maps.targets);
  for (const veil_target_key& key : MapKeys<veil_target_key>(fd)) {
    veil_endpoint val{};
    if (bpf_map_lookup_elem(fd, &key, &val) == 0 && (val.flags & VEIL_EP_FAIL_OPEN)) {
      if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
        return KernelError("removing a fail-open endpoint", errno);
      }
    }
  }
  const int ufd = bpf_map__fd(h_->skel->maps.unix_targets);
  for (const veil_unix_key& key : MapKeys<veil_unix_key>(ufd)) {
    veil_unix_target val{};
    if (bpf_map_lookup_elem(ufd, &key, &val) == 0 && (val.flags & VEIL_EP_FAIL_OPEN)) {
      if (bpf_map_delete_elem(ufd, &key) != 0 && errno != ENOENT) {
        return KernelError("removing a fail-open unix socket", errno);
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
