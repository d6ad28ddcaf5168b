#include "agent/principal_resolver.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace veil::agent {
namespace {

namespace fs = std::filesystem;

const std::string kId = "4f2a0c3b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";

TEST(ParseCgroupPath, Table) {
  struct Case {
    std::string path, unit, container;
  };
  const std::vector<Case> cases = {
      {"/", "", ""},
      {"", "", ""},
      {"/system.slice/etl.service", "etl.service", ""},
      {"/system.slice/etl.service/", "etl.service", ""},
      // Below a user manager the user names the folders: no unit or container from there.
      {"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service",
       ""},
      {"/user.slice/user-1000.slice/user@1000.service/app.slice/etl.service", "user@1000.service",
       ""},
      {"/user.slice/user-1000.slice/user@1000.service/user.slice/"
       "libpod-4f1c2a7e9b3d5c6a8e0f1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6.scope",
       "user@1000.service", ""},
      {"/user.slice/user-1000.slice/user@1000.service/app.slice", "user@1000.service", ""},
      {"/user.slice/user-1000.slice/session-3.scope", "", ""},
      {"/system.slice/cron.service/sub", "cron.service", ""},
      {"/.service", "", ""},
      {"/system.slice/docker-" + kId + ".scope", "", kId},
      {"/system.slice/cri-containerd-" + kId + ".scope", "", kId},
      {"/machine.slice/libpod-" + kId + ".scope", "", kId},
      {"/machine.slice/libpod-" + kId + ".scope/container", "", kId},
      {"/machine.slice/libpod-conmon-" + kId + ".scope", "", ""},
      {"/system.slice/crio-" + kId + ".scope", "", kId},
      {"/system.slice/crio-conmon-" + kId + ".scope", "", ""},
      {"/docker/" + kId, "", kId},
      {"/kubepods/burstable/pod0f4c1e6e-2b7a-4f52-9d6b-1f6a3f0c2a11/" + kId, "", kId},
      {"/kubepods.slice/kubepods-besteffort.slice/"
       "kubepods-besteffort-pod0f4c1e6e_2b7a.slice/cri-containerd-" +
           kId + ".scope",
       "", kId},
      // A bare id only counts under docker or kubepods.
      {"/system.slice/" + kId, "", ""},
      // Not 64 lowercase hex: not a container.
      {"/system.slice/docker-" + kId.substr(1) + ".scope", "", ""},
      {"/system.slice/docker-ABCDEF" + kId.substr(6) + ".scope", "", ""},
      {"/system.slice/docker-" + kId + ".service", "docker-" + kId + ".service", ""},
      // The service a container runs under on the host is kept; nothing inside is read.
      {"/system.slice/containerd.service/docker-" + kId + ".scope", "containerd.service", kId},
      {"/system.slice/docker-" + kId + ".scope/system.slice/etl.service", "", kId},
      {"/docker/" + kId + "/docker/" + std::string(64, 'b'), "", kId},
  };
  for (const Case& c : cases) {
    CgroupAttribution a = ParseCgroupPath(c.path);
    EXPECT_EQ(a.unit, c.unit) << c.path;
    EXPECT_EQ(a.container, c.container) << c.path;
  }
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "veil-resolver-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

uint64_t NsPerTick() { return 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)); }

// A /proc/<pid>/stat line whose comm has spaces and parentheses, started at `ticks`.
std::string StatLine(uint32_t pid, uint64_t ticks) {
  std::ostringstream s;
  s << pid << " (evil) (comm x) S 1 " << pid << " " << pid << " 0 -1 4194560";
  for (int field = 10; field <= 21; ++field) s << " 0";
  s << " " << ticks << " 1000 200 18446744073709551615\n";
  return s.str();
}

TEST(FindCgroup2Mount, ReadsTheCgroup2Line) {
  TempDir dir;
  WriteFile(dir.path() + "/mounts",
            "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
            "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
            "cgroup2 /sys/fs/cgroup/with\\040space cgroup2 rw 0 0\n");
  EXPECT_EQ(FindCgroup2Mount(dir.path() + "/mounts"), "/sys/fs/cgroup/with space");
  WriteFile(dir.path() + "/none", "proc /proc proc rw 0 0\n");
  EXPECT_EQ(FindCgroup2Mount(dir.path() + "/none"), std::nullopt);
}

