#include "agent/peer.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/result.h"

namespace veil::agent {
namespace {

// The kernel prints each 32-bit word of an address as it sits in memory, in %08X.
std::string HexAddress(const asio::ip::address& a) {
  char out[33] = {};
  auto word = [&](const unsigned char* b, int i) {
    uint32_t w;
    std::memcpy(&w, b, 4);
    std::snprintf(out + 8 * i, 9, "%08X", w);
  };
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    word(b.data(), 0);
  } else {
    auto b = a.to_v6().to_bytes();
    for (int i = 0; i < 4; ++i) word(b.data() + 4 * i, i);
  }
  return out;
}

std::string HexEndpoint(const asio::ip::tcp::endpoint& e) {
  char port[8];
  std::snprintf(port, sizeof(port), ":%04X", e.port());
  return HexAddress(e.address()) + port;
}

// The socket table as text (/proc/net/tcp, tcp6): read line by line, so its cost grows with
// every socket on the host, TIME_WAIT ones included. The fallback where netlink is missing.
std::optional<uid_t> ProcTableUid(const asio::ip::tcp::endpoint& client,
                                  const asio::ip::tcp::endpoint& server,
                                  const std::string& proc_root) {
  const bool v6 = client.address().is_v6();
  std::ifstream table(proc_root + (v6 ? "/net/tcp6" : "/net/tcp"));
  if (!table) return std::nullopt;
  const std::string local = HexEndpoint(client), remote = HexEndpoint(server);
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    char sl[16], loc[64], rem[64], st[8], queues[40], timer[40], retr[16];
    unsigned long uid = 0;
    if (std::sscanf(line.c_str(), "%15s %63s %63s %7s %39s %39s %15s %lu", sl, loc, rem, st, queues,
                    timer, retr, &uid) != 8)
      continue;
    if (local == loc && remote == rem) return static_cast<uid_t>(uid);
  }
  return std::nullopt;
}

// An IPv4 client of a dual-stack listener is seen as ::ffff:a.b.c.d; its own socket is IPv4.
asio::ip::tcp::endpoint Unmapped(const asio::ip::tcp::endpoint& e) {
  if (e.address().is_v6() && e.address().to_v6().is_v4_mapped())
    return {asio::ip::make_address_v4(asio::ip::v4_mapped, e.address().to_v6()), e.port()};
  return e;
}

void PutAddress(const asio::ip::address& a, __be32 out[4]) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::memcpy(out, b.data(), 4);
  } else {
    auto b = a.to_v6().to_bytes();
    std::memcpy(out, b.data(), 16);
  }
}

// The socket with exactly this 4-tuple, asked of the kernel over NETLINK_SOCK_DIAG: one lookup
// in the kernel's hash tables, whatever the size of the socket table. nullopt: no such socket;
// an error (no sock_diag here): the caller falls back to the text table.
Result<std::optional<uid_t>> SockDiagUid(const asio::ip::tcp::endpoint& client,
                                         const asio::ip::tcp::endpoint& server) {
  if (client.address().is_v4() != server.address().is_v4()) return std::optional<uid_t>();
  const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return Error{std::strerror(errno)};
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = client.address().is_v4() ? AF_INET : AF_INET6;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_sport = htons(client.port());
  msg.req.id.idiag_dport = htons(server.port());
  PutAddress(client.address(), msg.req.id.idiag_src);
  PutAddress(server.address(), msg.req.id.idiag_dst);
  msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (::send(nl, &msg, sizeof(msg), 0) != static_cast<ssize_t>(sizeof(msg))) {
    Error e{std::strerror(errno)};
    ::close(nl);
    return e;
  }
  alignas(nlmsghdr) char buf[8192];
  const ssize_t got = ::recv(nl, buf, sizeof(buf), 0);
  const int recv_errno = errno;
  ::close(nl);
  if (got < 0) return Error{std::strerror(recv_errno)};
  int n = static_cast<int>(got);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (err->error == -ENOENT) return std::optional<uid_t>();
      return Error{std::strerror(-err->error)};
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    return std::optional<uid_t>(m->idiag_uid);
  }
  return std::optional<uid_t>();
}

}  // namespace

std::optional<uid_t> LocalTcpPeerUid(const asio::ip::tcp::endpoint& mapped_client,
                                     const asio::ip::tcp::endpoint& mapped_server,
                                     const std::string& proc_root) {
  const asio::ip::tcp::endpoint client = Unmapped(mapped_client);
  const asio::ip::tcp::endpoint server = Unmapped(mapped_server);
  if (proc_root == "/proc") {
    auto uid = SockDiagUid(client, server);
    if (uid.ok()) return *uid;
  }
  return ProcTableUid(client, server, proc_root);
}

}  // namespace veil::agent
