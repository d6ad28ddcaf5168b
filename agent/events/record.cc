#include "agent/events/record.h"

#include <array>
#include <charconv>

#include "agent/events/chain.h"
#include "agent/events/normalize.h"

namespace veil::events {

void CanonicalJson::AppendString(std::string* out, std::string_view s) {
  // Strings are nearly always ASCII; only those with a high byte go through the sanitizer.
  std::string sanitized;
  for (unsigned char c : s) {
    if (c >= 0x80) {
      sanitized = SanitizeUtf8(s);
      s = sanitized;
      break;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  // Bytes that need an escape: below 0x20, the quote and the backslash.
  static constexpr auto kEscape = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = true;
    t['"'] = t['\\'] = true;
    return t;
  }();
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kEscape[c]) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
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
  out->append(s.data() + run, s.size() - run);
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
  if (has_key_[level] && !(last_key_[level] < key)) ok_ = false;
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
