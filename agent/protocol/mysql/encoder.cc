#include "agent/protocol/mysql/encoder.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "agent/protocol/mysql/internal/wire.h"

namespace veil::mysql {

using internal::PutBytes;
using internal::PutLe;
using internal::PutLenenc;
using internal::PutLenencString;

void AppendPacket(std::string_view payload, uint8_t* sequence_id, std::vector<uint8_t>* out) {
  size_t at = 0;
  for (;;) {
    const size_t n = std::min(payload.size() - at, kMaxPacketPayload);
    PutLe(out, n, 3);
    out->push_back((*sequence_id)++);
    PutBytes(out, payload.substr(at, n));
    at += n;
    if (n < kMaxPacketPayload) return;
  }
}

namespace {

// Builds one message at the end of `out`: a header placeholder, the payload, then Finish()
// writes the length, or re-splits a payload of 0xFFFFFF bytes or more.
class PayloadWriter {
 public:
  PayloadWriter(std::vector<uint8_t>* out, uint8_t* sequence_id)
      : out_(out), sequence_id_(sequence_id), start_(out->size()) {
    PutLe(out_, 0, 4);
  }

  void U8(uint8_t v) { out_->push_back(v); }
  void Int(uint64_t v, size_t n) { PutLe(out_, v, n); }
  void Lenenc(uint64_t v) { PutLenenc(out_, v); }
  void LenencString(std::string_view s) { PutLenencString(out_, s); }
  void Bytes(std::string_view s) { PutBytes(out_, s); }
  void NulString(std::string_view s) {
    if (std::memchr(s.data(), 0, s.size()) != nullptr) Fail("string field contains a NUL byte");
    PutBytes(out_, s);
    out_->push_back(0);
  }
  void Fail(const char* reason) {
    if (error_ == nullptr) error_ = reason;
  }
  bool failed() const { return error_ != nullptr; }

  Status Finish() {
    if (error_ != nullptr) {
      out_->resize(start_);
      return Error{std::string("cannot encode MySQL packet: ") + error_};
    }
    const size_t length = out_->size() - start_ - 4;
    if (length < kMaxPacketPayload) {
      uint8_t* h = out_->data() + start_;
      h[0] = static_cast<uint8_t>(length);
      h[1] = static_cast<uint8_t>(length >> 8);
      h[2] = static_cast<uint8_t>(length >> 16);
      h[3] = (*sequence_id_)++;
      return Status::Ok();
    }
    const std::string payload(reinterpret_cast<const char*>(out_->data() + start_ + 4), length);
    out_->resize(start_);
    AppendPacket(payload, sequence_id_, out_);
    return Status::Ok();
  }

