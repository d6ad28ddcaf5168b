#include "masker/validators.h"

#include <arpa/inet.h>
#include <openssl/sha.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <array>
#include <bitset>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <unordered_map>

#include "common/text.h"

namespace veil::masker::validate {
namespace {

constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
constexpr bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
constexpr bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char ToUpper(char c) { return IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }
constexpr bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

template <typename Pred>
bool AllOf(std::string_view s, Pred pred) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool AllDigits(std::string_view s) { return !s.empty() && AllOf(s, IsDigit); }

bool AllSame(std::string_view s) {
  for (char c : s) {
    if (c != s[0]) return false;
  }
  return true;
}

// Value of the first n digits; the caller has checked they are digits.
int Prefix(std::string_view d, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n && i < d.size(); ++i) v = v * 10 + (d[i] - '0');
  return v;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Number of character classes present: lower, upper, digit, anything else.
int CharClasses(std::string_view s) {
  bool lower = false, upper = false, digit = false, other = false;
  for (char c : s) {
    if (IsLower(c)) {
      lower = true;
    } else if (IsUpper(c)) {
      upper = true;
    } else if (IsDigit(c)) {
      digit = true;
    } else {
      other = true;
    }
  }
  return lower + upper + digit + other;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

}  // namespace

// ---- Normalisation helpers ----

size_t StripToDigits(std::string_view in, char* out, size_t cap) {
  size_t n = 0;
  for (char c : in) {
    if (IsDigit(c)) {
      if (n == cap) return 0;
      out[n++] = c;
    } else if (c != ' ' && c != '\t' && c != '-' && c != '.' && c != '/') {
      return 0;
    }
  }
  return n;
}

size_t CompactUpper(std::string_view in, char* out, size_t cap) {
  size_t n = 0;
  for (char c : in) {
    if (IsAlnum(c)) {
      if (n == cap) return 0;
      out[n++] = ToUpper(c);
    } else if (c != ' ' && c != '-') {
      return 0;
    }
  }
  return n;
}

// ---- Financial ----

bool Luhn(std::string_view digits) {
  if (digits.size() < 2) return false;
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    char c = digits[i];
    if (!IsDigit(c)) return false;
    int v = c - '0';
    if (twice) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    twice = !twice;
  }
  return sum % 10 == 0;
}

std::optional<CardBrand> CardBrandOf(std::string_view d) {
  const size_t len = d.size();
  if (len < 12 || len > 19 || !AllDigits(d)) return std::nullopt;
  const int p1 = Prefix(d, 1), p2 = Prefix(d, 2), p3 = Prefix(d, 3), p4 = Prefix(d, 4),
            p6 = Prefix(d, 6);
  auto brand_if = [&](CardBrand b, bool length_ok) -> std::optional<CardBrand> {
    if (length_ok) return b;
    return std::nullopt;
  };
  // Checked from the most specific ranges to the catch-all Maestro 5x/6x ranges.
  if (p1 == 4) return brand_if(CardBrand::kVisa, len == 13 || len == 16 || len == 19);
  if (p2 == 34 || p2 == 37) return brand_if(CardBrand::kAmex, len == 15);
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) {
    return brand_if(CardBrand::kMastercard, len == 16);
  }
  if ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) {
    return brand_if(CardBrand::kDinersClub, len >= 14);
  }
  if (p4 >= 3528 && p4 <= 3589) return brand_if(CardBrand::kJcb, len >= 16);
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925)) {
    return brand_if(CardBrand::kDiscover, len >= 16);
  }
  if (p2 == 62) return brand_if(CardBrand::kUnionPay, len >= 16);
  if (p2 == 50 || (p2 >= 56 && p2 <= 69)) return CardBrand::kMaestro;  // 12-19
  return std::nullopt;
}

bool CreditCard(std::string_view digits) {
  return CardBrandOf(digits).has_value() && !AllSame(digits) && Luhn(digits);
}

