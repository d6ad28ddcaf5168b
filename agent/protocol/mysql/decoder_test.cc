#include "agent/protocol/mysql/decoder.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "agent/protocol/mysql/encoder.h"
#include "agent/protocol/mysql/internal/wire.h"
#include "agent/protocol/mysql/test_bytes.h"

namespace veil::mysql {
namespace {

using testing::Concat;
using testing::HandWire;
using testing::Packet;
using Bytes = std::vector<uint8_t>;
using State = ServerDecoder::State;

// Decoded messages are views into their input: keep the inputs for the whole test run.
const Bytes& Keep(Bytes bytes) {
  static auto* kept = new std::deque<Bytes>();
  return kept->emplace_back(std::move(bytes));
}

constexpr uint64_t kCaps41 = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                             cap::kTransactions | cap::kMultiResults;
constexpr uint64_t kCapsDeprecateEof = kCaps41 | cap::kDeprecateEof;

// A server decoder in the command phase waiting for the answer to `command` (sequence 0).
ServerDecoder AnswerTo(const ClientMessage& command, uint64_t caps = kCaps41) {
  ServerDecoder d({}, State::kIdle);
  d.set_capabilities(caps);
  d.ExpectResponseTo(command, 0);
  return d;
}

// Decodes every message of `bytes`, which must be consumed exactly.
std::vector<ServerMessage> DecodeAll(ServerDecoder& d, const Bytes& input) {
  const Bytes& bytes = Keep(input);
  std::vector<ServerMessage> out;
  std::span<const uint8_t> rest(bytes);
  while (!rest.empty()) {
    ServerMessage m;
    size_t consumed = 0;
    DecodeResult r = d.Decode(rest, &consumed, &m);
    EXPECT_EQ(r.status, DecodeStatus::kReady) << r.error << " after " << out.size();
    if (!r.ready()) break;
    out.push_back(std::move(m));
    rest = rest.subspan(consumed);
  }
  return out;
}

ClientMessage DecodeClient(ClientDecoder& d, const Bytes& input) {
  const Bytes& bytes = Keep(input);
  ClientMessage m;
  size_t consumed = 0;
  DecodeResult r = d.Decode(bytes, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kReady) << r.error;
  EXPECT_EQ(consumed, bytes.size());
  return m;
}

ClientMessage DecodeCommand(const Bytes& input, uint64_t caps = kCaps41) {
  ClientDecoder d({}, ClientDecoder::Phase::kCommand);
  d.set_capabilities(caps);
  return DecodeClient(d, input);
}

std::string ServerError(ServerDecoder& d, const Bytes& input) {
  const Bytes& bytes = Keep(input);
  std::span<const uint8_t> rest(bytes);
  for (;;) {
    ServerMessage m;
    size_t consumed = 99;
    DecodeResult r = d.Decode(rest, &consumed, &m);
    if (r.ready()) {
      rest = rest.subspan(consumed);
      continue;
    }
    EXPECT_EQ(r.status, DecodeStatus::kError);
    EXPECT_EQ(consumed, 0u);
    return r.error;
  }
}

std::string CommandError(const Bytes& input, uint64_t caps = kCaps41) {
  ClientDecoder d({}, ClientDecoder::Phase::kCommand);
  d.set_capabilities(caps);
  ClientMessage m;
  size_t consumed = 99;
  DecodeResult r = d.Decode(Keep(input), &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(consumed, 0u);
  return r.error;
}

HandWire ColumnDef(std::string_view table, std::string_view name, ColumnType type,
                   uint16_t flags = 0) {
  HandWire w;
  w.Lstr("def").Lstr("db").Lstr(table).Lstr(table).Lstr(name).Lstr(name);
  w.U8(0x0c).Le(45, 2).Le(200, 4).U8(static_cast<uint8_t>(type)).Le(flags, 2).U8(0).Le(0, 2);
  return w;
}

HandWire Eof(uint16_t status_flags = status::kAutocommit) {
  return HandWire().U8(0xFE).Le(0, 2).Le(status_flags, 2);
}

HandWire OkPayload(uint8_t header, uint16_t status_flags = status::kAutocommit) {
  return HandWire().U8(header).U8(0).U8(0).Le(status_flags, 2).Le(0, 2);
}

// --- Basic types -------------------------------------------------------------------------------

TEST(Wire, LengthEncodedIntegersInAllForms) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html
  struct Case {
    Bytes bytes;
    uint64_t value;
  } cases[] = {
      {{0x00}, 0},
      {{0xfa}, 250},
      {{0xfc, 0xfb, 0x00}, 251},
      {{0xfc, 0xff, 0xff}, 65535},
      {{0xfd, 0x00, 0x00, 0x01}, 65536},
      {{0xfe, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, 1u << 24},
      {{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ~uint64_t{0}},
  };
  for (const Case& c : cases) {
    internal::Reader r(
        std::string_view(reinterpret_cast<const char*>(c.bytes.data()), c.bytes.size()));
    uint64_t v = 0;
    ASSERT_TRUE(r.Lenenc(&v));
    EXPECT_EQ(v, c.value);
    EXPECT_TRUE(r.AtEnd());
    std::vector<uint8_t> out;
    internal::PutLenenc(&out, c.value);
    EXPECT_EQ(out, c.bytes);
  }
  for (Bytes bad : {Bytes{0xfb}, Bytes{0xff}, Bytes{0xfc, 0x01}, Bytes{0xfc, 0x05, 0x00},
                    Bytes{0xfd, 0xff, 0xff, 0x00}, Bytes{}}) {
    internal::Reader r(std::string_view(reinterpret_cast<const char*>(bad.data()), bad.size()));
    uint64_t v = 0;
    EXPECT_FALSE(r.Lenenc(&v));
  }
}

TEST(Wire, BinaryValueExamplesFromTheDocs) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_binary_resultset.html
  auto s = [](Bytes b) { return std::string(b.begin(), b.end()); };
  EXPECT_EQ(ReadBinaryInteger(s({0x01, 0, 0, 0, 0, 0, 0, 0}), false), 1);
  EXPECT_EQ(ReadBinaryInteger(s({0x01, 0, 0, 0}), false), 1);
  EXPECT_EQ(ReadBinaryInteger(s({0x01, 0}), false), 1);
  EXPECT_EQ(ReadBinaryInteger(s({0x01}), false), 1);
  EXPECT_EQ(ReadBinaryInteger(s({0xff}), false), -1);
  EXPECT_EQ(ReadBinaryInteger(s({0xff}), true), 255);
  EXPECT_EQ(ReadBinaryInteger(s({0x01, 0x02, 0x03}), false), std::nullopt);
  EXPECT_EQ(ReadBinaryDouble(s({0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x24, 0x40})), 10.2);
  EXPECT_EQ(ReadBinaryFloat(s({0x33, 0x33, 0x23, 0x41})), 10.2f);
  EXPECT_EQ(ReadBinaryDateTime(s({0xda, 0x07, 0x0a, 0x11, 0x13, 0x1b, 0x1e, 0x01, 0, 0, 0})),
            (BinaryDateTime{2010, 10, 17, 19, 27, 30, 1}));
  EXPECT_EQ(ReadBinaryDateTime(s({0xda, 0x07, 0x0a, 0x11, 0x13, 0x1b, 0x1e})),
            (BinaryDateTime{2010, 10, 17, 19, 27, 30, 0}));
  EXPECT_EQ(ReadBinaryDateTime(s({0xda, 0x07, 0x0a, 0x11})), (BinaryDateTime{2010, 10, 17}));
  EXPECT_EQ(ReadBinaryDateTime(""), BinaryDateTime{});
  EXPECT_EQ(ReadBinaryDateTime(s({0xda, 0x07})), std::nullopt);
  EXPECT_EQ(ReadBinaryTime(s({0x01, 0x78, 0, 0, 0, 0x13, 0x1b, 0x1e, 0x01, 0, 0, 0})),
            (BinaryTime{true, 120, 19, 27, 30, 1}));
  EXPECT_EQ(ReadBinaryTime(s({0x01, 0x78, 0, 0, 0, 0x13, 0x1b, 0x1e})),
            (BinaryTime{true, 120, 19, 27, 30, 0}));
  EXPECT_EQ(ReadBinaryTime(""), BinaryTime{});
  // The writers pick the same shortest forms the server does.
  EXPECT_EQ(BinaryDateTimeBytes({2010, 10, 17, 19, 27, 30, 1}).size(), 11u);
  EXPECT_EQ(BinaryDateTimeBytes({2010, 10, 17, 19, 27, 30, 0}).size(), 7u);
  EXPECT_EQ(BinaryDateTimeBytes({2010, 10, 17}).size(), 4u);
  EXPECT_EQ(BinaryTimeBytes({true, 120, 19, 27, 30, 1}),
            s({0x01, 0x78, 0, 0, 0, 0x13, 0x1b, 0x1e, 0x01, 0, 0, 0}));
  EXPECT_EQ(BinaryDouble(10.2), s({0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x24, 0x40}));
}

// --- Connection phase --------------------------------------------------------------------------

// A MySQL 5.7.18 greeting as captured on the wire (78-byte payload, sequence 0), with
// CLIENT_PLUGIN_AUTH, auth-plugin-data length 21 and mysql_native_password.
Bytes Greeting5718() {
  return {0x4e, 0x00, 0x00, 0x00, 0x0a, 0x35, 0x2e, 0x37, 0x2e, 0x31, 0x38, 0x2d, 0x6c, 0x6f,
          0x67, 0x00, 0x12, 0x7a, 0x29, 0x00, 0x33, 0x58, 0x38, 0x18, 0x44, 0x5e, 0x16, 0x48,
          0x00, 0xff, 0xff, 0x21, 0x02, 0x00, 0xff, 0xc1, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x79, 0x11, 0x30, 0x2a, 0x41, 0x61, 0x55, 0x64,
          0x77, 0x6e, 0x0d, 0x00, 0x6d, 0x79, 0x73, 0x71, 0x6c, 0x5f, 0x6e, 0x61, 0x74, 0x69,
          0x76, 0x65, 0x5f, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x00};
}

TEST(ServerDecoder, HandshakeV10Capture) {
  ServerDecoder d;
  auto all = DecodeAll(d, Greeting5718());
  ASSERT_EQ(all.size(), 1u);
  const auto& g = std::get<HandshakeV10>(all[0]);
  EXPECT_EQ(g.server_version, "5.7.18-log");
  EXPECT_EQ(g.connection_id, 0x00297a12u);
  EXPECT_EQ(g.capabilities, 0xc1ffffffu);
  EXPECT_EQ(g.character_set, 0x21);
  EXPECT_EQ(g.status_flags, status::kAutocommit);
  EXPECT_EQ(g.auth_plugin_data_length, 21);
  EXPECT_EQ(g.auth_plugin_data_2.size(), 13u);
  EXPECT_EQ(g.scramble().size(), 20u);
  EXPECT_EQ(g.auth_plugin_name, "mysql_native_password");
  // CLIENT_MYSQL is set: no MariaDB extension bits.
  EXPECT_EQ(g.full_capabilities(), 0xc1ffffffu);
  EXPECT_EQ(d.state(), State::kAuth);
}

TEST(ServerDecoder, MariaDbExtendedCapabilitiesFromReservedBytes) {
  HandWire w;
  const uint32_t caps = (kCaps41 & 0xffffffff) | cap::kPluginAuth;  // CLIENT_MYSQL clear
  w.U8(10).Nul("10.11.6-MariaDB").Le(7, 4).Raw("abcdefgh").U8(0).Le(caps & 0xffff, 2);
  w.U8(45).Le(2, 2).Le(caps >> 16, 2).U8(21);
  w.Le(0, 6).Le((cap::kMariaDbExtendedMetadata | cap::kMariaDbProgress) >> 32, 4);
  w.Raw("ijklmnopqrst").U8(0).Nul("mysql_native_password");
  ServerDecoder d;
  auto all = DecodeAll(d, Packet(0, w));
  ASSERT_EQ(all.size(), 1u);
  const auto& g = std::get<HandshakeV10>(all[0]);
  EXPECT_EQ(g.full_capabilities(), caps | cap::kMariaDbExtendedMetadata | cap::kMariaDbProgress);
  EXPECT_EQ(g.scramble(), "abcdefghijklmnopqrst");
}

Bytes HandshakeResponse(uint8_t seq, uint32_t caps) {
  HandWire w;
  w.Le(caps, 4).Le(16777216, 4).U8(45).Le(0, 23);
  w.Nul("alice");
  w.U8(20).Raw("01234567890123456789");  // lenenc (< 251) or 1-byte length: same bytes
  if (caps & cap::kConnectWithDb) w.Nul("shop");
  w.Nul("mysql_native_password");
  HandWire attrs;
  attrs.Lstr("_client_name").Lstr("libmariadb").Lstr("_pid").Lstr("42");
  w.U8(static_cast<uint8_t>(attrs.size()))
      .Raw(std::string_view(reinterpret_cast<const char*>(attrs.bytes().data()), attrs.size()));
  return Packet(seq, w);
}

constexpr uint32_t kClientCaps = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                                 cap::kPluginAuthLenencClientData | cap::kConnectWithDb |
                                 cap::kConnectAttrs | cap::kDeprecateEof | cap::kSessionTrack;

TEST(ClientDecoder, SslRequestThenHandshakeResponse41) {
  ClientDecoder d;
  HandWire ssl;
  ssl.Le(kClientCaps | cap::kSsl, 4).Le(16777216, 4).U8(45).Le(0, 23);
  auto m = DecodeClient(d, Packet(1, ssl));
  ASSERT_TRUE(std::holds_alternative<SslRequest>(m));
  EXPECT_EQ(std::get<SslRequest>(m).capabilities, kClientCaps | cap::kSsl);
  EXPECT_EQ(d.phase(), ClientDecoder::Phase::kHandshake);

  m = DecodeClient(d, HandshakeResponse(2, kClientCaps | cap::kSsl));
  ASSERT_TRUE(std::holds_alternative<HandshakeResponse41>(m));
  const auto& r = std::get<HandshakeResponse41>(m);
  EXPECT_EQ(r.username, "alice");
  EXPECT_EQ(r.auth_response, "01234567890123456789");
  EXPECT_EQ(r.database, "shop");
  EXPECT_EQ(r.auth_plugin_name, "mysql_native_password");
  ASSERT_TRUE(r.connect_attributes.has_value());
  EXPECT_EQ(r.connect_attributes->size(), 2u);
  EXPECT_EQ((*r.connect_attributes)[1].second, "42");
  EXPECT_EQ(d.phase(), ClientDecoder::Phase::kAuth);
  EXPECT_EQ(d.capabilities(), kClientCaps | cap::kSsl);

  // The next auth packet is sequence 4 (the server's AuthSwitchRequest was 3).
  m = DecodeClient(d, Packet(4, HandWire().Raw("scrambled")));
  EXPECT_EQ(std::get<AuthData>(m).data, "scrambled");
}

TEST(ClientDecoder, HandshakeResponseOneByteAuthLengthAndNoDatabase) {
  ClientDecoder d;
  const uint32_t caps = (kClientCaps & ~cap::kPluginAuthLenencClientData) & ~cap::kConnectWithDb;
  auto m = DecodeClient(d, HandshakeResponse(1, caps));
  const auto& r = std::get<HandshakeResponse41>(m);
  EXPECT_EQ(r.auth_response.size(), 20u);
  EXPECT_FALSE(r.database.has_value());
}

TEST(ClientDecoder, HandshakeResponseMayEndBeforePluginName) {
  // Servers accept it (old clients); the codec keeps that it was absent.
  HandWire w;
  w.Le(kClientCaps & ~cap::kConnectWithDb, 4).Le(0, 4).U8(8).Le(0, 23).Nul("bob").U8(0);
  ClientDecoder d;
  auto m = DecodeClient(d, Packet(1, w));
  EXPECT_FALSE(std::get<HandshakeResponse41>(m).auth_plugin_name.has_value());
  EXPECT_FALSE(std::get<HandshakeResponse41>(m).connect_attributes.has_value());
}

TEST(ClientDecoder, RefusesPre41AndShortResponses) {
  ClientDecoder d;
  HandWire w;
  w.Le(cap::kSecureConnection, 4).Le(0, 4).U8(8).Le(0, 23).Nul("bob").U8(0);
  ClientMessage m;
  size_t consumed = 0;
  DecodeResult r = d.Decode(Keep(Packet(1, w)), &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_NE(r.error.find("CLIENT_PROTOCOL_41"), std::string::npos) << r.error;

  ClientDecoder d2;
  HandWire ssl;  // 32 bytes without CLIENT_SSL
  ssl.Le(kClientCaps, 4).Le(0, 4).U8(45).Le(0, 23);
  r = d2.Decode(Keep(Packet(1, ssl)), &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
}

TEST(ServerDecoder, AuthSwitchMoreDataAndOk) {
  ServerDecoder d;
  DecodeAll(d, Greeting5718());
  HandshakeResponse41 resp;
  resp.set_full_capabilities(kClientCaps);
  d.ExpectResponseTo(resp, 1);
  auto all = DecodeAll(
      d,
      Concat({Packet(
          2, HandWire().U8(0xFE).Nul("caching_sha2_password").Raw("01234567890123456789").U8(0))}));
  const auto& sw = std::get<AuthSwitchRequest>(all[0]);
  EXPECT_EQ(sw.plugin_name, "caching_sha2_password");
  EXPECT_EQ(sw.plugin_data.size(), 21u);
  d.ExpectResponseTo(AuthData{"x"}, 3);
  // caching_sha2_password fast path: AuthMoreData 0x03, then OK.
  all = DecodeAll(d, Concat({Packet(4, HandWire().U8(0x01).U8(0x03)), Packet(5, OkPayload(0x00))}));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(std::get<AuthMoreData>(all[0]).data, "\x03");
  EXPECT_TRUE(std::holds_alternative<OkPacket>(all[1]));
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, GreetingRefusedWithErr) {
  // "Host is not allowed to connect" comes before capabilities are known: no SQLSTATE.
  ServerDecoder d;
  auto all = DecodeAll(d, Packet(0, HandWire().U8(0xff).Le(1130, 2).Raw("Host not allowed")));
  const auto& e = std::get<ErrPacket>(all[0]);
  EXPECT_EQ(e.error_code, 1130);
  EXPECT_EQ(e.sql_state, "");
  EXPECT_EQ(e.message, "Host not allowed");
}

// --- Generic responses -----------------------------------------------------------------------

TEST(ServerDecoder, OkPacketDocExample) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html
  ServerDecoder d = AnswerTo(ComPing{});
  d.set_next_sequence(2);
  auto all = DecodeAll(d, {0x07, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00});
  const auto& ok = std::get<OkPacket>(all[0]);
  EXPECT_EQ(ok.affected_rows, 0u);
  EXPECT_EQ(ok.status_flags, status::kAutocommit);
  EXPECT_EQ(ok.warnings, 0);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, OkPacketWithSessionTrack) {
  const uint64_t caps = kCaps41 | cap::kSessionTrack;
  ServerDecoder d = AnswerTo(ComInitDb{"shop"}, caps);
  HandWire w;
  w.U8(0).U8(3).Bytes({0xfc, 0x00, 0x01}).Le(status::kSessionStateChanged, 2).Le(1, 2);
  w.Lstr("info").Lstr(std::string("\x01\x05\x04shop", 7));
  auto all = DecodeAll(d, Packet(1, w));
  const auto& ok = std::get<OkPacket>(all[0]);
  EXPECT_EQ(ok.affected_rows, 3u);
  EXPECT_EQ(ok.last_insert_id, 256u);
  EXPECT_EQ(ok.warnings, 1);
  EXPECT_EQ(ok.info, "info");
  EXPECT_EQ(ok.session_state_info.size(), 7u);
}

TEST(ServerDecoder, ErrPacketDocExample) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html
  ServerDecoder d = AnswerTo(ComQuery{});
  d.set_next_sequence(1);
  auto all = DecodeAll(
      d, {0x17, 0x00, 0x00, 0x01, 0xff, 0x48, 0x04, 0x23, 0x48, 0x59, 0x30, 0x30, 0x30, 0x4e,
          0x6f, 0x20, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x73, 0x20, 0x75, 0x73, 0x65, 0x64});
  const auto& e = std::get<ErrPacket>(all[0]);
  EXPECT_EQ(e.error_code, 1096);
  EXPECT_EQ(e.sql_state, "HY000");
  EXPECT_EQ(e.message, "No tables used");
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, UnsolicitedErrWhenIdleIsAccepted) {
  ServerDecoder d({}, State::kIdle);
  d.set_capabilities(kCaps41);
  auto all =
      DecodeAll(d, Packet(0, HandWire().U8(0xff).Le(1927, 2).Raw("#70100Connection was killed")));
  EXPECT_EQ(std::get<ErrPacket>(all[0]).error_code, 1927);
  EXPECT_NE(ServerError(d, Packet(1, OkPayload(0))).find("no command in flight"),
            std::string::npos);
}

// --- Text result sets --------------------------------------------------------------------------

Bytes TextResultSet(bool deprecate_eof, uint16_t last_status = status::kAutocommit,
                    uint8_t first_seq = 1) {
  uint8_t s = first_seq;
  std::vector<Bytes> parts;
  parts.push_back(Packet(s++, HandWire().U8(2)));
  parts.push_back(Packet(s++, ColumnDef("users", "id", ColumnType::kLong)));
  parts.push_back(Packet(s++, ColumnDef("users", "email", ColumnType::kVarString)));
  if (!deprecate_eof) parts.push_back(Packet(s++, Eof()));
  parts.push_back(Packet(s++, HandWire().Lstr("1").Lstr("alice@example.com")));
  parts.push_back(Packet(s++, HandWire().Lstr("2").U8(0xfb)));
  parts.push_back(Packet(s++, deprecate_eof ? OkPayload(0xFE, last_status) : Eof(last_status)));
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(ServerDecoder, TextResultSetWithEof) {
  ServerDecoder d = AnswerTo(ComQuery{"SELECT id, email FROM users"});
  auto all = DecodeAll(d, TextResultSet(false));
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(std::get<ColumnCount>(all[0]).count, 2u);
  const auto& email = std::get<ColumnDefinition>(all[2]);
  EXPECT_EQ(email.org_table, "users");
  EXPECT_EQ(email.org_name, "email");
  EXPECT_EQ(email.type, ColumnType::kVarString);
  EXPECT_TRUE(std::holds_alternative<EofPacket>(all[3]));
  const auto& row1 = std::get<TextRow>(all[4]);
  EXPECT_EQ(row1.values, (std::vector<Value>{Value{"1"}, Value{"alice@example.com"}}));
  const auto& row2 = std::get<TextRow>(all[5]);
  EXPECT_TRUE(row2.values[1].is_null);
  EXPECT_TRUE(std::holds_alternative<EofPacket>(all[6]));
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, TextResultSetWithDeprecateEof) {
  ServerDecoder d = AnswerTo(ComQuery{}, kCapsDeprecateEof);
  auto all = DecodeAll(d, TextResultSet(true));
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(std::get<OkPacket>(all[5]).header, 0xFE);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, EofDocExampleEndsRows) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_eof_packet.html
  // "05 00 00 05 fe 00 00 02 00": sequence 5, no warnings, SERVER_STATUS_AUTOCOMMIT.
  ServerDecoder d = AnswerTo(ComQuery{});
  DecodeAll(d,
            Concat({Packet(1, HandWire().U8(1)), Packet(2, ColumnDef("t", "a", ColumnType::kLong)),
                    Packet(3, Eof()), Packet(4, HandWire().Lstr("7"))}));
  auto all = DecodeAll(d, {0x05, 0x00, 0x00, 0x05, 0xfe, 0x00, 0x00, 0x02, 0x00});
  EXPECT_EQ(std::get<EofPacket>(all[0]).status_flags, status::kAutocommit);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, MultiResultsFollowMoreResultsExist) {
  ServerDecoder d = AnswerTo(ComQuery{}, kCapsDeprecateEof);
  const uint16_t more = status::kAutocommit | status::kMoreResultsExist;
  // A result set, an OK for a statement without one (e.g. an UPDATE), another result set.
  Bytes first = TextResultSet(true, more, 1);
  Bytes second = TextResultSet(true, status::kAutocommit, 8);
  auto all = DecodeAll(d, Concat({first, Packet(7, OkPayload(0x00, more)), second}));
  EXPECT_EQ(all.size(), 13u);
  EXPECT_EQ(std::get<ColumnCount>(all[7]).count, 2u);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, LocalInfileRequestIsItsOwnMessage) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_local_infile_request.html
  ServerDecoder d = AnswerTo(ComQuery{"LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t"});
  auto all = DecodeAll(d, {0x0c, 0x00, 0x00, 0x01, 0xfb, 0x2f, 0x65, 0x74, 0x63, 0x2f, 0x70, 0x61,
                           0x73, 0x73, 0x77, 0x64});
  EXPECT_EQ(std::get<LocalInfileRequest>(all[0]).filename, "/etc/passwd");
  EXPECT_EQ(d.state(), State::kInfileResult);
  // The session refuses: it sends the server one empty packet (sequence 2); the server's
  // answer is sequence 3.
  d.ExpectResponseTo(AuthData{""}, 2);
  all = DecodeAll(d, Packet(3, HandWire().U8(0xff).Le(1148, 2).Raw("#42000refused")));
  EXPECT_EQ(std::get<ErrPacket>(all[0]).error_code, 1148);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, MariaDbProgressReportDoesNotEndTheResult) {
  ServerDecoder d = AnswerTo(ComQuery{});
  auto all = DecodeAll(
      d,
      Packet(1,
             HandWire().U8(0xff).Le(0xffff, 2).Bytes({1, 1, 2, 0x10, 0x27, 0}).Raw("\x05stage")));
  EXPECT_EQ(std::get<ErrPacket>(all[0]).error_code, kMariaDbProgressReport);
  EXPECT_EQ(d.state(), State::kResult);
}

TEST(ServerDecoder, PipelinedCommandsAreAnsweredInOrder) {
  ServerDecoder d({}, State::kIdle);
  d.set_capabilities(kCaps41);
  d.ExpectResponseTo(ComPing{}, 0);
  d.ExpectResponseTo(ComQuery{}, 0);
  auto all = DecodeAll(d, Concat({Packet(1, OkPayload(0)), TextResultSet(false)}));
  EXPECT_EQ(all.size(), 8u);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, PipelineIsBounded) {
  DecoderLimits limits;
  limits.max_pipelined = 2;
  ServerDecoder d(limits, State::kIdle);
  d.set_capabilities(kCaps41);
  for (int i = 0; i < 4; ++i) d.ExpectResponseTo(ComPing{}, 0);  // 1 in flight + 2 queued + 1
  EXPECT_NE(ServerError(d, Packet(1, OkPayload(0))).find("pipelined"), std::string::npos);
}

// --- Prepared statements -----------------------------------------------------------------------

TEST(ServerDecoder, PrepareOkDocExampleWithDefinitions) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_prepare.html
  // "0c 00 00 01 00 01 00 00 00 01 00 02 00 00 00 00": statement 1, 1 column, 2 params.
  ServerDecoder d = AnswerTo(ComStmtPrepare{"SELECT CONCAT(?, ?) AS col1"});
  Bytes ok = {0x0c, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
              0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00};
  auto all = DecodeAll(
      d, Concat({ok, Packet(2, ColumnDef("", "?", ColumnType::kVarString)),
                 Packet(3, ColumnDef("", "?", ColumnType::kVarString)), Packet(4, Eof()),
                 Packet(5, ColumnDef("", "col1", ColumnType::kVarString)), Packet(6, Eof())}));
  ASSERT_EQ(all.size(), 6u);
  const auto& p = std::get<StmtPrepareOk>(all[0]);
  EXPECT_EQ(p.statement_id, 1u);
  EXPECT_EQ(p.num_columns, 1);
  EXPECT_EQ(p.num_params, 2);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, BinaryRowDocExample) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_binary_resultset.html
  // "09 00 00 04 00 00 06 66 6f 6f 62 61 72": one VAR_STRING column "foobar".
  ComStmtExecute exec;
  exec.statement_id = 1;
  ServerDecoder d = AnswerTo(exec);
  DecodeAll(d, Concat({Packet(1, HandWire().U8(1)),
                       Packet(2, ColumnDef("t", "c", ColumnType::kVarString)), Packet(3, Eof())}));
  auto all =
      DecodeAll(d, {0x09, 0x00, 0x00, 0x04, 0x00, 0x00, 0x06, 0x66, 0x6f, 0x6f, 0x62, 0x61, 0x72});
  const auto& row = std::get<BinaryRow>(all[0]);
  ASSERT_EQ(row.values.size(), 1u);
  EXPECT_EQ(row.values[0].data, "foobar");
  EXPECT_EQ(row.columns[0].type, ColumnType::kVarString);
}

