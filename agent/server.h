// veild's listeners: for each PostgreSQL endpoint, its TCP `listen` address and the unix socket
// `.s.PGSQL.<port>` in the control socket's folder (mode 0666, as PostgreSQL's own; who may
// query is decided by grants, from the peer credentials). One io_context per thread: a session
// lives on one of them (round robin at accept) for its whole life, so it needs no locks and
// its wake-ups stay on one thread.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/control.h"
#include "agent/grants/clock.h"
#include "agent/grants/store.h"
#include "agent/pg_session.h"
#include "common/result.h"
#include "config/loader.h"
#include "tls/host_ca.h"

namespace veil::agent {

class Server {
 public:
  // Compiles profiles, loads the mask key, opens every listener. Errors name the endpoint and
  // the address or file at fault.
  // Listeners run on ios[0]; sessions are spread over all of ios.
  static Result<std::unique_ptr<Server>> Start(const config::LoadedConfig& config,
                                               std::span<asio::io_context* const> ios);
  ~Server();

 private:
  Server() = default;
  template <typename Acceptor>
  asio::awaitable<void> Accept(std::shared_ptr<const PgEndpoint> ep,
                               std::shared_ptr<Acceptor> acceptor);
  asio::io_context& NextContext();

  std::vector<asio::io_context*> ios_;
  std::atomic<size_t> next_io_{0};
  CancelRegistry cancels_;
  SessionRegistry sessions_;
  grants::SystemClock clock_;
  std::unique_ptr<grants::GrantStore> grants_;
  std::map<std::string, std::shared_ptr<const masker::MaskingProfile>> profiles_;
  std::unique_ptr<ControlServer> control_;
  asio::awaitable<void> ExpireGrants();
  std::unique_ptr<tls::HostCa> ca_;
  std::atomic<uint64_t> session_ids_{0};
  std::vector<std::shared_ptr<const PgEndpoint>> endpoints_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> tcp_;
  std::vector<std::shared_ptr<asio::local::stream_protocol::acceptor>> unix_;
  std::vector<std::string> unix_paths_;
};

// "host:port" / "[v6]:port" → host, port.
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s);

}  // namespace veil::agent
