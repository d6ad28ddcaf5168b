#include "agent/bpf/pg_observer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/protocol/postgres/test_bytes.h"

namespace veil::agent::bpf {
namespace {

using pg::testing::Concat;
using pg::testing::Frame;
using pg::testing::HandWire;
using pg::testing::Packet;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

constexpr uint32_t kTgid = 4242;
constexpr uint64_t kSsl = 0x5555deadbeef;
constexpr char kRemote[] = "10.0.0.5:5432";

std::string Str(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::vector<uint8_t> Startup(const char* user, const char* database) {
  return Packet(HandWire().I32(196608).Str("user").Str(user).Str("database").Str(database).U8(0));
}
std::vector<uint8_t> QueryMsg(const char* sql) { return Frame('Q', HandWire().Str(sql)); }
std::vector<uint8_t> ParseMsg(const char* name, const char* sql) {
  return Frame('P', HandWire().Str(name).Str(sql).I16(0));
}
std::vector<uint8_t> BindMsg(const char* portal, const char* name) {
  return Frame('B', HandWire().Str(portal).Str(name).I16(0).I16(0).I16(0));
}
std::vector<uint8_t> ExecuteMsg(const char* portal) {
  return Frame('E', HandWire().Str(portal).I32(0));
}
std::vector<uint8_t> SyncMsg() { return Frame('S'); }

std::vector<uint8_t> AuthOk() { return Frame('R', HandWire().I32(0)); }
std::vector<uint8_t> Ready() { return Frame('Z', HandWire().U8('I')); }
std::vector<uint8_t> RowDesc() {
  return Frame('T', HandWire().I16(1).Str("v").I32(0).I16(0).I32(25).I16(-1).I32(-1).I16(0));
}
std::vector<uint8_t> Row(const char* value) {
  std::string v(value);
  return Frame('D', HandWire().I16(1).I32(static_cast<int64_t>(v.size())).Raw(v));
}
std::vector<uint8_t> Complete(const char* tag) { return Frame('C', HandWire().Str(tag)); }
std::vector<uint8_t> ErrorMsg(const char* sqlstate) {
  return Frame('E', HandWire().U8('S').Str("ERROR").U8('C').Str(sqlstate).U8('M').Str("bad").U8(0));
}
std::vector<uint8_t> ParseComplete() { return Frame('1'); }
std::vector<uint8_t> BindComplete() { return Frame('2'); }

class PgObserverTest : public ::testing::Test {
 protected:
  PgObserverTest() : observer_({}, [this](const ObservedStatement& s) { seen_.push_back(s); }) {}

  void Write(const std::vector<uint8_t>& bytes, bool truncated = false) {
    Send(TlsDirection::kWrite, Str(bytes), truncated);
  }
  void Read(const std::vector<uint8_t>& bytes, bool truncated = false) {
    Send(TlsDirection::kRead, Str(bytes), truncated);
  }
  void Send(TlsDirection direction, std::string data, bool truncated = false) {
    TlsChunk c;
    c.tgid = kTgid;
    c.uid = 1000;
    c.fd = 7;
    c.ssl = kSsl;
    c.direction = direction;
    c.data = std::move(data);
    c.truncated = truncated;
    c.remote = kRemote;
    observer_.OnChunk(c);
  }
  void Handshake() {
    Write(Startup("alice", "shop"));
    Read(Concat({AuthOk(), Ready()}));
  }

  PgObserver observer_;
  std::vector<ObservedStatement> seen_;
};

TEST_F(PgObserverTest, SimpleQueryFromTheStartOfTheConnection) {
  Handshake();
  Write(QueryMsg("SELECT name FROM customers WHERE id = 7"));
  Read(Concat({RowDesc(), Row("Ann"), Complete("SELECT 1"), Ready()}));

  ASSERT_EQ(seen_.size(), 1u);
  const ObservedStatement& s = seen_[0];
  EXPECT_EQ(s.tgid, kTgid);
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.remote, kRemote);
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.database, "shop");
  EXPECT_EQ(s.statement, "SELECT name FROM customers WHERE id = 7");
  EXPECT_FALSE(s.extended);
  EXPECT_EQ(s.command_tag, "SELECT 1");
  EXPECT_EQ(s.rows, 1u);
  EXPECT_EQ(s.sqlstate, "");
}

TEST_F(PgObserverTest, EveryByteInItsOwnChunk) {
  auto bytewise = [&](TlsDirection d, const std::vector<uint8_t>& bytes) {
    for (uint8_t c : bytes) Send(d, std::string(1, static_cast<char>(c)));
  };
  bytewise(TlsDirection::kWrite, Startup("bob", "bob"));
  bytewise(TlsDirection::kRead, Concat({AuthOk(), Ready()}));
  bytewise(TlsDirection::kWrite, QueryMsg("SELECT 2"));
  bytewise(TlsDirection::kRead,
           Concat({RowDesc(), Row("a"), Row("b"), Complete("SELECT 2"), Ready()}));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].statement, "SELECT 2");
  EXPECT_EQ(seen_[0].rows, 2u);
  EXPECT_EQ(seen_[0].user, "bob");
}