 private:
  std::vector<uint8_t>* out_;
  uint8_t* sequence_id_;
  size_t start_;
  const char* error_ = nullptr;
};

std::string_view AsView(const uint8_t* p, size_t n) {
  return std::string_view(reinterpret_cast<const char*>(p), n);
}

void Attributes(PayloadWriter& w,
                const std::vector<std::pair<std::string_view, std::string_view>>& attrs) {
  size_t total = 0;
  for (const auto& [k, v] : attrs) {
    total += internal::LenencSize(k.size()) + k.size() + internal::LenencSize(v.size()) + v.size();
  }
  w.Lenenc(total);
  for (const auto& [k, v] : attrs) {
    w.LenencString(k);
    w.LenencString(v);
  }
}

void BinaryValue(PayloadWriter& w, ColumnType type, const Value& v) {
  switch (BinaryLayoutOf(type)) {
    case BinaryLayout::kInvalid:
      w.Fail("type without a binary encoding");
      return;
    case BinaryLayout::kNone:
      if (!v.data.empty()) w.Fail("MYSQL_TYPE_NULL value with bytes");
      return;
    case BinaryLayout::kFixed:
      if (v.data.size() != BinaryFixedSize(type)) w.Fail("value size does not fit its type");
      w.Bytes(v.data);
      return;
    case BinaryLayout::kTemporal: {
      const size_t n = v.data.size();
      const bool ok = type == ColumnType::kTime ? (n == 0 || n == 8 || n == 12)
                                                : (n == 0 || n == 4 || n == 7 || n == 11);
      if (!ok) w.Fail("temporal value size does not fit its type");
      w.U8(static_cast<uint8_t>(n));
      w.Bytes(v.data);
      return;
    }
    case BinaryLayout::kLengthCoded:
      w.LenencString(v.data);
      return;
  }
}

// Null bitmap (bit i + offset set for a NULL), then nothing else.
void NullBitmap(PayloadWriter& w, size_t count, size_t offset, auto is_null) {
  std::string bitmap((count + offset + 7) / 8, '\0');
  for (size_t i = 0; i < count; ++i) {
    if (is_null(i)) bitmap[(i + offset) / 8] |= static_cast<char>(1 << ((i + offset) % 8));
  }
  w.Bytes(bitmap);
}

void ParameterBlock(PayloadWriter& w, const std::vector<Parameter>& params, bool types,
                    bool names) {
  NullBitmap(w, params.size(), 0, [&](size_t i) { return params[i].value.is_null; });
  w.U8(types ? 1 : 0);
  if (types) {
    for (const Parameter& p : params) {
      w.U8(static_cast<uint8_t>(p.type.type));
      w.U8(p.type.is_unsigned ? 0x80 : 0x00);
      if (names) {
        w.LenencString(p.name);
      } else if (!p.name.empty()) {
        w.Fail("parameter name without CLIENT_QUERY_ATTRIBUTES");
      }
    }
  }
  for (const Parameter& p : params) {
    if (p.value.is_null || p.long_data) continue;
    BinaryValue(w, p.type.type, p.value);
  }
}

template <size_t N>
std::string_view Arr(const std::array<uint8_t, N>& a) {
  return AsView(a.data(), N);
}

// --- Per-message payloads ------------------------------------------------------------------------

void Body(PayloadWriter& w, const HandshakeV10& m, uint64_t) {
  w.U8(10);
  w.NulString(m.server_version);
  w.Int(m.connection_id, 4);
  if (m.auth_plugin_data_1.size() != 8) w.Fail("auth-plugin-data-part-1 is not 8 bytes");
  w.Bytes(m.auth_plugin_data_1);
  w.U8(0);
  w.Int(m.capabilities & 0xFFFF, 2);
  if (m.short_form) {
    if ((m.capabilities >> 16) != 0 || m.auth_plugin_name) w.Fail("short greeting with more");
    return;
  }
  w.U8(m.character_set);
  w.Int(m.status_flags, 2);
  w.Int(m.capabilities >> 16, 2);
  w.U8(m.auth_plugin_data_length);
  w.Bytes(Arr(m.reserved));
  if (m.capabilities & cap::kSecureConnection) {
    const size_t n = std::max<int>(13, int{m.auth_plugin_data_length} - 8);
    if (m.auth_plugin_data_2.size() != n) w.Fail("auth-plugin-data-part-2 has the wrong length");
    w.Bytes(m.auth_plugin_data_2);
  } else if (!m.auth_plugin_data_2.empty()) {
    w.Fail("auth-plugin-data-part-2 without CLIENT_SECURE_CONNECTION");
  }
  if ((m.capabilities & cap::kPluginAuth) != m.auth_plugin_name.has_value() * cap::kPluginAuth) {
    w.Fail("auth plugin name and CLIENT_PLUGIN_AUTH disagree");
  }
  if (m.auth_plugin_name) w.NulString(*m.auth_plugin_name);
}

template <typename M>
void ResponseHeader(PayloadWriter& w, const M& m) {
  w.Int(m.capabilities, 4);
  w.Int(m.max_packet_size, 4);
  w.U8(m.character_set);
  w.Bytes(Arr(m.filler));
}

void Body(PayloadWriter& w, const SslRequest& m, uint64_t) {
  if ((m.capabilities & cap::kSsl) == 0) w.Fail("SSLRequest without CLIENT_SSL");
  ResponseHeader(w, m);
}

void Body(PayloadWriter& w, const HandshakeResponse41& m, uint64_t) {
  const uint32_t caps = m.capabilities;
  if ((caps & cap::kProtocol41) == 0) w.Fail("HandshakeResponse41 without CLIENT_PROTOCOL_41");
  ResponseHeader(w, m);
  w.NulString(m.username);
  if (caps & cap::kPluginAuthLenencClientData) {
    w.LenencString(m.auth_response);
  } else if (caps & cap::kSecureConnection) {
    if (m.auth_response.size() > 255) w.Fail("auth response longer than 255 bytes");
    w.U8(static_cast<uint8_t>(m.auth_response.size()));
    w.Bytes(m.auth_response);
  } else {
    w.NulString(m.auth_response);
  }
  if (((caps & cap::kConnectWithDb) != 0) != m.database.has_value()) {
    w.Fail("database and CLIENT_CONNECT_WITH_DB disagree");
  }
  if (m.database) w.NulString(*m.database);
  if (m.auth_plugin_name) {
    if ((caps & cap::kPluginAuth) == 0) w.Fail("auth plugin name without CLIENT_PLUGIN_AUTH");
    w.NulString(*m.auth_plugin_name);
  }
  if (m.connect_attributes) {
    if ((caps & cap::kConnectAttrs) == 0) w.Fail("attributes without CLIENT_CONNECT_ATTRS");
    if ((caps & cap::kPluginAuth) && !m.auth_plugin_name) w.Fail("attributes without plugin");
    Attributes(w, *m.connect_attributes);
  }
  if (((caps & cap::kZstdCompression) != 0) != m.zstd_compression_level.has_value()) {
    w.Fail("zstd level and CLIENT_ZSTD_COMPRESSION_ALGORITHM disagree");
  }
  if (m.zstd_compression_level) w.U8(*m.zstd_compression_level);
}

void Body(PayloadWriter& w, const AuthData& m, uint64_t) { w.Bytes(m.data); }

void Body(PayloadWriter& w, const AuthSwitchRequest& m, uint64_t) {
  w.U8(0xFE);
  w.NulString(m.plugin_name);
  w.Bytes(m.plugin_data);
}

void Body(PayloadWriter& w, const AuthMoreData& m, uint64_t) {
  w.U8(0x01);
  w.Bytes(m.data);
}

void Body(PayloadWriter& w, const OkPacket& m, uint64_t caps) {
  if (m.header != 0x00 && m.header != 0xFE) w.Fail("OK header is neither 0x00 nor 0xFE");
  w.U8(m.header);
  w.Lenenc(m.affected_rows);
  w.Lenenc(m.last_insert_id);
  if (caps & cap::kProtocol41) {
    w.Int(m.status_flags, 2);
    w.Int(m.warnings, 2);
  } else if (caps & cap::kTransactions) {
    w.Int(m.status_flags, 2);
  }
  const bool state_changed = (m.status_flags & status::kSessionStateChanged) != 0;
  if (caps & cap::kSessionTrack) {
    // The info may be left out (the packet then ends after the warnings); the session state
    // only follows an info.
    if (m.has_info || !m.info.empty() || !m.session_state_info.empty()) {
      w.LenencString(m.info);
      if (state_changed) w.LenencString(m.session_state_info);
    }
    if (!state_changed && !m.session_state_info.empty()) {
      w.Fail("session state without SERVER_SESSION_STATE_CHANGED");
    }
  } else {
    if (!m.session_state_info.empty()) w.Fail("session state without CLIENT_SESSION_TRACK");
    w.Bytes(m.info);
  }
}

void Body(PayloadWriter& w, const ErrPacket& m, uint64_t) {
  w.U8(0xFF);
  w.Int(m.error_code, 2);
  if (!m.sql_state.empty()) {
    if (m.sql_state.size() != 5) w.Fail("SQLSTATE is not 5 characters");
    if (m.error_code == kMariaDbProgressReport) w.Fail("progress report with an SQLSTATE");
    w.U8('#');
    w.Bytes(m.sql_state);
  }
  w.Bytes(m.message);
}

void Body(PayloadWriter& w, const EofPacket& m, uint64_t) {
  w.U8(0xFE);
  if (m.short_form) return;
  w.Int(m.warnings, 2);
  w.Int(m.status_flags, 2);
}

void Body(PayloadWriter& w, const ColumnCount& m, uint64_t) { w.Lenenc(m.count); }

void Body(PayloadWriter& w, const ColumnDefinition& m, uint64_t caps) {
  w.LenencString(m.catalog);
  w.LenencString(m.schema);
  w.LenencString(m.table);
  w.LenencString(m.org_table);
  w.LenencString(m.name);
  w.LenencString(m.org_name);
  if (caps & cap::kMariaDbExtendedMetadata) {
    w.LenencString(m.extended_metadata.value_or(std::string_view()));
  } else if (m.extended_metadata) {
    w.Fail("extended metadata without MARIADB_CLIENT_EXTENDED_METADATA");
  }
  w.Lenenc(0x0c);
  w.Int(m.character_set, 2);
  w.Int(m.column_length, 4);
  w.U8(static_cast<uint8_t>(m.type));
  w.Int(m.flags, 2);
  w.U8(m.decimals);
  w.Int(0, 2);
}

void TextRowBody(PayloadWriter& w, std::span<const Value> values) {
  for (const Value& v : values) {
    if (v.is_null) {
      w.U8(internal::kLenencNull);
    } else {
      w.LenencString(v.data);
    }
  }
}

void BinaryRowBody(PayloadWriter& w, std::span<const ColumnTypeInfo> columns,
                   std::span<const Value> values) {
  if (columns.size() != values.size()) {
    w.Fail("binary row value count differs from its column count");
    return;
  }
  w.U8(0x00);
  NullBitmap(w, values.size(), 2, [&](size_t i) { return values[i].is_null; });
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i].is_null) BinaryValue(w, columns[i].type, values[i]);
  }
}

