#include "agent/grants/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace veil::grants {

namespace {

using internal::PolicyRule;

constexpr int kSchemaVersion = 1;
constexpr int64_t kDefaultMaxTtl = 8 * 3600;
constexpr int64_t kDefaultPendingTtl = 3600;
constexpr char kExpiredRequest[] = "expired request";
constexpr char kAuto[] = "auto";

constexpr char kSchemaV1[] = R"sql(
CREATE TABLE grants (
  id            TEXT PRIMARY KEY NOT NULL,
  principal     TEXT NOT NULL,
  access        TEXT NOT NULL CHECK (access IN ('read', 'write')),
  masking       TEXT NOT NULL,
  requested_at  INTEGER NOT NULL,
  not_before    INTEGER NOT NULL,
  not_after     INTEGER NOT NULL,
  ttl           INTEGER NOT NULL,
  pending_until INTEGER NOT NULL,
  reason        TEXT NOT NULL,
  requester     TEXT NOT NULL,
  state         TEXT NOT NULL
                CHECK (state IN ('pending', 'active', 'expired', 'revoked', 'denied')),
  denied_by     TEXT NOT NULL,
  revoked_by    TEXT NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX grants_by_state ON grants (state, not_after);
CREATE TABLE grant_endpoints (
  grant_id TEXT NOT NULL REFERENCES grants (id),
  pos      INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  PRIMARY KEY (grant_id, pos)
);
CREATE INDEX grant_endpoints_by_endpoint ON grant_endpoints (endpoint);
CREATE TABLE grant_approvals (
  grant_id    TEXT NOT NULL REFERENCES grants (id),
  pos         INTEGER NOT NULL,
  approver    TEXT NOT NULL,
  approved_at INTEGER NOT NULL,
  PRIMARY KEY (grant_id, pos),
  UNIQUE (grant_id, approver)
);
)sql";

constexpr char kGrantColumns[] =
    "id, principal, access, masking, requested_at, not_before, not_after, ttl, pending_until, "
    "reason, requester, state, denied_by, revoked_by";

using sqlite::DbError;
using sqlite::Exec;
using sqlite::Stmt;
using sqlite::Transaction;

bool Contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool MatchesAny(const Principal& p, const std::vector<std::string>& specs) {
  return std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return p.Matches(s); });
}

std::string Join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out.empty() ? "none" : out;
}

void AddUnique(std::vector<std::string>& list, const std::vector<std::string>& more) {
  for (const auto& s : more) {
    if (!Contains(list, s)) list.push_back(s);
  }
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

PolicyRule ToRule(const config::v1::Policy& p) {
  PolicyRule r;
  r.endpoints = ToVector(p.endpoints());
  r.requesters = ToVector(p.requesters());
  r.approvers = ToVector(p.approvers());
  r.auto_approve = ToVector(p.auto_approve());
  r.approvals = p.approvals() > 0 ? p.approvals() : (r.approvers.empty() ? 0 : 1);
  r.max_ttl = p.max_ttl().seconds() > 0 ? p.max_ttl().seconds() : kDefaultMaxTtl;
  r.pending_ttl = p.pending_ttl().seconds() > 0 ? p.pending_ttl().seconds() : kDefaultPendingTtl;
  return r;
}

bool CoversAll(const PolicyRule& rule, const std::vector<std::string>& endpoints) {
  return std::all_of(endpoints.begin(), endpoints.end(),
                     [&](const auto& e) { return Contains(rule.endpoints, e); });
}

std::vector<const PolicyRule*> Covering(const std::vector<PolicyRule>& rules,
                                        const std::vector<std::string>& endpoints) {
  std::vector<const PolicyRule*> out;
  for (const auto& r : rules) {
    if (CoversAll(r, endpoints)) out.push_back(&r);
  }
  return out;
}

bool CanApprove(const std::vector<const PolicyRule*>& covering, const Principal& who) {
  return std::any_of(covering.begin(), covering.end(), [&](const PolicyRule* r) {
    return r->approvals > 0 && MatchesAny(who, r->approvers);
  });
}

std::string EndpointList(const std::vector<std::string>& endpoints) {
  std::string out;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (i > 0) out += i + 1 == endpoints.size() ? " and " : ", ";
    out += endpoints[i];
  }
  return out;
}

