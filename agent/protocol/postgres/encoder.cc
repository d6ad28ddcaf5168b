#include "agent/protocol/postgres/encoder.h"

#include <cstring>

#include "agent/protocol/postgres/internal/wire.h"

namespace veil::pg {

using internal::PutBytes;
using internal::PutInt16;
using internal::PutInt32;

// --- MessageWriter -----------------------------------------------------------------------------

MessageWriter::MessageWriter(std::vector<uint8_t>* out, char type)
    : out_(out), start_(out->size()), length_at_(out->size() + 1) {
  out_->push_back(static_cast<uint8_t>(type));
  PutInt32(out_, 0);
}

MessageWriter MessageWriter::Untyped(std::vector<uint8_t>* out) {
  MessageWriter w(out, out->size(), out->size());
  PutInt32(out, 0);
  return w;
}

void MessageWriter::Byte(char v) { out_->push_back(static_cast<uint8_t>(v)); }
void MessageWriter::Int16(int16_t v) { PutInt16(out_, v); }
void MessageWriter::Int32(int32_t v) { PutInt32(out_, v); }

void MessageWriter::String(std::string_view s) {
  if (std::memchr(s.data(), 0, s.size()) != nullptr) Fail("string field contains a NUL byte");
  PutBytes(out_, s);
  out_->push_back(0);
}

void MessageWriter::Bytes(std::string_view bytes) { PutBytes(out_, bytes); }

void MessageWriter::Value(const ColumnValue& value) {
  if (value.is_null) {
    PutInt32(out_, -1);
    return;
  }
  if (value.data.size() > INT32_MAX) {
    Fail("value longer than 2^31-1 bytes");
    return;
  }
  PutInt32(out_, static_cast<int32_t>(value.data.size()));
  PutBytes(out_, value.data);
}

void MessageWriter::Count(size_t n) {
  if (n > UINT16_MAX) Fail("more than 65535 elements in a list");
  PutInt16(out_, static_cast<int16_t>(static_cast<uint16_t>(n)));
}

Status MessageWriter::Finish() {
  const size_t length = out_->size() - length_at_;
  if (error_ == nullptr && length > INT32_MAX) error_ = "frame longer than 2^31-1 bytes";
  if (error_ != nullptr) {
    out_->resize(start_);
    return Error{std::string("cannot encode message: ") + error_};
  }
  internal::StoreBe32(out_->data() + length_at_, static_cast<uint32_t>(length));
  return Status::Ok();
}

// --- Per-message bodies ------------------------------------------------------------------------

namespace {

void Formats(MessageWriter& w, const std::vector<int16_t>& formats) {
  w.Count(formats.size());
  for (int16_t f : formats) w.Int16(f);
}

void Values(MessageWriter& w, std::span<const ColumnValue> values) {
  w.Count(values.size());
  for (const ColumnValue& v : values) w.Value(v);
}

Status Empty(char type, std::vector<uint8_t>* out) { return MessageWriter(out, type).Finish(); }

Status Fields(char type, const ResponseFields& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, type);
  for (const ResponseField& f : m.fields) {
    if (f.code == 0) w.Fail("field code 0");
    w.Byte(f.code);
    w.String(f.value);
  }
  w.Byte(0);
  return w.Finish();
}

Status CopyResponseFrame(char type, const CopyResponse& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, type);
  w.Byte(static_cast<char>(m.format));
  Formats(w, m.column_formats);
  return w.Finish();
}

