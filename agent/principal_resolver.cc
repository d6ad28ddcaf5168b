#include "agent/principal_resolver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace veil::agent {
namespace {

// Bounds on what a walk of the cgroup tree may keep: a host has hundreds to a few thousand
// cgroups; a runaway tree must not grow veild without limit.
constexpr size_t kMaxCgroups = 1 << 16;
constexpr size_t kMaxGone = 1 << 16;

bool IsContainerId(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// "<prefix>-<64hex>.scope" for the runtimes' systemd cgroup driver.
std::optional<std::string_view> ScopeContainerId(std::string_view c) {
  static constexpr std::array<std::string_view, 4> kPrefixes = {"docker-", "cri-containerd-",
                                                                "crio-", "libpod-"};
  constexpr std::string_view kScope = ".scope";
  if (!c.ends_with(kScope)) return std::nullopt;
  for (std::string_view prefix : kPrefixes) {
    if (!c.starts_with(prefix)) continue;
    std::string_view id = c.substr(prefix.size(), c.size() - prefix.size() - kScope.size());
    if (IsContainerId(id)) return id;
  }
  return std::nullopt;
}

// Reads a whole small file relative to `dirfd` (a /proc/<pid> directory); nullopt on failure.
std::optional<std::string> ReadAt(int dirfd, const char* name) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Field 22 of /proc/<pid>/stat (starttime, clock ticks since boot). comm (field 2) may hold
// spaces and parentheses, so fields are counted from the last ')'.
std::optional<uint64_t> StartTicks(const std::string& stat) {
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(in >> field)) return std::nullopt;
  }
  uint64_t ticks = 0;
  for (char c : field) {
    if (c < '0' || c > '9') return std::nullopt;
    ticks = ticks * 10 + static_cast<uint64_t>(c - '0');
  }
  return ticks;
}

std::optional<uint64_t> Inode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

// /proc/mounts escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3; ++j) {
        char c = s[i + j];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

CgroupAttribution ParseCgroupPath(std::string_view path) {
  CgroupAttribution out;
  bool under_kubepods = false;
  std::string_view parent;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view c = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (c.empty()) continue;
    // A user's systemd manager (user@UID.service) is delegated its subtree: the user names the
    // folders below it, so nothing below may claim a unit or a container. The principal is
    // unit:user@UID.service (with the user's own user: and group: specs).
    if (c.starts_with("user@") && c.ends_with(".service")) {
      out.unit = std::string(c);
      break;
    }
    if (auto id = ScopeContainerId(c)) {
      out.container = std::string(*id);
      break;
    }
    if (IsContainerId(c) && (parent == "docker" || under_kubepods)) {
      out.container = std::string(c);
      break;
    }
    if (c.starts_with("kubepods")) under_kubepods = true;
    if (c.size() > std::string_view(".service").size() && c.ends_with(".service"))
      out.unit = std::string(c);
    parent = c;
  }
  return out;
}

std::optional<std::string> FindCgroup2Mount(const std::string& mounts_file) {
  std::ifstream in(mounts_file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string device, mount_point, type;
    if (!(fields >> device >> mount_point >> type)) continue;
    if (type == "cgroup2") return UnescapeMountField(mount_point);
  }
  return std::nullopt;
}

PrincipalResolver::PrincipalResolver(Options options)
    : proc_root_(std::move(options.proc_root)),
      cgroup_root_(std::move(options.cgroup_root)),
      cache_size_(options.cache_size == 0 ? 1 : options.cache_size) {
  if (cgroup_root_.empty()) cgroup_root_ = FindCgroup2Mount(proc_root_ + "/mounts").value_or("");
  while (cgroup_root_.size() > 1 && cgroup_root_.back() == '/') cgroup_root_.pop_back();
}

std::optional<bpf::FlowProcess> PrincipalResolver::ProcessOf(uint32_t pid, uint32_t uid,
                                                             uint32_t gid) const {
  const std::string dir = proc_root_ + "/" + std::to_string(pid);
  int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return std::nullopt;
  auto stat = ReadAt(dirfd, "stat");
  auto cgroup = ReadAt(dirfd, "cgroup");
  ::close(dirfd);
  auto ticks = stat ? StartTicks(*stat) : std::nullopt;
  if (!ticks) return std::nullopt;
  static const uint64_t ns_per_tick =
      1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  bpf::FlowProcess p;
  p.pid = p.tgid = pid;
  p.uid = uid;
  p.gid = gid;
  p.start_time_ns = *ticks * ns_per_tick;
  // The v2 line of /proc/<pid>/cgroup is "0::/path".
  if (cgroup && !cgroup_root_.empty()) {
    std::istringstream lines(*cgroup);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.starts_with("0::")) continue;
      if (auto id = Inode(cgroup_root_ + line.substr(3))) p.cgroup_id = *id;
    }
  }
  return p;
}

