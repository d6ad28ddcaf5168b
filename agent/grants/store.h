// GrantStore: the durable record of just-in-time grants (SPEC §4) and the policy decisions that
// make and change them. veild asks it "may this principal reach this endpoint now?" (ActiveFor) on
// every new session, and its control API calls Request/Approve/Deny/Revoke for veilctl.
//
//   SystemClock clock;
//   auto store = GrantStore::Open(cfg.grants(), clock, state_dir + "/grants.db");
//   if (!store.ok()) return Error{store.error().message};          // at startup: fail fast
//   auto g = (*store)->Request("user:alice", {"orders-db"}, Grant::Access::kRead,
//                              std::chrono::hours(1), "INC-42", FromUid(peer_uid));
//   auto a = (*store)->ActiveFor(principal, "orders-db", clock.NowSeconds());
//   if (a.ok() && !*a) refuse with NoActiveGrantMessage(...) / NoActiveGrantHint(...)  (grant.h)
//
// Storage: SQLite at the given path, created 0600, WAL journal with synchronous=FULL (a returned
// success is on disk), schema version in table `schema_version` (a newer version is refused, not
// guessed at). Every mutating call is one IMMEDIATE transaction. A new GrantStore on the same file
// sees every grant exactly as it was: windows are absolute unix times, so a restart neither loses
// a grant nor ends one early (and time spent down counts against the window, as it should).
//
// Policy decisions (config `grants.policies`; a policy "covers" a grant if it lists every one of
// the grant's endpoints; several policies may cover one grant and any one of them may allow a
// step):
//   Request  the requester must match a covering policy's `requesters` or `auto_approve`; the
//            grant's principal must be one the requester is (its own user, one of its groups, ...):
//            nobody requests access for someone else. The reason must be non-blank, ttl > 0.
//            TTL CAP: a ttl above the policy's max_ttl is REFUSED at request time, naming the cap
//            (not silently clamped: the requester and approvers see exactly the window that will
//            be granted). At activation the window is additionally capped at the max_ttl of the
//            policy in force then, which matters only if a reload lowered it in between.
//            A requester matching `auto_approve` (with ttl within that policy's max_ttl) gets an
//            active grant at once, approvers ["auto"]; otherwise the grant is pending until
//            requested_at + pending_ttl (the longest of the covering policies that allow it).
//   Approve  the approver must match a covering policy's `approvers`, must not be the requester,
//            must not be a principal the grant is for (no approving access one would use
//            oneself), and must not have approved this grant already. The grant becomes active
//            when the distinct approvals reach the policy's `approvals` (if several covering
//            policies list the approver, the smallest such count). Window: [now, now + ttl).
//   Deny     pending only; by an approver of a covering policy.
//   Revoke   pending or active; by an approver of a covering policy, the requester, or a
//            principal the grant is for (giving access up is always allowed).
// Policy defaults when a field is unset or not positive (the loader fills them; tests need not):
// max_ttl 8h, pending_ttl 1h, approvals 1 when approvers are given.
//
// Time boundaries (all half-open): an active grant admits sessions for not_before <= now <
// not_after and is expired by Expire(now) once now >= not_after, not a second earlier. A pending
// grant can be approved while now < pending_until and is denied ("expired request") by Expire(now)
// once now >= pending_until. ActiveFor checks the window itself, so a grant past not_after admits
// nothing even before Expire has run.
//
// Standing grants (config `grants.standing`) are never stored and never expire; ActiveFor returns
// one (id "standing-N", N its index in the config) only when no stored active grant covers the
// principal and endpoint: a just-in-time grant was asked for explicitly and may carry write access.
// ReplacePolicies() (config reload) changes decisions from then on; it does not alter stored
// grants.
//
// Thread-safety: every method may be called from any thread; one mutex serializes them. The Clock
// must outlive the store. Errors are returned (Result/Status), never thrown.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/grants/clock.h"
#include "agent/grants/grant.h"
#include "agent/grants/principal.h"
#include "common/result.h"
#include "common/sqlite.h"
#include "config/veil_config.pb.h"

namespace veil::grants {

namespace internal {
// A config Policy with its defaults applied.
struct PolicyRule {
  std::vector<std::string> endpoints, requesters, approvers, auto_approve;
  uint32_t approvals = 0;
  int64_t max_ttl = 0;      // seconds
  int64_t pending_ttl = 0;  // seconds
};
}  // namespace internal

class GrantStore {
 public:
  // Opens (creating if needed, mode 0600) the database at `db_path`, normally
  // state_dir + "/grants.db". The folder must exist. `clock` must outlive the store.
  static Result<std::unique_ptr<GrantStore>> Open(const config::v1::Grants& policies,
                                                  const Clock& clock, std::string db_path);
  ~GrantStore();
  GrantStore(const GrantStore&) = delete;
  GrantStore& operator=(const GrantStore&) = delete;

  // Config reload: new policies and standing grants for every later decision.
  void ReplacePolicies(const config::v1::Grants& policies);

  // A new grant for `principal` (a spec such as "user:alice") on `endpoints`: pending, or active
  // at once for an auto_approve requester. Errors name what is wrong (see the header comment).
  Result<Grant> Request(std::string_view principal, std::vector<std::string> endpoints,
                        Grant::Access access, std::chrono::seconds ttl, std::string_view reason,
                        const Principal& requester);
  // Records `approver`'s approval; returns the grant, active if that was the last one needed.
  Result<Grant> Approve(std::string_view id, const Principal& approver);
  // pending -> denied.
  Result<Grant> Deny(std::string_view id, const Principal& who);
  // pending or active -> revoked. veild ends the grant's live sessions.
  Result<Grant> Revoke(std::string_view id, const Principal& who);
  // active with not_after <= now -> expired; pending with pending_until <= now -> denied
  // ("expired request"). Returns the grants it changed, in their new state (for events and for
  // ending sessions).
  Result<std::vector<Grant>> Expire(int64_t now);

  // Stored grants, oldest request first; only those in `state` if given.
  Result<std::vector<Grant>> List(std::optional<Grant::State> state = std::nullopt) const;
  // Error "no grant ID" if there is none.
  Result<Grant> Get(std::string_view id) const;
  // The grant that admits `principal` to `endpoint` at `now`: the stored active grant covering
  // them with the latest not_after, else a standing grant from config, else nullopt.
  Result<std::optional<Grant>> ActiveFor(const Principal& principal, std::string_view endpoint,
                                         int64_t now) const;
  // When veild's timer should next call Expire: the soonest not_after of an active grant or
  // pending_until of a pending one, never earlier than `now` (a deadline already passed gives
  // `now`); nullopt if no grant is active or pending.
  Result<std::optional<int64_t>> NextExpiry(int64_t now) const;

 private:
  GrantStore(const Clock& clock, sqlite::Db db);

  const Clock& clock_;
  mutable std::mutex mu_;
  sqlite::Db db_;
  std::vector<internal::PolicyRule> policies_;
  std::vector<config::v1::StandingGrant> standing_;
};

}  // namespace veil::grants