void Body(PayloadWriter& w, const TextRow& m, uint64_t) { TextRowBody(w, m.values); }
void Body(PayloadWriter& w, const BinaryRow& m, uint64_t) { BinaryRowBody(w, m.columns, m.values); }

void Body(PayloadWriter& w, const StmtPrepareOk& m, uint64_t) {
  w.U8(0x00);
  w.Int(m.statement_id, 4);
  w.Int(m.num_columns, 2);
  w.Int(m.num_params, 2);
  w.U8(0);
  if (m.has_warning_count) w.Int(m.warning_count, 2);
}

void Body(PayloadWriter& w, const LocalInfileRequest& m, uint64_t) {
  w.U8(0xFB);
  w.Bytes(m.filename);
}

void Body(PayloadWriter& w, const RawPacket& m, uint64_t) { w.Bytes(m.payload); }

void Cmd(PayloadWriter& w, Command c) { w.U8(static_cast<uint8_t>(c)); }

void Body(PayloadWriter& w, const ComQuit&, uint64_t) { Cmd(w, Command::kQuit); }
void Body(PayloadWriter& w, const ComPing&, uint64_t) { Cmd(w, Command::kPing); }
void Body(PayloadWriter& w, const ComResetConnection&, uint64_t) {
  Cmd(w, Command::kResetConnection);
}
void Body(PayloadWriter& w, const ComInitDb& m, uint64_t) {
  Cmd(w, Command::kInitDb);
  w.Bytes(m.schema);
}
void Body(PayloadWriter& w, const ComStmtPrepare& m, uint64_t) {
  Cmd(w, Command::kStmtPrepare);
  w.Bytes(m.query);
}

