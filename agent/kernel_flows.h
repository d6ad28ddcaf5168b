// What veild does with the eBPF flow layer: keeps the kernel's set of protected endpoints equal
// to the configuration's (host names resolved here, again on every reload), turns each flow
// event into a FlowTable record with its principal and endpoint, and tells a session accepted on
// a listen port who is really on the other side (the process that called connect(), and the
// address it dialled).
//
//   auto flows = KernelFlows::Create(io, std::move(layer), clock);   // layer: bpf::FlowSource
//   flows->Configure(config);          // at start and on reload
//   hooks.attribute = [&](auto& remote, PeerInfo* p) { flows->Attribute(remote, p); };
//   flows->Shutdown();                 // clean stop: fail-open endpoints stop redirecting
//
// Events are read on `io` (the ring buffer's fd is watched there). Not thread-safe except
// Attribute(), which only reads kernel maps and the resolver's cache.
#pragma once

#include <asio.hpp>
#include <map>
#include <memory>
#include <string>

#include "agent/bpf/runtime.h"
#include "agent/flows.h"
#include "agent/grants/clock.h"
#include "agent/metrics.h"
#include "agent/pg_session.h"
#include "agent/principal_resolver.h"
#include "common/result.h"
#include "config/veil_config.pb.h"

namespace veil::agent {

class KernelFlows {
 public:
  KernelFlows(asio::io_context& io, std::unique_ptr<bpf::FlowSource> source,
              const grants::Clock& clock, PrincipalResolver::Options resolver = {});
  ~KernelFlows();

  // The kernel's endpoint set from `config`: every address an endpoint's upstream resolves to
  // is redirected to its listen address (observe endpoints traced only). On an error (a name
  // that does not resolve, an address family the listen address cannot serve) nothing changes.
  Status Configure(const config::v1::Config& config);

  // Fills peer->principal, pid and original_dst for a TCP client that came through the redirect.
  void Attribute(const asio::ip::tcp::endpoint& remote, PeerInfo* peer);

  // A flow event from the source (its callback forwards here).
  void OnEvent(const bpf::FlowEvent& e);
  // veil_flows_total{verdict} and veil_bpf_events_lost_total; may stay unset.
  void SetMetrics(Metrics* metrics) { metrics_ = metrics; }
  // Called for each new flow to an `observe` endpoint (TLS plaintext tracing starts there).
  std::function<void(const bpf::FlowProcess&, const grants::Principal&)> on_observed;

  FlowTable& table() { return table_; }
  uint64_t lost_events() const { return source_->lost_events(); }
  Status Shutdown() { return source_->Shutdown(); }

 private:
  void WaitForEvents();
  std::string EndpointOf(const std::string& address) const;

  std::unique_ptr<bpf::FlowSource> source_;
  PrincipalResolver resolver_;
  FlowTable table_;
  std::map<std::string, std::string> endpoint_by_address_;  // "ip:port" (v4 unmapped) → name
  asio::posix::stream_descriptor events_;
  Metrics* metrics_ = nullptr;
};

// The cgroup id of this process's cgroup when it is a systemd service of its own (veil.service)
// with no other process in it, so the eBPF layer can exempt it; nullopt otherwise (exempting a
// shared cgroup would let its other processes reach protected databases directly).
std::optional<uint64_t> OwnServiceCgroup();

// "ip:port" or "[v6]:port" in one canonical form (IPv4-mapped IPv6 as IPv4), for matching.
std::string CanonicalAddress(const std::string& host_port);

}  // namespace veil::agent
