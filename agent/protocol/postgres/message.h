// PostgreSQL frontend/backend protocol v3 messages, as veil decodes and encodes them.
//
// These are plain value types shared by the decoder (decoder.h) and the encoder (encoder.h).
// Protocol reference: https://www.postgresql.org/docs/current/protocol-message-formats.html
// and the flow they follow: https://www.postgresql.org/docs/current/protocol-flow.html
//
// Lifetime: a decoded message is a *view*. Its std::string_view members point into the buffer
// that was passed to Decode() and stay valid only as long as those bytes do. Copy what must
// outlive the buffer. The one exception is ErrorResponse/NoticeResponse, whose fields own their
// text: veil builds them (MakeError) and rewrites them (masking of error texts), and they are rare.
//
// Byte payloads (CopyData, DataRow values, SASL data, ...) are std::string_view too: they can
// hold any byte including NUL, compare with ==, and feed Hyperscan without a cast.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace veil::pg {

// The 32-bit codes that identify untyped startup-phase packets.
inline constexpr int32_t kProtocolVersion30 = 196608;  // 3.0: (3 << 16) | 0
inline constexpr int32_t kProtocolVersion32 = 196610;  // 3.2 (PostgreSQL 18): long cancel keys
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;

// Cancel keys are 4 bytes under protocol 3.0 and 4..256 bytes under 3.2.
inline constexpr size_t kMinCancelKeyLength = 4;
inline constexpr size_t kMaxCancelKeyLength = 256;

// Format codes used by Bind, RowDescription and the Copy*Response messages.
inline constexpr int16_t kFormatText = 0;
inline constexpr int16_t kFormatBinary = 1;

// A DataRow column, Bind parameter or function argument: bytes, or SQL NULL (length -1).
struct ColumnValue {
  std::string_view data;
  bool is_null = false;

  static ColumnValue Null() { return ColumnValue{{}, true}; }
  friend bool operator==(const ColumnValue&, const ColumnValue&) = default;
};

// ---------------------------------------------------------------------------------------------
// Frontend (client -> server) messages.

// Untyped startup-phase packets.
struct SslRequest {
  friend bool operator==(const SslRequest&, const SslRequest&) = default;
};
struct GssEncRequest {
  friend bool operator==(const GssEncRequest&, const GssEncRequest&) = default;
};
struct CancelRequest {
  int32_t process_id = 0;
  std::string_view secret_key;  // 4..256 bytes
  friend bool operator==(const CancelRequest&, const CancelRequest&) = default;
};
struct StartupMessage {
  int32_t protocol_version = kProtocolVersion30;  // major 3, any minor
  // In wire order. Names starting with "_pq_." are protocol extensions.
  std::vector<std::pair<std::string_view, std::string_view>> parameters;

  // The value of parameter `name`, or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  // "user" (required by the server) and "database" (defaults to the user on the server).
  std::string_view user() const { return Get("user").value_or(std::string_view()); }
  std::string_view database() const { return Get("database").value_or(user()); }
  friend bool operator==(const StartupMessage&, const StartupMessage&) = default;
};

// Typed messages.
struct Query {  // 'Q'
  std::string_view sql;
  friend bool operator==(const Query&, const Query&) = default;
};
struct Parse {                 // 'P'
  std::string_view statement;  // "" = the unnamed statement
  std::string_view query;
  std::vector<uint32_t> parameter_types;  // 0 = unspecified
  friend bool operator==(const Parse&, const Parse&) = default;
};
struct Bind {  // 'B'
  std::string_view portal;
  std::string_view statement;
  std::vector<int16_t> parameter_formats;  // 0 entries: all text; 1: applies to all; else per param
  std::vector<ColumnValue> parameters;
  std::vector<int16_t> result_formats;  // same convention as parameter_formats
  friend bool operator==(const Bind&, const Bind&) = default;
};
struct Describe {     // 'D'
  char target = 'S';  // 'S' prepared statement, 'P' portal
  std::string_view name;
  friend bool operator==(const Describe&, const Describe&) = default;
};
struct Execute {  // 'E'
  std::string_view portal;
  int32_t max_rows = 0;  // 0 = no limit
  friend bool operator==(const Execute&, const Execute&) = default;
};
struct Close {        // 'C'
  char target = 'S';  // 'S' prepared statement, 'P' portal
  std::string_view name;
  friend bool operator==(const Close&, const Close&) = default;
};
struct Sync {  // 'S'
  friend bool operator==(const Sync&, const Sync&) = default;
};
struct Flush {  // 'H'
  friend bool operator==(const Flush&, const Flush&) = default;
};
struct Terminate {  // 'X'
  friend bool operator==(const Terminate&, const Terminate&) = default;
};
struct CopyFail {  // 'f'
  std::string_view message;
  friend bool operator==(const CopyFail&, const CopyFail&) = default;
};
// 'p' is PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse; which one depends on
// the authentication request the server sent last, so the codec keeps it raw. Use
// ParseSaslInitialResponse() once the session knows.
struct AuthenticationResponse {  // 'p'
  std::string_view data;
  friend bool operator==(const AuthenticationResponse&, const AuthenticationResponse&) = default;
};
struct SaslInitialResponse {
  std::string_view mechanism;                        // e.g. "SCRAM-SHA-256"
  std::optional<std::string_view> initial_response;  // nullopt when the length is -1
  friend bool operator==(const SaslInitialResponse&, const SaslInitialResponse&) = default;
};
// Decoded fully (so it is validated) but veil refuses it: the fast-path function call bypasses
// SQL-level inspection.
struct FunctionCall {  // 'F'
  uint32_t function_oid = 0;
  std::vector<int16_t> argument_formats;
  std::vector<ColumnValue> arguments;
  int16_t result_format = kFormatText;
  friend bool operator==(const FunctionCall&, const FunctionCall&) = default;
};