Bytes BinaryResultSetAllTypes(uint8_t first_seq = 1) {
  const std::vector<std::pair<ColumnType, uint16_t>> cols = {
      {ColumnType::kTiny, 0},       {ColumnType::kShort, column_flag::kUnsigned},
      {ColumnType::kLong, 0},       {ColumnType::kInt24, 0},
      {ColumnType::kLongLong, 0},   {ColumnType::kFloat, 0},
      {ColumnType::kDouble, 0},     {ColumnType::kYear, 0},
      {ColumnType::kDate, 0},       {ColumnType::kDateTime, 0},
      {ColumnType::kTimestamp, 0},  {ColumnType::kTime, 0},
      {ColumnType::kNewDecimal, 0}, {ColumnType::kVarString, 0},
      {ColumnType::kBlob, 0},       {ColumnType::kJson, 0},
      {ColumnType::kGeometry, 0},   {ColumnType::kBit, 0},
      {ColumnType::kEnum, 0},       {ColumnType::kNull, 0},
  };
  uint8_t s = first_seq;
  Bytes out = Packet(s++, HandWire().U8(static_cast<uint8_t>(cols.size())));
  for (const auto& [type, flags] : cols) {
    out = Concat({out, Packet(s++, ColumnDef("t", "c", type, flags))});
  }
  out = Concat({out, Packet(s++, Eof())});
  HandWire row;
  // 20 columns + 2 bits offset = 3 bitmap bytes. Column 19 (MYSQL_TYPE_NULL) and column 13 NULL.
  row.U8(0x00).Bytes({0x00, 0x80, 0x20});
  row.U8(0xfb);                                                 // TINY -5
  row.Le(65535, 2);                                             // SHORT unsigned
  row.Le(0xfffffffe, 4);                                        // LONG -2
  row.Le(0xff800000, 4);                                        // INT24 -8388608
  row.Le(0x8000000000000000ull, 8);                             // LONGLONG min
  row.Bytes({0x33, 0x33, 0x23, 0x41});                          // FLOAT 10.2
  row.Bytes({0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x24, 0x40});  // DOUBLE 10.2
  row.Le(2024, 2);                                              // YEAR
  row.U8(4).Bytes({0xda, 0x07, 0x0a, 0x11});                    // DATE
  row.U8(7).Bytes({0xda, 0x07, 0x0a, 0x11, 0x13, 0x1b, 0x1e});  // DATETIME
  row.U8(0);                                                    // TIMESTAMP zero
  row.U8(8).Bytes({0x01, 0x78, 0, 0, 0, 0x13, 0x1b, 0x1e});     // TIME
  row.Lstr("12.50");                                            // NEWDECIMAL
  /* VAR_STRING is NULL */
  row.Bytes({0xfc, 0x2c, 0x01}).Raw(std::string(300, 'b'));  // BLOB of 300 bytes
  row.Lstr("{\"a\":1}");                                     // JSON
  row.Lstr(std::string(25, '\x01'));                         // GEOMETRY
  row.Lstr("\xa5");                                          // BIT
  row.Lstr("b");                                             // ENUM
  out = Concat({out, Packet(s++, row), Packet(s++, Eof())});
  return out;
}

