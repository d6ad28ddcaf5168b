// MySQL / MariaDB client/server protocol messages, as veil decodes and encodes them.
//
// Plain value types shared by the decoders (decoder.h) and the encoders (encoder.h).
// Protocol reference: https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html
// and MariaDB's: https://mariadb.com/kb/en/clientserver-protocol/
//
// Lifetime: a decoded message is a *view*. Its std::string_view members point into the buffer
// passed to Decode() or, for a payload of 16 MiB or more that arrived split across packets, into
// the decoder's own reassembly buffer; either stays valid until the next Decode() call on that
// decoder and as long as the input bytes live. Copy what must outlive that. The exception is
// ErrPacket, whose text is owned: veil builds refusals and rewrites (masks) server error texts.
//
// Capabilities are carried as one uint64_t: the low 32 bits are the CLIENT_* flags every server
// knows, the high 32 bits MariaDB's extended MARIADB_CLIENT_* flags, which travel in the last 4
// bytes of the handshake's "reserved" field and of the response's filler when CLIENT_MYSQL (bit 0)
// is clear.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace veil::mysql {

// The largest payload of one physical packet; a payload this long continues in the next packet.
inline constexpr size_t kMaxPacketPayload = 0xFFFFFF;

// --- Capability flags ------------------------------------------------------------------------
// https://dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html
namespace cap {
inline constexpr uint64_t kLongPassword = 1u << 0;  // MariaDB: CLIENT_MYSQL
inline constexpr uint64_t kFoundRows = 1u << 1;
inline constexpr uint64_t kLongFlag = 1u << 2;
inline constexpr uint64_t kConnectWithDb = 1u << 3;
inline constexpr uint64_t kNoSchema = 1u << 4;
inline constexpr uint64_t kCompress = 1u << 5;
inline constexpr uint64_t kOdbc = 1u << 6;
inline constexpr uint64_t kLocalFiles = 1u << 7;
inline constexpr uint64_t kIgnoreSpace = 1u << 8;
inline constexpr uint64_t kProtocol41 = 1u << 9;
inline constexpr uint64_t kInteractive = 1u << 10;
inline constexpr uint64_t kSsl = 1u << 11;
inline constexpr uint64_t kIgnoreSigpipe = 1u << 12;
inline constexpr uint64_t kTransactions = 1u << 13;
inline constexpr uint64_t kReserved = 1u << 14;
inline constexpr uint64_t kSecureConnection = 1u << 15;
inline constexpr uint64_t kMultiStatements = 1u << 16;
inline constexpr uint64_t kMultiResults = 1u << 17;
inline constexpr uint64_t kPsMultiResults = 1u << 18;
inline constexpr uint64_t kPluginAuth = 1u << 19;
inline constexpr uint64_t kConnectAttrs = 1u << 20;
inline constexpr uint64_t kPluginAuthLenencClientData = 1u << 21;
inline constexpr uint64_t kCanHandleExpiredPasswords = 1u << 22;
inline constexpr uint64_t kSessionTrack = 1u << 23;
inline constexpr uint64_t kDeprecateEof = 1u << 24;
inline constexpr uint64_t kOptionalResultsetMetadata = 1u << 25;  // MySQL 8 only
inline constexpr uint64_t kZstdCompression = 1u << 26;            // MySQL 8 only
inline constexpr uint64_t kQueryAttributes = 1u << 27;            // MySQL 8.0.23+, not MariaDB
inline constexpr uint64_t kMultiFactorAuth = 1u << 28;            // MySQL 8.0.27+
inline constexpr uint64_t kCapabilityExtension = 1u << 29;
inline constexpr uint64_t kSslVerifyServerCert = 1u << 30;
inline constexpr uint64_t kRememberOptions = 1u << 31;
// MariaDB extended capabilities (upper 32 bits).
inline constexpr uint64_t kMariaDbProgress = uint64_t{1} << 32;
inline constexpr uint64_t kMariaDbComMulti = uint64_t{1} << 33;
inline constexpr uint64_t kMariaDbStmtBulkOperations = uint64_t{1} << 34;
inline constexpr uint64_t kMariaDbExtendedMetadata = uint64_t{1} << 35;
inline constexpr uint64_t kMariaDbCacheMetadata = uint64_t{1} << 36;
}  // namespace cap

