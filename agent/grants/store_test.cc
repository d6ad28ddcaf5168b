#include "agent/grants/store.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace veil::grants {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using State = Grant::State;

constexpr int64_t kT0 = 1'700'000'000;

// orders-db: dev may ask, one dba approves, oncall is auto-approved, at most 4h.
// payments-db: dev may ask, two approvers from dba/security, at most 2h, requests live 30m.
constexpr char kPolicies[] = R"pb(
  policies {
    endpoints: "orders-db"
    requesters: "group:dev"
    approvers: "group:dba"
    approvals: 1
    max_ttl { seconds: 14400 }
    auto_approve: "group:oncall"
    pending_ttl { seconds: 3600 }
  }
  policies {
    endpoints: [ "payments-db", "ledger-db" ]
    requesters: "group:dev"
    approvers: [ "group:dba", "group:security" ]
    approvals: 2
    max_ttl { seconds: 7200 }
    pending_ttl { seconds: 1800 }
  }
  standing { principal: "unit:etl.service" endpoints: "orders-db" access: ACCESS_READ }
)pb";

config::v1::Grants ParsePolicies(const char* text) {
  config::v1::Grants g;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &g));
  return g;
}

Principal User(std::string name, std::vector<std::string> groups) {
  Principal p;
  p.user = std::move(name);
  p.groups = std::move(groups);
  return p;
}

const Principal kAlice = User("alice", {"alice", "dev"});
const Principal kBob = User("bob", {"bob", "dba"});
const Principal kCarol = User("carol", {"carol", "dba"});
const Principal kDave = User("dave", {"dave", "security"});
const Principal kErin = User("erin", {"erin", "dev", "oncall"});
const Principal kEve = User("eve", {"eve"});
const Principal kMallory = User("mallory", {"mallory", "dev", "dba"});

class GrantStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "veil-grants-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_path_ = dir_ + "/grants.db";
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen() {
    store_.reset();
    auto s = GrantStore::Open(ParsePolicies(kPolicies), clock_, db_path_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }

  // alice asks for orders-db, read, for `ttl`.
  Grant RequestOrders(seconds ttl = hours(1), const Principal& who = kAlice) {
    auto g = store_->Request(who.Display(), {"orders-db"}, Grant::Access::kRead, ttl,
                             "INC-1234: refund stuck", who);
    EXPECT_TRUE(g.ok()) << g.error().message;
    return g.ok() ? *g : Grant{};
  }

  Grant MustGet(const std::string& id) {
    auto g = store_->Get(id);
    EXPECT_TRUE(g.ok()) << g.error().message;
    return g.ok() ? *g : Grant{};
  }

  std::optional<Grant> Active(const Principal& p, std::string_view endpoint, int64_t now) {
    auto a = store_->ActiveFor(p, endpoint, now);
    EXPECT_TRUE(a.ok()) << a.error().message;
    return a.ok() ? *a : std::nullopt;
  }

  std::string dir_;
  std::string db_path_;
  FakeClock clock_{kT0};
  std::unique_ptr<GrantStore> store_;
};

TEST_F(GrantStoreTest, RequestThenApproveGivesActiveWindowFromApproval) {
  Grant g = RequestOrders(hours(2));
  EXPECT_TRUE(IsGrantId(g.id)) << g.id;
  EXPECT_EQ(g.state, State::kPending);
  EXPECT_EQ(g.principal, "user:alice");
  EXPECT_EQ(g.requester, "user:alice");
  EXPECT_EQ(g.endpoints, std::vector<std::string>{"orders-db"});
  EXPECT_EQ(g.access, Grant::Access::kRead);
  EXPECT_EQ(g.reason, "INC-1234: refund stuck");
  EXPECT_EQ(g.requested_at, kT0);
  EXPECT_EQ(g.ttl, 7200);
  EXPECT_EQ(g.pending_until, kT0 + 3600);
  EXPECT_TRUE(g.approvers.empty());
  EXPECT_EQ(Active(kAlice, "orders-db", kT0), std::nullopt);

  clock_.Advance(300);  // approved 5 minutes later: the window starts then
  auto a = store_->Approve(g.id, kBob);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->state, State::kActive);
  EXPECT_EQ(a->approvers, std::vector<std::string>{"user:bob"});
  EXPECT_EQ(a->not_before, kT0 + 300);
  EXPECT_EQ(a->not_after, kT0 + 300 + 7200);
  EXPECT_EQ(MustGet(g.id), *a);

  auto active = Active(kAlice, "orders-db", kT0 + 300);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->id, g.id);
  EXPECT_EQ(Active(kAlice, "payments-db", kT0 + 300), std::nullopt);
  EXPECT_EQ(Active(kEve, "orders-db", kT0 + 300), std::nullopt);
}

