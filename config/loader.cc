#include "config/loader.h"

#include <arpa/inet.h>
#include <hs.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"

namespace veil::config {

std::string Diagnostic::ToString() const {
  if (pos.line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col) + ": " + message;
}

std::optional<SourcePos> SourceMap::Find(std::string_view path) const {
  auto it = positions_.find(std::string(path));
  if (it == positions_.end()) return std::nullopt;
  return it->second;
}

std::optional<SourcePos> SourceMap::FindNearest(std::string_view path) const {
  std::string p(path);
  while (true) {
    if (auto pos = Find(p)) return pos;
    if (p.empty()) return std::nullopt;
    // Drop the last component: ".key" or "[i]".
    size_t cut = p.find_last_of(".[");
    p.resize(cut == std::string::npos ? 0 : cut);
  }
}

void SourceMap::Add(std::string path, SourcePos pos) { positions_[std::move(path)] = pos; }

Diagnostic LoadedConfig::At(std::string_view path, std::string message) const {
  return Diagnostic{file, positions.FindNearest(path).value_or(SourcePos{}), std::move(message)};
}

namespace {

namespace pb = google::protobuf;

constexpr char kDefaultEventsPath[] = "/var/log/veil/events.jsonl";
constexpr char kDefaultSyslogAddress[] = "unix:///dev/log";
constexpr uint64_t kDefaultSinkMaxSize = 100ull << 20;  // 100MiB
constexpr uint32_t kDefaultSinkKeep = 10;

// ---------------------------------------------------------------------------------------------
// Small text helpers.

std::string Quote(std::string_view s) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (++n > 60) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JoinPath(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string IndexPath(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// "in endpoints[0]" / "at top level", for messages about keys.
std::string Where(const std::string& path) { return path.empty() ? "at top level" : "in " + path; }

std::string JoinList(const std::vector<std::string>& items, std::string_view last_sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? std::string(last_sep) : ", ";
    out += items[i];
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean "x"?)" for the closest candidate within a small edit distance, else "".
std::string Suggest(std::string_view given, const std::vector<std::string>& candidates) {
  std::string g = Lower(given);
  size_t limit = g.size() <= 4 ? 1 : g.size() <= 8 ? 2 : 3;
  size_t best = limit + 1;
  const std::string* pick = nullptr;
  for (const auto& c : candidates) {
    size_t d = EditDistance(g, Lower(c));
    if (d < best && d < c.size()) {
      best = d;
      pick = &c;
    }
  }
  return pick ? " (did you mean " + Quote(*pick) + "?)" : "";
}

bool AllOf(std::string_view s, bool (*pred)(char)) { return std::all_of(s.begin(), s.end(), pred); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------------------------
// Value formats. Each returns "" when `s` is valid, else the reason (which quotes `s`).

std::string CheckName(std::string_view s) {
  bool ok = !s.empty() && s.size() <= 63 &&
            AllOf(s, [](char c) { return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-'; });
  return ok ? "" : Quote(s) + " is not a valid name (use a-z, 0-9 and '-', at most 63 characters)";
}

std::string CheckAbsolutePath(std::string_view s) {
  if (s.empty() || s[0] != '/' || s.find('\0') != std::string_view::npos) {
    return Quote(s) + " is not an absolute path";
  }
  return "";
}

bool IsEntityName(std::string_view s) {
  return !s.empty() && s[0] >= 'A' && s[0] <= 'Z' &&
         AllOf(s, [](char c) { return (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_'; });
}

std::string CheckEntityName(std::string_view s) {
  return IsEntityName(s) ? ""
                         : Quote(s) + " is not an entity name (UPPER_SNAKE, e.g. EMAIL, US_SSN)";
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// Returns the reason `s` is not host:port, or "".
std::string HostPortProblem(std::string_view s) {
  std::string host;
  std::string_view port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return "missing ']'";
    host = std::string(s.substr(1, close - 1));
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return "bad IPv6 address";
    if (close + 1 >= s.size() || s[close + 1] != ':') return "missing \":port\"";
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return "missing \":port\"";
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "write an IPv6 address in brackets, e.g. [::1]:5432";
    }
    if (host.empty()) return "missing host";
    if (AllOf(host, [](char c) { return IsDigit(c) || c == '.'; })) {
      in_addr a4;
      if (inet_pton(AF_INET, host.c_str(), &a4) != 1) return "bad IPv4 address";
    } else if (!IsHostName(host)) {
      return "bad host name";
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
      value > 65535) {
    return "port must be 1-65535";
  }
  return "";
}

std::string CheckHostPort(std::string_view s) {
  std::string why = HostPortProblem(s);
  return why.empty() ? "" : Quote(s) + " is not a host:port (" + why + ")";
}

std::string CheckPrincipal(std::string_view s) {
  static const std::string kExpected =
      " (expected user:NAME, group:NAME, unit:NAME.service, container:ID or exe:/abs/path)";
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return Quote(s) + " is not a principal" + kExpected;
  std::string_view kind = s.substr(0, colon);
  std::string_view name = s.substr(colon + 1);
  auto account_ok = [](std::string_view n) {
    return !n.empty() && n.size() <= 64 && n[0] != '-' && AllOf(n, [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
             c == '$';
    });
  };
  if (kind == "user" || kind == "group") {
    if (account_ok(name)) return "";
    return Quote(s) + " is not a principal (bad " + std::string(kind) + " name)";
  }
  if (kind == "unit") {
    constexpr std::string_view kSuffix = ".service";
    bool ok = name.size() > kSuffix.size() && name.ends_with(kSuffix) && AllOf(name, [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                       c == '.' || c == '@' || c == ':' || c == '\\';
              });
    return ok ? "" : Quote(s) + " is not a principal (expected unit:NAME.service)";
  }
  if (kind == "container") {
    bool ok = name.size() >= 12 && name.size() <= 64 &&
              AllOf(name, [](char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); });
    return ok ? "" : Quote(s) + " is not a principal (a container ID is 12-64 hex digits)";
  }
  if (kind == "exe") {
    return CheckAbsolutePath(name).empty()
               ? ""
               : Quote(s) + " is not a principal (exe: needs an absolute path)";
  }
  return Quote(s) + " is not a principal" + kExpected;
}

std::string CheckRegex(std::string_view s) {
  if (s.empty()) return "the regex is empty";
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* error = nullptr;
  std::string pattern(s);
  if (hs_expression_info(pattern.c_str(), HS_FLAG_UTF8, &info, &error) != HS_SUCCESS) {
    std::string why = error && error->message ? error->message : "does not compile";
    hs_free_compile_error(error);
    return "bad regex " + Quote(s) + ": " + why;
  }
  std::free(info);  // allocated with the default misc allocator
  return "";
}

std::string CheckColumnGlob(std::string_view s) {
  size_t parts = 1;
  bool ok =
      !s.empty() && s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos;
  for (char c : s) parts += c == '.';
  if (ok && (parts == 2 || parts == 3)) return "";
  return Quote(s) + " is not a column glob (expected [schema.]table.column, e.g. *.ssn)";
}

std::string CheckSyslogAddress(std::string_view s) {
  if (s.starts_with("unix://")) {
    if (CheckAbsolutePath(s.substr(7)).empty()) return "";
  } else if (s.starts_with("udp://") || s.starts_with("tcp://")) {
    if (HostPortProblem(s.substr(6)).empty()) return "";
  }
  return Quote(s) +
         " is not a syslog address (expected unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT)";
}

std::string CheckHostOrCidr(std::string_view s) {
  std::string addr(s.substr(0, s.find('/')));
  const bool cidr = s.find('/') != std::string_view::npos;
  in_addr a4;
  in6_addr a6;
  unsigned max_len = 0;
  if (inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
    max_len = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
    max_len = 128;
  } else if (!cidr && IsHostName(addr) &&
             !AllOf(addr, [](char c) { return IsDigit(c) || c == '.'; })) {
    return "";
  } else {
    return Quote(s) +
           " is not a host name, address or CIDR (e.g. db-alias, 10.0.0.6, 10.0.0.0/24, fd00::/64)";
  }
  if (!cidr) return "";
  std::string_view len = s.substr(s.find('/') + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
  if (len.empty() || ec != std::errc() || end != len.data() + len.size() || value > max_len) {
    return Quote(s) + " is not a CIDR (the prefix length must be 0-" + std::to_string(max_len) +
           ")";
  }
  return "";
}

std::string CheckFormat(v1::Format format, std::string_view s) {
  switch (format) {
    case v1::FORMAT_NAME:
      return CheckName(s);
    case v1::FORMAT_ABSOLUTE_PATH:
      return CheckAbsolutePath(s);
    case v1::FORMAT_HOST_PORT:
      return CheckHostPort(s);
    case v1::FORMAT_HOST_PORT_OR_EMPTY:
      return s.empty() ? "" : CheckHostPort(s);
    case v1::FORMAT_PRINCIPAL:
      return CheckPrincipal(s);
    case v1::FORMAT_REGEX:
      return CheckRegex(s);
    case v1::FORMAT_ENTITY_NAME:
      return CheckEntityName(s);
    case v1::FORMAT_ENTITY_OR_ALL:
      return s == "all" || IsEntityName(s)
                 ? ""
                 : Quote(s) + " is not an entity name (UPPER_SNAKE, e.g. EMAIL) or \"all\"";
    case v1::FORMAT_ENTITY_OR_DEFAULT:
      return s == "default" || IsEntityName(s)
                 ? ""
                 : Quote(s) + " is not an entity name (UPPER_SNAKE, e.g. EMAIL) or \"default\"";
    case v1::FORMAT_COLUMN_GLOB:
      return CheckColumnGlob(s);
    case v1::FORMAT_SYSLOG_ADDRESS:
      return CheckSyslogAddress(s);
    case v1::FORMAT_HOST_OR_CIDR:
      return CheckHostOrCidr(s);
    default:
      return "";
  }
}

// ---------------------------------------------------------------------------------------------
// Durations and byte sizes.

// "90s", "30m", "4h", "1h30m", "1d", "500ms".
std::optional<pb::Duration> ParseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  constexpr int64_t kMaxSeconds = 100ll * 365 * 86400;
  int64_t nanos_total = 0;  // fits: 100 years < 2^63 ns
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return std::nullopt;
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data() + start, s.data() + i, n);
    if (ec != std::errc() || n > kMaxSeconds * 1000) return std::nullopt;
    int64_t unit_ns;
    if (s.substr(i, 2) == "ms") {
      unit_ns = 1'000'000;
      i += 2;
    } else if (i < s.size() && (s[i] == 's' || s[i] == 'm' || s[i] == 'h' || s[i] == 'd')) {
      unit_ns = s[i] == 's'   ? 1'000'000'000ll
                : s[i] == 'm' ? 60'000'000'000ll
                : s[i] == 'h' ? 3'600'000'000'000ll
                              : 86'400'000'000'000ll;
      ++i;
    } else {
      return std::nullopt;
    }
    if (n > (kMaxSeconds * 1'000'000'000ll - nanos_total) / unit_ns) return std::nullopt;
    nanos_total += n * unit_ns;
  }
  pb::Duration d;
  d.set_seconds(nanos_total / 1'000'000'000);
  d.set_nanos(static_cast<int32_t>(nanos_total % 1'000'000'000));
  return d;
}

std::optional<uint64_t> ParseByteSize(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == 0) return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + i, n);
  if (ec != std::errc()) return std::nullopt;
  std::string_view unit = s.substr(i);
  if (!unit.empty() && unit[0] == ' ') unit.remove_prefix(1);
  static const std::map<std::string_view, uint64_t> kUnits = {
      {"", 1},
      {"B", 1},
      {"KB", 1000ull},
      {"kB", 1000ull},
      {"MB", 1000ull * 1000},
      {"GB", 1000ull * 1000 * 1000},
      {"TB", 1000ull * 1000 * 1000 * 1000},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
  };
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  if (n > std::numeric_limits<uint64_t>::max() / it->second) return std::nullopt;
  return n * it->second;
}

// ---------------------------------------------------------------------------------------------
// Enums: YAML `verify-full` <-> UPSTREAM_TLS_VERIFY_FULL.

std::string EnumPrefix(const pb::EnumDescriptor* e) {
  const pb::EnumValueDescriptor* zero = e->FindValueByNumber(0);
  constexpr std::string_view kUnspecified = "UNSPECIFIED";
  if (zero && std::string_view(zero->name()).ends_with(kUnspecified)) {
    return zero->name().substr(0, zero->name().size() - kUnspecified.size());
  }
  return "";
}

std::string YamlEnumName(const pb::EnumValueDescriptor* v) {
  std::string prefix = EnumPrefix(v->type());
  std::string name = v->name().substr(std::min(prefix.size(), v->name().size()));
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return name;
}

std::vector<std::string> YamlEnumNames(const pb::EnumDescriptor* e) {
  std::vector<std::string> names;
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->number() != 0) names.push_back(YamlEnumName(e->value(i)));
  }
  return names;
}

const pb::EnumValueDescriptor* FindYamlEnum(const pb::EnumDescriptor* e, std::string_view s) {
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->number() != 0 && YamlEnumName(e->value(i)) == s) return e->value(i);
  }
  return nullptr;
}

bool IsDuration(const pb::FieldDescriptor* f) {
  return f->message_type() &&
         f->message_type()->full_name() == pb::Duration::descriptor()->full_name();
}

// The field a message's scalar form sets, or nullptr.
const pb::FieldDescriptor* ScalarField(const pb::Descriptor* d) {
  const std::string& name = d->options().GetExtension(v1::scalar_field);
  return name.empty() ? nullptr : d->FindFieldByName(name);
}

// What a value of this field looks like, for "expected ..., got ..." messages.
std::string Expected(const pb::FieldDescriptor* f, const pb::FieldDescriptor* opts) {
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      if (IsDuration(f)) return "a duration";
      if (const auto* sf = ScalarField(f->message_type())) {
        return "one of " + JoinList(YamlEnumNames(sf->enum_type())) + " or a map";
      }
      return "a map";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return "one of " + JoinList(YamlEnumNames(f->enum_type()));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    default:
      return opts->options().GetExtension(v1::value_format) == v1::FORMAT_BYTE_SIZE ? "a byte size"
                                                                                    : "an integer";
  }
}

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return Quote(n.Scalar());
    default:
      return "nothing";
  }
}

SourcePos PosOf(const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

// A scalar as read from YAML (or from a (default_value) option).
struct Scalar {
  std::string text;
  bool quoted = false;  // "..." or '...': a string even if it looks like a number
  bool null = false;    // ~, null, or nothing
};

// ---------------------------------------------------------------------------------------------
// The YAML -> message reader.

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void Error(SourcePos pos, std::string message) {
    diagnostics_.push_back(Diagnostic{file_, pos, std::move(message)});
  }
  void ErrorAt(std::string_view path, std::string message) {
    Error(positions_.FindNearest(path).value_or(SourcePos{}), std::move(message));
  }

  // Reads a YAML map (or a message's scalar form) into `msg`.
  void ReadMessage(const YAML::Node& node, pb::Message* msg, const std::string& path,
                   const std::string& label) {
    const pb::Descriptor* d = msg->GetDescriptor();
    const pb::FieldDescriptor* scalar_field = ScalarField(d);
    if (node.IsScalar() && scalar_field) {
      ReadValue(node, msg, scalar_field, scalar_field, path, label);
      return;
    }
    if (!node.IsMap()) {
      Error(PosOf(node),
            (label.empty() ? "top level" : label) + ": expected " +
                (scalar_field
                     ? "one of " + JoinList(YamlEnumNames(scalar_field->enum_type())) + " or a map"
                     : "a map") +
                ", got " + Describe(node));
      return;
    }
    std::set<std::string> keys;
    std::map<const pb::FieldDescriptor*, std::string> given;  // field -> key spelling used
    std::map<const pb::OneofDescriptor*, std::string> oneof_given;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value = it->second;
      if (!key_node.IsScalar()) {
        Error(PosOf(key_node),
              "a key must be a string, got " + Describe(key_node) + " " + Where(path));
        continue;
      }
      const std::string& key = key_node.Scalar();
      if (!keys.insert(key).second) {
        Error(PosOf(key_node), "duplicate key " + Quote(key) + " " + Where(path));
        continue;
      }
      const pb::FieldDescriptor* f = FindField(d, key);
      if (!f) {
        Error(PosOf(key_node),
              "unknown key " + Quote(key) + " " + Where(path) + Suggest(key, KeyNames(d)));
        continue;
      }
      if (given.count(f)) {
        Error(PosOf(key_node), "duplicate key " + Quote(key) + " (also given as " +
                                   Quote(given[f]) + ") " + Where(path));
        continue;
      }
      given[f] = key;
      if (const pb::OneofDescriptor* o = f->containing_oneof()) {
        if (oneof_given.count(o)) {
          Error(PosOf(key_node), Quote(key) + " cannot be combined with " + Quote(oneof_given[o]) +
                                     " " + Where(path));
          continue;
        }
        oneof_given[o] = key;
      }
      std::string field_path = JoinPath(path, f->name());
      positions_.Add(field_path, PosOf(value));
      if (value.IsNull() && !NullIsAValue(f)) {
        if (f->options().GetExtension(v1::required)) {
          Error(PosOf(value), key + ": a value is required");
        }
        continue;  // `key:` with nothing: as if absent
      }
      explicit_.insert(field_path);
      ReadField(value, msg, f, field_path, key);
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f->options().GetExtension(v1::required) && !given.count(f)) {
        Error(PosOf(node), "missing required key " + Quote(f->name()) + " " + Where(path));
      }
    }
  }

