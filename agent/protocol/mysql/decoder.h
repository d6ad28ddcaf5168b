// Decoders for the MySQL / MariaDB client/server protocol: bytes in, one validated message out.
//
// One decoder per direction and per connection: ClientDecoder for client -> server bytes,
// ServerDecoder for server -> client bytes. Neither does I/O. The session reads into its own
// buffer and calls Decode() until it stops saying kReady:
//
//   ClientMessage message;
//   size_t consumed = 0;
//   for (;;) {
//     DecodeResult r = client.Decode(buffer, &consumed, &message);
//     if (r.status == DecodeStatus::kNeedMoreData) break;              // read more, call again
//     if (r.status == DecodeStatus::kError) return Refuse(r.error);   // ERR 1835/08S01, close
//     server.ExpectResponseTo(message, r.last_sequence_id);           // when forwarded upstream
//     Handle(message, buffer.first(consumed));                        // the raw packets
//     buffer = buffer.subspan(consumed);
//   }
//
// Framing: a packet is a 3-byte little-endian payload length, a sequence id and the payload. A
// payload of 0xFFFFFF bytes means the message continues in the next packet (a message of an exact
// multiple of 0xFFFFFF bytes ends with an empty packet); the decoders reassemble such messages
// and hand out one payload. Sequence ids must count up by one (mod 256) within an exchange: a
// command starts at 0 and the server answers from 1. A message is consumed only once all its
// packets have arrived and every field has been checked against the negotiated capabilities and
// the packet's length; nothing may be left over. Impossible lengths are refused as soon as a
// header shows them, so a peer cannot make veil buffer a gigabyte first. After an error the
// decoder stays failed.
//
// Result rows cannot be decoded without their column types, so ServerDecoder is a state machine
// over the response to the command in flight: column count, column definitions, EOF (or none
// under CLIENT_DEPRECATE_EOF), text or binary rows, the closing EOF/OK, and further result sets
// while SERVER_MORE_RESULTS_EXISTS is set. The session tells it which command it forwarded.
//
// Protocol reference: https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html
// (packets: page_protocol_basic_packets.html; responses: page_protocol_com_query_response.html,
// page_protocol_com_stmt_execute.html) and https://mariadb.com/kb/en/clientserver-protocol/
//
// Thread-safety: none; one decoder belongs to one session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/protocol/mysql/message.h"

namespace veil::mysql {

// The error to send a client when decoding its bytes fails: ER_MALFORMED_PACKET (1835, in MySQL
// and MariaDB) with SQLSTATE 08S01 (communication link failure); then close the connection.
inline constexpr uint16_t kMalformedPacketError = 1835;
inline constexpr std::string_view kProtocolViolationState = "08S01";

enum class DecodeStatus { kNeedMoreData, kReady, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMoreData;
  // kError only: what was wrong. Never contains message contents (which may be sensitive), only
  // message names, sizes and positions.
  std::string error;
  // kReady only: the sequence ids of the message's first and last physical packet.
  uint8_t first_sequence_id = 0;
  uint8_t last_sequence_id = 0;

  bool ready() const { return status == DecodeStatus::kReady; }
};

struct DecoderLimits {
  // A command or result message, reassembled. 1 GiB is the largest max_allowed_packet.
  size_t max_payload = size_t{1} << 30;
  // Greeting, handshake response and authentication packets (an RSA key fits easily).
  size_t max_connection_phase_payload = 64 * 1024;
  // Columns of one result set and parameters of one statement.
  size_t max_columns = 65535;
  // Commands forwarded whose responses have not started (clients may pipeline).
  size_t max_pipelined = 4096;
  // Prepared statements tracked per connection (servers cap this per session too).
  size_t max_statements = 65536;
};

// Finds whole messages in a byte stream: reassembles continued packets and checks sequence ids.
// Both decoders use one; a session can use one alone to relay bytes it does not decode.
class PacketFramer {
 public:
  // The first message in `buffer`. kReady: `*payload` is the reassembled payload (a view into
  // `buffer`, or into this framer when the message spans packets; valid until the next call) and
  // `*consumed` the bytes of all its packets. `expected_sequence`: what the first packet's
  // sequence id must be, or nullopt to accept any.
  DecodeResult Next(std::span<const uint8_t> buffer, size_t max_payload,
                    std::optional<uint8_t> expected_sequence, size_t* consumed,
                    std::string_view* payload);

