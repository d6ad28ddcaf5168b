// Who is on the client side of a connection or a control-API call (SPEC §2), and the principal
// specs that policies and grants name: `user:NAME`, `group:NAME`, `unit:NAME.service`,
// `container:ID`, `exe:/abs/path`.
//
// A Principal is filled from the kernel (eBPF attribution, or peer credentials on a unix socket
// through FromUid), never from what a client claims. Policies and grants hold specs as strings;
// Matches() decides whether this principal is the one a spec names.
//
//   Principal p = FromUid(peer_uid);            // user:alice, groups dev and alice
//   if (p.Matches("group:dev")) ...
//   std::string who = p.Display();              // "user:alice"
//
// Thread-safety: a Principal is a plain value. FromUid is reentrant (getpwuid_r, getgrgid_r).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::grants {

struct Principal {
  std::string user;                 // unix user name; empty if unknown
  std::vector<std::string> groups;  // names of every group of the user (primary included)
  std::string unit;                 // systemd unit, e.g. "etl.service"; empty if none
  std::string container;            // container id; empty if none
  std::string exe;                  // absolute path of the executable; empty if unknown
  // The numeric uid, when known. Only used by Display() for a uid with no passwd entry.
  std::optional<uint32_t> uid;

  // True if `spec` names this principal: `user:NAME` its user, `group:NAME` one of its groups,
  // `unit:NAME` its unit, `container:ID` its container, `exe:/abs/path` its executable. Exact,
  // case-sensitive comparison. An unknown kind, an empty name, or an attribute this principal
  // lacks never matches.
  bool Matches(std::string_view spec) const;

  // The most specific single spec for this principal, for messages, `requester` and
  // `approved_by`: "user:alice"; without a user: "unit:…", "container:…", "exe:…"; for a uid with
  // no passwd entry "uid:1234" (which no policy can name); otherwise "unknown".
  std::string Display() const;
};

// True if `spec` has the form of a principal spec (a known kind and a non-empty name; exe paths
// absolute). The config loader validates specs too; this guards specs from other sources.
bool IsPrincipalSpec(std::string_view spec);

// The principal of a unix-socket peer: user and groups from getpwuid_r/getgrouplist. A uid with no
// passwd entry gives a principal with `uid` set and no user or groups, so it matches no `user:` or
// `group:` spec (fail closed).
Principal FromUid(uid_t uid);

}  // namespace veil::grants