// Capabilities this codec cannot decode the consequences of. A proxy clears them from the
// greeting it forwards (and from the response it forwards upstream) so they are never negotiated:
// compression changes the framing, optional metadata and cached metadata drop the column
// definitions that binary rows need, zstd and multi-factor auth are MySQL 8 exchanges veil does
// not speak, COM_MULTI and bulk operations are MariaDB batch commands.
inline constexpr uint64_t kUnsupportedCapabilities =
    cap::kCompress | cap::kOptionalResultsetMetadata | cap::kZstdCompression |
    cap::kMultiFactorAuth | cap::kMariaDbComMulti | cap::kMariaDbStmtBulkOperations |
    cap::kMariaDbCacheMetadata;

// --- Server status flags -----------------------------------------------------------------------
namespace status {
inline constexpr uint16_t kInTrans = 0x0001;
inline constexpr uint16_t kAutocommit = 0x0002;
inline constexpr uint16_t kMoreResultsExist = 0x0008;
inline constexpr uint16_t kNoGoodIndexUsed = 0x0010;
inline constexpr uint16_t kNoIndexUsed = 0x0020;
inline constexpr uint16_t kCursorExists = 0x0040;
inline constexpr uint16_t kLastRowSent = 0x0080;
inline constexpr uint16_t kDbDropped = 0x0100;
inline constexpr uint16_t kNoBackslashEscapes = 0x0200;
inline constexpr uint16_t kMetadataChanged = 0x0400;
inline constexpr uint16_t kQueryWasSlow = 0x0800;
inline constexpr uint16_t kPsOutParams = 0x1000;
inline constexpr uint16_t kInTransReadonly = 0x2000;
inline constexpr uint16_t kSessionStateChanged = 0x4000;
}  // namespace status

// --- Commands (the first payload byte of a client packet in the command phase) ----------------
enum class Command : uint8_t {
  kSleep = 0x00,
  kQuit = 0x01,
  kInitDb = 0x02,
  kQuery = 0x03,
  kFieldList = 0x04,
  kStatistics = 0x09,
  kProcessKill = 0x0c,
  kPing = 0x0e,
  kChangeUser = 0x11,
  kStmtPrepare = 0x16,
  kStmtExecute = 0x17,
  kStmtSendLongData = 0x18,
  kStmtClose = 0x19,
  kStmtReset = 0x1a,
  kSetOption = 0x1b,
  kStmtFetch = 0x1c,
  kResetConnection = 0x1f,
};

// --- Column types and flags ------------------------------------------------------------------
// https://dev.mysql.com/doc/dev/mysql-server/latest/field__types_8h.html
enum class ColumnType : uint8_t {
  kDecimal = 0,
  kTiny = 1,
  kShort = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kNull = 6,
  kTimestamp = 7,
  kLongLong = 8,
  kInt24 = 9,
  kDate = 10,
  kTime = 11,
  kDateTime = 12,
  kYear = 13,
  kNewDate = 14,  // internal to the server, never on the wire
  kVarchar = 15,
  kBit = 16,
  kTimestamp2 = 17,  // internal
  kDateTime2 = 18,   // internal
  kTime2 = 19,       // internal
  kTypedArray = 20,  // internal (replication)
  kVector = 242,     // MySQL 9
  kInvalid = 243,
  kBool = 244,  // placeholder
  kJson = 245,
  kNewDecimal = 246,
  kEnum = 247,
  kSet = 248,
  kTinyBlob = 249,
  kMediumBlob = 250,
  kLongBlob = 251,
  kBlob = 252,
  kVarString = 253,
  kString = 254,
  kGeometry = 255,
};

// How a value of this type is laid out in the binary protocol.
enum class BinaryLayout {
  kInvalid,      // not a wire type: a binary row or parameter with it is refused
  kNone,         // MYSQL_TYPE_NULL: no bytes (the null bitmap says NULL)
  kFixed,        // 1, 2, 4 or 8 little-endian bytes (see BinaryFixedSize)
  kTemporal,     // 1 length byte then 0/4/7/11 (date, datetime, timestamp) or 0/8/12 (time)
  kLengthCoded,  // a length-encoded string: decimals, strings, blobs, bit, json, geometry, ...
};
BinaryLayout BinaryLayoutOf(ColumnType type);
size_t BinaryFixedSize(ColumnType type);  // kFixed only; 0 otherwise
// True for types whose values are text the masker may read: char/varchar/text/blob/enum/set/json.
bool IsTextLike(ColumnType type);

