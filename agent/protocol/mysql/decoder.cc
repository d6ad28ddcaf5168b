#include "agent/protocol/mysql/decoder.h"

#include <algorithm>
#include <utility>

#include "agent/protocol/mysql/internal/wire.h"

namespace veil::mysql {
namespace {

using internal::LoadLe;
using internal::Reader;

constexpr const char* kTruncated = "truncated";
constexpr const char* kTrailing = "unexpected bytes after the last field";
constexpr const char* kBadString = "string not terminated inside the packet";

std::string Num(uint64_t v) { return std::to_string(v); }

DecodeResult MakeError(std::string error) {
  DecodeResult r;
  r.status = DecodeStatus::kError;
  r.error = std::move(error);
  return r;
}

// --- Shared field readers -----------------------------------------------------------------------

const char* ReadAttributes(Reader& r,
                           std::vector<std::pair<std::string_view, std::string_view>>* attrs) {
  std::string_view block;
  if (!r.LenencString(&block)) return "connection attributes exceed the packet";
  Reader a(block);
  while (!a.AtEnd()) {
    std::string_view key, value;
    if (!a.LenencString(&key) || !a.LenencString(&value)) return "malformed connection attribute";
    attrs->emplace_back(key, value);
  }
  return nullptr;
}

bool ValidTemporalLength(ColumnType type, uint8_t n) {
  if (type == ColumnType::kTime) return n == 0 || n == 8 || n == 12;
  return n == 0 || n == 4 || n == 7 || n == 11;
}

// One value in the binary protocol, framed by its type.
const char* ReadBinaryValue(Reader& r, ColumnType type, Value* value) {
  value->is_null = false;
  switch (BinaryLayoutOf(type)) {
    case BinaryLayout::kInvalid:
      return "type without a binary encoding";
    case BinaryLayout::kNone:
      value->data = {};
      return nullptr;
    case BinaryLayout::kFixed:
      return r.Bytes(BinaryFixedSize(type), &value->data) ? nullptr : "value exceeds the packet";
    case BinaryLayout::kTemporal: {
      uint8_t n = 0;
      if (!r.U8(&n)) return "value exceeds the packet";
      if (!ValidTemporalLength(type, n)) return "invalid temporal value length";
      return r.Bytes(n, &value->data) ? nullptr : "value exceeds the packet";
    }
    case BinaryLayout::kLengthCoded:
      return r.LenencString(&value->data) ? nullptr : "value exceeds the packet";
  }
  return "type without a binary encoding";
}

// A null bitmap of `count` bits starting at bit `offset`; unused bits must be zero.
const char* ReadNullBitmap(Reader& r, size_t count, size_t offset, std::string_view* bitmap) {
  if (!r.Bytes((count + offset + 7) / 8, bitmap)) return "null bitmap exceeds the packet";
  for (size_t bit = 0; bit < bitmap->size() * 8; ++bit) {
    if (bit >= offset && bit < offset + count) continue;
    if ((static_cast<uint8_t>((*bitmap)[bit / 8]) >> (bit % 8)) & 1) {
      return "null bitmap has bits set outside its columns";
    }
  }
  return nullptr;
}

bool BitSet(std::string_view bitmap, size_t bit) {
  return (static_cast<uint8_t>(bitmap[bit / 8]) >> (bit % 8)) & 1;
}

// Types, names and values of COM_QUERY attributes / COM_STMT_EXECUTE parameters, after the null
// bitmap and the new-params-bound flag.
const char* ReadParameterTypes(Reader& r, bool with_names, std::vector<Parameter>* params) {
  for (Parameter& p : *params) {
    uint8_t type = 0, flag = 0;
    if (!r.U8(&type) || !r.U8(&flag)) return "parameter types exceed the packet";
    if ((flag & ~0x80) != 0) return "invalid parameter flag byte";
    p.type = ColumnTypeInfo{static_cast<ColumnType>(type), flag == 0x80};
    if (BinaryLayoutOf(p.type.type) == BinaryLayout::kInvalid) {
      return "parameter type without a binary encoding";
    }
    if (with_names && !r.LenencString(&p.name)) return "parameter name exceeds the packet";
  }
  return nullptr;
}

const char* ReadParameterValues(Reader& r, std::string_view bitmap,
                                const std::vector<bool>* long_data,
                                std::vector<Parameter>* params) {
  for (size_t i = 0; i < params->size(); ++i) {
    Parameter& p = (*params)[i];
    p.long_data = false;
    if (BitSet(bitmap, i)) {
      p.value = Value::Null();
      continue;
    }
    if (long_data != nullptr && i < long_data->size() && (*long_data)[i]) {
      p.long_data = true;
      p.value = Value{};
      continue;
    }
    if (const char* e = ReadBinaryValue(r, p.type.type, &p.value)) return e;
  }
  return nullptr;
}

const char* ParseOk(Reader& r, uint64_t caps, OkPacket* m) {
  if (!r.U8(&m->header)) return kTruncated;
  if (!r.Lenenc(&m->affected_rows) || !r.Lenenc(&m->last_insert_id)) {
    return "invalid affected rows or last insert id";
  }
  if (caps & cap::kProtocol41) {
    if (!r.U16(&m->status_flags) || !r.U16(&m->warnings)) return kTruncated;
  } else if (caps & cap::kTransactions) {
    if (!r.U16(&m->status_flags)) return kTruncated;
  }
  if (caps & cap::kSessionTrack) {
    m->has_info = !r.AtEnd();
    if (m->has_info) {
      if (!r.LenencString(&m->info)) return "info exceeds the packet";
      if ((m->status_flags & status::kSessionStateChanged) &&
          !r.LenencString(&m->session_state_info)) {
        return "session state exceeds the packet";
      }
    }
  } else {
    m->info = r.Rest();
    m->has_info = !m->info.empty();
  }
  return r.AtEnd() ? nullptr : kTrailing;
}

const char* ParseEof(std::string_view payload, EofPacket* m) {
  Reader r(payload);
  uint8_t header = 0;
  r.U8(&header);
  if (payload.size() == 1) {
    *m = EofPacket{0, 0, true};
    return nullptr;
  }
  if (payload.size() != 5) return "EOF packet is neither 1 nor 5 bytes";
  m->short_form = false;
  r.U16(&m->warnings);
  r.U16(&m->status_flags);
  return nullptr;
}

const char* ParseErr(std::string_view payload, ErrPacket* m) {
  Reader r(payload);
  uint8_t header = 0;
  if (!r.U8(&header) || header != 0xFF || !r.U16(&m->error_code)) return kTruncated;
  m->sql_state.clear();
  if (m->error_code != kMariaDbProgressReport && r.Peek() == '#' && r.remaining() >= 6) {
    std::string_view state;
    r.Bytes(1, &state);
    r.Bytes(5, &state);
    m->sql_state.assign(state);
  }
  m->message.assign(r.Rest());
  return nullptr;
}

const char* ParseHandshake(std::string_view payload, HandshakeV10* m) {
  Reader r(payload);
  uint8_t version = 0, filler = 1;
  if (!r.U8(&version) || version != 10) return "unsupported protocol version (not 10)";
  if (!r.NulString(&m->server_version)) return kBadString;
  if (!r.U32(&m->connection_id) || !r.Bytes(8, &m->auth_plugin_data_1) || !r.U8(&filler)) {
    return kTruncated;
  }
  if (filler != 0) return "filler after auth-plugin-data-part-1 is not 0";
  uint16_t low = 0;
  if (!r.U16(&low)) return kTruncated;
  m->capabilities = low;
  m->short_form = r.AtEnd();
  m->auth_plugin_name.reset();
  m->auth_plugin_data_2 = {};
  if (m->short_form) return nullptr;
  uint16_t high = 0;
  std::string_view reserved;
  if (!r.U8(&m->character_set) || !r.U16(&m->status_flags) || !r.U16(&high) ||
      !r.U8(&m->auth_plugin_data_length) || !r.Bytes(10, &reserved)) {
    return kTruncated;
  }
  std::copy(reserved.begin(), reserved.end(), m->reserved.begin());
  m->capabilities |= uint32_t{high} << 16;
  if (m->capabilities & cap::kSecureConnection) {
    const size_t n = std::max<int>(13, int{m->auth_plugin_data_length} - 8);
    if (!r.Bytes(n, &m->auth_plugin_data_2)) return "auth-plugin-data-part-2 exceeds the packet";
  }
  if (m->capabilities & cap::kPluginAuth) {
    std::string_view name;
    if (!r.NulString(&name)) return kBadString;
    m->auth_plugin_name = name;
  }
  return r.AtEnd() ? nullptr : kTrailing;
}

// The 32 fixed bytes that open both SSLRequest and HandshakeResponse41.
template <typename M>
const char* ReadResponseHeader(Reader& r, M* m) {
  std::string_view filler;
  if (!r.U32(&m->capabilities) || !r.U32(&m->max_packet_size) || !r.U8(&m->character_set) ||
      !r.Bytes(23, &filler)) {
    return kTruncated;
  }
  std::copy(filler.begin(), filler.end(), m->filler.begin());
  if ((m->capabilities & cap::kProtocol41) == 0) {
    return "pre-4.1 handshake response (no CLIENT_PROTOCOL_41) is not supported";
  }
  return nullptr;
}

const char* ParseHandshakeResponse(std::string_view payload, ClientMessage* out) {
  Reader r(payload);
  if (payload.size() == 32) {
    auto& m = out->emplace<SslRequest>();
    if (const char* e = ReadResponseHeader(r, &m)) return e;
    if ((m.capabilities & cap::kSsl) == 0) return "32-byte handshake response without CLIENT_SSL";
    return nullptr;
  }
  auto& m = out->emplace<HandshakeResponse41>();
  if (const char* e = ReadResponseHeader(r, &m)) return e;
  const uint32_t caps = m.capabilities;
  if (!r.NulString(&m.username)) return kBadString;
  if (caps & cap::kPluginAuthLenencClientData) {
    if (!r.LenencString(&m.auth_response)) return "auth response exceeds the packet";
  } else if (caps & cap::kSecureConnection) {
    uint8_t n = 0;
    if (!r.U8(&n) || !r.Bytes(n, &m.auth_response)) return "auth response exceeds the packet";
  } else if (!r.NulString(&m.auth_response)) {
    return kBadString;
  }
  if (caps & cap::kConnectWithDb) {
    std::string_view db;
    if (!r.NulString(&db)) return kBadString;
    m.database = db;
  }
  // The server accepts a response that ends before the plugin name or the attributes.
  if ((caps & cap::kPluginAuth) && !r.AtEnd()) {
    std::string_view name;
    if (!r.NulString(&name)) return kBadString;
    m.auth_plugin_name = name;
  }
  if ((caps & cap::kConnectAttrs) && !r.AtEnd()) {
    if (!m.auth_plugin_name && (caps & cap::kPluginAuth)) return kTrailing;
    auto& attrs = m.connect_attributes.emplace();
    if (const char* e = ReadAttributes(r, &attrs)) return e;
  }
  if (caps & cap::kZstdCompression) {
    uint8_t level = 0;
    if (!r.U8(&level)) return "missing zstd compression level";
    m.zstd_compression_level = level;
  }
  return r.AtEnd() ? nullptr : kTrailing;
}

}  // namespace

bool DecodeSessionState(std::string_view state, std::vector<SessionStateChange>* out) {
  out->clear();
  internal::Reader r(state);
  while (!r.AtEnd()) {
    SessionStateChange c;
    if (!r.U8(&c.type) || !r.LenencString(&c.data)) {
      out->clear();
      return false;
    }
    out->push_back(c);
  }
  return true;
}

std::optional<ErrPacket> ParseErrPacket(std::string_view payload) {
  ErrPacket m;
  if (ParseErr(payload, &m) != nullptr) return std::nullopt;
  return m;
}

// --- PacketFramer ------------------------------------------------------------------------------

DecodeResult PacketFramer::Next(std::span<const uint8_t> buffer, size_t max_payload,
                                std::optional<uint8_t> expected_sequence, size_t* consumed,
                                std::string_view* payload) {
  *consumed = 0;
  size_t offset = 0;
  size_t total = 0;
  size_t packets = 0;
  uint8_t first = 0, last = 0;
  for (;;) {
    if (buffer.size() < offset + 4) return DecodeResult{};
    const size_t length = LoadLe(buffer.data() + offset, 3);
    const uint8_t sequence = buffer[offset + 3];
    if (packets == 0) {
      if (expected_sequence && sequence != *expected_sequence) {
        return MakeError("packet sequence id " + Num(sequence) + ", expected " +
                         Num(*expected_sequence));
      }
      first = sequence;
    } else if (sequence != static_cast<uint8_t>(last + 1)) {
      return MakeError("continuation packet sequence id " + Num(sequence) + ", expected " +
                       Num(static_cast<uint8_t>(last + 1)));
    }
    last = sequence;
    ++packets;
    total += length;
    if (total > max_payload) {
      return MakeError("message of at least " + Num(total) + " bytes exceeds the limit of " +
                       Num(max_payload));
    }
    offset += 4 + length;
    if (buffer.size() < offset) return DecodeResult{};
    if (length < kMaxPacketPayload) break;
  }
  const auto* base = reinterpret_cast<const char*>(buffer.data());
  if (packets == 1) {
    *payload = std::string_view(base + 4, total);
  } else {
    assembled_.clear();
    assembled_.reserve(total);
    for (size_t at = 0; at < offset;) {
      const size_t length = LoadLe(buffer.data() + at, 3);
      assembled_.append(base + at + 4, length);
      at += 4 + length;
    }
    *payload = assembled_;
  }
  *consumed = offset;
  DecodeResult r;
  r.status = DecodeStatus::kReady;
  r.first_sequence_id = first;
  r.last_sequence_id = last;
  return r;
}

// --- ClientDecoder -----------------------------------------------------------------------------

DecodeResult ClientDecoder::Fail(std::string error) {
  failed_ = true;
  error_ = std::move(error);
  return MakeError(error_);
}

void ClientDecoder::OnStatementPrepared(uint32_t statement_id, uint16_t num_params) {
  last_prepared_ = statement_id;
  if (statements_.size() >= limits_.max_statements && !statements_.contains(statement_id)) return;
  Statement& s = statements_[statement_id];
  s = Statement{};
  s.num_params = num_params;
  s.long_data.assign(num_params, false);
}

DecodeResult ClientDecoder::Decode(std::span<const uint8_t> buffer, size_t* consumed,
                                   ClientMessage* out) {
  *consumed = 0;
  if (failed_) return MakeError(error_);
  const bool command_sized = phase_ == Phase::kCommand || phase_ == Phase::kRaw;
  const size_t max = command_sized ? limits_.max_payload : limits_.max_connection_phase_payload;
  const std::optional<uint8_t> expected = phase_ == Phase::kCommand ? uint8_t{0} : next_sequence_;
  std::string_view payload;
  size_t size = 0;
  DecodeResult r = framer_.Next(buffer, max, expected, &size, &payload);
  if (r.status == DecodeStatus::kError) return Fail("client " + r.error);
  if (!r.ready()) return r;

  const char* error = nullptr;
  const char* what = "packet";
  switch (phase_) {
    case Phase::kHandshake:
      what = "HandshakeResponse41";
      error = ParseHandshakeResponse(payload, out);
      if (error == nullptr) {
        if (auto* m = std::get_if<HandshakeResponse41>(out)) {
          capabilities_ = m->full_capabilities();
          phase_ = Phase::kAuth;
          next_sequence_ = static_cast<uint8_t>(r.last_sequence_id + 2);
        } else {
          next_sequence_ = static_cast<uint8_t>(r.last_sequence_id + 1);
        }
      }
      break;
    case Phase::kAuth:
      out->emplace<AuthData>(AuthData{payload});
      next_sequence_ = static_cast<uint8_t>(r.last_sequence_id + 2);
      break;
    case Phase::kRaw:
      out->emplace<AuthData>(AuthData{payload});
      next_sequence_ = static_cast<uint8_t>(r.last_sequence_id + 1);
      break;
    case Phase::kCommand:
      if (payload.empty()) return Fail("empty command packet");
      error = ParseCommand(payload, out);
      what = "command";
      if (error == nullptr && std::holds_alternative<ComChangeUser>(*out)) {
        phase_ = Phase::kAuth;
        next_sequence_ = static_cast<uint8_t>(r.last_sequence_id + 2);
      }
      break;
  }
  if (error != nullptr) {
    return Fail("malformed client " +
                std::string(what == std::string_view("command") ? MessageName(*out)
                                                                : std::string_view(what)) +
                " (" + Num(payload.size()) + " bytes): " + error);
  }
  *consumed = size;
  return r;
}

const char* ClientDecoder::ParseCommand(std::string_view payload, ClientMessage* out) {
  Reader r(payload);
  uint8_t command = 0;
  r.U8(&command);
  const auto empty = [&]() { return r.AtEnd() ? nullptr : kTrailing; };
  switch (static_cast<Command>(command)) {
    case Command::kQuit:
      out->emplace<ComQuit>();
      return empty();
    case Command::kPing:
      out->emplace<ComPing>();
      return empty();
    case Command::kResetConnection:
      out->emplace<ComResetConnection>();
      statements_.clear();
      return empty();
    case Command::kInitDb:
      out->emplace<ComInitDb>(ComInitDb{r.Rest()});
      return nullptr;
    case Command::kStmtPrepare:
      out->emplace<ComStmtPrepare>(ComStmtPrepare{r.Rest()});
      return nullptr;
    case Command::kQuery: {
      auto& m = out->emplace<ComQuery>();
      if (capabilities_ & cap::kQueryAttributes) {
        uint64_t count = 0, sets = 0;
        if (!r.Lenenc(&count) || !r.Lenenc(&sets)) return "invalid query attribute count";
        if (sets != 1) return "query attribute set count is not 1";
        if (count > limits_.max_columns || count > r.remaining()) {
          return "query attribute count exceeds the limit";
        }
        if (count > 0) {
          std::string_view bitmap;
          uint8_t bound = 0;
          if (const char* e = ReadNullBitmap(r, count, 0, &bitmap)) return e;
          if (!r.U8(&bound) || bound != 1) return "query attributes without their types";
          m.attributes.resize(count);
          if (const char* e = ReadParameterTypes(r, true, &m.attributes)) return e;
          if (const char* e = ReadParameterValues(r, bitmap, nullptr, &m.attributes)) return e;
        }
      }
      m.query = r.Rest();
      return nullptr;
    }
    case Command::kChangeUser: {
      auto& m = out->emplace<ComChangeUser>();
      statements_.clear();
      if (!r.NulString(&m.username)) return kBadString;
      if (capabilities_ & cap::kSecureConnection) {
        uint8_t n = 0;
        if (!r.U8(&n) || !r.Bytes(n, &m.auth_response)) return "auth response exceeds the packet";
      } else if (!r.NulString(&m.auth_response)) {
        return kBadString;
      }
      if (!r.NulString(&m.database)) return kBadString;
      if (r.AtEnd()) return nullptr;
      uint16_t charset = 0;
      if (!r.U16(&charset)) return kTruncated;
      m.character_set = charset;
      if ((capabilities_ & cap::kPluginAuth) && !r.AtEnd()) {
        std::string_view name;
        if (!r.NulString(&name)) return kBadString;
        m.auth_plugin_name = name;
      }
      if ((capabilities_ & cap::kConnectAttrs) && !r.AtEnd()) {
        if (!m.auth_plugin_name && (capabilities_ & cap::kPluginAuth)) return kTrailing;
        if (const char* e = ReadAttributes(r, &m.connect_attributes.emplace())) return e;
      }
      return empty();
    }
    case Command::kStmtExecute:
      return ParseExecute(r.Rest(), out);
    case Command::kStmtFetch: {
      auto& m = out->emplace<ComStmtFetch>();
      if (!r.U32(&m.statement_id) || !r.U32(&m.num_rows)) return kTruncated;
      return empty();
    }
    case Command::kStmtClose: {
      auto& m = out->emplace<ComStmtClose>();
      if (!r.U32(&m.statement_id)) return kTruncated;
      statements_.erase(m.statement_id);
      return empty();
    }
    case Command::kStmtReset: {
      auto& m = out->emplace<ComStmtReset>();
      if (!r.U32(&m.statement_id)) return kTruncated;
      if (auto it = statements_.find(m.statement_id); it != statements_.end()) {
        std::fill(it->second.long_data.begin(), it->second.long_data.end(), false);
      }
      return empty();
    }
    case Command::kStmtSendLongData: {
      auto& m = out->emplace<ComStmtSendLongData>();
      if (!r.U32(&m.statement_id) || !r.U16(&m.param_id)) return kTruncated;
      m.data = r.Rest();
      uint32_t id = m.statement_id;
      if (id == kLastPreparedStatement && last_prepared_) id = *last_prepared_;
      if (auto it = statements_.find(id);
          it != statements_.end() && m.param_id < it->second.long_data.size()) {
        it->second.long_data[m.param_id] = true;
      }
      return nullptr;
    }
    case Command::kProcessKill: {
      auto& m = out->emplace<ComProcessKill>();
      if (!r.U32(&m.connection_id)) return kTruncated;
      return empty();
    }
    default:
      out->emplace<UnknownCommand>(UnknownCommand{command, r.Rest()});
      return nullptr;
  }
}

const char* ClientDecoder::ParseExecute(std::string_view body, ClientMessage* out) {
  ComStmtExecute* m = std::get_if<ComStmtExecute>(out);
  if (m == nullptr) m = &out->emplace<ComStmtExecute>();
  Reader r(body);
  if (!r.U32(&m->statement_id) || !r.U8(&m->flags) || !r.U32(&m->iteration_count)) {
    return kTruncated;
  }
  m->new_params_bound = true;
  m->parameter_count_sent = false;
  m->raw_parameters.reset();
  uint32_t id = m->statement_id;
  if (id == kLastPreparedStatement && last_prepared_) id = *last_prepared_;
  auto it = statements_.find(id);
  if (it == statements_.end()) {
    m->parameters.clear();
    m->raw_parameters = r.Rest();
    return nullptr;
  }
  Statement& st = it->second;
  const bool attributes = (capabilities_ & cap::kQueryAttributes) != 0;
  uint64_t count = st.num_params;
  m->parameters.clear();
  if (st.num_params > 0 || (attributes && (m->flags & cursor::kParameterCountAvailable))) {
    if (attributes) {
      if (!r.Lenenc(&count)) return "invalid parameter count";
      m->parameter_count_sent = true;
      if (count < st.num_params) return "fewer parameters than the statement has";
      if (count > limits_.max_columns || count > r.remaining()) {
        return "parameter count exceeds the limit";
      }
    }
    if (count > 0) {
      std::string_view bitmap;
      uint8_t bound = 0;
      if (const char* e = ReadNullBitmap(r, count, 0, &bitmap)) return e;
      if (!r.U8(&bound) || bound > 1) return "invalid new-params-bound flag";
      m->new_params_bound = bound == 1;
      m->parameters.resize(count);
      if (m->new_params_bound) {
        if (const char* e = ReadParameterTypes(r, attributes, &m->parameters)) return e;
        st.bound_types.clear();
        for (const Parameter& p : m->parameters) st.bound_types.push_back(p.type);
      } else {
        if (st.bound_types.size() != count) return "parameter types were never sent";
        for (size_t i = 0; i < count; ++i) m->parameters[i].type = st.bound_types[i];
      }
      if (const char* e = ReadParameterValues(r, bitmap, &st.long_data, &m->parameters)) return e;
    }
  }
  std::fill(st.long_data.begin(), st.long_data.end(), false);
  return r.AtEnd() ? nullptr : kTrailing;
}

// --- ServerDecoder -----------------------------------------------------------------------------

DecodeResult ServerDecoder::Fail(std::string error) {
  failed_ = true;
  error_ = std::move(error);
  return MakeError(error_);
}

std::optional<uint32_t> ServerDecoder::Resolve(uint32_t statement_id) const {
  if (statement_id == kLastPreparedStatement && last_prepared_) return last_prepared_;
  return statement_id;
}

void ServerDecoder::ExpectResponseTo(const ClientMessage& message, uint8_t last_sequence_id) {
  Pending p;
  p.sequence_id = static_cast<uint8_t>(last_sequence_id + 1);
  if (std::holds_alternative<SslRequest>(message)) {
    return;  // the server answers with the TLS handshake
  }
  if (const auto* m = std::get_if<HandshakeResponse41>(&message)) {
    capabilities_ = m->full_capabilities() & server_capabilities_;
    state_ = State::kAuth;
    next_sequence_ = p.sequence_id;
    return;
  }
  if (std::holds_alternative<AuthData>(message)) {
    // An auth exchange, or LOCAL INFILE contents the session relays (ClientDecoder kRaw).
    if (state_ == State::kAuth || state_ == State::kInfileResult) next_sequence_ = p.sequence_id;
    return;
  }
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, ComQuit> || std::is_same_v<M, ComStmtSendLongData>) {
          p.state = State::kIdle;
        } else if constexpr (std::is_same_v<M, ComStmtClose>) {
          p.state = State::kIdle;
          if (auto id = Resolve(m.statement_id)) statement_columns_.erase(*id);
        } else if constexpr (std::is_same_v<M, ComQuery>) {
          p.state = State::kResult;
        } else if constexpr (std::is_same_v<M, ComStmtPrepare>) {
          p.state = State::kPrepareOk;
        } else if constexpr (std::is_same_v<M, ComStmtExecute>) {
          p.state = State::kResult;
          p.rows = RowFormat::kBinary;
          p.statement = Resolve(m.statement_id);
        } else if constexpr (std::is_same_v<M, ComStmtFetch>) {
          p.state = State::kRows;
          p.rows = RowFormat::kBinary;
          p.statement = Resolve(m.statement_id);
        } else if constexpr (std::is_same_v<M, ComChangeUser>) {
          p.state = State::kAuth;
          p.forget_statements = true;
        } else if constexpr (std::is_same_v<M, ComResetConnection>) {
          p.state = State::kOkOrErr;
          p.forget_statements = true;
        } else if constexpr (std::is_same_v<M, UnknownCommand>) {
          p.state = State::kOpaque;
        } else {
          p.state = State::kOkOrErr;  // COM_INIT_DB, COM_PING, COM_STMT_RESET, COM_PROCESS_KILL
        }
      },
      message);
  if (p.state == State::kIdle) return;
  if (state_ == State::kOpaque) state_ = State::kIdle;  // a new command ends an opaque response
  if (state_ == State::kIdle && pending_.empty()) {
    Start(p);
  } else if (pending_.size() >= limits_.max_pipelined) {
    if (!failed_) Fail("more than " + Num(limits_.max_pipelined) + " commands pipelined");
  } else {
    pending_.push_back(p);
  }
}