  // Fills (default_value) options for every field absent from the file, recursively.
  void ApplyDefaults(pb::Message* msg, const std::string& path) {
    const pb::Descriptor* d = msg->GetDescriptor();
    const pb::Reflection* r = msg->GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      std::string field_path = JoinPath(path, f->name());
      if (f->is_map()) {
        const pb::FieldDescriptor* value_field = f->message_type()->map_value();
        if (value_field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
        for (int j = 0; j < r->FieldSize(*msg, f); ++j) {
          pb::Message* entry = r->MutableRepeatedMessage(msg, f, j);
          const pb::Reflection* er = entry->GetReflection();
          std::string key = er->GetString(*entry, f->message_type()->map_key());
          ApplyDefaults(er->MutableMessage(entry, value_field), JoinPath(field_path, key));
        }
        continue;
      }
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !IsDuration(f)) {
        if (f->is_repeated()) {
          for (int j = 0; j < r->FieldSize(*msg, f); ++j) {
            ApplyDefaults(r->MutableRepeatedMessage(msg, f, j), IndexPath(field_path, j));
          }
        } else if (!f->containing_oneof()) {
          ApplyDefaults(r->MutableMessage(msg, f), field_path);
        }
        continue;
      }
      const std::string& text = f->options().GetExtension(v1::default_value);
      if (text.empty() || explicit_.count(field_path)) continue;
      std::string error = SetScalar(msg, f, f, Scalar{text});
      if (!error.empty()) ErrorAt(field_path, "internal error: bad default for " + field_path);
    }
  }