Result<std::vector<std::string>> ReadList(sqlite3* db, const char* sql, std::string_view id) {
  VEIL_ASSIGN_OR_RETURN(stmt, Stmt::Prepare(db, sql));
  stmt.Bind(1, id);
  std::vector<std::string> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(row, stmt.Step());
    if (!row) break;
    out.push_back(stmt.Text(0));
  }
  return out;
}

// Reads the row `stmt` is on (columns kGrantColumns) and the grant's lists.
Result<Grant> ReadGrant(sqlite3* db, Stmt& stmt) {
  Grant g;
  g.id = stmt.Text(0);
  g.principal = stmt.Text(1);
  std::optional<Grant::Access> access = ParseAccess(stmt.Text(2));
  std::optional<Grant::State> state = ParseState(stmt.Text(11));
  if (!access || !state) return Error{"grants.db: grant " + g.id + " has a corrupt access/state"};
  g.access = *access;
  g.masking = stmt.Text(3);
  g.requested_at = stmt.Int(4);
  g.not_before = stmt.Int(5);
  g.not_after = stmt.Int(6);
  g.ttl = stmt.Int(7);
  g.pending_until = stmt.Int(8);
  g.reason = stmt.Text(9);
  g.requester = stmt.Text(10);
  g.state = *state;
  g.denied_by = stmt.Text(12);
  g.revoked_by = stmt.Text(13);
  VEIL_ASSIGN_OR_RETURN(
      endpoints,
      ReadList(db, "SELECT endpoint FROM grant_endpoints WHERE grant_id = ?1 ORDER BY pos", g.id));
  VEIL_ASSIGN_OR_RETURN(
      approvers,
      ReadList(db, "SELECT approver FROM grant_approvals WHERE grant_id = ?1 ORDER BY pos", g.id));
  g.endpoints = std::move(endpoints);
  g.approvers = std::move(approvers);
  return g;
}

Result<std::optional<Grant>> LoadGrant(sqlite3* db, std::string_view id) {
  VEIL_ASSIGN_OR_RETURN(stmt, Stmt::Prepare(db, std::string("SELECT ") + kGrantColumns +
                                                    " FROM grants WHERE id = ?1"));
  stmt.Bind(1, id);
  VEIL_ASSIGN_OR_RETURN(row, stmt.Step());
  if (!row) return std::optional<Grant>();
  VEIL_ASSIGN_OR_RETURN(g, ReadGrant(db, stmt));
  return std::optional<Grant>(std::move(g));
}

Result<std::vector<Grant>> LoadGrants(sqlite3* db, const std::string& where,
                                      const std::vector<int64_t>& int_args,
                                      std::optional<std::string_view> text_arg = std::nullopt) {
  VEIL_ASSIGN_OR_RETURN(
      stmt, Stmt::Prepare(db, std::string("SELECT ") + kGrantColumns + " FROM grants " + where));
  int i = 1;
  if (text_arg) stmt.Bind(i++, *text_arg);
  for (int64_t v : int_args) stmt.Bind(i++, v);
  std::vector<Grant> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(row, stmt.Step());
    if (!row) break;
    VEIL_ASSIGN_OR_RETURN(g, ReadGrant(db, stmt));
    out.push_back(std::move(g));
  }
  return out;
}