namespace column_flag {
inline constexpr uint16_t kNotNull = 1;
inline constexpr uint16_t kPrimaryKey = 2;
inline constexpr uint16_t kUniqueKey = 4;
inline constexpr uint16_t kMultipleKey = 8;
inline constexpr uint16_t kBlob = 16;
inline constexpr uint16_t kUnsigned = 32;
inline constexpr uint16_t kZerofill = 64;
inline constexpr uint16_t kBinary = 128;
inline constexpr uint16_t kEnum = 256;
inline constexpr uint16_t kAutoIncrement = 512;
inline constexpr uint16_t kTimestamp = 1024;
inline constexpr uint16_t kSet = 2048;
}  // namespace column_flag

// A column value in a text row, a binary row or a statement parameter: bytes, or SQL NULL.
// In a binary row `data` is the value's content without its framing: the fixed little-endian
// bytes, the temporal bytes after their length byte, or a length-encoded string's bytes.
struct Value {
  std::string_view data;
  bool is_null = false;

  static Value Null() { return Value{{}, true}; }
  friend bool operator==(const Value&, const Value&) = default;
};

// ---------------------------------------------------------------------------------------------
// Connection phase.

// Protocol::HandshakeV10, the server's greeting.
struct HandshakeV10 {
  std::string_view server_version;
  uint32_t connection_id = 0;
  std::string_view auth_plugin_data_1;  // exactly 8 bytes
  // The low and high capability words; the greeting may end after the low word (`short_form`).
  uint32_t capabilities = 0;
  bool short_form = false;
  uint8_t character_set = 0;
  uint16_t status_flags = 0;
  uint8_t auth_plugin_data_length = 0;  // as sent (0 without CLIENT_PLUGIN_AUTH)
  // The 10 "reserved" bytes. MariaDB puts its extended capabilities in the last 4 when
  // CLIENT_MYSQL is clear.
  std::array<uint8_t, 10> reserved{};
  // With CLIENT_SECURE_CONNECTION: MAX(13, auth_plugin_data_length - 8) bytes, usually 12 bytes of
  // scramble and a NUL.
  std::string_view auth_plugin_data_2;
  std::optional<std::string_view> auth_plugin_name;  // with CLIENT_PLUGIN_AUTH

  // Both capability words plus, for MariaDB, the extended ones shifted to bits 32..63.
  uint64_t full_capabilities() const;
  // Replaces the capability bits (standard and MariaDB extended) as full_capabilities() reads them.
  void set_full_capabilities(uint64_t caps);
  // The scramble the auth plugin salts with: part 1 + part 2 without its trailing NUL (20 bytes
  // for mysql_native_password and caching_sha2_password).
  std::string scramble() const;
  friend bool operator==(const HandshakeV10&, const HandshakeV10&) = default;
};

// Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41, sent before TLS starts.
struct SslRequest {
  uint32_t capabilities = 0;
  uint32_t max_packet_size = 0;
  uint8_t character_set = 0;
  std::array<uint8_t, 23> filler{};  // MariaDB: extended capabilities in the last 4 bytes

  uint64_t full_capabilities() const;
  friend bool operator==(const SslRequest&, const SslRequest&) = default;
};

// Protocol::HandshakeResponse41.
struct HandshakeResponse41 {
  uint32_t capabilities = 0;  // must include CLIENT_PROTOCOL_41
  uint32_t max_packet_size = 0;
  uint8_t character_set = 0;
  std::array<uint8_t, 23> filler{};  // MariaDB: extended capabilities in the last 4 bytes
  std::string_view username;
  // Length-encoded (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA), 1-byte length
  // (CLIENT_SECURE_CONNECTION) or NUL-terminated (neither).
  std::string_view auth_response;
  std::optional<std::string_view> database;  // with CLIENT_CONNECT_WITH_DB
  // With CLIENT_PLUGIN_AUTH. Servers accept a response that ends before it (old clients).
  std::optional<std::string_view> auth_plugin_name;
  // With CLIENT_CONNECT_ATTRS, in wire order; absent when the response ends before them.
  std::optional<std::vector<std::pair<std::string_view, std::string_view>>> connect_attributes;
  std::optional<uint8_t> zstd_compression_level;  // with CLIENT_ZSTD_COMPRESSION_ALGORITHM

