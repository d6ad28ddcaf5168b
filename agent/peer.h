// Who is on the other end of a local connection, from the kernel — never from what the client
// claims (SPEC §2). Unix sockets: SO_PEERCRED. Loopback TCP (before the eBPF flow layer, or
// with `redirect: off`): the kernel names the uid that owns the client's end, found by its exact
// 4-tuple over NETLINK_SOCK_DIAG (one hash lookup, however many sockets the host has; reading
// /proc/net/tcp instead cost milliseconds per connection once pgbench -C had left thousands of
// TIME_WAIT sockets), or from /proc/net/tcp, tcp6 where sock_diag is unavailable.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <optional>
#include <string>

namespace veil::agent {

// The uid owning the TCP socket whose local end is `client` and remote end `server`, if both are
// on this host (IPv4-mapped IPv6 addresses are taken as the IPv4 ones). Asks sock_diag; with a
// `proc_root` other than /proc (tests) or without sock_diag, reads <proc_root>/net/tcp or tcp6.
std::optional<uid_t> LocalTcpPeerUid(const asio::ip::tcp::endpoint& client,
                                     const asio::ip::tcp::endpoint& server,
                                     const std::string& proc_root = "/proc");

}  // namespace veil::agent
