// veild's listeners: for each PostgreSQL endpoint, its TCP `listen` address and the unix socket
// `.s.PGSQL.<port>` in the control socket's folder (mode 0666, as PostgreSQL's own; who may
// query is decided by grants, from the peer credentials). Each accepted connection runs as a
// session on its own strand of the shared io_context.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "agent/pg_session.h"
#include "common/result.h"
#include "config/loader.h"
#include "tls/host_ca.h"

namespace veil::agent {

class Server {
 public:
  // Compiles profiles, loads the mask key, opens every listener. Errors name the endpoint and
  // the address or file at fault.
  static Result<std::unique_ptr<Server>> Start(const config::LoadedConfig& config,
                                               asio::io_context& io);
  ~Server();

 private:
  Server() = default;
  asio::awaitable<void> AcceptTcp(std::shared_ptr<const PgEndpoint> ep,
                                  std::shared_ptr<asio::ip::tcp::acceptor> acceptor);
  asio::awaitable<void> AcceptUnix(std::shared_ptr<const PgEndpoint> ep,
                                   std::shared_ptr<asio::local::stream_protocol::acceptor> a);

  CancelRegistry cancels_;
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