std::optional<std::string> PrincipalResolver::Executable(uint32_t tgid,
                                                         uint64_t start_time_ns) const {
  if (tgid == 0) return std::nullopt;
  // Everything is read through one directory fd: once /proc/<tgid> is open it names that process
  // for good, and reads through it fail after the process exits even if the pid is reused.
  const std::string dir = proc_root_ + "/" + std::to_string(tgid);
  int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return std::nullopt;
  std::optional<std::string> exe;
  auto stat = ReadAt(dirfd, "stat");
  auto ticks = stat ? StartTicks(*stat) : std::nullopt;
  static const uint64_t ns_per_tick =
      1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  // The kernel rounds the start time down to ticks for /proc; the flow may carry it in full ns.
  if (ticks && *ticks == start_time_ns / ns_per_tick) {
    std::array<char, 4096> buf;
    ssize_t n = ::readlinkat(dirfd, "exe", buf.data(), buf.size());
    if (n > 0 && static_cast<size_t>(n) < buf.size()) exe = std::string(buf.data(), n);
  }
  ::close(dirfd);
  return exe;
}

std::optional<std::string> PrincipalResolver::CgroupPathFromProc(uint64_t id, uint32_t tgid) const {
  const std::string dir = proc_root_ + "/" + std::to_string(tgid);
  int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return std::nullopt;
  auto text = ReadAt(dirfd, "cgroup");
  ::close(dirfd);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("0::")) continue;
    std::string path = line.substr(3);
    if (path.empty() || path[0] != '/') return std::nullopt;
    // Whatever /proc says, only the inode proves it is the flow's cgroup (the process may have
    // moved since connect(), or the pid been reused).
    auto ino = Inode(cgroup_root_ + (path == "/" ? "" : path));
    if (ino && *ino == id) return path;
    return std::nullopt;
  }
  return std::nullopt;
}

void PrincipalResolver::WalkCgroupsLocked() {
  std::unordered_map<uint64_t, std::string> found;
  if (auto root = Inode(cgroup_root_)) found[*root] = "/";
  std::error_code ec;
  namespace fs = std::filesystem;
  fs::recursive_directory_iterator it(cgroup_root_, fs::directory_options::skip_permission_denied,
                                      ec);
  for (; !ec && it != fs::recursive_directory_iterator() && found.size() < kMaxCgroups;
       it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec) || it->is_symlink(type_ec)) {
      continue;
    }
    const std::string full = it->path().string();
    if (auto ino = Inode(full)) found[*ino] = full.substr(cgroup_root_.size());
  }
  cgroup_paths_ = std::move(found);
}

std::optional<std::string> PrincipalResolver::CgroupPath(uint64_t id, uint32_t tgid) {
  if (cgroup_root_.empty() || id == 0) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    if (auto it = cgroup_paths_.find(id); it != cgroup_paths_.end()) {
      // A path is only trusted while its inode is still `id`: the cgroup may have been removed
      // and its name given to a new one.
      auto ino = Inode(cgroup_root_ + (it->second == "/" ? "" : it->second));
      if (ino && *ino == id) return it->second;
      cgroup_paths_.erase(it);
    }
    if (cgroups_gone_.contains(id)) return std::nullopt;
  }
  if (tgid != 0) {
    if (auto path = CgroupPathFromProc(id, tgid)) {
      std::lock_guard lock(mu_);
      if (cgroup_paths_.size() >= kMaxCgroups) cgroup_paths_.clear();
      cgroup_paths_[id] = *path;
      return path;
    }
  }
  std::lock_guard lock(mu_);
  WalkCgroupsLocked();
  if (auto it = cgroup_paths_.find(id); it != cgroup_paths_.end()) return it->second;
  // Kernfs ids are never reused while the system is up: a cgroup a walk did not find is gone.
  if (cgroups_gone_.size() >= kMaxGone) cgroups_gone_.clear();
  cgroups_gone_.insert(id);
  return std::nullopt;
}

grants::Principal PrincipalResolver::Resolve(const bpf::FlowProcess& process) {
  const Key key{process.tgid, process.start_time_ns};
  const bool cacheable = process.tgid != 0;
  if (cacheable) {
    std::lock_guard lock(mu_);
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      auto entry = it->second;
      // The same process may have changed uid (setuid) or cgroup since it was last seen.
      if (entry->uid == process.uid && entry->cgroup_id == process.cgroup_id) {
        lru_.splice(lru_.begin(), lru_, entry);
        return entry->principal;
      }
      lru_.erase(entry);
      by_key_.erase(it);
    }
  }
  grants::Principal p = grants::FromUid(process.uid);
  if (auto exe = Executable(process.tgid, process.start_time_ns)) p.exe = std::move(*exe);
  if (auto path = CgroupPath(process.cgroup_id, process.tgid)) {
    CgroupAttribution a = ParseCgroupPath(*path);
    p.unit = std::move(a.unit);
    p.container = std::move(a.container);
  }
  if (cacheable) {
    std::lock_guard lock(mu_);
    if (!by_key_.contains(key)) {
      lru_.push_front(Entry{key, process.uid, process.cgroup_id, p});
      by_key_[key] = lru_.begin();
      while (lru_.size() > cache_size_) {
        by_key_.erase(lru_.back().key);
        lru_.pop_back();
      }
    }
  }
  return p;
}

}  // namespace veil::agent