TEST(ServerDecoder, BinaryRowOfEveryLayout) {
  ComStmtExecute exec;
  exec.statement_id = 9;
  ServerDecoder d = AnswerTo(exec);
  auto all = DecodeAll(d, BinaryResultSetAllTypes());
  ASSERT_EQ(all.size(), 24u);
  const auto& row = std::get<BinaryRow>(all[22]);
  const auto& v = row.values;
  EXPECT_EQ(ReadBinaryInteger(v[0].data, false), -5);
  EXPECT_EQ(ReadBinaryInteger(v[1].data, row.columns[1].is_unsigned), 65535);
  EXPECT_EQ(ReadBinaryInteger(v[2].data, false), -2);
  EXPECT_EQ(ReadBinaryInteger(v[3].data, false), -8388608);
  EXPECT_EQ(ReadBinaryInteger(v[4].data, false), INT64_MIN);
  EXPECT_EQ(ReadBinaryFloat(v[5].data), 10.2f);
  EXPECT_EQ(ReadBinaryDouble(v[6].data), 10.2);
  EXPECT_EQ(ReadBinaryInteger(v[7].data, false), 2024);
  EXPECT_EQ(ReadBinaryDateTime(v[8].data), (BinaryDateTime{2010, 10, 17}));
  EXPECT_EQ(ReadBinaryDateTime(v[9].data), (BinaryDateTime{2010, 10, 17, 19, 27, 30}));
  EXPECT_EQ(v[10].data.size(), 0u);
  EXPECT_FALSE(v[10].is_null);
  EXPECT_EQ(ReadBinaryTime(v[11].data), (BinaryTime{true, 120, 19, 27, 30}));
  EXPECT_EQ(v[12].data, "12.50");
  EXPECT_TRUE(v[13].is_null);
  EXPECT_EQ(v[14].data, std::string(300, 'b'));
  EXPECT_EQ(v[15].data, "{\"a\":1}");
  EXPECT_EQ(v[16].data.size(), 25u);
  EXPECT_EQ(v[17].data, "\xa5");
  EXPECT_EQ(v[18].data, "b");
  EXPECT_TRUE(v[19].is_null);
  EXPECT_EQ(d.state(), State::kIdle);
}

