// Which addresses `veilctl clone` never writes a copy to: veil's protected databases and
// veild's own listeners, by the configuration veild runs with.
#pragma once

#include <string>

#include "config/loader.h"

namespace veil::veilctl {

// Where a connection goes: a host name or address, or a unix socket folder, and a port.
struct PgAddress {
  std::string host;  // "/folder" for a unix socket
  int port = 5432;
};

// Why `a` is one of veil's protected addresses ("is endpoint orders-db's upstream
// 10.0.0.5:5432"), or empty. Protected: an endpoint's upstream (its host's addresses, its
// aliases and CIDRs, every address of this host when the upstream is local, and a unix socket
// on the upstream's port in any folder when it is local), and veild's listen address for an
// endpoint (its TCP address, every local address when it listens on a wildcard, and its unix
// socket in `socket_folder`).
std::string ProtectedBy(const PgAddress& a, const config::v1::Config& config,
                        const std::string& socket_folder);

}  // namespace veil::veilctl
