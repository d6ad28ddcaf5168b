#include "agent/peer.h"

#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace veil::agent
