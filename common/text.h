// Small text helpers shared by veild's libraries.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace veil {

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Whether `s` is `lower` (written in lower case), ASCII letters of `s` in any case.
inline bool EqualsLower(std::string_view s, std::string_view lower) {
  return s.size() == lower.size() && std::equal(s.begin(), s.end(), lower.begin(),
                                                [](char a, char b) { return AsciiLower(a) == b; });
}
inline bool StartsWithLower(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && EqualsLower(s.substr(0, lower.size()), lower);
}
inline bool EndsWithLower(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && EqualsLower(s.substr(s.size() - lower.size()), lower);
}

// Whether `needle` occurs in `hay`, ASCII letters compared without case (an empty needle
// always does).
inline bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [&](char a, char b) { return lower(a) == lower(b); }) != hay.end();
}

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF): what
// the masker reads. Text in another encoding (LATIN1, WIN1251, GB18030, SJIS) almost never
// is once it holds a byte beyond ASCII.
inline bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  {  // Most values are ASCII: one pass with no branch on the data, a word at a time.
    uint64_t any = 0, w;
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::memcpy(&w, p + i, 8);
      any |= w;
    }
    for (; i < s.size(); ++i) any |= p[i];
    if ((any & 0x8080808080808080ull) == 0) return true;
  }
  while (p < end) {
    if (end - p >= 8) {  // ASCII eight bytes at a time
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p <= n || p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= n; ++k)
      if ((p[k] & 0xC0) != 0x80) return false;
    p += n + 1;
  }
  return true;
}

}  // namespace veil
