#include "masker/fake.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <span>
#include <vector>

#include "masker/names.h"

namespace veil::masker::fake {
namespace {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
inline bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
inline char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c + 32) : c; }
inline char ToUpper(char c) { return IsLower(c) ? static_cast<char>(c - 32) : c; }

// A deterministic stream of numbers seeded by the value's HMAC (xoshiro256**): one surrogate
// may need more draws than 32 bytes give (retries until a name fits the original's length).
class Stream {
 public:
  explicit Stream(const std::array<uint8_t, 32>& mac) {
    for (int i = 0; i < 4; ++i) {
      uint64_t w = 0;
      for (int b = 0; b < 8; ++b) w = (w << 8) | mac[i * 8 + b];
      s_[i] = w;
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (n > 0); the bias of a 64-bit modulo is below 2^-40 for these n.
  uint64_t Below(uint64_t n) { return Next() % n; }
  char Digit() { return static_cast<char>('0' + Below(10)); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// ---- names --------------------------------------------------------------------------------

// Common given names (g2, g3) and surnames (s2, s3) of the engine's table, sorted by length
// then spelling, with the start of each length: a length window is one contiguous range.
struct NameList {
  static constexpr size_t kMaxLen = 24;
  std::vector<std::string_view> names;
  std::array<uint32_t, kMaxLen + 2> start{};  // names of length L: [start[L], start[L+1])
  void Finish() {
    std::sort(names.begin(), names.end(), [](std::string_view a, std::string_view b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    size_t i = 0;
    for (size_t len = 0; len <= kMaxLen + 1; ++len) {
      while (i < names.size() && names[i].size() < len) ++i;
      start[len] = static_cast<uint32_t>(i);
    }
  }
  // A name of length in [lo, hi] (widened downwards when none is), or "" if none at all.
  std::string_view Pick(Stream& r, size_t lo, size_t hi) const {
    hi = std::min(hi, kMaxLen);
    lo = std::max<size_t>(1, std::min(lo, hi));
    while (lo > 1 && start[hi + 1] == start[lo]) --lo;
    uint32_t b = start[lo], e = start[hi + 1];
    if (b == e) return {};
    return names[b + r.Below(e - b)];
  }
};

struct NameLists {
  NameList given, surname;
};

const NameLists& Lists() {
  static const NameLists* lists = [] {
    auto* l = new NameLists();  // never destroyed: masking threads may outlive main
    std::string_view all = names::RawTable();
    while (!all.empty()) {
      size_t nl = all.find('\n');
      std::string_view line = all.substr(0, nl);
      all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
      size_t tab = line.find('\t');
      if (tab == std::string_view::npos || tab == 0 || tab > NameList::kMaxLen) continue;
      std::string_view token = line.substr(0, tab), flags = line.substr(tab + 1);
      if (!std::all_of(token.begin(), token.end(), IsLower)) continue;
      if (flags.find("g2") != flags.npos || flags.find("g3") != flags.npos)
        l->given.names.push_back(token);
      if (flags.find("s2") != flags.npos || flags.find("s3") != flags.npos)
        l->surname.names.push_back(token);
    }
    l->given.Finish();
    l->surname.Finish();
    return l;
  }();
  return *lists;
}

enum class Case : uint8_t { kTitle, kUpper, kLower };

Case CaseOf(std::string_view word) {
  bool upper = false, lower = false;
  for (char c : word) {
    upper |= IsUpper(c);
    lower |= IsLower(c);
  }
  if (upper && !lower && word.size() > 1) return Case::kUpper;
  if (lower && !upper) return Case::kLower;
  return Case::kTitle;
}

void AppendCased(std::string_view name, Case c, std::string* out) {
  for (size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    out->push_back(c == Case::kUpper || (c == Case::kTitle && i == 0) ? ToUpper(ch) : ch);
  }
}

bool IsParticle(std::string_view w) {
  static constexpr std::string_view kParticles[] = {
      "van", "de",  "da", "di",  "del", "della", "von", "der", "den", "le", "la",
      "dos", "das", "du", "bin", "ibn", "al",    "el",  "ter", "ten", "st", "y"};
  for (std::string_view p : kParticles)
    if (w.size() == p.size() &&
        std::equal(w.begin(), w.end(), p.begin(), [](char a, char b) { return ToLower(a) == b; }))
      return true;
  return false;
}

// Length window of a surrogate for a word of `len` bytes: as long or up to 2 shorter.
std::pair<size_t, size_t> Window(size_t len) {
  size_t hi = std::max<size_t>(len, 2);
  return {hi > 4 ? hi - 2 : std::min<size_t>(hi, 2), hi};
}

bool PersonName(std::string_view v, Stream& r, std::string* out) {
  struct Word {
    size_t begin, end;  // the letters (and inner ' or -) of the word
    enum Kind : uint8_t { kKeep, kInitial, kName } kind;
    bool comma_after = false;
  };
  std::vector<Word> words;
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] == ' ' || v[i] == ',' || v[i] == '.' || v[i] == '\t') {
      if (v[i] == ',' && !words.empty()) words.back().comma_after = true;
      ++i;
      continue;
    }
    size_t b = i;
    while (i < v.size() && v[i] != ' ' && v[i] != ',' && v[i] != '.' && v[i] != '\t') ++i;
    std::string_view w = v.substr(b, i - b);
    Word word{b, i, Word::kName};
    bool dotted = i < v.size() && v[i] == '.';
    if (names::IsTitle(w) || IsParticle(w))
      word.kind = Word::kKeep;
    else if (w.size() == 1 ||
             (dotted && w.size() <= 2 && IsAlpha(w[0]) && !names::Lookup(w).known()))
      word.kind = Word::kInitial;
    words.push_back(word);
  }
  size_t name_words = 0;
  for (const Word& w : words) name_words += w.kind == Word::kName;
  if (name_words == 0) {
    // Initials only ("J. D."): new letters in place.
    if (words.empty()) return false;
  }
  // Which word is the surname: the one before a comma ("Smith, Jane"), else the last name word
  // of two or more; a single word is whichever the table says it is more often.
  int surname = -1;
  for (size_t k = 0; k < words.size(); ++k)
    if (words[k].kind == Word::kName && words[k].comma_after) {
      surname = static_cast<int>(k);
      break;
    }
  if (surname < 0 && name_words >= 2)
    for (size_t k = words.size(); k-- > 0;)
      if (words[k].kind == Word::kName) {
        surname = static_cast<int>(k);
        break;
      }
  if (surname < 0 && name_words == 1)
    for (size_t k = 0; k < words.size(); ++k)
      if (words[k].kind == Word::kName) {
        names::TokenInfo t = names::Lookup(v.substr(words[k].begin, words[k].end - words[k].begin));
        if (t.surname > t.given) surname = static_cast<int>(k);
      }
  const NameLists& lists = Lists();
  size_t pos = 0;
  for (size_t k = 0; k < words.size(); ++k) {
    const Word& w = words[k];
    out->append(v.substr(pos, w.begin - pos));
    std::string_view orig = v.substr(w.begin, w.end - w.begin);
    pos = w.end;
    switch (w.kind) {
      case Word::kKeep:
        out->append(orig);
        break;
      case Word::kInitial: {
        char c = static_cast<char>('A' + r.Below(26));
        out->push_back(IsLower(orig[0]) ? ToLower(c) : c);
        out->append(orig.substr(1, orig.size() > 1 && !IsAlpha(orig[1]) ? orig.size() - 1 : 0));
        break;
      }
      case Word::kName: {
        auto [lo, hi] = Window(orig.size());
        const NameList& list = static_cast<int>(k) == surname ? lists.surname : lists.given;
        std::string_view pick = list.Pick(r, lo, hi);
        if (pick.empty()) return false;
        AppendCased(pick, CaseOf(orig), out);
        break;
      }
    }
  }
  out->append(v.substr(pos));
  return true;
}

// ---- email --------------------------------------------------------------------------------

// How many name parts (first, separator, last) fit in `room` bytes, as Email draws them.
double EmailNameSpace(size_t names_budget) {
  const NameLists& lists = Lists();
  auto count = [](const NameList& l, size_t lo, size_t hi) {
    hi = std::min(hi, NameList::kMaxLen);
    return lo > hi ? 0.0 : static_cast<double>(l.start[hi + 1] - l.start[lo]);
  };
  if (names_budget < 6) return count(lists.given, 2, std::max<size_t>(2, names_budget));
  size_t room = names_budget - 1;
  size_t fh = std::min<size_t>(7, room - 3);
  size_t lh = std::min<size_t>(9, room - fh);
  return 3 * count(lists.given, std::min<size_t>(3, fh), fh) *
         count(lists.surname, std::min<size_t>(4, lh), lh);
}

bool Email(std::string_view v, Stream& r, std::string* out) {
  static constexpr std::string_view kDomains[] = {"example.com", "example.org", "example.net"};
  std::string_view domain = kDomains[r.Below(3)];
  // The local part gets what the original's length leaves after "@domain": a first name, a
  // separator, a surname, then at least four digits. Where the names alone would leave fewer
  // than ~10^13 surrogates (collisions among 1M addresses), letters give way to digits
  // (each digit multiplies the space by 10, a letter less of name length by about 2), as long
  // as six letters of names remain.
  const size_t budget = std::max(v.size(), kMinEmailLength);
  const size_t local_budget = budget - 1 - domain.size();
  // The count depends only on the budget: computed once per budget (names are static).
  static const auto kDigitsFor = [] {
    std::array<uint8_t, 256> d{};
    for (size_t b = 0; b < d.size(); ++b) {
      size_t n = 4;
      auto space = [&](size_t k) { return EmailNameSpace(b - k) * std::pow(10.0, k) * 3; };
      while (b >= n + 7 && space(n) < 1e13) ++n;
      d[b] = static_cast<uint8_t>(n);
    }
    return d;
  }();
  size_t digits = 4;
  if (local_budget < kDigitsFor.size()) {
    digits = kDigitsFor[local_budget];
  } else {
    auto space = [&](size_t d) { return EmailNameSpace(local_budget - d) * std::pow(10.0, d) * 3; };
    while (local_budget >= digits + 7 && space(digits) < 1e13) ++digits;
  }
  const size_t names_budget = local_budget - digits;
  const NameLists& lists = Lists();
  std::string local;
  if (names_budget >= 6) {
    static constexpr char kSeps[] = {'.', '_', '\0', '.'};
    char sep = kSeps[r.Below(4)];
    size_t room = names_budget - (sep ? 1 : 0);
    // First name 3..7 letters, surname what is left (at most 9).
    size_t first_hi = std::min<size_t>(7, room - 3);
    std::string_view first = lists.given.Pick(r, std::min<size_t>(3, first_hi), first_hi);
    size_t last_hi = std::min<size_t>(9, room - first.size());
    std::string_view last = lists.surname.Pick(r, std::min<size_t>(4, last_hi), last_hi);
    local.append(first);
    if (sep) local.push_back(sep);
    local.append(last);
  } else {
    std::string_view first = lists.given.Pick(r, 2, std::max<size_t>(2, names_budget));
    local.append(first.substr(0, std::max<size_t>(1, names_budget)));
  }
  for (size_t d = 0; d < digits; ++d) local.push_back(r.Digit());
  out->append(local);
  out->push_back('@');
  out->append(domain);
  return true;
}

// ---- numbers written with separators ------------------------------------------------------

// The digits of v, and their positions (no allocation: a surrogate is drawn per masked cell).
// More than kMax digits reads as none: no entity here has that many.
struct Digits {
  static constexpr size_t kMax = 40;
  std::string_view digits;
  explicit Digits(std::string_view v) {
    size_t n = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (IsDigit(v[i])) {
        if (n == kMax) return;
        buf_[n] = v[i];
        at_[n++] = static_cast<uint32_t>(i);
      }
    digits = {buf_, n};
  }
  // v with its digits replaced by `fresh` (same count), everything else as written.
  void Write(std::string_view v, std::string_view fresh, std::string* out) const {
    size_t base = out->size();
    out->append(v);
    for (size_t k = 0; k < digits.size(); ++k) (*out)[base + at_[k]] = fresh[k];
  }

 private:
  char buf_[kMax];
  uint32_t at_[kMax];
};

bool Phone(std::string_view v, Stream& r, bool wide, std::string* out) {
  Digits d(v);
  size_t skip = 0;
  if (d.digits.size() == 11 && d.digits[0] == '1')
    skip = 1;  // +1 / 1 prefix, kept
  else if (d.digits.size() != 10)
    return false;
  // A '+' must mean +1: "+44 20 7946 0958" has 12 digits, but "+49 30 1234567" could have 10.
  size_t plus = v.find('+');
  if (plus != std::string_view::npos && skip == 0) return false;
  std::string fresh(d.digits.substr(0, skip));
  // Area code NXX, not N11 (service codes) and not 555 itself.
  for (;;) {
    std::string npa{static_cast<char>('2' + r.Below(8)), r.Digit(), r.Digit()};
    if ((npa[1] == '1' && npa[2] == '1') || npa == "555") continue;
    fresh += npa;
    break;
  }
  fresh += "555";
  if (!wide) {
    fresh += "01";  // 555-01XX: the range NANPA reserves for fictional use
    fresh += r.Digit();
    fresh += r.Digit();
  } else {
    for (;;) {  // any 555 line but directory assistance: none is a subscriber's
      std::string line{r.Digit(), r.Digit(), r.Digit(), r.Digit()};
      if (line == "1212") continue;
      fresh += line;
      break;
    }
  }
  d.Write(v, fresh, out);
  return true;
}

// Digits of the card's prefix that name its network (IIN class), never more than PCI's first 6.
size_t IssuerPrefixLength(std::string_view d) {
  auto p = [&](size_t n) {
    int x = 0;
    for (size_t k = 0; k < n; ++k) x = x * 10 + (d[k] - '0');
    return x;
  };
  if (d.size() < 4) return 1;
  int p2 = p(2), p3 = p(3), p4 = p(4);
  if (d[0] == '4') return 1;                                              // Visa
  if (p2 >= 51 && p2 <= 55) return 2;                                     // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return 4;                                 // Mastercard 2-series
  if (p2 == 34 || p2 == 37) return 2;                                     // Amex
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649)) return p4 == 6011 ? 4 : 3;  // Discover
  if (p2 == 65 || p2 == 36 || p2 == 38 || p2 == 39) return 2;             // Discover, Diners
  if (p3 >= 300 && p3 <= 305) return 3;                                   // Diners
  if (p4 >= 3528 && p4 <= 3589) return 4;                                 // JCB
  if (p2 == 62) return 2;                                                 // UnionPay
  if (p2 == 50 || (p2 >= 56 && p2 <= 69)) return 2;                       // Maestro and others
  return 1;
}

char LuhnCheckDigit(std::string_view body) {  // the digit that makes body+digit valid
  int sum = 0;
  bool dbl = true;  // the rightmost body digit is doubled once the check digit is appended
  for (size_t i = body.size(); i-- > 0;) {
    int x = body[i] - '0';
    if (dbl) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
    sum += x;
    dbl = !dbl;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

bool CreditCard(std::string_view v, Stream& r, std::string* out) {
  Digits d(v);
  if (d.digits.size() < 12 || d.digits.size() > 19) return false;
  size_t keep = IssuerPrefixLength(d.digits);
  std::string fresh(d.digits.substr(0, keep));
  while (fresh.size() + 1 < d.digits.size()) fresh.push_back(r.Digit());
  fresh.push_back(LuhnCheckDigit(fresh));
  if (fresh == d.digits) {  // 1 in 10^(n-keep-1): never hand the card back
    fresh[keep] = static_cast<char>('0' + (fresh[keep] - '0' + 1) % 10);
    fresh.back() = LuhnCheckDigit(std::string_view(fresh).substr(0, fresh.size() - 1));
  }
  d.Write(v, fresh, out);
  return true;
}

bool Ssn(std::string_view v, Stream& r, std::string* out) {
  Digits d(v);
  if (d.digits.size() != 9) return false;
  // Area 9xx is never issued as an SSN; groups 50-65, 70-88, 90-92 and 94-99 under 9xx are
  // ITINs, so those are avoided too: the surrogate is neither a real SSN nor an ITIN.
  static constexpr int kGroups[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
                                    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                    29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
                                    43, 44, 45, 46, 47, 48, 49, 66, 67, 68, 69, 89, 93};
  std::string fresh = "9";
  fresh += r.Digit();
  fresh += r.Digit();
  int g = kGroups[r.Below(std::size(kGroups))];
  fresh += static_cast<char>('0' + g / 10);
  fresh += static_cast<char>('0' + g % 10);
  int serial = 1 + static_cast<int>(r.Below(9999));
  for (int div : {1000, 100, 10, 1}) fresh += static_cast<char>('0' + serial / div % 10);
  d.Write(v, fresh, out);
  return true;
}

int Mod97(std::string_view rearranged) {
  int m = 0;
  for (char c : rearranged) {
    if (IsDigit(c)) {
      m = (m * 10 + (c - '0')) % 97;
    } else {
      int x = ToUpper(c) - 'A' + 10;
      m = (m * 100 + x) % 97;
    }
  }
  return m;
}

bool Iban(std::string_view v, Stream& r, std::string* out) {
  std::string chars;  // the IBAN's letters and digits, without spaces
  std::vector<size_t> at;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == ' ' || v[i] == '-') continue;
    if (!IsDigit(v[i]) && !IsAlpha(v[i])) return false;
    chars.push_back(v[i]);
    at.push_back(i);
  }
  if (chars.size() < 8 || chars.size() > 34 || !IsAlpha(chars[0]) || !IsAlpha(chars[1]))
    return false;
  std::string fresh = chars.substr(0, 2) + "00";
  for (size_t k = 4; k < chars.size(); ++k) {
    char c = chars[k];
    if (IsDigit(c))
      fresh.push_back(r.Digit());
    else
      fresh.push_back(static_cast<char>((IsUpper(c) ? 'A' : 'a') + r.Below(26)));
  }
  std::string rearranged = fresh.substr(4) + fresh.substr(0, 2) + "00";
  int check = 98 - Mod97(rearranged);
  fresh[2] = static_cast<char>('0' + check / 10);
  fresh[3] = static_cast<char>('0' + check % 10);
  size_t base = out->size();
  out->append(v);
  for (size_t k = 0; k < at.size(); ++k) (*out)[base + at[k]] = fresh[k];
  return true;
}

// ---- dates --------------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                        "may",       "june",     "july",     "august",
                                        "september", "october",  "november", "december"};