// Inserts a new grant with its endpoints and approvals. SQLITE_CONSTRAINT on the id is reported
// as `*id_taken` so that the caller can draw another id.
Status InsertGrant(sqlite3* db, const Grant& g, int64_t now, bool* id_taken) {
  *id_taken = false;
  VEIL_ASSIGN_OR_RETURN(
      stmt,
      Stmt::Prepare(db, std::string("INSERT INTO grants (") + kGrantColumns +
                            ", updated_at) VALUES "
                            "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"));
  stmt.Bind(1, g.id)
      .Bind(2, g.principal)
      .Bind(3, AccessName(g.access))
      .Bind(4, g.masking)
      .Bind(5, g.requested_at)
      .Bind(6, g.not_before)
      .Bind(7, g.not_after)
      .Bind(8, g.ttl)
      .Bind(9, g.pending_until)
      .Bind(10, g.reason)
      .Bind(11, g.requester)
      .Bind(12, StateName(g.state))
      .Bind(13, g.denied_by)
      .Bind(14, g.revoked_by)
      .Bind(15, now);
  if (Status s = stmt.Run(); !s.ok()) {
    *id_taken = stmt.ErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY;
    return s;
  }
  for (size_t i = 0; i < g.endpoints.size(); ++i) {
    VEIL_ASSIGN_OR_RETURN(ep, Stmt::Prepare(db,
                                            "INSERT INTO grant_endpoints (grant_id, pos, endpoint) "
                                            "VALUES (?1, ?2, ?3)"));
    ep.Bind(1, g.id).Bind(2, static_cast<int64_t>(i)).Bind(3, g.endpoints[i]);
    VEIL_RETURN_IF_ERROR(ep.Run());
  }
  for (size_t i = 0; i < g.approvers.size(); ++i) {
    VEIL_ASSIGN_OR_RETURN(
        ap, Stmt::Prepare(db,
                          "INSERT INTO grant_approvals (grant_id, pos, approver, approved_at) "
                          "VALUES (?1, ?2, ?3, ?4)"));
    ap.Bind(1, g.id).Bind(2, static_cast<int64_t>(i)).Bind(3, g.approvers[i]).Bind(4, now);
    VEIL_RETURN_IF_ERROR(ap.Run());
  }
  return Status::Ok();
}

// Writes the fields that change after a request: window, state, who ended it.
Status UpdateGrant(sqlite3* db, const Grant& g, int64_t now) {
  VEIL_ASSIGN_OR_RETURN(
      stmt, Stmt::Prepare(db,
                          "UPDATE grants SET not_before = ?2, not_after = ?3, ttl = ?4, "
                          "state = ?5, denied_by = ?6, revoked_by = ?7, updated_at = ?8 "
                          "WHERE id = ?1"));
  stmt.Bind(1, g.id)
      .Bind(2, g.not_before)
      .Bind(3, g.not_after)
      .Bind(4, g.ttl)
      .Bind(5, StateName(g.state))
      .Bind(6, g.denied_by)
      .Bind(7, g.revoked_by)
      .Bind(8, now);
  return stmt.Run();
}

Status InitSchema(sqlite3* db) {
  Transaction txn(db);
  VEIL_RETURN_IF_ERROR(txn.Begin());
  VEIL_RETURN_IF_ERROR(
      Exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  VEIL_ASSIGN_OR_RETURN(stmt, Stmt::Prepare(db, "SELECT MAX(version) FROM schema_version"));
  VEIL_ASSIGN_OR_RETURN(row, stmt.Step());
  if (!row || stmt.IsNull(0)) {
    VEIL_RETURN_IF_ERROR(Exec(db, kSchemaV1));
    VEIL_ASSIGN_OR_RETURN(ins,
                          Stmt::Prepare(db, "INSERT INTO schema_version (version) VALUES (?1)"));
    ins.Bind(1, kSchemaVersion);
    VEIL_RETURN_IF_ERROR(ins.Run());
  } else if (int64_t v = stmt.Int(0); v != kSchemaVersion) {
    return Error{"grants.db: schema version " + std::to_string(v) + ", this veild knows " +
                 std::to_string(kSchemaVersion) +
                 (v > kSchemaVersion ? " (written by a newer veild; upgrade veild)" : "")};
  }
  return txn.Commit();
}

}  // namespace

GrantStore::GrantStore(const Clock& clock, sqlite::Db db) : clock_(clock), db_(std::move(db)) {}

GrantStore::~GrantStore() = default;

Result<std::unique_ptr<GrantStore>> GrantStore::Open(const config::v1::Grants& policies,
                                                     const Clock& clock, std::string db_path) {
  VEIL_ASSIGN_OR_RETURN(db, sqlite::Open(db_path, 0600));
  VEIL_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA foreign_keys = ON"));
  if (Status s = InitSchema(db.get()); !s.ok()) {
    return Error{db_path + ": " + s.error().message};
  }
  std::unique_ptr<GrantStore> store(new GrantStore(clock, std::move(db)));
  store->ReplacePolicies(policies);
  return store;
}