TEST(ServerDecoder, CursorThenFetchUsesTheStatementColumns) {
  ComStmtExecute exec;
  exec.statement_id = 3;
  exec.flags = cursor::kReadOnly;
  ServerDecoder d = AnswerTo(exec);
  auto all = DecodeAll(
      d, Concat({Packet(1, HandWire().U8(1)), Packet(2, ColumnDef("t", "n", ColumnType::kLongLong)),
                 Packet(3, Eof(status::kAutocommit | status::kCursorExists))}));
  EXPECT_EQ(d.state(), State::kIdle);
  d.ExpectResponseTo(ComStmtFetch{3, 10}, 0);
  all = DecodeAll(d, Concat({Packet(1, HandWire().U8(0).U8(0).Le(77, 8)),
                             Packet(2, Eof(status::kAutocommit | status::kLastRowSent))}));
  EXPECT_EQ(ReadBinaryInteger(std::get<BinaryRow>(all[0]).values[0].data, false), 77);
  EXPECT_EQ(d.state(), State::kIdle);
  // After COM_STMT_CLOSE, a fetch can only be answered with ERR.
  d.ExpectResponseTo(ComStmtClose{3}, 0);
  d.ExpectResponseTo(ComStmtFetch{3, 10}, 0);
  EXPECT_EQ(d.state(), State::kOkOrErr);
}

