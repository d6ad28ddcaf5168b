// Who is on the other end of a local connection, from the kernel — never from what the client
// claims (SPEC §2). Unix sockets: SO_PEERCRED. Loopback TCP (before the eBPF flow layer, or
// with `redirect: off`): the kernel's socket table (/proc/net/tcp, tcp6) names the uid that owns
// the client's end, found by its address and port.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <optional>
#include <string>

namespace veil::agent {

// The uid owning the TCP socket whose local end is `client` and remote end `server`, if both are
// on this host. Reads /proc/net/tcp or /proc/net/tcp6 (under `proc_root`, for tests).
std::optional<uid_t> LocalTcpPeerUid(const asio::ip::tcp::endpoint& client,
                                     const asio::ip::tcp::endpoint& server,
                                     const std::string& proc_root = "/proc");

}  // namespace veil::agent