  // Whether a value at `path` or below it was reported invalid (so that checks on what is left
  // of it do not pile a second error onto the first).
  bool HadError(const std::string& path) const {
    auto it = error_paths_.lower_bound(path);
    if (it == error_paths_.end() || it->compare(0, path.size(), path) != 0) return false;
    return it->size() == path.size() || (*it)[path.size()] == '.' || (*it)[path.size()] == '[';
  }

  SourceMap& positions() { return positions_; }
  const std::set<std::string>& explicit_paths() const { return explicit_; }
  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

 private:
  static const pb::FieldDescriptor* FindField(const pb::Descriptor* d, const std::string& key) {
    const pb::FieldDescriptor* scalar_field = ScalarField(d);
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f == scalar_field) continue;
      if (f->name() == key) return f;
      for (const auto& alias : f->options().GetRepeatedExtension(v1::yaml_alias)) {
        if (alias == key) return f;
      }
    }
    return nullptr;
  }

  static std::vector<std::string> KeyNames(const pb::Descriptor* d) {
    std::vector<std::string> names;
    const pb::FieldDescriptor* scalar_field = ScalarField(d);
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f == scalar_field) continue;
      names.push_back(f->name());
      for (const auto& alias : f->options().GetRepeatedExtension(v1::yaml_alias)) {
        names.push_back(alias);
      }
    }
    return names;
  }

  // An enum with a `null` value takes YAML's null scalar as that value (strategy: null).
  static bool NullIsAValue(const pb::FieldDescriptor* f) {
    return f->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM &&
           FindYamlEnum(f->enum_type(), "null") != nullptr;
  }

  void ReadField(const YAML::Node& value, pb::Message* msg, const pb::FieldDescriptor* f,
                 const std::string& path, const std::string& label) {
    if (f->is_map()) {
      ReadMap(value, msg, f, path, label);
      return;
    }
    if (!f->is_repeated()) {
      ReadValue(value, msg, f, f, path, label);
      return;
    }
    if (value.IsScalar() && f->options().GetExtension(v1::accept_scalar)) {
      positions_.Add(IndexPath(path, 0), PosOf(value));
      ReadValue(value, msg, f, f, IndexPath(path, 0), label);
      return;
    }
    if (!value.IsSequence()) {
      Error(PosOf(value), label + ": expected a list, got " + Describe(value));
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) {
      const YAML::Node item = value[i];
      std::string item_path = IndexPath(path, i);
      positions_.Add(item_path, PosOf(item));
      ReadValue(item, msg, f, f, item_path, IndexPath(label, i));
    }
  }

  void ReadMap(const YAML::Node& value, pb::Message* msg, const pb::FieldDescriptor* f,
               const std::string& path, const std::string& label) {
    if (!value.IsMap()) {
      Error(PosOf(value), label + ": expected a map, got " + Describe(value));
      return;
    }
    const pb::FieldDescriptor* key_field = f->message_type()->map_key();
    const pb::FieldDescriptor* value_field = f->message_type()->map_value();
    auto key_format = f->options().GetExtension(v1::key_format);
    std::set<std::string> keys;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node item = it->second;
      if (!key_node.IsScalar()) {
        Error(PosOf(key_node), label + ": a key must be a string, got " + Describe(key_node));
        continue;
      }
      const std::string& key = key_node.Scalar();
      if (!keys.insert(key).second) {
        Error(PosOf(key_node), "duplicate key " + Quote(key) + " in " + path);
        continue;
      }
      if (std::string why = CheckFormat(key_format, key); !why.empty()) {
        Error(PosOf(key_node), label + ": " + why);
        continue;
      }
      std::string entry_path = JoinPath(path, key);
      std::string entry_label = label + "." + key;
      positions_.Add(entry_path, PosOf(item));
      explicit_.insert(entry_path);
      pb::Message* entry = msg->GetReflection()->AddMessage(msg, f);
      entry->GetReflection()->SetString(entry, key_field, key);
      if (value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        pb::Message* sub = entry->GetReflection()->MutableMessage(entry, value_field);
        if (!item.IsNull()) ReadMessage(item, sub, entry_path, entry_label);
      } else {
        ReadValue(item, entry, value_field, f, entry_path, entry_label);
      }
    }
  }

  // One value of field `f` (set, or appended when repeated). `opts` carries the options
  // (the map field for map values, else `f`).
  void ReadValue(const YAML::Node& node, pb::Message* msg, const pb::FieldDescriptor* f,
                 const pb::FieldDescriptor* opts, const std::string& path,
                 const std::string& label) {
    const pb::Reflection* r = msg->GetReflection();
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !IsDuration(f)) {
      if (!node.IsMap() && !(node.IsScalar() && ScalarField(f->message_type()))) {
        Error(PosOf(node), label + ": expected " + Expected(f, opts) + ", got " + Describe(node));
        error_paths_.insert(path);
        return;
      }
      pb::Message* sub = f->is_repeated() ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
      ReadMessage(node, sub, path, label);
      return;
    }
    if (!node.IsScalar() && !(node.IsNull() && NullIsAValue(f))) {
      Error(PosOf(node), label + ": expected " + Expected(f, opts) + ", got " + Describe(node));
      error_paths_.insert(path);
      return;
    }
    Scalar s;
    s.null = node.IsNull();
    s.text = s.null ? "null" : node.Scalar();
    s.quoted = !s.null && node.Tag() == "!";
    if (std::string why = SetScalar(msg, f, opts, s); !why.empty()) {
      Error(PosOf(node), label + ": " + why);
      error_paths_.insert(path);
    }
  }

 public:
  // Parses `s` for field `f` and sets (or appends) it. Returns "" or the reason it is invalid.
  static std::string SetScalar(pb::Message* msg, const pb::FieldDescriptor* f,
                               const pb::FieldDescriptor* opts, const Scalar& s) {
    const pb::Reflection* r = msg->GetReflection();
    const bool repeated = f->is_repeated();
    const auto& options = opts->options();
    auto not_quoted = [&](std::string_view what) -> std::string {
      return "expected " + std::string(what) + ", got the quoted string " + Quote(s.text);
    };
    auto check_bounds = [&](double v) -> std::string {
      if (options.HasExtension(v1::min_value) && v < options.GetExtension(v1::min_value)) {
        std::ostringstream o;
        o << "must be at least " << options.GetExtension(v1::min_value) << ", got " << s.text;
        return o.str();
      }
      if (options.HasExtension(v1::max_value) && v > options.GetExtension(v1::max_value)) {
        std::ostringstream o;
        o << "must be at most " << options.GetExtension(v1::max_value) << ", got " << s.text;
        return o.str();
      }
      return "";
    };
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_MESSAGE: {  // google.protobuf.Duration
        std::optional<pb::Duration> d = ParseDuration(s.text);
        if (!d) {
          return Quote(s.text) + " is not a duration (expected e.g. 90s, 30m, 4h, 1h30m, 1d)";
        }
        if (d->seconds() == 0 && d->nanos() == 0) return "the duration must be positive";
        pb::Message* m = repeated ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
        m->CopyFrom(*d);
        return "";
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumValueDescriptor* v = FindYamlEnum(f->enum_type(), s.text);
        if (!v) {
          std::vector<std::string> names = YamlEnumNames(f->enum_type());
          return Quote(s.text) + " is not one of " + JoinList(names) + Suggest(s.text, names);
        }
        repeated ? r->AddEnum(msg, f, v) : r->SetEnum(msg, f, v);
        return "";
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (s.quoted) return not_quoted("true or false");
        if (s.text == "true" || s.text == "True" || s.text == "TRUE") {
          v = true;
        } else if (s.text == "false" || s.text == "False" || s.text == "FALSE") {
          v = false;
        } else {
          return "expected true or false, got " + Quote(s.text);
        }
        repeated ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
        return "";
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        if (s.quoted) return not_quoted("a number");
        double v = 0;
        auto [end, ec] = std::from_chars(s.text.data(), s.text.data() + s.text.size(), v);
        if (s.text.empty() || ec != std::errc() || end != s.text.data() + s.text.size() || v != v ||
            v == std::numeric_limits<double>::infinity() ||
            v == -std::numeric_limits<double>::infinity()) {
          return "expected a number, got " + Quote(s.text);
        }
        if (std::string why = check_bounds(v); !why.empty()) return why;
        if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT) {
          repeated ? r->AddFloat(msg, f, static_cast<float>(v))
                   : r->SetFloat(msg, f, static_cast<float>(v));
        } else {
          repeated ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
        }
        return "";
      }
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        if (std::string why = CheckFormat(options.GetExtension(v1::value_format), s.text);
            !why.empty()) {
          return why;
        }
        repeated ? r->AddString(msg, f, s.text) : r->SetString(msg, f, s.text);
        return "";
      }
      default:
        break;
    }
    // Integers.
    const bool byte_size = options.GetExtension(v1::value_format) == v1::FORMAT_BYTE_SIZE;
    uint64_t magnitude = 0;
    bool negative = false;
    if (byte_size) {
      std::optional<uint64_t> v = ParseByteSize(s.text);
      if (!v) return Quote(s.text) + " is not a byte size (expected e.g. 512, 64KiB, 100MiB, 1GB)";
      magnitude = *v;
    } else {
      if (s.quoted) return not_quoted("an integer");
      std::string_view t = s.text;
      if (!t.empty() && t[0] == '-') {
        negative = true;
        t.remove_prefix(1);
      }
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), magnitude);
      if (t.empty() || end != t.data() + t.size() ||
          (ec != std::errc() && ec != std::errc::result_out_of_range)) {
        return "expected an integer, got " + Quote(s.text);
      }
      if (ec == std::errc::result_out_of_range) return s.text + " is out of range";
    }
    uint64_t max = 0;
    int64_t min = 0;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        max = std::numeric_limits<int32_t>::max();
        min = std::numeric_limits<int32_t>::min();
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        max = std::numeric_limits<int64_t>::max();
        min = std::numeric_limits<int64_t>::min();
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        max = std::numeric_limits<uint32_t>::max();
        break;
      default:
        max = std::numeric_limits<uint64_t>::max();
        break;
    }
    if (negative && magnitude > 0 &&
        (min == 0 || magnitude - 1 > static_cast<uint64_t>(-(min + 1)))) {
      return min == 0 ? "must not be negative, got " + s.text : s.text + " is out of range";
    }
    if (!negative && magnitude > max) {
      return s.text + " is out of range (at most " + std::to_string(max) + ")";
    }
    double as_double = negative ? -static_cast<double>(magnitude) : static_cast<double>(magnitude);
    if (std::string why = check_bounds(as_double); !why.empty()) return why;
    int64_t signed_value = negative
                               ? -static_cast<int64_t>(magnitude - 1) - 1
                               : static_cast<int64_t>(std::min<uint64_t>(magnitude, INT64_MAX));
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        repeated ? r->AddInt32(msg, f, static_cast<int32_t>(signed_value))
                 : r->SetInt32(msg, f, static_cast<int32_t>(signed_value));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        repeated ? r->AddInt64(msg, f, signed_value) : r->SetInt64(msg, f, signed_value);
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        repeated ? r->AddUInt32(msg, f, static_cast<uint32_t>(magnitude))
                 : r->SetUInt32(msg, f, static_cast<uint32_t>(magnitude));
        break;
      default:
        repeated ? r->AddUInt64(msg, f, magnitude) : r->SetUInt64(msg, f, magnitude);
        break;
    }
    return "";
  }

 private:
  std::string file_;
  SourceMap positions_;
  std::set<std::string> explicit_;     // paths whose value came from the file (not null)
  std::set<std::string> error_paths_;  // paths whose value was invalid
  std::vector<Diagnostic> diagnostics_;
};