// --- Commands ----------------------------------------------------------------------------------

TEST(ClientDecoder, ComQueryDocExample) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query.html
  auto m =
      DecodeCommand({0x21, 0x00, 0x00, 0x00, 0x03, 0x73, 0x65, 0x6c, 0x65, 0x63, 0x74, 0x20, 0x40,
                     0x40, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x5f, 0x63, 0x6f, 0x6d, 0x6d,
                     0x65, 0x6e, 0x74, 0x20, 0x6c, 0x69, 0x6d, 0x69, 0x74, 0x20, 0x31});
  EXPECT_EQ(std::get<ComQuery>(m).query, "select @@version_comment limit 1");
}

TEST(ClientDecoder, ComQueryWithQueryAttributes) {
  HandWire w;
  w.U8(0x03).U8(1).U8(1).U8(0x00).U8(1);  // 1 attribute, 1 set, bitmap, bound
  w.U8(static_cast<uint8_t>(ColumnType::kVarString)).U8(0).Lstr("trace").Lstr("abc");
  w.Raw("SELECT 1");
  auto m = DecodeCommand(Packet(0, w), kCaps41 | cap::kQueryAttributes);
  const auto& q = std::get<ComQuery>(m);
  EXPECT_EQ(q.query, "SELECT 1");
  ASSERT_EQ(q.attributes.size(), 1u);
  EXPECT_EQ(q.attributes[0].name, "trace");
  EXPECT_EQ(q.attributes[0].value.data, "abc");
  // Without the capability (MariaDB) the same bytes are just query text.
  m = DecodeCommand(Packet(0, w));
  EXPECT_EQ(std::get<ComQuery>(m).query.size(), w.size() - 1);
}