 private:
  std::string assembled_;
};

// Client -> server.
class ClientDecoder {
 public:
  enum class Phase {
    kHandshake,  // SSLRequest or HandshakeResponse41
    kAuth,       // auth plugin exchange: AuthData
    kCommand,    // commands, each starting at sequence id 0
    kRaw,        // LOCAL INFILE contents and the like: AuthData (raw payloads)
  };

  explicit ClientDecoder(DecoderLimits limits = {}, Phase phase = Phase::kHandshake)
      : limits_(limits), phase_(phase) {}

  // Decodes the first message of `buffer`. kReady: `*out` holds it (views, see message.h) and
  // `*consumed` its size in bytes; the raw packets are buffer.first(*consumed).
  // kNeedMoreData/kError: *consumed is 0 and `*out` is unspecified.
  //
  // Phase changes it makes itself: HandshakeResponse41 and COM_CHANGE_USER -> kAuth. The session
  // moves it to kCommand when the server's OK ends authentication, and to kRaw/kCommand around a
  // LOCAL INFILE exchange. A COM_STMT_EXECUTE with an unknown statement id keeps its parameters
  // raw (ComStmtExecute::raw_parameters). When `*out` already holds a ComStmtExecute, its
  // parameters vector is reused.
  DecodeResult Decode(std::span<const uint8_t> buffer, size_t* consumed, ClientMessage* out);

  Phase phase() const { return phase_; }
  void set_phase(Phase phase) { phase_ = phase; }
  // The negotiated capabilities. HandshakeResponse41 sets them to the client's own (a client
  // only claims what the server offered); a session that strips flags sets the result here.
  void set_capabilities(uint64_t capabilities) { capabilities_ = capabilities; }
  uint64_t capabilities() const { return capabilities_; }
  // The sequence id the next message must start with in kHandshake, kAuth and kRaw. In kAuth it
  // defaults to the last one + 2 (the server answers each client packet with one packet).
  void set_next_sequence(uint8_t sequence_id) { next_sequence_ = sequence_id; }

  // From the server's COM_STMT_PREPARE_OK: lets COM_STMT_EXECUTE's parameters be decoded.
  void OnStatementPrepared(uint32_t statement_id, uint16_t num_params);

 private:
  struct Statement {
    uint16_t num_params = 0;
    std::vector<ColumnTypeInfo> bound_types;  // from the last execute that sent types
    std::vector<bool> long_data;              // params sent by COM_STMT_SEND_LONG_DATA
  };

  DecodeResult Fail(std::string error);
  const char* ParseCommand(std::string_view payload, ClientMessage* out);
  const char* ParseExecute(std::string_view body, ClientMessage* out);

  DecoderLimits limits_;
  Phase phase_;
  uint64_t capabilities_ = 0;
  uint8_t next_sequence_ = 1;
  PacketFramer framer_;
  std::unordered_map<uint32_t, Statement> statements_;
  std::optional<uint32_t> last_prepared_;
  bool failed_ = false;
  std::string error_;
};

// Server -> client.
class ServerDecoder {
 public:
  enum class State {
    kGreeting,       // HandshakeV10 (or an ERR refusing the connection)
    kAuth,           // OK, ERR, AuthSwitchRequest, AuthMoreData
    kIdle,           // no command in flight: only an unsolicited ERR (e.g. connection killed)
    kOkOrErr,        // COM_PING, COM_INIT_DB, COM_STMT_RESET, ...
    kPrepareOk,      // COM_STMT_PREPARE_OK or ERR
    kResult,         // a result set's first packet: OK, ERR, LOCAL INFILE request or column count
    kColumns,        // column definitions
    kColumnsEof,     // the EOF after column definitions (without CLIENT_DEPRECATE_EOF)
    kRows,           // rows until EOF/OK or ERR
    kPrepareParams,  // COM_STMT_PREPARE_OK's parameter definitions
    kPrepareParamsEof,   // ... their EOF (without CLIENT_DEPRECATE_EOF)
    kPrepareColumns,     // ... its column definitions
    kPrepareColumnsEof,  // ... their EOF
    kInfileResult,       // OK/ERR after the client's LOCAL INFILE contents
    kOpaque,             // response to an unknown command: RawPacket until the next command
  };