namespace {

// SWIFT IBAN registry as of 2025, indexed by country code: the fixed IBAN length. The BBAN
// layout per country is not checked; mod 97 already rejects nearly all typos.
// French overseas departments and territories (GF, GP, MQ, RE, PF, ...) issue FR IBANs.
constexpr auto kIbanLength = [] {
  struct Entry {
    char cc[3];
    uint8_t len;
  };
  // The SWIFT registry, then (from IR on) national IBANs outside it that are issued and seen in
  // data: Iran, Algeria, Angola, the BCEAO/BEAC zones, Cape Verde, Comoros, Guinea-Bissau,
  // Madagascar, Morocco, Mozambique.
  constexpr Entry kEntries[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
      {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
      {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
      {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HN", 28}, {"HR", 21},
      {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30},
      {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
      {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
      {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23},
      {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22},
      {"RU", 33}, {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24},
      {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26},
      {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30}, {"IR", 26}, {"DZ", 26},
      {"AO", 25}, {"BJ", 28}, {"BF", 28}, {"CM", 27}, {"CV", 25}, {"CF", 27}, {"TD", 27},
      {"KM", 27}, {"CG", 27}, {"CI", 28}, {"GQ", 27}, {"GA", 27}, {"GW", 25}, {"MG", 27},
      {"ML", 28}, {"MA", 28}, {"MZ", 25}, {"NE", 28}, {"SN", 28}, {"TG", 28},
  };
  std::array<uint8_t, 26 * 26> table{};
  for (const Entry& e : kEntries) table[(e.cc[0] - 'A') * 26 + (e.cc[1] - 'A')] = e.len;
  return table;
}();

}  // namespace

bool Iban(std::string_view s) {
  if (s.size() < 15 || s.size() > 34) return false;
  if (!IsUpper(s[0]) || !IsUpper(s[1]) || !IsDigit(s[2]) || !IsDigit(s[3])) return false;
  if (kIbanLength[(s[0] - 'A') * 26 + (s[1] - 'A')] != s.size()) return false;
  // ISO 7064 mod 97-10 over BBAN + country + check digits, letters as 10..35, one digit (or
  // letter, two digits) at a time so the remainder never exceeds 9699.
  uint32_t r = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[(k + 4) % s.size()];
    if (IsDigit(c)) {
      r = (r * 10 + static_cast<uint32_t>(c - '0')) % 97;
    } else if (IsUpper(c)) {
      r = (r * 100 + static_cast<uint32_t>(c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return r == 1;
}

bool AbaRouting(std::string_view d) {
  if (d.size() != 9 || !AllDigits(d) || d == "000000000") return false;
  // Federal Reserve routing symbol: 00 (US government), 01-12 (Fed districts), 21-32 (thrifts),
  // 61-72 (electronic), 80 (traveller's cheques).
  int p2 = Prefix(d, 2);
  if (!(p2 <= 12 || (p2 >= 21 && p2 <= 32) || (p2 >= 61 && p2 <= 72) || p2 == 80)) return false;
  auto v = [&](int i) { return d[i] - '0'; };
  int sum = 3 * (v(0) + v(3) + v(6)) + 7 * (v(1) + v(4) + v(7)) + (v(2) + v(5) + v(8));
  return sum % 10 == 0;
}

// ---- National identifiers ----

bool UsSsn(std::string_view d) {
  if (d.size() != 9 || !AllDigits(d)) return false;
  int area = Prefix(d, 3);
  int group = Prefix(d.substr(3), 2);
  int serial = Prefix(d.substr(5), 4);
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return false;
  // Woolworth's wallet card, the 1940s-era Social Security Board pamphlet, and the canonical
  // example: published, used by thousands of people, never anyone's real number.
  return d != "078051120" && d != "219099999" && d != "123456789";
}

bool UsItin(std::string_view d) {
  if (d.size() != 9 || !AllDigits(d) || d[0] != '9') return false;
  int g = Prefix(d.substr(3), 2);
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) ||
         (g >= 94 && g <= 99);
}

bool UsNpi(std::string_view d) {
  if (d.size() != 10 || !AllDigits(d) || (d[0] != '1' && d[0] != '2')) return false;
  // The NPI check digit is Luhn over the card-issuer prefix 80840 followed by the number.
  char buf[15] = {'8', '0', '8', '4', '0'};
  std::memcpy(buf + 5, d.data(), 10);
  return Luhn({buf, sizeof buf});
}

bool UkNhs(std::string_view d) {
  if (d.size() != 10 || !AllDigits(d) || AllSame(d)) return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (d[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;
  return check == d[9] - '0';
}

// ---- National identification numbers elsewhere ----

namespace {

bool IsDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}
int Num(std::string_view d, size_t at, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (d[at + i] - '0');
  return v;
}

}  // namespace

bool InAadhaar(std::string_view d) {
  if (d.size() != 12 || !AllDigits(d) || d[0] < '2' || AllSame(d)) return false;
  static constexpr uint8_t kMul[10][10] = {
      {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
      {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
      {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
      {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
      {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
  static constexpr uint8_t kPerm[8][10] = {
      {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
      {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
      {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
      {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}};
  int c = 0;
  for (size_t i = 0; i < d.size(); ++i) c = kMul[c][kPerm[i % 8][d[d.size() - 1 - i] - '0']];
  return c == 0;
}

bool BrCpf(std::string_view d) {
  if (d.size() != 11 || !AllDigits(d) || AllSame(d)) return false;
  for (int k = 9; k <= 10; ++k) {
    int sum = 0;
    for (int i = 0; i < k; ++i) sum += (d[i] - '0') * (k + 1 - i);
    int check = sum * 10 % 11 % 10;
    if (check != d[k] - '0') return false;
  }
  return true;
}

bool CnResidentId(std::string_view s) {
  if (s.size() != 18 || !AllDigits(s.substr(0, 17))) return false;
  const char last = ToUpper(s[17]);
  if (!IsDigit(last) && last != 'X') return false;
  if (s[0] < '1' || s[0] > '9') return false;
  const int y = Num(s, 6, 4), m = Num(s, 10, 2), day = Num(s, 12, 2);
  if (y < 1900 || y > 2100 || !IsDate(y, m, day)) return false;
  static constexpr int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (s[i] - '0') * kW[i];
  const char check = "10X98765432"[sum % 11];
  return check == last;
}

bool FrNir(std::string_view d) {
  if (d.size() != 15 || !AllDigits(d)) return false;
  if (d[0] != '1' && d[0] != '2' && d[0] != '7' && d[0] != '8') return false;
  const int m = Num(d, 3, 2);
  if (!((m >= 1 && m <= 12) || (m >= 20 && m <= 42) || m == 99)) return false;
  uint64_t n = 0;
  for (int i = 0; i < 13; ++i) n = n * 10 + static_cast<uint64_t>(d[i] - '0');
  return static_cast<int>(97 - n % 97) == Num(d, 13, 2);
}

bool PlPesel(std::string_view d) {
  if (d.size() != 11 || !AllDigits(d) || AllSame(d)) return false;
  int y = Num(d, 0, 2), m = Num(d, 2, 2);
  const int day = Num(d, 4, 2);
  const int century = m / 20;  // 0: 1900s, 1: 2000s, 2: 2100s, 3: 2200s, 4: 1800s
  y += century == 4 ? 1800 : 1900 + 100 * century;
  m %= 20;
  if (!IsDate(y, m, day)) return false;
  static constexpr int kW[10] = {1, 3, 7, 9, 1, 3, 7, 9, 1, 3};
  int sum = 0;
  for (int i = 0; i < 10; ++i) sum += (d[i] - '0') * kW[i];
  return (10 - sum % 10) % 10 == d[10] - '0';
}

bool NlBsn(std::string_view d) {
  if (d.size() != 9 || !AllDigits(d) || AllSame(d)) return false;
  int sum = 0;
  for (int i = 0; i < 8; ++i) sum += (d[i] - '0') * (9 - i);
  sum -= d[8] - '0';
  return sum % 11 == 0;
}

bool DeTaxId(std::string_view d) {
  if (d.size() != 11 || !AllDigits(d) || d[0] == '0') return false;
  // In the first ten digits one digit occurs twice or three times, and no other repeats.
  int count[10] = {};
  for (int i = 0; i < 10; ++i) ++count[d[i] - '0'];
  int repeated = 0, missing = 0;
  for (int c : count) {
    if (c >= 2) ++repeated;
    if (c > 3) return false;
    if (c == 0) ++missing;
  }
  if (repeated != 1 || (missing != 1 && missing != 2)) return false;
  int product = 10;
  for (int i = 0; i < 10; ++i) {
    int sum = (d[i] - '0' + product) % 10;
    if (sum == 0) sum = 10;
    product = sum * 2 % 11;
  }
  int check = 11 - product;
  if (check == 10) check = 0;
  return check == d[10] - '0';
}

bool SePersonnummer(std::string_view d) {
  if ((d.size() != 10 && d.size() != 12) || !AllDigits(d)) return false;
  std::string_view ten = d.substr(d.size() - 10);
  const int y = d.size() == 12 ? Num(d, 0, 4) : 2000 + Num(ten, 0, 2);
  int day = Num(ten, 4, 2);
  if (day > 60) day -= 60;  // a coordination number
  if (d.size() == 12 && (y < 1850 || y > 2100)) return false;
  if (!IsDate(y, Num(ten, 2, 2), day)) return false;
  return Luhn(ten);
}

bool KrRrn(std::string_view d) {
  if (d.size() != 13 || !AllDigits(d)) return false;
  const int g = d[6] - '0';  // 1,2: 1900s; 3,4: 2000s; 5-8 the same for foreigners; 9,0: 1800s
  const int century = (g == 9 || g == 0) ? 1800 : (g % 4 == 1 || g % 4 == 2) ? 1900 : 2000;
  return IsDate(century + Num(d, 0, 2), Num(d, 2, 2), Num(d, 4, 2));
}

bool KrRrnCheck(std::string_view d) {
  if (d.size() != 13 || !AllDigits(d)) return false;
  static constexpr int kW[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += (d[i] - '0') * kW[i];
  return (11 - sum % 11) % 10 == d[12] - '0';
}

bool ZaId(std::string_view d) {
  if (d.size() != 13 || !AllDigits(d) || (d[10] != '0' && d[10] != '1')) return false;
  return IsDate(1900 + Num(d, 0, 2), Num(d, 2, 2), Num(d, 4, 2)) && Luhn(d);
}

bool EsDniNie(std::string_view s) {
  if (s.size() != 9) return false;
  const char first = ToUpper(s[0]);
  int lead = -1;
  if (first == 'X' || first == 'Y' || first == 'Z') lead = first - 'X';
  if (!AllDigits(s.substr(lead >= 0 ? 1 : 0, lead >= 0 ? 7 : 8))) return false;
  int n = lead >= 0 ? lead * 10000000 + Num(s, 1, 7) : Num(s, 0, 8);
  return "TRWAGMYFPDXBNJZSQVHLCKE"[n % 23] == ToUpper(s[8]);
}

bool ItFiscalCode(std::string_view s) {
  if (s.size() != 16) return false;
  char c[16];
  for (int i = 0; i < 16; ++i) c[i] = ToUpper(s[i]);
  // Digits may be replaced by letters for homonyms (omocodia): LMNPQRSTUV stand for 0-9.
  auto digitish = [](char x) {
    return IsDigit(x) || std::string_view("LMNPQRSTUV").find(x) != std::string_view::npos;
  };
  for (int i : {0, 1, 2, 3, 4, 5, 8, 11, 15})
    if (!IsUpper(c[i])) return false;
  for (int i : {6, 7, 9, 10, 12, 13, 14})
    if (!digitish(c[i])) return false;
  if (std::string_view("ABCDEHLMPRST").find(c[8]) == std::string_view::npos) return false;
  static constexpr int kOdd[36] = {1,  0, 5, 7,  9,  13, 15, 17, 19, 21, 1,  0,
                                   5,  7, 9, 13, 15, 17, 19, 21, 2,  4,  18, 20,
                                   11, 3, 6, 8,  12, 14, 16, 10, 22, 25, 24, 23};
  int sum = 0;
  for (int i = 0; i < 15; ++i) {
    const int v = IsDigit(c[i]) ? c[i] - '0' : c[i] - 'A' + 10;  // 0-9, then A-Z as 10-35
    if (i % 2 == 0) {
      sum += kOdd[v];
    } else {
      sum += IsDigit(c[i]) ? c[i] - '0' : c[i] - 'A';
    }
  }
  return c[15] == 'A' + sum % 26;
}

bool InPan(std::string_view s) {
  if (s.size() != 10) return false;
  for (int i : {0, 1, 2, 3, 4, 9})
    if (!IsUpper(s[i])) return false;
  if (!AllDigits(s.substr(5, 4)) || s.substr(5, 4) == "0000") return false;
  return std::string_view("PCHFATBLJG").find(s[3]) != std::string_view::npos;
}

bool SgNric(std::string_view s) {
  if (s.size() != 9 || !AllDigits(s.substr(1, 7))) return false;
  const char first = ToUpper(s[0]), last = ToUpper(s[8]);
  static constexpr int kW[7] = {2, 7, 6, 5, 4, 3, 2};
  int sum = 0;
  for (int i = 0; i < 7; ++i) sum += (s[1 + i] - '0') * kW[i];
  if (first == 'T' || first == 'G') sum += 4;
  if (first == 'M') sum += 3;
  const int r = sum % 11;
  switch (first) {
    case 'S':
    case 'T':
      return "JZIHGFEDCBA"[r] == last;
    case 'F':
    case 'G':
      return "XWUTRQPNMLK"[r] == last;
    case 'M':
      return "XWUTRQPNJLK"[10 - r] == last;
    default:
      return false;
  }
}

bool NationalId(std::string_view s) {
  switch (s.size()) {
    case 9:
      return NlBsn(s) || EsDniNie(s) || SgNric(s);
    case 10:
      return SePersonnummer(s) || InPan(s);
    case 11:
      return BrCpf(s) || PlPesel(s) || DeTaxId(s);
    case 12:
      return InAadhaar(s) || SePersonnummer(s);
    case 13:
      return KrRrn(s) || ZaId(s);
    case 15:
      return FrNir(s);
    case 16:
      return ItFiscalCode(s);
    case 18:
      return CnResidentId(s);
    default:
      return false;
  }
}

bool UkNino(std::string_view s) {
  if (s.size() != 8 && s.size() != 9) return false;
  const char a = ToUpper(s[0]), b = ToUpper(s[1]);
  if (!IsUpper(a) || !IsUpper(b) || !AllDigits(s.substr(2, 6))) return false;
  if (s.size() == 9) {
    char suffix = ToUpper(s[8]);
    if (suffix < 'A' || suffix > 'D') return false;
  }
  if (std::string_view("DFIQUV").find(a) != std::string_view::npos) return false;
  if (std::string_view("DFIOQUV").find(b) != std::string_view::npos) return false;
  const char prefix[2] = {a, b};
  for (std::string_view bad : {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}) {
    if (std::string_view(prefix, 2) == bad) return false;
  }
  return true;
}

bool UsPassport(std::string_view s) {
  if (s.size() != 9) return false;
  std::string_view digits = IsAlpha(s[0]) ? s.substr(1) : s;
  return AllDigits(digits) && !AllSame(digits);
}

bool UsDriverLicense(std::string_view s) {
  // 20: FL's printed form "A123-456-78-901-0" is 17 characters with its dashes.
  if (s.size() < 5 || s.size() > 20 || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  // The runs of letters and digits, '-' and ' ' being printing separators (IL "A123-4567-8901").
  struct Run {
    bool letters;
    size_t n;
  };
  Run runs[4];
  size_t nruns = 0;
  char first_digit = 0;
  bool all_same = true;
  for (char c : s) {
    if (c == '-' || c == ' ') continue;
    if (!IsAlnum(c)) return false;
    const bool letter = IsAlpha(c);
    if (!letter) {
      if (first_digit == 0) first_digit = c;
      all_same = all_same && c == first_digit;
    }
    if (nruns == 0 || runs[nruns - 1].letters != letter) {
      if (nruns == 4) return false;
      runs[nruns++] = {letter, 0};
    }
    ++runs[nruns - 1].n;
  }
  if (all_same) return false;
  // The states' shapes (AAMVA's table): digits alone (AL, NC, TX …), a letter then 4–14 digits
  // (OH, CA, FL, WI, NJ), two letters then digits (CO, OH, WV), ND's three letters and six
  // digits, a trailing letter (ME, VT, MO), IA's 123AB4567, NH's 12ABC34567, ID's AB123456C.
  auto is = [&](std::initializer_list<std::pair<bool, std::pair<size_t, size_t>>> want) {
    if (want.size() != nruns) return false;
    size_t i = 0;
    for (const auto& [letters, range] : want) {
      const Run& r = runs[i++];
      if (r.letters != letters || r.n < range.first || r.n > range.second) return false;
    }
    return true;
  };
  constexpr bool L = true, D = false;
  return is({{D, {5, 14}}}) || is({{L, {1, 1}}, {D, {4, 14}}}) || is({{L, {2, 2}}, {D, {3, 7}}}) ||
         is({{L, {3, 3}}, {D, {6, 6}}}) || is({{D, {7, 9}}, {L, {1, 1}}}) ||
         is({{D, {3, 3}}, {L, {2, 2}}, {D, {4, 4}}}) ||
         is({{D, {2, 2}}, {L, {3, 3}}, {D, {5, 5}}}) || is({{L, {2, 2}}, {D, {6, 6}}, {L, {1, 1}}});
}

// ---- Contact and network ----

bool Email(std::string_view s) {
  if (s.size() > 254) return false;
  size_t at = s.find('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.empty() || local.size() > 64) return false;
  if (local.front() == '.' || local.back() == '.') return false;
  constexpr std::string_view kAtextSymbols = "!#$%&'*+/=?^_`{|}~-";
  char prev = 0;
  for (char c : local) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAlnum(c) && kAtextSymbols.find(c) == std::string_view::npos &&
               static_cast<unsigned char>(c) < 0x80) {  // UTF-8 is allowed (RFC 6531)
      return false;
    }
    prev = c;
  }
  if (domain.empty() || domain.size() > 253) return false;
  size_t labels = 0;
  std::string_view tld;
  while (true) {
    size_t dot = domain.find('.');
    std::string_view label = domain.substr(0, dot);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    if (!AllOf(label, [](char c) {
          return IsAlnum(c) || c == '-' || static_cast<unsigned char>(c) >= 0x80;
        }))
      return false;
    ++labels;
    tld = label;
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  if (labels < 2) return false;
  bool idn = tld.size() > 4 && ContainsIgnoreCase(tld.substr(0, 4), "xn--");
  // A TLD in its own script (.рф, .中国): UTF-8 letters only.
  bool unicode =
      tld.size() >= 4 && AllOf(tld, [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  return idn || unicode || (tld.size() >= 2 && tld.size() <= 24 && AllOf(tld, IsAlpha));
}

namespace {

bool PhoneLibValid(std::string_view text, std::string_view region) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(std::string(text), std::string(region), &number) !=
      PhoneNumberUtil::NO_PARSING_ERROR) {
    return false;
  }
  return util.IsValidNumber(number);
}

// North American numbers are most of what a US database holds, and libphonenumber's ICU regexes
// cost microseconds per call. Which area codes are in service is taken from libphonenumber
// itself, once; the rest of the NANP rule (exchange [2-9]XX, not N11) is checked here.
struct NanpAreaCodes {
  std::bitset<1000> valid;
  NanpAreaCodes() {
    for (int npa = 200; npa < 1000; ++npa) {
      char num[24];
      std::snprintf(num, sizeof(num), "+1 %03d 234 5678", npa);
      char alt[24];
      std::snprintf(alt, sizeof(alt), "+1 %03d 798 4321", npa);
      if (PhoneLibValid(num, "US") || PhoneLibValid(alt, "US")) valid.set(npa);
    }
  }
};

}  // namespace

bool CountryCallingCode(int cc) {
  static const std::bitset<1000> assigned = [] {
    std::bitset<1000> b;
    const auto& util = *i18n::phonenumbers::PhoneNumberUtil::GetInstance();
    for (int c = 1; c < 1000; ++c) {
      std::string region;
      util.GetRegionCodeForCountryCode(c, &region);
      b.set(c, region != "ZZ");
    }
    return b;
  }();
  return cc > 0 && cc < 1000 && assigned.test(static_cast<size_t>(cc));
}

bool Phone(std::string_view text, std::string_view default_region) {
  char d[16];
  size_t digits = 0;
  for (char c : text) {
    if (!IsDigit(c)) continue;
    if (digits == sizeof(d)) return false;
    d[digits++] = c;
  }
  if (digits < 7 || digits > 15) return false;
  const bool plus = !text.empty() && text.front() == '+';
  const char* nanp = nullptr;
  if (plus && digits == 11 && d[0] == '1') nanp = d + 1;
  if (!plus && default_region == "US" && digits == 10) nanp = d;
  if (!plus && default_region == "US" && digits == 11 && d[0] == '1') nanp = d + 1;
  if (nanp) {
    static const NanpAreaCodes codes;  // thread-safe static init
    int npa = (nanp[0] - '0') * 100 + (nanp[1] - '0') * 10 + (nanp[2] - '0');
    bool nxx_ok = nanp[3] >= '2' && !(nanp[4] == '1' && nanp[5] == '1');
    return codes.valid.test(npa) && nxx_ok;
  }
  // Other countries: libphonenumber, behind a small per-thread cache of recent answers.
  struct Slot {
    char key[19];
    uint8_t len = 0;
    bool valid = false;
  };
  thread_local Slot cache[256];
  char key[19];
  size_t kl = 0;
  key[kl++] = plus ? '+' : ' ';
  key[kl++] = default_region.size() > 0 ? default_region[0] : ' ';
  key[kl++] = default_region.size() > 1 ? default_region[1] : ' ';
  std::memcpy(key + kl, d, digits);
  kl += digits;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < kl; ++i) h = (h ^ static_cast<uint8_t>(key[i])) * 16777619u;
  Slot& slot = cache[h & 255];
  if (slot.len == kl && std::memcmp(slot.key, key, kl) == 0) return slot.valid;
  bool valid = PhoneLibValid(text, default_region);
  std::memcpy(slot.key, key, kl);
  slot.len = static_cast<uint8_t>(kl);
  slot.valid = valid;
  return valid;
}

bool IpV4(std::string_view s) {
  if (s.size() < 7 || s.size() > 15) return false;
  // inet_pton already refuses most of these; the explicit check documents the intent and does
  // not depend on the libc.
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    bool octet_start = i == 0 || s[i - 1] == '.';
    if (octet_start && s[i] == '0' && IsDigit(s[i + 1])) return false;
  }
  char buf[16];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  in_addr addr;
  return inet_pton(AF_INET, buf, &addr) == 1;
}

bool IpV6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  char buf[46];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  in6_addr addr;
  return inet_pton(AF_INET6, buf, &addr) == 1;
}

bool MacAddress(std::string_view s) {
  char sep;
  size_t group;
  if (s.size() == 17) {
    sep = s[2];
    group = 2;
    if (sep != ':' && sep != '-') return false;
  } else if (s.size() == 14) {
    sep = '.';
    group = 4;
  } else {
    return false;
  }
  bool all_zero = true, all_f = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((i + 1) % (group + 1) == 0) {
      if (s[i] != sep) return false;
      continue;
    }
    char c = s[i];
    if (!IsHex(c)) return false;
    all_zero = all_zero && c == '0';
    all_f = all_f && ToLower(c) == 'f';
  }
  return !all_zero && !all_f;
}

// ---- Dates ----

namespace {

constexpr std::string_view kMonthNames[] = {"january",   "february", "march",    "april",
                                            "may",       "june",     "july",     "august",
                                            "september", "october",  "november", "december"};

}  // namespace

int MonthOf(std::string_view word) {
  if (word.size() < 3) return 0;
  // Written out (whole names, as a date writes them: the genitive in Slavic languages and
  // Greek, the partitive in Finnish) in French, German, Spanish, Italian, Portuguese, Dutch,
  // the Scandinavian languages, Polish, Czech, Slovak, Croatian, Romanian, Hungarian, Turkish,
  // Finnish, Indonesian, Russian, Ukrainian, Greek, Thai and Arabic. A hash table: this runs
  // at every word before a year the prefilter sees.
  static const auto* const kNames = [] {
    static constexpr std::string_view kOther[12][32] = {
        {"janvier", "januar",  "enero",      "gennaio",    "janeiro", "januari", "stycznia",
         "ledna",   "januára", "siječnja",   "ianuarie",   "január",  "ocak",    "tammikuuta",
         "января",  "січня",   "Ιανουαρίου", "ιανουαρίου", "มกราคม",  "يناير"},
        {"février",    "februar",  "febrero", "febbraio",    "fevereiro",   "februari", "lutego",
         "února",      "februára", "veljače", "februarie",   "február",     "Şubat",    "şubat",
         "helmikuuta", "февраля",  "лютого",  "Φεβρουαρίου", "φεβρουαρίου", "กุมภาพันธ์",  "فبراير"},
        {"mars",   "märz",    "marzo",   "março",   "maart", "marts",       "marca",
         "března", "ožujka",  "martie",  "március", "mart",  "maaliskuuta", "maret",
         "марта",  "березня", "Μαρτίου", "μαρτίου", "มีนาคม", "مارس"},
        {"avril", "april", "abril", "aprile", "kwietnia", "dubna", "apríla", "travnja", "aprilie",
         "április", "nisan", "huhtikuuta", "апреля", "квітня", "Απριλίου", "απριλίου", "เมษายน",
         "أبريل"},
        {"mai", "mayo", "maggio", "maio", "mei", "maj", "maja", "května", "mája", "svibnja",
         "május", "mayıs", "toukokuuta", "мая", "травня", "Μαΐου", "μαΐου", "พฤษภาคม", "مايو"},
        {"juin", "juni", "junio", "giugno", "junho", "czerwca", "června", "júna", "lipnja", "iunie",
         "június", "haziran", "kesäkuuta", "июня", "червня", "Ιουνίου", "ιουνίου", "มิถุนายน",
         "يونيو"},
        {"juillet", "juli", "julio", "luglio", "julho", "lipca", "července", "júla", "srpnja",
         "iulie", "július", "temmuz", "heinäkuuta", "июля", "липня", "Ιουλίου", "ιουλίου",
         "กรกฎาคม", "يوليو"},
        {"août", "august", "agosto", "augustus", "augusti", "sierpnia", "srpna", "augusta",
         "kolovoza", "augusztus", "ağustos", "elokuuta", "agustus", "августа", "серпня",
         "Αυγούστου", "αυγούστου", "สิงหาคม", "أغسطس"},
        {"septembre", "september", "septiembre", "settembre", "setembro", "września", "září",
         "septembra", "rujna", "septembrie", "szeptember", "eylül", "syyskuuta", "сентября",
         "вересня", "Σεπτεμβρίου", "σεπτεμβρίου", "กันยายน", "سبتمبر"},
        {"octobre", "oktober", "octubre", "ottobre", "outubro", "października", "října", "októbra",
         "listopada", "octombrie", "október", "ekim", "lokakuuta", "октября", "жовтня", "Οκτωβρίου",
         "οκτωβρίου", "ตุลาคม", "أكتوبر"},
        {"novembre", "november", "noviembre", "novembro", "listopadu", "novembra", "studenoga",
         "noiembrie", "kasım", "marraskuuta", "ноября", "листопада", "Νοεμβρίου", "νοεμβρίου",
         "พฤศจิกายน", "نوفمبر"},
        {"décembre", "dezember", "diciembre",  "dicembre",   "dezembro",  "december", "desember",
         "grudnia",  "prosince", "decembra",   "prosinca",   "decembrie", "aralık",   "joulukuuta",
         "декабря",  "грудня",   "Δεκεμβρίου", "δεκεμβρίου", "ธันวาคม",    "ديسمبر"}};
    // … and Bulgarian, Serbian, Hindi, Estonian, Slovenian, Malay, Hebrew (with its "in" prefix, as
    // a date writes it: "12 במרץ 1985"), Catalan, Georgian, Armenian, Lithuanian, Latvian.
    static constexpr std::string_view kMore[12][24] = {
        {"януари", "јануар", "जनवरी", "jaanuar", "januarja", "januari", "בינואר", "ינואר",
         "januari", "gener", "იანვარი", "հունվարի", "sausio", "janvāris"},
        {"февруари", "фебруар", "फ़रवरी", "फरवरी", "veebruar", "februarja", "februari", "בפברואר",
         "פברואר", "febrer", "თებერვალი", "փետրվարի", "vasario", "februāris"},
        {"март", "मार्च", "märts", "marca", "marec", "mac", "במרץ", "מרץ", "març", "მარტი", "մարտի",
         "kovo", "marts"},
        {"април", "अप्रैल", "aprill", "aprila", "אפריל", "באפריל", "abril", "აპრილი", "ապրիլի",
         "balandžio", "aprīlis"},
        {"май", "мај", "मई", "maja", "mei", "במאי", "מאי", "maig", "მაისი", "մայիսի", "gegužės",
         "maijs"},
        {"юни", "јун", "जून", "juuni", "junija", "junij", "ביוני", "יוני", "juny", "ივნისი",
         "հունիսի", "birželio", "jūnijs"},
        {"юли", "јул", "जुलाई", "juuli", "julija", "julij", "julai", "ביולי", "יולי", "juliol",
         "ივლისი", "հուլիսի", "liepos", "jūlijs"},
        {"август", "अगस्त", "avgust", "avgusta", "ogos", "באוגוסט", "אוגוסט", "agost", "აგვისტო",
         "օգոստոսի", "rugpjūčio", "augusts"},
        {"септември", "септембар", "सितंबर", "सितम्बर", "septembra", "בספטמבר", "ספטמבר", "setembre",
         "სექტემბერი", "սեպտեմբերի", "rugsėjo", "septembris"},
        {"октомври", "октобар", "अक्तूबर", "अक्टूबर", "oktoober", "oktobra", "באוקטובר", "אוקטובר",
         "octubre", "ოქტომბერი", "հոկտեմբերի", "spalio", "oktobris"},
        {"ноември", "новембар", "नवंबर", "नवम्बर", "novembra", "בנובמבר", "נובמבר", "novembre",
         "ნოემბერი", "նոյեմբերի", "lapkričio", "novembris"},
        {"декември", "децембар", "दिसंबर", "दिसम्बर", "detsember", "decembra", "disember", "בדצמבר",
         "דצמבר", "desembre", "დეკემბერი", "դեկտեմբերի", "gruodžio", "decembris"}};
    // Abbreviated, as dates of those languages write them in their medium form ("18 sie 1968",
    // "28 Eki 1954", "25 мар. 1973 г.", "18 ม.ค. 2503"), without their dot; English's are below.
    static constexpr std::string_view kShort[12][24] = {
        {"janv", "jan", "jaan", "ene", "gen", "sty", "oca", "sij", "ian", "янв", "січ", "Ιαν",
         "ιαν", "ม.ค.", "იან", "հնվ", "בינו׳", "जन॰", "janv"},
        {"févr", "fév", "feb", "veebr", "fev",  "lut", "şub", "Şub",   "velj", "febr", "февр",
         "фев",  "лют", "Φεβ", "φεβ",   "ก.พ.", "თებ", "փտվ", "בפבר׳", "फ़र॰",  "febr"},
        {"mar", "märz", "mrt", "ožu", "márc", "мар", "бер", "Μαρ", "μαρ", "มี.ค.", "მარ", "մրտ",
         "במרץ", "मार्च", "marts"},
        {"avr", "abr", "apr", "kwi", "nis", "tra", "ápr", "апр", "квіт", "Απρ", "απρ", "เม.ย.",
         "აპრ", "ապր", "באפר׳", "अप्रैल", "apr"},
        {"may", "mag", "mai", "maj", "svi", "máj", "мая", "трав", "Μαΐ", "μαΐ", "พ.ค.", "mei",
         "მაი", "մյս", "במאי", "मई", "maijs"},
        {"juin", "jun", "giu", "cze", "haz", "lip", "iun", "jún", "июн", "черв", "Ιουν", "ιουν",
         "มิ.ย.", "ივნ", "հնս", "ביוני", "जून", "jūn"},
        {"juil", "jul", "lug", "lip", "tem", "srp", "iul", "júl", "июл", "лип", "Ιουλ", "ιουλ",
         "ก.ค.", "ივლ", "հլս", "ביולי", "जुल॰", "jūl"},
        {"août", "ago", "aug", "avg", "ogo", "sie", "ağu", "agu", "kol", "авг", "серп", "Αυγ",
         "αυγ", "ส.ค.", "აგვ", "օգս", "באוג׳", "अग॰", "aug"},
        {"sept", "sep", "set", "wrz", "eyl", "ruj", "szept", "сент", "вер", "Σεπ", "σεπ", "ก.ย.",
         "სექ", "սեպ", "בספט׳", "सित॰", "sept"},
        {"oct", "okt", "ott", "out", "paź", "eki", "lis", "окт", "жовт", "Οκτ", "οκτ", "ต.ค.",
         "ოქტ", "հոկ", "באוק׳", "अक्तू॰", "okt"},
        {"nov", "lis", "kas", "stu", "нояб", "лист", "Νοε", "νοε", "พ.ย.", "ნოე", "նոյ", "בנוב׳",
         "नव॰", "nov"},
        {"déc", "dic",  "dez", "dec", "dets", "dis", "gru", "ara",   "pro",  "des",
         "дек", "груд", "Δεκ", "δεκ", "ธ.ค.", "დეკ", "դեկ", "בדצמ׳", "दिस॰", "dec"}};
    auto* m = new std::unordered_map<std::string_view, int>;
    for (int i = 0; i < 12; ++i) {
      for (std::string_view name : kOther[i])
        if (!name.empty()) m->emplace(name, i + 1);
      for (std::string_view name : kMore[i])
        if (!name.empty()) m->emplace(name, i + 1);
      for (std::string_view name : kShort[i])
        if (!name.empty()) m->emplace(name, i + 1);
    }
    return m;
  }();
  if (word.size() <= 40) {
    char buf[40];
    for (size_t i = 0; i < word.size(); ++i)
      buf[i] = word[i] >= 'A' && word[i] <= 'Z' ? static_cast<char>(word[i] + 32) : word[i];
    if (auto it = kNames->find(std::string_view(buf, word.size())); it != kNames->end())
      return it->second;
  }
  for (int m = 0; m < 12; ++m) {
    std::string_view name = kMonthNames[m];
    bool ok = word.size() == 3 || word.size() == name.size() || (m == 8 && word.size() == 4);
    if (ok && word.size() <= name.size() && ContainsIgnoreCase(name.substr(0, word.size()), word))
      return m + 1;
  }
  return 0;
}

namespace {

constexpr bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool IsRealDate(int y, int m, int d) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  return d <= kDays[m - 1] + (m == 2 && IsLeap(y));
}

// A left-to-right reader over the date text.
class DateReader {
 public:
  explicit DateReader(std::string_view s) : s_(s) {}

  bool AtEnd() const { return i_ == s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }

  // Reads min..max digits (and no more); -1 if there are fewer than min or more than max.
  int Number(size_t min, size_t max) {
    size_t start = i_;
    int v = 0;
    while (i_ < s_.size() && IsDigit(s_[i_])) v = v * 10 + (s_[i_++] - '0');
    size_t n = i_ - start;
    return n >= min && n <= max ? v : -1;
  }

  bool Char(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }

  // Skips `w` and the spaces after it, if it is there as a word ("7 de marzo de 1984"); true
  // if it was.
  bool Word(std::string_view w) {
    if (s_.substr(i_, w.size()) == w && i_ + w.size() < s_.size() && IsSpace(s_[i_ + w.size()])) {
      i_ += w.size();
      Spaces();
      return true;
    }
    return false;
  }

  // Skips spaces; true if at least one was skipped.
  bool Spaces() {
    size_t start = i_;
    while (i_ < s_.size() && IsSpace(s_[i_])) ++i_;
    return i_ > start;
  }

  // A month name: "Jan", "Jan.", "Sept", "January" in any case. 0 if none.
  int Month() {
    size_t start = i_;
    while (i_ < s_.size() && (IsAlpha(s_[i_]) || static_cast<unsigned char>(s_[i_]) >= 0x80)) ++i_;
    std::string_view word = s_.substr(start, i_ - start);
    int m = MonthOf(word);
    // Thai abbreviations are letters and dots: "ม.ค.", "มี.ค.".
    if (m == 0 && !word.empty() && static_cast<unsigned char>(word[0]) >= 0x80) {
      size_t j = i_;
      while (j < s_.size() && (static_cast<unsigned char>(s_[j]) >= 0x80 || s_[j] == '.')) ++j;
      if (j > i_ && (m = MonthOf(s_.substr(start, j - start))) != 0) {
        i_ = j;
        return m;
      }
    }
    if (m != 0) Char('.');  // an abbreviation's dot: "Jan.", "márc.", "мар.", "out."
    return m;
  }

  // Optional English ordinal after a day number: "5th", "1st", "22nd", "3rd".
  void Ordinal() {
    std::string_view rest = s_.substr(i_, 2);
    if (rest.size() == 2 && IsAlpha(rest[0]) && IsAlpha(rest[1])) {
      for (std::string_view suffix : {"st", "nd", "rd", "th"}) {
        if (ContainsIgnoreCase(rest, suffix)) {
          i_ += 2;
          return;
        }
      }
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::optional<Date> Make(int y, int m, int d) {
  if (!IsRealDate(y, m, d)) return std::nullopt;
  return Date{y, m, d};
}

}  // namespace

std::optional<Date> ParseDate(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  if (text.size() < 8 || text.size() > 64) return std::nullopt;
  // Arabic's directional marks inside a numeric date ("16\u200f/12\u200f/1930"): not part of it.
  if (text.find("\xE2\x80\x8F") != std::string_view::npos ||
      text.find("\xE2\x80\x8E") != std::string_view::npos ||
      text.find("\xD8\x9C") != std::string_view::npos) {
    std::string plain;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text.compare(i, 3, "\xE2\x80\x8F") == 0 || text.compare(i, 3, "\xE2\x80\x8E") == 0) {
        i += 2;
      } else if (text.compare(i, 2, "\xD8\x9C") == 0) {
        ++i;
      } else {
        plain += text[i];
      }
    }
    return ParseDate(plain);
  }
  // Numbers with a dot and a space between them, as Czech, Slovak, Serbian ("4. 7. 1999",
  // "21. 4. 1968.") and Korean ("1949. 11. 8.") write a date: the dotted date.
  {
    char compact[16];
    size_t n = 0, groups = 0, i = 0;
    bool ok = true;
    while (ok && i < text.size() && n + 6 < sizeof(compact)) {
      size_t j = i;
      while (j < text.size() && IsDigit(text[j])) compact[n++] = text[j++];
      ok = j > i && j - i <= 4;
      ++groups;
      i = j;
      if (i == text.size()) break;
      ok = ok && text[i] == '.';
      ++i;
      if (i == text.size()) break;
      ok = ok && text[i] == ' ' && groups < 3;
      ++i;
      if (ok) compact[n++] = '.';
    }
    if (ok && groups == 3 && text.find(". ") != std::string_view::npos)
      return ParseDate(std::string_view(compact, n));
  }

  // YYYYMMDD, as forms and exports write it ("birthdate: 19850314").
  if (text.size() == 8 && AllDigits(text)) {
    auto num = [&](size_t at, size_t len) {
      int v = 0;
      for (size_t k = at; k < at + len; ++k) v = v * 10 + (text[k] - '0');
      return v;
    };
    return Make(num(0, 4), num(4, 2), num(6, 2));
  }
  if (IsDigit(text[0])) {
    DateReader r(text);
    // Numeric: YYYY-MM-DD (also with '/' or '.'), or D/M/YYYY-style with the year last.
    int a = r.Number(1, 4);
    if (a < 0) return std::nullopt;
    char sep = r.Peek();
    const bool day_dot = sep == '.' && text.size() > 2 && !IsDigit(text[text.find('.') + 1]);
    if ((sep == '-' || sep == '/' || sep == '.') && !day_dot) {  // not "7. März 1984"

      r.Char(sep);
      if (text.substr(0, 4).find(sep) == std::string_view::npos) {  // year first
        int m = r.Number(1, 2);
        if (m < 0 || !r.Char(sep)) return std::nullopt;
        int d = r.Number(1, 2);
        if (d < 0 || !r.AtEnd()) return std::nullopt;
        return Make(a, m, d);
      }
      int b = r.Number(1, 2);
      if (b < 0 || !r.Char(sep)) return std::nullopt;
      int y = r.Number(4, 4);
      if (y < 0 || !r.AtEnd()) return std::nullopt;
      if (sep == '.') return Make(y, b, a);    // DD.MM.YYYY
      if (auto us = Make(y, a, b)) return us;  // MM/DD/YYYY first, DD/MM/YYYY otherwise
      return Make(y, b, a);
    }
    // Hungarian, the year first: "1985. március 12.", "1985. márc. 12"; Latvian, "1960. gada
    // 25. februāris".
    if (a >= 1000 && sep == '.') {
      r.Char('.');
      if (!r.Spaces()) return std::nullopt;
      if (r.Word("gada")) {
        const int d = r.Number(1, 2);
        if (d < 0 || !r.Char('.') || !r.Spaces()) return std::nullopt;
        const int m = r.Month();
        if (m == 0 || !r.AtEnd()) return std::nullopt;
        return Make(a, m, d);
      }
      const int m = r.Month();
      if (m == 0 || !r.Spaces()) return std::nullopt;
      const int d = r.Number(1, 2);
      r.Char('.');
      if (d < 0 || !r.AtEnd()) return std::nullopt;
      return Make(a, m, d);
    }
    // Lithuanian: "1977 m. kovo 9 d." (year, month, day).
    if (a >= 1000 && sep == ' ') {
      r.Spaces();
      if (!r.Word("m.")) return std::nullopt;
      const int m = r.Month();
      if (m == 0 || !r.Spaces()) return std::nullopt;
      const int d = r.Number(1, 2);
      r.Spaces();
      if (d < 0 || !(r.AtEnd() || (r.Char('d') && r.Char('.') && r.AtEnd()))) return std::nullopt;
      return Make(a, m, d);
    }
    // "5 January 1984", "5th Jan 1984", "7. März 1984", "7 de marzo de 1984"
    if (a > 31) return std::nullopt;
    r.Ordinal();
    r.Char('.');
    if (!r.Spaces()) return std::nullopt;
    r.Word("de");
    // Vietnamese: "12 tháng 3 năm 1985", "25 tháng 3, 1947", "17 thg 1, 1964" (day, month
    // number, year).
    if (r.Word("th\xC3\xA1ng") || r.Word("thg")) {
      const int m = r.Number(1, 2);
      r.Char(',');
      if (m < 0 || !r.Spaces()) return std::nullopt;
      r.Word("n\xC4\x83m");
      const int y = r.Number(4, 4);
      if (y < 0 || !r.AtEnd()) return std::nullopt;
      return Make(y, m, a);
    }
    int m = r.Month();
    if (m == 0) return std::nullopt;
    r.Char(',');
    if (!r.Spaces()) return std::nullopt;
    r.Word("de");
    r.Word("del");  // Catalan: "12 de març del 1985"
    int y = r.Number(4, 4);
    if (y < 0 || !r.AtEnd()) return std::nullopt;
    return Make(y, m, a);
  }

  // "January 5, 1984", "Jan 5 1984", "Sept. 5th, 1984"
  DateReader r(text);
  int m = r.Month();
  if (m == 0 || !r.Spaces()) return std::nullopt;
  int d = r.Number(1, 2);
  if (d < 0) return std::nullopt;
  r.Ordinal();
  r.Char(',');
  if (!r.Spaces()) return std::nullopt;
  int y = r.Number(4, 4);
  if (y < 0 || !r.AtEnd()) return std::nullopt;
  return Make(y, m, d);
}

bool DateOfBirth(std::string_view text, int max_year) {
  std::optional<Date> date = ParseDate(text);
  return date && date->year >= kMinBirthYear && date->year <= max_year;
}

// ---- Secrets and tokens ----

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0.0;
  // H = log2(n) - (1/n) * sum(c * log2(c)) over the character counts c. Only the entries of
  // characters present are touched (no 256-entry sweep), and c*log2(c) comes from a table for
  // the short values this runs on.
  static const std::array<double, 257> kCLog2C = [] {
    std::array<double, 257> t{};
    for (int c = 1; c <= 256; ++c) t[c] = c * std::log2(static_cast<double>(c));
    return t;
  }();
  uint32_t counts[256];
  for (char c : s) counts[static_cast<unsigned char>(c)] = 0;
  for (char c : s) ++counts[static_cast<unsigned char>(c)];
  double sum = 0.0;
  for (char c : s) {
    uint32_t& k = counts[static_cast<unsigned char>(c)];
    if (k == 0) continue;
    sum += k <= 256 ? kCLog2C[k] : k * std::log2(static_cast<double>(k));
    k = 0;
  }
  const double n = static_cast<double>(s.size());
  return std::log2(n) - sum / n;
}

namespace {

// Values that mark a template, documentation or a masked value rather than a credential.
// Whether a value without a digit holds one of `words` (any case).
bool WordsWithoutDigits(std::string_view value, std::initializer_list<std::string_view> words) {
  if (std::any_of(value.begin(), value.end(), IsDigit)) return false;
  for (std::string_view word : words) {
    if (ContainsIgnoreCase(value, word)) return true;
  }
  return false;
}

// A template, a reference or a removed value, not a value of its own.
bool IsTemplate(std::string_view value) {
  // Marks that only a template or a removed value holds, anywhere in it.
  constexpr std::string_view kMarkers[] = {"your_",      "your-",     "redacted", "placeholder",
                                           "replace_me", "replaceme", "${",       "{{"};
  for (std::string_view word : kMarkers) {
    if (ContainsIgnoreCase(value, word)) return true;
  }
  // Literal words used as values (None_9Value, FALSE_value_1).
  for (std::string_view word : {"null", "none", "true", "false"}) {
    if (value.size() >= word.size() && ContainsIgnoreCase(value.substr(0, word.size()), word))
      return true;
  }
  // Template markers at the edges (<your-key>, %s, [FILTERED]): inside a random value they are
  // just symbols.
  const char first = value.front(), last = value.back();
  if (first == '<' || last == '>' || first == '[' || value.starts_with("%s") ||
      value.starts_with("%("))
    return true;
  if (first == '$' && value.substr(1).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
                          std::string_view::npos)
    return true;  // $DB_PASSWORD
  // Masked or filler values: mostly x or * (xxxxxxxx, ****1234).
  size_t filler = 0;
  for (char c : value) filler += (c == 'x' || c == 'X' || c == '*');
  return filler * 5 >= value.size() * 2;
}

bool IsPlaceholder(std::string_view value) {
  // Documentation words make a placeholder only in a value with no digit (`example_key`,
  // `sample-token`, `changeme`): with digits beside them they are a credential's own words
  // (`Password123!`, `SuperSecret2024`, AWS's `…EXAMPLEKEY`), and a credential is what its
  // label says it is.
  return IsTemplate(value) || WordsWithoutDigits(value, {"example", "sample", "dummy", "changeme",
                                                         "secret", "password"});
}

}  // namespace

bool LooksLikeSecret(std::string_view value, double min_entropy) {
  if (value.size() < 8) return false;
  if (IsUuid(value)) return false;
  // Hex digests (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512) are identifiers, not secrets.
  if (AllOf(value, IsHex)) {
    for (size_t len : {32, 40, 56, 64, 96, 128}) {
      if (value.size() == len) return false;
    }
  }
  return !IsPlaceholder(value) && CharClasses(value) >= 2 && ShannonEntropy(value) >= min_entropy;
}

bool LooksLikeCredential(std::string_view value) {
  return value.size() >= 8 && !IsPlaceholder(value) && CharClasses(value) >= 2 &&
         ShannonEntropy(value) >= 3.0;
}

bool Password(std::string_view value) {
  // `changeme`, `password` and `hunter2` log in wherever they were set: only a template or a
  // documentation word is not a password.
  if (value.size() < 3 || IsTemplate(value) ||
      WordsWithoutDigits(value, {"example", "sample", "dummy"}))
    return false;
  // A word that says what happened to the password, not what it is (`password: expired`).
  if (AllOf(value, IsAlpha) && value.size() <= 12) {
    char lower[13];
    for (size_t i = 0; i < value.size(); ++i) lower[i] = ToLower(value[i]);
    const std::string_view w(lower, value.size());
    constexpr std::string_view kStatus[] = {
        "required",  "expired",   "expires", "reset",    "changed",   "updated",  "invalid",
        "incorrect", "wrong",     "missing", "empty",    "set",       "unset",    "enabled",
        "disabled",  "hidden",    "masked",  "filtered", "protected", "optional", "yes",
        "nil",       "undefined", "blank",   "default",  "generated", "random",   "encrypted",
        "hashed",    "stored",    "sent",    "provided", "supplied",  "prompt",   "mismatch",
        "accepted",  "rejected",  "failed",  "error",    "strong",    "weak",     "too",
        "was",       "has",       "have",    "will",     "must",      "should",   "can",
        "cannot",    "not",       "does",    "did",      "and",       "the",      "for",
        "field",     "length",    "policy",  "login",    "auth",      "ok",       "valid"};
    for (std::string_view s : kStatus)
      if (w == s) return false;
  }
  return true;
}

bool BasicCredentials(std::string_view b64) {
  while (!b64.empty() && b64.back() == '=') b64.remove_suffix(1);
  if (b64.size() < 4 || b64.size() > 1024) return false;
  size_t colon = std::string_view::npos, n = 0;
  const bool ok = Base64Bytes(b64, false, [&](unsigned char byte) {
    if (byte < 0x20 || byte > 0x7E) return false;  // printable ASCII only
    if (byte == ':' && colon == std::string_view::npos) colon = n;
    ++n;
    return true;
  });
  if (!ok) return false;
  return colon != std::string_view::npos && colon + 1 < n;
}

bool AwsAccessKey(std::string_view s) {
  if (s.size() != 20) return false;
  constexpr std::string_view kPrefixes[] = {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA",
                                            "AROA", "AIPA", "ANPA", "ANVA", "APKA"};
  bool known = false;
  for (std::string_view p : kPrefixes) known = known || StartsWith(s, p);
  if (!known) return false;
  // AWS's own ids are base32 ([A-Z2-7]), but the scanners people use (gitleaks, TruffleHog)
  // take any capital or digit, and so do hand-written ones: the shape is the key.
  return AllOf(s.substr(4), [](char c) { return IsUpper(c) || IsDigit(c); });
}

bool AwsSecretKey(std::string_view s) {
  if (s.size() != 40) return false;
  if (!AllOf(s, [](char c) { return IsAlnum(c) || c == '/' || c == '+'; })) return false;
  bool lower = false, upper = false, digit = false;
  for (char c : s) {
    lower = lower || IsLower(c);
    upper = upper || IsUpper(c);
    digit = digit || IsDigit(c);
  }
  // AWS's documentation pair (`…EXAMPLEKEY`) is masked too: a public value costs nothing
  // masked, and its shape is what a real key's is.
  return lower && upper && digit && ShannonEntropy(s) >= 4.0;
}

bool GcpApiKey(std::string_view s) {
  return s.size() == 39 && StartsWith(s, "AIza") &&
         AllOf(s.substr(4), [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
}

bool GithubToken(std::string_view s) {
  // The last six characters of classic tokens are a CRC32 checksum, but GitHub has not
  // published the exact encoding, so shape and entropy decide.
  std::string_view body;
  if (s.size() == 40 && (StartsWith(s, "ghp_") || StartsWith(s, "gho_") || StartsWith(s, "ghu_") ||
                         StartsWith(s, "ghs_") || StartsWith(s, "ghr_"))) {
    body = s.substr(4);
    if (!AllOf(body, IsAlnum)) return false;
  } else if (s.size() == 93 && StartsWith(s, "github_pat_")) {
    body = s.substr(11);
    if (!AllOf(body, [](char c) { return IsAlnum(c) || c == '_'; })) return false;
  } else {
    return false;
  }
  return ShannonEntropy(body) >= 3.0;
}

bool SlackToken(std::string_view s) {
  if (s.size() < 20 || s.size() > 255) return false;
  constexpr std::string_view kPrefixes[] = {"xoxa-", "xoxb-", "xoxp-",      "xoxo-",      "xoxs-",
                                            "xoxr-", "xapp-", "xoxe.xoxp-", "xoxe.xoxb-", "xoxe-"};
  std::string_view rest;
  for (std::string_view p : kPrefixes) {
    if (StartsWith(s, p)) {
      rest = s.substr(p.size());
      break;
    }
  }
  if (rest.empty()) return false;
  // Dash-separated alphanumeric groups (team id, user id, secret), at least two, with digits.
  size_t groups = 1;
  bool digit = false;
  char prev = '-';
  for (char c : rest) {
    if (c == '-') {
      if (prev == '-') return false;
      ++groups;
    } else if (IsAlnum(c)) {
      digit = digit || IsDigit(c);
    } else {
      return false;
    }
    prev = c;
  }
  return prev != '-' && groups >= 2 && digit;
}

bool StripeKey(std::string_view s) {
  if (s.size() < 8 + 24 || s.size() > 255) return false;
  if (!StartsWith(s, "sk_live_") && !StartsWith(s, "sk_test_") && !StartsWith(s, "rk_live_") &&
      !StartsWith(s, "rk_test_")) {
    return false;
  }
  return AllOf(s.substr(8), IsAlnum);
}

bool OpenAiKey(std::string_view s) {
  if (s.size() > 512) return false;
  for (std::string_view p : {"sk-proj-", "sk-svcacct-", "sk-admin-"}) {
    if (StartsWith(s, p)) {
      std::string_view body = s.substr(p.size());
      return body.size() >= 40 &&
             AllOf(body, [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
    }
  }
  // Legacy user keys: "T3BlbkFJ" is base64 for "OpenAI", embedded in the middle.
  return s.size() == 51 && StartsWith(s, "sk-") && s.substr(23, 8) == "T3BlbkFJ" &&
         AllOf(s.substr(3, 20), IsAlnum) && AllOf(s.substr(31), IsAlnum);
}

// ---- JWT ----

namespace {

int Base64UrlValue(char c) {
  if (IsUpper(c)) return c - 'A';
  if (IsLower(c)) return c - 'a' + 26;
  if (IsDigit(c)) return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool IsBase64UrlSegment(std::string_view seg) {
  return seg.size() % 4 != 1 && AllOf(seg, [](char c) { return Base64UrlValue(c) >= 0; });
}

// Decodes a segment already checked by IsBase64UrlSegment, handing each byte to `sink` until it
// returns false.
template <typename Sink>
void DecodeBase64Url(std::string_view seg, Sink&& sink) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : seg) {
    acc = (acc << 6) | static_cast<uint32_t>(Base64UrlValue(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!sink(static_cast<uint8_t>(acc >> bits))) return;
    }
  }
}

bool DecodesToJsonObject(std::string_view seg, bool need_alg) {
  bool opened = false, failed = false, alg = false;
  uint64_t window = 0;  // last five decoded bytes, to spot "alg" without a buffer
  constexpr uint64_t kAlg = (uint64_t{'"'} << 32) | (uint64_t{'a'} << 24) | (uint64_t{'l'} << 16) |
                            (uint64_t{'g'} << 8) | uint64_t{'"'};
  DecodeBase64Url(seg, [&](uint8_t b) {
    if (!opened) {
      if (IsSpace(static_cast<char>(b))) return true;
      opened = b == '{';
      failed = !opened;
      return opened && need_alg;
    }
    window = ((window << 8) | b) & 0xFFFFFFFFFF;
    alg = window == kAlg;
    return !alg;
  });
  return opened && !failed && (alg || !need_alg);
}

}  // namespace

bool Jwt(std::string_view token) {
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return false;
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return false;
  }
  std::string_view header = token.substr(0, d1), payload = token.substr(d1 + 1, d2 - d1 - 1),
                   signature = token.substr(d2 + 1);
  if (header.size() < 8 || payload.size() < 2) return false;
  if (!IsBase64UrlSegment(header) || !IsBase64UrlSegment(payload) ||
      !IsBase64UrlSegment(signature)) {
    return false;
  }
  return DecodesToJsonObject(header, /*need_alg=*/true) &&
         DecodesToJsonObject(payload, /*need_alg=*/false);
}

// ---- Crypto wallets ----

void Keccak256(std::string_view data, uint8_t out[32]) {
  static constexpr uint64_t kRoundConstants[24] = {
      0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
      0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
      0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
      0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
      0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
      0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008};
  static constexpr int kRotation[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                        27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
  static constexpr int kPiLane[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                      15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};
  auto rotl = [](uint64_t x, int n) { return (x << n) | (x >> (64 - n)); };
  auto permute = [&](uint64_t st[25]) {
    for (uint64_t rc : kRoundConstants) {
      uint64_t bc[5];
      for (int i = 0; i < 5; ++i) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
      for (int i = 0; i < 5; ++i) {
        uint64_t t = bc[(i + 4) % 5] ^ rotl(bc[(i + 1) % 5], 1);
        for (int j = 0; j < 25; j += 5) st[j + i] ^= t;
      }
      uint64_t t = st[1];
      for (int i = 0; i < 24; ++i) {
        int j = kPiLane[i];
        uint64_t next = st[j];
        st[j] = rotl(t, kRotation[i]);
        t = next;
      }
      for (int j = 0; j < 25; j += 5) {
        for (int i = 0; i < 5; ++i) bc[i] = st[j + i];
        for (int i = 0; i < 5; ++i) st[j + i] ^= ~bc[(i + 1) % 5] & bc[(i + 2) % 5];
      }
      st[0] ^= rc;
    }
  };
  constexpr size_t kRate = 136;  // bytes: 1600 - 2 * 256 bits
  uint64_t st[25] = {};
  auto absorb = [&](const uint8_t* block) {
    for (size_t i = 0; i < kRate / 8; ++i) {
      uint64_t lane = 0;
      for (int b = 7; b >= 0; --b) lane = (lane << 8) | block[i * 8 + b];
      st[i] ^= lane;
    }
    permute(st);
  };
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  for (; n >= kRate; p += kRate, n -= kRate) absorb(p);
  uint8_t last[kRate] = {};
  if (n > 0) std::memcpy(last, p, n);
  last[n] ^= 0x01;  // Keccak padding; FIPS 202 SHA3 would use 0x06 here
  last[kRate - 1] ^= 0x80;
  absorb(last);
  for (int i = 0; i < 32; ++i) out[i] = static_cast<uint8_t>(st[i / 8] >> (8 * (i % 8)));
}

namespace {

constexpr std::string_view kBase58Alphabet =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

constexpr auto kBase58Value = [] {
  std::array<int8_t, 128> t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < kBase58Alphabet.size(); ++i)
    t[kBase58Alphabet[i]] = static_cast<int8_t>(i);
  return t;
}();

// Legacy Bitcoin address: base58 of version byte + RIPEMD-160 hash + 4-byte double SHA-256
// checksum, always 25 bytes.
bool BitcoinBase58(std::string_view s) {
  if (s.size() < 26 || s.size() > 35 || (s[0] != '1' && s[0] != '3')) return false;
  uint8_t bytes[25] = {};
  for (char c : s) {
    int v = static_cast<unsigned char>(c) < 128 ? kBase58Value[c] : -1;
    if (v < 0) return false;
    uint32_t carry = static_cast<uint32_t>(v);
    for (int i = 24; i >= 0; --i) {
      carry += 58u * bytes[i];
      bytes[i] = static_cast<uint8_t>(carry);
      carry >>= 8;
    }
    if (carry != 0) return false;  // more than 25 bytes
  }
  // Each leading '1' encodes one leading zero byte; a mismatch is a non-canonical encoding.
  size_t ones = 0, zeros = 0;
  while (ones < s.size() && s[ones] == '1') ++ones;
  while (zeros < sizeof bytes && bytes[zeros] == 0) ++zeros;
  if (ones != zeros) return false;
  if (bytes[0] != (s[0] == '1' ? 0x00 : 0x05)) return false;
  uint8_t h1[SHA256_DIGEST_LENGTH], h2[SHA256_DIGEST_LENGTH];
  SHA256(bytes, 21, h1);
  SHA256(h1, sizeof h1, h2);
  return std::memcmp(h2, bytes + 21, 4) == 0;
}

// BIP-173 (bech32, witness v0) and BIP-350 (bech32m, v1+) segwit addresses on mainnet.
bool BitcoinBech32(std::string_view s) {
  if (s.size() < 14 || s.size() > 74) return false;
  bool lower = false, upper = false;
  for (char c : s) {
    lower = lower || IsLower(c);
    upper = upper || IsUpper(c);
  }
  if (lower && upper) return false;
  if (ToLower(s[0]) != 'b' || ToLower(s[1]) != 'c' || s[2] != '1') return false;
  constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  constexpr uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  auto step = [&](uint32_t v) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[i];
    }
  };
  for (char c : {'b', 'c'}) step(static_cast<uint32_t>(c) >> 5);
  step(0);
  for (char c : {'b', 'c'}) step(static_cast<uint32_t>(c) & 31);
  std::string_view data = s.substr(3);
  uint32_t version = 0, last = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    size_t v = kCharset.find(ToLower(data[i]));
    if (v == std::string_view::npos) return false;
    if (i == 0) version = static_cast<uint32_t>(v);
    if (i + 7 == data.size()) last = static_cast<uint32_t>(v);  // last program group
    step(static_cast<uint32_t>(v));
  }
  if (version > 16) return false;
  if (chk != (version == 0 ? 1u : 0x2bc830a3u)) return false;
  // Witness program: 5-bit groups regrouped into bytes with at most 4 zero padding bits.
  size_t groups = data.size() - 7;
  size_t bytes = groups * 5 / 8, pad = groups * 5 % 8;
  if (pad > 4 || (last & ((1u << pad) - 1)) != 0) return false;
  if (bytes < 2 || bytes > 40) return false;
  return version != 0 || bytes == 20 || bytes == 32;
}

bool Ethereum(std::string_view s) {
  if (s.size() != 42 || s[0] != '0' || s[1] != 'x') return false;
  std::string_view hex = s.substr(2);
  bool lower = false, upper = false;
  for (char c : hex) {
    if (!IsHex(c)) return false;
    lower = lower || IsLower(c);
    upper = upper || IsUpper(c);
  }
  if (!lower || !upper) return true;  // no checksum encoded
  // EIP-55: a letter is upper case iff the matching nibble of keccak256(lowercase hex) >= 8.
  char lowered[40];
  for (size_t i = 0; i < 40; ++i) lowered[i] = ToLower(hex[i]);
  uint8_t hash[32];
  Keccak256({lowered, sizeof lowered}, hash);
  for (size_t i = 0; i < 40; ++i) {
    if (IsDigit(hex[i])) continue;
    int nibble = (i % 2 == 0 ? hash[i / 2] >> 4 : hash[i / 2]) & 0xf;
    if ((nibble >= 8) != IsUpper(hex[i])) return false;
  }
  return true;
}

}  // namespace

bool CryptoWallet(std::string_view s) {
  if (s.size() < 26) return false;
  if (s[0] == '1' || s[0] == '3') return BitcoinBase58(s);
  if (s[0] == 'b' || s[0] == 'B') return BitcoinBech32(s);
  if (s[0] == '0') return Ethereum(s);
  return false;
}

}  // namespace veil::masker::validate
