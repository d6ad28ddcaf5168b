#include "agent/grants/grant.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace veil::grants {
namespace {

constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";
constexpr size_t kIdChars = 12;  // 12 x 5 bits = 60 bits

}  // namespace

bool Grant::Covers(std::string_view endpoint) const {
  return std::find(endpoints.begin(), endpoints.end(), endpoint) != endpoints.end();
}

std::string_view AccessName(Grant::Access access) {
  return access == Grant::Access::kWrite ? "write" : "read";
}

std::string_view StateName(Grant::State state) {
  switch (state) {
    case Grant::State::kPending:
      return "pending";
    case Grant::State::kActive:
      return "active";
    case Grant::State::kExpired:
      return "expired";
    case Grant::State::kRevoked:
      return "revoked";
    case Grant::State::kDenied:
      return "denied";
  }
  return "unknown";
}

std::optional<Grant::Access> ParseAccess(std::string_view name) {
  if (name == "read") return Grant::Access::kRead;
  if (name == "write") return Grant::Access::kWrite;
  return std::nullopt;
}

std::optional<Grant::State> ParseState(std::string_view name) {
  for (Grant::State s : {Grant::State::kPending, Grant::State::kActive, Grant::State::kExpired,
                         Grant::State::kRevoked, Grant::State::kDenied}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

Result<std::string> NewGrantId() {
  uint64_t bits = 0;
  size_t got = 0;
  auto* out = reinterpret_cast<unsigned char*>(&bits);
  while (got < sizeof(bits)) {
    ssize_t n = getrandom(out + got, sizeof(bits) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{std::string("getrandom failed: ") + std::strerror(errno)};
    }
    got += static_cast<size_t>(n);
  }
  std::string id = "g-";
  for (size_t i = 0; i < kIdChars; ++i) {
    id.push_back(kBase32[bits & 31]);
    bits >>= 5;
  }
  return id;
}

bool IsGrantId(std::string_view id) {
  if (id.size() != 2 + kIdChars || !id.starts_with("g-")) return false;
  return std::all_of(id.begin() + 2, id.end(),
                     [](char c) { return kBase32.find(c) != std::string_view::npos; });
}

std::string FormatDuration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  if (int64_t d = seconds / 86400; d > 0 && seconds % 86400 == 0) return std::to_string(d) + "d";
  if (int64_t h = seconds / 3600) out += std::to_string(h) + "h";
  if (int64_t m = seconds % 3600 / 60) out += std::to_string(m) + "m";
  if (int64_t s = seconds % 60) out += std::to_string(s) + "s";
  return out;
}

std::string NoActiveGrantMessage(std::string_view principal, std::string_view endpoint) {
  return "veil: no active grant for " + std::string(principal) + " on " + std::string(endpoint);
}

std::string NoActiveGrantHint(std::string_view endpoint) {
  return "veilctl grants request " + std::string(endpoint) + " --ttl 1h --reason \"...\"";
}

}  // namespace veil::grants
