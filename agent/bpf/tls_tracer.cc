#include "agent/bpf/tls_tracer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "tls.skel.h"
#include "tls_abi.h"

namespace veil::agent::bpf {
namespace {

static_assert(sizeof(tls_event) == 80 + TLS_DATA_CAP, "tls_event layout changed");
static_assert(offsetof(tls_event, data) == 80);
static_assert(sizeof(tls_conn_key) == 16);
static_assert(sizeof(tls_conn_info) == 24);

// libbpf's own messages (verifier log, missing BTF, ...) for the error we return: the last few
// KB of warnings, per thread.
thread_local std::string libbpf_log;

int CaptureLibbpfLog(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  libbpf_log.append(line);
  if (libbpf_log.size() > 4096) libbpf_log.erase(0, libbpf_log.size() - 4096);
  return n;
}

std::string LibbpfTail() {
  if (libbpf_log.empty()) return "";
  return "\nlibbpf: " + libbpf_log;
}

// What to do about an errno from a bpf()/perf_event_open() call, in capability terms.
std::string PrivilegeHint(int err) {
  if (err == EPERM || err == EACCES) {
    return " (permission denied: loading eBPF programs and attaching uprobes needs CAP_BPF and "
           "CAP_PERFMON, or CAP_SYS_ADMIN on kernels before 5.8; run veild as root or add them to "
           "the unit's AmbientCapabilities=, and check kernel.unprivileged_bpf_disabled and "
           "kernel.perf_event_paranoid)";
  }
  if (err == ENOMEM) {
    return " (out of locked memory: raise RLIMIT_MEMLOCK, LimitMEMLOCK=infinity, on kernels "
           "before 5.11)";
  }
  if (err == ENOENT) {
    return " (not found: the symbol, file or tracepoint does not exist on this host)";
  }
  return "";
}

Error KernelError(const std::string& what, int err) {
  return Error{what + ": " + std::strerror(err) + PrivilegeHint(err) + LibbpfTail()};
}

struct SkelDeleter {
  void operator()(struct tls* skel) const { tls__destroy(skel); }
};
struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

Status MountTracefs(const std::string& tracefs) {
  struct stat st;
  if (::stat((tracefs + "/events").c_str(), &st) == 0) return Status::Ok();
  if (errno == EACCES) {
    return Error{"tracefs at " + tracefs +
                 " is mounted but not readable: the syscall "
                 "tracepoints need root (or CAP_DAC_READ_SEARCH with CAP_BPF and CAP_PERFMON)"};
  }
  if (::mount("nodev", tracefs.c_str(), "tracefs", 0, nullptr) != 0) {
    int err = errno;
    return Error{"mounting tracefs on " + tracefs +
                 " for the syscall tracepoints: " + std::strerror(err) +
                 (err == EPERM ? " (needs CAP_SYS_ADMIN; or mount it before starting veild: "
                                 "mount -t tracefs nodev " +
                                     tracefs + ")"
                               : "")};
  }
  return Status::Ok();
}

std::string FormatAddress(int family, const uint8_t addr[16], uint16_t port) {
  char text[INET6_ADDRSTRLEN] = {};
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && std::memcmp(addr, kV4Mapped, 12) == 0) {
    family = AF_INET;
    addr += 12;
  }
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, addr, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(port);
}

// One "sl local rem st ... inode" line of /proc/net/tcp{,6}: the remote address if `inode` matches.
bool ParseTcpLine(const std::string& line, bool v6, uint64_t inode, std::string* remote) {
  std::istringstream in(line);
  std::string sl, local, rem, st, queues, timer, retr, uid, timeout;
  uint64_t line_inode = 0;
  if (!(in >> sl >> local >> rem >> st >> queues >> timer >> retr >> uid >> timeout >>
        line_inode)) {
    return false;
  }
  if (line_inode != inode) return false;
  size_t colon = rem.find(':');
  if (colon == std::string::npos) return false;
  std::string hex = rem.substr(0, colon);
  uint16_t port = static_cast<uint16_t>(std::stoul(rem.substr(colon + 1), nullptr, 16));
  // The kernel prints the address as 32-bit words in host byte order.
  uint8_t addr[16] = {};
  size_t words = v6 ? 4 : 1;
  if (hex.size() != words * 8) return false;
  for (size_t w = 0; w < words; ++w) {
    uint32_t word = static_cast<uint32_t>(std::stoul(hex.substr(w * 8, 8), nullptr, 16));
    std::memcpy(addr + 4 * w, &word, 4);
  }
  *remote = FormatAddress(v6 ? AF_INET6 : AF_INET, addr, port);
  return true;
}

}  // namespace

