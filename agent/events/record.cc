#include "agent/events/record.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

#include "agent/events/chain.h"
#include "agent/events/normalize.h"

namespace veil::events {

namespace {

// Whether any of the 8 bytes in `x` needs attention: below 0x20, '"', '\\', or (unless
// `high_ok`) above 0x7f. Bit tricks on 64-bit words (a zero byte of v shows as a set high bit
// of (v - 0x01..) & ~v; false positives happen only above a true hit, so "any" is exact).
bool Special8(uint64_t x, bool high_ok) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t low = (x - kOnes * 0x20) & ~x & kHigh;  // a byte below 0x20 (in 0x00-0x7f)
  uint64_t hit = low | zero(x ^ (kOnes * '"')) | zero(x ^ (kOnes * '\\'));
  if (!high_ok) hit |= x & kHigh;
  return hit != 0;
}

// Appends `s` escaped (without quotes). False, with `out` partly written, when `high_ok` is
// false and `s` has a byte above 0x7f.
bool AppendEscaped(std::string* out, std::string_view s, bool high_ok) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t n = s.size();
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, s.data() + i, 8);
      if (!Special8(x, high_ok)) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (!high_ok) return false;
      ++i;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out->append(s.data() + run, i - run);
    run = ++i;
    // The short forms nlohmann writes, else \u00xx (lowercase hex).
    static constexpr std::pair<unsigned char, std::string_view> kShort[] = {
        {'"', "\\\""}, {'\\', "\\\\"}, {'\b', "\\b"}, {'\f', "\\f"},
        {'\n', "\\n"}, {'\r', "\\r"},  {'\t', "\\t"}};
    std::string_view esc;
    for (const auto& [k, e] : kShort)
      if (k == c) esc = e;
    if (!esc.empty()) {
      out->append(esc);
    } else {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(u, sizeof u);
    }
  }
  out->append(s.data() + run, n - run);
  return true;
}

}  // namespace

void CanonicalJson::AppendString(std::string* out, std::string_view s) {
  // Strings are nearly always ASCII; only those with a high byte go through the sanitizer.
  const size_t start = out->size();
  out->push_back('"');
  if (!AppendEscaped(out, s, /*high_ok=*/false)) {
    out->resize(start + 1);
    AppendEscaped(out, SanitizeUtf8(s), /*high_ok=*/true);
  }
  out->push_back('"');
}

void CanonicalJson::Separator() {
  if (depth_ == 0) return;
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_[depth_ - 1]) out_->push_back(',');
  first_[depth_ - 1] = false;
}

void CanonicalJson::BeginObject() {
  Separator();
  out_->push_back('{');
  if (depth_ == kMaxDepth) {
    ok_ = false;
    return;
  }
  first_[depth_] = true;
  has_key_[depth_] = false;
  ++depth_;
}

void CanonicalJson::EndObject() {
  out_->push_back('}');
  if (depth_ > 0) --depth_;
}

void CanonicalJson::BeginArray() { BeginObject(), out_->back() = '['; }

void CanonicalJson::EndArray() {
  out_->push_back(']');
  if (depth_ > 0) --depth_;
}

bool CanonicalJson::NextKey(std::string_view key) {
  if (depth_ == 0) {
    ok_ = false;
    return false;
  }
  const int level = depth_ - 1;
  if (has_key_[level] && !KeyLess(last_key_[level], key)) ok_ = false;
  has_key_[level] = true;
  last_key_[level] = key;
  if (!first_[level]) out_->push_back(',');
  first_[level] = false;
  return true;
}

void CanonicalJson::Key(std::string_view key) {
  if (!NextKey(key)) return;
  AppendString(out_, key);
  out_->push_back(':');
  after_key_ = true;
}

void CanonicalJson::Member(std::string_view key, std::string_view rendered) {
  if (NextKey(key)) out_->append(rendered);
}

void CanonicalJson::String(std::string_view value) {
  Separator();
  AppendString(out_, value);
}

void CanonicalJson::Int(int64_t value) {
  Separator();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_->append(buf, end);
}

void CanonicalJson::Raw(std::string_view json) {
  Separator();
  out_->append(json);
}

Record ToRecord(nlohmann::json event) {
  if (!event.is_object()) event = nlohmann::json{{"value", std::move(event)}};
  nlohmann::json& unmapped = event["unmapped"];
  if (!unmapped.is_object()) unmapped = nlohmann::json::object();
  unmapped.erase("chain");

  Record r;
  auto class_uid = event.find("class_uid");
  if (class_uid != event.end() && class_uid->is_number_integer())
    r.class_uid = class_uid->get<int64_t>();
  CanonicalJson w(&r.json);
  w.BeginObject();
  for (const auto& [key, value] : event.items()) {
    w.Key(key);
    if (key != "unmapped") {
      w.Raw(Canonical(value));
      continue;
    }
    w.BeginObject();
    bool placed = false;
    auto place = [&] {
      r.chain_first = w.empty();
      r.chain_at = static_cast<uint32_t>(r.json.size());
      placed = true;
    };
    for (const auto& [ukey, uvalue] : unmapped.items()) {
      if (!placed && ukey > std::string_view("chain")) place();
      w.Key(ukey);
      w.Raw(Canonical(uvalue));
    }
    if (!placed) place();
    w.EndObject();
  }
  w.EndObject();
  return r;
}

}  // namespace veil::events