TEST_F(GrantStoreTest, SelfApprovalRefused) {
  // mallory is both dev and dba: she may request and approve, but not her own request.
  Grant g = RequestOrders(hours(1), kMallory);
  auto a = store_->Approve(g.id, kMallory);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("own request"));
  EXPECT_EQ(MustGet(g.id).state, State::kPending);
  EXPECT_TRUE(MustGet(g.id).approvers.empty());
}

TEST_F(GrantStoreTest, ApprovingAccessOneWouldUseRefused) {
  // alice asks for group:dev; mallory (dev and dba) would benefit from approving it.
  auto g =
      store_->Request("group:dev", {"orders-db"}, Grant::Access::kRead, hours(1), "deploy", kAlice);
  ASSERT_TRUE(g.ok()) << g.error().message;
  auto a = store_->Approve(g->id, kMallory);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("grants access to group:dev"));
  EXPECT_TRUE(store_->Approve(g->id, kBob).ok());
}

TEST_F(GrantStoreTest, ApproverNotInPolicyRefused) {
  Grant g = RequestOrders();
  for (const Principal& p : {kEve, kDave, kErin}) {
    auto a = store_->Approve(g.id, p);
    ASSERT_FALSE(a.ok()) << p.Display();
    EXPECT_THAT(a.error().message, HasSubstr(p.Display() + " is not an approver for orders-db"));
    EXPECT_THAT(a.error().message, HasSubstr("group:dba"));
  }
  EXPECT_EQ(MustGet(g.id).state, State::kPending);
}

TEST_F(GrantStoreTest, TwoApprovalsNeededActivateOnlyOnSecondDistinct) {
  auto g = store_->Request("user:alice", {"payments-db", "ledger-db"}, Grant::Access::kWrite,
                           hours(1), "month-end close", kAlice);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->pending_until, kT0 + 1800);

  clock_.Advance(60);
  auto first = store_->Approve(g->id, kBob);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->state, State::kPending);
  EXPECT_EQ(first->not_after, 0);
  EXPECT_EQ(Active(kAlice, "payments-db", kT0 + 60), std::nullopt);

  auto again = store_->Approve(g->id, kBob);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("user:bob has already approved"));

  clock_.Advance(60);
  auto second = store_->Approve(g->id, kDave);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->state, State::kActive);
  EXPECT_EQ(second->approvers, (std::vector<std::string>{"user:bob", "user:dave"}));
  EXPECT_EQ(second->not_before, kT0 + 120);
  EXPECT_EQ(second->not_after, kT0 + 120 + 3600);
  EXPECT_TRUE(Active(kAlice, "payments-db", kT0 + 120).has_value());
  EXPECT_TRUE(Active(kAlice, "ledger-db", kT0 + 120).has_value());

  auto third = store_->Approve(g->id, kCarol);
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(third.error().message, HasSubstr("only a pending grant can be approved"));
}

TEST_F(GrantStoreTest, AutoApproveIsActiveAtOnce) {
  Grant g = RequestOrders(hours(3), kErin);
  EXPECT_EQ(g.state, State::kActive);
  EXPECT_EQ(g.approvers, std::vector<std::string>{"auto"});
  EXPECT_EQ(g.not_before, kT0);
  EXPECT_EQ(g.not_after, kT0 + 3 * 3600);
  EXPECT_EQ(MustGet(g.id), g);
  auto active = Active(kErin, "orders-db", kT0);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->id, g.id);
}

TEST_F(GrantStoreTest, AutoApproveStillBoundByMaxTtl) {
  auto g = store_->Request("user:erin", {"orders-db"}, Grant::Access::kRead, hours(5), "x", kErin);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.error().message, HasSubstr("max_ttl of 4h"));
}

