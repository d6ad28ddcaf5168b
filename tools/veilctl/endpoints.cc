#include "tools/veilctl/endpoints.h"

#include <charconv>
#include <filesystem>

namespace veil::veilctl {

Result<std::pair<std::string, int>> SplitHostPort(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return Error{"\"" + s + "\" is not host:port"};
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data() + colon + 1, end, port);
  if (ec != std::errc() || p != end || port <= 0 || port > 65535)
    return Error{"\"" + s + "\" has no valid port"};
  return std::make_pair(host, port);
}

int ListenPort(const config::v1::Endpoint& e) {
  auto hp = SplitHostPort(e.listen());
  return hp.ok() ? hp->second : 0;
}

std::string SocketFolder(const std::string& control_socket) {
  return std::filesystem::path(control_socket).parent_path().string();
}

Result<config::LoadedConfig> LoadConfig(const std::string& file) {
  auto loaded = config::LoadFile(file);
  if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded))
    return Error{file + ": " + (diags->empty() ? "unreadable" : diags->front().ToString())};
  return std::get<config::LoadedConfig>(std::move(loaded));
}

Result<config::v1::Endpoint> FindEndpoint(const config::LoadedConfig& config,
                                          const std::string& name) {
  for (const auto& e : config.config.endpoints())
    if (e.name() == name) return e;
  return Error{"no endpoint " + name + " in " + config.file};
}

}  // namespace veil::veilctl
