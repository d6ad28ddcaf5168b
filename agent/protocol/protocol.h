// Protocol: what veild's server needs of a database protocol. A protocol is one folder,
// agent/protocol/<name>/, holding its pure codec, its session (startup, authentication, the
// pumps) and its transcoder (what is masked on the way back); this is the one door the server
// comes in by. Sessions report through what every protocol shares: the usage sink
// (agent/usage.h: events and metrics, with the OCSF database.type the session names), the
// session and cancel registries and the grant store (agent/protocol/endpoint.h).
//
// Adding a protocol: its folder, a Protocol for it, and one line in FindProtocol
// (agent/protocol/registry.cc).
//
// Implementations are stateless and live for the whole process; every method is thread-safe.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/conn.h"
#include "agent/protocol/endpoint.h"
#include "config/veil_config.pb.h"

namespace veil::agent {

class Protocol {
 public:
  virtual ~Protocol() = default;

  // The name the configuration gives it (`protocol: postgres`), for logs.
  virtual std::string_view name() const = 0;

  // The unix socket a client of this protocol looks for when it connects to the endpoint's
  // port locally (PostgreSQL: ".s.PGSQL.5432"); the server opens it in the control socket's
  // folder. Empty: the endpoint gets no unix socket.
  virtual std::string UnixSocketName(uint16_t port) const = 0;

  // Runs one client's session on `endpoint` to its end, on the executor of `client`. Never
  // throws: every failure ends this session only, with a protocol error to the client where
  // the protocol allows one.
  virtual asio::awaitable<void> Serve(std::shared_ptr<const Endpoint> endpoint, Conn client,
                                      PeerInfo peer) const = 0;
};

// The protocol that serves endpoints of `protocol`; null when this build serves none (the
// server then opens no listener for such an endpoint).
const Protocol* FindProtocol(config::v1::Endpoint::Protocol protocol);

}  // namespace veil::agent