TEST_F(PgObserverTest, SeveralStatementsInOneChunkAndASimpleQueryWithTwoStatements) {
  Handshake();
  Write(QueryMsg("BEGIN; DELETE FROM t"));
  Read(Concat({Complete("BEGIN"), Complete("DELETE 3"), Ready()}));
  Write(QueryMsg("SELECT 1"));
  Read(Concat({RowDesc(), Row("1"), Complete("SELECT 1"), Ready()}));
  ASSERT_EQ(seen_.size(), 3u);
  EXPECT_EQ(seen_[0].command_tag, "BEGIN");
  EXPECT_EQ(seen_[0].rows, 0u);
  EXPECT_EQ(seen_[1].statement, "BEGIN; DELETE FROM t");
  EXPECT_EQ(seen_[1].rows, 3u);
  EXPECT_EQ(seen_[2].statement, "SELECT 1");
}

TEST_F(PgObserverTest, ExtendedProtocolNamedStatementReused) {
  Handshake();
  Write(Concat({ParseMsg("s1", "SELECT v FROM t WHERE k = $1"), BindMsg("", "s1"), ExecuteMsg(""),
                SyncMsg()}));
  Read(
      Concat({ParseComplete(), BindComplete(), Row("x"), Row("y"), Complete("SELECT 2"), Ready()}));
  Write(Concat({BindMsg("", "s1"), ExecuteMsg(""), SyncMsg()}));
  Read(Concat({BindComplete(), Row("z"), Complete("SELECT 1"), Ready()}));
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].statement, "SELECT v FROM t WHERE k = $1");
  EXPECT_TRUE(seen_[0].extended);
  EXPECT_EQ(seen_[0].rows, 2u);
  EXPECT_EQ(seen_[1].statement, "SELECT v FROM t WHERE k = $1");
  EXPECT_EQ(seen_[1].rows, 1u);
}

TEST_F(PgObserverTest, ErrorsCarryTheirSqlstate) {
  Handshake();
  Write(QueryMsg("SELECT nosuchcolumn FROM t"));
  Read(Concat({ErrorMsg("42703"), Ready()}));
  // Extended: the error answers the Parse; the Execute after it is skipped by the server.
  Write(Concat({ParseMsg("", "SELEC 1"), BindMsg("", ""), ExecuteMsg(""), SyncMsg()}));
  Read(Concat({ErrorMsg("42601"), Ready()}));
  Write(QueryMsg("SELECT 1"));
  Read(Concat({RowDesc(), Row("1"), Complete("SELECT 1"), Ready()}));
  ASSERT_EQ(seen_.size(), 3u);
  EXPECT_EQ(seen_[0].statement, "SELECT nosuchcolumn FROM t");
  EXPECT_EQ(seen_[0].sqlstate, "42703");
  EXPECT_EQ(seen_[0].command_tag, "");
  EXPECT_EQ(seen_[1].statement, "SELEC 1");
  EXPECT_EQ(seen_[1].sqlstate, "42601");
  EXPECT_EQ(seen_[2].statement, "SELECT 1");
  EXPECT_EQ(seen_[2].sqlstate, "");
}

TEST_F(PgObserverTest, JoinsMidStreamAtTheNextMessageBoundary) {
  // The tail of a Query whose head was never seen, and the tail of a DataRow.
  Send(TlsDirection::kWrite, "ROM big_table WHERE x > 5");
  Send(TlsDirection::kRead, std::string("\x00\x03"
                                        "abc",
                                        5) +
                                Str(Complete("SELECT 9")));
  EXPECT_THAT(seen_, IsEmpty());
  EXPECT_EQ(observer_.stats().skipped_chunks, 2u);

  Write(QueryMsg("SELECT email FROM users"));
  Read(Concat({RowDesc(), Row("a@b.c"), Complete("SELECT 1"), Ready()}));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].statement, "SELECT email FROM users");
  EXPECT_EQ(seen_[0].rows, 1u);
  EXPECT_EQ(seen_[0].user, "");  // the StartupMessage was before we joined
  EXPECT_EQ(observer_.stats().realigned, 2u);
}