  uint64_t full_capabilities() const;
  void set_full_capabilities(uint64_t caps);
  friend bool operator==(const HandshakeResponse41&, const HandshakeResponse41&) = default;
};

// Protocol::AuthSwitchRequest (0xFE): the server asks for another auth method.
struct AuthSwitchRequest {
  std::string_view plugin_name;
  std::string_view plugin_data;  // the new scramble, usually 20 bytes and a NUL
  friend bool operator==(const AuthSwitchRequest&, const AuthSwitchRequest&) = default;
};

// Protocol::AuthMoreData (0x01): plugin-specific data, e.g. caching_sha2_password's 0x03 (fast
// auth succeeded) and 0x04 (full auth needed), or an RSA public key.
struct AuthMoreData {
  std::string_view data;
  friend bool operator==(const AuthMoreData&, const AuthMoreData&) = default;
};

// A client packet during authentication (auth switch response, password, public-key request):
// its meaning belongs to the auth plugin, so the codec keeps it raw. Also any client packet in
// ClientDecoder::Phase::kRaw (LOCAL INFILE contents).
struct AuthData {
  std::string_view data;
  friend bool operator==(const AuthData&, const AuthData&) = default;
};

// ---------------------------------------------------------------------------------------------
// Generic response packets.

struct OkPacket {
  uint8_t header = 0x00;  // 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF
  uint64_t affected_rows = 0;
  uint64_t last_insert_id = 0;
  uint16_t status_flags = 0;
  uint16_t warnings = 0;
  std::string_view info;
  // Under CLIENT_SESSION_TRACK the info is length-encoded and may be left out entirely (the packet
  // ends after the warnings); this records whether it was there.
  bool has_info = false;
  std::string_view session_state_info;  // with SERVER_SESSION_STATE_CHANGED
  friend bool operator==(const OkPacket&, const OkPacket&) = default;
};

// One change in an OK packet's session_state_info (DecodeSessionState, EncodeSessionState).
struct SessionStateChange {
  static constexpr uint8_t kSystemVariable = 0;  // data: a length-encoded name and value
  uint8_t type = 0;
  std::string_view data;
  friend bool operator==(const SessionStateChange&, const SessionStateChange&) = default;
};

// ERR_Packet. Owns its text (see the top of this file).
struct ErrPacket {
  uint16_t error_code = 0;
  std::string sql_state;  // 5 characters after the '#' marker, or empty when there was none
  std::string message;    // for error_code 0xFFFF (MariaDB progress report): the raw report
  friend bool operator==(const ErrPacket&, const ErrPacket&) = default;
};
inline constexpr uint16_t kMariaDbProgressReport = 0xFFFF;

// An ErrPacket as servers send it: e.g. MakeErr(1045, "28000", "veil: no active grant ...") or
// MakeErr(1142, "42000", "veil: ...").
ErrPacket MakeErr(uint16_t error_code, std::string_view sql_state, std::string_view message);

// EOF_Packet (0xFE, payload shorter than 9 bytes).
struct EofPacket {
  uint16_t warnings = 0;
  uint16_t status_flags = 0;
  bool short_form = false;  // pre-4.1: the 0xFE byte alone
  friend bool operator==(const EofPacket&, const EofPacket&) = default;
};

// ---------------------------------------------------------------------------------------------
// Result sets.

struct ColumnCount {
  uint64_t count = 0;
  friend bool operator==(const ColumnCount&, const ColumnCount&) = default;
};

// Protocol::ColumnDefinition41.
struct ColumnDefinition {
  std::string_view catalog = "def";
  std::string_view schema;
  std::string_view table;
  std::string_view org_table;
  std::string_view name;
  std::string_view org_name;
  // MariaDB with MARIADB_CLIENT_EXTENDED_METADATA: the extended type info (e.g. "json", "uuid").
  std::optional<std::string_view> extended_metadata;
  uint16_t character_set = 0;
  uint32_t column_length = 0;
  ColumnType type = ColumnType::kVarString;
  uint16_t flags = 0;
  uint8_t decimals = 0;
  friend bool operator==(const ColumnDefinition&, const ColumnDefinition&) = default;
};

// The type and signedness of one column, as binary rows and parameters need it.
struct ColumnTypeInfo {
  ColumnType type = ColumnType::kVarString;
  bool is_unsigned = false;
  friend bool operator==(const ColumnTypeInfo&, const ColumnTypeInfo&) = default;
};