// ---------------------------------------------------------------------------------------------
// Defaults that depend on other values, and cross-reference checks.

class Semantics {
 public:
  Semantics(Reader& reader, v1::Config& config) : reader_(reader), config_(config) {}

  // Before the generic (default_value) pass, so that what is added here gets those too.
  void AddImplicitObjects() {
    auto* profiles = config_.mutable_masking()->mutable_profiles();
    if (!profiles->contains("default")) (*profiles)["default"];
    if (config_.events().sinks().empty()) {
      config_.mutable_events()->add_sinks()->set_type(v1::Sink::TYPE_FILE);
    }
  }

  void ApplyContextualDefaults() {
    if (!Explicit("masking.key_file")) {
      std::string dir = config_.agent().state_dir();
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      if (dir == "/") dir.clear();
      config_.mutable_masking()->set_key_file(dir + "/keys/mask.key");
    }
    for (auto& [name, profile] : *config_.mutable_masking()->mutable_profiles()) {
      std::string path = "masking.profiles." + name;
      if (!Explicit(path + ".entities")) profile.add_entities("all");
      if (!profile.strategies().contains("default")) {
        (*profile.mutable_strategies())["default"] = v1::MaskingProfile::STRATEGY_REDACT;
      }
    }
    for (int i = 0; i < config_.grants().policies_size(); ++i) {
      v1::Policy* policy = config_.mutable_grants()->mutable_policies(i);
      std::string path = IndexPath("grants.policies", i);
      if (!Explicit(path + ".approvals") && !policy->approvers().empty()) {
        policy->set_approvals(1);
      }
    }
    for (int i = 0; i < config_.grants().notify_size(); ++i) {
      v1::Notify* n = config_.mutable_grants()->mutable_notify(i);
      if (!Explicit(IndexPath("grants.notify", i) + ".events")) {
        const auto* events = v1::Notify::Event_descriptor();
        for (int e = 0; e < events->value_count(); ++e)
          if (events->value(e)->number() != 0)
            n->add_events(static_cast<v1::Notify::Event>(events->value(e)->number()));
      }
    }
    for (int i = 0; i < config_.events().sinks_size(); ++i) {
      v1::Sink* sink = config_.mutable_events()->mutable_sinks(i);
      std::string path = IndexPath("events.sinks", i);
      if (sink->type() == v1::Sink::TYPE_FILE) {
        if (!Explicit(path + ".path")) sink->set_path(kDefaultEventsPath);
        if (!Explicit(path + ".max_size")) sink->set_max_size(kDefaultSinkMaxSize);
        if (!Explicit(path + ".keep")) sink->set_keep(kDefaultSinkKeep);
      } else if (sink->type() == v1::Sink::TYPE_SYSLOG) {
        if (!Explicit(path + ".address")) sink->set_address(kDefaultSyslogAddress);
      }
    }
  }