TEST_F(GrantStoreTest, Deny) {
  Grant g = RequestOrders();
  auto by_eve = store_->Deny(g.id, kEve);
  ASSERT_FALSE(by_eve.ok());
  EXPECT_THAT(by_eve.error().message, HasSubstr("not an approver"));

  auto d = store_->Deny(g.id, kCarol);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->state, State::kDenied);
  EXPECT_EQ(d->denied_by, "user:carol");
  EXPECT_EQ(MustGet(g.id), *d);

  auto a = store_->Approve(g.id, kBob);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("is denied"));
  EXPECT_EQ(Active(kAlice, "orders-db", kT0), std::nullopt);
}

TEST_F(GrantStoreTest, RevokeActive) {
  Grant g = RequestOrders();
  ASSERT_TRUE(store_->Approve(g.id, kBob).ok());
  clock_.Advance(600);
  ASSERT_TRUE(Active(kAlice, "orders-db", clock_.NowSeconds()).has_value());

  auto by_eve = store_->Revoke(g.id, kEve);
  ASSERT_FALSE(by_eve.ok());
  EXPECT_THAT(by_eve.error().message, HasSubstr("may not revoke"));

  auto r = store_->Revoke(g.id, kCarol);  // any approver may revoke
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, State::kRevoked);
  EXPECT_EQ(r->revoked_by, "user:carol");
  EXPECT_EQ(Active(kAlice, "orders-db", clock_.NowSeconds()), std::nullopt);

  auto twice = store_->Revoke(g.id, kCarol);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.error().message, HasSubstr("already revoked"));
}

TEST_F(GrantStoreTest, RevokePendingByRequester) {
  Grant g = RequestOrders();
  auto r = store_->Revoke(g.id, kAlice);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, State::kRevoked);
  EXPECT_EQ(r->revoked_by, "user:alice");
  EXPECT_FALSE(store_->Approve(g.id, kBob).ok());
}

TEST_F(GrantStoreTest, ExpiresExactlyAtNotAfterNotASecondEarly) {
  Grant g = RequestOrders(hours(1));
  auto a = store_->Approve(g.id, kBob);
  ASSERT_TRUE(a.ok());
  const int64_t end = a->not_after;
  ASSERT_EQ(end, kT0 + 3600);

  auto early = store_->Expire(end - 1);
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());
  EXPECT_EQ(MustGet(g.id).state, State::kActive);
  EXPECT_TRUE(Active(kAlice, "orders-db", end - 1).has_value());

  // At not_after the grant admits nothing, even before Expire has run.
  EXPECT_EQ(Active(kAlice, "orders-db", end), std::nullopt);
  auto due = store_->Expire(end);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].id, g.id);
  EXPECT_EQ((*due)[0].state, State::kExpired);
  EXPECT_EQ(MustGet(g.id).state, State::kExpired);
  EXPECT_EQ(MustGet(g.id).not_after, end);

  auto again = store_->Expire(end + 100);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_FALSE(store_->Revoke(g.id, kBob).ok());
}

TEST_F(GrantStoreTest, PendingRequestExpiresAfterPendingTtl) {
  Grant g = RequestOrders();
  ASSERT_EQ(g.pending_until, kT0 + 3600);

  auto early = store_->Expire(kT0 + 3599);
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());

  clock_.Set(kT0 + 3600);
  auto late = store_->Approve(g.id, kBob);  // too late, even before Expire has run
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.error().message, HasSubstr("expired unapproved"));

  auto due = store_->Expire(kT0 + 3600);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].state, State::kDenied);
  EXPECT_EQ((*due)[0].denied_by, "expired request");
  EXPECT_EQ(MustGet(g.id).state, State::kDenied);
  EXPECT_EQ(MustGet(g.id).denied_by, "expired request");
}

TEST_F(GrantStoreTest, OverlappingGrantsActiveForReturnsTheLongestLasting) {
  Grant short_grant = RequestOrders(minutes(30));
  Grant long_grant = RequestOrders(hours(3));
  Grant mid_grant = RequestOrders(hours(1));
  for (const Grant* g : {&short_grant, &long_grant, &mid_grant}) {
    ASSERT_TRUE(store_->Approve(g->id, kBob).ok());
  }
  auto active = Active(kAlice, "orders-db", kT0 + 10);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->id, long_grant.id);

  ASSERT_TRUE(store_->Revoke(long_grant.id, kAlice).ok());
  active = Active(kAlice, "orders-db", kT0 + 10);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->id, mid_grant.id);
  // At the mid grant's end nothing is left: the short one ended at kT0 + 1800.
  EXPECT_EQ(Active(kAlice, "orders-db", kT0 + 3600), std::nullopt);
  active = Active(kAlice, "orders-db", kT0 + 1799);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->id, mid_grant.id);
}