// ProtocolText::ResultsetRow. Decoding into a ServerMessage that already holds a TextRow reuses
// `values`' capacity: no allocation per row once warmed.
struct TextRow {
  std::vector<Value> values;
  friend bool operator==(const TextRow&, const TextRow&) = default;
};

// ProtocolBinary::ResultsetRow. `columns` views the decoder's column types for the current
// result set (valid until the result set ends); the encoder frames each value by it.
struct BinaryRow {
  std::span<const ColumnTypeInfo> columns;
  std::vector<Value> values;
  friend bool operator==(const BinaryRow& a, const BinaryRow& b) {
    return std::equal(a.columns.begin(), a.columns.end(), b.columns.begin(), b.columns.end()) &&
           a.values == b.values;
  }
};

// COM_STMT_PREPARE_OK.
struct StmtPrepareOk {
  uint32_t statement_id = 0;
  uint16_t num_columns = 0;
  uint16_t num_params = 0;
  uint16_t warning_count = 0;
  bool has_warning_count = true;  // very old servers send only 9 bytes
  friend bool operator==(const StmtPrepareOk&, const StmtPrepareOk&) = default;
};

// LOCAL INFILE request (0xFB + file name): the server asks the client to send a local file.
// veil refuses it; it is its own message so the session cannot mistake it.
struct LocalInfileRequest {
  std::string_view filename;
  friend bool operator==(const LocalInfileRequest&, const LocalInfileRequest&) = default;
};

// A server packet whose shape the codec does not know: the response to an unknown command.
struct RawPacket {
  std::string_view payload;
  friend bool operator==(const RawPacket&, const RawPacket&) = default;
};

// ---------------------------------------------------------------------------------------------
// Commands.

struct ComQuit {
  friend bool operator==(const ComQuit&, const ComQuit&) = default;
};
struct ComInitDb {
  std::string_view schema;
  friend bool operator==(const ComInitDb&, const ComInitDb&) = default;
};

// A typed parameter: of COM_STMT_EXECUTE, or a query attribute of COM_QUERY.
struct Parameter {
  ColumnTypeInfo type;
  std::string_view name;  // query attributes only (CLIENT_QUERY_ATTRIBUTES)
  Value value;
  // COM_STMT_EXECUTE only: the value was sent earlier by COM_STMT_SEND_LONG_DATA, so none is in
  // this packet.
  bool long_data = false;
  friend bool operator==(const Parameter&, const Parameter&) = default;
};

struct ComQuery {
  std::string_view query;
  // With CLIENT_QUERY_ATTRIBUTES: the attributes (parameter_set_count is always 1).
  std::vector<Parameter> attributes;
  friend bool operator==(const ComQuery&, const ComQuery&) = default;
};
struct ComPing {
  friend bool operator==(const ComPing&, const ComPing&) = default;
};
struct ComChangeUser {
  std::string_view username;
  std::string_view auth_response;
  std::string_view database;
  std::optional<uint16_t> character_set;  // "if more data"
  std::optional<std::string_view> auth_plugin_name;
  std::optional<std::vector<std::pair<std::string_view, std::string_view>>> connect_attributes;
  friend bool operator==(const ComChangeUser&, const ComChangeUser&) = default;
};
struct ComResetConnection {
  friend bool operator==(const ComResetConnection&, const ComResetConnection&) = default;
};
struct ComStmtPrepare {
  std::string_view query;
  friend bool operator==(const ComStmtPrepare&, const ComStmtPrepare&) = default;
};

inline constexpr uint32_t kLastPreparedStatement = 0xFFFFFFFF;  // MariaDB's "the last prepared"
namespace cursor {
inline constexpr uint8_t kNoCursor = 0x00;
inline constexpr uint8_t kReadOnly = 0x01;
inline constexpr uint8_t kForUpdate = 0x02;
inline constexpr uint8_t kScrollable = 0x04;
inline constexpr uint8_t kParameterCountAvailable = 0x08;  // MySQL query attributes
}  // namespace cursor