  void Check() {
    CheckEndpoints();
    CheckProfiles();
    CheckPolicies();
    CheckStanding();
    CheckNotify();
    CheckSinks();
  }

 private:
  bool Explicit(const std::string& path) const { return reader_.explicit_paths().count(path); }

  void CheckEndpoints() {
    std::map<std::string, int> names, listens, upstreams;
    for (int i = 0; i < config_.endpoints_size(); ++i) {
      const v1::Endpoint& ep = config_.endpoints(i);
      std::string path = IndexPath("endpoints", i);
      auto first_use = [&](std::map<std::string, int>& seen, const std::string& value,
                           const char* field, const char* what) {
        if (value.empty()) return;
        auto [it, inserted] = seen.emplace(value, i);
        if (!inserted) {
          reader_.ErrorAt(path + "." + field, std::string(field) + ": duplicate " + what + " " +
                                                  Quote(value) + " (first in endpoints[" +
                                                  std::to_string(it->second) + "]" +
                                                  Line(it->second, field) + ")");
        }
      };
      if (ep.listen().empty() && ep.access() != v1::Endpoint::ACCESS_OBSERVE &&
          !Explicit(path + ".listen") && !reader_.HadError(path + ".listen")) {
        reader_.ErrorAt(path, "missing required key \"listen\" in " + path +
                                  " (only access: observe needs no listen address)");
      }
      first_use(names, ep.name(), "name", "endpoint name");
      first_use(listens, ep.listen(), "listen", "listen address");
      first_use(upstreams, ep.upstream(), "upstream", "upstream");
      CheckProfileRef(ep.masking(), path + ".masking", "masking");
      if (ep.tls().upstream() == v1::Tls::UPSTREAM_TLS_DISABLE && !ep.tls().upstream_ca().empty()) {
        reader_.ErrorAt(path + ".tls.upstream_ca",
                        "upstream_ca has no effect with tls.upstream: disable");
      }
      for (int g = 0; g < ep.guardrails_size(); ++g) {
        if (ep.guardrails(g).kind_case() == v1::Guardrail::KIND_NOT_SET &&
            !reader_.HadError(IndexPath(path + ".guardrails", g))) {
          reader_.ErrorAt(
              IndexPath(path + ".guardrails", g),
              "guardrails[" + std::to_string(g) +
                  "]: expected read-only, no-ddl, no-unbounded-write, no-filter-on-masked, "
                  "{max-rows: N} "
                  "or {deny: REGEX}");
        }
      }
    }
  }

