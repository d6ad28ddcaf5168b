// veild's control API on agent.control_socket (mode 0660, group veil where that group exists):
// length-prefixed veil.control.v1 messages (proto/control.proto). The caller is the unix user
// the kernel reports for the socket (SO_PEERCRED), never anything in the request. Every
// mutating call is logged with its caller (usage events come with issue 6).
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "agent/grants/clock.h"
#include "agent/grants/store.h"
#include "agent/pg_session.h"
#include "common/result.h"

namespace veil::agent {

class ControlServer {
 public:
  // Listens on `path` (replacing a stale socket). `store` may be null: grant calls then fail
  // with a message saying no endpoint uses grants.
  static Result<std::unique_ptr<ControlServer>> Start(asio::io_context& io, const std::string& path,
                                                      grants::GrantStore* store,
                                                      const grants::Clock& clock,
                                                      std::vector<std::string> endpoints,
                                                      SessionRegistry* sessions);
  ~ControlServer();

 private:
  ControlServer(asio::io_context& io, grants::GrantStore* store, const grants::Clock& clock)
      : acceptor_(io), store_(store), clock_(clock) {}
  asio::awaitable<void> Accept();
  asio::awaitable<void> Serve(asio::local::stream_protocol::socket socket);
  std::string Handle(const std::string& request, const grants::Principal& caller);

  asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
  grants::GrantStore* store_;
  const grants::Clock& clock_;
  std::vector<std::string> endpoints_;
  SessionRegistry* sessions_ = nullptr;
};

}  // namespace veil::agent