Status Body(const StartupMessage& m, std::vector<uint8_t>* out) {
  MessageWriter w = MessageWriter::Untyped(out);
  w.Int32(m.protocol_version);
  for (const auto& [name, value] : m.parameters) {
    if (name.empty()) w.Fail("empty startup parameter name");
    w.String(name);
    w.String(value);
  }
  w.Byte(0);
  return w.Finish();
}
Status Body(const SslRequest&, std::vector<uint8_t>* out) {
  MessageWriter w = MessageWriter::Untyped(out);
  w.Int32(kSslRequestCode);
  return w.Finish();
}
Status Body(const GssEncRequest&, std::vector<uint8_t>* out) {
  MessageWriter w = MessageWriter::Untyped(out);
  w.Int32(kGssEncRequestCode);
  return w.Finish();
}
Status Body(const CancelRequest& m, std::vector<uint8_t>* out) {
  MessageWriter w = MessageWriter::Untyped(out);
  w.Int32(kCancelRequestCode);
  w.Int32(m.process_id);
  if (m.secret_key.size() < kMinCancelKeyLength || m.secret_key.size() > kMaxCancelKeyLength) {
    w.Fail("cancel key outside 4..256 bytes");
  }
  w.Bytes(m.secret_key);
  return w.Finish();
}
Status Body(const Query& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'Q');
  w.String(m.sql);
  return w.Finish();
}
Status Body(const Parse& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'P');
  w.String(m.statement);
  w.String(m.query);
  w.Count(m.parameter_types.size());
  for (uint32_t oid : m.parameter_types) w.Int32(static_cast<int32_t>(oid));
  return w.Finish();
}
Status Body(const Bind& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'B');
  w.String(m.portal);
  w.String(m.statement);
  Formats(w, m.parameter_formats);
  Values(w, m.parameters);
  Formats(w, m.result_formats);
  return w.Finish();
}
Status Body(const Describe& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'D');
  w.Byte(m.target);
  w.String(m.name);
  return w.Finish();
}
Status Body(const Execute& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'E');
  w.String(m.portal);
  w.Int32(m.max_rows);
  return w.Finish();
}
Status Body(const Close& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'C');
  w.Byte(m.target);
  w.String(m.name);
  return w.Finish();
}
Status Body(const Sync&, std::vector<uint8_t>* out) { return Empty('S', out); }
Status Body(const Flush&, std::vector<uint8_t>* out) { return Empty('H', out); }
Status Body(const Terminate&, std::vector<uint8_t>* out) { return Empty('X', out); }
Status Body(const CopyData& m, std::vector<uint8_t>* out) {
  return AppendMessage('d', m.data, out);
}
Status Body(const CopyDone&, std::vector<uint8_t>* out) { return Empty('c', out); }
Status Body(const CopyFail& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'f');
  w.String(m.message);
  return w.Finish();
}
Status Body(const AuthenticationResponse& m, std::vector<uint8_t>* out) {
  return AppendMessage('p', m.data, out);
}
Status Body(const FunctionCall& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'F');
  w.Int32(static_cast<int32_t>(m.function_oid));
  Formats(w, m.argument_formats);
  Values(w, m.arguments);
  w.Int16(m.result_format);
  return w.Finish();
}

Status Body(const EncryptionResponse& m, std::vector<uint8_t>* out) {
  if (m.answer != 'S' && m.answer != 'N' && m.answer != 'G') {
    return Error{"cannot encode message: encryption answer is not 'S', 'N' or 'G'"};
  }
  out->push_back(static_cast<uint8_t>(m.answer));
  return Status::Ok();
}
Status Body(const Authentication& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'R');
  w.Int32(static_cast<int32_t>(m.type));
  switch (m.type) {
    case AuthenticationType::kMd5Password:
      if (m.data.size() != 4) w.Fail("MD5 salt is not 4 bytes");
      w.Bytes(m.data);
      break;
    case AuthenticationType::kSasl:
      for (std::string_view mechanism : m.sasl_mechanisms) {
        if (mechanism.empty()) w.Fail("empty SASL mechanism name");
        w.String(mechanism);
      }
      w.Byte(0);
      break;
    case AuthenticationType::kGssContinue:
    case AuthenticationType::kSaslContinue:
    case AuthenticationType::kSaslFinal:
      w.Bytes(m.data);
      break;
    default:
      break;
  }
  return w.Finish();
}
Status Body(const BackendKeyData& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'K');
  w.Int32(m.process_id);
  if (m.secret_key.size() < kMinCancelKeyLength || m.secret_key.size() > kMaxCancelKeyLength) {
    w.Fail("cancel key outside 4..256 bytes");
  }
  w.Bytes(m.secret_key);
  return w.Finish();
}
Status Body(const ParameterStatus& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'S');
  w.String(m.name);
  w.String(m.value);
  return w.Finish();
}
Status Body(const ReadyForQuery& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'Z');
  w.Byte(m.transaction_status);
  return w.Finish();
}
Status Body(const RowDescription& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'T');
  w.Count(m.fields.size());
  for (const FieldDescription& f : m.fields) {
    w.String(f.name);
    w.Int32(static_cast<int32_t>(f.table_oid));
    w.Int16(f.column_number);
    w.Int32(static_cast<int32_t>(f.type_oid));
    w.Int16(f.type_size);
    w.Int32(f.type_modifier);
    w.Int16(f.format);
  }
  return w.Finish();
}
Status Body(const DataRowView& m, std::vector<uint8_t>* out) {
  return EncodeDataRow(m.columns, out);
}
Status Body(const CommandComplete& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'C');
  w.String(m.tag);
  return w.Finish();
}
Status Body(const EmptyQueryResponse&, std::vector<uint8_t>* out) { return Empty('I', out); }
Status Body(const ErrorResponse& m, std::vector<uint8_t>* out) { return Fields('E', m, out); }
Status Body(const NoticeResponse& m, std::vector<uint8_t>* out) { return Fields('N', m, out); }
Status Body(const NotificationResponse& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'A');
  w.Int32(m.process_id);
  w.String(m.channel);
  w.String(m.payload);
  return w.Finish();
}
Status Body(const ParseComplete&, std::vector<uint8_t>* out) { return Empty('1', out); }
Status Body(const BindComplete&, std::vector<uint8_t>* out) { return Empty('2', out); }
Status Body(const CloseComplete&, std::vector<uint8_t>* out) { return Empty('3', out); }
Status Body(const NoData&, std::vector<uint8_t>* out) { return Empty('n', out); }
Status Body(const PortalSuspended&, std::vector<uint8_t>* out) { return Empty('s', out); }
Status Body(const ParameterDescription& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 't');
  w.Count(m.type_oids.size());
  for (uint32_t oid : m.type_oids) w.Int32(static_cast<int32_t>(oid));
  return w.Finish();
}
Status Body(const CopyInResponse& m, std::vector<uint8_t>* out) {
  return CopyResponseFrame('G', m, out);
}
Status Body(const CopyOutResponse& m, std::vector<uint8_t>* out) {
  return CopyResponseFrame('H', m, out);
}
Status Body(const CopyBothResponse& m, std::vector<uint8_t>* out) {
  return CopyResponseFrame('W', m, out);
}
Status Body(const FunctionCallResponse& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'V');
  w.Value(m.result);
  return w.Finish();
}
Status Body(const NegotiateProtocolVersion& m, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'v');
  w.Int32(m.newest_minor_version);
  if (m.unrecognized_options.size() > INT32_MAX) w.Fail("too many options");
  w.Int32(static_cast<int32_t>(m.unrecognized_options.size()));
  for (std::string_view option : m.unrecognized_options) w.String(option);
  return w.Finish();
}

}  // namespace

