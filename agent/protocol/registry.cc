// The protocols this build serves, by the configuration's `protocol:`.
#include "agent/protocol/mysql/session.h"
#include "agent/protocol/postgres/session.h"
#include "agent/protocol/protocol.h"

namespace veil::agent {

const Protocol* FindProtocol(config::v1::Endpoint::Protocol protocol) {
  switch (protocol) {
    case config::v1::Endpoint::PROTOCOL_POSTGRES:
      return &PostgresProtocol();
    case config::v1::Endpoint::PROTOCOL_MYSQL:
      return &MySqlProtocol();
    default:
      return nullptr;
  }
}

}  // namespace veil::agent