void GrantStore::ReplacePolicies(const config::v1::Grants& policies) {
  std::vector<PolicyRule> rules;
  for (const auto& p : policies.policies()) rules.push_back(ToRule(p));
  std::vector<config::v1::StandingGrant> standing(policies.standing().begin(),
                                                  policies.standing().end());
  std::lock_guard lock(mu_);
  policies_ = std::move(rules);
  standing_ = std::move(standing);
}

Result<Grant> GrantStore::Request(std::string_view principal, std::vector<std::string> endpoints,
                                  Grant::Access access, std::chrono::seconds ttl,
                                  std::string_view reason, const Principal& requester) {
  const std::string who = requester.Display();
  if (!IsPrincipalSpec(principal)) {
    return Error{"\"" + std::string(principal) +
                 "\" is not a principal (user:NAME, group:NAME, unit:NAME, container:ID, "
                 "exe:/PATH)"};
  }
  if (!requester.Matches(principal)) {
    return Error{who + " may not request a grant for " + std::string(principal) +
                 ": only for itself (its user or one of its groups)"};
  }
  std::vector<std::string> unique;
  for (auto& e : endpoints) {
    if (e.empty()) return Error{"an endpoint name is empty"};
    if (!Contains(unique, e)) unique.push_back(std::move(e));
  }
  if (unique.empty()) return Error{"name at least one endpoint"};
  if (reason.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Error{"a reason is required (--reason \"...\")"};
  }
  if (ttl.count() <= 0) return Error{"ttl must be positive"};

  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowSeconds();
  const std::string on = EndpointList(unique);
  std::vector<const PolicyRule*> covering = Covering(policies_, unique);
  if (covering.empty()) {
    return Error{"no grant policy covers " + on +
                 (unique.size() > 1 ? " together (request them separately)" : "")};
  }
  std::vector<std::string> allowed_requesters;
  int64_t longest_max_ttl = 0;
  const PolicyRule* auto_rule = nullptr;
  const PolicyRule* manual_rule = nullptr;  // the fitting one with the longest pending_ttl
  for (const PolicyRule* r : covering) {
    AddUnique(allowed_requesters, r->requesters);
    AddUnique(allowed_requesters, r->auto_approve);
    bool is_auto = MatchesAny(requester, r->auto_approve);
    bool is_manual = MatchesAny(requester, r->requesters) && r->approvals > 0;
    if (!is_auto && !is_manual) continue;
    longest_max_ttl = std::max(longest_max_ttl, r->max_ttl);
    if (ttl.count() > r->max_ttl) continue;
    if (is_auto) auto_rule = r;
    if (is_manual && (!manual_rule || r->pending_ttl > manual_rule->pending_ttl)) manual_rule = r;
  }
  if (longest_max_ttl == 0) {
    return Error{who + " may not request grants on " + on +
                 " (policy requesters: " + Join(allowed_requesters) + ")"};
  }
  if (!auto_rule && !manual_rule) {
    return Error{"ttl " + FormatDuration(ttl.count()) + " is longer than the max_ttl of " +
                 FormatDuration(longest_max_ttl) + " for " + on + "; ask for " +
                 FormatDuration(longest_max_ttl) + " or less"};
  }

  Grant g;
  g.principal = std::string(principal);
  g.endpoints = std::move(unique);
  g.access = access;
  g.requested_at = now;
  g.ttl = ttl.count();
  g.reason = std::string(reason);
  g.requester = who;
  if (auto_rule) {
    g.state = Grant::State::kActive;
    g.approvers = {kAuto};
    g.not_before = now;
    g.not_after = now + g.ttl;
    g.pending_until = now;
  } else {
    g.state = Grant::State::kPending;
    g.pending_until = now + manual_rule->pending_ttl;
  }

  for (int attempt = 0;; ++attempt) {
    VEIL_ASSIGN_OR_RETURN(id, NewGrantId());
    g.id = std::move(id);
    Transaction txn(db_.get());
    VEIL_RETURN_IF_ERROR(txn.Begin());
    bool id_taken = false;
    Status s = InsertGrant(db_.get(), g, now, &id_taken);
    if (id_taken && attempt < 3) continue;  // 60 random bits: practically never
    VEIL_RETURN_IF_ERROR(s);
    VEIL_RETURN_IF_ERROR(txn.Commit());
    return g;
  }
}