void ServerDecoder::Start(const Pending& p) {
  state_ = p.state;
  row_format_ = p.rows;
  statement_ = p.statement;
  next_sequence_ = p.sequence_id;
  if (p.forget_statements) {
    statement_columns_.clear();
    last_prepared_.reset();
  }
  columns_.clear();
  if (state_ == State::kRows) {  // COM_STMT_FETCH: the cursor's columns
    auto it = statement_ ? statement_columns_.find(*statement_) : statement_columns_.end();
    if (it == statement_columns_.end()) {
      state_ = State::kOkOrErr;  // no such cursor: the server answers with ERR
    } else {
      columns_ = it->second;
    }
  }
}

void ServerDecoder::EndOfColumns() {
  if (row_format_ == RowFormat::kBinary && statement_ &&
      (statement_columns_.size() < limits_.max_statements ||
       statement_columns_.contains(*statement_))) {
    statement_columns_[*statement_] = columns_;
  }
}

void ServerDecoder::AfterTerminator(uint16_t status_flags) {
  state_ = (status_flags & status::kMoreResultsExist) ? State::kResult : State::kIdle;
}

DecodeResult ServerDecoder::Decode(std::span<const uint8_t> buffer, size_t* consumed,
                                   ServerMessage* out) {
  *consumed = 0;
  if (failed_) return MakeError(error_);
  if (state_ == State::kIdle && !pending_.empty()) {
    Start(pending_.front());
    pending_.pop_front();
  }
  const bool connection_phase = state_ == State::kGreeting || state_ == State::kAuth;
  const size_t max = connection_phase ? limits_.max_connection_phase_payload : limits_.max_payload;
  // Outside a response only an unsolicited ERR can come, with whatever sequence id.
  const std::optional<uint8_t> expected =
      state_ == State::kIdle ? std::nullopt : std::optional<uint8_t>(next_sequence_);
  std::string_view payload;
  size_t size = 0;
  DecodeResult r = framer_.Next(buffer, max, expected, &size, &payload);
  if (r.status == DecodeStatus::kError) return Fail("server " + r.error);
  if (!r.ready()) return r;
  if (payload.empty()) return Fail("empty server packet");
  if (const char* e = Parse(payload, out)) {
    return Fail("malformed server " + std::string(MessageName(*out)) + " (" + Num(payload.size()) +
                " bytes): " + e);
  }
  next_sequence_ = static_cast<uint8_t>(r.last_sequence_id + 1);
  *consumed = size;
  return r;
}