template <EncodableMessage M>
Status Encode(const M& message, std::vector<uint8_t>* out) {
  if constexpr (std::is_same_v<M, FrontendMessage> || std::is_same_v<M, BackendMessage>) {
    return std::visit([out](const auto& m) { return Body(m, out); }, message);
  } else {
    return Body(message, out);
  }
}

// Explicit instantiations: both variants and every message type (CopyData/CopyDone once).
#define VEIL_PG_ENCODE(T) template Status Encode<T>(const T&, std::vector<uint8_t>*);
VEIL_PG_ENCODE(FrontendMessage)
VEIL_PG_ENCODE(BackendMessage)
VEIL_PG_ENCODE(StartupMessage)
VEIL_PG_ENCODE(SslRequest)
VEIL_PG_ENCODE(GssEncRequest)
VEIL_PG_ENCODE(CancelRequest)
VEIL_PG_ENCODE(Query)
VEIL_PG_ENCODE(Parse)
VEIL_PG_ENCODE(Bind)
VEIL_PG_ENCODE(Describe)
VEIL_PG_ENCODE(Execute)
VEIL_PG_ENCODE(Close)
VEIL_PG_ENCODE(Sync)
VEIL_PG_ENCODE(Flush)
VEIL_PG_ENCODE(Terminate)
VEIL_PG_ENCODE(CopyData)
VEIL_PG_ENCODE(CopyDone)
VEIL_PG_ENCODE(CopyFail)
VEIL_PG_ENCODE(AuthenticationResponse)
VEIL_PG_ENCODE(FunctionCall)
VEIL_PG_ENCODE(EncryptionResponse)
VEIL_PG_ENCODE(Authentication)
VEIL_PG_ENCODE(BackendKeyData)
VEIL_PG_ENCODE(ParameterStatus)
VEIL_PG_ENCODE(ReadyForQuery)
VEIL_PG_ENCODE(RowDescription)
VEIL_PG_ENCODE(DataRowView)
VEIL_PG_ENCODE(CommandComplete)
VEIL_PG_ENCODE(EmptyQueryResponse)
VEIL_PG_ENCODE(ErrorResponse)
VEIL_PG_ENCODE(NoticeResponse)
VEIL_PG_ENCODE(NotificationResponse)
VEIL_PG_ENCODE(ParseComplete)
VEIL_PG_ENCODE(BindComplete)
VEIL_PG_ENCODE(CloseComplete)
VEIL_PG_ENCODE(NoData)
VEIL_PG_ENCODE(PortalSuspended)
VEIL_PG_ENCODE(ParameterDescription)
VEIL_PG_ENCODE(CopyInResponse)
VEIL_PG_ENCODE(CopyOutResponse)
VEIL_PG_ENCODE(CopyBothResponse)
VEIL_PG_ENCODE(FunctionCallResponse)
VEIL_PG_ENCODE(NegotiateProtocolVersion)
#undef VEIL_PG_ENCODE

Status EncodeDataRow(std::span<const ColumnValue> columns, std::vector<uint8_t>* out) {
  MessageWriter w(out, 'D');
  Values(w, columns);
  return w.Finish();
}

Status AppendMessage(char type, std::string_view payload, std::vector<uint8_t>* out) {
  MessageWriter w(out, type);
  w.Bytes(payload);
  return w.Finish();
}

}  // namespace veil::pg
