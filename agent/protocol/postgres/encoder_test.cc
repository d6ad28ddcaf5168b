#include "agent/protocol/postgres/encoder.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "agent/protocol/postgres/decoder.h"
#include "agent/protocol/postgres/test_bytes.h"

namespace veil::pg {
namespace {

using testing::Frame;
using testing::HandWire;
using testing::Packet;

using Bytes = std::vector<uint8_t>;

template <typename M>
Bytes Encoded(const M& message) {
  Bytes out;
  Status s = Encode(message, &out);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return out;
}

// --- Exact bytes for what veil emits -----------------------------------------------------------

TEST(Encoder, MakeErrorForNoGrant) {
  const ErrorResponse e =
      MakeError(Severity::kFatal, "28000", "veil: no active grant for user:alice on orders-db",
                "veilctl grants request orders-db --ttl 1h --reason \"...\"");
  EXPECT_EQ(e.severity(), "FATAL");
  EXPECT_EQ(e.Get(field::kSeverityNonLocalized), "FATAL");
  EXPECT_EQ(e.sqlstate(), "28000");
  EXPECT_EQ(Encoded(e), Frame('E', HandWire()
                                       .U8('S')
                                       .Str("FATAL")
                                       .U8('V')
                                       .Str("FATAL")
                                       .U8('C')
                                       .Str("28000")
                                       .U8('M')
                                       .Str("veil: no active grant for user:alice on orders-db")
                                       .U8('H')
                                       .Str("veilctl grants request orders-db --ttl 1h --reason "
                                            "\"...\"")
                                       .U8(0)));
}

TEST(Encoder, MakeErrorWithoutHintHasNoHField) {
  const ErrorResponse e = MakeError(Severity::kError, "42501", "veil: statement blocked");
  EXPECT_EQ(e.fields.size(), 4u);
  EXPECT_EQ(e.Get(field::kHint), "");
  const Bytes literal = {'E', 0,   0,   0, 29,  'S', 'E', 'R', 'R', 'O', 'R', 0,   'V', 'E', 'R',
                         'R', 'O', 'R', 0, 'C', '4', '2', '5', '0', '1', 0,   'M', 'x', 0,   0};
  EXPECT_EQ(Encoded(MakeError(Severity::kError, "42501", "x")), literal);
}

TEST(Encoder, NoticeResponseRewrittenMessage) {
  NoticeResponse n;
  n.fields = {{'S', "NOTICE"}, {'M', "value alice@example.com"}};
  n.Set('M', "value [EMAIL]");
  n.Set('D', "detail");
  EXPECT_EQ(Encoded(n), Frame('N', HandWire()
                                       .U8('S')
                                       .Str("NOTICE")
                                       .U8('M')
                                       .Str("value [EMAIL]")
                                       .U8('D')
                                       .Str("detail")
                                       .U8(0)));
}

TEST(Encoder, DataRow) {
  const ColumnValue columns[] = {{"alice", false}, ColumnValue::Null(), {"", false}};
  Bytes out;
  ASSERT_TRUE(EncodeDataRow(columns, &out).ok());
  const Bytes literal = {'D', 0,   0,   0,   23,   0,    3,    0,    0, 0, 5, 'a',
                         'l', 'i', 'c', 'e', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  EXPECT_EQ(out, literal);
  EXPECT_EQ(Encoded(DataRowView{{columns[0], columns[1], columns[2]}}), literal);
}

TEST(Encoder, DataRowAppendsWithoutAllocatingOnceWarm) {
  std::vector<uint8_t> out;
  out.reserve(4096);
  const uint8_t* storage = out.data();
  const std::string value(100, 'v');
  const ColumnValue columns[] = {{value, false}, {value, false}, ColumnValue::Null()};
  for (int i = 0; i < 1000; ++i) {
    out.clear();
    ASSERT_TRUE(EncodeDataRow(columns, &out).ok());
    ASSERT_EQ(out.data(), storage);  // the warmed buffer is reused, never reallocated
  }
  EXPECT_EQ(out.size(), 1u + 4 + 2 + 2 * (4 + 100) + 4);
}

TEST(Encoder, AppendsAfterExistingFrames) {
  Bytes out;
  ASSERT_TRUE(Encode(ParseComplete{}, &out).ok());
  ASSERT_TRUE(Encode(BindComplete{}, &out).ok());
  ASSERT_TRUE(Encode(ReadyForQuery{'I'}, &out).ok());
  const Bytes literal = {'1', 0, 0, 0, 4, '2', 0, 0, 0, 4, 'Z', 0, 0, 0, 5, 'I'};
  EXPECT_EQ(out, literal);
}

TEST(Encoder, RowDescription) {
  RowDescription t;
  t.fields.push_back({"email", 16384, 2, 25, -1, -1, 0});
  t.fields.push_back({"n", 0, 0, 23, 4, -1, 1});
  EXPECT_EQ(Encoded(t), Frame('T', HandWire()
                                       .I16(2)
                                       .Str("email")
                                       .I32(16384)
                                       .I16(2)
                                       .I32(25)
                                       .I16(-1)
                                       .I32(-1)
                                       .I16(0)
                                       .Str("n")
                                       .I32(0)
                                       .I16(0)
                                       .I32(23)
                                       .I16(4)
                                       .I32(-1)
                                       .I16(1)));
}

TEST(Encoder, AuthenticationSaslWithoutChannelBinding) {
  // veil terminates TLS, so it must not pass on SCRAM-SHA-256-PLUS: decode, strip, re-encode.
  const Bytes upstream =
      Frame('R', HandWire().I32(10).Str("SCRAM-SHA-256-PLUS").Str("SCRAM-SHA-256").U8(0));
  BackendDecoder decoder;
  BackendMessage m;
  size_t consumed = 0;
  ASSERT_TRUE(decoder.Decode(upstream, &consumed, &m).ready());
  auto auth = std::get<Authentication>(m);
  std::erase(auth.sasl_mechanisms, "SCRAM-SHA-256-PLUS");
  EXPECT_EQ(Encoded(auth), Frame('R', HandWire().I32(10).Str("SCRAM-SHA-256").U8(0)));
}

TEST(Encoder, AuthenticationVariants) {
  EXPECT_EQ(Encoded(Authentication{AuthenticationType::kOk, {}, {}}),
            (Bytes{'R', 0, 0, 0, 8, 0, 0, 0, 0}));
  EXPECT_EQ(Encoded(Authentication{AuthenticationType::kMd5Password, "salt", {}}),
            Frame('R', HandWire().I32(5).Raw("salt")));
  EXPECT_EQ(Encoded(Authentication{AuthenticationType::kSaslFinal, "v=abc", {}}),
            Frame('R', HandWire().I32(12).Raw("v=abc")));
}

TEST(Encoder, SessionSetupMessages) {
  EXPECT_EQ(Encoded(BackendKeyData{1234, std::string_view("\0\0\0\x07", 4)}),
            Frame('K', HandWire().I32(1234).I32(7)));
  EXPECT_EQ(Encoded(ParameterStatus{"server_version", "16.4"}),
            Frame('S', HandWire().Str("server_version").Str("16.4")));
  EXPECT_EQ(Encoded(CommandComplete{"SELECT 12"}), Frame('C', HandWire().Str("SELECT 12")));
  EXPECT_EQ(Encoded(CopyData{std::string_view("a\0b", 3)}),
            Frame('d', HandWire().Raw(std::string_view("a\0b", 3))));
  EXPECT_EQ(Encoded(EncryptionResponse{'N'}), (Bytes{'N'}));
}

TEST(Encoder, UpstreamStartupPackets) {
  StartupMessage s;
  s.parameters = {{"user", "alice"}, {"database", "orders"}};
  EXPECT_EQ(
      Encoded(s),
      Packet(HandWire().I32(196608).Str("user").Str("alice").Str("database").Str("orders").U8(0)));
  EXPECT_EQ(Encoded(SslRequest{}), (Bytes{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
  EXPECT_EQ(Encoded(GssEncRequest{}), (Bytes{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}));
  EXPECT_EQ(Encoded(CancelRequest{42, std::string_view("\0\0\0\x09", 4)}),
            Packet(HandWire().I32(80877102).I32(42).I32(9)));
  EXPECT_EQ(Encoded(Query{"SET default_transaction_read_only = on"}),
            Frame('Q', HandWire().Str("SET default_transaction_read_only = on")));
  EXPECT_EQ(Encoded(Terminate{}), (Bytes{'X', 0, 0, 0, 4}));
}

TEST(Encoder, GenericTypedMessage) {
  Bytes out;
  ASSERT_TRUE(AppendMessage('d', "payload", &out).ok());
  EXPECT_EQ(out, Frame('d', HandWire().Raw("payload")));

  out.clear();
  MessageWriter w(&out, 'A');
  w.Int32(5);
  w.String("chan");
  w.String("");
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(out, Frame('A', HandWire().I32(5).Str("chan").Str("")));
}

// --- Refusals leave `out` untouched ------------------------------------------------------------

TEST(Encoder, RefusesWhatTheWireCannotCarry) {
  Bytes out = {'Z', 0, 0, 0, 5, 'I'};
  const Bytes before = out;
  Status s = Encode(Query{std::string_view("SELECT 1\0; DROP", 15)}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("NUL"), std::string::npos);
  EXPECT_EQ(out, before);

  std::vector<ColumnValue> too_many(65536, ColumnValue::Null());
  EXPECT_FALSE(EncodeDataRow(too_many, &out).ok());
  EXPECT_EQ(out, before);
  too_many.pop_back();
  EXPECT_TRUE(EncodeDataRow(too_many, &out).ok());  // 65535 is the most a count can say

  out = before;
  EXPECT_FALSE(Encode(BackendKeyData{1, "abc"}, &out).ok());
  EXPECT_FALSE(Encode(CancelRequest{1, std::string(257, 'k')}, &out).ok());
  EXPECT_FALSE(Encode(Authentication{AuthenticationType::kMd5Password, "salty", {}}, &out).ok());
  EXPECT_FALSE(Encode(ErrorResponse{{{{0, "x"}}}}, &out).ok());
  EXPECT_FALSE(Encode(EncryptionResponse{'x'}, &out).ok());
  StartupMessage startup;
  startup.parameters = {{"", "x"}};
  EXPECT_FALSE(Encode(startup, &out).ok());
  EXPECT_EQ(out, before);
}

// --- Round trips: every message type -----------------------------------------------------------

std::vector<FrontendMessage> FrontendSamples() {
  static const std::string kLongKey(32, 'k');  // messages are views: keep the bytes alive
  return {
      StartupMessage{kProtocolVersion32, {{"user", "u"}, {"_pq_.x", ""}}},
      SslRequest{},
      GssEncRequest{},
      CancelRequest{7, kLongKey},
      Query{"SELECT 1"},
      Parse{"s", "SELECT $1", {25, 0}},
      Bind{"p", "s", {1}, {{"\x00\x01", false}, ColumnValue::Null()}, {0, 1}},
      Describe{'P', "p"},
      Execute{"p", 10},
      Close{'S', "s"},
      Sync{},
      Flush{},
      Terminate{},
      CopyData{"1\t2\n"},
      CopyDone{},
      CopyFail{"abort"},
      AuthenticationResponse{std::string_view("SCRAM-SHA-256\0\0\0\0\x03n,,", 21)},
      FunctionCall{1598, {0}, {{"x", false}}, 1},
  };
}

std::vector<BackendMessage> BackendSamples() {
  ErrorResponse e = MakeError(Severity::kError, "22P02", "invalid input", "hint");
  NoticeResponse n;
  n.fields = {{'S', "WARNING"}, {'M', "careful"}};
  return {
      EncryptionResponse{'S'},
      Authentication{AuthenticationType::kSasl, {}, {"SCRAM-SHA-256"}},
      BackendKeyData{9, "abcd"},
      ParameterStatus{"TimeZone", "UTC"},
      ReadyForQuery{'E'},
      RowDescription{{{"a", 1, 2, 25, -1, -1, 0}}},
      DataRowView{{{"x", false}, ColumnValue::Null()}},
      CommandComplete{"INSERT 0 1"},
      EmptyQueryResponse{},
      e,
      n,
      NotificationResponse{1, "c", "p"},
      ParseComplete{},
      BindComplete{},
      CloseComplete{},
      NoData{},
      PortalSuspended{},
      ParameterDescription{{23, 25}},
      CopyInResponse{{0, {0, 0}}},
      CopyOutResponse{{1, {1, 0}}},
      CopyBothResponse{{0, {}}},
      CopyData{std::string_view("\0\xff", 2)},
      CopyDone{},
      FunctionCallResponse{ColumnValue::Null()},
      NegotiateProtocolVersion{0, {"_pq_.x"}},
  };
}

TEST(RoundTrip, EveryFrontendMessage) {
  std::set<size_t> covered;
  for (const FrontendMessage& message : FrontendSamples()) {
    covered.insert(message.index());
    const Bytes bytes = Encoded(message);
    const bool untyped = std::holds_alternative<StartupMessage>(message) ||
                         std::holds_alternative<SslRequest>(message) ||
                         std::holds_alternative<GssEncRequest>(message) ||
                         std::holds_alternative<CancelRequest>(message);
    FrontendDecoder decoder(
        {}, untyped ? FrontendDecoder::Phase::kStartup : FrontendDecoder::Phase::kTyped);
    FrontendMessage decoded;
    size_t consumed = 0;
    DecodeResult r = decoder.Decode(bytes, &consumed, &decoded);
    ASSERT_TRUE(r.ready()) << MessageName(message) << ": " << r.error;
    EXPECT_EQ(consumed, bytes.size()) << MessageName(message);
    EXPECT_EQ(decoded, message) << MessageName(message);
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<FrontendMessage>);
}

TEST(RoundTrip, EveryBackendMessage) {
  std::set<size_t> covered;
  for (const BackendMessage& message : BackendSamples()) {
    covered.insert(message.index());
    const Bytes bytes = Encoded(message);
    BackendDecoder decoder;
    if (std::holds_alternative<EncryptionResponse>(message)) decoder.ExpectEncryptionResponse();
    BackendMessage decoded;
    size_t consumed = 0;
    DecodeResult r = decoder.Decode(bytes, &consumed, &decoded);
    ASSERT_TRUE(r.ready()) << MessageName(message) << ": " << r.error;
    EXPECT_EQ(consumed, bytes.size()) << MessageName(message);
    EXPECT_EQ(decoded, message) << MessageName(message);
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<BackendMessage>);
}

TEST(RoundTrip, MaskedRowGetsNewLengthPrefixes) {
  const Bytes upstream =
      Frame('D', HandWire().I16(2).I32(17).Raw("alice@example.com").I32(2).Raw("42"));
  BackendDecoder decoder;
  BackendMessage m;
  size_t consumed = 0;
  ASSERT_TRUE(decoder.Decode(upstream, &consumed, &m).ready());
  auto& row = std::get<DataRowView>(m);
  row.columns[0].data = "[EMAIL]";
  Bytes out;
  ASSERT_TRUE(EncodeDataRow(row.columns, &out).ok());
  EXPECT_EQ(out, Frame('D', HandWire().I16(2).I32(7).Raw("[EMAIL]").I32(2).Raw("42")));
}

}  // namespace
}  // namespace veil::pg