  // " (line N)" for where endpoints[i].field was written, if known.
  std::string Line(int i, const char* field) const {
    auto pos = reader_.positions().Find(IndexPath("endpoints", i) + "." + field);
    return pos ? ", line " + std::to_string(pos->line) : "";
  }

  void CheckProfileRef(const std::string& name, const std::string& path, const std::string& label) {
    if (name.empty() || config_.masking().profiles().contains(name)) return;
    std::vector<std::string> known;
    for (const auto& [n, p] : config_.masking().profiles()) known.push_back(n);
    std::sort(known.begin(), known.end());
    reader_.ErrorAt(path, label + ": masking profile " + Quote(name) + " does not exist" +
                              Suggest(name, known));
  }

  void CheckEndpointRefs(const google::protobuf::RepeatedPtrField<std::string>& refs,
                         const std::string& path) {
    std::vector<std::string> known;
    for (const auto& ep : config_.endpoints()) known.push_back(ep.name());
    for (int i = 0; i < refs.size(); ++i) {
      if (std::find(known.begin(), known.end(), refs[i]) != known.end()) continue;
      if (!CheckName(refs[i]).empty()) continue;  // already reported as a bad name
      reader_.ErrorAt(IndexPath(path, i), "endpoints[" + std::to_string(i) + "]: endpoint " +
                                              Quote(refs[i]) + " does not exist" +
                                              Suggest(refs[i], known));
    }
  }

