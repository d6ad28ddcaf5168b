// What veild does with the eBPF flow layer: keeps what the kernel covers equal to the
// configuration, turns each flow event into a FlowTable record with its principal and endpoint,
// and tells a session accepted on a listen port who is really on the other side (the process
// that called connect(), and the address or socket path it dialled).
//
// An endpoint covers its server, not one address (issue 16): every address its upstream host
// name resolves to and its `aliases:` (host names, addresses, CIDRs); when the upstream is on
// this host (a loopback address or an address of a local interface), all of 127.0.0.0/8, ::1,
// 0.0.0.0, :: and every interface address, and the server's unix socket (.s.PGSQL.<port>, in
// any folder) for a postgres endpoint. IPv4 entries match their IPv4-mapped forms too.
// Interface addresses are followed as they come and go (rtnetlink address notifications start
// a refresh within ~100 ms); host names are resolved again on their DNS TTL (at most every
// `refresh`, 30 s, at least every second), so DNS changes are followed without a reload.
//
//   auto flows = KernelFlows::Create(io, std::move(layer), clock);   // layer: bpf::FlowSource
//   flows->Configure(config);          // at start and on reload
//   hooks.attribute = [&](auto& remote, PeerInfo* p) { flows->Attribute(remote, p); };
//   flows->on_denied = [&](const SessionContext& s, std::string why) { usage.ConnectDenied(...) };
//   flows->Coverage();                 // what `veilctl status` shows
//   flows->Shutdown();                 // clean stop: fail-open endpoints stop redirecting
//
// Events are read on `io` (the ring buffer's fd is watched there). Not thread-safe except
// Attribute(), AttributeUnix() and Coverage(), which only read kernel maps and guarded state.
#pragma once

#include <array>
#include <asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/bpf/runtime.h"
#include "agent/flows.h"
#include "agent/grants/clock.h"
#include "agent/metrics.h"
#include "agent/principal_resolver.h"
#include "agent/protocol/endpoint.h"
#include "agent/usage.h"
#include "common/result.h"
#include "config/veil_config.pb.h"

namespace veil::agent {

// What one endpoint covers, for `veilctl status`.
struct EndpointCoverage {
  std::string endpoint;
  bool local = false;    // the upstream is on this host: every local address is covered
  bool observe = false;  // traced only, never redirected
  uint16_t port = 0;     // the upstream port every address below is covered on
  std::vector<std::string> addresses;     // "127.0.0.0/8", "::1", "10.0.0.5", "10.1.0.0/16"
  std::vector<std::string> unix_sockets;  // socket names matched in any folder
  std::string redirect_to;                // veild's listen address; unix: its socket
  std::string unix_redirect_to;
};

struct CoverageReport {
  std::vector<EndpointCoverage> endpoints;
  bool unix_covered = false;
  std::string unix_why_not;
  std::string unlisted;  // allow | observe | deny
  std::vector<std::string> direct_principals;
  std::vector<std::string> warnings;  // aliases that did not resolve, unknown users, ...
};

// The host's own addresses (every interface, loopback included), as text.
std::set<std::string> LocalAddresses();

// The kernel's coverage and policy for `config`, given this host's addresses and a resolver.
// Pure: KernelFlows applies it; tests check it. `endpoint_ids` maps endpoint names to the ids
// flows report (new names get new ids).
struct CoveragePlan {
  std::vector<bpf::CoverageEntry> tcp;
  std::vector<bpf::UnixCoverageEntry> unix;
  bpf::Policy policy;
  CoverageReport report;
};
using HostResolver = std::function<Result<std::vector<std::string>>(const std::string& host)>;
Result<CoveragePlan> PlanCoverage(const config::v1::Config& config,
                                  const std::set<std::string>& local_addresses,
                                  const HostResolver& resolve,
                                  std::map<std::string, uint32_t>* endpoint_ids);

class KernelFlows {
 public:
  KernelFlows(asio::io_context& io, std::unique_ptr<bpf::FlowSource> source,
              const grants::Clock& clock, PrincipalResolver::Options resolver = {});
  ~KernelFlows();

  // The kernel's coverage and policy from `config` (see the header comment), and a refresh every
  // `refresh` after that. On an error (a name that does not resolve, an address family the listen
  // address cannot serve) nothing changes.
  Status Configure(const config::v1::Config& config,
                   std::chrono::seconds refresh = std::chrono::seconds(30));

  // Fills peer->principal, pid and original_dst for a TCP client that came through the redirect.
  void Attribute(const asio::ip::tcp::endpoint& remote, PeerInfo* peer);
  // The same for a unix-socket client on `fd` (veild's accepted socket): the client's socket is
  // found through sock_diag; its connect_unix record names the path it dialled.
  void AttributeUnix(int fd, PeerInfo* peer);

  // A flow event from the source (its callback forwards here).
  void OnEvent(const bpf::FlowEvent& e);
  // veil_flows_total{verdict} and veil_bpf_events_lost_total; may stay unset.
  void SetMetrics(Metrics* metrics) { metrics_ = metrics; }
  // Called for each new flow to an `observe` endpoint (TLS plaintext tracing starts there).
  std::function<void(const bpf::FlowProcess&, const grants::Principal&)> on_observed;
  // Called for each connect the kernel refused, with who, where, and why (a usage event).
  std::function<void(const SessionContext&, const std::string& reason)> on_denied;

  CoverageReport Coverage() const;
  FlowTable& table() { return table_; }
  uint64_t lost_events() const { return source_->lost_events(); }
  Status Shutdown() { return source_->Shutdown(); }

 private:
  void WaitForEvents();
  Status Apply(const config::v1::Config& config, bool log);
  void ScheduleRefresh();
  std::chrono::seconds NextRefresh() const;
  void WatchInterfaces();
  void ReadInterfaceChanges();
  std::string EndpointName(uint32_t id) const;

  std::unique_ptr<bpf::FlowSource> source_;
  PrincipalResolver resolver_;
  FlowTable table_;
  asio::posix::stream_descriptor events_;
  asio::steady_timer refresh_timer_;
  std::chrono::seconds refresh_{30};
  std::chrono::seconds last_next_refresh_{0};    // what was last logged
  asio::posix::stream_descriptor ifaddr_watch_;  // rtnetlink, RTMGRP_IPV{4,6}_IFADDR
  asio::steady_timer ifaddr_timer_;              // coalesces a burst of changes
  bool ifaddr_pending_ = false;
  std::array<char, 8192> ifaddr_buf_{};
  config::v1::Config config_;
  std::map<std::string, uint32_t> endpoint_ids_;  // stable across reloads while veild runs
  std::vector<bpf::CoverageEntry> last_tcp_;
  std::vector<bpf::UnixCoverageEntry> last_unix_;
  mutable std::mutex mu_;  // guards names_ and report_
  std::map<uint32_t, std::string> names_;
  CoverageReport report_;
  Metrics* metrics_ = nullptr;
};

// The cgroup id of this process's cgroup when it is a systemd service of its own (veil.service)
// with no other process in it, so the eBPF layer can exempt it; nullopt otherwise (exempting a
// shared cgroup would let its other processes reach protected databases directly).
std::optional<uint64_t> OwnServiceCgroup();

// "ip:port" or "[v6]:port" in one canonical form (IPv4-mapped IPv6 as IPv4), for matching.
std::string CanonicalAddress(const std::string& host_port);

// The inode of the peer of the unix socket `fd` (sock_diag UNIX_DIAG_PEER); 0 if unknown.
uint64_t UnixPeerInode(int fd);

}  // namespace veil::agent
