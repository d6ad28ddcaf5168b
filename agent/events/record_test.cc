// The fast paths of usage events must give the very bytes the slow ones give: the chain hashes
// bytes, and `veilctl audit verify` re-parses every line and hashes nlohmann's dump() of it.
#include "agent/events/record.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>

#include "agent/events/chain.h"
#include "agent/events/normalize.h"
#include "agent/events/ocsf.h"

namespace veil::events {
namespace {

using json = nlohmann::json;

// Every event string goes through SanitizeUtf8 before nlohmann sees it (ocsf.h), so that is
// the reference: nlohmann's own replacement of invalid UTF-8 differs in how many U+FFFD it puts.
TEST(CanonicalJson, EscapesEveryByteAsNlohmannDumpDoes) {
  for (int c = 0; c < 256; ++c) {
    const std::string s = std::string("a") + static_cast<char>(c) + "b";
    std::string ours;
    CanonicalJson::AppendString(&ours, s);
    EXPECT_EQ(ours, Canonical(json(SanitizeUtf8(s)))) << "byte " << c;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 0x20 + rng() % 95);
    std::string ours;
    CanonicalJson::AppendString(&ours, s);
    ASSERT_EQ(ours, Canonical(json(SanitizeUtf8(s))))
        << json(s).dump(-1, ' ', true, json::error_handler_t::replace);
  }
}

// Plain text is copied 8 bytes at a time: each byte that needs attention, at every offset of a
// longer string (in a word, across two, in the tail), and longer random strings.
TEST(CanonicalJson, EscapesAtEveryOffsetOfLongStrings) {
  const std::string base(40, 'x');
  for (int c : {0x00, 0x01, 0x1f, int{'"'}, int{'\\'}, 0x7f, 0x80, 0xc3, 0xff}) {
    for (size_t at = 0; at < base.size(); ++at) {
      std::string s = base;
      s[at] = static_cast<char>(c);
      std::string ours;
      CanonicalJson::AppendString(&ours, s);
      ASSERT_EQ(ours, Canonical(json(SanitizeUtf8(s)))) << "byte " << c << " at " << at;
    }
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 16 == 0 ? rng() % 256 : 0x20 + rng() % 95);
    if (rng() % 4 == 0 && s.size() > 2) s.replace(s.size() / 2, 2, "\xc3\xa9");  // valid é
    std::string ours;
    CanonicalJson::AppendString(&ours, s);
    ASSERT_EQ(ours, Canonical(json(SanitizeUtf8(s))))
        << json(s).dump(-1, ' ', true, json::error_handler_t::replace);
  }
}

TEST(CanonicalJson, KeysOutOfOrderAreReported) {
  std::string out;
  CanonicalJson w(&out);
  w.BeginObject();
  w.Key("b"), w.Int(1);
  w.Key("a"), w.Int(2);
  w.EndObject();
  EXPECT_FALSE(w.ok());
  // Keys that share their first byte are compared in full.
  for (auto [first, second, ok] :
       {std::tuple{"ab", "aa", false}, std::tuple{"a", "ab", true}, std::tuple{"ab", "a", false},
        std::tuple{"ab", "ab", false}, std::tuple{"\x7f", "\x80", true}}) {
    std::string o;
    CanonicalJson v(&o);
    v.BeginObject();
    v.Key(first), v.Int(1);
    v.Key(second), v.Int(2);
    v.EndObject();
    EXPECT_EQ(v.ok(), ok) << first << " " << second;
  }
}

// What Chain::Stamp(json&) gives for `event`, and what the Record path gives.
void ExpectSameStamp(const json& event, const ChainHead& start = {}) {
  json j = event;
  Chain a(start);
  const std::string slow = a.Stamp(j);
  a.Commit(j);
  Chain b(start);
  std::string fast;
  const ChainHead head = b.Stamp(ToRecord(event), &fast);
  EXPECT_EQ(fast, slow);
  EXPECT_EQ(head.seq, a.head().seq);
  EXPECT_EQ(head.hash, a.head().hash);
}

TEST(Record, StampsLikeTheJsonPathWhereverTheChainFalls) {
  ExpectSameStamp(json{{"a", 1}});                                           // no unmapped
  ExpectSameStamp(json{{"unmapped", json::object()}});                       // empty unmapped
  ExpectSameStamp(json{{"unmapped", 5}, {"z", "x"}});                        // not an object
  ExpectSameStamp(json{{"unmapped", {{"a", 1}}}});                           // chain last
  ExpectSameStamp(json{{"unmapped", {{"d", 1}}}});                           // chain first
  ExpectSameStamp(json{{"unmapped", {{"a", 1}, {"d", "x"}}}, {"v", 2}});     // in the middle
  ExpectSameStamp(json{{"unmapped", {{"chain", {{"seq", 9}}}, {"x", 1}}}});  // replaced
  ExpectSameStamp(json::array({1, 2}));                                      // not an object
  ExpectSameStamp(json{{"s", "\"chain\":{\"prev\":"}, {"bad", "\xff\xfe"}},
                  ChainHead{41, std::string(64, 'a')});
}

