#include "tools/veilctl/clone_target.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "tools/veilctl/endpoints.h"

namespace veil::veilctl {
namespace {

// Numeric addresses of a host name or address literal (IPv4-mapped IPv6 as IPv4).
std::set<std::string> Resolve(const std::string& host) {
  std::set<std::string> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (host.empty() || ::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof(buf));
    } else if (a->ai_family == AF_INET6) {
      const in6_addr& v6 = reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr;
      if (IN6_IS_ADDR_V4MAPPED(&v6))
        ::inet_ntop(AF_INET, &v6.s6_addr[12], buf, sizeof(buf));
      else
        ::inet_ntop(AF_INET6, &v6, buf, sizeof(buf));
    }
    if (buf[0]) out.insert(buf);
  }
  ::freeaddrinfo(res);
  return out;
}

// Address bytes of a numeric address (4 or 16), empty if it is none.
std::vector<uint8_t> Bytes(const std::string& ip) {
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    auto* p = reinterpret_cast<uint8_t*>(&v4);
    return {p, p + 4};
  }
  if (::inet_pton(AF_INET6, ip.c_str(), &v6) == 1) return {v6.s6_addr, v6.s6_addr + 16};
  return {};
}

bool InCidr(const std::string& ip, const std::string& cidr) {
  const size_t slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  const std::vector<uint8_t> a = Bytes(ip), net = Bytes(cidr.substr(0, slash));
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (a.empty() || a.size() != net.size() || bits < 0 || bits > int(a.size() * 8)) return false;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : uint8_t(0xff << (8 - bits));
    if ((a[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

bool IsLocal(const std::string& ip) {
  if (InCidr(ip, "127.0.0.0/8") || ip == "::1") return true;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf,
                  sizeof(buf));
    else if (i->ifa_addr->sa_family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, buf,
                  sizeof(buf));
    found = buf[0] && ip == buf;
  }
  ::freeifaddrs(list);
  return found;
}

bool Wildcard(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

// Whether two paths name one folder (links resolved, a trailing slash or "." ignored).
bool SameFolder(const std::string& a, const std::string& b) {
  auto canonical = [](const std::string& p) {
    std::error_code ec;
    std::string c = std::filesystem::weakly_canonical(p, ec).lexically_normal().string();
    while (c.size() > 1 && c.back() == '/') c.pop_back();
    return ec ? p : c;
  };
  return canonical(a) == canonical(b);
}

}  // namespace

std::string ProtectedBy(const PgAddress& a, const config::v1::Config& config,
                        const std::string& socket_folder) {
  const bool unix_socket = !a.host.empty() && (a.host.front() == '/' || a.host.front() == '@');
  const std::set<std::string> ips = unix_socket ? std::set<std::string>() : Resolve(a.host);
  auto any_local = [](const std::set<std::string>& s) {
    return std::any_of(s.begin(), s.end(), [](const std::string& ip) { return IsLocal(ip); });
  };
  for (const auto& e : config.endpoints()) {
    if (auto up = SplitHostPort(e.upstream()); up.ok() && up->second == a.port) {
      const std::set<std::string> up_ips = Resolve(up->first);
      const bool local_upstream = any_local(up_ips);
      const std::string what = "is endpoint " + e.name() + "'s upstream " + e.upstream();
      if (unix_socket) {
        // A database on this host also listens on `.s.PGSQL.<port>`; the redirect covers that
        // socket name in any folder.
        if (local_upstream) return what + " (its unix socket)";
      } else {
        for (const std::string& ip : ips) {
          if (up_ips.contains(ip) || (local_upstream && IsLocal(ip))) return what;
          for (const std::string& alias : e.aliases()) {
            if (InCidr(ip, alias) || Resolve(alias).contains(ip))
              return what + " (alias " + alias + ")";
          }
        }
      }
    }
    if (auto l = SplitHostPort(e.listen()); l.ok() && l->second == a.port) {
      const std::string what = "is veild's listen address for endpoint " + e.name();
      if (unix_socket) {
        if (SameFolder(a.host, socket_folder)) return what + " (its unix socket)";
      } else {
        const std::set<std::string> l_ips = Resolve(l->first);
        for (const std::string& ip : ips)
          if (l_ips.contains(ip) || (Wildcard(l->first) && IsLocal(ip)))
            return what + " " + e.listen();
      }
    }
  }
  return "";
}

}  // namespace veil::veilctl