void Body(PayloadWriter& w, const ComQuery& m, uint64_t caps) {
  Cmd(w, Command::kQuery);
  if (caps & cap::kQueryAttributes) {
    w.Lenenc(m.attributes.size());
    w.Lenenc(1);
    if (!m.attributes.empty()) ParameterBlock(w, m.attributes, true, true);
  } else if (!m.attributes.empty()) {
    w.Fail("query attributes without CLIENT_QUERY_ATTRIBUTES");
  }
  w.Bytes(m.query);
}

void Body(PayloadWriter& w, const ComChangeUser& m, uint64_t caps) {
  Cmd(w, Command::kChangeUser);
  w.NulString(m.username);
  if (caps & cap::kSecureConnection) {
    if (m.auth_response.size() > 255) w.Fail("auth response longer than 255 bytes");
    w.U8(static_cast<uint8_t>(m.auth_response.size()));
    w.Bytes(m.auth_response);
  } else {
    w.NulString(m.auth_response);
  }
  w.NulString(m.database);
  if (!m.character_set) {
    if (m.auth_plugin_name || m.connect_attributes) w.Fail("COM_CHANGE_USER fields after none");
    return;
  }
  w.Int(*m.character_set, 2);
  if (m.auth_plugin_name) {
    if ((caps & cap::kPluginAuth) == 0) w.Fail("auth plugin name without CLIENT_PLUGIN_AUTH");
    w.NulString(*m.auth_plugin_name);
  }
  if (m.connect_attributes) {
    if ((caps & cap::kConnectAttrs) == 0) w.Fail("attributes without CLIENT_CONNECT_ATTRS");
    if ((caps & cap::kPluginAuth) && !m.auth_plugin_name) w.Fail("attributes without plugin");
    Attributes(w, *m.connect_attributes);
  }
}