// ---------------------------------------------------------------------------------------------
// Messages sent in both directions.

struct CopyData {  // 'd'
  std::string_view data;
  friend bool operator==(const CopyData&, const CopyData&) = default;
};
struct CopyDone {  // 'c'
  friend bool operator==(const CopyDone&, const CopyDone&) = default;
};

// ---------------------------------------------------------------------------------------------
// Backend (server -> client) messages.

// The single byte a server answers SSLRequest ('S' or 'N') or GSSENCRequest ('G' or 'N') with.
struct EncryptionResponse {
  char answer = 'N';
  friend bool operator==(const EncryptionResponse&, const EncryptionResponse&) = default;
};

enum class AuthenticationType : int32_t {
  kOk = 0,
  kKerberosV5 = 2,
  kCleartextPassword = 3,
  kMd5Password = 5,
  kGss = 7,
  kGssContinue = 8,
  kSspi = 9,
  kSasl = 10,
  kSaslContinue = 11,
  kSaslFinal = 12,
};

struct Authentication {  // 'R'
  AuthenticationType type = AuthenticationType::kOk;
  // kMd5Password: the 4-byte salt. kSaslContinue/kSaslFinal/kGssContinue: the mechanism data.
  // Empty otherwise.
  std::string_view data;
  // kSasl: the offered mechanisms in server order (veil strips "SCRAM-SHA-256-PLUS").
  std::vector<std::string_view> sasl_mechanisms;
  friend bool operator==(const Authentication&, const Authentication&) = default;
};
struct BackendKeyData {  // 'K'
  int32_t process_id = 0;
  std::string_view secret_key;  // 4 bytes (protocol 3.0) .. 256 bytes (3.2)
  friend bool operator==(const BackendKeyData&, const BackendKeyData&) = default;
};
struct ParameterStatus {  // 'S'
  std::string_view name;
  std::string_view value;
  friend bool operator==(const ParameterStatus&, const ParameterStatus&) = default;
};
struct ReadyForQuery {            // 'Z'
  char transaction_status = 'I';  // 'I' idle, 'T' in a transaction, 'E' in a failed transaction
  friend bool operator==(const ReadyForQuery&, const ReadyForQuery&) = default;
};
struct FieldDescription {
  std::string_view name;
  uint32_t table_oid = 0;     // 0 if the column is not a table column
  int16_t column_number = 0;  // attribute number in that table, or 0
  uint32_t type_oid = 0;
  int16_t type_size = 0;         // pg_type.typlen; negative = variable width
  int32_t type_modifier = -1;    // pg_attribute.atttypmod
  int16_t format = kFormatText;  // 0 text, 1 binary (0 in a Describe answer: not yet known)
  friend bool operator==(const FieldDescription&, const FieldDescription&) = default;
};
struct RowDescription {  // 'T'
  std::vector<FieldDescription> fields;
  friend bool operator==(const RowDescription&, const RowDescription&) = default;
};
// A DataRow as views into the decoded buffer. Decoding into a BackendMessage that already holds a
// DataRowView reuses `columns`' capacity: no allocation per row once warmed.
struct DataRowView {  // 'D'
  std::vector<ColumnValue> columns;
  friend bool operator==(const DataRowView&, const DataRowView&) = default;
};
struct CommandComplete {  // 'C'
  std::string_view tag;   // e.g. "SELECT 5", "INSERT 0 1"
  friend bool operator==(const CommandComplete&, const CommandComplete&) = default;
};
struct EmptyQueryResponse {  // 'I'
  friend bool operator==(const EmptyQueryResponse&, const EmptyQueryResponse&) = default;
};

