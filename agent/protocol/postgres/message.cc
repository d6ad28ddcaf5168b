#include "agent/protocol/postgres/message.h"

#include <type_traits>

namespace veil::pg {

std::optional<std::string_view> StartupMessage::Get(std::string_view name) const {
  for (const auto& [key, value] : parameters) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string_view ResponseFields::Get(char code) const {
  for (const ResponseField& f : fields) {
    if (f.code == code) return f.value;
  }
  return {};
}

void ResponseFields::Set(char code, std::string value) {
  for (ResponseField& f : fields) {
    if (f.code == code) {
      f.value = std::move(value);
      return;
    }
  }
  fields.push_back(ResponseField{code, std::move(value)});
}

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kError:
      return "ERROR";
    case Severity::kFatal:
      return "FATAL";
    case Severity::kPanic:
      return "PANIC";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kNotice:
      return "NOTICE";
    case Severity::kDebug:
      return "DEBUG";
    case Severity::kInfo:
      return "INFO";
    case Severity::kLog:
      return "LOG";
  }
  return "ERROR";
}

ErrorResponse MakeError(Severity severity, std::string_view sqlstate, std::string_view message,
                        std::string_view hint) {
  ErrorResponse e;
  e.fields.reserve(hint.empty() ? 4 : 5);
  const std::string name(SeverityName(severity));
  e.fields.push_back({field::kSeverity, name});
  e.fields.push_back({field::kSeverityNonLocalized, name});
  e.fields.push_back({field::kSqlState, std::string(sqlstate)});
  e.fields.push_back({field::kMessage, std::string(message)});
  if (!hint.empty()) e.fields.push_back({field::kHint, std::string(hint)});
  return e;
}

namespace {

template <typename T>
constexpr std::string_view NameOf() {
  if constexpr (std::is_same_v<T, StartupMessage>) return "StartupMessage";
  if constexpr (std::is_same_v<T, SslRequest>) return "SSLRequest";
  if constexpr (std::is_same_v<T, GssEncRequest>) return "GSSENCRequest";
  if constexpr (std::is_same_v<T, CancelRequest>) return "CancelRequest";
  if constexpr (std::is_same_v<T, Query>) return "Query";
  if constexpr (std::is_same_v<T, Parse>) return "Parse";
  if constexpr (std::is_same_v<T, Bind>) return "Bind";
  if constexpr (std::is_same_v<T, Describe>) return "Describe";
  if constexpr (std::is_same_v<T, Execute>) return "Execute";
  if constexpr (std::is_same_v<T, Close>) return "Close";
  if constexpr (std::is_same_v<T, Sync>) return "Sync";
  if constexpr (std::is_same_v<T, Flush>) return "Flush";
  if constexpr (std::is_same_v<T, Terminate>) return "Terminate";
  if constexpr (std::is_same_v<T, CopyData>) return "CopyData";
  if constexpr (std::is_same_v<T, CopyDone>) return "CopyDone";
  if constexpr (std::is_same_v<T, CopyFail>) return "CopyFail";
  if constexpr (std::is_same_v<T, AuthenticationResponse>) return "PasswordMessage";
  if constexpr (std::is_same_v<T, FunctionCall>) return "FunctionCall";
  if constexpr (std::is_same_v<T, EncryptionResponse>) return "EncryptionResponse";
  if constexpr (std::is_same_v<T, Authentication>) return "Authentication";
  if constexpr (std::is_same_v<T, BackendKeyData>) return "BackendKeyData";
  if constexpr (std::is_same_v<T, ParameterStatus>) return "ParameterStatus";
  if constexpr (std::is_same_v<T, ReadyForQuery>) return "ReadyForQuery";
  if constexpr (std::is_same_v<T, RowDescription>) return "RowDescription";
  if constexpr (std::is_same_v<T, DataRowView>) return "DataRow";
  if constexpr (std::is_same_v<T, CommandComplete>) return "CommandComplete";
  if constexpr (std::is_same_v<T, EmptyQueryResponse>) return "EmptyQueryResponse";
  if constexpr (std::is_same_v<T, ErrorResponse>) return "ErrorResponse";
  if constexpr (std::is_same_v<T, NoticeResponse>) return "NoticeResponse";
  if constexpr (std::is_same_v<T, NotificationResponse>) return "NotificationResponse";
  if constexpr (std::is_same_v<T, ParseComplete>) return "ParseComplete";
  if constexpr (std::is_same_v<T, BindComplete>) return "BindComplete";
  if constexpr (std::is_same_v<T, CloseComplete>) return "CloseComplete";
  if constexpr (std::is_same_v<T, NoData>) return "NoData";
  if constexpr (std::is_same_v<T, PortalSuspended>) return "PortalSuspended";
  if constexpr (std::is_same_v<T, ParameterDescription>) return "ParameterDescription";
  if constexpr (std::is_same_v<T, CopyInResponse>) return "CopyInResponse";
  if constexpr (std::is_same_v<T, CopyOutResponse>) return "CopyOutResponse";
  if constexpr (std::is_same_v<T, CopyBothResponse>) return "CopyBothResponse";
  if constexpr (std::is_same_v<T, FunctionCallResponse>) return "FunctionCallResponse";
  if constexpr (std::is_same_v<T, NegotiateProtocolVersion>) return "NegotiateProtocolVersion";
  return "Unknown";
}

}  // namespace

std::string_view MessageName(const FrontendMessage& message) {
  return std::visit([](const auto& m) { return NameOf<std::decay_t<decltype(m)>>(); }, message);
}

std::string_view MessageName(const BackendMessage& message) {
  return std::visit([](const auto& m) { return NameOf<std::decay_t<decltype(m)>>(); }, message);
}

}  // namespace veil::pg
