// The protocols this build serves, by the configuration's `protocol:`.
#include "agent/protocol/postgres/session.h"
#include "agent/protocol/protocol.h"

namespace veil::agent {

const Protocol* FindProtocol(config::v1::Endpoint::Protocol protocol) {
  switch (protocol) {
    case config::v1::Endpoint::PROTOCOL_POSTGRES:
      return &PostgresProtocol();
    default:
      return nullptr;  // PROTOCOL_MYSQL: the codec is in agent/protocol/mysql/, no session yet
  }
}

}  // namespace veil::agent