TEST_F(PgObserverTest, RepliesInSkippedChunksAreNotPairedWithLaterRequests) {
  Handshake();
  Write(QueryMsg("SELECT a"));
  // The reply to "SELECT a" was truncated: its end is lost.
  Read(Concat({RowDesc(), Row("1")}), /*truncated=*/true);
  Send(TlsDirection::kRead, "tail-of-a-row");  // skipped
  Write(QueryMsg("SELECT b"));
  Read(Concat({RowDesc(), Row("2"), Row("3"), Complete("SELECT 2"), Ready()}));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].statement, "SELECT b");
  EXPECT_EQ(seen_[0].rows, 2u);
}

TEST_F(PgObserverTest, MalformedInputDropsTheConnectionOnly) {
  Handshake();
  // 'Q' with length 0: impossible; the connection's state goes.
  Send(TlsDirection::kWrite, std::string("Q\0\0\0\0", 5));
  EXPECT_EQ(observer_.stats().dropped_connections, 1u);
  EXPECT_EQ(observer_.connections(), 0u);

  // Later chunks of the same connection start over (mid-stream) and still work.
  Write(QueryMsg("SELECT 3"));
  Read(Concat({RowDesc(), Row("3"), Complete("SELECT 1"), Ready()}));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].statement, "SELECT 3");
}

TEST_F(PgObserverTest, CloseForgetsTheConnection) {
  Handshake();
  EXPECT_EQ(observer_.connections(), 1u);
  Send(TlsDirection::kClose, "");
  EXPECT_EQ(observer_.connections(), 0u);
}

TEST(PgObserverEndpoints, OnlyObservedEndpointsAreDecoded) {
  std::vector<ObservedStatement> seen;
  PgObserver observer({.endpoints = {"10.0.0.5:5432"}},
                      [&](const ObservedStatement& s) { seen.push_back(s); });
  for (const char* remote : {"10.0.0.6:5432", "10.0.0.5:5432"}) {
    TlsChunk c;
    c.tgid = 1;
    c.ssl = remote[7];  // a different connection per remote
    c.remote = remote;
    c.direction = TlsDirection::kWrite;
    c.data = Str(Startup("u", "d"));
    observer.OnChunk(c);
    c.direction = TlsDirection::kRead;
    c.data = Str(Concat({AuthOk(), Ready()}));
    observer.OnChunk(c);
    c.direction = TlsDirection::kWrite;
    c.data = Str(QueryMsg(remote));
    observer.OnChunk(c);
    c.direction = TlsDirection::kRead;
    c.data = Str(Concat({Complete("SELECT 0"), Ready()}));
    observer.OnChunk(c);
  }
  EXPECT_THAT(seen, ElementsAre(Field(&ObservedStatement::statement, "10.0.0.5:5432")));
  EXPECT_EQ(observer.connections(), 1u);
}

TEST_F(PgObserverTest, RandomInputNeverCrashes) {
  std::mt19937 rng(7);
  std::vector<std::string> pieces = {
      Str(QueryMsg("SELECT 1")), Str(Row("x")),          Str(Ready()),
      Str(Complete("SELECT 1")), Str(Startup("a", "b")), Str(ErrorMsg("XX000"))};
  for (int i = 0; i < 20000; ++i) {
    std::string data;
    if (rng() % 2) {
      data = pieces[rng() % pieces.size()];
      if (!data.empty() && rng() % 3 == 0) data[rng() % data.size()] = static_cast<char>(rng());
      data = data.substr(rng() % (data.size() + 1));
    } else {
      data.resize(rng() % 64);
      for (char& c : data) c = static_cast<char>(rng());
    }
    TlsChunk c;
    c.tgid = rng() % 3;
    c.ssl = rng() % 3;
    c.direction = static_cast<TlsDirection>(rng() % 3);
    c.truncated = rng() % 10 == 0;
    c.data = std::move(data);
    observer_.OnChunk(c);
  }
  EXPECT_LE(observer_.connections(), 9u);
}

TEST(RowsFromCommandTag, CountsWhereTheTagHasOne) {
  EXPECT_EQ(RowsFromCommandTag("SELECT 5"), 5);
  EXPECT_EQ(RowsFromCommandTag("INSERT 0 3"), 3);
  EXPECT_EQ(RowsFromCommandTag("UPDATE 12"), 12);
  EXPECT_EQ(RowsFromCommandTag("COPY 100"), 100);
  EXPECT_EQ(RowsFromCommandTag("CREATE TABLE"), -1);
  EXPECT_EQ(RowsFromCommandTag("BEGIN"), -1);
  EXPECT_EQ(RowsFromCommandTag("SELECT x"), -1);
}

}  // namespace
}  // namespace veil::agent::bpf
