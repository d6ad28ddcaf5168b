// Bounds-checked little-endian readers and writers for the MySQL wire format, including
// length-encoded integers and strings. Private to the codec (decoder.cc, encoder.cc).
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_data_types.html
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace veil::mysql::internal {

inline constexpr uint8_t kLenencNull = 0xFB;  // NULL in a text row
inline constexpr uint8_t kLenenc2 = 0xFC;
inline constexpr uint8_t kLenenc3 = 0xFD;
inline constexpr uint8_t kLenenc8 = 0xFE;

inline uint64_t LoadLe(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Reads fields from one payload. Every read checks the remaining size first, so a malformed
// payload fails the read instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view payload) : data_(payload) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool AtEnd() const { return pos_ == data_.size(); }
  // The next byte without consuming it; 0 at the end.
  uint8_t Peek() const { return AtEnd() ? 0 : static_cast<uint8_t>(data_[pos_]); }

  bool Int(size_t n, uint64_t* out) {
    if (remaining() < n) return false;
    *out = LoadLe(reinterpret_cast<const uint8_t*>(data_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool U8(uint8_t* out) {
    uint64_t v;
    if (!Int(1, &v)) return false;
    *out = static_cast<uint8_t>(v);
    return true;
  }
  bool U16(uint16_t* out) {
    uint64_t v;
    if (!Int(2, &v)) return false;
    *out = static_cast<uint16_t>(v);
    return true;
  }
  bool U32(uint32_t* out) {
    uint64_t v;
    if (!Int(4, &v)) return false;
    *out = static_cast<uint32_t>(v);
    return true;
  }
  // A length-encoded integer. 0xFB (NULL) and 0xFF (undefined) are not integers: false.
  // Non-minimal encodings (e.g. 0xFC 0x05 0x00) are refused so that decode -> encode is exact.
  bool Lenenc(uint64_t* out) {
    if (remaining() < 1) return false;
    const auto first = static_cast<uint8_t>(data_[pos_]);
    size_t n = 0;
    uint64_t min = 0;
    if (first < kLenencNull) {
      *out = first;
      ++pos_;
      return true;
    }
    if (first == kLenenc2) {
      n = 2, min = 251;
    } else if (first == kLenenc3) {
      n = 3, min = uint64_t{1} << 16;
    } else if (first == kLenenc8) {
      n = 8, min = uint64_t{1} << 24;
    } else {
      return false;
    }
    if (remaining() < 1 + n) return false;
    const uint64_t v = LoadLe(reinterpret_cast<const uint8_t*>(data_.data() + pos_ + 1), n);
    if (v < min) return false;
    *out = v;
    pos_ += 1 + n;
    return true;
  }
  bool LenencString(std::string_view* out) {
    const size_t save = pos_;
    uint64_t n = 0;
    if (!Lenenc(&n) || n > remaining()) {
      pos_ = save;
      return false;
    }
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // A NUL-terminated string; the NUL must lie inside the payload. `out` excludes the NUL.
  bool NulString(std::string_view* out) {
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
  std::string_view Rest() {
    std::string_view r = data_.substr(pos_);
    pos_ = data_.size();
    return r;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

inline void PutLe(std::vector<uint8_t>* out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void PutBytes(std::vector<uint8_t>* out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  out->insert(out->end(), p, p + bytes.size());
}
inline size_t LenencSize(uint64_t v) {
  if (v < 251) return 1;
  if (v < (uint64_t{1} << 16)) return 3;
  if (v < (uint64_t{1} << 24)) return 4;
  return 9;
}
inline void PutLenenc(std::vector<uint8_t>* out, uint64_t v) {
  if (v < 251) {
    out->push_back(static_cast<uint8_t>(v));
  } else if (v < (uint64_t{1} << 16)) {
    out->push_back(kLenenc2);
    PutLe(out, v, 2);
  } else if (v < (uint64_t{1} << 24)) {
    out->push_back(kLenenc3);
    PutLe(out, v, 3);
  } else {
    out->push_back(kLenenc8);
    PutLe(out, v, 8);
  }
}
inline void PutLenencString(std::vector<uint8_t>* out, std::string_view s) {
  PutLenenc(out, s.size());
  PutBytes(out, s);
}

}  // namespace veil::mysql::internal
