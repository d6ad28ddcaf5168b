// Bounds-checked big-endian readers and writers for the PostgreSQL wire format. Private to the
// codec (decoder.cc, encoder.cc); not part of its API.
// https://www.postgresql.org/docs/current/protocol-message-types.html
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace veil::pg::internal {

inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Reads fields from one message payload. Every read checks the remaining size first, so a
// malformed payload fails the read instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view payload) : data_(payload) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool AtEnd() const { return pos_ == data_.size(); }

  bool Byte(char* out) {
    if (remaining() < 1) return false;
    *out = data_[pos_++];
    return true;
  }
  bool Int8(int8_t* out) {
    char c;
    if (!Byte(&c)) return false;
    *out = static_cast<int8_t>(c);
    return true;
  }
  bool Int16(int16_t* out) {
    if (remaining() < 2) return false;
    const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
    *out = static_cast<int16_t>((uint16_t{p[0]} << 8) | uint16_t{p[1]});
    pos_ += 2;
    return true;
  }
  bool UInt32(uint32_t* out) {
    if (remaining() < 4) return false;
    *out = LoadBe32(reinterpret_cast<const uint8_t*>(data_.data() + pos_));
    pos_ += 4;
    return true;
  }
  bool Int32(int32_t* out) {
    uint32_t u;
    if (!UInt32(&u)) return false;
    *out = static_cast<int32_t>(u);
    return true;
  }
  // A NUL-terminated string; the NUL must lie inside the payload. `out` excludes the NUL.
  bool String(std::string_view* out) {
    const void* nul = std::memchr(data_.data() + pos_, 0, remaining());
    if (nul == nullptr) return false;
    const size_t len = static_cast<const char*>(nul) - (data_.data() + pos_);
    *out = data_.substr(pos_, len);
    pos_ += len + 1;
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // Everything left.
  std::string_view Rest() {
    std::string_view r = data_.substr(pos_);
    pos_ = data_.size();
    return r;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

inline void PutInt8(std::vector<uint8_t>* out, uint8_t v) { out->push_back(v); }
inline void PutInt16(std::vector<uint8_t>* out, int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  const uint8_t b[2] = {static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
  out->insert(out->end(), b, b + 2);
}
inline void PutInt32(std::vector<uint8_t>* out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  const uint8_t b[4] = {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
                        static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
  out->insert(out->end(), b, b + 4);
}
inline void PutBytes(std::vector<uint8_t>* out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  out->insert(out->end(), p, p + bytes.size());
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace veil::pg::internal