TEST(PrincipalResolver, ExeOnlyFromTheSameProcess) {
  TempDir proc, cg;
  WriteFile(proc.path() + "/4242/stat", StatLine(4242, 123456));
  fs::create_symlink("/usr/bin/etl-loader", proc.path() + "/4242/exe");
  PrincipalResolver r({.proc_root = proc.path(), .cgroup_root = cg.path()});

  // Start times in full ns round down to the tick /proc shows.
  EXPECT_EQ(r.Executable(4242, 123456 * NsPerTick()), "/usr/bin/etl-loader");
  EXPECT_EQ(r.Executable(4242, 123456 * NsPerTick() + NsPerTick() - 1), "/usr/bin/etl-loader");
  EXPECT_EQ(r.Executable(4242, 123457 * NsPerTick()), std::nullopt);  // pid reused
  EXPECT_EQ(r.Executable(4243, 123456 * NsPerTick()), std::nullopt);  // gone

  bpf::FlowProcess fp{.pid = 4242, .tgid = 4242, .uid = 0, .start_time_ns = 123456 * NsPerTick()};
  grants::Principal p = r.Resolve(fp);
  EXPECT_EQ(p.user, "root");
  EXPECT_EQ(p.exe, "/usr/bin/etl-loader");

  // Same pid, another start time: the record's uid holds, the new process lends no exe.
  fp.start_time_ns = 999 * NsPerTick();
  p = r.Resolve(fp);
  EXPECT_EQ(p.user, "root");
  EXPECT_EQ(p.exe, "");
}

TEST(PrincipalResolver, CgroupFromProcThenFromAWalk) {
  TempDir proc, cg;
  fs::create_directories(cg.path() + "/system.slice/etl.service");
  fs::create_directories(cg.path() + "/system.slice/docker-" + kId + ".scope");
  struct stat st {};
  ASSERT_EQ(::stat((cg.path() + "/system.slice/etl.service").c_str(), &st), 0);
  const uint64_t etl = st.st_ino;
  ASSERT_EQ(::stat((cg.path() + "/system.slice/docker-" + kId + ".scope").c_str(), &st), 0);
  const uint64_t docker = st.st_ino;
  WriteFile(proc.path() + "/77/stat", StatLine(77, 5));
  WriteFile(proc.path() + "/77/cgroup", "1:cpu:/\n0::/system.slice/etl.service\n");

  PrincipalResolver r({.proc_root = proc.path(), .cgroup_root = cg.path() + "/"});
  EXPECT_EQ(r.CgroupPath(etl, 77), "/system.slice/etl.service");
  // /proc names another cgroup than the flow's: the walk finds the right one.
  EXPECT_EQ(r.CgroupPath(docker, 77), "/system.slice/docker-" + kId + ".scope");
  EXPECT_EQ(r.CgroupPath(docker, 0), "/system.slice/docker-" + kId + ".scope");

  bpf::FlowProcess fp{.pid = 78, .tgid = 78, .uid = 0, .start_time_ns = 1, .cgroup_id = docker};
  grants::Principal p = r.Resolve(fp);
  EXPECT_EQ(p.container, kId);
  EXPECT_EQ(p.unit, "");
  EXPECT_TRUE(p.Matches("container:" + kId));

  // A removed cgroup is not found again, and its path is not handed to a new cgroup.
  fs::remove(cg.path() + "/system.slice/etl.service");
  fs::create_directories(cg.path() + "/system.slice/etl.service");
  EXPECT_EQ(r.CgroupPath(etl + 1'000'000, 0), std::nullopt);
  ASSERT_EQ(::stat((cg.path() + "/system.slice/etl.service").c_str(), &st), 0);
  if (st.st_ino != etl) EXPECT_EQ(r.CgroupPath(etl, 0), std::nullopt);
}

TEST(PrincipalResolver, CacheIsBoundedAndKeyedByStartTime) {
  TempDir proc, cg;
  for (uint32_t pid = 1; pid <= 3; ++pid) {
    WriteFile(proc.path() + "/" + std::to_string(pid) + "/stat", StatLine(pid, 10));
    fs::create_symlink("/bin/p" + std::to_string(pid),
                       proc.path() + "/" + std::to_string(pid) + "/exe");
  }
  PrincipalResolver r({.proc_root = proc.path(), .cgroup_root = cg.path(), .cache_size = 2});
  auto fp = [](uint32_t pid) {
    return bpf::FlowProcess{.pid = pid, .tgid = pid, .uid = 0, .start_time_ns = 10 * NsPerTick()};
  };
  EXPECT_EQ(r.Resolve(fp(1)).exe, "/bin/p1");
  // Cached: the answer outlives the process.
  fs::remove_all(proc.path() + "/1");
  EXPECT_EQ(r.Resolve(fp(1)).exe, "/bin/p1");
  // Two more processes evict pid 1 (capacity 2), whose process is now gone.
  EXPECT_EQ(r.Resolve(fp(2)).exe, "/bin/p2");
  EXPECT_EQ(r.Resolve(fp(3)).exe, "/bin/p3");
  EXPECT_EQ(r.Resolve(fp(1)).exe, "");
}

