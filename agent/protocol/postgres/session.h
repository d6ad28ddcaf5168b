// A proxied PostgreSQL session: client connect → startup (TLS, cancel) → upstream connect →
// authentication pass-through → two pumps (client→upstream, upstream→client through the
// PgTranscoder) until either side ends. The data path reads top to bottom in session.cc.
#pragma once

#include "agent/protocol/protocol.h"

namespace veil::agent {

// PostgreSQL (v3 protocol) behind the server's Protocol interface: `protocol: postgres`.
// Its events name database.type "PostgreSQL"; its unix socket is ".s.PGSQL.<port>".
const Protocol& PostgresProtocol();

}  // namespace veil::agent