const char* ServerDecoder::ParseColumnDefinition(std::string_view payload, ServerMessage* out) {
  auto& m = out->emplace<ColumnDefinition>();
  Reader r(payload);
  if (!r.LenencString(&m.catalog) || !r.LenencString(&m.schema) || !r.LenencString(&m.table) ||
      !r.LenencString(&m.org_table) || !r.LenencString(&m.name) || !r.LenencString(&m.org_name)) {
    return "name exceeds the packet";
  }
  if (capabilities_ & cap::kMariaDbExtendedMetadata) {
    std::string_view ext;
    if (!r.LenencString(&ext)) return "extended metadata exceeds the packet";
    m.extended_metadata = ext;
  }
  uint64_t fixed = 0;
  uint8_t type = 0;
  uint16_t filler = 1;
  if (!r.Lenenc(&fixed) || fixed != 0x0c) return "fixed-length fields are not 12 bytes";
  if (!r.U16(&m.character_set) || !r.U32(&m.column_length) || !r.U8(&type) || !r.U16(&m.flags) ||
      !r.U8(&m.decimals) || !r.U16(&filler)) {
    return kTruncated;
  }
  if (filler != 0) return "filler is not 0";
  m.type = static_cast<ColumnType>(type);
  return r.AtEnd() ? nullptr : kTrailing;
}