// Real cgroups: the test makes cgroups under the cgroup2 mount and moves a child into each.
class RealCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* ci = std::getenv("CI");
    const bool must_run = ci && std::string(ci) == "true";
    std::string why;
    auto mount = FindCgroup2Mount();
    if (::geteuid() != 0) {
      why = "needs root to create cgroups";
    } else if (!mount) {
      why = "no cgroup2 file system is mounted";
    }
    if (!why.empty()) {
      if (must_run) FAIL() << "CI=true and this test cannot run: " << why;
      GTEST_SKIP() << why;
    }
    root_ = *mount;
    base_ = root_ + "/veil-test-" + std::to_string(::getpid());
    std::error_code ec;
    fs::create_directories(base_, ec);
    if (ec) {
      if (must_run) FAIL() << "CI=true: cannot create " << base_ << ": " << ec.message();
      GTEST_SKIP() << "cannot create " << base_ << ": " << ec.message();
    }
    // Where this process lives now, to move children back before removing the test cgroups.
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line))
      if (line.starts_with("0::")) home_ = root_ + (line.substr(3) == "/" ? "" : line.substr(3));
  }

  void TearDown() override {
    for (pid_t child : children_) {
      std::ofstream(home_ + "/cgroup.procs") << child;
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    if (base_.empty()) return;
    // rmdir innermost first; cgroup directories cannot be removed with their control files.
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(base_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory()) dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    EXPECT_EQ(::rmdir(base_.c_str()), 0) << base_ << ": " << std::strerror(errno);
  }

  // A child that waits until killed, moved into cgroup `rel` (created under base_).
  // Returns its pid and the cgroup's id.
  std::pair<pid_t, uint64_t> ChildIn(const std::string& rel) {
    const std::string dir = base_ + "/" + rel;
    fs::create_directories(dir);
    pid_t child = ::fork();
    if (child == 0) {
      while (true) ::pause();
    }
    children_.push_back(child);
    std::ofstream procs(dir + "/cgroup.procs");
    procs << child;
    procs.close();
    EXPECT_TRUE(procs) << "moving " << child << " into " << dir;
    struct stat st {};
    EXPECT_EQ(::stat(dir.c_str(), &st), 0);
    return {child, st.st_ino};
  }

  static uint64_t StartTimeNs(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    std::istringstream rest(stat.substr(stat.rfind(')') + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) rest >> field;
    return std::stoull(field) * NsPerTick();
  }

  std::string root_, base_, home_;
  std::vector<pid_t> children_;
};

TEST_F(RealCgroups, UnitAndContainerOfAForkedChild) {
  PrincipalResolver resolver;
  ASSERT_EQ(resolver.cgroup_root(), root_);
  const std::string self_exe = fs::read_symlink("/proc/self/exe").string();

  auto [etl_pid, etl_id] = ChildIn("system.slice/etl.service");
  bpf::FlowProcess fp{.pid = uint32_t(etl_pid),
                      .tgid = uint32_t(etl_pid),
                      .uid = 0,
                      .gid = 0,
                      .start_time_ns = StartTimeNs(etl_pid),
                      .cgroup_id = etl_id,
                      .comm = "etl"};
  grants::Principal p = resolver.Resolve(fp);
  EXPECT_EQ(p.unit, "etl.service");
  EXPECT_EQ(p.container, "");
  EXPECT_EQ(p.exe, self_exe);
  EXPECT_EQ(p.user, "root");
  EXPECT_TRUE(p.Matches("unit:etl.service"));
  EXPECT_EQ(resolver.CgroupPath(etl_id, etl_pid),
            "/veil-test-" + std::to_string(::getpid()) + "/system.slice/etl.service");

  auto [docker_pid, docker_id] = ChildIn("docker-" + kId + ".scope");
  fp = {.pid = uint32_t(docker_pid),
        .tgid = uint32_t(docker_pid),
        .uid = 0,
        .start_time_ns = StartTimeNs(docker_pid),
        .cgroup_id = docker_id};
  p = resolver.Resolve(fp);
  EXPECT_EQ(p.container, kId);
  EXPECT_EQ(p.unit, "");
  EXPECT_TRUE(p.Matches("container:" + kId));

  // The pid now names a process with another start time (as after reuse): the flow's cgroup
  // still holds (found by a walk), its exe does not.
  fp.start_time_ns += 1'000'000'000ull * 3600;
  fp.tgid = fp.pid = 0;
  p = PrincipalResolver().Resolve(fp);
  EXPECT_EQ(p.container, kId);
  fp.tgid = fp.pid = uint32_t(docker_pid);
  p = PrincipalResolver().Resolve(fp);
  EXPECT_EQ(p.container, kId);
  EXPECT_EQ(p.exe, "");
}

}  // namespace
}  // namespace veil::agent
