// Unicode forms of ASCII that people's tools write into data: fullwidth characters as CJK input
// methods type them (５３６-２２-１２３４, jane．doe＠example．com), the dashes and no-break
// spaces of word processors (536‑22‑1234), zero-width characters pasted inside a value, and
// the decimal digits of other scripts (٤١٥-٥٥٥-٠١٣٢, ০১৭১১-২২৩৩৪৪, ๐๘๑๒๓๔๕๖๗๘). The prefilter
// marks where one starts; the detector's decoding stage folds them to ASCII and scans the
// text again (GATES.md, stage 6).
#pragma once

#include <cstddef>
#include <cstdint>

namespace veil::masker {

// The code point of the UTF-8 sequence at p[i] (of n bytes), and its length in *len; 0 when
// it is not a well-formed sequence of two to four bytes.
inline uint32_t Utf8At(const unsigned char* p, size_t i, size_t n, size_t* len) {
  const unsigned char c = p[i];
  size_t k = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (k == 0 || c >= 0xF5 || i + k > n) return 0;
  uint32_t cp = c & (k == 2 ? 0x1F : k == 3 ? 0x0F : 0x07);
  for (size_t j = 1; j < k; ++j) {
    if ((p[i + j] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i + j] & 0x3F);
  }
  *len = k;
  return cp;
}

// The zero of the decimal digits of another script whose 16-code-point block holds cp, or 0:
// Arabic-Indic, Persian, NKo, Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu,
// Kannada, Malayalam, Sinhala, Thai, Lao, Tibetan, Myanmar (and Shan), Khmer, Mongolian. Each
// script's ten digits lie in one block.
inline uint32_t DigitZero(uint32_t cp) {
  switch (cp >> 4) {
    case 0x066:
      return 0x0660;
    case 0x06F:
      return 0x06F0;
    case 0x07C:
      return 0x07C0;
    case 0x096:
      return 0x0966;
    case 0x09E:
      return 0x09E6;
    case 0x0A6:
      return 0x0A66;
    case 0x0AE:
      return 0x0AE6;
    case 0x0B6:
      return 0x0B66;
    case 0x0BE:
      return 0x0BE6;
    case 0x0C6:
      return 0x0C66;
    case 0x0CE:
      return 0x0CE6;
    case 0x0D6:
      return 0x0D66;
    case 0x0DE:
      return 0x0DE6;
    case 0x0E5:
      return 0x0E50;
    case 0x0ED:
      return 0x0ED0;
    case 0x0F2:
      return 0x0F20;
    case 0x104:
      return 0x1040;
    case 0x109:
      return 0x1090;
    case 0x17E:
      return 0x17E0;
    case 0x181:
      return 0x1810;
    default:
      return 0;
  }
}

// What a code point folds to: an ASCII byte, kFoldDrop for a character that is dropped
// (zero-width, soft hyphen), or 0 when it is not one of these forms.
inline constexpr int kFoldDrop = -1;
inline int FoldToAscii(uint32_t cp) {
  if (cp >= 0xFF01 && cp <= 0xFF5E) return static_cast<int>(cp - 0xFEE0);  // fullwidth ASCII
  if (const uint32_t z = DigitZero(cp); z && cp - z <= 9)                  // other scripts' digits
    return '0' + static_cast<int>(cp - z);
  if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFE58 || cp == 0xFE63) return '-';
  if (cp == 0x00A0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x3000) return ' ';
  if ((cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF || cp == 0x00AD)
    return kFoldDrop;
  return 0;
}

// The lead bytes of every sequence FoldToAscii maps: only words holding one are looked at.
inline bool FoldLead(unsigned char c) {
  return c == 0xC2 || c == 0xD9 || c == 0xDB || c == 0xDF || c == 0xE0 || c == 0xE1 || c == 0xE2 ||
         c == 0xE3 || c == 0xEF;
}

}  // namespace veil::masker