TEST(ClientDecoder, SimpleCommands) {
  EXPECT_TRUE(std::holds_alternative<ComQuit>(DecodeCommand(Packet(0, HandWire().U8(0x01)))));
  EXPECT_TRUE(std::holds_alternative<ComPing>(DecodeCommand(Packet(0, HandWire().U8(0x0e)))));
  EXPECT_TRUE(
      std::holds_alternative<ComResetConnection>(DecodeCommand(Packet(0, HandWire().U8(0x1f)))));
  EXPECT_EQ(std::get<ComInitDb>(DecodeCommand(Packet(0, HandWire().U8(0x02).Raw("shop")))).schema,
            "shop");
  EXPECT_EQ(
      std::get<ComStmtPrepare>(DecodeCommand(Packet(0, HandWire().U8(0x16).Raw("SELECT ?")))).query,
      "SELECT ?");
  EXPECT_EQ(std::get<ComProcessKill>(DecodeCommand(Packet(0, HandWire().U8(0x0c).Le(77, 4))))
                .connection_id,
            77u);
  EXPECT_EQ(
      std::get<ComStmtFetch>(DecodeCommand(Packet(0, HandWire().U8(0x1c).Le(5, 4).Le(100, 4)))),
      (ComStmtFetch{5, 100}));
  EXPECT_EQ(std::get<ComStmtClose>(DecodeCommand(Packet(0, HandWire().U8(0x19).Le(5, 4)))),
            ComStmtClose{5});
  EXPECT_EQ(std::get<ComStmtReset>(DecodeCommand(Packet(0, HandWire().U8(0x1a).Le(5, 4)))),
            ComStmtReset{5});
  EXPECT_EQ(std::get<ComStmtSendLongData>(
                DecodeCommand(Packet(0, HandWire().U8(0x18).Le(5, 4).Le(1, 2).Raw("chunk")))),
            (ComStmtSendLongData{5, 1, "chunk"}));
  // Unknown commands are kept with their byte: the session decides.
  auto m = DecodeCommand(Packet(0, HandWire().U8(0x09)));
  EXPECT_EQ(std::get<UnknownCommand>(m).command, 0x09);  // COM_STATISTICS
  m = DecodeCommand(Packet(0, HandWire().U8(0xfa).Raw("bulk")));
  EXPECT_EQ(std::get<UnknownCommand>(m), (UnknownCommand{0xfa, "bulk"}));
}