  void CheckProfiles() {
    for (const auto& [name, profile] : config_.masking().profiles()) {
      std::string path = "masking.profiles." + name;
      std::set<std::string> entities;
      for (int i = 0; i < profile.entities_size(); ++i) {
        const std::string& e = profile.entities(i);
        std::string item = IndexPath(path + ".entities", i);
        if (e == "all" && profile.entities_size() > 1) {
          reader_.ErrorAt(item, "entities: \"all\" cannot be combined with other entity names");
        } else if (!entities.insert(e).second) {
          reader_.ErrorAt(item, "entities: " + Quote(e) + " is listed twice");
        }
      }
      for (int i = 0; i < profile.columns_size(); ++i) {
        const v1::ColumnRule& rule = profile.columns(i);
        if (rule.action() != v1::ColumnRule::ACTION_PASS) continue;
        std::string item = IndexPath(path + ".columns", i);
        if (!rule.entity().empty() || rule.scan() ||
            rule.strategy() != v1::MaskingProfile::STRATEGY_UNSPECIFIED) {
          reader_.ErrorAt(item + ".action",
                          "action: pass cannot be combined with entity, scan or strategy");
        }
      }
      std::set<std::string> custom;
      for (int i = 0; i < profile.custom_size(); ++i) {
        const std::string& n = profile.custom(i).name();
        if (!n.empty() && !custom.insert(n).second) {
          reader_.ErrorAt(IndexPath(path + ".custom", i) + ".name",
                          "name: custom entity " + Quote(n) + " is defined twice");
        }
      }
    }
  }

  void CheckPolicies() {
    for (int i = 0; i < config_.grants().policies_size(); ++i) {
      const v1::Policy& p = config_.grants().policies(i);
      std::string path = IndexPath("grants.policies", i);
      if (p.endpoints().empty()) {
        reader_.ErrorAt(
            path, "policies[" + std::to_string(i) + "]: endpoints must list at least one endpoint");
      }
      CheckEndpointRefs(p.endpoints(), path + ".endpoints");
      if (p.requesters().empty() && p.auto_approve().empty()) {
        reader_.ErrorAt(path, "policies[" + std::to_string(i) +
                                  "]: give requesters or auto_approve (nobody could request)");
      }
      if (!p.approvers().empty() && p.approvals() == 0 && !reader_.HadError(path + ".approvals")) {
        reader_.ErrorAt(path + ".approvals",
                        "approvals: must be at least 1 when approvers are given");
      }
      if (p.approvers().empty() && p.approvals() > 0) {
        reader_.ErrorAt(path + ".approvals", "approvals: needs approvers");
      }
      if (p.approvers().empty() && p.auto_approve().empty() && !p.requesters().empty()) {
        reader_.ErrorAt(path, "policies[" + std::to_string(i) +
                                  "]: give approvers or auto_approve (nobody could approve)");
      }
    }
  }

  void CheckStanding() {
    for (int i = 0; i < config_.grants().standing_size(); ++i) {
      const v1::StandingGrant& g = config_.grants().standing(i);
      std::string path = IndexPath("grants.standing", i);
      if (g.endpoints().empty()) {
        reader_.ErrorAt(
            path, "standing[" + std::to_string(i) + "]: endpoints must list at least one endpoint");
      }
      CheckEndpointRefs(g.endpoints(), path + ".endpoints");
      CheckProfileRef(g.masking(), path + ".masking", "masking");
    }
  }