// ErrorResponse and NoticeResponse field codes.
// https://www.postgresql.org/docs/current/protocol-error-fields.html
namespace field {
inline constexpr char kSeverity = 'S';  // localized
inline constexpr char kSeverityNonLocalized = 'V';
inline constexpr char kSqlState = 'C';
inline constexpr char kMessage = 'M';
inline constexpr char kDetail = 'D';
inline constexpr char kHint = 'H';
inline constexpr char kPosition = 'P';
inline constexpr char kInternalPosition = 'p';
inline constexpr char kInternalQuery = 'q';
inline constexpr char kWhere = 'W';
inline constexpr char kSchemaName = 's';
inline constexpr char kTableName = 't';
inline constexpr char kColumnName = 'c';
inline constexpr char kDataTypeName = 'd';
inline constexpr char kConstraintName = 'n';
inline constexpr char kFile = 'F';
inline constexpr char kLine = 'L';
inline constexpr char kRoutine = 'R';
}  // namespace field

struct ResponseField {
  char code = 0;
  std::string value;
  friend bool operator==(const ResponseField&, const ResponseField&) = default;
};

// The field list shared by ErrorResponse and NoticeResponse. Owns its text (see top of file).
// Unknown codes are kept: the protocol says clients must ignore them, and a proxy forwards them.
struct ResponseFields {
  std::vector<ResponseField> fields;  // wire order

  // The first value for `code`, or "" when absent.
  std::string_view Get(char code) const;
  // Replaces the first value for `code`, or appends the field.
  void Set(char code, std::string value);
  std::string_view severity() const { return Get(field::kSeverity); }
  std::string_view sqlstate() const { return Get(field::kSqlState); }
  std::string_view message() const { return Get(field::kMessage); }
  friend bool operator==(const ResponseFields&, const ResponseFields&) = default;
};
struct ErrorResponse : ResponseFields {};   // 'E'
struct NoticeResponse : ResponseFields {};  // 'N'

enum class Severity { kError, kFatal, kPanic, kWarning, kNotice, kDebug, kInfo, kLog };
// "ERROR", "FATAL", ... as sent in the S and V fields.
std::string_view SeverityName(Severity severity);

// An ErrorResponse with S, V, C, M and (if not empty) H, in that order, as PostgreSQL sends them.
// Example: MakeError(Severity::kFatal, "28000", "veil: no active grant ...", "veilctl grants ...").
ErrorResponse MakeError(Severity severity, std::string_view sqlstate, std::string_view message,
                        std::string_view hint = {});

struct NotificationResponse {  // 'A'
  int32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
  friend bool operator==(const NotificationResponse&, const NotificationResponse&) = default;
};
struct ParseComplete {  // '1'
  friend bool operator==(const ParseComplete&, const ParseComplete&) = default;
};
struct BindComplete {  // '2'
  friend bool operator==(const BindComplete&, const BindComplete&) = default;
};
struct CloseComplete {  // '3'
  friend bool operator==(const CloseComplete&, const CloseComplete&) = default;
};
struct NoData {  // 'n'
  friend bool operator==(const NoData&, const NoData&) = default;
};
struct PortalSuspended {  // 's'
  friend bool operator==(const PortalSuspended&, const PortalSuspended&) = default;
};
struct ParameterDescription {  // 't'
  std::vector<uint32_t> type_oids;
  friend bool operator==(const ParameterDescription&, const ParameterDescription&) = default;
};
struct CopyResponse {
  int8_t format = kFormatText;          // overall: 0 text, 1 binary
  std::vector<int16_t> column_formats;  // all 0 when format is 0
  friend bool operator==(const CopyResponse&, const CopyResponse&) = default;
};
struct CopyInResponse : CopyResponse {};    // 'G'
struct CopyOutResponse : CopyResponse {};   // 'H'
struct CopyBothResponse : CopyResponse {};  // 'W'
struct FunctionCallResponse {               // 'V'
  ColumnValue result;
  friend bool operator==(const FunctionCallResponse&, const FunctionCallResponse&) = default;
};
struct NegotiateProtocolVersion {  // 'v'
  int32_t newest_minor_version = 0;
  std::vector<std::string_view> unrecognized_options;
  friend bool operator==(const NegotiateProtocolVersion&,
                         const NegotiateProtocolVersion&) = default;
};

// ---------------------------------------------------------------------------------------------

using FrontendMessage =
    std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest, Query, Parse, Bind,
                 Describe, Execute, Close, Sync, Flush, Terminate, CopyData, CopyDone, CopyFail,
                 AuthenticationResponse, FunctionCall>;

using BackendMessage =
    std::variant<EncryptionResponse, Authentication, BackendKeyData, ParameterStatus, ReadyForQuery,
                 RowDescription, DataRowView, CommandComplete, EmptyQueryResponse, ErrorResponse,
                 NoticeResponse, NotificationResponse, ParseComplete, BindComplete, CloseComplete,
                 NoData, PortalSuspended, ParameterDescription, CopyInResponse, CopyOutResponse,
                 CopyBothResponse, CopyData, CopyDone, FunctionCallResponse,
                 NegotiateProtocolVersion>;

// The protocol's name for a message ("DataRow", "SSLRequest"), for logs and errors.
std::string_view MessageName(const FrontendMessage& message);
std::string_view MessageName(const BackendMessage& message);

}  // namespace veil::pg
