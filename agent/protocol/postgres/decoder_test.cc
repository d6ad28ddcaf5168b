#include "agent/protocol/postgres/decoder.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "agent/protocol/postgres/test_bytes.h"

namespace veil::pg {
namespace {

using testing::Concat;
using testing::Frame;
using testing::HandWire;
using testing::Packet;

using Bytes = std::vector<uint8_t>;

// Decoded messages are views into their input. The one-shot helpers below are called with
// temporaries, so they park a copy of the input here for the rest of the test run.
const Bytes& Keep(Bytes bytes) {
  static auto* kept = new std::deque<Bytes>();
  return kept->emplace_back(std::move(bytes));
}

// Decodes exactly one frame that must fill `input`.
FrontendMessage DecodeFrontend(Bytes input,
                               FrontendDecoder::Phase phase = FrontendDecoder::Phase::kTyped) {
  const Bytes& bytes = Keep(std::move(input));
  FrontendDecoder decoder({}, phase);
  FrontendMessage m;
  size_t consumed = 0;
  DecodeResult r = decoder.Decode(bytes, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kReady) << r.error;
  EXPECT_EQ(consumed, bytes.size());
  return m;
}

BackendMessage DecodeBackend(Bytes input) {
  const Bytes& bytes = Keep(std::move(input));
  BackendDecoder decoder;
  BackendMessage m;
  size_t consumed = 0;
  DecodeResult r = decoder.Decode(bytes, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kReady) << r.error;
  EXPECT_EQ(consumed, bytes.size());
  return m;
}

std::string FrontendError(const Bytes& bytes,
                          FrontendDecoder::Phase phase = FrontendDecoder::Phase::kTyped,
                          DecoderLimits limits = {}) {
  FrontendDecoder decoder(limits, phase);
  FrontendMessage m;
  size_t consumed = 99;
  DecodeResult r = decoder.Decode(bytes, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(consumed, 0u);
  return r.error;
}

std::string BackendError(const Bytes& bytes, DecoderLimits limits = {}) {
  BackendDecoder decoder(limits);
  BackendMessage m;
  size_t consumed = 99;
  DecodeResult r = decoder.Decode(bytes, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(consumed, 0u);
  return r.error;
}

constexpr auto kStartup = FrontendDecoder::Phase::kStartup;

// --- Startup phase -----------------------------------------------------------------------------

TEST(FrontendStartup, SslRequestLiteralBytes) {
  const Bytes bytes = {0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f};
  FrontendDecoder decoder;
  FrontendMessage m;
  size_t consumed = 0;
  ASSERT_TRUE(decoder.Decode(bytes, &consumed, &m).ready());
  EXPECT_TRUE(std::holds_alternative<SslRequest>(m));
  EXPECT_EQ(consumed, 8u);
  EXPECT_EQ(decoder.phase(), FrontendDecoder::Phase::kStartup);  // StartupMessage still to come
}

TEST(FrontendStartup, GssEncRequest) {
  const Bytes bytes = {0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x30};
  EXPECT_TRUE(std::holds_alternative<GssEncRequest>(DecodeFrontend(bytes, kStartup)));
}

TEST(FrontendStartup, CancelRequestWithFourByteKey) {
  const Bytes bytes = Packet(HandWire().I32(80877102).I32(4242).Raw("\x01\x02\x03\x04"));
  ASSERT_EQ(bytes.size(), 16u);
  auto m = std::get<CancelRequest>(DecodeFrontend(bytes, kStartup));
  EXPECT_EQ(m.process_id, 4242);
  EXPECT_EQ(m.secret_key, std::string_view("\x01\x02\x03\x04", 4));
}

TEST(FrontendStartup, CancelRequestWithLongKeyOfProtocol32) {
  const std::string key(32, '\xab');
  auto m = std::get<CancelRequest>(
      DecodeFrontend(Packet(HandWire().I32(80877102).I32(7).Raw(key)), kStartup));
  EXPECT_EQ(m.secret_key, key);
}

TEST(FrontendStartup, CancelRequestKeyLengthOutOfRange) {
  EXPECT_NE(FrontendError(Packet(HandWire().I32(80877102).I32(7).Raw("abc")), kStartup), "");
  EXPECT_NE(
      FrontendError(Packet(HandWire().I32(80877102).I32(7).Raw(std::string(257, 'k'))), kStartup),
      "");
}

TEST(FrontendStartup, StartupMessageParametersAndPhaseChange) {
  const Bytes bytes = Packet(HandWire()
                                 .I32(196608)
                                 .Str("user")
                                 .Str("alice")
                                 .Str("database")
                                 .Str("orders")
                                 .Str("application_name")
                                 .Str("")
                                 .U8(0));
  FrontendDecoder decoder;
  FrontendMessage m;
  size_t consumed = 0;
  ASSERT_TRUE(decoder.Decode(bytes, &consumed, &m).ready());
  const auto& s = std::get<StartupMessage>(m);
  EXPECT_EQ(s.protocol_version, kProtocolVersion30);
  EXPECT_EQ(s.user(), "alice");
  EXPECT_EQ(s.database(), "orders");
  ASSERT_EQ(s.parameters.size(), 3u);
  EXPECT_EQ(s.parameters[2].first, "application_name");
  EXPECT_EQ(s.Get("application_name"), std::optional<std::string_view>(""));
  EXPECT_EQ(s.Get("options"), std::nullopt);
  EXPECT_EQ(decoder.phase(), FrontendDecoder::Phase::kTyped);

  // Typed messages follow.
  const Bytes query = Frame('Q', HandWire().Str("SELECT 1"));
  ASSERT_TRUE(decoder.Decode(query, &consumed, &m).ready());
  EXPECT_EQ(std::get<Query>(m).sql, "SELECT 1");
}

TEST(FrontendStartup, DatabaseDefaultsToUserAndProtocol32Accepted) {
  auto s = std::get<StartupMessage>(
      DecodeFrontend(Packet(HandWire().I32(196610).Str("user").Str("bob").U8(0)), kStartup));
  EXPECT_EQ(s.protocol_version, kProtocolVersion32);
  EXPECT_EQ(s.database(), "bob");
}

TEST(FrontendStartup, Errors) {
  // Length below 8, checked as soon as the length word is in.
  EXPECT_NE(FrontendError({0, 0, 0, 7}, kStartup), "");
  // Above max_startup_packet: refused from the length word alone, without waiting for the rest.
  EXPECT_NE(FrontendError({0, 0, 0x27, 0x11}, kStartup).find("10001"), std::string::npos);
  EXPECT_NE(FrontendError({0xff, 0xff, 0xff, 0xff}, kStartup), "");
  // Protocol 2.0.
  EXPECT_NE(FrontendError(Packet(HandWire().I32(0x20000).Str("user").Str("a").U8(0)), kStartup)
                .find("unsupported frontend protocol 2.0"),
            std::string::npos);
  // Missing the final terminator.
  EXPECT_NE(FrontendError(Packet(HandWire().I32(196608).Str("user").Str("a")), kStartup), "");
  // A name without a value.
  EXPECT_NE(FrontendError(Packet(HandWire().I32(196608).Str("user").U8(0)), kStartup), "");
  // Bytes after the terminator.
  EXPECT_NE(FrontendError(Packet(HandWire().I32(196608).U8(0).U8(1)), kStartup), "");
  // A string running off the end of the packet (no NUL inside it).
  EXPECT_NE(FrontendError(Packet(HandWire().I32(196608).Raw("user")), kStartup), "");
  // SSLRequest of the wrong length.
  EXPECT_NE(FrontendError(Packet(HandWire().I32(80877103).I32(0)), kStartup), "");
}

// --- Frontend typed messages -------------------------------------------------------------------

TEST(FrontendTyped, Query) {
  EXPECT_EQ(std::get<Query>(DecodeFrontend(Frame('Q', HandWire().Str("SELECT 1")))).sql,
            "SELECT 1");
  // The literal bytes of the same frame.
  const Bytes literal = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};
  EXPECT_EQ(std::get<Query>(DecodeFrontend(literal)).sql, "SELECT 1");
}

TEST(FrontendTyped, Parse) {
  auto m = std::get<Parse>(DecodeFrontend(
      Frame('P', HandWire().Str("s1").Str("SELECT $1, $2").I16(2).I32(23).I32(0xffffffff))));
  EXPECT_EQ(m.statement, "s1");
  EXPECT_EQ(m.query, "SELECT $1, $2");
  EXPECT_EQ(m.parameter_types, (std::vector<uint32_t>{23, 0xffffffffu}));
}

TEST(FrontendTyped, Bind) {
  auto m = std::get<Bind>(DecodeFrontend(Frame(
      'B',
      HandWire().Str("p").Str("s1").I16(2).I16(0).I16(1).I16(2).I32(2).Raw("42").I32(-1).I16(1).I16(
          1))));
  EXPECT_EQ(m.portal, "p");
  EXPECT_EQ(m.statement, "s1");
  EXPECT_EQ(m.parameter_formats, (std::vector<int16_t>{0, 1}));
  ASSERT_EQ(m.parameters.size(), 2u);
  EXPECT_EQ(m.parameters[0], (ColumnValue{"42", false}));
  EXPECT_TRUE(m.parameters[1].is_null);
  EXPECT_EQ(m.result_formats, (std::vector<int16_t>{1}));
}

TEST(FrontendTyped, BindWithNoParametersAndEmptyNames) {
  auto m =
      std::get<Bind>(DecodeFrontend(Frame('B', HandWire().Str("").Str("").I16(0).I16(0).I16(0))));
  EXPECT_TRUE(m.parameters.empty());
  EXPECT_TRUE(m.result_formats.empty());
}

TEST(FrontendTyped, DescribeExecuteClose) {
  auto d = std::get<Describe>(DecodeFrontend(Frame('D', HandWire().U8('P').Str("portal"))));
  EXPECT_EQ(d.target, 'P');
  EXPECT_EQ(d.name, "portal");
  auto e = std::get<Execute>(DecodeFrontend(Frame('E', HandWire().Str("").I32(100))));
  EXPECT_EQ(e.portal, "");
  EXPECT_EQ(e.max_rows, 100);
  auto c = std::get<Close>(DecodeFrontend(Frame('C', HandWire().U8('S').Str("s1"))));
  EXPECT_EQ(c.target, 'S');
  EXPECT_EQ(c.name, "s1");
}

TEST(FrontendTyped, EmptyMessages) {
  EXPECT_TRUE(std::holds_alternative<Sync>(DecodeFrontend({'S', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<Flush>(DecodeFrontend({'H', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<Terminate>(DecodeFrontend({'X', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<CopyDone>(DecodeFrontend({'c', 0, 0, 0, 4})));
}

TEST(FrontendTyped, CopyDataKeepsBinaryBytes) {
  const std::string data("a\0b\tc\n", 6);
  EXPECT_EQ(std::get<CopyData>(DecodeFrontend(Frame('d', HandWire().Raw(data)))).data, data);
  EXPECT_EQ(std::get<CopyData>(DecodeFrontend(Frame('d'))).data, "");
  EXPECT_EQ(std::get<CopyFail>(DecodeFrontend(Frame('f', HandWire().Str("boom")))).message, "boom");
}

TEST(FrontendTyped, PasswordMessageKeptRawAndSaslInitialResponse) {
  const Bytes bytes = Frame('p', HandWire().Str("SCRAM-SHA-256").I32(8).Raw("n,,n=,r="));
  auto raw = std::get<AuthenticationResponse>(DecodeFrontend(bytes));
  auto sasl = ParseSaslInitialResponse(raw.data);
  ASSERT_TRUE(sasl.ok()) << sasl.error().message;
  EXPECT_EQ(sasl->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(sasl->initial_response, std::optional<std::string_view>("n,,n=,r="));

  auto none = ParseSaslInitialResponse(std::string_view("X\0\xff\xff\xff\xff", 6));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->initial_response, std::nullopt);

  EXPECT_FALSE(ParseSaslInitialResponse("SCRAM").ok());  // no NUL
  EXPECT_FALSE(ParseSaslInitialResponse(std::string_view("X\0\0\0\0\x09"
                                                         "ab",
                                                         8))
                   .ok());  // short
  EXPECT_FALSE(ParseSaslInitialResponse(std::string_view("X\0\xff\xff\xff\xfe", 6)).ok());
  EXPECT_FALSE(ParseSaslInitialResponse(std::string_view("X\0\0\0\0\0z", 7)).ok());  // trailing
}

TEST(FrontendTyped, FunctionCall) {
  auto m = std::get<FunctionCall>(DecodeFrontend(
      Frame('F', HandWire().I32(1598).I16(1).I16(0).I16(1).I32(3).Raw("abc").I16(1))));
  EXPECT_EQ(m.function_oid, 1598u);
  EXPECT_EQ(m.argument_formats, (std::vector<int16_t>{0}));
  ASSERT_EQ(m.arguments.size(), 1u);
  EXPECT_EQ(m.arguments[0].data, "abc");
  EXPECT_EQ(m.result_format, 1);
}

TEST(FrontendTyped, Errors) {
  // Unknown type: refused from the type byte alone.
  EXPECT_NE(FrontendError({'z'}).find("unknown frontend message type 'z'"), std::string::npos);
  EXPECT_NE(FrontendError({0x00}).find("0x00"), std::string::npos);
  // Length below 4.
  EXPECT_NE(FrontendError({'Q', 0, 0, 0, 3}), "");
  // Sync must be exactly 4: refused from the header, before the body arrives.
  EXPECT_NE(FrontendError({'S', 0, 0, 0, 5}).find("Sync"), std::string::npos);
  // A huge Describe is refused from the header.
  EXPECT_NE(FrontendError({'D', 0x10, 0, 0, 0}), "");
  // Query above a configured max, from the header alone.
  DecoderLimits small;
  small.max_message = 100;
  EXPECT_NE(FrontendError({'Q', 0, 0, 0, 101}, FrontendDecoder::Phase::kTyped, small), "");
  // Query without its NUL.
  EXPECT_NE(FrontendError(Frame('Q', HandWire().Raw("SELECT 1"))).find("string not terminated"),
            std::string::npos);
  // Parse claiming more OIDs than the frame holds.
  EXPECT_NE(
      FrontendError(Frame('P', HandWire().Str("").Str("q").I16(3).I32(23))).find("count exceeds"),
      std::string::npos);
  // Bind with a parameter length of -2.
  EXPECT_NE(FrontendError(Frame('B', HandWire().Str("").Str("").I16(0).I16(1).I32(-2).I16(0)))
                .find("negative value length"),
            std::string::npos);
  // Bind with a parameter longer than the frame.
  EXPECT_NE(
      FrontendError(Frame('B', HandWire().Str("").Str("").I16(0).I16(1).I32(1000).Raw("x").I16(0))),
      "");
  // Bind with 2 formats for 3 parameters.
  EXPECT_NE(
      FrontendError(Frame(
          'B',
          HandWire().Str("").Str("").I16(2).I16(0).I16(0).I16(3).I32(-1).I32(-1).I32(-1).I16(0))),
      "");
  // Bind with result format 2.
  EXPECT_NE(FrontendError(Frame('B', HandWire().Str("").Str("").I16(0).I16(0).I16(1).I16(2))), "");
  // Describe of something that is neither a statement nor a portal.
  EXPECT_NE(FrontendError(Frame('D', HandWire().U8('X').Str(""))), "");
  // Trailing bytes.
  EXPECT_NE(FrontendError(Frame('Q', HandWire().Str("SELECT 1").U8(0))).find("trailing"),
            std::string::npos);
  // Execute cut short.
  EXPECT_NE(FrontendError(Frame('E', HandWire().Str("").I16(0).U8(0))), "");
}

TEST(FrontendTyped, ErrorIsStickyAndConsumesNothing) {
  FrontendDecoder decoder({}, FrontendDecoder::Phase::kTyped);
  FrontendMessage m;
  size_t consumed = 0;
  const Bytes bad = {'z', 0, 0, 0, 4};
  EXPECT_EQ(decoder.Decode(bad, &consumed, &m).status, DecodeStatus::kError);
  const Bytes good = {'S', 0, 0, 0, 4};
  DecodeResult r = decoder.Decode(good, &consumed, &m);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_NE(r.error, "");
  EXPECT_EQ(consumed, 0u);
}

TEST(FrontendTyped, ErrorTextDoesNotEchoContents) {
  // A secret in a malformed Query must not end up in the error sent back or logged.
  const std::string error = FrontendError(Frame('Q', HandWire().Raw("password=hunter2")));
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
}

// --- Backend messages --------------------------------------------------------------------------

TEST(Backend, AuthenticationRequests) {
  auto ok = std::get<Authentication>(DecodeBackend({'R', 0, 0, 0, 8, 0, 0, 0, 0}));
  EXPECT_EQ(ok.type, AuthenticationType::kOk);
  auto clear = std::get<Authentication>(DecodeBackend(Frame('R', HandWire().I32(3))));
  EXPECT_EQ(clear.type, AuthenticationType::kCleartextPassword);
  auto md5 = std::get<Authentication>(DecodeBackend(Frame('R', HandWire().I32(5).Raw("salt"))));
  EXPECT_EQ(md5.type, AuthenticationType::kMd5Password);
  EXPECT_EQ(md5.data, "salt");
  auto sasl = std::get<Authentication>(DecodeBackend(
      Frame('R', HandWire().I32(10).Str("SCRAM-SHA-256-PLUS").Str("SCRAM-SHA-256").U8(0))));
  EXPECT_EQ(sasl.type, AuthenticationType::kSasl);
  EXPECT_EQ(sasl.sasl_mechanisms,
            (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  auto cont = std::get<Authentication>(
      DecodeBackend(Frame('R', HandWire().I32(11).Raw("r=abc,s=salt,i=4096"))));
  EXPECT_EQ(cont.type, AuthenticationType::kSaslContinue);
  EXPECT_EQ(cont.data, "r=abc,s=salt,i=4096");
  auto fin = std::get<Authentication>(DecodeBackend(Frame('R', HandWire().I32(12).Raw("v=xyz"))));
  EXPECT_EQ(fin.type, AuthenticationType::kSaslFinal);
  EXPECT_EQ(fin.data, "v=xyz");
  auto gss = std::get<Authentication>(DecodeBackend(Frame('R', HandWire().I32(7))));
  EXPECT_EQ(gss.type, AuthenticationType::kGss);
}

TEST(Backend, AuthenticationErrors) {
  EXPECT_NE(BackendError(Frame('R', HandWire().I32(6))).find("unknown authentication"),
            std::string::npos);
  EXPECT_NE(BackendError(Frame('R', HandWire().I32(5).Raw("sal"))), "");             // short salt
  EXPECT_NE(BackendError(Frame('R', HandWire().I32(5).Raw("salty"))), "");           // long salt
  EXPECT_NE(BackendError(Frame('R', HandWire().I32(0).U8(0))), "");                  // trailing
  EXPECT_NE(BackendError(Frame('R', HandWire().I32(10).U8(0))), "");                 // no mechanism
  EXPECT_NE(BackendError(Frame('R', HandWire().I32(10).Str("SCRAM-SHA-256"))), "");  // no end
}

TEST(Backend, BackendKeyData) {
  auto k = std::get<BackendKeyData>(
      DecodeBackend(Frame('K', HandWire().I32(77).Raw(std::string_view("\0\0\0\x01", 4)))));
  EXPECT_EQ(k.process_id, 77);
  EXPECT_EQ(k.secret_key, std::string_view("\0\0\0\x01", 4));
  const std::string key(32, 'k');
  EXPECT_EQ(
      std::get<BackendKeyData>(DecodeBackend(Frame('K', HandWire().I32(1).Raw(key)))).secret_key,
      key);
  EXPECT_NE(BackendError(Frame('K', HandWire().I32(1).Raw("abc"))), "");
  EXPECT_NE(BackendError(Frame('K', HandWire().I32(1).Raw(std::string(257, 'k')))), "");
}

TEST(Backend, ParameterStatusReadyForQueryCommandComplete) {
  auto p = std::get<ParameterStatus>(
      DecodeBackend(Frame('S', HandWire().Str("server_version").Str("16.4"))));
  EXPECT_EQ(p.name, "server_version");
  EXPECT_EQ(p.value, "16.4");
  EXPECT_EQ(std::get<ReadyForQuery>(DecodeBackend({'Z', 0, 0, 0, 5, 'T'})).transaction_status, 'T');
  EXPECT_NE(BackendError({'Z', 0, 0, 0, 5, 'X'}), "");
  EXPECT_NE(BackendError({'Z', 0, 0, 0, 6}), "");  // wrong length, from the header
  EXPECT_EQ(std::get<CommandComplete>(DecodeBackend(Frame('C', HandWire().Str("SELECT 3")))).tag,
            "SELECT 3");
}

TEST(Backend, RowDescription) {
  auto t = std::get<RowDescription>(DecodeBackend(Frame('T', HandWire()
                                                                 .I16(2)
                                                                 .Str("email")
                                                                 .I32(16384)
                                                                 .I16(2)
                                                                 .I32(25)
                                                                 .I16(-1)
                                                                 .I32(-1)
                                                                 .I16(0)
                                                                 .Str("?column?")
                                                                 .I32(0)
                                                                 .I16(0)
                                                                 .I32(1043)
                                                                 .I16(-1)
                                                                 .I32(36)
                                                                 .I16(1))));
  ASSERT_EQ(t.fields.size(), 2u);
  EXPECT_EQ(t.fields[0], (FieldDescription{"email", 16384, 2, 25, -1, -1, 0}));
  EXPECT_EQ(t.fields[1], (FieldDescription{"?column?", 0, 0, 1043, -1, 36, 1}));
  EXPECT_TRUE(
      std::get<RowDescription>(DecodeBackend(Frame('T', HandWire().I16(0)))).fields.empty());
}

TEST(Backend, RowDescriptionErrors) {
  // Count far beyond what the frame holds: refused before reserving anything.
  EXPECT_NE(BackendError(Frame('T', HandWire().I16(-1).Str("a"))).find("count exceeds"),
            std::string::npos);
  // Field cut short.
  EXPECT_NE(
      BackendError(Frame(
          'T', HandWire().I16(1).Str("a").I32(0).I16(0).I32(25).I16(-1).I32(-1).U8(0).U8(0).U8(0))),
      "");
  // Name not terminated.
  EXPECT_NE(BackendError(Frame('T', HandWire().I16(1).Raw(std::string(20, 'n')))), "");
  // Format code 7.
  EXPECT_NE(BackendError(Frame(
                'T', HandWire().I16(1).Str("a").I32(0).I16(0).I32(25).I16(-1).I32(-1).I16(7))),
            "");
}

TEST(Backend, DataRowViewsPointIntoTheBuffer) {
  const Bytes bytes = Frame('D', HandWire().I16(4).I32(5).Raw("alice").I32(-1).I32(0).I32(3).Raw(
                                     std::string("\0\1\2", 3)));
  BackendDecoder decoder;
  BackendMessage m;
  size_t consumed = 0;
  ASSERT_TRUE(decoder.Decode(bytes, &consumed, &m).ready());
  const auto& row = std::get<DataRowView>(m);
  ASSERT_EQ(row.columns.size(), 4u);
  EXPECT_EQ(row.columns[0], (ColumnValue{"alice", false}));
  EXPECT_TRUE(row.columns[1].is_null);
  EXPECT_FALSE(row.columns[2].is_null);  // empty string is not NULL
  EXPECT_EQ(row.columns[2].data, "");
  EXPECT_EQ(row.columns[3].data, std::string_view("\0\1\2", 3));
  // Zero copy: the value lies inside the frame.
  const char* begin = reinterpret_cast<const char*>(bytes.data());
  EXPECT_EQ(row.columns[0].data.data(), begin + 5 + 2 + 4);
}

TEST(Backend, DataRowErrors) {
  EXPECT_NE(BackendError(Frame('D', HandWire().I16(1).I32(-2))).find("negative value length"),
            std::string::npos);
  EXPECT_NE(BackendError(Frame('D', HandWire().I16(1).I32(INT32_MIN))), "");
  EXPECT_NE(BackendError(Frame('D', HandWire().I16(1).I32(6).Raw("alice"))), "");  // 1 short
  EXPECT_NE(BackendError(Frame('D', HandWire().I16(3).I32(-1).I32(-1))), "");      // count > frame
  EXPECT_NE(BackendError(Frame('D', HandWire().I16(1).I32(-1).U8(0))), "");        // trailing
  EXPECT_NE(BackendError(Frame('D', HandWire().U8(0))), "");                       // below minimum
  // An overall length above max_message, refused from the header.
  DecoderLimits limits;
  limits.max_message = 1 << 20;
  EXPECT_NE(BackendError({'D', 0x00, 0x10, 0x00, 0x01}, limits), "");
}

TEST(Backend, DataRowReusesCapacity) {
  BackendDecoder decoder;
  BackendMessage m;
  size_t consumed = 0;
  std::vector<Bytes> rows;
  for (int i = 0; i < 100; ++i) {
    HandWire w;
    w.I16(8);
    for (int c = 0; c < 8; ++c) w.I32(1).Raw(std::string(1, static_cast<char>('a' + c)));
    rows.push_back(Frame('D', w));
  }
  ASSERT_TRUE(decoder.Decode(rows[0], &consumed, &m).ready());
  const ColumnValue* storage = std::get<DataRowView>(m).columns.data();
  for (const Bytes& row : rows) {
    ASSERT_TRUE(decoder.Decode(row, &consumed, &m).ready());
    EXPECT_EQ(std::get<DataRowView>(m).columns.data(), storage);  // no reallocation
    EXPECT_EQ(std::get<DataRowView>(m).columns[7].data, "h");
  }
}

TEST(Backend, ErrorAndNoticeResponses) {
  HandWire w;
  const std::string codes = "SVCMDHPpqWstcdnFLR";
  for (char c : codes) w.U8(static_cast<uint8_t>(c)).Str(std::string("v_") + c);
  w.U8('Z').Str("unknown codes are kept");
  w.U8(0);
  auto e = std::get<ErrorResponse>(DecodeBackend(Frame('E', w)));
  ASSERT_EQ(e.fields.size(), codes.size() + 1);
  for (char c : codes) EXPECT_EQ(e.Get(c), std::string("v_") + c);
  EXPECT_EQ(e.Get('Z'), "unknown codes are kept");
  EXPECT_EQ(e.Get('x'), "");

  auto n = std::get<NoticeResponse>(DecodeBackend(
      Frame('N', HandWire().U8('S').Str("NOTICE").U8('C').Str("00000").U8('M').Str("hi").U8(0))));
  EXPECT_EQ(n.severity(), "NOTICE");
  EXPECT_EQ(n.sqlstate(), "00000");
  EXPECT_EQ(n.message(), "hi");

  EXPECT_NE(BackendError(Frame('E', HandWire().U8('M').Str("x"))).find("terminator"),
            std::string::npos);
  EXPECT_NE(BackendError(Frame('E', HandWire().U8('M').Raw("no nul"))), "");
}

TEST(Backend, NotificationParameterDescriptionFunctionResult) {
  auto a = std::get<NotificationResponse>(
      DecodeBackend(Frame('A', HandWire().I32(99).Str("chan").Str("payload"))));
  EXPECT_EQ(a, (NotificationResponse{99, "chan", "payload"}));
  auto t =
      std::get<ParameterDescription>(DecodeBackend(Frame('t', HandWire().I16(2).I32(23).I32(25))));
  EXPECT_EQ(t.type_oids, (std::vector<uint32_t>{23, 25}));
  EXPECT_NE(BackendError(Frame('t', HandWire().I16(2).I32(23))), "");
  auto v = std::get<FunctionCallResponse>(DecodeBackend(Frame('V', HandWire().I32(2).Raw("ok"))));
  EXPECT_EQ(v.result.data, "ok");
  EXPECT_TRUE(
      std::get<FunctionCallResponse>(DecodeBackend(Frame('V', HandWire().I32(-1)))).result.is_null);
}

TEST(Backend, EmptyMessages) {
  EXPECT_TRUE(std::holds_alternative<ParseComplete>(DecodeBackend({'1', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<BindComplete>(DecodeBackend({'2', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<CloseComplete>(DecodeBackend({'3', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<NoData>(DecodeBackend({'n', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<PortalSuspended>(DecodeBackend({'s', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<EmptyQueryResponse>(DecodeBackend({'I', 0, 0, 0, 4})));
  EXPECT_TRUE(std::holds_alternative<CopyDone>(DecodeBackend({'c', 0, 0, 0, 4})));
  EXPECT_NE(BackendError({'1', 0, 0, 0, 5, 0}), "");
}

TEST(Backend, CopyResponsesAndData) {
  auto in =
      std::get<CopyInResponse>(DecodeBackend(Frame('G', HandWire().U8(0).I16(2).I16(0).I16(0))));
  EXPECT_EQ(in.format, 0);
  EXPECT_EQ(in.column_formats, (std::vector<int16_t>{0, 0}));
  auto out =
      std::get<CopyOutResponse>(DecodeBackend(Frame('H', HandWire().U8(1).I16(2).I16(1).I16(0))));
  EXPECT_EQ(out.format, 1);
  EXPECT_EQ(out.column_formats, (std::vector<int16_t>{1, 0}));
  auto both = std::get<CopyBothResponse>(DecodeBackend(Frame('W', HandWire().U8(0).I16(0))));
  EXPECT_TRUE(both.column_formats.empty());
  EXPECT_EQ(std::get<CopyData>(DecodeBackend(Frame('d', HandWire().Raw("1\talice\n")))).data,
            "1\talice\n");
  // A text copy cannot have a binary column; format 2 does not exist.
  EXPECT_NE(BackendError(Frame('H', HandWire().U8(0).I16(1).I16(1))), "");
  EXPECT_NE(BackendError(Frame('H', HandWire().U8(2).I16(0))), "");
  EXPECT_NE(BackendError(Frame('H', HandWire().U8(0).I16(5).I16(0))), "");
}

TEST(Backend, NegotiateProtocolVersion) {
  auto v = std::get<NegotiateProtocolVersion>(
      DecodeBackend(Frame('v', HandWire().I32(0).I32(2).Str("_pq_.a").Str("_pq_.b"))));
  EXPECT_EQ(v.newest_minor_version, 0);
  EXPECT_EQ(v.unrecognized_options, (std::vector<std::string_view>{"_pq_.a", "_pq_.b"}));
  EXPECT_NE(BackendError(Frame('v', HandWire().I32(0).I32(1000).Str("x"))), "");
  EXPECT_NE(BackendError(Frame('v', HandWire().I32(0).I32(-1))), "");
}

TEST(Backend, EncryptionResponses) {
  for (char answer : {'S', 'N', 'G'}) {
    BackendDecoder decoder;
    decoder.ExpectEncryptionResponse();
    BackendMessage m;
    size_t consumed = 0;
    const Bytes bytes = Concat({{static_cast<uint8_t>(answer)}, {'Z', 0, 0, 0, 5, 'I'}});
    ASSERT_TRUE(decoder.Decode(bytes, &consumed, &m).ready());
    EXPECT_EQ(consumed, 1u);
    EXPECT_EQ(std::get<EncryptionResponse>(m).answer, answer);
    // Only the one byte is special: the next frame is typed.
    ASSERT_TRUE(decoder.Decode(std::span(bytes).subspan(1), &consumed, &m).ready());
    EXPECT_TRUE(std::holds_alternative<ReadyForQuery>(m));
  }
}

TEST(Backend, EncryptionRequestRefusedWithError) {
  BackendDecoder decoder;
  decoder.ExpectEncryptionResponse();
  BackendMessage m;
  size_t consumed = 0;
  const Bytes bytes = Frame('E', HandWire().U8('S').Str("FATAL").U8('M').Str("unsupported").U8(0));
  ASSERT_TRUE(decoder.Decode(bytes, &consumed, &m).ready());
  EXPECT_EQ(std::get<ErrorResponse>(m).message(), "unsupported");

  BackendDecoder strict;
  strict.ExpectEncryptionResponse();
  EXPECT_EQ(strict.Decode(Bytes{'x'}, &consumed, &m).status, DecodeStatus::kError);
  // An error answer is bounded like a startup packet.
  BackendDecoder big;
  big.ExpectEncryptionResponse();
  EXPECT_EQ(big.Decode(Bytes{'E', 0, 1, 0, 0}, &consumed, &m).status, DecodeStatus::kError);
}

TEST(Backend, UnknownTypeRefusedFromTypeByte) {
  EXPECT_NE(BackendError({'Q'}).find("unknown backend message type 'Q'"), std::string::npos);
}

// --- Streams: several frames, every split point ------------------------------------------------

Bytes FrontendStream() {
  return Concat({
      Packet(HandWire().I32(80877103)),
      Packet(HandWire().I32(196608).Str("user").Str("alice").Str("database").Str("db").U8(0)),
      Frame('p', HandWire().Str("SCRAM-SHA-256").I32(3).Raw("n,,")),
      Frame('Q', HandWire().Str("SELECT 1")),
      Frame('P', HandWire().Str("s").Str("SELECT $1").I16(1).I32(25)),
      Frame('B', HandWire().Str("").Str("s").I16(1).I16(0).I16(1).I32(3).Raw("abc").I16(1).I16(0)),
      Frame('D', HandWire().U8('P').Str("")),
      Frame('E', HandWire().Str("").I32(0)),
      Frame('S'),
      Frame('d', HandWire().Raw("x\ty\n")),
      Frame('c'),
      Frame('X'),
  });
}

Bytes BackendStream() {
  return Concat({
      Frame('R', HandWire().I32(10).Str("SCRAM-SHA-256").U8(0)),
      Frame('R', HandWire().I32(0)),
      Frame('S', HandWire().Str("client_encoding").Str("UTF8")),
      Frame('K', HandWire().I32(1).I32(2)),
      Frame('Z', HandWire().U8('I')),
      Frame('T', HandWire().I16(1).Str("a").I32(0).I16(0).I32(25).I16(-1).I32(-1).I16(0)),
      Frame('D', HandWire().I16(1).I32(3).Raw("x@y")),
      Frame('D', HandWire().I16(1).I32(-1)),
      Frame('C', HandWire().Str("SELECT 2")),
      Frame('N', HandWire().U8('M').Str("note").U8(0)),
      Frame('1'),
      Frame('2'),
      Frame('H', HandWire().U8(0).I16(1).I16(0)),
      Frame('d', HandWire().Raw("1\n")),
      Frame('c'),
      Frame('E', HandWire().U8('C').Str("42501").U8(0)),
      Frame('Z', HandWire().U8('E')),
  });
}

// Decodes everything in `chunks` fed one after the other, as a socket would deliver them.
template <typename Decoder, typename Message>
std::vector<std::string> DecodeChunks(Decoder& decoder, const std::vector<Bytes>& chunks) {
  std::vector<std::string> names;
  Bytes pending;
  for (const Bytes& chunk : chunks) {
    pending.insert(pending.end(), chunk.begin(), chunk.end());
    for (;;) {
      Message m;
      size_t consumed = 99;
      DecodeResult r = decoder.Decode(pending, &consumed, &m);
      if (r.status == DecodeStatus::kError) {
        ADD_FAILURE() << r.error;
        return names;
      }
      if (r.status == DecodeStatus::kNeedMoreData) {
        EXPECT_EQ(consumed, 0u);
        break;
      }
      EXPECT_GT(consumed, 0u);
      names.emplace_back(MessageName(m));
      pending.erase(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(consumed));
    }
  }
  EXPECT_TRUE(pending.empty());
  return names;
}

TEST(Streams, FrontendEverySplitPoint) {
  const Bytes stream = FrontendStream();
  FrontendDecoder whole_decoder;
  const auto expected = DecodeChunks<FrontendDecoder, FrontendMessage>(whole_decoder, {stream});
  EXPECT_EQ(expected, (std::vector<std::string>{"SSLRequest", "StartupMessage", "PasswordMessage",
                                                "Query", "Parse", "Bind", "Describe", "Execute",
                                                "Sync", "CopyData", "CopyDone", "Terminate"}));
  for (size_t split = 0; split <= stream.size(); ++split) {
    FrontendDecoder decoder;
    const Bytes a(stream.begin(), stream.begin() + static_cast<ptrdiff_t>(split));
    const Bytes b(stream.begin() + static_cast<ptrdiff_t>(split), stream.end());
    EXPECT_EQ((DecodeChunks<FrontendDecoder, FrontendMessage>(decoder, {a, b})), expected)
        << "split at " << split;
  }
  // One byte at a time.
  std::vector<Bytes> bytes;
  for (uint8_t c : stream) bytes.push_back({c});
  FrontendDecoder decoder;
  EXPECT_EQ((DecodeChunks<FrontendDecoder, FrontendMessage>(decoder, bytes)), expected);
}

TEST(Streams, BackendEverySplitPoint) {
  const Bytes stream = BackendStream();
  BackendDecoder whole_decoder;
  const auto expected = DecodeChunks<BackendDecoder, BackendMessage>(whole_decoder, {stream});
  EXPECT_EQ(expected.size(), 17u);
  for (size_t split = 0; split <= stream.size(); ++split) {
    BackendDecoder decoder;
    const Bytes a(stream.begin(), stream.begin() + static_cast<ptrdiff_t>(split));
    const Bytes b(stream.begin() + static_cast<ptrdiff_t>(split), stream.end());
    EXPECT_EQ((DecodeChunks<BackendDecoder, BackendMessage>(decoder, {a, b})), expected)
        << "split at " << split;
  }
  std::vector<Bytes> bytes;
  for (uint8_t c : stream) bytes.push_back({c});
  BackendDecoder decoder;
  EXPECT_EQ((DecodeChunks<BackendDecoder, BackendMessage>(decoder, bytes)), expected);
}

TEST(Streams, EveryPrefixOfAFrameNeedsMoreData) {
  const Bytes frame = Frame('D', HandWire().I16(2).I32(3).Raw("abc").I32(-1));
  for (size_t n = 0; n < frame.size(); ++n) {
    BackendDecoder decoder;
    BackendMessage m;
    size_t consumed = 99;
    EXPECT_EQ(decoder.Decode(std::span(frame).first(n), &consumed, &m).status,
              DecodeStatus::kNeedMoreData)
        << n;
    EXPECT_EQ(consumed, 0u);
  }
}

// --- Random input ------------------------------------------------------------------------------

// Random bytes and mutated valid streams must never crash or read out of bounds (run under
// ASan/UBSan in the sanitizer build); every kReady must consume a non-empty prefix.
TEST(Random, HundredThousandInputsDoNotCrash) {
  std::mt19937 rng(20240601);
  const Bytes seeds[] = {FrontendStream(), BackendStream()};
  size_t ready = 0;
  for (int i = 0; i < 100000; ++i) {
    Bytes input;
    if (i % 2 == 0) {
      input.resize(rng() % 64);
      for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
    } else {
      input = seeds[rng() % 2];
      const size_t flips = 1 + rng() % 4;
      for (size_t f = 0; f < flips; ++f) input[rng() % input.size()] = static_cast<uint8_t>(rng());
      input.resize(rng() % (input.size() + 1));
    }
    // An exactly-sized heap copy, so any overread is caught by ASan.
    const auto heap = std::make_unique<uint8_t[]>(input.size() + 1);
    std::copy(input.begin(), input.end(), heap.get());
    std::span<const uint8_t> buf(heap.get(), input.size());

    FrontendDecoder frontend(
        {}, i % 3 == 0 ? FrontendDecoder::Phase::kTyped : FrontendDecoder::Phase::kStartup);
    BackendDecoder backend;
    if (i % 5 == 0) backend.ExpectEncryptionResponse();
    FrontendMessage fm;
    BackendMessage bm;
    for (std::span<const uint8_t> rest = buf;;) {
      size_t consumed = 0;
      DecodeResult r = frontend.Decode(rest, &consumed, &fm);
      if (!r.ready()) break;
      ASSERT_GT(consumed, 0u);
      ASSERT_LE(consumed, rest.size());
      rest = rest.subspan(consumed);
      ++ready;
    }
    for (std::span<const uint8_t> rest = buf;;) {
      size_t consumed = 0;
      DecodeResult r = backend.Decode(rest, &consumed, &bm);
      if (!r.ready()) break;
      ASSERT_GT(consumed, 0u);
      ASSERT_LE(consumed, rest.size());
      rest = rest.subspan(consumed);
      ++ready;
    }
  }
  EXPECT_GT(ready, 1000u);  // the mutated streams do reach the parsers
}

}  // namespace
}  // namespace veil::pg
