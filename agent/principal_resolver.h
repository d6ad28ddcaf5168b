// Who made a TCP flow (SPEC §2): turns the process the eBPF layer recorded at connect() time
// (bpf::FlowProcess) into a grants::Principal — user and groups from the uid, the executable
// from /proc/<tgid>/exe, and the systemd unit or container from the cgroup v2 path.
//
//   PrincipalResolver resolver;                       // /proc, cgroup2 mount from /proc/mounts
//   grants::Principal p = resolver.Resolve(event.process);
//   p.Matches("unit:etl.service");
//
// The uid and cgroup id come from the kernel with the flow and always hold. The exe is read from
// /proc only while the process that made the flow is still alive: its start time (/proc/<tgid>/stat
// field 22) must equal the flow's start_time_ns, read through one open /proc/<tgid> directory, so
// a pid reused by another process never lends it its executable (exe is then left empty).
//
// The cgroup id is the inode number of the cgroup's directory in the cgroup2 mount. It is mapped
// to a path through /proc/<tgid>/cgroup when that process is alive and still in that cgroup (one
// stat), otherwise by a walk of the cgroup2 tree whose results are cached. cgroup ids are never
// reused while the system is up, so an id not found by a walk is remembered as gone.
//
// Thread-safety: Resolve() may be called from any thread (one mutex guards the caches; /proc and
// passwd reads happen outside it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "agent/bpf/flow_event.h"
#include "agent/grants/principal.h"

namespace veil::agent {

// What a cgroup v2 path says about a process. Accepted container forms (the id is 64 lowercase
// hex characters; anything else is not a container):
//   docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope  (systemd
//       cgroup driver; crio-conmon-*/libpod-conmon-* are the runtime's monitor, not a container)
//   /docker/<id>                          (cgroupfs driver: a bare id right under "docker")
//   /kubepods*/…/<id>                     (cgroupfs driver: a bare id anywhere under kubepods*)
// The outermost container component wins and nothing below it is read: a container may own
// (be delegated) its subtree and could name a directory after any unit or container there.
// `unit` is the innermost `*.service` component above that point; `.scope`, `.slice` and other
// components are not units. A user manager's subtree (user@UID.service/…) is delegated to that
// user, who names its folders: such a path gives unit user@UID.service and nothing below it
// (no unit, no container), so a user cannot pose as unit:etl.service or a container. Rootless
// containers are therefore not container: principals.
struct CgroupAttribution {
  std::string unit;
  std::string container;
};
CgroupAttribution ParseCgroupPath(std::string_view path);

// The mount point of the cgroup2 file system per a mounts table (/proc/mounts format); nullopt if
// none is mounted.
std::optional<std::string> FindCgroup2Mount(const std::string& mounts_file = "/proc/mounts");

class PrincipalResolver {
 public:
  struct Options {
    std::string proc_root = "/proc";
    // The cgroup2 mount; empty: found with FindCgroup2Mount(proc_root + "/mounts"). Without one,
    // principals get no unit or container.
    std::string cgroup_root;
    size_t cache_size = 4096;  // processes remembered by (tgid, start time)
  };

  PrincipalResolver() : PrincipalResolver(Options{}) {}
  explicit PrincipalResolver(Options options);

  // The principal of the process behind a flow. Never fails: what cannot be found stays empty
  // (exe, unit, container), and a uid without a passwd entry gives Display() "uid:N".
  grants::Principal Resolve(const bpf::FlowProcess& process);

  // The process record of a live local peer known by its pid (SO_PEERCRED on a unix socket):
  // start time from /proc/<pid>/stat and cgroup id from /proc/<pid>/cgroup, so Resolve() can
  // attach its unit, container and exe. nullopt if the process is gone.
  std::optional<bpf::FlowProcess> ProcessOf(uint32_t pid, uint32_t uid, uint32_t gid) const;

  // The path of cgroup `id` relative to the cgroup2 mount ("/system.slice/etl.service"; "/" for
  // the root), trying /proc/<tgid>/cgroup first when tgid != 0; nullopt if no such cgroup exists.
  std::optional<std::string> CgroupPath(uint64_t id, uint32_t tgid);

  // The executable of `tgid` if that process still has start time `start_time_ns`; nullopt if it
  // is gone or the pid now belongs to another process.
  std::optional<std::string> Executable(uint32_t tgid, uint64_t start_time_ns) const;

  const std::string& cgroup_root() const { return cgroup_root_; }

 private:
  struct Key {
    uint32_t tgid;
    uint64_t start_time_ns;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<uint64_t>()(k.start_time_ns * 1'000'003 ^ k.tgid);
    }
  };
  struct Entry {
    Key key;
    uint32_t uid;
    uint64_t cgroup_id;
    grants::Principal principal;
  };

  // The cgroup path from /proc/<tgid>/cgroup if its directory's inode is `id`.
  std::optional<std::string> CgroupPathFromProc(uint64_t id, uint32_t tgid) const;
  void WalkCgroupsLocked();

  const std::string proc_root_;
  std::string cgroup_root_;
  const size_t cache_size_;

  std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> by_key_;
  std::unordered_map<uint64_t, std::string> cgroup_paths_;  // id → path, from walks and /proc
  std::unordered_set<uint64_t> cgroups_gone_;               // ids a walk did not find
};

}  // namespace veil::agent
