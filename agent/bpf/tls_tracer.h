// TLS plaintext of chosen processes, as the client's own libssl sees it: the eBPF half
// (bpf/tls.bpf.c) puts uprobes on libssl.so.3's SSL_read, SSL_write, SSL_read_ex, SSL_write_ex
// and SSL_free; this module owns that program's lifecycle and turns its ring-buffer events into
// TlsChunks. veild uses it for `access: observe` endpoints, where nothing is redirected: the
// flow layer reports a kObserved flow, veild calls Watch(tgid) for that client process, and the
// chunks feed PgObserver (pg_observer.h).
//
//   auto tracer = TlsTracer::Start({}, [&](const TlsChunk& c) { observer.OnChunk(c); });
//   if (!tracer.ok()) return Error{tracer.error().message};  // names the missing capability
//   (*tracer)->Watch(flow.process.tgid);
//   for (;;) (*tracer)->Poll(100);                          // delivers on this thread
//
// Filtering: only processes in a BPF map of watched tgids are traced (SetWatchAll(true) traces
// every process, for debugging). The check runs in the kernel at SSL_* entry, so a busy TLS
// service on the same host never wakes userspace; it still pays the uprobe and uretprobe traps
// (the return probe is armed before the filter runs; uprobe sessions, Linux 6.10 with libbpf
// 1.5, could skip it) — about 6 us per SSL call on the 2-vCPU VM measured with
// tools/bench/ssl_uprobe_bench.cc, against 2.3 us for the call itself. A tgid rather than a
// per-socket filter, because the SSL* is only paired with its socket inside the call; the first
// plaintext of a connection may predate Watch(), which PgObserver tolerates (it resyncs
// mid-stream).
//
// Pairing (see bpf/tls.bpf.c): the socket is the one the first read/write-family syscall names
// while an SSL_* call is active on the same thread; calls served from buffered records use the
// cached SSL* -> fd pairing. The remote address is read from the kernel's socket at that moment;
// if that failed, it is resolved from /proc/<tgid>/fd/<fd> and /proc/<tgid>/net/tcp{,6}, cached
// per (tgid, fd, SSL*) until SSL_free.
//
// Needs CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8), plus CAP_SYS_ADMIN once to
// mount tracefs if it is not mounted. Errors name what is missing and the fix.
//
// Thread-safety: a TlsTracer is used from one thread (Poll, Watch, stats may not race).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/result.h"

namespace veil::agent::bpf {

enum class TlsDirection : uint8_t {
  kRead,   // plaintext the traced process received from its peer
  kWrite,  // plaintext the traced process sent to its peer
  kClose,  // SSL_free: the connection's state may be dropped; `data` is empty
};

struct TlsChunk {
  uint32_t tgid = 0;
  uint32_t pid = 0;  // thread
  uint32_t uid = 0;
  int32_t fd = -1;
  uint64_t ssl = 0;  // the SSL* in the traced process: with tgid, names the connection
  TlsDirection direction = TlsDirection::kRead;
  std::string data;
  // The SSL call returned more than was captured: bytes after `data` are missing from the stream.
  bool truncated = false;
  std::string remote;  // the socket's peer, "1.2.3.4:5432" or "[::1]:5432"; "" if unknown
  std::string comm;    // the thread's name, up to 15 characters
  uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
};

using TlsChunkCallback = std::function<void(const TlsChunk&)>;

// What PgObserver and the agent need from a source of chunks; tests use SyntheticTlsSource.
class TlsChunkSource {
 public:
  virtual ~TlsChunkSource() = default;
  // Starts/stops tracing the process `tgid` (all its threads).
  virtual Status Watch(uint32_t tgid) = 0;
  virtual Status Unwatch(uint32_t tgid) = 0;
  // Waits up to `timeout_ms` for chunks and delivers each to the callback, on the calling thread.
  // Returns how many were delivered.
  virtual Result<int> Poll(int timeout_ms) = 0;
};

// Replays chunks pushed by a test, in order, to the callback (only those of watched tgids).
class SyntheticTlsSource final : public TlsChunkSource {
 public:
  explicit SyntheticTlsSource(TlsChunkCallback callback) : callback_(std::move(callback)) {}
  void Push(TlsChunk chunk) { queue_.push_back(std::move(chunk)); }
  Status Watch(uint32_t tgid) override;
  Status Unwatch(uint32_t tgid) override;
  Result<int> Poll(int timeout_ms) override;

 private:
  TlsChunkCallback callback_;
  std::deque<TlsChunk> queue_;
  std::map<uint32_t, bool> watched_;
};

struct TlsTracerOptions {
  // libssl files to probe. Empty: FindLibssl(). Several paths naming one file are probed once.
  std::vector<std::string> libssl_paths;
  size_t ring_buffer_bytes = size_t{4} << 20;  // power of two
  std::string tracefs = "/sys/kernel/tracing";
  std::string proc_root = "/proc";  // for the /proc fallback of address resolution
};

struct TlsTracerStats {
  uint64_t events = 0;         // ring-buffer events written by the kernel side
  uint64_t lost = 0;           // dropped because the ring buffer was full
  uint64_t unpaired = 0;       // SSL calls whose socket was never named (not delivered)
  uint64_t read_failures = 0;  // plaintext not readable from the process's memory
};

class TlsTracer final : public TlsChunkSource {
 public:
  // Mounts tracefs if needed, opens/loads the eBPF object, attaches the syscall tracepoints and
  // the uprobes on every libssl file for all processes. Nothing is traced until Watch().
  static Result<std::unique_ptr<TlsTracer>> Start(TlsTracerOptions options,
                                                  TlsChunkCallback callback);
  ~TlsTracer() override;
  TlsTracer(const TlsTracer&) = delete;
  TlsTracer& operator=(const TlsTracer&) = delete;

  Status Watch(uint32_t tgid) override;
  Status Unwatch(uint32_t tgid) override;
  Result<int> Poll(int timeout_ms) override;
  // Trace every process on the host but veild itself. For debugging and tests.
  void SetWatchAll(bool all);

  TlsTracerStats stats() const;
  // The libssl files the uprobes are on.
  const std::vector<std::string>& libraries() const { return libraries_; }

 private:
  struct Impl;
  explicit TlsTracer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> libraries_;
};

// The libssl.so.3 files on this host: `ldconfig -p` first, then the usual library folders.
// Distinct files only (symlinks resolved). Error if none exists.
Result<std::vector<std::string>> FindLibssl();

// The peer address of socket `fd` of process `tgid`, from <proc_root>/<tgid>/fd/<fd> (socket:[N])
// and the inode's line in <proc_root>/<tgid>/net/tcp and tcp6. IPv4-mapped IPv6 peers are given
// as IPv4. Error if the fd is not a TCP socket or the process is gone.
Result<std::string> ResolveRemoteAddress(const std::string& proc_root, uint32_t tgid, int fd);

}  // namespace veil::agent::bpf
