// Small text helpers shared by veild's libraries.
#pragma once

#include <algorithm>
#include <string_view>

namespace veil {

// Whether `needle` occurs in `hay`, ASCII letters compared without case (an empty needle
// always does).
inline bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [&](char a, char b) { return lower(a) == lower(b); }) != hay.end();
}

}  // namespace veil
