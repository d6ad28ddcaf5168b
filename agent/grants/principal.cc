#include "agent/grants/principal.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>

namespace veil::grants {
namespace {

struct Kind {
  std::string_view prefix;
  std::string Principal::*field;  // nullptr: groups
};

constexpr std::array<Kind, 5> kKinds = {{
    {"user:", &Principal::user},
    {"group:", nullptr},
    {"unit:", &Principal::unit},
    {"container:", &Principal::container},
    {"exe:", &Principal::exe},
}};

long BufferSize(int name) {
  long n = sysconf(name);
  return n > 0 ? n : 16384;
}

}  // namespace

bool Principal::Matches(std::string_view spec) const {
  for (const Kind& kind : kKinds) {
    if (!spec.starts_with(kind.prefix)) continue;
    std::string_view name = spec.substr(kind.prefix.size());
    if (name.empty()) return false;
    if (kind.field == nullptr) return std::find(groups.begin(), groups.end(), name) != groups.end();
    return this->*kind.field == name;
  }
  return false;
}

std::string Principal::Display() const {
  if (!user.empty()) return "user:" + user;
  if (!unit.empty()) return "unit:" + unit;
  if (!container.empty()) return "container:" + container;
  if (!exe.empty()) return "exe:" + exe;
  if (uid) return "uid:" + std::to_string(*uid);
  return "unknown";
}

bool IsPrincipalSpec(std::string_view spec) {
  for (const Kind& kind : kKinds) {
    if (!spec.starts_with(kind.prefix)) continue;
    std::string_view name = spec.substr(kind.prefix.size());
    if (name.empty()) return false;
    if (kind.prefix == "exe:") return name.front() == '/';
    return true;
  }
  return false;
}

Principal FromUid(uid_t uid) {
  Principal p;
  p.uid = uid;

  std::vector<char> buf(BufferSize(_SC_GETPW_R_SIZE_MAX));
  passwd pw{};
  passwd* found = nullptr;
  int rc;
  while ((rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 || found == nullptr) return p;
  p.user = pw.pw_name;

  std::vector<gid_t> gids(32);
  int count = static_cast<int>(gids.size());
  while (getgrouplist(pw.pw_name, pw.pw_gid, gids.data(), &count) == -1) {
    // glibc sets count to the number needed; grow at least twice to be safe with other libcs.
    gids.resize(std::max<size_t>(static_cast<size_t>(count), gids.size() * 2));
    count = static_cast<int>(gids.size());
  }
  gids.resize(count);

  std::vector<char> gbuf(BufferSize(_SC_GETGR_R_SIZE_MAX));
  for (gid_t gid : gids) {
    group gr{};
    group* gfound = nullptr;
    while ((rc = getgrgid_r(gid, &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE) {
      gbuf.resize(gbuf.size() * 2);
    }
    if (rc != 0 || gfound == nullptr) continue;  // a gid without a name cannot be named by a spec
    std::string name = gr.gr_name;
    if (std::find(p.groups.begin(), p.groups.end(), name) == p.groups.end()) {
      p.groups.push_back(std::move(name));
    }
  }
  return p;
}

}  // namespace veil::grants