TEST_F(GrantStoreTest, GroupGrantCoversItsMembers) {
  auto g =
      store_->Request("group:dev", {"orders-db"}, Grant::Access::kRead, hours(1), "deploy", kAlice);
  ASSERT_TRUE(g.ok()) << g.error().message;
  ASSERT_TRUE(store_->Approve(g->id, kBob).ok());
  EXPECT_TRUE(Active(kErin, "orders-db", kT0).has_value());
  EXPECT_EQ(Active(kDave, "orders-db", kT0), std::nullopt);
}

TEST_F(GrantStoreTest, StandingGrants) {
  Principal etl;
  etl.unit = "etl.service";
  etl.exe = "/usr/bin/python3";
  auto s = Active(etl, "orders-db", kT0 + 100 * 365 * 86400LL);  // never expires
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->id, "standing-0");
  EXPECT_EQ(s->state, State::kActive);
  EXPECT_EQ(s->access, Grant::Access::kRead);
  EXPECT_EQ(s->principal, "unit:etl.service");
  EXPECT_EQ(s->approvers, std::vector<std::string>{"config"});
  EXPECT_EQ(Active(etl, "payments-db", kT0), std::nullopt);
  EXPECT_EQ(Active(kAlice, "orders-db", kT0), std::nullopt);

  // Not stored, and Expire never touches them.
  ASSERT_TRUE(store_->Expire(kT0 + 1'000'000'000).ok());
  auto all = store_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(Active(etl, "orders-db", kT0 + 1'000'000'000).has_value());

  // Reload without it: gone.
  config::v1::Grants without = ParsePolicies(kPolicies);
  without.clear_standing();
  store_->ReplacePolicies(without);
  EXPECT_EQ(Active(etl, "orders-db", kT0), std::nullopt);
}

TEST_F(GrantStoreTest, RequesterNotInPolicyRefused) {
  auto g =
      store_->Request("user:eve", {"orders-db"}, Grant::Access::kRead, hours(1), "curious", kEve);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.error().message, HasSubstr("user:eve may not request grants on orders-db"));
  EXPECT_THAT(g.error().message, HasSubstr("group:dev"));
  auto all = store_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(GrantStoreTest, RequestForSomeoneElseRefused) {
  auto g =
      store_->Request("user:bob", {"orders-db"}, Grant::Access::kRead, hours(1), "for bob", kAlice);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.error().message, HasSubstr("user:alice may not request a grant for user:bob"));
}

TEST_F(GrantStoreTest, MalformedRequestsRefusedWithTheReason) {
  auto req = [&](std::vector<std::string> eps, seconds ttl, std::string reason) {
    return store_->Request("user:alice", std::move(eps), Grant::Access::kRead, ttl, reason, kAlice);
  };
  auto empty_reason = req({"orders-db"}, hours(1), "");
  ASSERT_FALSE(empty_reason.ok());
  EXPECT_THAT(empty_reason.error().message, HasSubstr("reason is required"));
  auto blank_reason = req({"orders-db"}, hours(1), "  \t ");
  ASSERT_FALSE(blank_reason.ok());
  EXPECT_THAT(blank_reason.error().message, HasSubstr("reason is required"));
  auto zero_ttl = req({"orders-db"}, seconds(0), "x");
  ASSERT_FALSE(zero_ttl.ok());
  EXPECT_THAT(zero_ttl.error().message, HasSubstr("ttl must be positive"));
  auto negative_ttl = req({"orders-db"}, seconds(-5), "x");
  ASSERT_FALSE(negative_ttl.ok());
  auto no_endpoint = req({}, hours(1), "x");
  ASSERT_FALSE(no_endpoint.ok());
  EXPECT_THAT(no_endpoint.error().message, HasSubstr("at least one endpoint"));
  auto uncovered = req({"hr-db"}, hours(1), "x");
  ASSERT_FALSE(uncovered.ok());
  EXPECT_THAT(uncovered.error().message, HasSubstr("no grant policy covers hr-db"));
  auto split = req({"orders-db", "payments-db"}, hours(1), "x");
  ASSERT_FALSE(split.ok());
  EXPECT_THAT(split.error().message, HasSubstr("together"));
  auto bad_principal =
      store_->Request("alice", {"orders-db"}, Grant::Access::kRead, hours(1), "x", kAlice);
  ASSERT_FALSE(bad_principal.ok());
  EXPECT_THAT(bad_principal.error().message, HasSubstr("is not a principal"));
}

TEST_F(GrantStoreTest, TtlOverMaxTtlRefusedAtRequest) {
  auto over = store_->Request("user:alice", {"orders-db"}, Grant::Access::kRead,
                              hours(4) + seconds(1), "x", kAlice);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message,
            "ttl 4h1s is longer than the max_ttl of 4h for orders-db; ask for 4h or less");
  Grant exact = RequestOrders(hours(4));
  auto a = store_->Approve(exact.id, kBob);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->not_after - a->not_before, 4 * 3600);
}