SessionInfo Session(bool rich) {
  SessionInfo s;
  s.session_id = "0a1b2c3d-42";
  s.principal.user = "alice";
  s.principal.uid = 1001;
  s.principal.groups = {"alice", "dev"};
  s.principal.exe = "/usr/bin/psql";
  s.pid = 4242;
  s.client = {"127.0.0.1", 51234};
  s.server = {"10.0.0.5", 5432};
  s.endpoint = "orders-db";
  s.database = "orders";
  s.database_user = "app";
  if (rich) {
    s.principal.unit = "jupyter.service";
    s.principal.container = "3f2a9c";
    s.grant_id = "g-abcdefghijkl";
    s.application_name = "veilctl mcp: Claude \"Code\"";
  }
  return s;
}

// The template's record and the slow path's for the same uid (the only random field).
void ExpectSameAsSlowPath(const QueryEventTemplate& t, int64_t time_ms, const StatementInfo& st) {
  const Record fast = t.Build(time_ms, st);
  const json parsed = json::parse(fast.json);
  json slow = QueryEvent(time_ms, t.session(), st);
  slow["metadata"]["uid"] = parsed["metadata"]["uid"];
  const Record expected = ToRecord(slow);
  EXPECT_EQ(fast.json, expected.json);
  EXPECT_EQ(fast.chain_at, expected.chain_at);
  EXPECT_EQ(fast.chain_first, expected.chain_first);
  EXPECT_EQ(fast.class_uid, 6005);
}

TEST(QueryEventTemplate, BuildsTheBytesQueryEventBuilds) {
  for (bool rich : {false, true}) {
    QueryEventTemplate t(Session(rich));
    StatementInfo st;
    st.sql = "SELECT id, email FROM customers WHERE email = 'alice@example.com' AND id > 42";
    ExpectSameAsSlowPath(t, 1'700'000'000'123, st);  // the least a statement has
    ExpectSameAsSlowPath(t, 0, st);
    st.kind = "read";
    st.command_tag = "SELECT 1";
    st.rows = 1;
    st.bytes = 180;
    st.duration_ms = 3;
    st.statement_name = "s1";
    st.masked.by_entity = {{"EMAIL", 1}, {"PERSON_NAME", 2}};
    st.masked.by_column = {{"public.customers.email", 1}, {"?", 2}, {"é\tx\"", 1}};
    st.lineage_masked = {"e <- public.customers.email", "n \\ x"};
    ExpectSameAsSlowPath(t, 1'700'000'000'123, st);
    st.sqlstate = "22P02";
    ExpectSameAsSlowPath(t, 1'700'000'000'123, st);
    st.guardrail = "read_only";
    ExpectSameAsSlowPath(t, 1'700'000'000'123, st);
    st.sqlstate.clear();
    ExpectSameAsSlowPath(t, 1'700'000'000'123, st);
    st.sql = "";
    st.masked.by_column = {{"bad\xff", 1}};  // a key the slow path sanitizes
    ExpectSameAsSlowPath(t, 1'700'000'000'123, st);
    st.sql = "SELECT '\x01\n\xc3' || \"na\xffme\" FROM t -- x";
    ExpectSameAsSlowPath(t, 1, st);
  }
}

TEST(QueryEventTemplate, CarriesTheSessionsDatabaseType) {
  SessionInfo s = Session(false);
  s.database_type = "MySQL";
  QueryEventTemplate t(s);
  StatementInfo st;
  st.sql = "SELECT 1";
  ExpectSameAsSlowPath(t, 0, st);
  EXPECT_EQ(json::parse(t.Build(0, st).json)["database"]["type"], "MySQL");
}

TEST(QueryEventTemplate, ChainsAndVerifiesLikeAnyRecord) {
  QueryEventTemplate t(Session(true));
  StatementInfo st;
  st.sql = "SELECT 1";
  Chain chain;
  std::string line;
  const ChainHead head = chain.Stamp(t.Build(5, st), &line);
  const json parsed = json::parse(line);
  auto hash = RecordHash(parsed);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_EQ(*hash, head.hash);
  EXPECT_EQ(Canonical(parsed), line);
}

}  // namespace
}  // namespace veil::events