struct ComStmtExecute {
  uint32_t statement_id = 0;
  uint8_t flags = 0;  // cursor::*
  uint32_t iteration_count = 1;
  // Whether the packet carries the parameters' types (new_params_bound_flag). When it does not,
  // the types are those of the statement's previous execution, filled in by the decoder.
  bool new_params_bound = true;
  // With CLIENT_QUERY_ATTRIBUTES: the parameter count is sent (length-encoded).
  bool parameter_count_sent = false;
  std::vector<Parameter> parameters;
  // The parameter block, undecoded, when the decoder did not know the statement (never prepared
  // on this connection as far as it saw). `parameters` is then empty.
  std::optional<std::string_view> raw_parameters;
  friend bool operator==(const ComStmtExecute&, const ComStmtExecute&) = default;
};
struct ComStmtFetch {
  uint32_t statement_id = 0;
  uint32_t num_rows = 0;
  friend bool operator==(const ComStmtFetch&, const ComStmtFetch&) = default;
};
struct ComStmtClose {
  uint32_t statement_id = 0;
  friend bool operator==(const ComStmtClose&, const ComStmtClose&) = default;
};
struct ComStmtReset {
  uint32_t statement_id = 0;
  friend bool operator==(const ComStmtReset&, const ComStmtReset&) = default;
};
struct ComStmtSendLongData {
  uint32_t statement_id = 0;
  uint16_t param_id = 0;
  std::string_view data;
  friend bool operator==(const ComStmtSendLongData&, const ComStmtSendLongData&) = default;
};
struct ComProcessKill {
  uint32_t connection_id = 0;
  friend bool operator==(const ComProcessKill&, const ComProcessKill&) = default;
};
// Any other command byte: the session decides (veil refuses what it does not know).
struct UnknownCommand {
  uint8_t command = 0;
  std::string_view body;  // the payload after the command byte
  friend bool operator==(const UnknownCommand&, const UnknownCommand&) = default;
};

// ---------------------------------------------------------------------------------------------

using ClientMessage =
    std::variant<SslRequest, HandshakeResponse41, AuthData, ComQuit, ComInitDb, ComQuery, ComPing,
                 ComChangeUser, ComResetConnection, ComStmtPrepare, ComStmtExecute, ComStmtFetch,
                 ComStmtClose, ComStmtReset, ComStmtSendLongData, ComProcessKill, UnknownCommand>;

using ServerMessage = std::variant<HandshakeV10, OkPacket, ErrPacket, EofPacket, AuthSwitchRequest,
                                   AuthMoreData, ColumnCount, ColumnDefinition, TextRow, BinaryRow,
                                   StmtPrepareOk, LocalInfileRequest, RawPacket>;

// The protocol's name for a message ("COM_QUERY", "ColumnDefinition41"), for logs and errors.
std::string_view MessageName(const ClientMessage& message);
std::string_view MessageName(const ServerMessage& message);

// --- Binary protocol values ------------------------------------------------------------------

// MYSQL_TYPE_DATE / DATETIME / TIMESTAMP in the binary protocol.
struct BinaryDateTime {
  uint16_t year = 0;
  uint8_t month = 0, day = 0, hour = 0, minute = 0, second = 0;
  uint32_t microsecond = 0;
  friend bool operator==(const BinaryDateTime&, const BinaryDateTime&) = default;
};
// MYSQL_TYPE_TIME in the binary protocol.
struct BinaryTime {
  bool negative = false;
  uint32_t days = 0;
  uint8_t hour = 0, minute = 0, second = 0;
  uint32_t microsecond = 0;
  friend bool operator==(const BinaryTime&, const BinaryTime&) = default;
};

// Readers for a binary value's `data` (as a BinaryRow holds it). nullopt when the size does not
// fit the type. Integers are sign-extended unless `is_unsigned`; the 8-byte unsigned case is
// returned as its bit pattern.
std::optional<int64_t> ReadBinaryInteger(std::string_view data, bool is_unsigned);
std::optional<double> ReadBinaryDouble(std::string_view data);  // 8 bytes
std::optional<float> ReadBinaryFloat(std::string_view data);    // 4 bytes
std::optional<BinaryDateTime> ReadBinaryDateTime(std::string_view data);
std::optional<BinaryTime> ReadBinaryTime(std::string_view data);

// Writers producing `data` for a binary value, shortest form (the server's own choice).
std::string BinaryInteger(int64_t v, size_t size);
std::string BinaryDouble(double v);
std::string BinaryDateTimeBytes(const BinaryDateTime& v);
std::string BinaryTimeBytes(const BinaryTime& v);

}  // namespace veil::mysql
