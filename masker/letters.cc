#include "masker/letters.h"

#include <array>

namespace veil::masker::letters {
namespace {

// U+00C0..U+017F, one ASCII letter each; 0 for × and ÷. ß, æ and œ give their first letter.
constexpr std::array<char, 192> kLatin = [] {
  std::array<char, 192> t{};
  const char* s =
      "aaaaaaaceeeeiiiidnooooo\0ouuuuyts"
      "aaaaaaaceeeeiiiidnooooo\0ouuuuyty"
      "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllll"
      "lllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
  for (int i = 0; i < 192; ++i) t[i] = s[i];
  return t;
}();

// U+0430..U+044F (а..я), romanised as passports do (ICAO 9303, with й as y and ь, ъ dropped).
constexpr const char* kCyrillic[32] = {
    "a", "b", "v", "g", "d", "e",  "zh", "z",  "i",  "y",    "k", "l", "m", "n", "o",  "p",
    "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "",  "y", "",  "e", "yu", "ya"};

int Put(const char* s, char* out) {
  int n = 0;
  while (s[n]) {
    out[n] = s[n];
    ++n;
  }
  return n;
}

}  // namespace

int Ascii(uint32_t cp, char* out) {
  if (cp >= 0xC0 && cp <= 0x17F) {
    const char c = kLatin[cp - 0xC0];
    if (!c) return -1;
    out[0] = c;
    return 1;
  }
  if (cp >= 0x410 && cp <= 0x44F) return Put(kCyrillic[(cp - 0x410) % 32], out);
  switch (cp) {
    case 0x401:
    case 0x451:
      return Put("e", out);  // Ё
    case 0x404:
    case 0x454:
      return Put("ye", out);  // Є
    case 0x406:
    case 0x456:
      return Put("i", out);  // І
    case 0x407:
    case 0x457:
      return Put("yi", out);  // Ї
    case 0x40E:
    case 0x45E:
      return Put("u", out);  // Ў
    case 0x490:
    case 0x491:
      return Put("g", out);  // Ґ
    case 0x1A0:
    case 0x1A1:
      return Put("o", out);  // Ơ
    case 0x1AF:
    case 0x1B0:
      return Put("u", out);  // Ư
    case 0x218:
    case 0x219:
    case 0x15E:
    case 0x15F:
      return Put("s", out);  // Ș Ş
    case 0x21A:
    case 0x21B:
      return Put("t", out);  // Ț
    default:
      break;
  }
  if (cp >= 0x1CD && cp <= 0x1DC)
    return Put(cp <= 0x1CE ? "a" : cp <= 0x1D0 ? "i" : cp <= 0x1D2 ? "o" : "u", out);
  if (cp >= 0x300 && cp <= 0x36F) return 0;  // a combining accent: spelled by its base letter
  if (cp >= 0x1EA0 && cp <= 0x1EF9) {        // Vietnamese: the base letter under its marks
    const char c = cp <= 0x1EB7   ? 'a'
                   : cp <= 0x1EC7 ? 'e'
                   : cp <= 0x1ECB ? 'i'
                   : cp <= 0x1EE3 ? 'o'
                   : cp <= 0x1EF1 ? 'u'
                                  : 'y';
    out[0] = c;
    return 1;
  }
  if (cp >= 0x1E80 && cp <= 0x1E85) return Put("w", out);  // Welsh ẁ ẃ ẅ
  return -1;
}

}  // namespace veil::masker::letters
