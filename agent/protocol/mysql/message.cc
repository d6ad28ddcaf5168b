#include "agent/protocol/mysql/message.h"

#include <cstring>

#include "agent/protocol/mysql/internal/wire.h"

namespace veil::mysql {

namespace {

// MariaDB keeps its extended capabilities in the last 4 bytes of a reserved field when the
// client or server clears CLIENT_MYSQL (bit 0).
template <size_t N>
uint64_t WithMariaDbExtension(uint32_t caps, const std::array<uint8_t, N>& reserved) {
  uint64_t full = caps;
  if ((caps & cap::kLongPassword) == 0) {
    full |= internal::LoadLe(reserved.data() + N - 4, 4) << 32;
  }
  return full;
}

template <size_t N>
void StoreMariaDbExtension(uint64_t caps, std::array<uint8_t, N>* reserved) {
  const auto ext = static_cast<uint32_t>(caps >> 32);
  for (size_t i = 0; i < 4; ++i) (*reserved)[N - 4 + i] = static_cast<uint8_t>(ext >> (8 * i));
}

}  // namespace

uint64_t HandshakeV10::full_capabilities() const {
  return WithMariaDbExtension(capabilities, reserved);
}
void HandshakeV10::set_full_capabilities(uint64_t caps) {
  capabilities = static_cast<uint32_t>(caps);
  if ((capabilities & cap::kLongPassword) == 0) StoreMariaDbExtension(caps, &reserved);
}
std::string HandshakeV10::scramble() const {
  std::string s(auth_plugin_data_1);
  std::string_view part2 = auth_plugin_data_2;
  if (!part2.empty() && part2.back() == '\0') part2.remove_suffix(1);
  s.append(part2);
  return s;
}

uint64_t SslRequest::full_capabilities() const {
  return WithMariaDbExtension(capabilities, filler);
}
uint64_t HandshakeResponse41::full_capabilities() const {
  return WithMariaDbExtension(capabilities, filler);
}
void HandshakeResponse41::set_full_capabilities(uint64_t caps) {
  capabilities = static_cast<uint32_t>(caps);
  if ((capabilities & cap::kLongPassword) == 0) StoreMariaDbExtension(caps, &filler);
}

ErrPacket MakeErr(uint16_t error_code, std::string_view sql_state, std::string_view message) {
  return ErrPacket{error_code, std::string(sql_state), std::string(message)};
}

BinaryLayout BinaryLayoutOf(ColumnType type) {
  switch (type) {
    case ColumnType::kTiny:
    case ColumnType::kShort:
    case ColumnType::kYear:
    case ColumnType::kLong:
    case ColumnType::kInt24:
    case ColumnType::kLongLong:
    case ColumnType::kFloat:
    case ColumnType::kDouble:
      return BinaryLayout::kFixed;
    case ColumnType::kNull:
      return BinaryLayout::kNone;
    case ColumnType::kDate:
    case ColumnType::kDateTime:
    case ColumnType::kTimestamp:
    case ColumnType::kTime:
      return BinaryLayout::kTemporal;
    case ColumnType::kDecimal:
    case ColumnType::kNewDecimal:
    case ColumnType::kVarchar:
    case ColumnType::kBit:
    case ColumnType::kVector:
    case ColumnType::kJson:
    case ColumnType::kEnum:
    case ColumnType::kSet:
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
    case ColumnType::kBlob:
    case ColumnType::kVarString:
    case ColumnType::kString:
    case ColumnType::kGeometry:
      return BinaryLayout::kLengthCoded;
    default:
      return BinaryLayout::kInvalid;
  }
}

size_t BinaryFixedSize(ColumnType type) {
  switch (type) {
    case ColumnType::kTiny:
      return 1;
    case ColumnType::kShort:
    case ColumnType::kYear:
      return 2;
    case ColumnType::kLong:
    case ColumnType::kInt24:
    case ColumnType::kFloat:
      return 4;
    case ColumnType::kLongLong:
    case ColumnType::kDouble:
      return 8;
    default:
      return 0;
  }
}

bool IsTextLike(ColumnType type) {
  switch (type) {
    case ColumnType::kVarchar:
    case ColumnType::kJson:
    case ColumnType::kEnum:
    case ColumnType::kSet:
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
    case ColumnType::kBlob:
    case ColumnType::kVarString:
    case ColumnType::kString:
      return true;
    default:
      return false;
  }
}

namespace {
template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;  // Clang 14 does not deduce aggregates' bases yet
}  // namespace

std::string_view MessageName(const ClientMessage& message) {
  return std::visit(
      Overloaded{
          [](const SslRequest&) { return std::string_view("SSLRequest"); },
          [](const HandshakeResponse41&) { return std::string_view("HandshakeResponse41"); },
          [](const AuthData&) { return std::string_view("AuthData"); },
          [](const ComQuit&) { return std::string_view("COM_QUIT"); },
          [](const ComInitDb&) { return std::string_view("COM_INIT_DB"); },
          [](const ComQuery&) { return std::string_view("COM_QUERY"); },
          [](const ComPing&) { return std::string_view("COM_PING"); },
          [](const ComChangeUser&) { return std::string_view("COM_CHANGE_USER"); },
          [](const ComResetConnection&) { return std::string_view("COM_RESET_CONNECTION"); },
          [](const ComStmtPrepare&) { return std::string_view("COM_STMT_PREPARE"); },
          [](const ComStmtExecute&) { return std::string_view("COM_STMT_EXECUTE"); },
          [](const ComStmtFetch&) { return std::string_view("COM_STMT_FETCH"); },
          [](const ComStmtClose&) { return std::string_view("COM_STMT_CLOSE"); },
          [](const ComStmtReset&) { return std::string_view("COM_STMT_RESET"); },
          [](const ComStmtSendLongData&) { return std::string_view("COM_STMT_SEND_LONG_DATA"); },
          [](const ComProcessKill&) { return std::string_view("COM_PROCESS_KILL"); },
          [](const UnknownCommand&) { return std::string_view("unknown command"); },
      },
      message);
}

std::string_view MessageName(const ServerMessage& message) {
  return std::visit(
      Overloaded{
          [](const HandshakeV10&) { return std::string_view("HandshakeV10"); },
          [](const OkPacket&) { return std::string_view("OK"); },
          [](const ErrPacket&) { return std::string_view("ERR"); },
          [](const EofPacket&) { return std::string_view("EOF"); },
          [](const AuthSwitchRequest&) { return std::string_view("AuthSwitchRequest"); },
          [](const AuthMoreData&) { return std::string_view("AuthMoreData"); },
          [](const ColumnCount&) { return std::string_view("ColumnCount"); },
          [](const ColumnDefinition&) { return std::string_view("ColumnDefinition41"); },
          [](const TextRow&) { return std::string_view("TextResultsetRow"); },
          [](const BinaryRow&) { return std::string_view("BinaryResultsetRow"); },
          [](const StmtPrepareOk&) { return std::string_view("COM_STMT_PREPARE_OK"); },
          [](const LocalInfileRequest&) { return std::string_view("LOCAL INFILE request"); },
          [](const RawPacket&) { return std::string_view("packet"); },
      },
      message);
}

// --- Binary values -----------------------------------------------------------------------------

std::optional<int64_t> ReadBinaryInteger(std::string_view data, bool is_unsigned) {
  const size_t n = data.size();
  if (n != 1 && n != 2 && n != 4 && n != 8) return std::nullopt;
  uint64_t v = internal::LoadLe(reinterpret_cast<const uint8_t*>(data.data()), n);
  if (!is_unsigned && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);
  return static_cast<int64_t>(v);
}

std::optional<double> ReadBinaryDouble(std::string_view data) {
  if (data.size() != 8) return std::nullopt;
  const uint64_t bits = internal::LoadLe(reinterpret_cast<const uint8_t*>(data.data()), 8);
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

std::optional<float> ReadBinaryFloat(std::string_view data) {
  if (data.size() != 4) return std::nullopt;
  const auto bits =
      static_cast<uint32_t>(internal::LoadLe(reinterpret_cast<const uint8_t*>(data.data()), 4));
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::optional<BinaryDateTime> ReadBinaryDateTime(std::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  BinaryDateTime v;
  switch (data.size()) {
    case 11:
      v.microsecond = static_cast<uint32_t>(internal::LoadLe(p + 7, 4));
      [[fallthrough]];
    case 7:
      v.hour = p[4], v.minute = p[5], v.second = p[6];
      [[fallthrough]];
    case 4:
      v.year = static_cast<uint16_t>(internal::LoadLe(p, 2)), v.month = p[2], v.day = p[3];
      [[fallthrough]];
    case 0:
      return v;
    default:
      return std::nullopt;
  }
}

std::optional<BinaryTime> ReadBinaryTime(std::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  BinaryTime v;
  switch (data.size()) {
    case 12:
      v.microsecond = static_cast<uint32_t>(internal::LoadLe(p + 8, 4));
      [[fallthrough]];
    case 8:
      v.negative = p[0] == 1;
      v.days = static_cast<uint32_t>(internal::LoadLe(p + 1, 4));
      v.hour = p[5], v.minute = p[6], v.second = p[7];
      [[fallthrough]];
    case 0:
      return v;
    default:
      return std::nullopt;
  }
}

std::string BinaryInteger(int64_t v, size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  return s;
}

std::string BinaryDouble(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return BinaryInteger(static_cast<int64_t>(bits), 8);
}

std::string BinaryDateTimeBytes(const BinaryDateTime& v) {
  std::string s;
  if (v == BinaryDateTime{}) return s;
  s += BinaryInteger(v.year, 2);
  s += static_cast<char>(v.month);
  s += static_cast<char>(v.day);
  if (v.hour == 0 && v.minute == 0 && v.second == 0 && v.microsecond == 0) return s;
  s += static_cast<char>(v.hour);
  s += static_cast<char>(v.minute);
  s += static_cast<char>(v.second);
  if (v.microsecond != 0) s += BinaryInteger(v.microsecond, 4);
  return s;
}

std::string BinaryTimeBytes(const BinaryTime& v) {
  std::string s;
  if (v == BinaryTime{}) return s;
  s += static_cast<char>(v.negative ? 1 : 0);
  s += BinaryInteger(v.days, 4);
  s += static_cast<char>(v.hour);
  s += static_cast<char>(v.minute);
  s += static_cast<char>(v.second);
  if (v.microsecond != 0) s += BinaryInteger(v.microsecond, 4);
  return s;
}

}  // namespace veil::mysql
