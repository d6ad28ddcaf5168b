// A just-in-time grant (SPEC §4): who may reach which endpoints, how, for which window, and why.
// Grants are made and changed only by GrantStore (store.h); everyone else reads copies.
//
// Lifecycle:  pending ──approve──▶ active ──not_after──▶ expired
//                │                   └──────revoke─────▶ revoked
//                ├──deny / pending_ttl passed──────────▶ denied
//                └──revoke (withdrawn)─────────────────▶ revoked
//
// The active window is half-open, [not_before, not_after): at now == not_after a grant no longer
// admits anything. Times are unix seconds.
//
// Also here: grant ids, and the texts of the "no active grant" refusal (SPEC §5), so that every
// caller words it the same way.
//
// Thread-safety: plain values and pure functions; NewGrantId() is safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::grants {

struct Grant {
  enum class Access { kRead, kWrite };
  enum class State { kPending, kActive, kExpired, kRevoked, kDenied };

  std::string id;                      // "g-" + 12 lowercase base32 chars; "standing-N" for config
  std::string principal;               // the spec access is granted to, e.g. "user:alice"
  std::vector<std::string> endpoints;  // endpoint names
  Access access = Access::kRead;
  std::string masking;  // profile name; empty: each endpoint's own profile
  int64_t requested_at = 0;
  int64_t not_before = 0;  // 0 while pending
  int64_t not_after = 0;   // 0 while pending; exclusive
  std::string reason;
  std::string requester;               // Display() of whoever asked, e.g. "user:alice"
  std::vector<std::string> approvers;  // distinct approvals so far, in order; ["auto"] if auto
  State state = State::kPending;
  std::string denied_by;      // approver's Display(), or "expired request" when pending_ttl passed
  std::string revoked_by;     // Display() of whoever revoked
  int64_t ttl = 0;            // seconds asked for; the window's length once active (after any cap)
  int64_t pending_until = 0;  // a pending grant not approved by then becomes denied

  // True if active and now is inside [not_before, not_after).
  bool AdmitsAt(int64_t now) const {
    return state == State::kActive && not_before <= now && now < not_after;
  }
  bool Covers(std::string_view endpoint) const;

  bool operator==(const Grant&) const = default;
};

// "read" / "write"; "pending" / "active" / "expired" / "revoked" / "denied".
std::string_view AccessName(Grant::Access access);
std::string_view StateName(Grant::State state);
std::optional<Grant::Access> ParseAccess(std::string_view name);
std::optional<Grant::State> ParseState(std::string_view name);

// A fresh id: "g-" + 12 chars of RFC 4648 base32 (lowercase, no padding) over 60 random bits from
// getrandom(2). Fails only if the kernel cannot supply randomness.
Result<std::string> NewGrantId();
// True for strings of NewGrantId()'s form.
bool IsGrantId(std::string_view id);

// "4h", "1h30m", "90s" -> seconds, in the config's spelling; "0s" for zero.
std::string FormatDuration(int64_t seconds);

// The PostgreSQL FATAL 28000 refusal (SPEC §5):
//   message "veil: no active grant for user:alice on orders-db"
//   hint    "veilctl grants request orders-db --ttl 1h --reason \"...\""
std::string NoActiveGrantMessage(std::string_view principal, std::string_view endpoint);
std::string NoActiveGrantHint(std::string_view endpoint);

}  // namespace veil::grants
