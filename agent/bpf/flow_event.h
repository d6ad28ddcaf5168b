// One TCP flow as the kernel saw it, in userspace terms: what the eBPF flow layer (runtime.h)
// delivers to veild and what a synthetic source in tests produces. The ABI structs the BPF
// programs write (bpf/veil_abi.h) are translated into this at the ring-buffer boundary, so
// nothing above agent/bpf/ depends on kernel-facing layouts.
#pragma once

#include <cstdint>
#include <string>

namespace veil::agent::bpf {

// The task that called connect(), captured in cgroup/connect4|6. `start_time_ns` is the task's
// start time (boot-based, as /proc/PID/stat field 22 × 10^9 / CLK_TCK), so a consumer can tell a
// reused pid from the original process.
struct FlowProcess {
  uint32_t pid = 0;   // thread id (kernel pid)
  uint32_t tgid = 0;  // process id (userspace pid)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t start_time_ns = 0;
  uint64_t cgroup_id = 0;  // cgroup v2 id (inode of the cgroup's directory)
  std::string comm;        // up to 15 characters
};

enum class FlowVerdict : uint8_t {
  kRedirected,  // destination was a protected endpoint, rewritten to veild's listen address
  kObserved,    // destination is an `access: observe` endpoint: not rewritten, traced
  kDirect,      // a database port, no endpoint configured for it
};

struct FlowEvent {
  enum class Kind : uint8_t {
    kEstablished,  // the client's TCP handshake completed (sockops ACTIVE_ESTABLISHED)
    kClosed,       // the socket closed; byte counts are final
  };
  Kind kind = Kind::kEstablished;
  uint64_t cookie = 0;  // socket cookie, unique for the socket's life
  FlowProcess process;
  FlowVerdict verdict = FlowVerdict::kDirect;
  std::string src;              // client address, "ip:port" or "[v6]:port"
  std::string original_dst;     // what the client dialled
  std::string redirected_to;    // veild's listen address when redirected, else empty
  uint64_t bytes_sent = 0;      // client → server (kClosed; 0 on kEstablished)
  uint64_t bytes_received = 0;  // server → client
  uint64_t ts_ns = 0;           // CLOCK_MONOTONIC (bpf_ktime_get_ns)
};

}  // namespace veil::agent::bpf