Result<Grant> GrantStore::Approve(std::string_view id, const Principal& approver) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowSeconds();
  const std::string who = approver.Display();
  Transaction txn(db_.get());
  VEIL_RETURN_IF_ERROR(txn.Begin());
  VEIL_ASSIGN_OR_RETURN(found, LoadGrant(db_.get(), id));
  if (!found) return Error{"no grant " + std::string(id)};
  Grant g = std::move(*found);
  if (g.state != Grant::State::kPending) {
    return Error{"grant " + g.id + " is " + std::string(StateName(g.state)) +
                 ", only a pending grant can be approved"};
  }
  if (now >= g.pending_until) {
    return Error{"the request " + g.id + " expired unapproved; it must be requested again"};
  }
  if (who == g.requester) {
    return Error{who + " may not approve " + g.id + ": it is their own request"};
  }
  if (approver.Matches(g.principal)) {
    return Error{who + " may not approve " + g.id + ": it grants access to " + g.principal +
                 ", which they are"};
  }
  std::vector<const PolicyRule*> covering = Covering(policies_, g.endpoints);
  const PolicyRule* rule = nullptr;  // the policy this approval counts under
  std::vector<std::string> allowed;
  for (const PolicyRule* r : covering) {
    AddUnique(allowed, r->approvers);
    if (r->approvals == 0 || !MatchesAny(approver, r->approvers)) continue;
    if (!rule || r->approvals < rule->approvals ||
        (r->approvals == rule->approvals && r->max_ttl > rule->max_ttl)) {
      rule = r;
    }
  }
  if (!rule) {
    return Error{who + " is not an approver for " + EndpointList(g.endpoints) +
                 " (policy approvers: " + Join(allowed) + ")"};
  }
  if (Contains(g.approvers, who)) return Error{who + " has already approved " + g.id};

  VEIL_ASSIGN_OR_RETURN(
      ins, Stmt::Prepare(db_.get(),
                         "INSERT INTO grant_approvals (grant_id, pos, approver, approved_at) "
                         "VALUES (?1, ?2, ?3, ?4)"));
  ins.Bind(1, g.id).Bind(2, static_cast<int64_t>(g.approvers.size())).Bind(3, who).Bind(4, now);
  VEIL_RETURN_IF_ERROR(ins.Run());
  g.approvers.push_back(who);
  if (g.approvers.size() >= rule->approvals) {
    g.state = Grant::State::kActive;
    g.ttl = std::min(g.ttl, rule->max_ttl);
    g.not_before = now;
    g.not_after = now + g.ttl;
  }
  VEIL_RETURN_IF_ERROR(UpdateGrant(db_.get(), g, now));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return g;
}

Result<Grant> GrantStore::Deny(std::string_view id, const Principal& who) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowSeconds();
  Transaction txn(db_.get());
  VEIL_RETURN_IF_ERROR(txn.Begin());
  VEIL_ASSIGN_OR_RETURN(found, LoadGrant(db_.get(), id));
  if (!found) return Error{"no grant " + std::string(id)};
  Grant g = std::move(*found);
  if (g.state != Grant::State::kPending) {
    return Error{"grant " + g.id + " is " + std::string(StateName(g.state)) +
                 ", only a pending grant can be denied"};
  }
  if (!CanApprove(Covering(policies_, g.endpoints), who)) {
    return Error{who.Display() + " may not deny " + g.id + ": not an approver for " +
                 EndpointList(g.endpoints)};
  }
  g.state = Grant::State::kDenied;
  g.denied_by = who.Display();
  VEIL_RETURN_IF_ERROR(UpdateGrant(db_.get(), g, now));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return g;
}

Result<Grant> GrantStore::Revoke(std::string_view id, const Principal& who) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowSeconds();
  Transaction txn(db_.get());
  VEIL_RETURN_IF_ERROR(txn.Begin());
  VEIL_ASSIGN_OR_RETURN(found, LoadGrant(db_.get(), id));
  if (!found) return Error{"no grant " + std::string(id)};
  Grant g = std::move(*found);
  if (g.state != Grant::State::kPending && g.state != Grant::State::kActive) {
    return Error{"grant " + g.id + " is already " + std::string(StateName(g.state))};
  }
  if (who.Display() != g.requester && !who.Matches(g.principal) &&
      !CanApprove(Covering(policies_, g.endpoints), who)) {
    return Error{who.Display() + " may not revoke " + g.id +
                 ": only its requester, its principal or an approver for " +
                 EndpointList(g.endpoints)};
  }
  g.state = Grant::State::kRevoked;
  g.revoked_by = who.Display();
  VEIL_RETURN_IF_ERROR(UpdateGrant(db_.get(), g, now));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return g;
}

