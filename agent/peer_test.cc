#include "agent/peer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace veil::agent {
namespace {

// A real loopback connection: the kernel's table names this process's uid for the client end.
TEST(LocalTcpPeerUid, FindsTheOwnerOfALoopbackConnection) {
  asio::io_context io;
  for (const char* host : {"127.0.0.1", "::1"}) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address(host), 0});
    asio::ip::tcp::socket client(io), server(io);
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    auto uid = LocalTcpPeerUid(server.remote_endpoint(), server.local_endpoint());
    ASSERT_TRUE(uid.has_value()) << host;
    EXPECT_EQ(*uid, ::geteuid()) << host;
    // The server's own end is not the peer.
    auto wrong = LocalTcpPeerUid(server.local_endpoint(), server.remote_endpoint());
    EXPECT_TRUE(wrong.has_value());  // it exists, owned by us too: the lookup is direction-exact
    asio::ip::tcp::endpoint nobody(asio::ip::make_address(host), 1);
    EXPECT_FALSE(LocalTcpPeerUid(nobody, server.local_endpoint()).has_value()) << host;
  }
}

// The owner of the client's end, not of the server's: a client running as another user (nobody)
// through a dual-stack listener, as veild's TCP listeners see IPv4 clients.
TEST(LocalTcpPeerUid, NamesAnotherUsersClientThroughADualStackListener) {
  if (::geteuid() != 0) {
    if (std::getenv("CI") != nullptr) FAIL() << "CI runs as root";
    GTEST_SKIP() << "needs root to run a client as another user";
  }
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("::"), 0});
  const uint16_t port = acceptor.local_endpoint().port();
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    asio::io_context cio;
    asio::ip::tcp::socket s(cio);
    std::error_code ec;
    s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    char b;
    if (!ec) ::read(s.native_handle(), &b, 1);  // until the parent closes
    ::_exit(ec ? 3 : 0);
  }
  asio::ip::tcp::socket server(io);
  acceptor.accept(server);
  ASSERT_TRUE(server.remote_endpoint().address().to_v6().is_v4_mapped());
  auto uid = LocalTcpPeerUid(server.remote_endpoint(), server.local_endpoint());
  server.close();
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(uid.has_value());
  EXPECT_EQ(*uid, 65534u);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace veil::agent
