#include "agent/protocol/postgres/transcoder.h"

#include <gtest/gtest.h>

#include "agent/protocol/postgres/encoder.h"
#include "config/veil_config.pb.h"

namespace veil::agent {
namespace {

std::shared_ptr<const masker::MaskingProfile> Profile() {
  std::array<uint8_t, 32> k{};
  return masker::MaskingProfile::Default(masker::MaskKey::FromBytes(k));
}

template <typename M>
void Put(const M& m, std::vector<uint8_t>* out) {
  ASSERT_TRUE(pg::Encode(m, out).ok());
}

pg::RowDescription Columns(std::vector<std::pair<std::string_view, uint32_t>> cols,
                           int16_t format = 0) {
  pg::RowDescription d;
  for (auto [name, oid] : cols) {
    pg::FieldDescription f;
    f.name = name;
    f.type_oid = oid;
    f.format = format;
    d.fields.push_back(f);
  }
  return d;
}

void Row(std::vector<std::optional<std::string_view>> values, std::vector<uint8_t>* out) {
  std::vector<pg::ColumnValue> cols;
  for (auto& v : values) cols.push_back(v ? pg::ColumnValue{*v, false} : pg::ColumnValue{{}, true});
  ASSERT_TRUE(pg::EncodeDataRow(cols, out).ok());
}

// Feeds `in` (in chunks of `chunk` bytes, as a socket would deliver it) and decodes what the
// client would receive.
std::vector<pg::BackendMessage> Through(PgTranscoder& t, const std::vector<uint8_t>& in,
                                        size_t chunk = 1 << 20) {
  std::vector<uint8_t> buffered, out;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    buffered.insert(buffered.end(), in.begin() + pos,
                    in.begin() + std::min(in.size(), pos + chunk));
    size_t consumed = 0;
    EXPECT_TRUE(t.OnBackend(buffered, &consumed, &out).ok());
    buffered.erase(buffered.begin(), buffered.begin() + consumed);
  }
  EXPECT_TRUE(buffered.empty());
  static std::vector<uint8_t> keep;  // messages hold views into it
  keep = out;
  std::vector<pg::BackendMessage> msgs;
  pg::BackendDecoder dec;
  size_t pos = 0;
  while (pos < keep.size()) {
    size_t n = 0;
    pg::BackendMessage m;
    auto r = dec.Decode(std::span(keep).subspan(pos), &n, &m);
    EXPECT_TRUE(r.ready()) << r.error;
    if (!r.ready()) break;
    msgs.push_back(std::move(m));
    pos += n;
  }
  return msgs;
}

std::vector<std::string> Cells(const pg::BackendMessage& m) {
  std::vector<std::string> r;
  for (const auto& c : std::get<pg::DataRowView>(m).columns)
    r.push_back(c.is_null ? "NULL" : std::string(c.data));
  return r;
}

TEST(PgTranscoder, SimpleQueryRowsAreMaskedByContentAndColumn) {
  PgTranscoder t(Profile(), 42, "abcd");
  t.OnFrontend(pg::Query{"select * from customers"});
  std::vector<uint8_t> in;
  Put(Columns({{"id", 23}, {"contact", 25}, {"phone", 1043}, {"notes", 25}}), &in);
  Row({"1", "bob@example.com", "6502530000", "card 4111 1111 1111 1111 ok"}, &in);
  Row({"2", std::nullopt, "n/a", "nothing here"}, &in);
  Put(pg::CommandComplete{"SELECT 2"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  for (size_t chunk : {size_t{1} << 20, size_t{7}, size_t{1}}) {
    PgTranscoder tr(Profile(), 42, "abcd");
    tr.OnFrontend(pg::Query{"select * from customers"});
    auto msgs = Through(tr, in, chunk);
    ASSERT_EQ(msgs.size(), 5u) << "chunk " << chunk;
    EXPECT_EQ(Cells(msgs[1]),
              (std::vector<std::string>{"1", "[EMAIL]", "[PHONE]", "card [CREDIT_CARD] ok"}));
    EXPECT_EQ(Cells(msgs[2]), (std::vector<std::string>{"2", "NULL", "n/a", "nothing here"}));
    EXPECT_TRUE(std::holds_alternative<pg::ReadyForQuery>(msgs[4]));
  }
}

TEST(PgTranscoder, ExtendedProtocolBinaryResults) {
  PgTranscoder t(Profile(), 42, "abcd");
  // JDBC-style: a named statement described once, then bound with binary results.
  t.OnFrontend(pg::Parse{"S_1", "select id, email, doc, born from users", {}});
  t.OnFrontend(pg::Describe{'S', "S_1"});
  t.OnFrontend(pg::Sync{});
  std::vector<uint8_t> in;
  Put(pg::ParseComplete{}, &in);
  Put(pg::ParameterDescription{}, &in);
  Put(Columns({{"id", 23}, {"email", 25}, {"doc", 3802}, {"dob", 1082}}), &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  EXPECT_EQ(Through(t, in).size(), 4u);

  int16_t binary = pg::kFormatBinary;
  t.OnFrontend(pg::Bind{"", "S_1", {}, {}, {binary}});
  t.OnFrontend(pg::Execute{"", 0});
  t.OnFrontend(pg::Sync{});
  in.clear();
  Put(pg::BindComplete{}, &in);
  std::string id("\0\0\0\7", 4);
  std::string jsonb = std::string("\1") + R"({"mail": "ann@example.org"})";
  std::string date("\0\0\x1f\x40", 4);
  Row({id, "bob@example.com", jsonb, date}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 4u);
  auto cells = Cells(msgs[1]);
  EXPECT_EQ(cells[0], id);                                            // int4 untouched
  EXPECT_EQ(cells[1], "[EMAIL]");                                     // text: bytes are text
  EXPECT_EQ(cells[2], std::string("\1") + R"({"mail": "[EMAIL]"})");  // jsonb keeps its version
  EXPECT_EQ(cells[3], "NULL");  // binary date of a "dob" column: NULL, a date can't hold [..]
}

// pgjdbc after prepareThreshold: the portal is described once; later executions re-bind the
// named statement with no Describe at all. Their rows must get the same column plan.
TEST(PgTranscoder, RebindWithoutDescribeKeepsTheColumnPlan) {
  PgTranscoder t(Profile(), 42, "abcd");
  t.OnFrontend(pg::Parse{"S_1", "select phone, born from customers where id = $1", {}});
  t.OnFrontend(pg::Bind{"", "S_1", {}, {}, {}});
  t.OnFrontend(pg::Describe{'P', ""});
  t.OnFrontend(pg::Execute{"", 0});
  t.OnFrontend(pg::Sync{});
  std::vector<uint8_t> in;
  Put(pg::ParseComplete{}, &in);
  Put(pg::BindComplete{}, &in);
  Put(Columns({{"phone", 25}, {"born", 1082}}), &in);
  Row({"6502530000", "1984-03-07"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 6u);
  EXPECT_EQ(Cells(msgs[3]), (std::vector<std::string>{"[PHONE]", "NULL"}));
  for (int i = 0; i < 3; ++i) {
    t.OnFrontend(pg::Bind{"", "S_1", {}, {}, {}});
    t.OnFrontend(pg::Execute{"", 0});
    t.OnFrontend(pg::Sync{});
    in.clear();
    Put(pg::BindComplete{}, &in);
    Row({"6502530000", "1984-03-07"}, &in);
    Put(pg::CommandComplete{"SELECT 1"}, &in);
    Put(pg::ReadyForQuery{'I'}, &in);
    msgs = Through(t, in);
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(Cells(msgs[1]), (std::vector<std::string>{"[PHONE]", "NULL"})) << "execution " << i;
  }
}

TEST(PgTranscoder, MaxRowsEndsTheResultWithAnError) {
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetMaxRows(2);
  t.OnFrontend(pg::Query{"select n from big"});
  std::vector<uint8_t> in;
  Put(Columns({{"n", 23}}), &in);
  for (int i = 1; i <= 5; ++i) Row({std::to_string(i)}, &in);
  Put(pg::CommandComplete{"SELECT 5"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in, 9);  // rows split across reads too
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<pg::RowDescription>(msgs[0]));
  EXPECT_EQ(Cells(msgs[1]), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Cells(msgs[2]), (std::vector<std::string>{"2"}));
  const auto& err = std::get<pg::ErrorResponse>(msgs[3]);
  EXPECT_EQ(err.sqlstate(), "42501");
  EXPECT_EQ(err.message(), "veil: result ended by guardrail max-rows after 2 rows");
  EXPECT_TRUE(std::holds_alternative<pg::ReadyForQuery>(msgs[4]));
  // The next result starts counting again.
  t.OnFrontend(pg::Query{"select 1"});
  in.clear();
  Put(Columns({{"n", 23}}), &in);
  Row({"1"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  EXPECT_EQ(Through(t, in).size(), 4u);
}

TEST(PgTranscoder, ErrorsNoticesAndCopyAreMasked) {
  PgTranscoder t(Profile(), 42, "abcd");
  t.OnFrontend(pg::Query{"select 'bob@example.com'::int"});
  std::vector<uint8_t> in;
  Put(pg::MakeError(pg::Severity::kError, "22P02",
                    "invalid input syntax for type integer: \"bob@example.com\""),
      &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(std::get<pg::ErrorResponse>(msgs[0]).message(),
            "invalid input syntax for type integer: \"[EMAIL]\"");

  t.OnFrontend(pg::Query{"copy customers to stdout"});
  in.clear();
  Put(pg::CopyOutResponse{}, &in);
  Put(pg::CopyData{"1\tbob@example.com\t536-22-1234\n"}, &in);
  Put(pg::CopyData{"2\tnobody\t\\N\n"}, &in);
  Put(pg::CopyDone{}, &in);
  Put(pg::CommandComplete{"COPY 2"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 6u);
  EXPECT_EQ(std::get<pg::CopyData>(msgs[1]).data, "1\t[EMAIL]\t[US_SSN]\n");
  EXPECT_EQ(std::get<pg::CopyData>(msgs[2]).data, "2\tnobody\t\\N\n");
}

TEST(PgTranscoder, StartupKeyAndSasl) {
  PgTranscoder t(Profile(), 42, "abcd");
  std::vector<uint8_t> in;
  pg::Authentication sasl;
  sasl.type = pg::AuthenticationType::kSasl;
  sasl.sasl_mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  Put(sasl, &in);
  Put(pg::BackendKeyData{777, "wxyz"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(std::get<pg::Authentication>(msgs[0]).sasl_mechanisms,
            (std::vector<std::string_view>{"SCRAM-SHA-256"}));
  EXPECT_EQ(std::get<pg::BackendKeyData>(msgs[1]).process_id, 42);
  EXPECT_EQ(std::get<pg::BackendKeyData>(msgs[1]).secret_key, "abcd");
  ASSERT_TRUE(t.upstream_key().has_value());
  EXPECT_EQ(t.upstream_key()->first, 777);
  EXPECT_EQ(t.upstream_key()->second, "wxyz");
  EXPECT_TRUE(t.ready());
}

TEST(PgTranscoder, MalformedBackendFrameIsAnError) {
  PgTranscoder t(Profile(), 42, "abcd");
  std::vector<uint8_t> in = {'D', 0, 0, 0, 6, 0, 5};  // DataRow claiming 5 columns, no data
  std::vector<uint8_t> out;
  size_t consumed = 0;
  EXPECT_FALSE(t.OnBackend(in, &consumed, &out).ok());
}

}  // namespace
}  // namespace veil::agent

namespace veil::agent {
namespace {

// Usage events are built from these records: text, rows, bytes, masked counts per entity and
// per column, errors, guardrails — one record per statement, in order.
// ---- lineage (SPEC §6.1) ----------------------------------------------------------------------

using LK = ColumnLineage::Kind;

ColumnLineage Direct(std::string table, std::string column) {
  return {LK::kDirect, {{"public", std::move(table), std::move(column)}}};
}
ColumnLineage Derived(std::vector<std::pair<std::string, std::string>> sources) {
  ColumnLineage l{LK::kDerived, {}};
  for (auto& [t, c] : sources) l.sources.push_back({"public", t, c});
  return l;
}

// An analyzer that answers every text with the same statements, and counts its calls.
struct FixedAnalyzer {
  std::shared_ptr<QueryLineage> lineage = std::make_shared<QueryLineage>();
  std::vector<std::string> seen;
  PgTranscoder::Analyzer Fn() {
    return [this](std::string_view sql) -> std::shared_ptr<const QueryLineage> {
      seen.emplace_back(sql);
      return lineage;
    };
  }
  void Add(std::vector<ColumnLineage> columns) { lineage->push_back({true, {std::move(columns)}}); }
  // COPY … TO STDOUT: its columns and the format its options set.
  void AddCopy(std::vector<ColumnLineage> columns, sql::CopyFormat format = {}) {
    Add(std::move(columns));
    lineage->back().copy = std::move(format);
  }
};

TEST(PgTranscoderLineage, DerivedColumnsAreReplacedWholeByTypeAndDirectOnesScanned) {
  FixedAnalyzer a;
  // split_part(email, '@', 1), length(email), json_build_object('e', email), city, email AS x
  a.Add({Derived({{"customers", "email"}}), Derived({{"customers", "email"}}),
         Derived({{"customers", "email"}}), Derived({{"customers", "city"}}),
         Direct("customers", "email")});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select …"});
  std::vector<uint8_t> in;
  Put(Columns({{"split_part", 25},
               {"length", 23},
               {"json_build_object", 114},
               {"upper", 25},
               {"x", 25}}),
      &in);
  Row({"margaret.okonkwo", "28", R"({"e" : "margaret.okonkwo@example.com"})", "LAGOS",
       "margaret.okonkwo@example.com"},
      &in);
  Row({std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt}, &in);
  Put(pg::CommandComplete{"SELECT 2"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(Cells(msgs[1]),
            (std::vector<std::string>{"[EMAIL]", "NULL", "\"[EMAIL]\"", "LAGOS", "[EMAIL]"}));
  // NULL stays NULL: there is no value to hide.
  EXPECT_EQ(Cells(msgs[2]), (std::vector<std::string>{"NULL", "NULL", "NULL", "NULL", "NULL"}));
  ASSERT_EQ(a.seen.size(), 1u);
  auto records = t.TakeStatements();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].lineage_masked,
            (std::vector<std::string>{"split_part <- public.customers.email",
                                      "length <- public.customers.email",
                                      "json_build_object <- public.customers.email"}));
}

TEST(PgTranscoderLineage, WithoutLineageEveryColumnIsMaskedWhole) {
  FixedAnalyzer a;  // answers nothing: a parse error, say
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select whatever"});
  std::vector<uint8_t> in;
  Put(Columns({{"a", 25}, {"b", 23}}), &in);
  Row({"anything at all", "7"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  EXPECT_EQ(Cells(msgs[1]), (std::vector<std::string>{"[MASKED]", "NULL"}));
}

TEST(PgTranscoderLineage, EachStatementOfAQueryGetsItsOwnLineage) {
  FixedAnalyzer a;
  a.Add({Derived({})});                      // SELECT 1
  a.Add({});                                 // SET … (no rows)
  a.Add({Derived({{"customers", "ssn"}})});  // SELECT upper(ssn)
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select 1; set x = 1; select upper(ssn) from customers"});
  std::vector<uint8_t> in;
  Put(Columns({{"?column?", 25}}), &in);
  Row({"1"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::CommandComplete{"SET"}, &in);
  Put(Columns({{"upper", 25}}), &in);
  Row({"536-22-1234"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 8u);
  EXPECT_EQ(Cells(msgs[1]), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Cells(msgs[5]), (std::vector<std::string>{"[US_SSN]"}));
}

TEST(PgTranscoderLineage, HashGivesTheSameTokenForTheSameDerivedValue) {
  std::array<uint8_t, 32> k{};
  config::v1::MaskingProfile cfg;
  cfg.add_entities("all");
  (*cfg.mutable_strategies())["EMAIL"] = config::v1::MaskingProfile::STRATEGY_HASH;
  auto compiled = masker::MaskingProfile::Compile(cfg, "p", masker::MaskKey::FromBytes(k));
  ASSERT_EQ(compiled.index(), 0u);
  FixedAnalyzer a;
  a.Add({Derived({{"customers", "email"}})});
  PgTranscoder t(std::get<0>(compiled), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select split_part(email, '@', 2) from customers"});
  std::vector<uint8_t> in;
  Put(Columns({{"split_part", 25}}), &in);
  Row({"example.com"}, &in);
  Row({"example.org"}, &in);
  Row({"example.com"}, &in);
  Put(pg::CommandComplete{"SELECT 3"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 6u);
  std::string first = Cells(msgs[1])[0], second = Cells(msgs[2])[0], third = Cells(msgs[3])[0];
  EXPECT_EQ(first, third) << "joins and distinct counts need one token per value";
  EXPECT_NE(first, second);
  EXPECT_EQ(first.find("example"), std::string::npos) << first;
}

TEST(PgTranscoderLineage, ExecuteWithoutAnyDescriptionNullsWhatIsDerived) {
  FixedAnalyzer a;
  a.Add({Direct("customers", "email"), Derived({{"customers", "email"}})});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  // A client that never asks for a RowDescription and decodes the rows itself.
  t.OnFrontend(pg::Parse{"", "select email, reverse(email) from customers", {}});
  t.OnFrontend(pg::Bind{"", "", {}, {}, {}});
  t.OnFrontend(pg::Execute{"", 0});
  t.OnFrontend(pg::Sync{});
  std::vector<uint8_t> in;
  Put(pg::ParseComplete{}, &in);
  Put(pg::BindComplete{}, &in);
  Row({"bob@example.com", "moc.elpmaxe@bob"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(Cells(msgs[2]), (std::vector<std::string>{"[EMAIL]", "NULL"}));
}

// libpq's PQexecParams (and most drivers): the unnamed statement, its portal described.
TEST(PgTranscoderLineage, UnnamedStatementDescribedByPortal) {
  FixedAnalyzer a;
  a.Add({Derived({{"customers", "city"}}), Derived({{"customers", "email"}})});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Parse{"", "select upper(city), upper(email) from customers", {}});
  t.OnFrontend(pg::Bind{"", "", {}, {}, {}});
  t.OnFrontend(pg::Describe{'P', ""});
  t.OnFrontend(pg::Execute{"", 0});
  t.OnFrontend(pg::Sync{});
  std::vector<uint8_t> in;
  Put(pg::ParseComplete{}, &in);
  Put(pg::BindComplete{}, &in);
  Put(Columns({{"upper", 25}, {"upper", 25}}), &in);
  Row({"LAGOS", "MARGARET.OKONKWO@EXAMPLE.COM"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 6u);
  EXPECT_EQ(Cells(msgs[3]), (std::vector<std::string>{"LAGOS", "[EMAIL]"}));
}

// SELECT ssn … UNION SELECT email …: one column, direct from two sensitive columns. No one
// column's policy masks both (078-05-1120 does not look like an SSN to a content scan, nor like
// an e-mail): replaced whole, as a value computed from both.
TEST(PgTranscoderLineage, ADirectColumnOfSeveralSensitiveSourcesIsReplacedWhole) {
  FixedAnalyzer a;
  a.Add({{LK::kDirect, {{"public", "customers", "email"}, {"public", "customers", "ssn"}}},
         {LK::kDirect, {{"public", "customers", "ssn"}, {"public", "customers", "city"}}}});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select ssn, ssn from customers union select email, city from customers"});
  std::vector<uint8_t> in;
  Put(Columns({{"ssn", 25}, {"ssn", 25}}), &in);
  Row({"078-05-1120", "536-22-1234"}, &in);
  Row({"t.lindqvist@example.org", "Lagos"}, &in);
  Put(pg::CommandComplete{"SELECT 2"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(Cells(msgs[1]), (std::vector<std::string>{"[MASKED]", "[US_SSN]"}));
  EXPECT_EQ(Cells(msgs[2])[0], "[MASKED]");
  EXPECT_EQ(Cells(msgs[2])[1], "Lagos");  // one sensitive source: its policy, as before
}

TEST(PgTranscoderLineage, CopyOfAQueryFollowsItsLineage) {
  FixedAnalyzer a;
  a.AddCopy({Derived({{"customers", "email"}}), Derived({{"customers", "city"}})});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"copy (select upper(email), city from customers) to stdout"});
  std::vector<uint8_t> in;
  pg::CopyOutResponse copy;
  copy.format = pg::kFormatText;
  copy.column_formats = {0, 0};
  Put(copy, &in);
  Put(pg::CopyData{"MARGARET.OKONKWO@EXAMPLE.COM\tLagos\n"}, &in);
  Put(pg::CopyDone{}, &in);
  Put(pg::CommandComplete{"COPY 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(std::get<pg::CopyData>(msgs[1]).data, "[EMAIL]\tLagos\n");
}

// pg_stat_activity.query holds other sessions' statements with their literals: read as it is,
// it comes back with the literals normalized out (a reversed SSN is no SSN to a content scan);
// computed from, it is replaced whole; in COPY it is replaced whole.
TEST(PgTranscoderLineage, OtherSessionsStatementsComeBackWithoutTheirLiterals) {
  const SourceColumn query{"pg_catalog", "pg_stat_activity", "query"};
  FixedAnalyzer a;
  a.Add({{LK::kDirect, {query}}, {LK::kDerived, {query}}});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select query, reverse(query) from pg_stat_activity"});
  std::vector<uint8_t> in;
  Put(Columns({{"query", 25}, {"reverse", 25}}), &in);
  Row({"UPDATE customers SET notes = '4321-22-635' WHERE id = 7",
       "7 = di EREHW '536-22-1234' = seton TES sremotsuc ETADPU"},
      &in);
  Row({"SELECT 1", "1 TCELES"}, &in);
  Put(pg::CommandComplete{"SELECT 2"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(Cells(msgs[1]),
            (std::vector<std::string>{"UPDATE customers SET notes = ? WHERE id = ?", "[MASKED]"}));
  EXPECT_EQ(Cells(msgs[2]), (std::vector<std::string>{"SELECT ?", "[MASKED]"}));

  PgTranscoder c(Profile(), 42, "abcd");
  FixedAnalyzer b;
  b.AddCopy({{LK::kDirect, {query}}});
  c.SetAnalyzer(b.Fn());
  c.OnFrontend(pg::Query{"copy (select query from pg_stat_activity) to stdout"});
  in.clear();
  pg::CopyOutResponse copy;
  copy.format = pg::kFormatText;
  copy.column_formats = {0};
  Put(copy, &in);
  Put(pg::CopyData{"SELECT E'\\\\'' , '4321-22-635'\n"}, &in);
  Put(pg::CopyDone{}, &in);
  Put(pg::CommandComplete{"COPY 1"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  msgs = Through(c, in);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(std::get<pg::CopyData>(msgs[1]).data, "[MASKED]\n");
}

// COPY's options decide where one field ends: with DELIMITER '-' an SSN's dashes are escaped
// inside one field, with CSV a quoted value may hold the delimiter, quotes and line ends.
// Each field is read as the client will read it and masked with its column's policy.
TEST(PgTranscoderLineage, CopyIsReadInTheFormatItsOptionsSet) {
  auto copy_through = [](sql::CopyFormat format, std::vector<ColumnLineage> columns,
                         std::vector<std::string> rows) {
    FixedAnalyzer a;
    a.AddCopy(std::move(columns), format);
    PgTranscoder t(Profile(), 42, "abcd");
    t.SetAnalyzer(a.Fn());
    t.OnFrontend(pg::Query{"copy … to stdout (…)"});
    std::vector<uint8_t> in;
    pg::CopyOutResponse copy;
    copy.format = pg::kFormatText;
    copy.column_formats.assign(a.lineage->back().result.columns.size(), 0);
    Put(copy, &in);
    for (auto& r : rows) Put(pg::CopyData{r}, &in);
    Put(pg::CopyDone{}, &in);
    Put(pg::CommandComplete{"COPY"}, &in);
    Put(pg::ReadyForQuery{'I'}, &in);
    std::vector<std::string> out;
    for (auto& m : Through(t, in)) {
      if (auto* d = std::get_if<pg::CopyData>(&m)) out.emplace_back(d->data);
      if (auto* e = std::get_if<pg::ErrorResponse>(&m))
        out.push_back("ERROR " + std::string(e->Get(pg::field::kMessage)));
    }
    return out;
  };
  const auto id = Direct("customers", "id");
  const auto email = Direct("customers", "email");
  const auto ssn_derived = Derived({{"customers", "ssn"}});

  sql::CopyFormat dash;
  dash.delimiter = '-';
  EXPECT_EQ(copy_through(dash, {id, email, ssn_derived},
                         {"1-ann\\-lee@example.com-4321\\-22\\-635\n", "2-\\N-\\N\n"}),
            (std::vector<std::string>{"1-[EMAIL]-[US_SSN]\n", "2-\\N-\\N\n"}));

  sql::CopyFormat csv;
  csv.kind = sql::CopyFormat::Kind::kCsv;
  csv.delimiter = ' ';
  csv.quote = '5';
  csv.escape = '5';
  csv.null = "";
  csv.header = true;
  EXPECT_EQ(copy_through(csv, {id, email, ssn_derived},
                         {"id email r\n", "1 5ann.lee@example.com5 54321-22-63555\n",
                          "2 5a 55 b@example.org5 5x\ny5\n", "3  \n"}),
            (std::vector<std::string>{"id email r\n", "1 5[EMAIL]5 5[US_SSN]5\n",
                                      "2 5a 55 [EMAIL]5 5[US_SSN]5\n", "3  \n"}));

  // A row that does not split into the statement's columns is never forwarded.
  auto refused = copy_through(
      {}, {id, email}, {"1\tann@example.com\n", "2-bob@example.com\n", "3\tcy@example.com\n"});
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0], "1\t[EMAIL]\n");
  EXPECT_EQ(refused[1].rfind("ERROR veil: a COPY row does not split", 0), 0u) << refused[1];

  // Options veil does not read, or no analysis of the statement: no data at all.
  sql::CopyFormat odd;
  odd.understood = false;
  auto unread = copy_through(odd, {id}, {"1\n"});
  ASSERT_EQ(unread.size(), 1u);
  EXPECT_EQ(unread[0].rfind("ERROR veil: COPY options veil cannot read", 0), 0u) << unread[0];
}

// pg_dump's COPY: values masked by content are counted per column, as in a DataRow, so that a
// dump's statement (and `veilctl clone`'s summary) says which columns were masked.
TEST(PgTranscoderLineage, CopyOfATableCountsMaskedValuesPerColumn) {
  FixedAnalyzer a;
  a.AddCopy({Direct("customers", "id"), Direct("customers", "email"), Direct("customers", "city")});
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"COPY public.customers (id, email, city) TO stdout;"});
  std::vector<uint8_t> in;
  pg::CopyOutResponse copy;
  copy.format = pg::kFormatText;
  copy.column_formats = {0, 0, 0};
  Put(copy, &in);
  Put(pg::CopyData{"1\tmargaret.okonkwo@example.com\tLagos\n"}, &in);
  Put(pg::CopyData{"2\tbob@example.org\tOslo\n"}, &in);
  Put(pg::CopyData{"3\t\\N\tOslo\n"}, &in);
  Put(pg::CopyDone{}, &in);
  Put(pg::CommandComplete{"COPY 3"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 7u);
  EXPECT_EQ(std::get<pg::CopyData>(msgs[2]).data, "2\t[EMAIL]\tOslo\n");
  auto records = t.TakeStatements();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].masked_by_column.at("public.customers.email"), 2u);
  EXPECT_EQ(records[0].masked_by_column.count("public.customers.city"), 0u);
  EXPECT_EQ(records[0].masked_by_column.count("public.customers.id"), 0u);
}

TEST(PgTranscoderLineage, ValueErrorsOfStatementsReadingSensitiveColumnsLoseTheirTexts) {
  FixedAnalyzer a;
  a.Add({Derived({{"customers", "email"}})});
  a.lineage->back().reads = {{"public", "customers", "email"}};
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  t.OnFrontend(pg::Query{"select reverse(email)::int from customers"});
  std::vector<uint8_t> in;
  // What PostgreSQL says: the reversed address, which content scanning cannot recognise.
  Put(pg::MakeError(pg::Severity::kError, "22P02",
                    "invalid input syntax for type integer: \"moc.elpmaxe@okwoko.teragram\""),
      &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  auto msgs = Through(t, in);
  ASSERT_EQ(msgs.size(), 2u);
  auto& e = std::get<pg::ErrorResponse>(msgs[0]);
  EXPECT_EQ(e.Get(pg::field::kSqlState), "22P02");
  EXPECT_EQ(e.Get(pg::field::kMessage),
            "veil: text withheld (SQLSTATE 22P02): the statement reads sensitive columns");

  // Other errors keep their (content-masked) texts: a syntax error is not about a value.
  t.OnFrontend(pg::Query{"selec 1"});
  in.clear();
  Put(pg::MakeError(pg::Severity::kError, "42601", "syntax error at or near \"selec\""), &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  msgs = Through(t, in);
  EXPECT_EQ(std::get<pg::ErrorResponse>(msgs[0]).Get(pg::field::kMessage),
            "syntax error at or near \"selec\"");
}

TEST(PgTranscoderLineage, ErrorsQuotingWhatTheStatementDoesNotSayLoseTheirTexts) {
  FixedAnalyzer a;
  a.Add({Derived({{"customers", "ssn"}})});
  a.lineage->back().reads = {{"public", "customers", "ssn"}};
  PgTranscoder t(Profile(), 42, "abcd");
  t.SetAnalyzer(a.Fn());
  auto answer = [&](std::string_view sql, pg::ErrorResponse e) {
    t.OnFrontend(pg::Query{std::string(sql)});
    std::vector<uint8_t> in;
    Put(e, &in);
    Put(pg::ReadyForQuery{'I'}, &in);
    auto msgs = Through(t, in);
    return std::get<pg::ErrorResponse>(msgs.at(0));
  };
  // A name made of a value: the reversed SSN, which content scanning cannot recognise.
  auto e = pg::MakeError(pg::Severity::kError, "42601", "syntax error at or near \"4321\"");
  e.Set(pg::field::kWhere, "invalid type name \"4321-22-635\"");
  auto got = answer("select reverse(ssn)::regtype from customers", e);
  EXPECT_EQ(got.Get(pg::field::kSqlState), "42601");
  EXPECT_EQ(got.Get(pg::field::kMessage),
            "veil: text withheld (SQLSTATE 42601): the statement reads sensitive columns");
  EXPECT_EQ(got.fields.end(), std::find_if(got.fields.begin(), got.fields.end(),
                                           [](auto& f) { return f.code == pg::field::kWhere; }));
  // A query built from a value, run by query_to_xml: its QUERY and the name it quotes.
  e = pg::MakeError(pg::Severity::kError, "42P01",
                    "missing FROM-clause entry for table \"margaret\"");
  e.Set(pg::field::kInternalQuery, "select margaret.okonkwo@example.com");
  e.Set(pg::field::kInternalPosition, "8");
  got = answer("select query_to_xml('select ' || ssn, true, false, '') from customers", e);
  EXPECT_EQ(got.Get(pg::field::kInternalQuery), "");
  EXPECT_EQ(got.Get(pg::field::kInternalPosition), "");
  EXPECT_NE(got.Get(pg::field::kMessage).find("text withheld"), std::string_view::npos);
  // A typo quotes the statement's own text (folded to lower case): it keeps its text.
  got = answer("select EMIAL from customers",
               pg::MakeError(pg::Severity::kError, "42703", "column \"emial\" does not exist"));
  EXPECT_EQ(got.Get(pg::field::kMessage), "column \"emial\" does not exist");
}

TEST(PgTranscoderStatements, SimpleQueryRecordsRowsAndMaskedCounts) {
  PgTranscoder t(Profile(), 42, "abcd");
  t.OnFrontend(pg::Query{"select email, notes from customers where id < 3"});
  std::vector<uint8_t> in;
  Put(Columns({{"email", 25}, {"notes", 25}}), &in);
  Row({"bob@example.com", "call 415-555-0100 later"}, &in);
  Row({"amy@example.org", "nothing"}, &in);
  Put(pg::CommandComplete{"SELECT 2"}, &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  Through(t, in, 5);
  auto records = t.TakeStatements();
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(r.text, "select email, notes from customers where id < 3");
  EXPECT_EQ(r.command_tag, "SELECT 2");
  EXPECT_EQ(r.rows, 2u);
  EXPECT_GT(r.bytes, 40u);
  EXPECT_EQ(r.masked.per_entity[static_cast<size_t>(masker::Entity::kEmail)], 2u);
  EXPECT_EQ(r.masked_by_column.at("email"), 2u);
  EXPECT_EQ(r.masked_by_column.count("notes"), 1u);
  EXPECT_TRUE(r.sqlstate.empty());
  EXPECT_TRUE(t.TakeStatements().empty());
}

TEST(PgTranscoderStatements, ExtendedProtocolNamesTheParsedTextAndErrorsEndTheBatch) {
  PgTranscoder t(Profile(), 42, "abcd");
  t.OnFrontend(pg::Parse{"s1", "select $1::text", {}});
  t.OnFrontend(pg::Bind{"", "s1", {}, {}, {}});
  t.OnFrontend(pg::Execute{"", 0});
  t.NoteBlocked("drop table customers", "no-ddl");
  t.OnFrontend(pg::Parse{"", "DO $veil$ … $veil$", {}});
  t.OnFrontend(pg::Bind{"", "", {}, {}, {}});
  t.OnFrontend(pg::Execute{"", 0});
  t.OnFrontend(pg::Parse{"", "select 3", {}});  // skipped by the server after the error
  t.OnFrontend(pg::Bind{"", "", {}, {}, {}});
  t.OnFrontend(pg::Execute{"", 0});
  t.OnFrontend(pg::Sync{});
  std::vector<uint8_t> in;
  Put(pg::ParseComplete{}, &in);
  Put(pg::BindComplete{}, &in);
  Row({"x"}, &in);
  Put(pg::CommandComplete{"SELECT 1"}, &in);
  Put(pg::ParseComplete{}, &in);
  Put(pg::BindComplete{}, &in);
  Put(pg::MakeError(pg::Severity::kError, "42501", "veil: statement blocked by guardrail no-ddl"),
      &in);
  Put(pg::ReadyForQuery{'I'}, &in);
  Through(t, in);
  auto records = t.TakeStatements();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "select $1::text");
  EXPECT_EQ(records[0].rows, 1u);
  EXPECT_EQ(records[0].command_tag, "SELECT 1");
  EXPECT_EQ(records[1].text, "drop table customers");
  EXPECT_EQ(records[1].guardrail, "no-ddl");
  EXPECT_EQ(records[1].sqlstate, "42501");
  EXPECT_EQ(records[1].rows, 0u);
}

// The lineage cache is keyed by a statement's normalized text, taken from the event digest when
// the digest cannot cut it (16 KiB, and invalid UTF-8 triples a text). Two statements that differ
// only past such a cut must never share an analysis; two that differ only in literals do.
TEST(SessionAnalysisCache, KeysAreNeverCutTexts) {
  SessionAnalysis analysis;
  auto two = [&](size_t invalid_bytes, std::string_view end_a, std::string_view end_b) {
    const std::string column = "a" + std::string(invalid_bytes, '\xff');
    analysis.Analyze("SELECT " + column + " FROM " + std::string(end_a));
    analysis.Analyze("SELECT " + column + " FROM " + std::string(end_b));
  };
  // Short enough for the digest's text (3 x 5,400 bytes fit in 16 KiB).
  two(5400, "t WHERE id = 1", "t WHERE id = 2");
  EXPECT_EQ(analysis.cache_misses(), 1u);
  EXPECT_EQ(analysis.cache_hits(), 1u);
  two(5400, "t1", "t2");
  EXPECT_EQ(analysis.cache_misses(), 3u);
  // Too long for it (3 x 6,000 bytes would be cut): normalized in full instead.
  two(6000, "t1", "t2");
  EXPECT_EQ(analysis.cache_misses(), 5u);
  EXPECT_EQ(analysis.cache_hits(), 1u);
}

// A new connection's first statement: the analysis another session made with the same catalog
// objects and search path answers it; another fetch's catalog, or a freed one's entries, never.
TEST(SessionAnalysisCache, SessionsOfOneCatalogShareAnalyses) {
  auto snap = sql::CatalogSnapshot::FromRows({}, 1);
  SessionAnalysis a, b, c, d;
  a.SetCatalog(snap);
  b.SetCatalog(sql::CatalogSnapshot::Renumbered(*snap, 2));
  c.SetCatalog(sql::CatalogSnapshot::FromRows({}, 3));
  auto x = a.Analyze("SELECT n FROM shared_cache_probe WHERE id = 1");
  EXPECT_EQ(a.shared_hits(), 0u);
  EXPECT_EQ(b.Analyze("SELECT n FROM shared_cache_probe WHERE id = 2"), x);
  EXPECT_EQ(b.shared_hits(), 1u);
  EXPECT_NE(c.Analyze("SELECT n FROM shared_cache_probe WHERE id = 1"), x);
  EXPECT_EQ(c.shared_hits(), 0u);
  EXPECT_NE(b.Analyze("SELECT n FROM shared_cache_probe_2"), x);
  const void* objects = snap->objects().get();
  snap.reset();
  a.SetCatalog(sql::CatalogSnapshot::Empty());
  b.SetCatalog(sql::CatalogSnapshot::Empty());
  x.reset();
  auto fresh = sql::CatalogSnapshot::FromRows({}, 4);
  d.SetCatalog(fresh);
  d.Analyze("SELECT n FROM shared_cache_probe WHERE id = 3");
  EXPECT_EQ(d.shared_hits(), 0u) << (fresh->objects().get() == objects ? "same address" : "");
}

}  // namespace
}  // namespace veil::agent
