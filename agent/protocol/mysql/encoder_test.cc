#include "agent/protocol/mysql/encoder.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "agent/protocol/mysql/decoder.h"
#include "agent/protocol/mysql/test_bytes.h"

namespace veil::mysql {
namespace {

using testing::HandWire;
using testing::Packet;
using Bytes = std::vector<uint8_t>;
using State = ServerDecoder::State;

constexpr uint64_t kCaps = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                           cap::kTransactions | cap::kSessionTrack | cap::kConnectAttrs |
                           cap::kPluginAuthLenencClientData | cap::kConnectWithDb;

template <typename M>
Bytes Encoded(const M& m, uint64_t caps = kCaps, uint8_t seq = 0) {
  Bytes out;
  Status s = Encode(m, caps, &seq, &out);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return out;
}

template <typename M>
std::string EncodeError(const M& m, uint64_t caps = kCaps) {
  Bytes out = {0xaa};
  uint8_t seq = 7;
  Status s = Encode(m, caps, &seq, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(out, Bytes{0xaa});  // nothing appended
  EXPECT_EQ(seq, 7);            // sequence unchanged
  return s.ok() ? "" : s.error().message;
}

TEST(Encoder, ErrPacketsVeilSends) {
  // 1045 / 28000: no grant. Byte for byte as a server writes it.
  Bytes out = Encoded(MakeErr(1045, "28000", "veil: no grant"), kCaps, 2);
  EXPECT_EQ(out, Packet(2, HandWire().U8(0xff).Le(1045, 2).Raw("#28000veil: no grant")));
  // 1142 / 42000: a guardrail, decoded back by a client-side reader.
  out = Encoded(MakeErr(1142, "42000", "veil: refused"), kCaps, 1);
  auto parsed = ParseErrPacket(
      std::string_view(reinterpret_cast<const char*>(out.data()) + 4, out.size() - 4));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, MakeErr(1142, "42000", "veil: refused"));
  EXPECT_NE(EncodeError(MakeErr(1045, "2800", "x")).find("SQLSTATE"), std::string::npos);
}

TEST(Encoder, OkPacketMatchesTheDocExample) {
  // "07 00 00 02 00 00 00 02 00 00 00"
  OkPacket ok;
  ok.status_flags = status::kAutocommit;
  EXPECT_EQ(Encoded(ok, cap::kProtocol41, 2),
            (Bytes{0x07, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}));
}

TEST(Encoder, ResplitsPayloadsOf16MiBAndMore) {
  TextRow row;
  const std::string big(0xFFFFFF + 100, 'm');
  row.values = {Value{big}};
  uint8_t seq = 3;
  Bytes out;
  ASSERT_TRUE(Encode(row, kCaps, &seq, &out).ok());
  EXPECT_EQ(seq, 5);  // two packets
  EXPECT_EQ(out[0], 0xff);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(out[2], 0xff);
  EXPECT_EQ(out[3], 3);
  const size_t second = 4 + 0xFFFFFF;
  EXPECT_EQ(out[second + 3], 4);
  // The 9-byte length prefix (0xfe + 8) + data = 0xFFFFFF + 109 bytes in all.
  EXPECT_EQ(out[second], 109);
  EXPECT_EQ(out.size(), 0xFFFFFFu + 109 + 8);
  // An exact multiple gets an empty closing packet.
  out.clear();
  seq = 0;
  AppendPacket(std::string(0xFFFFFF, 'x'), &seq, &out);
  EXPECT_EQ(seq, 2);
  EXPECT_EQ(out.size(), 0xFFFFFFu + 8);
  EXPECT_EQ(Bytes(out.end() - 4, out.end()), (Bytes{0, 0, 0, 1}));
}

TEST(Encoder, RewritesTheGreeting) {
  // veil forwards the server's greeting with its own connection id and without the
  // capabilities it does not let clients negotiate.
  HandshakeV10 g;
  g.server_version = "10.11.6-MariaDB";
  g.connection_id = 12;
  g.auth_plugin_data_1 = "abcdefgh";
  g.auth_plugin_data_2 = std::string_view("ijklmnopqrst\0", 13);
  g.auth_plugin_data_length = 21;
  g.auth_plugin_name = "mysql_native_password";
  g.character_set = 45;
  g.status_flags = status::kAutocommit;
  g.set_full_capabilities(kCaps | cap::kCompress | cap::kLocalFiles | cap::kSsl |
                          cap::kMariaDbCacheMetadata | cap::kMariaDbProgress);
  g.set_full_capabilities(g.full_capabilities() & ~kUnsupportedCapabilities & ~cap::kLocalFiles);
  g.connection_id = 0x7fff0001;
  const Bytes bytes = Encoded(g);
  ServerDecoder d;
  ServerMessage m;
  size_t consumed = 0;
  ASSERT_TRUE(d.Decode(bytes, &consumed, &m).ready());
  const auto& back = std::get<HandshakeV10>(m);
  EXPECT_EQ(back, g);
  EXPECT_EQ(back.connection_id, 0x7fff0001u);
  EXPECT_FALSE(back.full_capabilities() & cap::kCompress);
  EXPECT_FALSE(back.full_capabilities() & cap::kLocalFiles);
  EXPECT_FALSE(back.full_capabilities() & cap::kMariaDbCacheMetadata);
  EXPECT_TRUE(back.full_capabilities() & cap::kMariaDbProgress);
  EXPECT_TRUE(back.full_capabilities() & cap::kSsl);
  EXPECT_EQ(back.scramble(), "abcdefghijklmnopqrst");
}

TEST(Encoder, MaskedRowsAreNewPackets) {
  // Text: a value replaced by a token of another length gets a new length prefix.
  const Value masked[] = {Value{"1"}, Value{"tok_9f2c1a"}, Value::Null()};
  uint8_t seq = 4;
  Bytes out;
  ASSERT_TRUE(EncodeTextRow(masked, &seq, &out).ok());
  EXPECT_EQ(out, Packet(4, HandWire().Lstr("1").Lstr("tok_9f2c1a").U8(0xfb)));
  // Binary: a non-text column under a rule becomes NULL through the bitmap.
  const ColumnTypeInfo cols[] = {
      {ColumnType::kLong, false}, {ColumnType::kVarString, false}, {ColumnType::kDateTime, false}};
  const std::string id = BinaryInteger(1, 4);
  const Value values[] = {Value{id}, Value{"tok_9f2c1a"}, Value::Null()};
  out.clear();
  seq = 4;
  ASSERT_TRUE(EncodeBinaryRow(cols, values, &seq, &out).ok());
  EXPECT_EQ(out, Packet(4, HandWire().U8(0).U8(0x10).Le(1, 4).Lstr("tok_9f2c1a")));
  // A value that does not fit its type is refused rather than sent.
  const Value wrong[] = {Value{"12"}, Value{"x"}, Value::Null()};
  out.clear();
  EXPECT_FALSE(EncodeBinaryRow(cols, wrong, &seq, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(Encoder, RefusesWhatTheWireCannotCarry) {
  ComChangeUser cu;
  cu.username = std::string_view("a\0b", 3);
  EXPECT_NE(EncodeError(cu).find("NUL"), std::string::npos);
  HandshakeResponse41 r;
  r.capabilities = cap::kProtocol41 | cap::kSecureConnection;
  r.database = "shop";  // without CLIENT_CONNECT_WITH_DB
  EXPECT_NE(EncodeError(r).find("CLIENT_CONNECT_WITH_DB"), std::string::npos);
  ComQuery q;
  q.attributes.resize(1);
  EXPECT_NE(EncodeError(q).find("CLIENT_QUERY_ATTRIBUTES"), std::string::npos);
  OkPacket ok;
  ok.session_state_info = "x";
  EXPECT_FALSE(EncodeError(ok).empty());
}

// Encode -> decode gives back the same message and consumes exactly the bytes.
template <typename M>
void ExpectClientRoundTrip(const M& m, uint64_t caps, ClientDecoder::Phase phase) {
  static auto* kept = new std::deque<Bytes>();
  const Bytes& bytes =
      kept->emplace_back(Encoded(m, caps, phase == ClientDecoder::Phase::kCommand ? 0 : 1));
  ClientDecoder d({}, phase);
  d.set_capabilities(caps);
  d.set_next_sequence(1);
  d.OnStatementPrepared(5, 2);
  ClientMessage out;
  size_t consumed = 0;
  DecodeResult r = d.Decode(bytes, &consumed, &out);
  ASSERT_TRUE(r.ready()) << MessageName(ClientMessage(m)) << ": " << r.error;
  EXPECT_EQ(consumed, bytes.size());
  ASSERT_TRUE(std::holds_alternative<M>(out));
  EXPECT_EQ(std::get<M>(out), m) << MessageName(out);
}

TEST(RoundTrip, ClientMessages) {
  using P = ClientDecoder::Phase;
  HandshakeResponse41 r;
  r.set_full_capabilities(kCaps);
  r.max_packet_size = 1 << 24;
  r.character_set = 45;
  r.username = "alice";
  r.auth_response = std::string(251, 'a');  // needs the 3-byte length-encoded form
  r.database = "shop";
  r.auth_plugin_name = "caching_sha2_password";
  r.connect_attributes.emplace();
  r.connect_attributes->emplace_back("_os", "Linux");
  ExpectClientRoundTrip(r, kCaps, P::kHandshake);
  SslRequest ssl;
  ssl.capabilities = cap::kProtocol41 | cap::kSsl;
  ExpectClientRoundTrip(ssl, kCaps, P::kHandshake);
  ExpectClientRoundTrip(AuthData{"\x02"}, kCaps, P::kAuth);
  ExpectClientRoundTrip(ComQuit{}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComInitDb{"shop"}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComQuery{"SELECT 1", {}}, kCaps, P::kCommand);
  ComQuery qa{"SELECT 2",
              {Parameter{{ColumnType::kLongLong, true}, "n", Value{BinaryInteger(9, 8)}, false}}};
  ExpectClientRoundTrip(qa, kCaps | cap::kQueryAttributes, P::kCommand);
  ExpectClientRoundTrip(ComPing{}, kCaps, P::kCommand);
  ComChangeUser cu{"bob", "xyz", "db", 45, "mysql_native_password", {}};
  ExpectClientRoundTrip(cu, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComResetConnection{}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComStmtPrepare{"SELECT ?"}, kCaps, P::kCommand);
  ComStmtExecute e;
  e.statement_id = 5;
  const std::string ts = BinaryDateTimeBytes({2024, 1, 2, 3, 4, 5, 6});
  e.parameters = {Parameter{{ColumnType::kTimestamp, false}, {}, Value{ts}, false},
                  Parameter{{ColumnType::kBlob, false}, {}, Value::Null(), false}};
  ExpectClientRoundTrip(e, kCaps, P::kCommand);
  ComStmtExecute unknown;
  unknown.statement_id = 99;
  unknown.raw_parameters = "opaque";
  ExpectClientRoundTrip(unknown, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComStmtFetch{5, 10}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComStmtClose{5}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComStmtReset{5}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComStmtSendLongData{5, 1, "chunk"}, kCaps, P::kCommand);
  ExpectClientRoundTrip(ComProcessKill{42}, kCaps, P::kCommand);
  ExpectClientRoundTrip(UnknownCommand{0x09, ""}, kCaps, P::kCommand);
}

template <typename M>
void ExpectServerRoundTrip(const M& m, ServerDecoder d, uint8_t seq = 1) {
  static auto* kept = new std::deque<Bytes>();
  const Bytes& bytes = kept->emplace_back(Encoded(m, d.capabilities(), seq));
  ServerMessage out;
  size_t consumed = 0;
  DecodeResult r = d.Decode(bytes, &consumed, &out);
  ASSERT_TRUE(r.ready()) << MessageName(ServerMessage(m)) << ": " << r.error;
  EXPECT_EQ(consumed, bytes.size());
  ASSERT_TRUE(std::holds_alternative<M>(out)) << MessageName(out);
  EXPECT_EQ(std::get<M>(out), m);
}

ServerDecoder Answering(const ClientMessage& command, uint64_t caps = kCaps) {
  ServerDecoder d({}, State::kIdle);
  d.set_capabilities(caps);
  d.ExpectResponseTo(command, 0);
  return d;
}

TEST(RoundTrip, ServerMessages) {
  HandshakeV10 g;
  g.server_version = "8.0.36";
  g.auth_plugin_data_1 = "12345678";
  g.auth_plugin_data_2 = std::string_view("abcdefghijkl\0", 13);
  g.auth_plugin_data_length = 21;
  g.capabilities = static_cast<uint32_t>(kCaps) | cap::kLongPassword;
  g.auth_plugin_name = "caching_sha2_password";
  ExpectServerRoundTrip(g, ServerDecoder(), 0);
  ServerDecoder auth;
  {
    Bytes greeting = Encoded(g, 0, 0);
    ServerMessage m;
    size_t c = 0;
    ASSERT_TRUE(auth.Decode(greeting, &c, &m).ready());
    HandshakeResponse41 r;
    r.set_full_capabilities(kCaps);
    auth.ExpectResponseTo(r, 1);
  }
  ExpectServerRoundTrip(AuthSwitchRequest{"mysql_native_password", "01234567890123456789"}, auth,
                        2);
  ExpectServerRoundTrip(AuthMoreData{"\x04"}, auth, 2);
  OkPacket ok;
  ok.affected_rows = 1u << 20;
  ok.last_insert_id = 70000;
  ok.status_flags = status::kAutocommit | status::kSessionStateChanged;
  ok.warnings = 2;
  ok.info = "Rows matched: 1";
  ok.has_info = true;
  ok.session_state_info = "\x00\x04\x03\x64\x62\x31";
  ExpectServerRoundTrip(ok, Answering(ComPing{}));
  ExpectServerRoundTrip(MakeErr(1142, "42000", "denied"), Answering(ComQuery{}));
  ExpectServerRoundTrip(ColumnCount{3}, Answering(ComQuery{}));
  ExpectServerRoundTrip(LocalInfileRequest{"/tmp/x"}, Answering(ComQuery{}));
  StmtPrepareOk p{7, 0, 0, 0, true};
  ExpectServerRoundTrip(p, Answering(ComStmtPrepare{}));
  ExpectServerRoundTrip(RawPacket{"stats"}, Answering(UnknownCommand{0x09, ""}));
  // Column definitions, rows and EOF need a result set in progress: decode a stream.
  ServerDecoder d = Answering(ComStmtExecute{}, kCaps | cap::kMariaDbExtendedMetadata);
  ColumnDefinition def;
  def.schema = "shop";
  def.table = def.org_table = "users";
  def.name = def.org_name = "email";
  def.extended_metadata = std::string_view("\x00\x04json", 6);
  def.type = ColumnType::kBlob;
  def.flags = column_flag::kBlob;
  const uint64_t caps = d.capabilities();
  uint8_t seq = 1;
  Bytes stream;
  ASSERT_TRUE(Encode(ColumnCount{1}, caps, &seq, &stream).ok());
  ASSERT_TRUE(Encode(def, caps, &seq, &stream).ok());
  ASSERT_TRUE(Encode(EofPacket{0, status::kAutocommit, false}, caps, &seq, &stream).ok());
  const ColumnTypeInfo types[] = {{ColumnType::kBlob, false}};
  const Value v[] = {Value{"x"}};
  ASSERT_TRUE(EncodeBinaryRow(types, v, &seq, &stream).ok());
  ASSERT_TRUE(Encode(EofPacket{1, status::kAutocommit, false}, caps, &seq, &stream).ok());
  std::span<const uint8_t> rest(stream);
  std::vector<std::string> names;
  while (!rest.empty()) {
    ServerMessage m;
    size_t c = 0;
    DecodeResult r = d.Decode(rest, &c, &m);
    ASSERT_TRUE(r.ready()) << r.error;
    names.emplace_back(MessageName(m));
    if (auto* got = std::get_if<ColumnDefinition>(&m)) {
      EXPECT_EQ(*got, def);
    }
    if (auto* row = std::get_if<BinaryRow>(&m)) {
      EXPECT_EQ(row->values[0].data, "x");
    }
    rest = rest.subspan(c);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ColumnCount", "ColumnDefinition41", "EOF",
                                             "BinaryResultsetRow", "EOF"}));
}

}  // namespace
}  // namespace veil::mysql