void Body(PayloadWriter& w, const ComStmtExecute& m, uint64_t caps) {
  Cmd(w, Command::kStmtExecute);
  w.Int(m.statement_id, 4);
  w.U8(m.flags);
  w.Int(m.iteration_count, 4);
  if (m.raw_parameters) {
    if (!m.parameters.empty()) w.Fail("COM_STMT_EXECUTE with both raw and decoded parameters");
    w.Bytes(*m.raw_parameters);
    return;
  }
  const bool attributes = (caps & cap::kQueryAttributes) != 0;
  if (m.parameter_count_sent) {
    if (!attributes) w.Fail("parameter count without CLIENT_QUERY_ATTRIBUTES");
    w.Lenenc(m.parameters.size());
  }
  if (!m.parameters.empty()) ParameterBlock(w, m.parameters, m.new_params_bound, attributes);
}

void Body(PayloadWriter& w, const ComStmtFetch& m, uint64_t) {
  Cmd(w, Command::kStmtFetch);
  w.Int(m.statement_id, 4);
  w.Int(m.num_rows, 4);
}
void Body(PayloadWriter& w, const ComStmtClose& m, uint64_t) {
  Cmd(w, Command::kStmtClose);
  w.Int(m.statement_id, 4);
}
void Body(PayloadWriter& w, const ComStmtReset& m, uint64_t) {
  Cmd(w, Command::kStmtReset);
  w.Int(m.statement_id, 4);
}
void Body(PayloadWriter& w, const ComStmtSendLongData& m, uint64_t) {
  Cmd(w, Command::kStmtSendLongData);
  w.Int(m.statement_id, 4);
  w.Int(m.param_id, 2);
  w.Bytes(m.data);
}
void Body(PayloadWriter& w, const ComProcessKill& m, uint64_t) {
  Cmd(w, Command::kProcessKill);
  w.Int(m.connection_id, 4);
}
void Body(PayloadWriter& w, const UnknownCommand& m, uint64_t) {
  w.U8(m.command);
  w.Bytes(m.body);
}

}  // namespace

