// A proxied MySQL / MariaDB session: client connect → admission under a grant → upstream
// connect → the server's greeting, re-issued with veil's connection id and without what veil
// cannot follow (compression, LOCAL INFILE, optional metadata, COM_MULTI, bulk operations) →
// TLS with the client (veil's host CA) and with the upstream (verified) → authentication
// relayed packet by packet (mysql_native_password, caching_sha2_password, auth switch: the
// scramble is the server's own, so the client's answer passes unchanged) → for a read grant,
// `SET SESSION TRANSACTION READ ONLY` upstream before the client may send anything → two pumps
// (client → upstream with guardrails; upstream → client through the MySqlTranscoder) until
// either side ends. The data path reads top to bottom in session.cc.
#pragma once

#include "agent/protocol/protocol.h"

namespace veil::agent {

// MySQL and MariaDB (client/server protocol 4.1) behind the server's Protocol interface:
// `protocol: mysql`. Its events name database.type "MySQL"; it opens no unix socket.
const Protocol& MySqlProtocol();

}  // namespace veil::agent