TEST_F(GrantStoreTest, ActivationCapsTtlAtMaxTtlInForceThen) {
  Grant g = RequestOrders(hours(4));
  config::v1::Grants lowered = ParsePolicies(kPolicies);
  lowered.mutable_policies(0)->mutable_max_ttl()->set_seconds(3600);
  store_->ReplacePolicies(lowered);
  auto a = store_->Approve(g.id, kBob);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->ttl, 3600);
  EXPECT_EQ(a->not_after, kT0 + 3600);
}

TEST_F(GrantStoreTest, PolicyDefaultsApplyWhenUnset) {
  store_->ReplacePolicies(ParsePolicies(R"pb(
    policies { endpoints: "orders-db" requesters: "group:dev" approvers: "group:dba" }
  )pb"));
  auto over = store_->Request("user:alice", {"orders-db"}, Grant::Access::kRead,
                              hours(8) + seconds(1), "x", kAlice);
  ASSERT_FALSE(over.ok());
  EXPECT_THAT(over.error().message, HasSubstr("max_ttl of 8h"));
  Grant g = RequestOrders(hours(8));
  EXPECT_EQ(g.pending_until, kT0 + 3600);  // pending_ttl 1h
  auto a = store_->Approve(g.id, kBob);    // approvals 1
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->state, State::kActive);
}

TEST_F(GrantStoreTest, RestartKeepsEveryGrantUnchanged) {
  Grant pending = RequestOrders();
  Grant active = RequestOrders(hours(2));
  ASSERT_TRUE(store_->Approve(active.id, kBob).ok());
  Grant auto_grant = RequestOrders(hours(1), kErin);
  Grant half = *store_->Request("user:alice", {"payments-db", "ledger-db"}, Grant::Access::kWrite,
                                hours(1), "close", kAlice);
  ASSERT_TRUE(store_->Approve(half.id, kDave).ok());
  Grant denied = RequestOrders();
  ASSERT_TRUE(store_->Deny(denied.id, kBob).ok());
  Grant revoked = RequestOrders();
  ASSERT_TRUE(store_->Approve(revoked.id, kCarol).ok());
  ASSERT_TRUE(store_->Revoke(revoked.id, kAlice).ok());
  clock_.Advance(10);
  Grant expired = RequestOrders(minutes(1), kErin);
  ASSERT_TRUE(store_->Expire(clock_.NowSeconds() + 60).ok());

  auto before = store_->List();
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 7u);

  clock_.Advance(600);  // down for ten minutes
  Reopen();
  auto after = store_->List();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);

  std::map<std::string, State> states;
  for (const Grant& g : *after) states[g.id] = g.state;
  EXPECT_EQ(states[pending.id], State::kPending);
  EXPECT_EQ(states[active.id], State::kActive);
  EXPECT_EQ(states[auto_grant.id], State::kActive);
  EXPECT_EQ(states[half.id], State::kPending);
  EXPECT_EQ(states[denied.id], State::kDenied);
  EXPECT_EQ(states[revoked.id], State::kRevoked);
  EXPECT_EQ(states[expired.id], State::kExpired);

  // Not ended early: the 2h grant still admits alice up to its original end, and the half-approved
  // grant still takes its second approval.
  Grant a = MustGet(active.id);
  EXPECT_EQ(a.not_after, kT0 + 7200);
  auto admitted = Active(kAlice, "orders-db", a.not_after - 1);
  ASSERT_TRUE(admitted.has_value());
  EXPECT_EQ(admitted->id, active.id);
  auto second = store_->Approve(half.id, kCarol);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->state, State::kActive);
  EXPECT_EQ(second->approvers, (std::vector<std::string>{"user:dave", "user:carol"}));
}

