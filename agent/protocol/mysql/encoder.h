// Encoders for the MySQL / MariaDB client/server protocol: messages in, packets with correct
// length prefixes and sequence ids out.
//
// veil uses these to emit its own packets (ERR refusals such as 1045/28000 and 1142/42000, OK
// packets, a greeting with its own connection id and with CLIENT_COMPRESS / CLIENT_LOCAL_FILES
// cleared, a handshake response to the upstream) and to rebuild what it rewrites (a row with
// masked values, an error with its text masked). A rewritten message is always new packets,
// never bytes patched in place; a payload of 16 MiB or more is split into 0xFFFFFF-byte packets
// (plus an empty one when it is an exact multiple), as the protocol requires.
//
//   std::vector<uint8_t> out;  // reused across calls: no allocation once warmed
//   uint8_t seq = r.first_sequence_id;  // the decoded row's own sequence id
//   if (Status s = EncodeTextRow(masked_values, &seq, &out); !s.ok()) return EndSession(s);
//
//   uint8_t seq = 1;  // the answer to a command (sequence 0)
//   Encode(MakeErr(1142, "42000", "veil: ..."), caps, &seq, &out);
//
// Every function appends to `out` and never clears it, so several messages can be batched into
// one write, and advances `*sequence_id` by the number of packets written. On error nothing is
// appended and `*sequence_id` is unchanged. Errors are only for what the wire format cannot
// carry: a NUL inside a NUL-terminated string, a field present without the capability that
// carries it (or required by one and missing), a value whose size does not fit its column type,
// an SQLSTATE that is not 5 bytes.
//
// Protocol reference: https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "agent/protocol/mysql/message.h"
#include "common/result.h"

namespace veil::mysql {

// Appends `payload` as one message: one packet, or several of 0xFFFFFF bytes and a shorter last
// one (empty when the payload is an exact multiple).
void AppendPacket(std::string_view payload, uint8_t* sequence_id, std::vector<uint8_t>* out);

// Any message type of ClientMessage or ServerMessage, or either variant itself.
template <typename M, typename Variant>
struct IsAlternativeOf;
template <typename M, typename... Ts>
struct IsAlternativeOf<M, std::variant<Ts...>> : std::disjunction<std::is_same<M, Ts>...> {};
template <typename M>
concept EncodableMessage =
    IsAlternativeOf<M, ClientMessage>::value || IsAlternativeOf<M, ServerMessage>::value ||
    std::is_same_v<M, ClientMessage> || std::is_same_v<M, ServerMessage>;

// Appends the packets for `message`. `capabilities` are the negotiated ones (message.h): they
// decide the layout of OK, ColumnDefinition41 (MariaDB extended metadata), COM_QUERY and
// COM_STMT_EXECUTE (query attributes) and COM_CHANGE_USER. The handshake packets carry their
// own capability flags and ignore the argument.
template <EncodableMessage M>
Status Encode(const M& message, uint64_t capabilities, uint8_t* sequence_id,
              std::vector<uint8_t>* out);

// The masker's fast paths: a row from values, no row struct needed. A binary row frames each
// value by its column's type (see Value in message.h).
Status EncodeTextRow(std::span<const Value> values, uint8_t* sequence_id,
                     std::vector<uint8_t>* out);
Status EncodeBinaryRow(std::span<const ColumnTypeInfo> columns, std::span<const Value> values,
                       uint8_t* sequence_id, std::vector<uint8_t>* out);

// Session state changes as an OK packet's session_state_info, appended to *out.
void EncodeSessionState(std::span<const SessionStateChange> changes, std::vector<uint8_t>* out);

}  // namespace veil::mysql
