// One flow as the kernel saw it (a TCP connection, or a unix-socket connect), in userspace terms:
// what the eBPF flow layer (runtime.h) delivers to veild and what a synthetic source in tests
// produces. The ABI structs the BPF programs write (bpf/veil_abi.h) are translated into this at the
// ring-buffer boundary, so nothing above agent/bpf/ depends on kernel-facing layouts.
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
  kDirect,      // a database port or socket no endpoint covers, or an exempt principal's
  kDenied,      // refused in the connect hook (EPERM): see FlowReason
};

// Why a flow was refused, or passed to an endpoint directly.
enum class FlowReason : uint8_t {
  kNone,
  kUnlisted,     // agent.unlisted_databases: deny, and no endpoint covers the destination
  kUnreachable,  // veild's listen address cannot be reached from the client (another network
                 // namespace and a loopback listen address, an AF_INET socket and an IPv6 one)
  kExempt,       // agent.direct_principals: connected to the endpoint's database directly
};

struct FlowEvent {
  enum class Kind : uint8_t {
    kEstablished,  // the client's TCP handshake completed (sockops ACTIVE_ESTABLISHED)
    kClosed,       // the socket closed; byte counts are final
    kDenied,       // refused in the connect hook; no connection was made
    kUnix,         // a unix-socket connect (redirected, observed, direct or denied: verdict)
  };
  Kind kind = Kind::kEstablished;
  uint64_t cookie = 0;  // socket cookie, unique for the socket's life
  FlowProcess process;
  FlowVerdict verdict = FlowVerdict::kDirect;
  std::string src;              // client address, "ip:port" or "[v6]:port"
  std::string original_dst;     // what the client dialled; "unix:PATH" for a unix socket
  std::string redirected_to;    // veild's listen address when redirected, else empty
  uint64_t bytes_sent = 0;      // client → server (kClosed; 0 on kEstablished)
  uint64_t bytes_received = 0;  // server → client
  uint64_t ts_ns = 0;           // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  uint32_t endpoint_id = 0;     // the covering endpoint (KernelFlows' ids); 0: none
  FlowReason reason = FlowReason::kNone;
};

}  // namespace veil::agent::bpf
