#include "tools/veilctl/clone_target.h"

#include <gtest/gtest.h>

#include <string>

namespace veil::veilctl {
namespace {

constexpr char kConfig[] =
    "endpoints:\n"
    "  - name: prod\n"
    "    protocol: postgres\n"
    "    upstream: 10.20.30.40:5432\n"
    "    listen: 127.0.0.1:6543\n"
    "    aliases: [10.99.0.0/16, 192.0.2.7]\n"
    "  - name: local-db\n"
    "    protocol: postgres\n"
    "    upstream: 127.0.0.1:5433\n"
    "    listen: 0.0.0.0:6544\n";
constexpr char kFolder[] = "/run/veil-clone-test";

config::v1::Config Config() {
  auto loaded = config::LoadString(kConfig, "veil.yaml");
  auto* c = std::get_if<config::LoadedConfig>(&loaded);
  EXPECT_NE(c, nullptr);
  return c ? c->config : config::v1::Config();
}

std::string Why(const std::string& host, int port) {
  return ProtectedBy({host, port}, Config(), kFolder);
}

TEST(CloneTargetTest, AnUpstreamByAddressAliasOrCidrIsRefused) {
  EXPECT_EQ(Why("10.20.30.40", 5432), "is endpoint prod's upstream 10.20.30.40:5432");
  EXPECT_NE(Why("10.99.3.4", 5432).find("alias 10.99.0.0/16"), std::string::npos);
  EXPECT_NE(Why("192.0.2.7", 5432).find("alias 192.0.2.7"), std::string::npos);
  // Another host, or the upstream's host on another port: a sandbox may live there.
  EXPECT_EQ(Why("10.20.30.41", 5432), "");
  EXPECT_EQ(Why("10.100.0.1", 5432), "");
  EXPECT_EQ(Why("10.20.30.40", 5434), "");
}

TEST(CloneTargetTest, ALocalUpstreamIsRefusedOnEveryLocalAddressAndItsSocket) {
  EXPECT_NE(Why("127.0.0.1", 5433), "");
  EXPECT_NE(Why("localhost", 5433), "");
  EXPECT_NE(Why("::1", 5433), "");
  EXPECT_NE(Why("127.0.0.2", 5433), "");  // any loopback address reaches the same server
  // Its unix socket, in whatever folder the client names.
  EXPECT_NE(Why("/var/run/postgresql", 5433).find("its unix socket"), std::string::npos);
  EXPECT_NE(Why("/tmp", 5433), "");
  // A local server on another port is a sandbox candidate.
  EXPECT_EQ(Why("127.0.0.1", 5499), "");
  EXPECT_EQ(Why("/var/run/postgresql", 5499), "");
  // The remote upstream's port on a local socket is another server.
  EXPECT_EQ(Why("/var/run/postgresql", 5432), "");
}

TEST(CloneTargetTest, VeildsOwnListenersAreRefused) {
  EXPECT_NE(Why("127.0.0.1", 6543).find("listen address for endpoint prod"), std::string::npos);
  EXPECT_NE(Why("127.0.0.1", 6544).find("local-db"), std::string::npos);  // 0.0.0.0
  EXPECT_NE(Why(kFolder, 6543).find("its unix socket"), std::string::npos);
  EXPECT_NE(Why(std::string(kFolder) + "/", 6544), "");
  // The same port number elsewhere is not veild.
  EXPECT_EQ(Why("10.20.30.40", 6543), "");
  EXPECT_EQ(Why("/tmp", 6543), "");
}

}  // namespace
}  // namespace veil::veilctl