Result<std::string> ResolveRemoteAddress(const std::string& proc_root, uint32_t tgid, int fd) {
  std::string base = proc_root + "/" + std::to_string(tgid);
  char target[128] = {};
  ssize_t n = ::readlink((base + "/fd/" + std::to_string(fd)).c_str(), target, sizeof(target) - 1);
  if (n < 0) {
    return Error{"fd " + std::to_string(fd) + " of process " + std::to_string(tgid) + ": " +
                 std::strerror(errno)};
  }
  std::string link(target, static_cast<size_t>(n));
  uint64_t inode = 0;
  if (std::sscanf(link.c_str(), "socket:[%lu]", &inode) != 1) {
    return Error{"fd " + std::to_string(fd) + " of process " + std::to_string(tgid) +
                 " is not a socket (" + link + ")"};
  }
  for (bool v6 : {false, true}) {
    std::ifstream table(base + (v6 ? "/net/tcp6" : "/net/tcp"));
    std::string line;
    std::getline(table, line);  // header
    std::string remote;
    while (std::getline(table, line)) {
      if (ParseTcpLine(line, v6, inode, &remote)) return remote;
    }
  }
  return Error{"socket inode " + std::to_string(inode) + " of process " + std::to_string(tgid) +
               " is not a TCP socket"};
}

Result<std::vector<std::string>> FindLibssl() {
  std::vector<std::string> candidates;
  if (FILE* p = ::popen("ldconfig -p 2>/dev/null", "r")) {
    char line[512];
    while (std::fgets(line, sizeof(line), p)) {
      std::string s(line);
      if (s.find("libssl.so.3 ") == std::string::npos) continue;
      size_t arrow = s.find("=> ");
      if (arrow == std::string::npos) continue;
      std::string path = s.substr(arrow + 3);
      while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
      candidates.push_back(path);
    }
    ::pclose(p);
  }
  for (const char* dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                          "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                          "/lib64", "/usr/lib", "/usr/local/lib64", "/usr/local/lib"}) {
    candidates.push_back(std::string(dir) + "/libssl.so.3");
  }
  std::vector<std::string> found;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const std::string& path : candidates) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
    char real[PATH_MAX];
    found.push_back(::realpath(path.c_str(), real) ? real : path);
  }
  if (found.empty()) {
    return Error{
        "no libssl.so.3 found (ldconfig -p, /lib, /usr/lib): install libssl3 or pass "
        "the library's path"};
  }
  return found;
}

Status SyntheticTlsSource::Watch(uint32_t tgid) {
  watched_[tgid] = true;
  return Status::Ok();
}

Status SyntheticTlsSource::Unwatch(uint32_t tgid) {
  watched_.erase(tgid);
  return Status::Ok();
}

Result<int> SyntheticTlsSource::Poll(int /*timeout_ms*/) {
  int delivered = 0;
  while (!queue_.empty()) {
    TlsChunk chunk = std::move(queue_.front());
    queue_.pop_front();
    if (!watched_.count(chunk.tgid)) continue;
    callback_(chunk);
    ++delivered;
  }
  return delivered;
}

struct TlsTracer::Impl {
  TlsTracerOptions options;
  TlsChunkCallback callback;
  std::unique_ptr<struct tls, SkelDeleter> skel;
  std::vector<LinkPtr> links;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring;
  int delivered = 0;
  // (tgid, fd, ssl) -> remote address from /proc, when the kernel side could not read it.
  std::map<std::tuple<uint32_t, int32_t, uint64_t>, std::string> remote_cache;
  TlsChunk chunk;  // reused: its string keeps its capacity

  static int OnEvent(void* ctx, void* data, size_t size) {
    return static_cast<Impl*>(ctx)->Handle(static_cast<const uint8_t*>(data), size);
  }

