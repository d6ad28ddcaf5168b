#include "agent/peer.h"

#include <cstdio>
#include <cstring>
#include <fstream>

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

}  // namespace

std::optional<uid_t> LocalTcpPeerUid(const asio::ip::tcp::endpoint& client,
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

}  // namespace veil::agent
