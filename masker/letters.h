// Letters beyond ASCII, for the names stage: which UTF-8 sequences are letters, which of them
// are capitals, and how a Latin, Vietnamese or Cyrillic letter is spelled in ASCII (so that
// "Nguyễn", "Ionuț" and "Анна" meet the name table as "nguyen", "ionut" and "anna").
//
// No ICU on this path: the ranges below are the scripts people's names are written in, read
// from the Unicode code charts. A sequence outside them (punctuation, symbols, emoji, a broken
// sequence) is no letter, so a word ends there.
#pragma once

#include <cstddef>
#include <cstdint>

namespace veil::masker::letters {

enum class Script : uint8_t { kNone, kLatin, kGreek, kCyrillic, kArmenian, kOther };

struct Letter {
  uint8_t len = 0;  // bytes of the sequence; 0: no letter
  bool upper = false;
  Script script = Script::kNone;
  uint32_t cp = 0;
};

// Is cp (U+0100..U+024F, Latin Extended-A and -B) a capital?
constexpr bool LatinExtUpper(uint32_t cp) {
  if (cp <= 0x17F) {
    if (cp == 0x130 || cp == 0x178) return true;  // İ Ÿ
    if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) return false;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 1;
    return cp % 2 == 0;
  }
  switch (cp) {  // the irregular start of Latin Extended-B: African and Vietnamese letters
    case 0x181:
    case 0x182:
    case 0x184:
    case 0x186:
    case 0x187:
    case 0x189:
    case 0x18A:
    case 0x18B:
    case 0x18E:
    case 0x18F:
    case 0x190:
    case 0x191:
    case 0x193:
    case 0x194:
    case 0x196:
    case 0x197:
    case 0x198:
    case 0x19C:
    case 0x19D:
    case 0x19F:
    case 0x1A0:
    case 0x1A2:
    case 0x1A4:
    case 0x1A7:
    case 0x1A9:
    case 0x1AC:
    case 0x1AE:
    case 0x1AF:
    case 0x1B1:
    case 0x1B2:
    case 0x1B3:
    case 0x1B5:
    case 0x1B7:
    case 0x1B8:
    case 0x1BC:
    case 0x1C4:
    case 0x1C5:
    case 0x1C7:
    case 0x1C8:
    case 0x1CA:
    case 0x1CB:
      return true;
    default:
      break;
  }
  if (cp < 0x1CD) return false;
  if (cp <= 0x1DC) return cp % 2 == 1;  // Ǎ ǎ … Ǜ ǜ
  if (cp == 0x1F1 || cp == 0x1F2) return true;
  return cp >= 0x1DE && cp % 2 == 0 && cp != 0x1F0;  // Ǟ … Ș Ț …
}

constexpr bool CyrillicUpper(uint32_t cp) {
  if (cp <= 0x42F) return true;  // Ѐ … Я
  if (cp < 0x460) return false;  // а … џ
  if (cp <= 0x481 || (cp >= 0x48A && cp <= 0x4BF)) return cp % 2 == 0;
  if (cp == 0x4C0) return true;
  if (cp <= 0x4CE) return cp % 2 == 1;
  return cp % 2 == 0;
}

// The letter at p (n bytes readable there), or {} when the bytes are no letter this knows.
// ASCII is the caller's: this reads multi-byte sequences only.
inline Letter At(const unsigned char* p, size_t n) {
  if (n < 2 || p[0] < 0xC3 || p[0] > 0xF0) return {};
  const unsigned c = p[0], d = p[1];
  if ((d & 0xC0) != 0x80) return {};
  if (c < 0xE0) {
    const uint32_t cp = ((c & 0x1F) << 6) | (d & 0x3F);
    if (cp <= 0xFF)  // Latin-1: À..ÿ but × and ÷
      return cp == 0xD7 || cp == 0xF7 ? Letter{} : Letter{2, cp <= 0xDE, Script::kLatin, cp};
    if (cp <= 0x24F) return {2, LatinExtUpper(cp), Script::kLatin, cp};
    if (cp <= 0x2AF) return {2, false, Script::kLatin, cp};                 // IPA letters
    if (cp >= 0x300 && cp <= 0x36F) return {2, false, Script::kLatin, cp};  // combining marks
    if (cp >= 0x386 && cp <= 0x3FF && cp != 0x387)
      return {2, cp <= 0x3AB && cp != 0x3A2, Script::kGreek, cp};
    if (cp >= 0x400 && cp <= 0x52F) return {2, CyrillicUpper(cp), Script::kCyrillic, cp};
    if (cp >= 0x531 && cp <= 0x556) return {2, true, Script::kArmenian, cp};
    if (cp >= 0x561 && cp <= 0x587) return {2, false, Script::kArmenian, cp};
    if ((cp >= 0x591 && cp <= 0x5F2) ||
        (cp >= 0x610 && cp <= 0x6D3 && cp != 0x61B && cp != 0x61F && cp != 0x60C && cp != 0x640) ||
        (cp >= 0x6FA && cp <= 0x7FF))
      return {2, false, Script::kOther, cp};  // Hebrew, Arabic, Syriac, Thaana, N'Ko
    return {};
  }
  if (n < 3 || (p[2] & 0xC0) != 0x80) return {};
  if (c < 0xF0) {
    const uint32_t cp = ((c & 0x0F) << 12) | ((d & 0x3F) << 6) | (p[2] & 0x3F);
    if (cp >= 0x1E00 && cp <= 0x1EFF)  // Latin Extended Additional: Vietnamese, Welsh …
      return {3, cp % 2 == 0 && !(cp >= 0x1E96 && cp <= 0x1E9F), Script::kLatin, cp};
    if (cp >= 0x1F00 && cp <= 0x1FFF) return {3, false, Script::kGreek, cp};
    if ((cp >= 0x0800 && cp <= 0x0DFF) ||                  // Samaritan … Sinhala (Indic scripts)
        (cp >= 0x0E01 && cp <= 0x0E4E) ||                  // Thai
        (cp >= 0x0E81 && cp <= 0x0FFF) ||                  // Lao, Tibetan
        (cp >= 0x1000 && cp <= 0x109F) ||                  // Myanmar
        (cp >= 0x10A0 && cp <= 0x10FF) ||                  // Georgian
        (cp >= 0x1100 && cp <= 0x11FF) ||                  // Hangul Jamo
        (cp >= 0x1200 && cp <= 0x137F) ||                  // Ethiopic
        (cp >= 0x1780 && cp <= 0x17FF) ||                  // Khmer
        (cp >= 0x3041 && cp <= 0x30FF && cp != 0x30FB) ||  // kana (not the middle dot)
        (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||  // CJK
        (cp >= 0xAC00 && cp <= 0xD7A3))                                      // Hangul
      return {3, false, Script::kOther, cp};
    return {};
  }
  if (n < 4 || (p[3] & 0xC0) != 0x80) return {};
  if (c == 0xF0 && d >= 0xA0 && d <= 0xAF) return {4, false, Script::kOther, 0};  // CJK ext.
  return {};
}

// Writes the lower-case ASCII spelling of a letter that At() read into out (room for 4) and
// returns its length: 0 for a letter spelled by nothing (ь, a combining accent), -1 when it
// has none here (Greek, Armenian and the other scripts: their names are not in the table).
int Ascii(uint32_t cp, char* out);

}  // namespace veil::masker::letters
