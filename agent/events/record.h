// A usage event as the chain takes it: its canonical JSON (chain.h: keys sorted, no whitespace,
// nlohmann's escaping, valid UTF-8) without `unmapped.chain`, and the place where the chain
// object goes. The emitting thread renders a Record once; the sink's writer hashes and writes it
// as it is, with no parse and no second serialization (Chain::Stamp(const Record&, ...)).
//
//   Record r = ToRecord(GrantEvent(...));     // any nlohmann event (rare events)
//   Record q = tmpl.Build(now_ms, statement);  // the statement fast path (ocsf.h)
//
// CanonicalJson is the writer both use: it appends canonical JSON to a string and checks that
// the caller writes each object's keys in ascending byte order (what the canonical form needs);
// a caller that got the order wrong sees ok() == false and must not use the text.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace veil::events {

struct Record {
  std::string json;          // canonical JSON of the record without unmapped.chain
  uint32_t chain_at = 0;     // offset in `json` where the chain pair goes (inside unmapped)
  bool chain_first = false;  // the chain pair is unmapped's first key (no comma before it)
  int64_t class_uid = -1;    // the OCSF class (the syslog MSGID); -1 when the record has none
};

// Any event object: `unmapped` is made an object if it is not one, a `chain` already in it is
// dropped, and the rest is rendered canonically. A non-object becomes {"value": event}, as
// Chain::Stamp(json&) does.
Record ToRecord(nlohmann::json event);

// Byte order of two keys, as the canonical form sorts them; keys nearly always differ in their
// first byte, which is compared before the rest.
inline bool KeyLess(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0])
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  return a < b;
}

// Appends canonical JSON to `out`. Strings are sanitized to UTF-8 (SanitizeUtf8) and escaped as
// nlohmann's dump() escapes them (`\"` `\\` `\b` `\f` `\n` `\r` `\t`, other bytes below 0x20 as
// `\u00xx`, everything else as is), so the output is byte-identical to Canonical() of the same
// object (tested).
class CanonicalJson {
 public:
  explicit CanonicalJson(std::string* out) : out_(out) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  // The next key of the current object; keys must come in ascending byte order.
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(int64_t value);
  // A value already rendered canonically (a fragment of an earlier rendering).
  void Raw(std::string_view json);
  // A whole member already rendered canonically (`"key":value`) whose key is `key`.
  void Member(std::string_view key, std::string_view rendered);

  // False when a key came out of order or nesting went deeper than supported.
  bool ok() const { return ok_; }
  // Whether the current object or array has no member yet.
  bool empty() const { return depth_ > 0 && first_[depth_ - 1]; }
  std::string& out() { return *out_; }

  // Appends `s` as a JSON string, sanitized and escaped.
  static void AppendString(std::string* out, std::string_view s);

 private:
  void Separator();
  // Checks `key` against the previous one and writes the comma before a member.
  bool NextKey(std::string_view key);

  static constexpr int kMaxDepth = 8;
  std::string* out_;
  bool first_[kMaxDepth] = {};
  std::string_view last_key_[kMaxDepth];
  bool has_key_[kMaxDepth] = {};
  int depth_ = 0;
  bool after_key_ = false;
  bool ok_ = true;
};

}  // namespace veil::events
