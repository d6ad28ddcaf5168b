// Test-only: writes protocol bytes by hand, independently of encoder.cc, so decoder tests do
// not merely round-trip through our own encoder.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace veil::mysql::testing {

class HandWire {
 public:
  HandWire& U8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  HandWire& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  HandWire& Raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  HandWire& Nul(std::string_view s) { return Raw(s).U8(0); }
  // Length-encoded string with a 1-byte length (< 251 bytes).
  HandWire& Lstr(std::string_view s) { return U8(static_cast<uint8_t>(s.size())).Raw(s); }
  HandWire& Bytes(std::initializer_list<uint8_t> bytes) {
    b_.insert(b_.end(), bytes);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return b_; }
  size_t size() const { return b_.size(); }

 private:
  std::vector<uint8_t> b_;
};

// One packet: 3-byte length, sequence id, payload.
inline std::vector<uint8_t> Packet(uint8_t sequence_id, const HandWire& payload) {
  HandWire w;
  w.Le(payload.size(), 3).U8(sequence_id);
  std::vector<uint8_t> out = w.bytes();
  out.insert(out.end(), payload.bytes().begin(), payload.bytes().end());
  return out;
}

inline std::vector<uint8_t> Concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace veil::mysql::testing
