#include "agent/protocol/postgres/decoder.h"

#include <cstdio>
#include <utility>

#include "agent/protocol/postgres/internal/wire.h"

namespace veil::pg {
namespace {

using internal::LoadBe32;
using internal::Reader;

// How big a typed frame of one type may be; min/max count the payload after the length word.
struct FrameRule {
  std::string_view name;  // empty: unknown type
  size_t min_payload = 0;
  size_t max_payload = 0;
};

enum class Size { kExact, kControl, kLarge };

FrameRule Rule(std::string_view name, size_t min_payload, Size size, const DecoderLimits& limits) {
  size_t max = min_payload;
  if (size == Size::kControl) max = limits.max_control_message;
  if (size == Size::kLarge) max = limits.max_message;
  // The limits count the length word too.
  max = max >= 4 ? max - 4 : 0;
  if (size == Size::kExact) max = min_payload;
  return FrameRule{name, min_payload, max};
}

FrameRule FrontendRule(char type, const DecoderLimits& l) {
  switch (type) {
    case 'Q':
      return Rule("Query", 1, Size::kLarge, l);
    case 'P':
      return Rule("Parse", 4, Size::kLarge, l);
    case 'B':
      return Rule("Bind", 8, Size::kLarge, l);
    case 'D':
      return Rule("Describe", 2, Size::kControl, l);
    case 'E':
      return Rule("Execute", 5, Size::kControl, l);
    case 'C':
      return Rule("Close", 2, Size::kControl, l);
    case 'S':
      return Rule("Sync", 0, Size::kExact, l);
    case 'H':
      return Rule("Flush", 0, Size::kExact, l);
    case 'X':
      return Rule("Terminate", 0, Size::kExact, l);
    case 'd':
      return Rule("CopyData", 0, Size::kLarge, l);
    case 'c':
      return Rule("CopyDone", 0, Size::kExact, l);
    case 'f':
      return Rule("CopyFail", 1, Size::kControl, l);
    case 'p':
      return Rule("PasswordMessage", 0, Size::kControl, l);
    case 'F':
      return Rule("FunctionCall", 10, Size::kLarge, l);
    default:
      return FrameRule{};
  }
}

FrameRule BackendRule(char type, const DecoderLimits& l) {
  switch (type) {
    case 'R':
      return Rule("Authentication", 4, Size::kControl, l);
    case 'K': {
      FrameRule r = Rule("BackendKeyData", 4 + kMinCancelKeyLength, Size::kExact, l);
      r.max_payload = 4 + kMaxCancelKeyLength;
      return r;
    }
    case 'S':
      return Rule("ParameterStatus", 2, Size::kControl, l);
    case 'Z':
      return Rule("ReadyForQuery", 1, Size::kExact, l);
    case 'T':
      return Rule("RowDescription", 2, Size::kLarge, l);
    case 'D':
      return Rule("DataRow", 2, Size::kLarge, l);
    case 'C':
      return Rule("CommandComplete", 1, Size::kControl, l);
    case 'I':
      return Rule("EmptyQueryResponse", 0, Size::kExact, l);
    case 'E':
      return Rule("ErrorResponse", 1, Size::kLarge, l);
    case 'N':
      return Rule("NoticeResponse", 1, Size::kLarge, l);
    case 'A':
      return Rule("NotificationResponse", 6, Size::kLarge, l);
    case '1':
      return Rule("ParseComplete", 0, Size::kExact, l);
    case '2':
      return Rule("BindComplete", 0, Size::kExact, l);
    case '3':
      return Rule("CloseComplete", 0, Size::kExact, l);
    case 'n':
      return Rule("NoData", 0, Size::kExact, l);
    case 's':
      return Rule("PortalSuspended", 0, Size::kExact, l);
    case 't':
      return Rule("ParameterDescription", 2, Size::kLarge, l);
    case 'G':
      return Rule("CopyInResponse", 3, Size::kControl, l);
    case 'H':
      return Rule("CopyOutResponse", 3, Size::kControl, l);
    case 'W':
      return Rule("CopyBothResponse", 3, Size::kControl, l);
    case 'd':
      return Rule("CopyData", 0, Size::kLarge, l);
    case 'c':
      return Rule("CopyDone", 0, Size::kExact, l);
    case 'V':
      return Rule("FunctionCallResponse", 4, Size::kLarge, l);
    case 'v':
      return Rule("NegotiateProtocolVersion", 8, Size::kControl, l);
    default:
      return FrameRule{};
  }
}

std::string TypeByte(char type) {
  char buf[16];
  const auto u = static_cast<unsigned char>(type);
  if (u >= 0x21 && u < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c'", type);
  } else {
    std::snprintf(buf, sizeof buf, "0x%02x", u);
  }
  return buf;
}

enum class Framing { kNeedMoreData, kError, kReady };

// Finds the first typed frame in `buffer` and checks its length against the rule for its type.
// Fails as soon as the type byte or the length word shows the frame cannot be valid.
template <typename RuleFn>
Framing FindTypedFrame(std::span<const uint8_t> buffer, RuleFn rule_for, const char* direction,
                       size_t max_override, FrameRule* rule, std::string_view* payload,
                       std::string* error) {
  if (buffer.empty()) return Framing::kNeedMoreData;
  const char type = static_cast<char>(buffer[0]);
  *rule = rule_for(type);
  if (rule->name.empty()) {
    *error = std::string("unknown ") + direction + " message type " + TypeByte(type);
    return Framing::kError;
  }
  if (buffer.size() < 5) return Framing::kNeedMoreData;
  const uint32_t length = LoadBe32(buffer.data() + 1);
  const size_t max_payload = std::min(rule->max_payload, max_override);
  if (length < 4 || length - 4 < rule->min_payload || length - 4 > max_payload) {
    *error = "invalid length " + std::to_string(length) + " for " + std::string(rule->name) +
             " message (allowed " + std::to_string(rule->min_payload + 4) + ".." +
             std::to_string(max_payload + 4) + ")";
    return Framing::kError;
  }
  if (buffer.size() - 1 < length) return Framing::kNeedMoreData;
  *payload = std::string_view(reinterpret_cast<const char*>(buffer.data()) + 5, length - 4);
  return Framing::kReady;
}

// Reads a UInt16 count of elements that take at least `min_element_size` bytes each, rejecting
// counts the rest of the payload cannot hold before anything is reserved for them.
const char* ReadCount(Reader& r, size_t min_element_size, size_t* count) {
  int16_t raw = 0;
  if (!r.Int16(&raw)) return "truncated count";
  *count = static_cast<uint16_t>(raw);
  if (*count * min_element_size > r.remaining()) return "count exceeds the message";
  return nullptr;
}

const char* ReadFormats(Reader& r, std::vector<int16_t>* formats) {
  size_t n = 0;
  if (const char* e = ReadCount(r, 2, &n)) return e;
  formats->resize(n);
  for (int16_t& f : *formats) {
    r.Int16(&f);  // cannot fail: ReadCount checked the size
    if (f != kFormatText && f != kFormatBinary) return "invalid format code";
  }
  return nullptr;
}

// Int32 length (-1 = NULL) and that many bytes.
const char* ReadValue(Reader& r, ColumnValue* value) {
  int32_t length = 0;
  if (!r.Int32(&length)) return "truncated value length";
  if (length == -1) {
    *value = ColumnValue::Null();
    return nullptr;
  }
  if (length < 0) return "negative value length other than -1";
  value->is_null = false;
  if (!r.Bytes(static_cast<size_t>(length), &value->data)) return "value exceeds the message";
  return nullptr;
}

const char* ReadValues(Reader& r, std::vector<ColumnValue>* values) {
  size_t n = 0;
  if (const char* e = ReadCount(r, 4, &n)) return e;
  values->resize(n);
  for (ColumnValue& v : *values) {
    if (const char* e = ReadValue(r, &v)) return e;
  }
  return nullptr;
}

constexpr const char* kBadString = "string not terminated inside the message";

// --- Frontend payloads -------------------------------------------------------------------------

const char* ParseFrontend(char type, Reader& r, FrontendMessage* out) {
  switch (type) {
    case 'Q': {
      auto& m = out->emplace<Query>();
      return r.String(&m.sql) ? nullptr : kBadString;
    }
    case 'P': {
      auto& m = out->emplace<Parse>();
      if (!r.String(&m.statement) || !r.String(&m.query)) return kBadString;
      size_t n = 0;
      if (const char* e = ReadCount(r, 4, &n)) return e;
      m.parameter_types.resize(n);
      for (uint32_t& oid : m.parameter_types) r.UInt32(&oid);
      return nullptr;
    }
    case 'B': {
      auto& m = out->emplace<Bind>();
      if (!r.String(&m.portal) || !r.String(&m.statement)) return kBadString;
      if (const char* e = ReadFormats(r, &m.parameter_formats)) return e;
      if (const char* e = ReadValues(r, &m.parameters)) return e;
      if (m.parameter_formats.size() > 1 && m.parameter_formats.size() != m.parameters.size()) {
        return "parameter format count matches neither 0, 1 nor the parameter count";
      }
      return ReadFormats(r, &m.result_formats);
    }
    case 'D':
    case 'C': {
      char target = 0;
      std::string_view name;
      if (!r.Byte(&target)) return "missing target";
      if (target != 'S' && target != 'P') return "target is neither 'S' nor 'P'";
      if (!r.String(&name)) return kBadString;
      if (type == 'D') {
        out->emplace<Describe>(Describe{target, name});
      } else {
        out->emplace<Close>(Close{target, name});
      }
      return nullptr;
    }
    case 'E': {
      auto& m = out->emplace<Execute>();
      if (!r.String(&m.portal)) return kBadString;
      return r.Int32(&m.max_rows) ? nullptr : "truncated row limit";
    }
    case 'S':
      out->emplace<Sync>();
      return nullptr;
    case 'H':
      out->emplace<Flush>();
      return nullptr;
    case 'X':
      out->emplace<Terminate>();
      return nullptr;
    case 'd':
      out->emplace<CopyData>(CopyData{r.Rest()});
      return nullptr;
    case 'c':
      out->emplace<CopyDone>();
      return nullptr;
    case 'f': {
      auto& m = out->emplace<CopyFail>();
      return r.String(&m.message) ? nullptr : kBadString;
    }
    case 'p':
      out->emplace<AuthenticationResponse>(AuthenticationResponse{r.Rest()});
      return nullptr;
    case 'F': {
      auto& m = out->emplace<FunctionCall>();
      if (!r.UInt32(&m.function_oid)) return "truncated function OID";
      if (const char* e = ReadFormats(r, &m.argument_formats)) return e;
      if (const char* e = ReadValues(r, &m.arguments)) return e;
      if (!r.Int16(&m.result_format)) return "truncated result format";
      if (m.result_format != kFormatText && m.result_format != kFormatBinary) {
        return "invalid format code";
      }
      return nullptr;
    }
  }
  return "unhandled type";  // FrontendRule admitted a type this switch does not know
}

// --- Backend payloads --------------------------------------------------------------------------

const char* ParseFields(Reader& r, ResponseFields* m) {
  for (;;) {
    char code = 0;
    if (!r.Byte(&code)) return "missing field list terminator";
    if (code == 0) return nullptr;
    std::string_view value;
    if (!r.String(&value)) return kBadString;
    m->fields.push_back(ResponseField{code, std::string(value)});
  }
}

const char* ParseCopyResponse(Reader& r, CopyResponse* m) {
  r.Int8(&m->format);
  if (m->format != kFormatText && m->format != kFormatBinary) return "invalid overall format";
  if (const char* e = ReadFormats(r, &m->column_formats)) return e;
  if (m->format == kFormatText) {
    for (int16_t f : m->column_formats) {
      if (f != kFormatText) return "binary column in a text-format copy";
    }
  }
  return nullptr;
}

const char* ParseAuthentication(Reader& r, Authentication* m) {
  int32_t code = 0;
  r.Int32(&code);
  m->type = static_cast<AuthenticationType>(code);
  switch (m->type) {
    case AuthenticationType::kOk:
    case AuthenticationType::kKerberosV5:
    case AuthenticationType::kCleartextPassword:
    case AuthenticationType::kGss:
    case AuthenticationType::kSspi:
      return nullptr;  // trailing bytes are caught by the caller
    case AuthenticationType::kMd5Password:
      return r.Bytes(4, &m->data) ? nullptr : "truncated MD5 salt";
    case AuthenticationType::kSasl:
      for (;;) {
        std::string_view mechanism;
        if (!r.String(&mechanism)) return kBadString;
        if (mechanism.empty()) break;
        m->sasl_mechanisms.push_back(mechanism);
      }
      return m->sasl_mechanisms.empty() ? "empty SASL mechanism list" : nullptr;
    case AuthenticationType::kGssContinue:
    case AuthenticationType::kSaslContinue:
    case AuthenticationType::kSaslFinal:
      m->data = r.Rest();
      return nullptr;
  }
  return "unknown authentication request type";
}

const char* ParseBackend(char type, Reader& r, BackendMessage* out) {
  switch (type) {
    case 'R':
      return ParseAuthentication(r, &out->emplace<Authentication>());
    case 'K': {
      auto& m = out->emplace<BackendKeyData>();
      r.Int32(&m.process_id);
      m.secret_key = r.Rest();  // 4..256 bytes: the frame rule bounds it
      return nullptr;
    }
    case 'S': {
      auto& m = out->emplace<ParameterStatus>();
      return r.String(&m.name) && r.String(&m.value) ? nullptr : kBadString;
    }
    case 'Z': {
      auto& m = out->emplace<ReadyForQuery>();
      r.Byte(&m.transaction_status);
      const char s = m.transaction_status;
      return s == 'I' || s == 'T' || s == 'E' ? nullptr : "invalid transaction status";
    }
    case 'T': {
      auto& m = out->emplace<RowDescription>();
      size_t n = 0;
      // name (at least its NUL) + 18 bytes of fixed fields
      if (const char* e = ReadCount(r, 19, &n)) return e;
      m.fields.resize(n);
      for (FieldDescription& f : m.fields) {
        if (!r.String(&f.name)) return kBadString;
        if (!r.UInt32(&f.table_oid) || !r.Int16(&f.column_number) || !r.UInt32(&f.type_oid) ||
            !r.Int16(&f.type_size) || !r.Int32(&f.type_modifier) || !r.Int16(&f.format)) {
          return "truncated field description";
        }
        if (f.format != kFormatText && f.format != kFormatBinary) return "invalid format code";
      }
      return nullptr;
    }
    case 'D': {
      DataRowView* row = std::get_if<DataRowView>(out);
      if (row == nullptr) row = &out->emplace<DataRowView>();
      return ReadValues(r, &row->columns);
    }
    case 'C': {
      auto& m = out->emplace<CommandComplete>();
      return r.String(&m.tag) ? nullptr : kBadString;
    }
    case 'I':
      out->emplace<EmptyQueryResponse>();
      return nullptr;
    case 'E':
      return ParseFields(r, &out->emplace<ErrorResponse>());
    case 'N':
      return ParseFields(r, &out->emplace<NoticeResponse>());
    case 'A': {
      auto& m = out->emplace<NotificationResponse>();
      r.Int32(&m.process_id);
      return r.String(&m.channel) && r.String(&m.payload) ? nullptr : kBadString;
    }
    case '1':
      out->emplace<ParseComplete>();
      return nullptr;
    case '2':
      out->emplace<BindComplete>();
      return nullptr;
    case '3':
      out->emplace<CloseComplete>();
      return nullptr;
    case 'n':
      out->emplace<NoData>();
      return nullptr;
    case 's':
      out->emplace<PortalSuspended>();
      return nullptr;
    case 't': {
      auto& m = out->emplace<ParameterDescription>();
      size_t n = 0;
      if (const char* e = ReadCount(r, 4, &n)) return e;
      m.type_oids.resize(n);
      for (uint32_t& oid : m.type_oids) r.UInt32(&oid);
      return nullptr;
    }
    case 'G':
      return ParseCopyResponse(r, &out->emplace<CopyInResponse>());
    case 'H':
      return ParseCopyResponse(r, &out->emplace<CopyOutResponse>());
    case 'W':
      return ParseCopyResponse(r, &out->emplace<CopyBothResponse>());
    case 'd':
      out->emplace<CopyData>(CopyData{r.Rest()});
      return nullptr;
    case 'c':
      out->emplace<CopyDone>();
      return nullptr;
    case 'V':
      return ReadValue(r, &out->emplace<FunctionCallResponse>().result);
    case 'v': {
      auto& m = out->emplace<NegotiateProtocolVersion>();
      int32_t n = 0;
      r.Int32(&m.newest_minor_version);
      r.Int32(&n);
      if (n < 0 || static_cast<size_t>(n) > r.remaining()) return "count exceeds the message";
      m.unrecognized_options.resize(static_cast<size_t>(n));
      for (std::string_view& option : m.unrecognized_options) {
        if (!r.String(&option)) return kBadString;
      }
      return nullptr;
    }
  }
  return "unhandled type";  // BackendRule admitted a type this switch does not know
}

DecodeResult NeedMore() { return DecodeResult{DecodeStatus::kNeedMoreData, {}}; }
DecodeResult Ready() { return DecodeResult{DecodeStatus::kReady, {}}; }

std::string Invalid(std::string_view name, const char* reason) {
  return "invalid " + std::string(name) + " message: " + reason;
}

}  // namespace

// --- FrontendDecoder ---------------------------------------------------------------------------

DecodeResult FrontendDecoder::Fail(std::string error) {
  failed_ = true;
  error_ = std::move(error);
  return DecodeResult{DecodeStatus::kError, error_};
}

DecodeResult FrontendDecoder::Decode(std::span<const uint8_t> buffer, size_t* consumed,
                                     FrontendMessage* out) {
  *consumed = 0;
  if (failed_) return DecodeResult{DecodeStatus::kError, error_};

  if (phase_ == Phase::kTyped) {
    FrameRule rule;
    std::string_view payload;
    std::string error;
    const auto rule_for = [this](char t) { return FrontendRule(t, limits_); };
    switch (FindTypedFrame(buffer, rule_for, "frontend", SIZE_MAX, &rule, &payload, &error)) {
      case Framing::kNeedMoreData:
        return NeedMore();
      case Framing::kError:
        return Fail(std::move(error));
      case Framing::kReady:
        break;
    }
    Reader r(payload);
    const char type = static_cast<char>(buffer[0]);
    if (const char* reason = ParseFrontend(type, r, out)) return Fail(Invalid(rule.name, reason));
    if (!r.AtEnd()) return Fail(Invalid(rule.name, "trailing bytes after the last field"));
    *consumed = 5 + payload.size();
    return Ready();
  }

  // Startup phase: Int32 length (including itself), Int32 code, payload.
  if (buffer.size() < 4) return NeedMore();
  const uint32_t length = LoadBe32(buffer.data());
  if (length < 8 || length > limits_.max_startup_packet) {
    return Fail("invalid length " + std::to_string(length) + " for a startup packet (allowed 8.." +
                std::to_string(limits_.max_startup_packet) + ")");
  }
  if (buffer.size() < length) return NeedMore();
  Reader r(std::string_view(reinterpret_cast<const char*>(buffer.data()) + 4, length - 4));
  int32_t code = 0;
  r.Int32(&code);
  switch (code) {
    case kSslRequestCode:
      if (!r.AtEnd()) return Fail("invalid length for an SSLRequest");
      out->emplace<SslRequest>();
      break;
    case kGssEncRequestCode:
      if (!r.AtEnd()) return Fail("invalid length for a GSSENCRequest");
      out->emplace<GssEncRequest>();
      break;
    case kCancelRequestCode: {
      auto& m = out->emplace<CancelRequest>();
      if (!r.Int32(&m.process_id)) return Fail("invalid length for a CancelRequest");
      m.secret_key = r.Rest();
      if (m.secret_key.size() < kMinCancelKeyLength || m.secret_key.size() > kMaxCancelKeyLength) {
        return Fail("invalid length for a CancelRequest");
      }
      break;
    }
    default: {
      const auto version = static_cast<uint32_t>(code);
      if (version >> 16 != 3) {
        return Fail("unsupported frontend protocol " + std::to_string(version >> 16) + "." +
                    std::to_string(version & 0xffff) + ": veil speaks protocol 3");
      }
      auto& m = out->emplace<StartupMessage>();
      m.protocol_version = code;
      for (;;) {
        std::string_view name, value;
        if (!r.String(&name)) {
          return Fail("invalid StartupMessage: expected terminator as last byte");
        }
        if (name.empty()) break;
        if (!r.String(&value)) {
          return Fail("invalid StartupMessage: parameter without a value");
        }
        m.parameters.emplace_back(name, value);
      }
      if (!r.AtEnd()) return Fail("invalid StartupMessage: expected terminator as last byte");
      phase_ = Phase::kTyped;
      break;
    }
  }
  *consumed = length;
  return Ready();
}

// --- BackendDecoder ----------------------------------------------------------------------------

DecodeResult BackendDecoder::Fail(std::string error) {
  failed_ = true;
  error_ = std::move(error);
  return DecodeResult{DecodeStatus::kError, error_};
}

DecodeResult BackendDecoder::Decode(std::span<const uint8_t> buffer, size_t* consumed,
                                    BackendMessage* out) {
  *consumed = 0;
  if (failed_) return DecodeResult{DecodeStatus::kError, error_};

  size_t max_payload = SIZE_MAX;
  if (expect_encryption_response_) {
    if (buffer.empty()) return NeedMore();
    const char answer = static_cast<char>(buffer[0]);
    if (answer == 'S' || answer == 'N' || answer == 'G') {
      out->emplace<EncryptionResponse>(EncryptionResponse{answer});
      expect_encryption_response_ = false;
      *consumed = 1;
      return Ready();
    }
    if (answer != 'E') {
      return Fail("invalid answer " + TypeByte(answer) + " to an encryption request");
    }
    // A pre-encryption-aware server's refusal: an ErrorResponse, bounded like a startup packet.
    max_payload = limits_.max_startup_packet - 4;
  }

  FrameRule rule;
  std::string_view payload;
  std::string error;
  const auto rule_for = [this](char t) { return BackendRule(t, limits_); };
  switch (FindTypedFrame(buffer, rule_for, "backend", max_payload, &rule, &payload, &error)) {
    case Framing::kNeedMoreData:
      return NeedMore();
    case Framing::kError:
      return Fail(std::move(error));
    case Framing::kReady:
      break;
  }
  Reader r(payload);
  const char type = static_cast<char>(buffer[0]);
  if (const char* reason = ParseBackend(type, r, out)) return Fail(Invalid(rule.name, reason));
  if (!r.AtEnd()) return Fail(Invalid(rule.name, "trailing bytes after the last field"));
  expect_encryption_response_ = false;
  *consumed = 5 + payload.size();
  return Ready();
}

// --- Helpers -----------------------------------------------------------------------------------

Result<SaslInitialResponse> ParseSaslInitialResponse(std::string_view data) {
  Reader r(data);
  SaslInitialResponse m;
  if (!r.String(&m.mechanism))
    return Error{"invalid SASLInitialResponse: " + std::string(kBadString)};
  int32_t length = 0;
  if (!r.Int32(&length)) return Error{"invalid SASLInitialResponse: truncated length"};
  if (length < -1) return Error{"invalid SASLInitialResponse: negative length other than -1"};
  if (length >= 0) {
    std::string_view bytes;
    if (!r.Bytes(static_cast<size_t>(length), &bytes)) {
      return Error{"invalid SASLInitialResponse: data exceeds the message"};
    }
    m.initial_response = bytes;
  }
  if (!r.AtEnd()) return Error{"invalid SASLInitialResponse: trailing bytes"};
  return m;
}

}  // namespace veil::pg
