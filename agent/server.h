// veild's listeners: for each endpoint, its TCP `listen` address and the unix socket its
// protocol names (PostgreSQL: `.s.PGSQL.<port>`) in the control socket's folder (mode 0666, as
// PostgreSQL's own; who may query is decided by grants, from the peer credentials). Accepted
// clients go to the endpoint's Protocol (agent/protocol/protocol.h). One io_context per thread:
// a session lives on one of them (round robin at accept) for its whole life, so it needs no
// locks and its wake-ups stay on one thread.
//
// Reload (SIGHUP): Reload() builds every endpoint, profile and guardrail of the new
// configuration and opens the listeners it adds before it changes anything; on any error the
// running configuration stays. Then new sessions get the new endpoints while live sessions keep
// the ones they started with; listeners of removed endpoints close (their sessions go on).
// Start, Reload and the accept loops run on ios[0].
#pragma once

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/clone_runs.h"
#include "agent/control.h"
#include "agent/events/pipeline.h"
#include "agent/flows.h"
#include "agent/grants/clock.h"
#include "agent/grants/notifier.h"
#include "agent/grants/store.h"
#include "agent/metrics.h"
#include "agent/principal_resolver.h"
#include "agent/protocol/protocol.h"
#include "agent/usage.h"
#include "common/result.h"
#include "config/loader.h"
#include "masker/strategy.h"
#include "tls/host_ca.h"

namespace veil::agent {

// What the rest of veild plugs into the server. Every member may be empty.
struct ServerHooks {
  UsageSink* usage = nullptr;
  // Fills in what the kernel knows of a TCP client veild accepted (eBPF flow: principal,
  // original destination). Called on ios[0] right after accept.
  std::function<void(const asio::ip::tcp::endpoint& remote, PeerInfo* peer)> attribute;
  // The same for a unix-socket client on the accepted socket `fd`: a client the kernel
  // redirected from a database's socket gets the path it dialled and the connect's principal.
  std::function<void(int fd, PeerInfo* peer)> attribute_unix;
  // What each endpoint covers, for `veilctl status` (null: the redirect is off).
  std::function<void(control::v1::Status*)> coverage;
  // Host flows for `veilctl flows` (null: flow tracing is off).
  FlowTable* flows = nullptr;
  // Grant lifecycle (3005) and control-API (6003) events; grants gauges.
  events::Pipeline* events = nullptr;
  Metrics* metrics = nullptr;
};

class Server {
 public:
  // Compiles profiles, loads the mask key, opens every listener. Errors name the endpoint and
  // the address or file at fault.
  static Result<std::unique_ptr<Server>> Start(const config::LoadedConfig& config,
                                               std::span<asio::io_context* const> ios,
                                               ServerHooks hooks = {});
  ~Server();

  // Applies a new configuration's endpoints, guardrails, masking profiles and grant policies
  // atomically (see the header comment). agent.* and masking.key_file need a restart: a change
  // there is reported and otherwise ignored. Call on ios[0].
  Status Reload(const config::LoadedConfig& config);

 private:
  struct Listener;
  struct Generation;
  Server() = default;
  Result<Generation> Build(const config::LoadedConfig& loaded);
  Result<std::shared_ptr<Listener>> Listen(const std::shared_ptr<const Endpoint>& ep);
  template <typename Acceptor>
  asio::awaitable<void> Accept(std::shared_ptr<Listener> listener,
                               std::shared_ptr<Acceptor> acceptor);
  asio::io_context& NextContext();
  asio::awaitable<void> ExpireGrants();
  // A grant change (3005 event) to the event sinks and the grants.notify webhooks.
  void GrantChanged(nlohmann::json event);

  std::vector<asio::io_context*> ios_;
  ServerHooks hooks_;
  std::atomic<size_t> next_io_{0};
  CancelRegistry cancels_;
  SessionRegistry sessions_;
  grants::SystemClock clock_;
  std::unique_ptr<grants::GrantStore> grants_;
  std::unique_ptr<ColumnStore> columns_;  // state_dir/columns.db
  // `veilctl clone` runs: the sessions' usage goes through clone_tap_ (hooks_.usage) first.
  CloneRuns clone_runs_;
  std::unique_ptr<CloneTap> clone_tap_;
  std::shared_ptr<const masker::MaskKey> key_;
  // Each profile's `fake` registry by name, handed to the profile a reload compiles.
  std::map<std::string, std::shared_ptr<masker::fake::SurrogateRegistry>> registries_;
  std::unique_ptr<grants::GrantNotifier> notifier_;  // before control_: outlives its callbacks
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<tls::HostCa> ca_;
  std::atomic<uint64_t> session_ids_{0};
  config::v1::Agent agent_config_;  // as started: changes need a restart
  std::string key_file_;
  std::map<std::string, std::shared_ptr<Listener>> listeners_;  // by endpoint name
  PrincipalResolver resolver_;  // unix-socket clients' unit, container and exe
};

// "host:port" / "[v6]:port" → host, port.
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s);

}  // namespace veil::agent
