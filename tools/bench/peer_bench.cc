// What naming a loopback client costs veild on each accepted connection: the uid that owns the
// client's end of a real loopback connection, by sock_diag (what veild does) and by reading
// /proc/net/tcp (the fallback, and what it did before). The text table grows with every socket
// on the host, TIME_WAIT ones included (pgbench -C leaves thousands); the state is printed.
//   build/tools/bench/peer_bench
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include "agent/peer.h"

namespace {

struct Connection {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  asio::ip::tcp::socket client{io}, server{io};
  Connection() {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

size_t TcpTableLines() {
  std::ifstream in("/proc/net/tcp");
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n > 0 ? n - 1 : 0;
}

void BM_PeerUidSockDiag(benchmark::State& state) {
  Connection c;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        veil::agent::LocalTcpPeerUid(c.server.remote_endpoint(), c.server.local_endpoint()));
  state.counters["tcp_sockets"] = static_cast<double>(TcpTableLines());
}
BENCHMARK(BM_PeerUidSockDiag);

void BM_PeerUidProcTable(benchmark::State& state) {
  Connection c;
  // Any proc_root other than "/proc" takes the text table; "/proc/." is the same folder.
  for (auto _ : state)
    benchmark::DoNotOptimize(veil::agent::LocalTcpPeerUid(c.server.remote_endpoint(),
                                                          c.server.local_endpoint(), "/proc/."));
  state.counters["tcp_sockets"] = static_cast<double>(TcpTableLines());
}
BENCHMARK(BM_PeerUidProcTable);

}  // namespace

BENCHMARK_MAIN();
