// Encoders for the PostgreSQL v3 wire protocol: messages in, frames with correct length
// prefixes out.
//
// veil uses these to emit its own messages (MakeError refusals, BackendKeyData it hands out,
// an AuthenticationSASL without SCRAM-SHA-256-PLUS, a StartupMessage/SSLRequest/CancelRequest to
// the upstream) and to rebuild frames it rewrites (masked DataRow, CopyData, ErrorResponse).
// A rewritten message is always a new frame, never bytes patched in place.
//
//   std::vector<uint8_t> out;  // reused across calls: no allocation once warmed
//   if (Status s = EncodeDataRow(masked_columns, &out); !s.ok()) return EndSession(s);
//   if (Status s = Encode(MakeError(Severity::kError, "42501", "veil: ..."), &out); !s.ok()) ...
//
// Every function appends to `out` and never clears it, so several frames can be batched into one
// write. On error nothing is appended. Errors are only for what the wire format cannot carry: a
// string with a NUL byte in it, more than 65535 elements in a list, a frame above 2^31-1 bytes,
// a cancel key outside 4..256 bytes, an MD5 salt that is not 4 bytes.
//
// Protocol reference: https://www.postgresql.org/docs/current/protocol-message-formats.html
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "agent/protocol/postgres/message.h"
#include "common/result.h"

namespace veil::pg {

// Builds one frame at the end of `out`: writes the header, lets the caller append fields, then
// Finish() patches the length word. The generic way to emit a typed message veil has no struct
// for. Not copyable; `out` must outlive the writer.
class MessageWriter {
 public:
  // A typed frame: Byte1 type, Int32 length, payload.
  MessageWriter(std::vector<uint8_t>* out, char type);
  // An untyped startup-phase packet (StartupMessage, SSLRequest, ...): Int32 length, payload.
  static MessageWriter Untyped(std::vector<uint8_t>* out);

  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;
  MessageWriter(MessageWriter&&) = default;

  void Byte(char v);
  void Int16(int16_t v);
  void Int32(int32_t v);
  // A NUL-terminated String. An embedded NUL cannot be represented: Finish() fails.
  void String(std::string_view s);
  void Bytes(std::string_view bytes);
  // Int32 length (-1 for NULL) then the bytes, as in DataRow and Bind.
  void Value(const ColumnValue& value);
  // A UInt16 element count (Int16 on the wire); more than 65535 makes Finish() fail.
  void Count(size_t n);
  // Records an error that Finish() reports.
  void Fail(const char* reason) {
    if (error_ == nullptr) error_ = reason;
  }

  // Writes the length word. On error, removes the partial frame from `out`.
  Status Finish();

 private:
  MessageWriter(std::vector<uint8_t>* out, size_t start, size_t length_at)
      : out_(out), start_(start), length_at_(length_at) {}

  std::vector<uint8_t>* out_;
  size_t start_;      // where this frame begins in *out_
  size_t length_at_;  // where its length word is
  const char* error_ = nullptr;
};

// Any message type of FrontendMessage or BackendMessage, or either variant itself.
template <typename M, typename Variant>
struct IsAlternativeOf;
template <typename M, typename... Ts>
struct IsAlternativeOf<M, std::variant<Ts...>> : std::disjunction<std::is_same<M, Ts>...> {};
template <typename M>
concept EncodableMessage =
    IsAlternativeOf<M, FrontendMessage>::value || IsAlternativeOf<M, BackendMessage>::value ||
    std::is_same_v<M, FrontendMessage> || std::is_same_v<M, BackendMessage>;

// Appends the frame for `message`. EncryptionResponse is the bare byte 'S', 'N' or 'G'.
template <EncodableMessage M>
Status Encode(const M& message, std::vector<uint8_t>* out);

// The masker's fast path: a DataRow from column values, no DataRowView needed.
Status EncodeDataRow(std::span<const ColumnValue> columns, std::vector<uint8_t>* out);

// A typed frame with an opaque payload.
Status AppendMessage(char type, std::string_view payload, std::vector<uint8_t>* out);

}  // namespace veil::pg