  // `state`: kGreeting for a new connection; kIdle (with set_capabilities) to start in the
  // command phase, as tests and the fuzzer do.
  explicit ServerDecoder(DecoderLimits limits = {}, State state = State::kGreeting)
      : limits_(limits), state_(state) {}

  // Same contract as ClientDecoder::Decode. When `*out` already holds a TextRow or BinaryRow, a
  // row of that kind is decoded into it in place, reusing its capacity.
  DecodeResult Decode(std::span<const uint8_t> buffer, size_t* consumed, ServerMessage* out);

  // Call for every client message forwarded to the server, with the sequence id of its last
  // packet: sets up the state for the response (none for COM_QUIT, COM_STMT_CLOSE,
  // COM_STMT_SEND_LONG_DATA and SSLRequest). HandshakeResponse41 also fixes the negotiated
  // capabilities (the client's & the greeting's). Commands sent before the previous response
  // ended are queued; more than DecoderLimits::max_pipelined fails the decoder.
  void ExpectResponseTo(const ClientMessage& message, uint8_t last_sequence_id);

  State state() const { return state_; }
  // After the LOCAL INFILE request the client sends packets the decoder does not see; the
  // session says where the server's sequence continues (e.g. request's id + 2 after one empty
  // packet).
  void set_next_sequence(uint8_t sequence_id) { next_sequence_ = sequence_id; }
  void set_capabilities(uint64_t capabilities) { capabilities_ = capabilities; }
  uint64_t capabilities() const { return capabilities_; }
  // The current result set's column types (what BinaryRow::columns views).
  std::span<const ColumnTypeInfo> columns() const { return columns_; }

 private:
  enum class RowFormat { kText, kBinary };
  // A forwarded command whose response has not started yet (clients may pipeline).
  struct Pending {
    State state = State::kIdle;
    RowFormat rows = RowFormat::kText;
    std::optional<uint32_t> statement;
    bool forget_statements = false;  // COM_CHANGE_USER, COM_RESET_CONNECTION
    uint8_t sequence_id = 1;
  };

  DecodeResult Fail(std::string error);
  const char* Parse(std::string_view payload, ServerMessage* out);
  const char* ParseColumnDefinition(std::string_view payload, ServerMessage* out);
  void Start(const Pending& pending);
  void EndOfColumns();
  void AfterTerminator(uint16_t status_flags);
  std::optional<uint32_t> Resolve(uint32_t statement_id) const;

  DecoderLimits limits_;
  State state_;
  uint64_t capabilities_ = 0;
  uint64_t server_capabilities_ = 0;
  uint8_t next_sequence_ = 0;
  PacketFramer framer_;
  RowFormat row_format_ = RowFormat::kText;
  std::optional<uint32_t> statement_;  // the statement whose response this is
  uint64_t columns_left_ = 0;
  uint16_t params_left_ = 0;
  std::vector<ColumnTypeInfo> columns_;
  // Column types per prepared statement: COM_STMT_FETCH rows have no metadata of their own.
  std::unordered_map<uint32_t, std::vector<ColumnTypeInfo>> statement_columns_;
  std::optional<uint32_t> last_prepared_;
  std::deque<Pending> pending_;
  bool failed_ = false;
  std::string error_;
};

// Parses an ERR payload (for code that meets one outside a decoder).
std::optional<ErrPacket> ParseErrPacket(std::string_view payload);

// The changes of an OK packet's session_state_info, in order (views into `state`); false when
// it is malformed.
bool DecodeSessionState(std::string_view state, std::vector<SessionStateChange>* out);

}  // namespace veil::mysql
