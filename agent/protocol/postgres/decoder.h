// Decoders for the PostgreSQL v3 wire protocol: bytes in, one validated message out.
//
// One decoder per direction and per connection: FrontendDecoder for client -> server bytes
// (it starts in the untyped startup phase), BackendDecoder for server -> client bytes. Neither
// does I/O; the session reads into its own buffer and calls Decode() until it stops saying kReady:
//
//   FrontendDecoder decoder;
//   FrontendMessage message;
//   size_t consumed = 0;
//   for (;;) {
//     DecodeResult r = decoder.Decode(buffer, &consumed, &message);
//     if (r.status == DecodeStatus::kNeedMoreData) break;          // read more, call again
//     if (r.status == DecodeStatus::kError) return Refuse(r.error);   // FATAL 08P01, end session
//     Handle(message, buffer.first(consumed));                       // the raw frame, to forward
//     buffer = buffer.subspan(consumed);
//   }
//
// A frame is consumed only after all of it has arrived and every field in it has been checked:
// its length is within the limits for its type, strings are NUL-terminated inside the frame,
// counts times element sizes fit, value lengths are >= -1 and fit, and no bytes are left over.
// Errors for impossible lengths or unknown types are reported as soon as the header arrives, so
// a bad peer cannot make veil buffer a gigabyte first. After an error the decoder stays failed.
//
// Protocol reference: https://www.postgresql.org/docs/current/protocol-message-formats.html
// and https://www.postgresql.org/docs/current/protocol-flow.html
//
// Thread-safety: none; one decoder belongs to one session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "agent/protocol/postgres/message.h"
#include "common/result.h"

namespace veil::pg {

// The SQLSTATE to send (in a FATAL ErrorResponse) when decoding fails.
inline constexpr std::string_view kProtocolViolation = "08P01";

enum class DecodeStatus { kNeedMoreData, kReady, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMoreData;
  // kError only: what was wrong, for an ErrorResponse with SQLSTATE 08P01. Never contains
  // message contents (which may be sensitive), only types, sizes and positions.
  std::string error;

  bool ready() const { return status == DecodeStatus::kReady; }
};

struct DecoderLimits {
  // Untyped startup packets; PostgreSQL's own MAX_STARTUP_PACKET_LENGTH.
  size_t max_startup_packet = 10000;
  // Frames that carry data of unbounded size: DataRow, CopyData, Query, Parse, Bind,
  // FunctionCall(Response), RowDescription, ErrorResponse, NoticeResponse, NotificationResponse.
  // 1 GiB is PostgreSQL's PQ_LARGE_MESSAGE_LIMIT.
  size_t max_message = size_t{1} << 30;
  // Every other frame (authentication exchanges, Describe, Close, ParameterStatus, ...).
  // PostgreSQL refuses such client messages above 10000 bytes and libpq treats server ones above
  // 30000 as corrupt; 70000 leaves room for a GSSAPI token (PG_MAX_AUTH_TOKEN_LENGTH = 65535).
  size_t max_control_message = 70000;
};

// Client -> server.
class FrontendDecoder {
 public:
  enum class Phase {
    kStartup,  // untyped packets: SSLRequest, GSSENCRequest, CancelRequest, StartupMessage
    kTyped,    // after a StartupMessage: one type byte, Int32 length, payload
  };

  explicit FrontendDecoder(DecoderLimits limits = {}, Phase phase = Phase::kStartup)
      : limits_(limits), phase_(phase) {}

  // Decodes the first frame of `buffer`. kReady: `*out` holds the message (views into `buffer`)
  // and `*consumed` is the frame's size; the raw frame is buffer.first(*consumed).
  // kNeedMoreData/kError: *consumed is 0 and `*out` is unspecified.
  //
  // A StartupMessage moves the decoder to kTyped. SSLRequest and GSSENCRequest leave it in
  // kStartup (the StartupMessage follows, over TLS or after an 'N'). The caller must check that
  // no bytes follow an SSLRequest in its buffer: bytes sent before the TLS handshake would
  // otherwise be taken as if they came over TLS (CVE-2021-23214).
  DecodeResult Decode(std::span<const uint8_t> buffer, size_t* consumed, FrontendMessage* out);

  Phase phase() const { return phase_; }

 private:
  DecodeResult Fail(std::string error);

  DecoderLimits limits_;
  Phase phase_;
  bool failed_ = false;
  std::string error_;
};

// Server -> client.
class BackendDecoder {
 public:
  explicit BackendDecoder(DecoderLimits limits = {}) : limits_(limits) {}

  // Call after sending SSLRequest or GSSENCRequest upstream: the next Decode() reads the
  // single-byte answer ('S', 'N' or 'G') as an EncryptionResponse. A server too old to know the
  // request answers with an ErrorResponse instead, which is decoded as such.
  void ExpectEncryptionResponse() { expect_encryption_response_ = true; }

  // Same contract as FrontendDecoder::Decode. When `*out` already holds a DataRowView, a DataRow
  // is decoded into it in place, reusing its capacity (no allocation per row).
  DecodeResult Decode(std::span<const uint8_t> buffer, size_t* consumed, BackendMessage* out);

 private:
  DecodeResult Fail(std::string error);

  DecoderLimits limits_;
  bool expect_encryption_response_ = false;
  bool failed_ = false;
  std::string error_;
};

// Parses the payload of a 'p' message sent in answer to AuthenticationSASL:
// String mechanism, Int32 length (-1: no initial response), Byte[length].
Result<SaslInitialResponse> ParseSaslInitialResponse(std::string_view data);

}  // namespace veil::pg
