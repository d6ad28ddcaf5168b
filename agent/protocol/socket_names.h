// The unix socket names of database servers and of veild's own endpoint sockets: what the eBPF
// unix hook matches (the last path component of a connect) and where it sends such a connect.
// Header-only, so the flow layer and the protocols agree without depending on each other.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace veil::agent {

// PostgreSQL: ".s.PGSQL.<port>" in whatever folder; veild's own socket has the same form with
// the endpoint's listen port, in the control socket's folder.
inline std::string PostgresSocketName(uint16_t port) { return ".s.PGSQL." + std::to_string(port); }

// MySQL and MariaDB name their socket by configuration, not by port: these are the names their
// packages use (Debian's and MariaDB's /run/mysqld/mysqld.sock, /tmp/mysql.sock elsewhere).
inline constexpr std::array<std::string_view, 2> kMySqlServerSocketNames = {"mysqld.sock",
                                                                            "mysql.sock"};
// veild's own socket for a mysql endpoint, in the control socket's folder.
inline std::string MySqlSocketName(uint16_t listen_port) {
  return "mysqld." + std::to_string(listen_port) + ".sock";
}

}  // namespace veil::agent