  void CheckNotify() {
    std::map<std::string, int> targets;
    for (int i = 0; i < config_.grants().notify_size(); ++i) {
      const v1::Notify& n = config_.grants().notify(i);
      std::string path = IndexPath("grants.notify", i);
      const bool has_url = Explicit(path + ".url"), has_file = Explicit(path + ".url_file");
      if (has_url && has_file) {
        reader_.ErrorAt(path + ".url_file", "url_file: give url or url_file, not both");
      } else if (!has_url && !has_file && !reader_.HadError(path + ".url") &&
                 !reader_.HadError(path + ".url_file")) {
        reader_.ErrorAt(path, "notify[" + std::to_string(i) +
                                  "]: give the webhook's url (or url_file, a file holding it)");
      }
      if (has_url) {
        if (std::string why = WebhookUrlProblem(n.url()); !why.empty()) {
          reader_.ErrorAt(path + ".url", "url: " + why);
        } else if (n.type() != v1::Notify::TYPE_UNSPECIFIED) {
          std::string key = std::to_string(n.type()) + " " + n.url();
          auto [it, inserted] = targets.emplace(key, i);
          if (!inserted)
            reader_.ErrorAt(path + ".url", "url: the same webhook as grants.notify[" +
                                               std::to_string(it->second) + "]");
        }
      }
      std::set<int> seen;
      for (int e = 0; e < n.events_size(); ++e) {
        if (!seen.insert(n.events(e)).second)
          reader_.ErrorAt(IndexPath(path + ".events", e),
                          "events: " +
                              Quote(YamlEnumName(
                                  v1::Notify::Event_descriptor()->FindValueByNumber(n.events(e)))) +
                              " is listed twice");
      }
      const int64_t ms = n.timeout().seconds() * 1000 + n.timeout().nanos() / 1000000;
      if (!reader_.HadError(path + ".timeout") && (ms < 100 || ms > 60000))
        reader_.ErrorAt(path + ".timeout", "timeout: must be between 100ms and 60s");
      if (!n.ca_file().empty() && has_url && n.url().starts_with("http://"))
        reader_.ErrorAt(path + ".ca_file", "ca_file: only applies to an https:// url");
    }
  }

  // "" if `url` is an http(s) URL veild can POST to, else why not. The URL itself is never
  // quoted back: an incoming-webhook URL carries its secret in the path.
  static std::string WebhookUrlProblem(std::string_view url) {
    std::string_view rest;
    if (url.starts_with("https://")) {
      rest = url.substr(8);
    } else if (url.starts_with("http://")) {
      rest = url.substr(7);
    } else {
      return "must start with http:// or https://";
    }
    for (char c : url)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
        return "must not contain spaces or control characters";
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos)
      return "must not carry user:password@ (put a token in the path or query)";
    auto port_ok = [](std::string_view port) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
      return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value >= 1 &&
             value <= 65535;
    };
    std::string_view host = authority;
    if (!host.empty() && host.front() == '[') {
      size_t close = host.find(']');
      in6_addr a6;
      if (close == std::string_view::npos ||
          inet_pton(AF_INET6, std::string(host.substr(1, close - 1)).c_str(), &a6) != 1)
        return "has a bad IPv6 address";
      std::string_view after = host.substr(close + 1);
      if (after.empty()) return "";
      return after.front() == ':' && port_ok(after.substr(1)) ? "" : "has a bad port (1-65535)";
    }
    if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
      if (!port_ok(host.substr(colon + 1))) return "has a bad port (1-65535)";
      host = host.substr(0, colon);
    }
    if (!IsHostName(host)) return "has no valid host name";
    return "";
  }

  void CheckSinks() {
    std::map<std::string, int> paths;
    for (int i = 0; i < config_.events().sinks_size(); ++i) {
      const v1::Sink& s = config_.events().sinks(i);
      std::string path = IndexPath("events.sinks", i);
      std::string type = s.type() == v1::Sink::TYPE_FILE     ? "file"
                         : s.type() == v1::Sink::TYPE_SYSLOG ? "syslog"
                                                             : "stdout";
      if (s.type() == v1::Sink::TYPE_UNSPECIFIED) continue;  // reported as missing
      for (const char* key : {"path", "max_size", "keep"}) {
        if (s.type() != v1::Sink::TYPE_FILE && Explicit(path + "." + key)) {
          reader_.ErrorAt(path + "." + key,
                          std::string(key) + ": only applies to a file sink, not " + type);
        }
      }
      if (s.type() != v1::Sink::TYPE_SYSLOG && Explicit(path + ".address")) {
        reader_.ErrorAt(path + ".address", "address: only applies to a syslog sink, not " + type);
      }
      if (s.type() == v1::Sink::TYPE_FILE) {
        auto [it, inserted] = paths.emplace(s.path(), i);
        if (!inserted) {
          reader_.ErrorAt(path + ".path", "path: " + Quote(s.path()) +
                                              " is already written by events.sinks[" +
                                              std::to_string(it->second) + "]");
        }
      }
    }
  }

  Reader& reader_;
  v1::Config& config_;
};

LoadResult Load(std::string_view yaml, const std::string& file) {
  Reader reader(file);
  LoadedConfig loaded;
  loaded.file = file;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    SourcePos pos = e.mark.is_null() ? SourcePos{} : SourcePos{e.mark.line + 1, e.mark.column + 1};
    return std::vector<Diagnostic>{Diagnostic{file, pos, "invalid YAML: " + e.msg}};
  }
  if (docs.size() > 1) {
    reader.Error(PosOf(docs[1]), "only one YAML document is allowed");
  }
  if (!docs.empty() && !docs[0].IsNull()) {
    reader.ReadMessage(docs[0], &loaded.config, "", "");
  }
  Semantics semantics(reader, loaded.config);
  semantics.AddImplicitObjects();
  reader.ApplyDefaults(&loaded.config, "");
  semantics.ApplyContextualDefaults();
  semantics.Check();

  std::vector<Diagnostic>& diags = reader.diagnostics();
  if (!diags.empty()) {
    std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
      auto key = [](const Diagnostic& d) {
        return std::pair(d.pos.line <= 0 ? std::numeric_limits<int>::max() : d.pos.line, d.pos.col);
      };
      return key(a) < key(b);
    });
    return std::move(diags);
  }
  loaded.positions = std::move(reader.positions());
  return loaded;
}

}  // namespace

LoadResult LoadString(std::string_view yaml, std::string display_name) {
  try {
    return Load(yaml, display_name);
  } catch (const std::exception& e) {
    return std::vector<Diagnostic>{
        Diagnostic{display_name, {}, std::string("internal error: ") + e.what()}};
  }
}

LoadResult LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::vector<Diagnostic>{
        Diagnostic{path, {}, std::string("cannot read: ") + std::strerror(errno)}};
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return std::vector<Diagnostic>{Diagnostic{path, {}, "cannot read: I/O error"}};
  }
  return LoadString(buf.str(), path);
}

}  // namespace veil::config