  int Handle(const uint8_t* data, size_t size) {
    if (size < offsetof(tls_event, data)) return 0;
    tls_event ev;
    std::memcpy(&ev, data, offsetof(tls_event, data));
    if (offsetof(tls_event, data) + ev.data_len > size) return 0;
    chunk.tgid = ev.tgid;
    chunk.pid = ev.pid;
    chunk.uid = ev.uid;
    chunk.fd = ev.fd;
    chunk.ssl = ev.ssl;
    chunk.ts_ns = ev.ts_ns;
    chunk.truncated = (ev.flags & TLS_F_TRUNCATED) != 0;
    chunk.comm.assign(ev.comm, strnlen(ev.comm, sizeof(ev.comm)));
    chunk.data.assign(reinterpret_cast<const char*>(data) + offsetof(tls_event, data), ev.data_len);
    switch (ev.kind) {
      case TLS_EV_READ:
        chunk.direction = TlsDirection::kRead;
        break;
      case TLS_EV_WRITE:
        chunk.direction = TlsDirection::kWrite;
        break;
      case TLS_EV_CLOSE:
        chunk.direction = TlsDirection::kClose;
        break;
      default:
        return 0;
    }
    auto key = std::make_tuple(ev.tgid, ev.fd, ev.ssl);
    if (ev.flags & TLS_F_ADDR_VALID) {
      chunk.remote = FormatAddress(ev.family, ev.remote_addr, ev.remote_port);
    } else if (auto it = remote_cache.find(key); it != remote_cache.end()) {
      chunk.remote = it->second;
    } else if (ev.fd >= 0 && chunk.direction != TlsDirection::kClose) {
      auto resolved = ResolveRemoteAddress(options.proc_root, ev.tgid, ev.fd);
      chunk.remote = resolved.ok() ? *resolved : "";
      remote_cache[key] = chunk.remote;
    } else {
      chunk.remote.clear();
    }
    if (chunk.direction == TlsDirection::kClose) remote_cache.erase(key);
    callback(chunk);
    ++delivered;
    return 0;
  }