TEST_F(GrantStoreTest, DatabaseIsPrivateWalAndVersioned) {
  struct stat st {};
  ASSERT_EQ(stat(db_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  };
  EXPECT_EQ(scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar("SELECT version FROM schema_version"), "1");
  sqlite3_close(db);
}

TEST_F(GrantStoreTest, NewerSchemaRefused) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 2", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = GrantStore::Open(ParsePolicies(kPolicies), clock_, db_path_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("schema version 2"));
  EXPECT_THAT(s.error().message, HasSubstr("newer veild"));
}

TEST_F(GrantStoreTest, OpenFailsClearlyWhenFolderIsMissing) {
  auto s = GrantStore::Open(ParsePolicies(kPolicies), clock_, dir_ + "/missing/grants.db");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr(dir_ + "/missing/grants.db"));
}

TEST_F(GrantStoreTest, NextExpiry) {
  auto none = store_->NextExpiry(kT0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);

  Grant pending = RequestOrders();  // pending until kT0 + 1h
  EXPECT_EQ(*store_->NextExpiry(kT0), kT0 + 3600);
  Grant long_auto = RequestOrders(hours(3), kErin);      // active until kT0 + 3h
  Grant short_auto = RequestOrders(minutes(20), kErin);  // active until kT0 + 20m
  EXPECT_EQ(*store_->NextExpiry(kT0), kT0 + 1200);

  ASSERT_TRUE(store_->Revoke(short_auto.id, kErin).ok());
  EXPECT_EQ(*store_->NextExpiry(kT0), kT0 + 3600);
  ASSERT_TRUE(store_->Deny(pending.id, kBob).ok());
  EXPECT_EQ(*store_->NextExpiry(kT0), kT0 + 3 * 3600);
  // A deadline already passed (Expire not yet run) means "now".
  EXPECT_EQ(*store_->NextExpiry(kT0 + 4 * 3600), kT0 + 4 * 3600);
  ASSERT_TRUE(store_->Expire(kT0 + 4 * 3600).ok());
  EXPECT_EQ(*store_->NextExpiry(kT0 + 4 * 3600), std::nullopt);
}

TEST_F(GrantStoreTest, ListFiltersByState) {
  Grant p1 = RequestOrders();
  Grant a1 = RequestOrders(hours(1), kErin);
  Grant p2 = RequestOrders();
  auto pending = store_->List(State::kPending);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].id, p1.id);
  EXPECT_EQ((*pending)[1].id, p2.id);
  auto active = store_->List(State::kActive);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, a1.id);
  EXPECT_TRUE(store_->List(State::kExpired)->empty());

  auto missing = store_->Get("g-aaaaaaaaaaaa");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "no grant g-aaaaaaaaaaaa");
  EXPECT_FALSE(store_->Approve("g-aaaaaaaaaaaa", kBob).ok());
}

TEST_F(GrantStoreTest, IdsUniqueAndWellFormedOver1000Requests) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    Grant g = RequestOrders(hours(1), kErin);
    ASSERT_TRUE(IsGrantId(g.id)) << g.id;
    ids.insert(g.id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  auto all = store_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1000u);
}

TEST_F(GrantStoreTest, ConcurrentCallsAreSerialized) {
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> ids(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto g = store_->Request("user:erin", {"orders-db"}, Grant::Access::kRead, hours(1), "load",
                                 kErin);
        if (g.ok()) ids[t].push_back(g->id);
        (void)store_->ActiveFor(kErin, "orders-db", kT0);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 100u);
  EXPECT_EQ(store_->List(State::kActive)->size(), 100u);
}

}  // namespace
}  // namespace veil::grants