TEST(ClientDecoder, ComChangeUserGoesToAuth) {
  ClientDecoder d({}, ClientDecoder::Phase::kCommand);
  d.set_capabilities(kClientCaps);
  HandWire w;
  w.U8(0x11).Nul("bob").U8(3).Raw("abc").Nul("shop").Le(45, 2).Nul("mysql_native_password");
  w.U8(0);  // empty attributes
  auto m = DecodeClient(d, Packet(0, w));
  const auto& cu = std::get<ComChangeUser>(m);
  EXPECT_EQ(cu.username, "bob");
  EXPECT_EQ(cu.auth_response, "abc");
  EXPECT_EQ(cu.database, "shop");
  EXPECT_EQ(cu.character_set, 45);
  EXPECT_EQ(cu.auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(d.phase(), ClientDecoder::Phase::kAuth);
}

TEST(ClientDecoder, ComStmtExecuteDocExample) {
  // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_execute.html
  // Statement 1, no cursor, one VARCHAR parameter "foo".
  ClientDecoder d({}, ClientDecoder::Phase::kCommand);
  d.set_capabilities(kCaps41);
  d.OnStatementPrepared(1, 1);
  auto m = DecodeClient(d, {0x12, 0x00, 0x00, 0x00, 0x17, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
                            0x00, 0x00, 0x00, 0x00, 0x01, 0x0f, 0x00, 0x03, 0x66, 0x6f, 0x6f});
  const auto& e = std::get<ComStmtExecute>(m);
  EXPECT_EQ(e.statement_id, 1u);
  EXPECT_EQ(e.iteration_count, 1u);
  ASSERT_EQ(e.parameters.size(), 1u);
  EXPECT_EQ(e.parameters[0].type.type, ColumnType::kVarchar);
  EXPECT_EQ(e.parameters[0].value.data, "foo");
}

TEST(ClientDecoder, ComStmtExecuteRemembersTypesAndLongData) {
  ClientDecoder d({}, ClientDecoder::Phase::kCommand);
  d.set_capabilities(kCaps41);
  d.OnStatementPrepared(7, 3);
  HandWire first;
  first.U8(0x17).Le(7, 4).U8(0).Le(1, 4).U8(0b010).U8(1);  // param 1 NULL
  first.U8(8).U8(0x80).U8(253).U8(0).U8(10).U8(0);         // LONGLONG unsigned, VAR_STRING, DATE
  first.Le(42, 8).U8(4).Bytes({0xe8, 0x07, 1, 2});
  auto m = DecodeClient(d, Packet(0, first));
  auto e = std::get<ComStmtExecute>(m);
  EXPECT_TRUE(e.parameters[0].type.is_unsigned);
  EXPECT_TRUE(e.parameters[1].value.is_null);
  EXPECT_EQ(ReadBinaryDateTime(e.parameters[2].value.data), (BinaryDateTime{2024, 1, 2}));

  // Long data for parameter 1, then an execute without types: it is not in the packet.
  DecodeClient(d, Packet(0, HandWire().U8(0x18).Le(7, 4).Le(1, 2).Raw("big")));
  HandWire second;
  second.U8(0x17).Le(7, 4).U8(0).Le(1, 4).U8(0).U8(0);
  second.Le(43, 8).U8(0);
  m = DecodeClient(d, Packet(0, second));
  e = std::get<ComStmtExecute>(m);
  EXPECT_FALSE(e.new_params_bound);
  EXPECT_EQ(e.parameters[0].type.type, ColumnType::kLongLong);
  EXPECT_TRUE(e.parameters[1].long_data);
  EXPECT_EQ(ReadBinaryInteger(e.parameters[0].value.data, true), 43);
  EXPECT_EQ(e.parameters[2].value.data.size(), 0u);
}

TEST(ClientDecoder, ComStmtExecuteOfUnknownStatementKeepsParametersRaw) {
  auto m =
      DecodeCommand(Packet(0, HandWire().U8(0x17).Le(99, 4).U8(0).Le(1, 4).Bytes({0x00, 0x01})));
  const auto& e = std::get<ComStmtExecute>(m);
  EXPECT_TRUE(e.parameters.empty());
  EXPECT_EQ(e.raw_parameters, std::string_view("\x00\x01", 2));
}

// --- Framing -----------------------------------------------------------------------------------

Bytes Split(std::string_view payload, uint8_t seq) {
  Bytes out;
  size_t at = 0;
  for (;;) {
    const size_t n = std::min<size_t>(payload.size() - at, 0xFFFFFF);
    HandWire h;
    h.Le(n, 3).U8(seq++);
    out.insert(out.end(), h.bytes().begin(), h.bytes().end());
    out.insert(out.end(), payload.begin() + at, payload.begin() + at + n);
    at += n;
    if (n < 0xFFFFFF) return out;
  }
}

TEST(Framing, ReassemblesPayloadsOf16MiBAndMore) {
  for (size_t size : {size_t{0xFFFFFF}, size_t{0xFFFFFF} + 10, size_t{2} * 0xFFFFFF}) {
    std::string sql(size, 'x');
    sql[0] = 0x03;
    sql[size - 1] = 'z';
    const Bytes bytes = Split(sql, 0);
    // An exact multiple of 0xFFFFFF ends with an empty packet.
    EXPECT_EQ(bytes.size(), size + 4 * (size / 0xFFFFFF + 1));
    ClientDecoder d({}, ClientDecoder::Phase::kCommand);
    ClientMessage m;
    size_t consumed = 0;
    // Everything but the last byte: still waiting.
    EXPECT_EQ(d.Decode(std::span(bytes).first(bytes.size() - 1), &consumed, &m).status,
              DecodeStatus::kNeedMoreData);
    DecodeResult r = d.Decode(bytes, &consumed, &m);
    ASSERT_TRUE(r.ready()) << r.error;
    EXPECT_EQ(consumed, bytes.size());
    EXPECT_EQ(r.first_sequence_id, 0);
    EXPECT_EQ(r.last_sequence_id, size / 0xFFFFFF);
    const auto& q = std::get<ComQuery>(m);
    EXPECT_EQ(q.query.size(), size - 1);
    EXPECT_EQ(q.query.back(), 'z');
  }
}

TEST(Framing, SequenceIdsAreChecked) {
  // A command must start at 0.
  EXPECT_NE(CommandError(Packet(1, HandWire().U8(0x0e))).find("sequence id 1, expected 0"),
            std::string::npos);
  // Continuations count up by one.
  std::string sql(0xFFFFFF + 1, 'x');
  sql[0] = 0x03;
  Bytes bytes = Split(sql, 0);
  bytes[4 + 0xFFFFFF + 3] = 5;
  EXPECT_NE(CommandError(bytes).find("continuation packet sequence id 5"), std::string::npos);
  // A server answer out of order.
  ServerDecoder d = AnswerTo(ComPing{});
  EXPECT_NE(ServerError(d, Packet(2, OkPayload(0))).find("expected 1"), std::string::npos);
}

TEST(Framing, OversizeLengthsFailOnTheHeader) {
  // The connection phase allows 64 KiB: a header announcing more fails before the payload.
  ClientDecoder d;
  ClientMessage m;
  size_t consumed = 0;
  const Bytes& header = Keep({0xff, 0xff, 0x01, 0x01});
  DecodeResult r = d.Decode(header, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_NE(r.error.find("exceeds the limit"), std::string::npos) << r.error;

  // A command above max_payload, announced by continuation headers alone.
  DecoderLimits limits;
  limits.max_payload = 1000;
  ClientDecoder c(limits, ClientDecoder::Phase::kCommand);
  r = c.Decode(Keep({0xe9, 0x03, 0x00, 0x00}), &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  // Huge column counts are refused before anything is reserved.
  ServerDecoder s = AnswerTo(ComQuery{});
  EXPECT_NE(ServerError(s, Packet(1, HandWire().Bytes({0xfd, 0xff, 0xff, 0xff})))
                .find("column count out of range"),
            std::string::npos);
}

TEST(Framing, MalformedPacketsAreErrorsThatHoldNoContent) {
  const std::string secret = "alice@example.com";
  // Trailing bytes after COM_PING; a text row with a length past the end; a non-minimal
  // length; a binary row with a bad header or stray null-bitmap bits; a zero column count.
  EXPECT_NE(CommandError(Packet(0, HandWire().U8(0x0e).Raw(secret))).find("COM_PING"),
            std::string::npos);
  EXPECT_EQ(CommandError(Packet(0, HandWire().U8(0x0e).Raw(secret))).find(secret),
            std::string::npos);
  {
    ServerDecoder d = AnswerTo(ComQuery{});
    const std::string e = ServerError(
        d, Concat({Packet(1, HandWire().U8(1)), Packet(2, ColumnDef("t", "a", ColumnType::kBlob)),
                   Packet(3, Eof()), Packet(4, HandWire().U8(40).Raw(secret))}));
    EXPECT_NE(e.find("exceeds the packet"), std::string::npos) << e;
    EXPECT_EQ(e.find(secret), std::string::npos);
    // The decoder stays failed, even for valid bytes.
    ServerMessage m;
    size_t consumed = 0;
    EXPECT_EQ(d.Decode(Keep(Packet(5, Eof())), &consumed, &m).status, DecodeStatus::kError);
  }
  {
    ServerDecoder d = AnswerTo(ComQuery{});
    EXPECT_NE(ServerError(d, Packet(1, HandWire().Bytes({0xfc, 0x02, 0x00}))).find("column count"),
              std::string::npos);
  }
  {
    ComStmtExecute exec;
    ServerDecoder d = AnswerTo(exec);
    const Bytes head =
        Concat({Packet(1, HandWire().U8(1)), Packet(2, ColumnDef("t", "a", ColumnType::kLong)),
                Packet(3, Eof())});
    EXPECT_NE(ServerError(d, Concat({head, Packet(4, HandWire().U8(0x01).U8(0).Le(1, 4))}))
                  .find("header"),
              std::string::npos);
    ServerDecoder d2 = AnswerTo(exec);
    EXPECT_NE(ServerError(d2, Concat({head, Packet(4, HandWire().U8(0x00).U8(0x01).Le(1, 4))}))
                  .find("null bitmap"),
              std::string::npos);
    ServerDecoder d3 = AnswerTo(exec);
    EXPECT_NE(ServerError(d3, Concat({head, Packet(4, HandWire().U8(0x00).U8(0).Le(1, 3))}))
                  .find("exceeds"),
              std::string::npos);
  }
  {
    ServerDecoder d = AnswerTo(ComPing{});
    EXPECT_NE(ServerError(d, Packet(1, HandWire().U8(0x00).Bytes({0xfc, 0x05, 0x00}).Le(0, 4)))
                  .find("affected rows"),
              std::string::npos);
  }
}

// --- Every truncation of every valid stream is "need more data" --------------------------------

struct StreamCase {
  std::string name;
  std::function<ServerDecoder()> server;  // null: a client stream
  std::function<ClientDecoder()> client;
  Bytes bytes;
};

std::vector<StreamCase> ValidStreams() {
  std::vector<StreamCase> cases;
  auto server = [&](std::string name, std::function<ServerDecoder()> f, Bytes b) {
    cases.push_back({std::move(name), std::move(f), nullptr, std::move(b)});
  };
  auto client = [&](std::string name, std::function<ClientDecoder()> f, Bytes b) {
    cases.push_back({std::move(name), nullptr, std::move(f), std::move(b)});
  };
  auto command = [](uint64_t caps) {
    return [caps] {
      ClientDecoder d({}, ClientDecoder::Phase::kCommand);
      d.set_capabilities(caps);
      d.OnStatementPrepared(7, 3);
      return d;
    };
  };
  server(
      "greeting", [] { return ServerDecoder(); }, Greeting5718());
  server(
      "text result", [] { return AnswerTo(ComQuery{}); }, TextResultSet(false));
  server(
      "text result deprecate eof", [] { return AnswerTo(ComQuery{}, kCapsDeprecateEof); },
      TextResultSet(true));
  server(
      "binary result", [] { return AnswerTo(ComStmtExecute{}); }, BinaryResultSetAllTypes());
  server(
      "ok", [] { return AnswerTo(ComPing{}); }, Packet(1, OkPayload(0)));
  server(
      "err", [] { return AnswerTo(ComQuery{}); },
      Packet(1, HandWire().U8(0xff).Le(1142, 2).Raw("#42000denied")));
  server(
      "prepare ok", [] { return AnswerTo(ComStmtPrepare{}); },
      Concat({Packet(1, HandWire().U8(0).Le(1, 4).Le(1, 2).Le(1, 2).U8(0).Le(0, 2)),
              Packet(2, ColumnDef("", "?", ColumnType::kLong)), Packet(3, Eof()),
              Packet(4, ColumnDef("t", "a", ColumnType::kLong)), Packet(5, Eof())}));
  server(
      "local infile", [] { return AnswerTo(ComQuery{}); },
      Packet(1, HandWire().U8(0xfb).Raw("/etc/passwd")));
  client(
      "ssl request + response", [] { return ClientDecoder(); },
      Concat({Packet(1, HandWire().Le(kClientCaps | cap::kSsl, 4).Le(0, 4).U8(45).Le(0, 23)),
              HandshakeResponse(2, kClientCaps | cap::kSsl)}));
  HandWire exec;
  exec.U8(0x17).Le(7, 4).U8(0).Le(1, 4).U8(0b010).U8(1);
  exec.U8(8).U8(0x80).U8(253).U8(0).U8(10).U8(0).Le(42, 8).U8(4).Bytes({0xe8, 0x07, 1, 2});
  client("execute", command(kCaps41), Packet(0, exec));
  client("query + ping", command(kCaps41),
         Concat({Packet(0, HandWire().U8(3).Raw("SELECT 1")), Packet(0, HandWire().U8(0x0e))}));
  client("query attributes", command(kCaps41 | cap::kQueryAttributes),
         Packet(0, HandWire().U8(3).U8(1).U8(1).U8(0).U8(1).U8(3).U8(0).Lstr("n").Le(5, 4).Raw(
                       "SELECT 1")));
  std::string big(0xFFFFFF + 5, 'q');
  big[0] = 0x03;
  client("split query", command(kCaps41), Split(big, 0));
  return cases;
}

TEST(Truncation, EveryPrefixOfAValidStreamNeedsMoreData) {
  for (const StreamCase& c : ValidStreams()) {
    SCOPED_TRACE(c.name);
    const Bytes& bytes = Keep(c.bytes);
    // Large streams: every prefix around packet boundaries and a sample elsewhere.
    const size_t step = bytes.size() > 100000 ? 4099 : 1;
    for (size_t len = 0; len <= bytes.size();
         len += (len < 64 || len + 64 > bytes.size()) ? 1 : step) {
      std::span<const uint8_t> rest(bytes.data(), len);
      size_t total = 0;
      DecodeResult r;
      if (c.server) {
        ServerDecoder d = c.server();
        ServerMessage m;
        for (;;) {
          size_t consumed = 0;
          r = d.Decode(rest, &consumed, &m);
          if (!r.ready()) break;
          rest = rest.subspan(consumed);
          total += consumed;
        }
      } else {
        ClientDecoder d = c.client();
        ClientMessage m;
        for (;;) {
          size_t consumed = 0;
          r = d.Decode(rest, &consumed, &m);
          if (!r.ready()) break;
          rest = rest.subspan(consumed);
          total += consumed;
        }
      }
      ASSERT_EQ(r.status, DecodeStatus::kNeedMoreData) << "prefix " << len << ": " << r.error;
      if (len == bytes.size()) {
        EXPECT_EQ(total, bytes.size());
      }
    }
  }
}

// An OK packet's session state, as MariaDB sends it after SET max_join_size = 536221234 with
// session_track_system_variables = '*': a system variable change, then a schema change.
TEST(SessionState, SplitsChangesAndEncodesThemAgain) {
  std::vector<uint8_t> state = {0x00, 0x18, 0x0d};
  internal::PutBytes(&state, "max_join_size");
  internal::PutLenencString(&state, "536221234");
  state.push_back(0x01);
  internal::PutLenencString(&state, std::string("\x04shop", 5));
  const std::string_view view(reinterpret_cast<const char*>(state.data()), state.size());
  std::vector<SessionStateChange> changes;
  ASSERT_TRUE(DecodeSessionState(view, &changes));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].type, SessionStateChange::kSystemVariable);
  EXPECT_EQ(changes[0].data, std::string_view("\x0dmax_join_size\x09"
                                              "536221234"));
  EXPECT_EQ(changes[1].type, 1);
  EXPECT_EQ(changes[1].data, std::string_view("\x04shop"));
  std::vector<uint8_t> again;
  EncodeSessionState(changes, &again);
  EXPECT_EQ(again, state);
  // A length past the end: nothing is read.
  EXPECT_FALSE(DecodeSessionState(view.substr(0, view.size() - 2), &changes));
  EXPECT_TRUE(changes.empty());
}

}  // namespace
}  // namespace veil::mysql
