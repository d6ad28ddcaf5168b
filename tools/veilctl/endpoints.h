// Where veilctl finds an endpoint of the running veild: its listen port, from the configuration
// file veild runs with, and its unix socket, `.s.PGSQL.<listen port>` in the control socket's
// folder (SPEC §3). Shared by `discover`, `mcp` and `clone`, which connect through veild there
// so that the principal veild sees is the caller itself (peer credentials).
#pragma once

#include <string>
#include <utility>

#include "common/result.h"
#include "config/loader.h"

namespace veil::veilctl {

// "host:port" / "[v6]:port" → host, port; an Error for anything else.
Result<std::pair<std::string, int>> SplitHostPort(const std::string& host_port);

// The port of an endpoint's `listen` (0 if it has none, e.g. access: observe).
int ListenPort(const config::v1::Endpoint& endpoint);

// The folder of veild's endpoint sockets: the control socket's.
std::string SocketFolder(const std::string& control_socket);

// The configuration at `file` (a readable error naming the file otherwise).
Result<config::LoadedConfig> LoadConfig(const std::string& file);

// The endpoint named `name` in `config`; an Error naming the file otherwise.
Result<config::v1::Endpoint> FindEndpoint(const config::LoadedConfig& config,
                                          const std::string& name);

}  // namespace veil::veilctl
