// Small text helpers shared by veild's libraries.
#pragma once

#include <algorithm>
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

}  // namespace veil
