// Test-only: writes protocol bytes by hand, independently of encoder.cc, so decoder tests do
// not merely round-trip through our own encoder.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace veil::pg::testing {

class HandWire {
 public:
  HandWire& U8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  HandWire& I16(int32_t v) {
    const auto u = static_cast<uint16_t>(v);
    return U8(u >> 8).U8(u & 0xff);
  }
  HandWire& I32(int64_t v) {
    const auto u = static_cast<uint32_t>(v);
    return U8(u >> 24).U8((u >> 16) & 0xff).U8((u >> 8) & 0xff).U8(u & 0xff);
  }
  HandWire& Raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  HandWire& Str(std::string_view s) { return Raw(s).U8(0); }
  const std::vector<uint8_t>& bytes() const { return b_; }
  size_t size() const { return b_.size(); }

 private:
  std::vector<uint8_t> b_;
};

// Byte1 type, Int32 length (payload + 4), payload.
inline std::vector<uint8_t> Frame(char type, const HandWire& payload = HandWire()) {
  HandWire w;
  w.U8(static_cast<uint8_t>(type)).I32(static_cast<int64_t>(payload.size()) + 4);
  std::vector<uint8_t> out = w.bytes();
  out.insert(out.end(), payload.bytes().begin(), payload.bytes().end());
  return out;
}

// Untyped startup packet: Int32 length (payload + 4), payload.
inline std::vector<uint8_t> Packet(const HandWire& payload) {
  HandWire w;
  w.I32(static_cast<int64_t>(payload.size()) + 4);
  std::vector<uint8_t> out = w.bytes();
  out.insert(out.end(), payload.bytes().begin(), payload.bytes().end());
  return out;
}

inline std::vector<uint8_t> Concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace veil::pg::testing