const char* ServerDecoder::Parse(std::string_view payload, ServerMessage* out) {
  const auto first = static_cast<uint8_t>(payload[0]);
  const bool deprecate_eof = (capabilities_ & cap::kDeprecateEof) != 0;
  const auto err = [&](State next) -> const char* {
    auto& m = out->emplace<ErrPacket>();
    if (const char* e = ParseErr(payload, &m)) return e;
    if (m.error_code != kMariaDbProgressReport) state_ = next;
    return nullptr;
  };
  const auto ok = [&]() -> const char* {
    Reader r(payload);
    return ParseOk(r, capabilities_, &out->emplace<OkPacket>());
  };
  const auto eof = [&]() -> const char* { return ParseEof(payload, &out->emplace<EofPacket>()); };
  // 0xFE in a packet shorter than 0xFFFFFF ends rows (a row cannot start so: a value that long
  // would not fit). 5 bytes or fewer is an EOF; an OK (header 0xFE) has at least 7.
  const auto terminator = [&](uint16_t* status_flags) -> const char* {
    if (payload.size() <= 5 || !deprecate_eof) {
      if (const char* e = eof()) return e;
      *status_flags = std::get<EofPacket>(*out).status_flags;
      return nullptr;
    }
    if (const char* e = ok()) return e;
    *status_flags = std::get<OkPacket>(*out).status_flags;
    return nullptr;
  };
  const bool is_terminator = first == 0xFE && payload.size() < kMaxPacketPayload;

  switch (state_) {
    case State::kGreeting: {
      if (first == 0xFF) return err(State::kIdle);
      auto& m = out->emplace<HandshakeV10>();
      if (const char* e = ParseHandshake(payload, &m)) return e;
      server_capabilities_ = m.full_capabilities();
      state_ = State::kAuth;
      return nullptr;
    }
    case State::kAuth:
      switch (first) {
        case 0x00:
          if (const char* e = ok()) return e;
          state_ = State::kIdle;
          return nullptr;
        case 0xFF:
          return err(State::kIdle);
        case 0xFE: {
          auto& m = out->emplace<AuthSwitchRequest>();
          Reader r(payload.substr(1));
          if (payload.size() == 1) return "old auth switch request (mysql_old_password)";
          if (!r.NulString(&m.plugin_name)) return kBadString;
          m.plugin_data = r.Rest();
          return nullptr;
        }
        case 0x01:
          out->emplace<AuthMoreData>(AuthMoreData{payload.substr(1)});
          return nullptr;
        default:
          out->emplace<RawPacket>(RawPacket{payload});
          return "unexpected packet during authentication";
      }
    case State::kIdle:
      if (first == 0xFF) return err(State::kIdle);
      out->emplace<RawPacket>(RawPacket{payload});
      return "packet with no command in flight";
    case State::kOkOrErr:
    case State::kInfileResult:
      if (first == 0xFF) return err(State::kIdle);
      if (first != 0x00) {
        out->emplace<RawPacket>(RawPacket{payload});
        return "neither OK nor ERR";
      }
      if (const char* e = ok()) return e;
      if (state_ == State::kInfileResult) {
        AfterTerminator(std::get<OkPacket>(*out).status_flags);  // more statements may follow
      } else {
        state_ = State::kIdle;
      }
      return nullptr;
    case State::kResult: {
      if (first == 0xFF) return err(State::kIdle);
      if (first == 0x00) {
        if (const char* e = ok()) return e;
        AfterTerminator(std::get<OkPacket>(*out).status_flags);
        return nullptr;
      }
      if (first == 0xFB) {
        out->emplace<LocalInfileRequest>(LocalInfileRequest{payload.substr(1)});
        state_ = State::kInfileResult;
        return nullptr;
      }
      auto& m = out->emplace<ColumnCount>();
      Reader r(payload);
      if (!r.Lenenc(&m.count) || !r.AtEnd()) return "invalid column count";
      if (m.count == 0 || m.count > limits_.max_columns) return "column count out of range";
      columns_.clear();
      columns_.reserve(m.count);
      columns_left_ = m.count;
      state_ = State::kColumns;
      return nullptr;
    }
    case State::kColumns:
    case State::kPrepareColumns:
    case State::kPrepareParams: {
      if (const char* e = ParseColumnDefinition(payload, out)) return e;
      const auto& def = std::get<ColumnDefinition>(*out);
      if (state_ == State::kPrepareParams) {
        if (--params_left_ > 0) return nullptr;
        state_ = !deprecate_eof  ? State::kPrepareParamsEof
                 : columns_left_ ? State::kPrepareColumns
                                 : State::kIdle;
        return nullptr;
      }
      columns_.push_back(ColumnTypeInfo{def.type, (def.flags & column_flag::kUnsigned) != 0});
      if (--columns_left_ > 0) return nullptr;
      if (state_ == State::kPrepareColumns) {
        EndOfColumns();
        state_ = deprecate_eof ? State::kIdle : State::kPrepareColumnsEof;
      } else {
        if (row_format_ == RowFormat::kBinary) EndOfColumns();
        state_ = deprecate_eof ? State::kRows : State::kColumnsEof;
      }
      return nullptr;
    }
    case State::kPrepareParamsEof:
    case State::kPrepareColumnsEof:
    case State::kColumnsEof: {
      if (first != 0xFE) {
        out->emplace<RawPacket>(RawPacket{payload});
        return "expected EOF after definitions";
      }
      if (const char* e = eof()) return e;
      const uint16_t flags = std::get<EofPacket>(*out).status_flags;
      if (state_ == State::kPrepareParamsEof) {
        state_ = columns_left_ ? State::kPrepareColumns : State::kIdle;
      } else if (state_ == State::kPrepareColumnsEof) {
        state_ = State::kIdle;
      } else if (flags & status::kCursorExists) {
        AfterTerminator(flags);  // rows come with COM_STMT_FETCH
      } else {
        state_ = State::kRows;
      }
      return nullptr;
    }
    case State::kPrepareOk: {
      if (first == 0xFF) return err(State::kIdle);
      auto& m = out->emplace<StmtPrepareOk>();
      Reader r(payload);
      uint8_t header = 1, reserved = 1;
      if (!r.U8(&header) || header != 0x00 || !r.U32(&m.statement_id) || !r.U16(&m.num_columns) ||
          !r.U16(&m.num_params) || !r.U8(&reserved)) {
        return kTruncated;
      }
      if (reserved != 0) return "reserved byte is not 0";
      m.has_warning_count = !r.AtEnd();
      if (m.has_warning_count && !r.U16(&m.warning_count)) return kTruncated;
      if (!r.AtEnd()) return kTrailing;
      if (m.num_columns > limits_.max_columns || m.num_params > limits_.max_columns) {
        return "column or parameter count out of range";
      }
      statement_ = m.statement_id;
      last_prepared_ = m.statement_id;
      row_format_ = RowFormat::kBinary;
      columns_.clear();
      columns_left_ = m.num_columns;
      params_left_ = m.num_params;
      state_ = params_left_    ? State::kPrepareParams
               : columns_left_ ? State::kPrepareColumns
                               : State::kIdle;
      if (state_ == State::kIdle) EndOfColumns();
      return nullptr;
    }
    case State::kRows: {
      if (first == 0xFF) return err(State::kIdle);
      if (is_terminator) {
        uint16_t flags = 0;
        if (const char* e = terminator(&flags)) return e;
        AfterTerminator(flags);
        return nullptr;
      }
      Reader r(payload);
      if (row_format_ == RowFormat::kText) {
        TextRow* row = std::get_if<TextRow>(out);
        if (row == nullptr) row = &out->emplace<TextRow>();
        row->values.resize(columns_.size());
        for (Value& v : row->values) {
          if (r.Peek() == internal::kLenencNull && !r.AtEnd()) {
            std::string_view skip;
            r.Bytes(1, &skip);
            v = Value::Null();
          } else if (!r.LenencString(&v.data)) {
            return "value exceeds the packet";
          } else {
            v.is_null = false;
          }
        }
        return r.AtEnd() ? nullptr : kTrailing;
      }
      BinaryRow* row = std::get_if<BinaryRow>(out);
      if (row == nullptr) row = &out->emplace<BinaryRow>();
      row->columns = columns_;
      row->values.resize(columns_.size());
      uint8_t header = 1;
      std::string_view bitmap;
      if (!r.U8(&header) || header != 0x00) return "binary row header is not 0x00";
      if (const char* e = ReadNullBitmap(r, columns_.size(), 2, &bitmap)) return e;
      for (size_t i = 0; i < columns_.size(); ++i) {
        if (BitSet(bitmap, i + 2)) {
          row->values[i] = Value::Null();
        } else if (const char* e = ReadBinaryValue(r, columns_[i].type, &row->values[i])) {
          return e;
        }
      }
      return r.AtEnd() ? nullptr : kTrailing;
    }
    case State::kOpaque:
      out->emplace<RawPacket>(RawPacket{payload});
      return nullptr;
  }
  return "unreachable decoder state";
}

}  // namespace veil::mysql