  uint64_t SumStat(uint32_t stat) const {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return 0;
    std::vector<uint64_t> values(static_cast<size_t>(cpus));
    if (bpf_map__lookup_elem(skel->maps.tls_stats, &stat, sizeof(stat), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0) {
      return 0;
    }
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    return sum;
  }
};

Result<std::unique_ptr<TlsTracer>> TlsTracer::Start(TlsTracerOptions options,
                                                    TlsChunkCallback callback) {
  std::vector<std::string> libraries = options.libssl_paths;
  if (libraries.empty()) {
    auto found = FindLibssl();
    if (!found.ok()) return found.error();
    libraries = std::move(*found);
  } else {
    std::set<std::pair<dev_t, ino_t>> seen;
    std::vector<std::string> distinct;
    for (const std::string& path : libraries) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        return Error{"libssl " + path + ": " + std::strerror(errno)};
      }
      if (seen.insert({st.st_dev, st.st_ino}).second) distinct.push_back(path);
    }
    libraries = std::move(distinct);
  }
  if (Status s = MountTracefs(options.tracefs); !s.ok()) return s.error();

  libbpf_set_print(CaptureLibbpfLog);
  libbpf_log.clear();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->callback = std::move(callback);
  impl->skel.reset(tls__open());
  if (!impl->skel) return KernelError("opening the TLS tracer's eBPF object", errno);
  impl->skel->rodata->self_tgid = static_cast<uint32_t>(::getpid());
  if (int err = bpf_map__set_max_entries(impl->skel->maps.tls_events,
                                         static_cast<uint32_t>(impl->options.ring_buffer_bytes));
      err != 0) {
    return KernelError("sizing the TLS ring buffer", -err);
  }
  if (int err = tls__load(impl->skel.get()); err != 0) {
    return KernelError("loading the TLS tracer's eBPF programs", -err);
  }

  auto attach = [&](bpf_link* link, const std::string& what) -> Status {
    if (!link) return KernelError("attaching " + what, errno);
    impl->links.emplace_back(link);
    return Status::Ok();
  };
  struct tls* skel = impl->skel.get();
  for (bpf_program* prog :
       {skel->progs.sys_enter_read, skel->progs.sys_enter_write, skel->progs.sys_enter_recvfrom,
        skel->progs.sys_enter_sendto, skel->progs.sys_enter_readv, skel->progs.sys_enter_writev,
        skel->progs.sys_enter_recvmsg, skel->progs.sys_enter_sendmsg}) {
    std::string tp = bpf_program__name(prog);  // named after its tracepoint
    if (Status s = attach(bpf_program__attach_tracepoint(prog, "syscalls", tp.c_str()),
                          "tracepoint syscalls/" + tp);
        !s.ok()) {
      return s.error();
    }
  }
  struct Probe {
    bpf_program* prog;
    const char* symbol;
    bool retprobe;
  };
  const Probe probes[] = {
      {skel->progs.ssl_read_entry, "SSL_read", false},
      {skel->progs.ssl_write_entry, "SSL_write", false},
      {skel->progs.ssl_read_ex_entry, "SSL_read_ex", false},
      {skel->progs.ssl_write_ex_entry, "SSL_write_ex", false},
      {skel->progs.ssl_rw_return, "SSL_read", true},
      {skel->progs.ssl_rw_return, "SSL_write", true},
      {skel->progs.ssl_rw_return, "SSL_read_ex", true},
      {skel->progs.ssl_rw_return, "SSL_write_ex", true},
      {skel->progs.ssl_free_entry, "SSL_free", false},
  };
  for (const std::string& library : libraries) {
    for (const Probe& probe : probes) {
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = probe.retprobe, .func_name = probe.symbol);
      if (Status s =
              attach(bpf_program__attach_uprobe_opts(probe.prog, -1, library.c_str(), 0, &opts),
                     std::string(probe.retprobe ? "uretprobe " : "uprobe ") + library + ":" +
                         probe.symbol);
          !s.ok()) {
        return s.error();
      }
    }
  }

  impl->ring.reset(
      ring_buffer__new(bpf_map__fd(skel->maps.tls_events), &Impl::OnEvent, impl.get(), nullptr));
  if (!impl->ring) return KernelError("opening the TLS ring buffer", errno);
  auto tracer = std::unique_ptr<TlsTracer>(new TlsTracer(std::move(impl)));
  tracer->libraries_ = std::move(libraries);
  return tracer;
}

TlsTracer::TlsTracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

// Links first, then the ring buffer, then the object: the members' reverse declaration order.
TlsTracer::~TlsTracer() {
  if (impl_) {
    impl_->links.clear();
    impl_->ring.reset();
  }
}

Status TlsTracer::Watch(uint32_t tgid) {
  uint8_t one = 1;
  if (bpf_map__update_elem(impl_->skel->maps.watched_tgids, &tgid, sizeof(tgid), &one, sizeof(one),
                           BPF_ANY) != 0) {
    return KernelError("watching process " + std::to_string(tgid), errno);
  }
  return Status::Ok();
}

Status TlsTracer::Unwatch(uint32_t tgid) {
  if (bpf_map__delete_elem(impl_->skel->maps.watched_tgids, &tgid, sizeof(tgid), 0) != 0 &&
      errno != ENOENT) {
    return KernelError("unwatching process " + std::to_string(tgid), errno);
  }
  return Status::Ok();
}

void TlsTracer::SetWatchAll(bool all) { impl_->skel->bss->watch_all = all ? 1 : 0; }

Result<int> TlsTracer::Poll(int timeout_ms) {
  impl_->delivered = 0;
  int rc = ring_buffer__poll(impl_->ring.get(), timeout_ms);
  if (rc < 0 && rc != -EINTR) return KernelError("polling the TLS ring buffer", -rc);
  return impl_->delivered;
}

TlsTracerStats TlsTracer::stats() const {
  TlsTracerStats s;
  s.events = impl_->SumStat(TLS_STAT_EVENTS);
  s.lost = impl_->SumStat(TLS_STAT_LOST);
  s.unpaired = impl_->SumStat(TLS_STAT_NO_FD);
  s.read_failures = impl_->SumStat(TLS_STAT_READ_FAIL);
  return s;
}

}  // namespace veil::agent::bpf