// 1..12 for a month's full name or its 3-letter abbreviation (any case), else 0.
unsigned MonthOf(std::string_view w, bool* abbreviated) {
  for (unsigned m = 0; m < 12; ++m) {
    std::string_view full = kMonths[m];
    auto eq = [&](std::string_view x) {
      return w.size() == x.size() && std::equal(w.begin(), w.end(), x.begin(),
                                                [](char a, char b) { return ToLower(a) == b; });
    };
    if (eq(full)) {
      *abbreviated = false;
      return m + 1;
    }
    if (eq(full.substr(0, 3))) {
      *abbreviated = true;
      return m + 1;
    }
  }
  return 0;
}

bool Date(std::string_view v, Stream& r, uint32_t window, std::string* out) {
  struct Field {
    size_t begin, len;
    bool alpha;
  };
  std::vector<Field> f;
  for (size_t i = 0; i < v.size();) {
    if (IsDigit(v[i]) || IsAlpha(v[i])) {
      bool alpha = IsAlpha(v[i]);
      size_t b = i;
      while (i < v.size() && (alpha ? IsAlpha(v[i]) : IsDigit(v[i]))) ++i;
      f.push_back({b, i - b, alpha});
    } else {
      ++i;
    }
  }
  for (const Field& x : f)
    if (!x.alpha && x.len > 4 && !(f.size() == 1 && x.len == 8)) return false;
  auto num = [&](const Field& x) {
    int n = 0;
    for (size_t k = 0; k < x.len; ++k) n = n * 10 + (v[x.begin + k] - '0');
    return n;
  };
  int yi = -1, mi = -1, di = -1;  // field index of year, month, day
  bool month_name = false, abbreviated = false;
  if (f.size() == 1 && !f[0].alpha && f[0].len == 8) {
    // YYYYMMDD: split virtually.
    f = {{f[0].begin, 4, false}, {f[0].begin + 4, 2, false}, {f[0].begin + 6, 2, false}};
    yi = 0, mi = 1, di = 2;
  } else if (f.size() != 3) {
    return false;
  } else if (!f[0].alpha && !f[1].alpha && !f[2].alpha) {
    if (f[0].len == 4) {
      yi = 0, mi = 1, di = 2;
    } else if (f[2].len == 4 || f[2].len == 2) {
      yi = 2;
      char sep = v[f[0].begin + f[0].len];
      bool day_first = sep == '.' || num(f[0]) > 12;
      mi = day_first ? 1 : 0;
      di = day_first ? 0 : 1;
    } else {
      return false;
    }
  } else {
    for (size_t k = 0; k < 3; ++k)
      if (f[k].alpha) {
        if (mi >= 0 || !MonthOf(v.substr(f[k].begin, f[k].len), &abbreviated)) return false;
        mi = static_cast<int>(k);
      }
    month_name = true;
    for (int k = 0; k < 3; ++k) {
      if (k == mi) continue;
      if (f[k].len == 4 && yi < 0)
        yi = k;
      else if (f[k].len <= 2 && di < 0)
        di = k;
      else
        return false;
    }
    if (yi < 0 || di < 0) return false;
  }
  int64_t year = num(f[yi]);
  const bool two_digit_year = f[yi].len == 2;
  if (two_digit_year) year += year >= 30 ? 1900 : 2000;
  if (f[yi].len != 2 && f[yi].len != 4) return false;
  unsigned month = month_name ? MonthOf(v.substr(f[mi].begin, f[mi].len), &abbreviated)
                              : static_cast<unsigned>(num(f[mi]));
  unsigned day = static_cast<unsigned>(num(f[di]));
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return false;
  if (window == 0) return false;
  const int64_t base = DaysFromCivil(year, month, day);
  // Draw shifts until the new day and month fit the widths they were written in (a "3/4/1990"
  // stays 8 bytes); after 16 draws the last one is taken.
  int64_t y = 0;
  unsigned m = 0, d = 0;
  for (int attempt = 0; attempt < 16; ++attempt) {
    int64_t shift = 1 + static_cast<int64_t>(r.Below(window));
    if (r.Below(2)) shift = -shift;
    CivilFromDays(base + shift, &y, &m, &d);
    bool fits = (f[di].len >= 2 || d < 10) && (month_name || f[mi].len >= 2 || m < 10) &&
                (!two_digit_year || (y >= 1930 && y < 2030)) && y >= 1000 && y <= 9999;
    if (fits) break;
  }
  auto number = [](int64_t x, size_t width) {
    std::string s = std::to_string(x);
    while (s.size() < width) s.insert(s.begin(), '0');
    return s;
  };
  std::string fy = number(two_digit_year ? y % 100 : y, f[yi].len);
  std::string fd = number(d, f[di].len);
  std::string fm;
  if (month_name) {
    std::string_view name = kMonths[m - 1];
    if (abbreviated) name = name.substr(0, 3);
    std::string_view orig = v.substr(f[mi].begin, f[mi].len);
    AppendCased(name, CaseOf(orig), &fm);
  } else {
    fm = number(m, f[mi].len);
  }
  // Rebuild in field order: separators and anything between fields as written.
  std::string pieces[3];
  pieces[yi] = fy;
  pieces[mi] = fm;
  pieces[di] = fd;
  size_t pos = 0;
  for (int k = 0; k < 3; ++k) {
    out->append(v.substr(pos, f[k].begin - pos));
    out->append(pieces[k]);
    pos = f[k].begin + f[k].len;
  }
  out->append(v.substr(pos));
  return true;
}

}  // namespace