template <EncodableMessage M>
Status Encode(const M& message, uint64_t capabilities, uint8_t* sequence_id,
              std::vector<uint8_t>* out) {
  if constexpr (std::is_same_v<M, ClientMessage> || std::is_same_v<M, ServerMessage>) {
    return std::visit([&](const auto& m) { return Encode(m, capabilities, sequence_id, out); },
                      message);
  } else {
    PayloadWriter w(out, sequence_id);
    Body(w, message, capabilities);
    return w.Finish();
  }
}

void EncodeSessionState(std::span<const SessionStateChange> changes, std::vector<uint8_t>* out) {
  for (const auto& c : changes) {
    out->push_back(c.type);
    internal::PutLenencString(out, c.data);
  }
}

Status EncodeTextRow(std::span<const Value> values, uint8_t* sequence_id,
                     std::vector<uint8_t>* out) {
  PayloadWriter w(out, sequence_id);
  TextRowBody(w, values);
  return w.Finish();
}

Status EncodeBinaryRow(std::span<const ColumnTypeInfo> columns, std::span<const Value> values,
                       uint8_t* sequence_id, std::vector<uint8_t>* out) {
  PayloadWriter w(out, sequence_id);
  BinaryRowBody(w, columns, values);
  return w.Finish();
}

// Explicit instantiations: both variants and every message type.
#define VEIL_MYSQL_ENCODE(T) \
  template Status Encode<T>(const T&, uint64_t, uint8_t*, std::vector<uint8_t>*);
VEIL_MYSQL_ENCODE(ClientMessage)
VEIL_MYSQL_ENCODE(ServerMessage)
VEIL_MYSQL_ENCODE(SslRequest)
VEIL_MYSQL_ENCODE(HandshakeResponse41)
VEIL_MYSQL_ENCODE(AuthData)
VEIL_MYSQL_ENCODE(ComQuit)
VEIL_MYSQL_ENCODE(ComInitDb)
VEIL_MYSQL_ENCODE(ComQuery)
VEIL_MYSQL_ENCODE(ComPing)
VEIL_MYSQL_ENCODE(ComChangeUser)
VEIL_MYSQL_ENCODE(ComResetConnection)
VEIL_MYSQL_ENCODE(ComStmtPrepare)
VEIL_MYSQL_ENCODE(ComStmtExecute)
VEIL_MYSQL_ENCODE(ComStmtFetch)
VEIL_MYSQL_ENCODE(ComStmtClose)
VEIL_MYSQL_ENCODE(ComStmtReset)
VEIL_MYSQL_ENCODE(ComStmtSendLongData)
VEIL_MYSQL_ENCODE(ComProcessKill)
VEIL_MYSQL_ENCODE(UnknownCommand)
VEIL_MYSQL_ENCODE(HandshakeV10)
VEIL_MYSQL_ENCODE(OkPacket)
VEIL_MYSQL_ENCODE(ErrPacket)
VEIL_MYSQL_ENCODE(EofPacket)
VEIL_MYSQL_ENCODE(AuthSwitchRequest)
VEIL_MYSQL_ENCODE(AuthMoreData)
VEIL_MYSQL_ENCODE(ColumnCount)
VEIL_MYSQL_ENCODE(ColumnDefinition)
VEIL_MYSQL_ENCODE(TextRow)
VEIL_MYSQL_ENCODE(BinaryRow)
VEIL_MYSQL_ENCODE(StmtPrepareOk)
VEIL_MYSQL_ENCODE(LocalInfileRequest)
VEIL_MYSQL_ENCODE(RawPacket)
#undef VEIL_MYSQL_ENCODE

}  // namespace veil::mysql
