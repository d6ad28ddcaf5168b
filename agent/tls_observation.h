// `access: observe` endpoints: veild never sits in their path, but the TLS plaintext of the
// clients that connect to them (libssl uprobes, agent/bpf/tls_tracer.h) feeds a PostgreSQL
// decoder (agent/bpf/pg_observer.h), and each statement becomes a usage event like a proxied
// one — normalized, with the principal the kernel recorded for the flow. Nothing is modified.
//
// The tracer only copies plaintext of processes the flow layer saw connecting to an observe
// endpoint (Watch), so other TLS on the host never wakes veild. One thread polls the tracer
// and runs the decoder; events leave through the UsageSink (thread-safe).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/bpf/flow_event.h"
#include "agent/bpf/pg_observer.h"
#include "agent/bpf/tls_tracer.h"
#include "agent/principal_resolver.h"
#include "agent/usage.h"

namespace veil::agent {

class TlsObservation {
 public:
  // `endpoints`: upstream "ip:port" → endpoint name, for every observe endpoint.
  TlsObservation(std::unique_ptr<bpf::TlsChunkSource> source,
                 std::map<std::string, std::string> endpoints, UsageSink* usage);
  ~TlsObservation();

  // Creates the chunk source's callback target; call before the source delivers anything.
  static bpf::TlsChunkCallback Forwarder(std::shared_ptr<TlsObservation*> target);

  // A process connected to an observe endpoint: trace its TLS plaintext from now on.
  void Watch(const bpf::FlowProcess& process, const grants::Principal& principal);
  void OnChunk(const bpf::TlsChunk& chunk);  // the source's callback (poll thread)
  uint64_t statements() const { return statements_.load(); }

 private:
  void OnStatement(const bpf::ObservedStatement& s);

  std::unique_ptr<bpf::TlsChunkSource> source_;
  std::map<std::string, std::string> endpoints_;
  UsageSink* usage_;
  bpf::PgObserver observer_;
  std::mutex mu_;
  std::map<uint32_t, std::pair<grants::Principal, uint64_t>> watched_;  // tgid → principal, id
  uint64_t next_id_ = uint64_t{1} << 40;  // apart from proxied session ids
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> statements_{0};
  std::thread poller_;
};

}  // namespace veil::agent
