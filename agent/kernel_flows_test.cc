#include "agent/kernel_flows.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace veil::agent {
namespace {

TEST(CanonicalAddress, MappedAndBracketedFormsMatch) {
  EXPECT_EQ(CanonicalAddress("::ffff:127.0.0.1:5432"), "127.0.0.1:5432");
  EXPECT_EQ(CanonicalAddress("[::ffff:127.0.0.1]:5432"), "127.0.0.1:5432");
  EXPECT_EQ(CanonicalAddress("[::1]:5432"), "[::1]:5432");
  EXPECT_EQ(CanonicalAddress("10.0.0.5:5432"), "10.0.0.5:5432");
}

// veild exempts its own cgroup from the redirect only when it is a service of its own with no
// other process in it: exempting a shared cgroup would open the databases to the others.
TEST(OwnServiceCgroup, OnlyASoleProcessServiceIsExempted) {
  if (::geteuid() != 0) {
    if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
      GTEST_FAIL() << "needs root to create cgroups";
    GTEST_SKIP() << "needs root to create cgroups";
  }
  auto root = bpf::CgroupV2Root();
  ASSERT_TRUE(root.ok()) << root.error().message;
  const std::filesystem::path base =
      std::filesystem::path(*root) / ("veil-test-own-" + std::to_string(::getpid()));
  const auto unit = base / "system.slice" / "veil.service";
  const auto shared = base / "system.slice" / "shared.service";
  const auto slice = base / "system.slice";
  std::filesystem::create_directories(unit);
  std::filesystem::create_directories(shared);
  auto move_self = [](const std::filesystem::path& cg) {
    std::ofstream(cg / "cgroup.procs") << ::getpid();
  };
  // Child 1: alone in veil.service → its cgroup id. Exit code 0 when as expected.
  pid_t alone = ::fork();
  if (alone == 0) {
    move_self(unit);
    auto id = OwnServiceCgroup();
    auto want = bpf::CgroupIdOf(unit.string());
    std::_Exit(id && want.ok() && *id == *want ? 0 : 1);
  }
  // Child 2: shares shared.service with a sleeping sibling → nothing exempted.
  pid_t sibling = ::fork();
  if (sibling == 0) {
    move_self(shared);
    ::pause();
    std::_Exit(0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pid_t crowded = ::fork();
  if (crowded == 0) {
    move_self(shared);
    std::_Exit(OwnServiceCgroup().has_value() ? 1 : 0);
  }
  int st = 0;
  ::waitpid(alone, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "a sole veil.service was not exempted";
  ::waitpid(crowded, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "a shared service cgroup was exempted";
  ::kill(sibling, SIGKILL);
  ::waitpid(sibling, &st, 0);
  for (const auto& d : {unit, shared, slice, base}) {
    std::error_code ec;
    std::filesystem::remove(d, ec);
  }
  EXPECT_FALSE(std::filesystem::exists(base));
}

}  // namespace
}  // namespace veil::agent