Result<std::vector<Grant>> GrantStore::Expire(int64_t now) {
  std::lock_guard lock(mu_);
  Transaction txn(db_.get());
  VEIL_RETURN_IF_ERROR(txn.Begin());
  VEIL_ASSIGN_OR_RETURN(active,
                        LoadGrants(db_.get(), "WHERE state = 'active' AND not_after <= ?1", {now}));
  VEIL_ASSIGN_OR_RETURN(
      pending, LoadGrants(db_.get(), "WHERE state = 'pending' AND pending_until <= ?1", {now}));
  std::vector<Grant> changed;
  for (Grant& g : active) {
    g.state = Grant::State::kExpired;
    changed.push_back(std::move(g));
  }
  for (Grant& g : pending) {
    g.state = Grant::State::kDenied;
    g.denied_by = kExpiredRequest;
    changed.push_back(std::move(g));
  }
  for (const Grant& g : changed) VEIL_RETURN_IF_ERROR(UpdateGrant(db_.get(), g, now));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return changed;
}

Result<std::vector<Grant>> GrantStore::List(std::optional<Grant::State> state) const {
  std::lock_guard lock(mu_);
  if (state) {
    return LoadGrants(db_.get(), "WHERE state = ?1 ORDER BY requested_at, rowid", {},
                      StateName(*state));
  }
  return LoadGrants(db_.get(), "ORDER BY requested_at, rowid", {});
}

Result<Grant> GrantStore::Get(std::string_view id) const {
  std::lock_guard lock(mu_);
  VEIL_ASSIGN_OR_RETURN(found, LoadGrant(db_.get(), id));
  if (!found) return Error{"no grant " + std::string(id)};
  return std::move(*found);
}

Result<std::optional<Grant>> GrantStore::ActiveFor(const Principal& principal,
                                                   std::string_view endpoint, int64_t now) const {
  std::lock_guard lock(mu_);
  VEIL_ASSIGN_OR_RETURN(
      candidates,
      LoadGrants(db_.get(),
                 "WHERE state = 'active' AND not_before <= ?2 AND not_after > ?3 AND id IN "
                 "(SELECT grant_id FROM grant_endpoints WHERE endpoint = ?1) "
                 "ORDER BY not_after DESC, rowid",
                 {now, now}, endpoint));
  for (Grant& g : candidates) {
    if (principal.Matches(g.principal)) return std::optional<Grant>(std::move(g));
  }
  for (size_t i = 0; i < standing_.size(); ++i) {
    const config::v1::StandingGrant& s = standing_[i];
    if (!principal.Matches(s.principal()) ||
        std::find(s.endpoints().begin(), s.endpoints().end(), endpoint) == s.endpoints().end()) {
      continue;
    }
    Grant g;
    g.id = "standing-" + std::to_string(i);
    g.principal = s.principal();
    g.endpoints = ToVector(s.endpoints());
    g.access = s.access() == config::v1::StandingGrant::ACCESS_WRITE ? Grant::Access::kWrite
                                                                     : Grant::Access::kRead;
    g.masking = s.masking();
    g.not_before = 0;
    g.not_after = INT64_MAX;
    g.reason = "standing grant from config";
    g.requester = "config";
    g.approvers = {"config"};
    g.state = Grant::State::kActive;
    return std::optional<Grant>(std::move(g));
  }
  return std::optional<Grant>();
}

Result<std::optional<int64_t>> GrantStore::NextExpiry(int64_t now) const {
  std::lock_guard lock(mu_);
  VEIL_ASSIGN_OR_RETURN(stmt, Stmt::Prepare(db_.get(),
                                            "SELECT MIN(CASE state WHEN 'active' THEN not_after "
                                            "ELSE pending_until END) FROM grants "
                                            "WHERE state IN ('active', 'pending')"));
  VEIL_ASSIGN_OR_RETURN(row, stmt.Step());
  if (!row || stmt.IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(std::max(now, stmt.Int(0)));
}

}  // namespace veil::grants
