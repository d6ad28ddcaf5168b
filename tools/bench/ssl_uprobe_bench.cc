// What the TLS tracer's uprobes (bpf/tls.bpf.c) cost a traced process: one SSL_write of 64
// bytes (and the SSL_read that takes it) over an in-process TLS connection on a socketpair,
// without the probes, with them attached but the process not watched (filtered in the kernel),
// and with the process watched (plaintext copied into the ring buffer). Prints a table; needs
// root for the attached rows.
//
//   build-tls/agent/bpf/tls/ssl_uprobe_bench [iterations]
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/bpf/tls_tracer.h"
#include "tls/context.h"
#include "tls/host_ca.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 32;  // writes per batch: 32 records fit the socket buffer
constexpr int kPayload = 64;

struct Pair {
  SSL* client = nullptr;
  SSL* server = nullptr;
};

bool Handshake(Pair& p) {
  for (int i = 0; i < 1000; ++i) {
    int c = SSL_do_handshake(p.client);
    int s = SSL_do_handshake(p.server);
    if (c == 1 && s == 1) return true;
  }
  return false;
}

struct Result {
  double write_ns;
  double read_ns;
};

// Median over batches of the per-call time of SSL_write and SSL_read.
Result Measure(Pair& p, int iterations, veil::agent::bpf::TlsTracer* tracer) {
  char out[kPayload];
  std::fill(out, out + kPayload, 'q');
  char in[kPayload];
  std::vector<double> writes, reads;
  for (int done = 0; done < iterations; done += kBatch) {
    auto t0 = Clock::now();
    for (int i = 0; i < kBatch; ++i) {
      if (SSL_write(p.client, out, kPayload) != kPayload) std::abort();
    }
    auto t1 = Clock::now();
    for (int i = 0; i < kBatch; ++i) {
      if (SSL_read(p.server, in, kPayload) != kPayload) std::abort();
    }
    auto t2 = Clock::now();
    writes.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / kBatch);
    reads.push_back(std::chrono::duration<double, std::nano>(t2 - t1).count() / kBatch);
    if (tracer) (void)tracer->Poll(0);  // drain outside the timed part
  }
  std::sort(writes.begin(), writes.end());
  std::sort(reads.begin(), reads.end());
  return {writes[writes.size() / 2], reads[reads.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 200000;
  char dir[] = "/tmp/veil-ssl-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  auto ca = veil::tls::HostCa::LoadOrCreate(std::string(dir) + "/ca");
  if (!ca.ok()) return std::fprintf(stderr, "%s\n", ca.error().message.c_str()), 1;
  auto leaf = ca->Issue({"localhost"}, {"127.0.0.1"});
  if (!leaf.ok()) return std::fprintf(stderr, "%s\n", leaf.error().message.c_str()), 1;
  auto server_ctx = veil::tls::MakeClientFacingContext(*leaf);
  if (!server_ctx.ok()) return std::fprintf(stderr, "%s\n", server_ctx.error().message.c_str()), 1;
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());

  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) return 1;
  Pair p;
  p.client = SSL_new(client_ctx);
  p.server = SSL_new(server_ctx->get());
  SSL_set_fd(p.client, fds[0]);
  SSL_set_fd(p.server, fds[1]);
  SSL_set_connect_state(p.client);
  SSL_set_accept_state(p.server);
  if (!Handshake(p)) return std::fprintf(stderr, "handshake failed\n"), 1;

  std::printf("SSL_write/SSL_read of %d bytes, %d calls each, median per call\n", kPayload,
              iterations);
  std::printf("%-36s %12s %12s\n", "mode", "write ns", "read ns");
  Measure(p, iterations / 4, nullptr);  // warm up
  Result base = Measure(p, iterations, nullptr);
  std::printf("%-36s %12.0f %12.0f\n", "no uprobes", base.write_ns, base.read_ns);

  uint64_t chunks = 0;
  auto tracer = veil::agent::bpf::TlsTracer::Start({}, [&](const auto&) { ++chunks; });
  if (!tracer.ok()) {
    std::fprintf(stderr, "tracer: %s\n", tracer.error().message.c_str());
  } else {
    // The tracer never traces its own process (self_tgid): children measure while it runs.
    for (bool watch : {false, true}) {
      int go[2];
      if (pipe(go) != 0) return 1;
      std::fflush(stdout);
      pid_t child = fork();
      if (child == 0) {
        char c;
        if (read(go[0], &c, 1) != 1) _exit(1);
        Result r = Measure(p, iterations, nullptr);
        std::printf("%-36s %12.0f %12.0f\n",
                    watch ? "uprobes attached, process watched" : "uprobes attached, unwatched",
                    r.write_ns, r.read_ns);
        std::fflush(stdout);
        _exit(0);
      }
      if (watch) (void)(*tracer)->Watch(static_cast<uint32_t>(child));
      if (write(go[1], "x", 1) != 1) return 1;
      int status = 0;
      while (waitpid(child, &status, WNOHANG) == 0) (void)(*tracer)->Poll(10);
      (void)(*tracer)->Poll(10);
      close(go[0]);
      close(go[1]);
    }
    auto stats = (*tracer)->stats();
    std::printf("chunks delivered %llu, lost %llu, unpaired %llu\n",
                static_cast<unsigned long long>(chunks),
                static_cast<unsigned long long>(stats.lost),
                static_cast<unsigned long long>(stats.unpaired));
  }
  SSL_free(p.client);
  SSL_free(p.server);
  SSL_CTX_free(client_ctx);
  std::string rm = std::string("rm -rf ") + dir;
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