bool LuhnValid(std::string_view digits) {
  if (digits.size() < 2) return false;
  return LuhnCheckDigit(digits.substr(0, digits.size() - 1)) == digits.back();
}

bool IbanValid(std::string_view iban) {
  std::string c;
  for (char ch : iban)
    if (ch != ' ') c.push_back(ch);
  if (c.size() < 5) return false;
  return Mod97(c.substr(4) + c.substr(0, 4)) == 1;
}

bool Surrogate(Entity entity, std::string_view value, const std::array<uint8_t, 32>& mac,
               const Options& options, std::string* out, uint32_t attempt) {
  Stream r(mac);
  const size_t base = out->size();  // builders append; a refusal takes back what they wrote
  bool ok = false;
  switch (entity) {
    case Entity::kPersonName:
      ok = PersonName(value, r, out);
      break;
    case Entity::kEmail:
      ok = Email(value, r, out);
      break;
    case Entity::kPhone:
      ok = Phone(value, r, attempt >= kPhoneNarrowAttempts, out);
      break;
    case Entity::kCreditCard:
      ok = CreditCard(value, r, out);
      break;
    case Entity::kUsSsn:
      ok = Ssn(value, r, out);
      break;
    case Entity::kIban:
      ok = Iban(value, r, out);
      break;
    case Entity::kDateOfBirth:
      ok = Date(value, r, options.date_shift_days, out);
      break;
    default:
      return false;
  }
  if (!ok) out->resize(base);
  return ok;
}

}  // namespace veil::masker::fake
