#include "agent/events/ocsf.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proto/events.pb.h"

namespace veil::events {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr int64_t kNow = 1'700'000'123'456;

SessionInfo Alice() {
  SessionInfo s;
  s.session_id = "s-42";
  s.principal.user = "alice";
  s.principal.uid = 1001;
  s.principal.groups = {"alice", "dev"};
  s.principal.unit = "jupyter.service";
  s.principal.exe = "/usr/bin/psql";
  s.pid = 4242;
  s.client = {"127.0.0.1", 51234};
  s.server = {"10.0.0.5", 5432};
  s.endpoint = "orders-db";
  s.database = "orders";
  s.database_user = "app_ro";
  s.grant_id = "g-abcdefghijkl";
  return s;
}

// Fails the test on any float, any non-object-keyed surprise, anywhere in `j`.
void ExpectIntegersOnly(const json& j, const std::string& path = "$") {
  EXPECT_FALSE(j.is_number_float()) << path;
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) ExpectIntegersOnly(v, path + "." + k);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      ExpectIntegersOnly(j[i], path + "[" + std::to_string(i) + "]");
  }
}

// What every event carries (SPEC §8), and the chain's round-trip property.
void ExpectCommon(const json& e, int class_uid, int activity_id, int category_uid) {
  EXPECT_EQ(e["class_uid"], class_uid);
  EXPECT_EQ(e["activity_id"], activity_id);
  EXPECT_EQ(e["type_uid"], int64_t{class_uid} * 100 + activity_id);
  EXPECT_EQ(e["category_uid"], category_uid);
  EXPECT_EQ(e["time"], kNow);
  EXPECT_EQ(e["metadata"]["product"]["name"], "veil");
  EXPECT_EQ(e["metadata"]["product"]["vendor_name"], "veil");
  EXPECT_EQ(e["metadata"]["version"], "1.3.0");
  const std::string uid = e["metadata"]["uid"];
  EXPECT_EQ(uid.size(), 32u);
  EXPECT_EQ(uid.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(e["severity_id"].is_number_integer(), true);
  EXPECT_FALSE(e["unmapped"].contains("chain"));  // the pipeline's
  ExpectIntegersOnly(e);
  // Canonical JSON survives a parse round trip byte for byte.
  const std::string canonical = e.dump();
  EXPECT_EQ(json::parse(canonical).dump(), canonical);
}

TEST(OcsfTest, SessionOpenIsDatastoreConnect) {
  json e = SessionEvent(kNow, Alice(), SessionPhase::kOpen);
  ExpectCommon(e, 6005, 3, 6);
  EXPECT_EQ(e["class_name"], "Datastore Activity");
  EXPECT_EQ(e["category_name"], "Application Activity");
  EXPECT_EQ(e["activity_name"], "Connect");
  EXPECT_EQ(e["type_name"], "Datastore Activity: Connect");
  EXPECT_EQ(e["status_id"], 1);
  EXPECT_EQ(e["metadata"]["correlation_uid"], "s-42");
  EXPECT_EQ(e["actor"]["user"]["name"], "alice");
  EXPECT_EQ(e["actor"]["user"]["uid"], "1001");
  EXPECT_EQ(e["actor"]["user"]["groups"], json::parse(R"([{"name":"alice"},{"name":"dev"}])"));
  EXPECT_EQ(e["actor"]["process"]["pid"], 4242);
  EXPECT_EQ(e["actor"]["process"]["name"], "psql");
  EXPECT_EQ(e["actor"]["process"]["file"]["path"], "/usr/bin/psql");
  EXPECT_EQ(e["actor"]["app_name"], "jupyter.service");
  EXPECT_EQ(e["actor"]["session"]["uid"], "s-42");
  EXPECT_EQ(e["src_endpoint"], json::parse(R"({"ip":"127.0.0.1","port":51234})"));
  EXPECT_EQ(e["dst_endpoint"], json::parse(R"({"ip":"10.0.0.5","port":5432,"name":"orders-db"})"));
  EXPECT_EQ(e["database"], json::parse(R"({"name":"orders","type":"PostgreSQL"})"));
  EXPECT_EQ(e["unmapped"]["principal"], "user:alice");
  EXPECT_EQ(e["unmapped"]["grant_id"], "g-abcdefghijkl");
  EXPECT_EQ(e["unmapped"]["database_user"], "app_ro");
  EXPECT_EQ(e["unmapped"]["endpoint"], "orders-db");
  EXPECT_FALSE(e.contains("container"));
}

// database.type is the session's protocol's, in its connect, close and statement events alike.
TEST(OcsfTest, DatabaseTypeComesFromTheSession) {
  SessionInfo s = Alice();
  s.database_type = "MySQL";
  const json db = json::parse(R"({"name":"orders","type":"MySQL"})");
  EXPECT_EQ(SessionEvent(kNow, s, SessionPhase::kOpen)["database"], db);
  EXPECT_EQ(SessionEvent(kNow, s, SessionPhase::kClose)["database"], db);
  EXPECT_EQ(QueryEvent(kNow, s, {.sql = "SELECT 1", .kind = "read"})["database"], db);
  EXPECT_EQ(QueryEvent(kNow, Alice(), {.sql = "SELECT 1", .kind = "read"})["database"]["type"],
            "PostgreSQL");
}

TEST(OcsfTest, EventUidsDiffer) {
  std::set<std::string> uids;
  for (int i = 0; i < 1000; ++i)
    uids.insert(SessionEvent(kNow, Alice(), SessionPhase::kOpen)["metadata"]["uid"]);
  EXPECT_EQ(uids.size(), 1000u);
}

TEST(OcsfTest, SessionRefusedIsFailedConnect) {
  json e = SessionEvent(
      kNow, Alice(), SessionPhase::kRefused,
      {.close_reason = "veil: no active grant for user:alice on orders-db", .sqlstate = "28000"});
  ExpectCommon(e, 6005, 3, 6);
  EXPECT_EQ(e["status_id"], 2);
  EXPECT_EQ(e["status"], "Failure");
  EXPECT_EQ(e["status_code"], "28000");
  EXPECT_EQ(e["status_detail"], "veil: no active grant for user:alice on orders-db");
}

TEST(OcsfTest, SessionCloseCarriesTotals) {
  SessionInfo s = Alice();
  s.principal.container = "3f2a9c";
  SessionTotals t{.statements = 3,
                  .rows = 0,
                  .bytes = 2048,
                  .duration_ms = 1500,
                  .masked = {.by_entity = {{"EMAIL", 3}, {"CREDIT_CARD", 1}},
                             .by_column = {{"public.users.email", 3}}},
                  .close_reason = "grant_expired"};
  json e = SessionEvent(kNow, s, SessionPhase::kClose, t);
  ExpectCommon(e, 6005, 99, 6);
  EXPECT_EQ(e["activity_name"], "Close");
  EXPECT_EQ(e["type_name"], "Datastore Activity: Close");
  EXPECT_EQ(e["unmapped"]["rows"], 0);  // a zero that is a fact is still written
  EXPECT_EQ(e["unmapped"]["bytes"], 2048);
  EXPECT_EQ(e["unmapped"]["statements"], 3);
  EXPECT_EQ(e["unmapped"]["duration_ms"], 1500);
  EXPECT_EQ(e["duration"], 1500);
  EXPECT_EQ(e["start_time"], kNow - 1500);
  EXPECT_EQ(e["unmapped"]["close_reason"], "grant_expired");
  EXPECT_EQ(e["unmapped"]["masked"],
            json::parse(R"({"total":4,"by_entity":{"CREDIT_CARD":1,"EMAIL":3},
                            "by_column":{"public.users.email":3}})"));
  EXPECT_EQ(e["container"]["uid"], "3f2a9c");
  EXPECT_EQ(e["metadata"]["profiles"], json::parse(R"(["container"])"));
}

TEST(OcsfTest, QueryEventNormalizesAndCounts) {
  StatementInfo st{
      .sql = "SELECT email FROM public.users WHERE ssn = '078-05-1120' LIMIT 10",
      .kind = "read",
      .command_tag = "SELECT 3",
      .rows = 3,
      .bytes = 312,
      .duration_ms = 7,
      .masked = {.by_entity = {{"EMAIL", 3}}, .by_column = {{"public.users.email", 3}}}};
  json e = QueryEvent(kNow, Alice(), st);
  ExpectCommon(e, 6005, 4, 6);
  EXPECT_EQ(e["activity_name"], "Query");
  EXPECT_EQ(e["type_name"], "Datastore Activity: Query");
  EXPECT_EQ(e["query_info"]["query_string"],
            "SELECT email FROM public.users WHERE ssn = ? LIMIT ?");
  const std::string quid = e["query_info"]["uid"];
  EXPECT_EQ(quid.size(), 32u);
  // Same shape, other values: same query uid.
  st.sql = "SELECT email FROM public.users WHERE ssn = '123-45-6789' LIMIT 99";
  EXPECT_EQ(QueryEvent(kNow, Alice(), st)["query_info"]["uid"], quid);
  EXPECT_EQ(e["metadata"]["correlation_uid"], "s-42");
  EXPECT_EQ(e["unmapped"]["rows"], 3);
  EXPECT_EQ(e["unmapped"]["bytes"], 312);
  EXPECT_EQ(e["unmapped"]["duration_ms"], 7);
  EXPECT_EQ(e["unmapped"]["masked"]["by_entity"]["EMAIL"], 3);
  EXPECT_EQ(e["unmapped"]["masked"]["by_column"]["public.users.email"], 3);
  EXPECT_EQ(e["unmapped"]["statement_kind"], "read");
  EXPECT_EQ(e["unmapped"]["command_tag"], "SELECT 3");
  EXPECT_EQ(e["unmapped"]["database_user"], "app_ro");
  EXPECT_EQ(e["status_id"], 1);
  EXPECT_FALSE(e["unmapped"].contains("guardrail"));
}

TEST(OcsfTest, BlockedAndFailedStatements) {
  json blocked = QueryEvent(kNow, Alice(), {.sql = "DROP TABLE users", .guardrail = "no-ddl"});
  EXPECT_EQ(blocked["unmapped"]["guardrail"], "no-ddl");
  EXPECT_EQ(blocked["status_id"], 2);
  EXPECT_EQ(blocked["status_code"], "42501");
  EXPECT_EQ(blocked["severity_id"], 3);
  EXPECT_EQ(blocked["message"], "statement blocked by guardrail no-ddl");
  EXPECT_EQ(blocked["unmapped"]["rows"], 0);

  json failed = QueryEvent(kNow, Alice(), {.sql = "SELECT 'x@y.z'::int", .sqlstate = "22P02"});
  EXPECT_EQ(failed["status_id"], 2);
  EXPECT_EQ(failed["status_code"], "22P02");
  EXPECT_EQ(failed["unmapped"]["sqlstate"], "22P02");
  EXPECT_EQ(failed["severity_id"], 1);
  EXPECT_THAT(failed.dump(), Not(HasSubstr("x@y.z")));
}

TEST(OcsfTest, QueryEventHoldsNoLiteralAnywhere) {
  const std::string sql =
      "/* ticket for alice@example.com */ SELECT * FROM customers WHERE email = "
      "'bob@example.org' OR card = 4111111111111111 OR ssn = E'078-05-1120' OR note = "
      "$pii$carol 555-867-5309$pii$ OR name = U&'d\\0061ve' OR n = N'eve@example.net' "
      "-- frank@example.com\n";
  json e = QueryEvent(kNow, Alice(), {.sql = sql, .standard_conforming_strings = true});
  const std::string dumped = e.dump();
  for (const char* pii : {"alice@", "bob@", "4111111111111111", "078-05-1120", "carol", "555-867",
                          "0061ve", "eve@", "frank@", "example"})
    EXPECT_THAT(dumped, Not(HasSubstr(pii))) << pii;
  EXPECT_THAT(dumped, HasSubstr("SELECT * FROM customers WHERE email = ? OR card = ?"));
}

TEST(OcsfTest, InvalidUtf8NeverBreaksDump) {
  SessionInfo s = Alice();
  s.principal.exe = "/opt/caf\xE9/bin/psql";
  s.database = "db\xFF";
  json e = QueryEvent(
      kNow, s, {.sql = "SELECT \"col\xC0\" FROM t", .masked = {.by_column = {{"t.col\xC0", 1}}}});
  std::string dumped;
  EXPECT_NO_THROW(dumped = e.dump());
  EXPECT_THAT(dumped, HasSubstr("/opt/caf\xEF\xBF\xBD/bin/psql"));
  EXPECT_EQ(e["unmapped"]["masked"]["by_column"]["t.col\xEF\xBF\xBD"], 1);
}

grants::Grant SampleGrant(grants::Grant::State state) {
  grants::Grant g;
  g.id = "g-abcdefghijkl";
  g.principal = "user:alice";
  g.endpoints = {"orders-db", "billing-db"};
  g.access = grants::Grant::Access::kRead;
  g.not_before = 1'700'000'000;
  g.not_after = 1'700'003'600;
  g.reason = "INC-1234 customer alice@example.com";
  g.requester = "user:alice";
  g.approvers = {"user:bob"};
  g.state = state;
  return g;
}

TEST(OcsfTest, GrantEventsMapLifecycleToActivities) {
  grants::Principal bob;
  bob.user = "bob";
  bob.uid = 1002;
  struct Case {
    GrantChange change;
    grants::Grant::State state;
    int activity_id;
    const char* activity_name;
  };
  for (const Case& c :
       {Case{GrantChange::kRequested, grants::Grant::State::kPending, 99, "Request"},
        Case{GrantChange::kIssued, grants::Grant::State::kActive, 1, "Assign Privileges"},
        Case{GrantChange::kApproved, grants::Grant::State::kActive, 1, "Assign Privileges"},
        Case{GrantChange::kDenied, grants::Grant::State::kDenied, 99, "Deny"},
        Case{GrantChange::kExpired, grants::Grant::State::kExpired, 2, "Revoke Privileges"},
        Case{GrantChange::kRevoked, grants::Grant::State::kRevoked, 2, "Revoke Privileges"}}) {
    SCOPED_TRACE(std::string(GrantChangeName(c.change)));
    json e = GrantEvent(kNow, SampleGrant(c.state), c.change, &bob, 777);
    ExpectCommon(e, 3005, c.activity_id, 3);
    EXPECT_EQ(e["class_name"], "User Access Management");
    EXPECT_EQ(e["category_name"], "Identity & Access Management");
    EXPECT_EQ(e["activity_name"], c.activity_name);
    EXPECT_EQ(e["type_name"], std::string("User Access Management: ") + c.activity_name);
    EXPECT_EQ(e["unmapped"]["grant_event"], GrantChangeName(c.change));
    EXPECT_EQ(e["unmapped"]["grant_state"], grants::StateName(c.state));
    EXPECT_EQ(e["unmapped"]["grant_id"], "g-abcdefghijkl");
    EXPECT_EQ(e["metadata"]["correlation_uid"], "g-abcdefghijkl");
    EXPECT_EQ(e["actor"]["user"]["name"], "bob");
    EXPECT_EQ(e["actor"]["process"]["pid"], 777);
    EXPECT_EQ(e["user"]["name"], "alice");
    EXPECT_EQ(e["privileges"], json::parse(R"(["read"])"));
    EXPECT_EQ(e["resource"]["name"], "orders-db");
    EXPECT_EQ(e["unmapped"]["endpoints"], json::parse(R"(["orders-db","billing-db"])"));
    EXPECT_EQ(e["unmapped"]["not_after"], 1'700'003'600);
    EXPECT_EQ(e["unmapped"]["principal"], "user:alice");
    // The reason is free text; it stays out.
    EXPECT_THAT(e.dump(), Not(HasSubstr("INC-1234")));
  }
}

TEST(OcsfTest, GrantEventByVeilAndForNonUserPrincipal) {
  grants::Grant g = SampleGrant(grants::Grant::State::kExpired);
  g.principal = "unit:etl.service";
  json e = GrantEvent(kNow, g, GrantChange::kExpired, nullptr);
  EXPECT_EQ(e["actor"]["user"]["name"], "veil");
  EXPECT_EQ(e["actor"]["user"]["type_id"], 3);
  EXPECT_EQ(e["user"]["name"], "unit:etl.service");
  EXPECT_EQ(e["user"]["type"], "unit");
  EXPECT_EQ(e["user"]["type_id"], 99);
}

TEST(OcsfTest, ApiEvents) {
  EXPECT_EQ(ApiActivityFor("grants.request"), ApiActivity::kCreate);
  EXPECT_EQ(ApiActivityFor("grants.list"), ApiActivity::kRead);
  EXPECT_EQ(ApiActivityFor("status"), ApiActivity::kRead);
  EXPECT_EQ(ApiActivityFor("grants.approve"), ApiActivity::kUpdate);
  EXPECT_EQ(ApiActivityFor("grants.revoke"), ApiActivity::kUpdate);
  EXPECT_EQ(ApiActivityFor("sessions.kill"), ApiActivity::kDelete);

  ApiCall call{.operation = "grants.approve", .activity = ApiActivity::kUpdate};
  call.caller.user = "bob";
  call.caller.uid = 1002;
  call.pid = 31337;
  call.resource_uid = "g-abcdefghijkl";
  call.resource_type = "grant";
  call.socket_path = "/run/veil/veil.sock";
  json ok = ApiEvent(kNow, call);
  ExpectCommon(ok, 6003, 3, 6);
  EXPECT_EQ(ok["class_name"], "API Activity");
  EXPECT_EQ(ok["activity_name"], "Update");
  EXPECT_EQ(ok["type_name"], "API Activity: Update");
  EXPECT_EQ(ok["api"]["operation"], "grants.approve");
  EXPECT_EQ(ok["api"]["service"]["name"], "veil.control.v1");
  EXPECT_EQ(ok["actor"]["user"]["name"], "bob");
  EXPECT_EQ(ok["actor"]["process"]["pid"], 31337);
  EXPECT_EQ(ok["src_endpoint"]["name"], "/run/veil/veil.sock");
  EXPECT_EQ(ok["resources"], json::parse(R"([{"uid":"g-abcdefghijkl","type":"grant"}])"));
  EXPECT_EQ(ok["unmapped"]["grant_id"], "g-abcdefghijkl");
  EXPECT_EQ(ok["unmapped"]["principal"], "user:bob");
  EXPECT_EQ(ok["status_id"], 1);

  call.ok = false;
  call.error = "veil: an approver may not approve their own grant";
  json refused = ApiEvent(kNow, call);
  EXPECT_EQ(refused["status_id"], 2);
  EXPECT_EQ(refused["status_detail"], "veil: an approver may not approve their own grant");
}

TEST(OcsfTest, CloneEventIsOneApiActivityWithTheRunsCounts) {
  EXPECT_EQ(ApiActivityFor("clone"), ApiActivity::kCreate);
  CloneRun run;
  run.call.operation = "clone";
  run.call.activity = ApiActivityFor("clone");
  run.call.caller.user = "alice";
  run.call.caller.uid = 1001;
  run.call.pid = 4242;
  run.call.socket_path = "/run/veil/veil.sock";
  run.run_id = "0123456789abcdef0123456789abcdef";
  run.endpoint = "orders-db";
  run.database = "orders";
  run.target = "sandbox.internal:5432/orders";
  run.rows_by_table = {{"public.customers", 300}, {"public.orders", 600}};
  run.masked.by_column = {{"public.customers.email", 300}};
  run.masked.by_entity = {{"EMAIL", 300}};
  run.statements = 14;
  run.sessions = 2;
  run.duration_ms = 812;
  json e = CloneEvent(kNow, run);
  ExpectCommon(e, 6003, 1, 6);
  ExpectIntegersOnly(e);
  EXPECT_EQ(e["api"]["operation"], "clone");
  EXPECT_EQ(e["actor"]["user"]["name"], "alice");
  EXPECT_EQ(e["dst_endpoint"]["name"], "orders-db");
  EXPECT_EQ(e["database"]["name"], "orders");
  EXPECT_EQ(e["resources"],
            json::parse(R"([{"type":"database","uid":"sandbox.internal:5432/orders"}])"));
  EXPECT_EQ(e["duration"], 812);
  const json& u = e["unmapped"];
  EXPECT_EQ(u["principal"], "user:alice");
  EXPECT_EQ(u["endpoint"], "orders-db");
  EXPECT_EQ(u["clone_run"], run.run_id);
  EXPECT_EQ(u["target"], "sandbox.internal:5432/orders");
  EXPECT_EQ(u["rows"], 900);
  EXPECT_EQ(u["rows_by_table"], json::parse(R"({"public.customers":300,"public.orders":600})"));
  EXPECT_EQ(u["masked"]["by_column"]["public.customers.email"], 300);
  EXPECT_EQ(u["masked"]["total"], 300);
  EXPECT_EQ(u["statements"], 14);
  EXPECT_EQ(u["sessions"], 2);
  EXPECT_EQ(e["status_id"], 1);

  run.call.ok = false;
  run.call.error = "restore failed (psql exit 3)";
  json failed = CloneEvent(kNow, run);
  EXPECT_EQ(failed["status_id"], 2);
  EXPECT_EQ(failed["status_detail"], "restore failed (psql exit 3)");
}

// The schema itself may never grow a float: the chain hashes events after a JSON round trip.
void ExpectNoFloatFields(const google::protobuf::Descriptor* d, std::set<std::string>& seen) {
  if (!seen.insert(d->full_name()).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    EXPECT_NE(f->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_FLOAT) << f->full_name();
    EXPECT_NE(f->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE) << f->full_name();
    if (f->message_type() != nullptr) ExpectNoFloatFields(f->message_type(), seen);
  }
}

TEST(OcsfTest, SchemaHasNoFloats) {
  std::set<std::string> seen;
  ExpectNoFloatFields(v1::Event::descriptor(), seen);
  EXPECT_GT(seen.size(), 10u);
}

TEST(OcsfTest, RenderJsonUsesProtoNamesAndNumbers) {
  v1::Event e;
  e.set_time(int64_t{1} << 53);
  e.mutable_unmapped()->set_rows(0);       // optional: present at zero
  e.mutable_unmapped()->set_grant_id("");  // plain: absent when empty
  (*e.mutable_unmapped()->mutable_masked()->mutable_by_entity())["EMAIL"] = 2;
  json j = RenderJson(e);
  EXPECT_EQ(j, json::parse(R"({"time":9007199254740992,
                               "unmapped":{"rows":0,"masked":{"by_entity":{"EMAIL":2}}}})"));
}

}  // namespace
}  // namespace veil::events
