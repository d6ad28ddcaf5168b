#include "masker/detector.h"

#include <hs.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "masker/catalog.h"
#include "masker/validators.h"

namespace veil::masker {

using catalog::DbClass;
using catalog::PatternSpec;
using catalog::Resolver;

struct Detector::Db {
  hs_database_t* db = nullptr;
  DbClass cls = DbClass::kLiteral;
  bool som = false;    // custom-entity database: reports start of match
  bool gated = false;  // scanned only over segments that pass the class's gate
  ~Db() { hs_free_database(db); }
};

namespace {
int CurrentYear() {
  static const int year = [] {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
  }();
  return year;
}
}  // namespace

bool ValueIs(Entity entity, std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return false;
  // Tokens (JWTs, keys) can be long; everything else in a cell longer than this is free text.
  switch (entity) {
    case Entity::kJwt:
      return validate::Jwt(v);
    case Entity::kAwsAccessKey:
      return validate::AwsAccessKey(v);
    case Entity::kGcpApiKey:
      return validate::GcpApiKey(v);
    case Entity::kGithubToken:
      return validate::GithubToken(v);
    case Entity::kSlackToken:
      return validate::SlackToken(v);
    case Entity::kStripeKey:
      return validate::StripeKey(v);
    case Entity::kOpenAiApiKey:
      return validate::OpenAiKey(v);
    case Entity::kCryptoWallet:
      return validate::CryptoWallet(v);
    default:
      break;
  }
  if (v.size() > 256) return false;
  char d[32];
  size_t nd = validate::StripToDigits(v, d, sizeof(d));
  std::string_view digits(d, std::min(nd, sizeof(d)));
  switch (entity) {
    case Entity::kStreetAddress: {  // a house number, then a street name
      size_t i = 0;
      while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
      return i > 0 && i + 2 < v.size() && v[i] == ' ' &&
             ((v[i + 1] >= 'A' && v[i + 1] <= 'Z') || (v[i + 1] >= 'a' && v[i + 1] <= 'z'));
    }
    case Entity::kPersonName:
    case Entity::kGenericSecret:  // any value of a password/secret/token column
      return std::any_of(v.begin(), v.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               static_cast<unsigned char>(c) >= 0x80;
      });
    case Entity::kEmail:
      return validate::Email(v);
    case Entity::kPhone:
      return validate::Phone(v);
    case Entity::kDateOfBirth:
      return validate::DateOfBirth(v, CurrentYear());
    case Entity::kUsSsn:
      return nd == 9 && validate::UsSsn(digits);
    case Entity::kUsItin:
      return nd == 9 && validate::UsItin(digits);
    case Entity::kUsBankRouting:
      return nd == 9 && validate::AbaRouting(digits);
    case Entity::kUsNpi:
      return nd == 10 && validate::UsNpi(digits);
    case Entity::kUkNhs:
      return nd == 10 && validate::UkNhs(digits);
    case Entity::kCreditCard:
      return nd >= 13 && nd <= 19 && validate::CreditCard(digits);
    case Entity::kUsPassport:
      return validate::UsPassport(v);
    case Entity::kUsDriverLicense:
      return validate::UsDriverLicense(v);
    case Entity::kIpAddress:
      return validate::IpV4(v) || validate::IpV6(v);
    case Entity::kMacAddress:
      return validate::MacAddress(v);
    case Entity::kAwsSecretKey:
      return validate::AwsSecretKey(v);
    case Entity::kIban: {
      char c[40];
      size_t n = validate::CompactUpper(v, c, sizeof(c));
      return n > 0 && validate::Iban(std::string_view(c, n));
    }
    default:
      return false;
  }
}

namespace {

// Hyperscan ids: built-in patterns by catalog index; custom entities from kCustomIdBase.
constexpr unsigned kCustomIdBase = 1u << 16;

inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
inline bool IsAlpha(unsigned char c) { return IsUpper(c) || IsLower(c); }
inline bool IsAlnum(unsigned char c) { return IsDigit(c) || IsAlpha(c); }
inline bool IsWord(unsigned char c) { return IsAlnum(c) || c == '_'; }
inline bool IsHex(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline char Lower(unsigned char c) { return IsUpper(c) ? static_cast<char>(c + 32) : c; }

// The text a resolver sees: the scanned bytes and the segment the match lies in.
struct View {
  const char* p;
  uint32_t seg_start;
  uint32_t seg_end;
  unsigned char at(int64_t i) const {
    return (i < seg_start || i >= seg_end) ? 0 : static_cast<unsigned char>(p[i]);
  }
  std::string_view sub(uint32_t b, uint32_t e) const { return {p + b, e - b}; }
};

struct Cand {
  uint32_t start, end;
  uint8_t entity;
  float score;
};

class Resolution {
 public:
  Resolution(const View& v, std::vector<EntityMatch>* out) : v_(v), out_(out) {}

  void Emit(uint32_t b, uint32_t e, Entity entity, float score) {
    if (e <= b) return;
    out_->push_back({b, e, static_cast<uint8_t>(entity), score});
  }
  void Emit(uint32_t b, uint32_t e, Entity entity) {
    Emit(b, e, entity, catalog::Info(entity).base_score);
  }

  void Email(uint32_t to) {
    const uint32_t at = to - 2;
    uint32_t b = at;
    auto local = [](unsigned char c) {
      return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
    };
    while (b > v_.seg_start && at - b < 64 && local(v_.at(b - 1))) --b;
    while (b < at && v_.at(b) == '.') ++b;
    uint32_t e = at + 1;
    while (e < v_.seg_end && e - at <= 253 &&
           (IsAlnum(v_.at(e)) || v_.at(e) == '.' || v_.at(e) == '-'))
      ++e;
    while (e > at + 1 && (v_.at(e - 1) == '.' || v_.at(e - 1) == '-')) --e;
    // user:password@host inside a URL is not an address.
    for (uint32_t i = b, n = 0; i > v_.seg_start && n < 256; --i, ++n) {
      unsigned char c = v_.at(i - 1);
      if (c == '/' && v_.at(i - 2) == '/' && v_.at(i - 3) == ':') return;
      if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '<' || c == '(' || c == '/' ||
          c == '?' || c == '&' || c == '=' || c == '#' || c == ',')
        break;  // not inside the userinfo of a URL
    }
    std::string_view s = v_.sub(b, e);
    if (!validate::Email(s) || FileExtensionTld(s)) return;
    Emit(b, e, Entity::kEmail);
    // "Jane Doe <jane@example.com>": the display name of an address is a person's name.
    if (b >= v_.seg_start + 2 && v_.at(b - 1) == '<' && v_.at(b - 2) == ' ') NameBefore(b - 2);
  }

  void FixedToken(const PatternSpec& ps, uint32_t to) {
    if (to < ps.core_len) return;
    const uint32_t b = to - ps.core_len;
    if (b < v_.seg_start) return;
    auto ext = ExtendClass(ps.entity);
    unsigned char before = v_.at(static_cast<int64_t>(b) - 1);
    if (b > v_.seg_start && (IsAlnum(before) || before == '_' || (before == '-' && ext('-'))))
      return;
    uint32_t e = to;
    if (ps.max_len > ps.core_len) {
      while (e < v_.seg_end && e - b < ps.max_len && ext(v_.at(e))) ++e;
    }
    if (ps.entity == Entity::kJwt) {
      while (e > to && v_.at(e - 1) == '.') --e;
    }
    if (e < v_.seg_end && IsAlnum(v_.at(e))) return;  // longer token: not this entity
    std::string_view s = v_.sub(b, e);
    // Placeholders such as sk_live_xxxxxxxxxxxxxxxxxxxxxxxx: a real key's body is random.
    if (ps.entity != Entity::kCryptoWallet &&
        validate::ShannonEntropy(s.substr(std::min<size_t>(s.size(), 8))) < 1.5)
      return;
    if (ValueIs(ps.entity, s)) Emit(b, e, ps.entity);
  }

  void PrivateKey(uint32_t to) {
    static constexpr std::string_view kBegin = "-----BEGIN";
    uint32_t b = to;
    for (uint32_t i = to; i + 40 > to && i > v_.seg_start; --i) {
      if (i - 1 + kBegin.size() <= v_.seg_end && v_.sub(i - 1, i - 1 + kBegin.size()) == kBegin) {
        b = i - 1;
        break;
      }
    }
    if (b == to) return;
    std::string_view rest = v_.sub(to, v_.seg_end);
    uint32_t e = v_.seg_end;  // no footer: everything after the header is key material
    size_t f = rest.find("-----END");
    if (f != std::string_view::npos) {
      size_t close = rest.find("-----", f + 8);
      if (close != std::string_view::npos) e = to + static_cast<uint32_t>(close + 5);
    }
    Emit(b, e, Entity::kPrivateKey);
  }

  void UrlPassword(uint32_t to) {
    const uint32_t at = to - 1;  // '@'
    // Find "://" going back, then the first ':' after it.
    uint32_t scheme_end = 0;
    for (uint32_t i = at; i >= v_.seg_start + 3 && at - i < 400; --i) {
      if (v_.at(i - 3) == ':' && v_.at(i - 2) == '/' && v_.at(i - 1) == '/') {
        scheme_end = i;
        break;
      }
    }
    if (scheme_end == 0) return;
    uint32_t colon = scheme_end;
    while (colon < at && v_.at(colon) != ':') ++colon;
    if (colon >= at) return;
    const uint32_t b = colon + 1, e = at;
    std::string_view pw = v_.sub(b, e);
    if (pw.empty()) return;
    const bool env_var = pw[0] == '$' && pw.size() > 1 &&
                         (pw[1] == '{' || pw[1] == '(' ||
                          pw.substr(1).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
                              std::string_view::npos);
    if (env_var || pw[0] == '{' || pw[0] == '<' ||
        pw.find_first_not_of('*') == std::string_view::npos ||
        pw.find_first_not_of("xX") == std::string_view::npos)
      return;
    Emit(b, e, Entity::kPasswordInUrl);
  }

  // Digit groups around `to` separated by single spaces or dashes: the card inside them.
  void CardRun(uint32_t to, uint32_t* skip_until) {
    if (to <= *skip_until) return;
    uint32_t b = to, e = to;
    while (b > v_.seg_start) {
      unsigned char c = v_.at(b - 1);
      if (IsDigit(c) || ((c == ' ' || c == '-') && IsDigit(v_.at(b - 2)) && IsDigit(v_.at(b))))
        --b;
      else
        break;
    }
    while (e < v_.seg_end) {
      unsigned char c = v_.at(e);
      if (IsDigit(c) || ((c == ' ' || c == '-') && IsDigit(v_.at(e + 1)) && IsDigit(v_.at(e - 1))))
        ++e;
      else
        break;
    }
    *skip_until = e;
    if (IsAlpha(v_.at(static_cast<int64_t>(b) - 1)) || IsAlpha(v_.at(e))) return;
    if (v_.at(static_cast<int64_t>(b) - 1) == '.' || (v_.at(e) == '.' && IsDigit(v_.at(e + 1))))
      return;  // a decimal or dotted number
    if (v_.at(static_cast<int64_t>(b) - 1) == ' ' && b >= v_.seg_start + 5) {
      // Preceded by a 4-character group holding a letter: the tail of an IBAN-style number.
      bool letter = false;
      bool group = b - 5 == v_.seg_start || v_.at(static_cast<int64_t>(b) - 6) == ' ';
      for (uint32_t k = b - 5; k < b - 1; ++k) {
        group = group && (IsUpper(v_.at(k)) || IsDigit(v_.at(k)));
        letter = letter || IsUpper(v_.at(k));
      }
      if (group && letter) return;
    }
    struct Group {
      uint32_t b, e;
    };
    Group g[16];
    int n = 0;
    for (uint32_t i = b; i < e && n < 16;) {
      uint32_t j = i;
      while (j < e && IsDigit(v_.at(j))) ++j;
      g[n++] = {i, j};
      i = j + 1;
    }
    for (int i = 0; i < n; ++i) {
      char digits[24];
      size_t nd = 0;
      unsigned char sep = 0;
      int best = -1;
      for (int j = i; j < n; ++j) {
        if (j > i) {
          unsigned char s = v_.at(g[j].b - 1);
          if (sep == 0) sep = s;
          if (s != sep) break;
        }
        uint32_t len = g[j].e - g[j].b;
        if (nd + len > 19) break;
        std::memcpy(digits + nd, v_.p + g[j].b, len);
        nd += len;
        if (nd >= 13 && validate::CreditCard(std::string_view(digits, nd))) best = j;
      }
      if (best >= 0) {
        Emit(g[i].b, g[best].e, Entity::kCreditCard);
        i = best;
      }
    }
  }

  void SsnDashed(uint32_t to) {
    const uint32_t b = to - 11;
    char d[9];
    std::memcpy(d, v_.p + b, 3);
    std::memcpy(d + 3, v_.p + b + 4, 2);
    std::memcpy(d + 5, v_.p + b + 7, 4);
    std::string_view digits(d, 9);
    if (validate::UsItin(digits))
      Emit(b, to, Entity::kUsItin);
    else if (validate::UsSsn(digits))
      Emit(b, to, Entity::kUsSsn);
  }

  // A phone number starting at or before `to`; libphonenumber validates.
  void Phone(uint32_t to, uint32_t* skip_until) {
    if (to <= *skip_until) return;
    // Walk back to the start: '+', '(' or the first digit of the match.
    uint32_t b = to;
    for (uint32_t i = to; i > v_.seg_start && to - i < 16; --i) {
      unsigned char c = v_.at(i - 1);
      if (c == '+' || c == '(') {
        b = i - 1;
        if (c == '(' && v_.at(static_cast<int64_t>(b) - 1) == ' ' &&
            v_.at(static_cast<int64_t>(b) - 2) == '1' && v_.at(static_cast<int64_t>(b) - 3) == '+')
          b -= 3;
        break;
      }
      if (IsDigit(c) || c == ' ' || c == '-' || c == '.' || c == ')')
        b = i - 1;
      else
        break;
    }
    while (b < to && !IsDigit(v_.at(b)) && v_.at(b) != '+' && v_.at(b) != '(') ++b;
    if (IsWord(v_.at(static_cast<int64_t>(b) - 1))) return;
    PhoneFrom(b, Entity::kPhone, catalog::Info(Entity::kPhone).base_score, skip_until);
  }

  // Reads a phone number from b forward; emits it if libphonenumber accepts it.
  bool PhoneFrom(uint32_t b, Entity entity, float score, uint32_t* skip_until) {
    uint32_t e = b, digits = 0, last_digit_end = b;
    uint32_t group_ends[12];
    int ng = 0;
    while (e < v_.seg_end && digits <= 15) {
      unsigned char c = v_.at(e);
      if (IsDigit(c)) {
        ++digits;
        ++e;
        last_digit_end = e;
        continue;
      }
      bool sep = c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
      if (!sep) break;
      if (c == '+' && e != b) break;
      if (e > b && !IsDigit(v_.at(e - 1)) && c != '(' && v_.at(e - 1) != ')' && v_.at(e - 1) != '+')
        break;  // two separators in a row
      if (e > b && IsDigit(v_.at(e - 1)) && ng < 12) group_ends[ng++] = e;
      ++e;
    }
    if (skip_until) *skip_until = last_digit_end;
    e = last_digit_end;
    if (digits < 7 || digits > 15 || IsWord(v_.at(e))) return false;
    if (v_.at(e) == '.' && IsDigit(v_.at(e + 1))) return false;
    // Try the whole run, then without trailing groups (a number followed by another one).
    for (int k = ng; k >= 0; --k) {
      std::string_view s = v_.sub(b, e);
      if (validate::Phone(s)) {
        Emit(b, e, entity, score);
        return true;
      }
      if (k == 0) break;
      e = group_ends[k - 1];
      if (e <= b) break;
    }
    return false;
  }

  void SpacedTen(uint32_t to) {
    const uint32_t b = to - 12;
    if (v_.at(static_cast<int64_t>(b) - 1) == ' ') {  // "+1 813 394 4163": a phone, not NHS
      int64_t k = static_cast<int64_t>(b) - 2;
      while (k >= v_.seg_start && IsDigit(v_.at(k)) && b - k < 6) --k;
      if (v_.at(k) == '+') return;
    }
    char d[10];
    std::memcpy(d, v_.p + b, 3);
    std::memcpy(d + 3, v_.p + b + 4, 3);
    std::memcpy(d + 6, v_.p + b + 8, 4);
    bool nhs = validate::UkNhs(std::string_view(d, 10));
    if (nhs) Emit(b, to, Entity::kUkNhs, 0.75f);
    if (validate::Phone(v_.sub(b, to))) Emit(b, to, Entity::kPhone, nhs ? 0.65f : 0.7f);
  }

  void Iban(uint32_t to) {
    uint32_t b = to - 8;
    if (to >= 9 && v_.at(to - 5) == ' ' && IsUpper(v_.at(to - 9))) b = to - 9;
    if (b < v_.seg_start) return;
    const bool grouped = v_.at(b + 4) == ' ';
    char compact[34];
    uint32_t pos[34];
    int n = 0;
    for (uint32_t i = b; i < v_.seg_end && n < 34; ++i) {
      unsigned char c = v_.at(i);
      if (IsUpper(c) || IsDigit(c)) {
        compact[n] = static_cast<char>(c);
        pos[n++] = i;
      } else if (c == ' ' && grouped && IsAlnum(v_.at(i + 1)) && IsAlnum(v_.at(i - 1))) {
        continue;
      } else {
        break;
      }
    }
    for (int len = n; len >= 15; --len) {
      uint32_t e = pos[len - 1] + 1;
      if (IsAlnum(v_.at(e))) continue;  // must end at a word boundary
      if (validate::Iban(std::string_view(compact, len))) {
        Emit(b, e, Entity::kIban);
        return;
      }
    }
  }

  void Nino(uint32_t to) {
    // Back over six digits (and up to three spaces), an optional space, two letters.
    int64_t i = to;
    int digits = 0;
    while (i > v_.seg_start && digits < 6) {
      unsigned char c = v_.at(i - 1);
      if (IsDigit(c))
        ++digits;
      else if (c != ' ')
        return;
      --i;
    }
    if (v_.at(i - 1) == ' ') --i;
    if (i - 2 < v_.seg_start) return;
    uint32_t b = static_cast<uint32_t>(i - 2);
    char compact[9];
    int n = 0;
    for (uint32_t k = b; k < to; ++k)
      if (v_.at(k) != ' ') compact[n++] = static_cast<char>(v_.at(k));
    uint32_t e = to;
    unsigned char s = v_.at(e);
    uint32_t sfx = e;
    if (s == ' ') s = v_.at(++sfx);
    if (!(s >= 'A' && s <= 'D') || IsAlnum(v_.at(sfx + 1))) return;  // the suffix letter
    compact[n++] = static_cast<char>(s);
    e = sfx + 1;
    const uint32_t spaces = (e - b) - 9;
    if (spaces != 0 && spaces != 4 && !(spaces == 3 && sfx == to)) return;  // AB 12 34 56 C
    if (!validate::UkNino(std::string_view(compact, n))) return;
    Emit(b, e, Entity::kUkNino);
  }

  void Ipv4(uint32_t to) {
    uint32_t b = to;
    while (b > v_.seg_start && (IsDigit(v_.at(b - 1)) || v_.at(b - 1) == '.')) --b;
    uint32_t e = to;
    while (e < v_.seg_end && (IsDigit(v_.at(e)) || (v_.at(e) == '.' && IsDigit(v_.at(e + 1))))) ++e;
    std::string_view s = v_.sub(b, e);
    if (std::count(s.begin(), s.end(), '.') != 3) return;
    unsigned char before = v_.at(static_cast<int64_t>(b) - 1);
    if (before == 'v' || before == 'V' || IsAlnum(before) || IsAlnum(v_.at(e))) return;
    if (validate::IpV4(s)) Emit(b, e, Entity::kIpAddress);
  }

  void Ipv6(uint32_t to, uint32_t* skip_until) {
    if (to <= *skip_until) return;
    auto cls = [](unsigned char c) { return IsHex(c) || c == ':' || c == '.'; };
    uint32_t b = to;
    while (b > v_.seg_start && cls(v_.at(b - 1))) --b;
    uint32_t e = to;
    while (e < v_.seg_end && cls(v_.at(e))) ++e;
    *skip_until = e;
    while (e > b && v_.at(e - 1) == '.') --e;
    if (e - b >= 2 && v_.at(e - 1) == ':' && v_.at(e - 2) != ':') --e;
    if (IsWord(v_.at(static_cast<int64_t>(b) - 1)) || IsWord(v_.at(e))) return;
    std::string_view s = v_.sub(b, e);
    if (std::count(s.begin(), s.end(), ':') < 2) return;
    if (validate::IpV6(s)) Emit(b, e, Entity::kIpAddress);
  }

  void Mac(const PatternSpec& ps, uint32_t to) {
    uint32_t b = to - ps.core_len;
    if (validate::MacAddress(v_.sub(b, to))) Emit(b, to, Entity::kMacAddress);
  }

  void Street(uint32_t to) {
    // Back over the suffix, then up to four capitalised words, to the house number.
    int64_t i = to;
    while (i > v_.seg_start && IsAlpha(v_.at(i - 1))) --i;
    uint32_t b = 0;
    for (int words = 0; words < 5; ++words) {
      if (v_.at(i - 1) != ' ') return;
      --i;
      int64_t w = i;
      while (w > v_.seg_start && (IsAlnum(v_.at(w - 1)) || v_.at(w - 1) == '\'' ||
                                  v_.at(w - 1) == '-' || v_.at(w - 1) == '.'))
        --w;
      bool number = w < i && i - w <= 6;
      for (int64_t k = w; k < i; ++k) number = number && IsDigit(v_.at(k));
      if (number) {
        b = static_cast<uint32_t>(w);
        break;
      }
      if (w == i || !IsUpper(v_.at(w))) return;  // street names are capitalised words
      i = w;
    }
    if (b == 0 && !IsDigit(v_.at(0))) return;
    if (v_.at(b) == '0') return;
    uint32_t e = to;
    if (v_.at(e) == '.') ++e;
    // Optional unit: ", Apt 5", " Suite 200", " #12", " Unit 3B".
    static constexpr std::string_view kUnits[] = {"Apt. ", "Apt ", "Suite ", "Ste ", "Unit ",
                                                  "#",     "Fl ",  "Floor ", "Flat "};
    uint32_t u = e;
    if (v_.at(u) == ',') ++u;
    if (v_.at(u) == ' ') {
      ++u;
      for (std::string_view unit : kUnits) {
        if (u + unit.size() < v_.seg_end && v_.sub(u, u + unit.size()) == unit) {
          uint32_t k = u + unit.size();
          uint32_t s = k;
          while (k < v_.seg_end && (IsAlnum(v_.at(k)) || v_.at(k) == '-')) ++k;
          if (k > s && k - s <= 6) e = k;
          break;
        }
      }
    }
    Emit(b, e, Entity::kStreetAddress);
  }

  // After a context keyword: skip separators and filler words, then read the value.
  void KeywordValue(Entity entity, uint32_t to) {
    uint32_t p = to;
    while (p < v_.seg_end && IsWord(v_.at(p))) ++p;  // passport_number, apiKey_2
    bool assigned = false;
    const uint32_t limit = std::min<uint32_t>(v_.seg_end, p + 32);
    while (p < limit) {
      unsigned char c = v_.at(p);
      if (c == ':' || c == '=') {
        assigned = true;
        ++p;
      } else if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '#' || c == '-' ||
                 c == '>' || c == ',' || c == '.') {
        ++p;
      } else if (IsAlpha(c) && (!IsValueStart(entity, p) || (!assigned && IsFillerAt(p, limit)))) {
        uint32_t w = p;
        while (w < limit && IsAlpha(v_.at(w))) ++w;
        std::string_view word = v_.sub(p, w);
        if (IsDigit(v_.at(w)) || !IsFiller(word)) return;
        if (word.size() == 2 && Lower(word[0]) == 'i' && Lower(word[1]) == 's') assigned = true;
        p = w;
        if (v_.at(p) == '.') ++p;
      } else {
        break;
      }
    }
    if (p >= v_.seg_end) return;
    const bool needs_assignment =
        entity == Entity::kGenericSecret || entity == Entity::kAwsSecretKey;
    if (needs_assignment && !assigned) return;
    const float score = catalog::Info(entity).base_score;
    switch (entity) {
      case Entity::kUsSsn:
      case Entity::kUsItin:
      case Entity::kUsBankRouting:
      case Entity::kUsNpi:
      case Entity::kUkNhs: {
        const size_t want = (entity == Entity::kUsNpi || entity == Entity::kUkNhs) ? 10 : 9;
        char d[16];
        size_t nd = 0;
        uint32_t e = p;
        while (e < v_.seg_end && nd < 16) {
          unsigned char c = v_.at(e);
          if (IsDigit(c)) {
            d[nd++] = static_cast<char>(c);
          } else if (nd == want || !((c == '-' || c == ' ') && IsDigit(v_.at(e + 1)) && nd > 0)) {
            break;  // complete, or not a separator inside the number
          }
          ++e;
        }
        if (nd != want || IsAlnum(v_.at(e))) return;
        std::string_view digits(d, nd);
        bool ok = entity == Entity::kUsSsn    ? validate::UsSsn(digits)
                  : entity == Entity::kUsItin ? validate::UsItin(digits)
                  : entity == Entity::kUsNpi  ? validate::UsNpi(digits)
                  : entity == Entity::kUkNhs  ? validate::UkNhs(digits)
                                              : validate::AbaRouting(digits);
        if (ok) Emit(p, e, entity, score);
        return;
      }
      case Entity::kUsPassport:
      case Entity::kUsDriverLicense: {
        uint32_t e = p;
        while (e < v_.seg_end && e - p < 24 &&
               (IsAlnum(v_.at(e)) || (v_.at(e) == '-' && IsAlnum(v_.at(e + 1)))))
          ++e;
        char c[24];
        size_t n = 0;
        for (uint32_t k = p; k < e; ++k)
          if (v_.at(k) != '-') c[n++] = static_cast<char>(v_.at(k));
        std::string_view s(c, n);
        bool ok =
            entity == Entity::kUsPassport ? validate::UsPassport(s) : validate::UsDriverLicense(s);
        if (ok) Emit(p, e, entity, score);
        return;
      }
      case Entity::kPhone:
        PhoneFrom(p, Entity::kPhone, 0.85f, nullptr);
        return;
      case Entity::kDateOfBirth:
        DateAt(p);
        return;
      case Entity::kAwsSecretKey: {
        uint32_t e = p;
        while (e < v_.seg_end && e - p <= 40 &&
               (IsAlnum(v_.at(e)) || v_.at(e) == '/' || v_.at(e) == '+'))
          ++e;
        if (validate::AwsSecretKey(v_.sub(p, e))) Emit(p, e, entity, score);
        return;
      }
      case Entity::kGenericSecret: {
        unsigned char q = v_.at(static_cast<int64_t>(p) - 1);
        uint32_t e = p;
        if (q == '"' || q == '\'') {
          while (e < v_.seg_end && e - p < 256 && v_.at(e) != q) ++e;
        } else {
          auto stop = [](unsigned char c) {
            return c == 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' ||
                   c == ';' || c == '&' || c == '"' || c == '\'' || c == '<' || c == '>' ||
                   c == ')' || c == '}' || c == ']';
          };
          while (e < v_.seg_end && e - p < 256 && !stop(v_.at(e)) &&
                 !(v_.at(e) == '\\' &&
                   (v_.at(e + 1) == 'n' || v_.at(e + 1) == 'r' || v_.at(e + 1) == 't')))
            ++e;
          // A sentence's full stop is not part of the value.
          if (e > p + 1 && (v_.at(e - 1) == '.' || v_.at(e - 1) == ',') &&
              (e == v_.seg_end || v_.at(e) == ' ' || v_.at(e) == '\t'))
            --e;
        }
        if (validate::LooksLikeSecret(v_.sub(p, e), 3.0)) Emit(p, e, entity, score);
        return;
      }
      default:
        return;
    }
  }

  // A date written after a birth keyword: "1984-03-07", "03/07/1984", "7 March 1984",
  // "March 7, 1984". Tries the longest plausible text first.
  void DateAt(uint32_t p) {
    uint32_t e = p;
    int tokens = 0;
    uint32_t ends[4];
    while (e < v_.seg_end && tokens < 4) {
      uint32_t s = e;
      while (e < v_.seg_end && (IsAlnum(v_.at(e)) || v_.at(e) == '/' || v_.at(e) == '-' ||
                                (v_.at(e) == '.' && IsAlnum(v_.at(e + 1)))))
        ++e;
      if (e == s) break;
      if (v_.at(e) == ',') ++e;
      ends[tokens++] = e;
      if (v_.at(e) != ' ') break;
      ++e;
    }
    for (int t = tokens; t > 0; --t) {
      uint32_t end = ends[t - 1];
      if (v_.at(end - 1) == ',') --end;
      if (validate::DateOfBirth(v_.sub(p, end), CurrentYear())) {
        Emit(p, end, Entity::kDateOfBirth);
        return;
      }
    }
  }

  // INSERT INTO t (c1, c2, …) VALUES (v1, v2, …)[, (…)]: each value is checked as the entity
  // its column's name hints at.
  void SqlInsert(uint32_t to) {
    char lower[64][48];
    std::string_view cols[64];
    int nc = 0;
    uint32_t p = to;
    auto skip = [&](auto pred) {
      while (p < v_.seg_end && pred(v_.at(p))) ++p;
    };
    auto blank = [](unsigned char c) { return c == ' ' || c == '\t'; };
    while (nc < 64) {
      skip([](unsigned char c) { return c == ' ' || c == '\t' || c == '"' || c == '`'; });
      uint32_t s = p;
      skip([](unsigned char c) { return IsWord(c); });
      if (p == s || p - s >= 48) return;
      cols[nc] = std::string_view(
          lower[nc], catalog::NormalizeColumnName(v_.sub(s, p), lower[nc], sizeof(lower[nc])));
      ++nc;
      skip([](unsigned char c) { return c == ' ' || c == '"' || c == '`'; });
      if (v_.at(p) == ',') {
        ++p;
        continue;
      }
      if (v_.at(p) != ')') return;
      ++p;
      break;
    }
    skip(blank);
    for (char c : std::string_view("values")) {
      if (Lower(v_.at(p)) != c) return;
      ++p;
    }
    std::optional<Entity> hint[64];
    for (int i = 0; i < nc; ++i) hint[i] = catalog::EntityForColumnName(cols[i]);
    for (int tuples = 0; tuples < 10000; ++tuples) {
      skip([](unsigned char c) { return c == ' ' || c == ','; });
      if (v_.at(p) != '(') return;
      ++p;
      for (int i = 0;; ++i) {
        skip(blank);
        uint32_t s = p, e = p;
        if (v_.at(p) == '\'') {
          s = ++p;
          while (p < v_.seg_end && !(v_.at(p) == '\'' && v_.at(p + 1) != '\''))
            p += v_.at(p) == '\'' ? 2 : 1;
          if (p >= v_.seg_end) return;
          e = p++;
        } else {
          skip([](unsigned char c) { return c != ',' && c != ')' && c != 0; });
          e = p;
          while (e > s && blank(v_.at(e - 1))) --e;
        }
        // Below the literal-anchored detectors (0.95): a JWT in an access_token column stays a JWT.
        if (i < nc && hint[i] && e > s && ValueIs(*hint[i], v_.sub(s, e)) &&
            (*hint[i] != Entity::kGenericSecret || validate::LooksLikeSecret(v_.sub(s, e), 3.0)))
          Emit(s, e, *hint[i], 0.9f);
        skip(blank);
        if (v_.at(p) == ',') {
          ++p;
          continue;
        }
        if (v_.at(p) != ')') return;
        ++p;
        break;
      }
    }
  }

  // Two to four capitalised words ending at `e` (exclusive).
  void NameBefore(uint32_t e) {
    int64_t i = e;
    int words = 0;
    uint32_t b = e;
    while (words < 4 && i > v_.seg_start) {
      int64_t w = i;
      while (w > v_.seg_start &&
             (IsAlpha(v_.at(w - 1)) || v_.at(w - 1) >= 0x80 || v_.at(w - 1) == '\'' ||
              v_.at(w - 1) == '-' || v_.at(w - 1) == '.'))
        --w;
      if (w == i || !(IsUpper(v_.at(w)) || v_.at(w) >= 0xC3)) break;
      b = static_cast<uint32_t>(w);
      ++words;
      if (v_.at(w - 1) != ' ') break;
      i = w - 1;
    }
    if (words >= 2 && !IsAlnum(v_.at(static_cast<int64_t>(b) - 1))) Emit(b, e, Entity::kPersonName);
  }

  void PersonKeyword(uint32_t to) {
    uint32_t p = to;
    while (p < v_.seg_end && (IsAlpha(v_.at(p)) || v_.at(p) == '_')) {
      // "customer_name", "name" – but not "Mr" immediately followed by the name.
      if (IsUpper(v_.at(p)) && v_.at(p - 1) == ' ') break;
      ++p;
    }
    for (int k = 0; k < 6 && p < v_.seg_end; ++k) {
      unsigned char c = v_.at(p);
      if (c == ' ' || c == ':' || c == '=' || c == '"' || c == '\'' || c == '.' || c == ',')
        ++p;
      else
        break;
    }
    const uint32_t b = p;
    int words = 0;
    uint32_t e = p;
    while (words < 4) {
      uint32_t w = e;
      unsigned char c = v_.at(w);
      if (!(IsUpper(c) || (c >= 0xC3 && c <= 0xC5))) break;
      w += c >= 0x80 ? 2 : 1;
      uint32_t letters = 0;
      while (w < v_.seg_end &&
             (IsLower(v_.at(w)) || v_.at(w) >= 0x80 || v_.at(w) == '\'' || v_.at(w) == '-')) {
        ++w;
        ++letters;
      }
      if (letters == 0) {
        if (v_.at(w) != '.') break;  // a middle initial "M."
        ++w;
      }
      ++words;
      e = w;
      if (v_.at(e) != ' ') break;
      if (!(IsUpper(v_.at(e + 1)) || v_.at(e + 1) >= 0xC3)) break;
      ++e;
    }
    if (words < 2 || IsAlnum(v_.at(e))) return;
    Emit(b, e, Entity::kPersonName);
  }

 private:
  static bool FileExtensionTld(std::string_view email) {
    static constexpr std::string_view kExt[] = {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js",   "json", "txt", "pdf", "html",
        "htm", "xml", "zip",  "gz",  "ico", "bmp",  "tif", "tiff", "mp4",  "mp3", "csv", "yaml"};
    size_t dot = email.rfind('.');
    if (dot == std::string_view::npos) return false;
    std::string_view tld = email.substr(dot + 1);
    for (std::string_view x : kExt) {
      if (tld.size() == x.size() &&
          std::equal(tld.begin(), tld.end(), x.begin(),
                     [](char a, char b) { return Lower(static_cast<unsigned char>(a)) == b; }))
        return true;
    }
    return false;
  }

  using ExtendFn = bool (*)(unsigned char);
  static ExtendFn ExtendClass(Entity e) {
    switch (e) {
      case Entity::kJwt:
        return [](unsigned char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; };
      case Entity::kSlackToken:
        return [](unsigned char c) { return IsAlnum(c) || c == '-'; };
      case Entity::kOpenAiApiKey:
        return [](unsigned char c) { return IsAlnum(c) || c == '_' || c == '-'; };
      default:
        return [](unsigned char c) { return IsAlnum(c); };
    }
  }

  bool IsValueStart(Entity e, uint32_t p) const {
    // Values that start with a letter: driver licenses (A1234567), passports (C12345678),
    // month names for dates, secrets.
    switch (e) {
      case Entity::kUsPassport:
      case Entity::kUsDriverLicense:
        return IsDigit(v_.at(p + 1)) || (IsUpper(v_.at(p)) && IsDigit(v_.at(p + 2)));
      case Entity::kDateOfBirth:
        return IsMonth(p);
      case Entity::kGenericSecret:
      case Entity::kAwsSecretKey:
        return true;
      default:
        return false;
    }
  }

  bool IsFillerAt(uint32_t p, uint32_t limit) const {
    uint32_t w = p;
    while (w < limit && IsAlpha(v_.at(w))) ++w;
    return !IsDigit(v_.at(w)) && IsFiller(v_.sub(p, w));
  }

  bool IsMonth(uint32_t p) const {
    static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul", "aug", "sep", "oct", "nov", "dec"};
    char m[3] = {Lower(v_.at(p)), Lower(v_.at(p + 1)), Lower(v_.at(p + 2))};
    for (std::string_view x : kMonths)
      if (x == std::string_view(m, 3)) return true;
    return false;
  }

  static bool IsFiller(std::string_view w) {
    static constexpr std::string_view kFiller[] = {
        "is",  "no",   "nr",  "num",   "number", "of",  "was", "on",     "id",      "code",
        "the", "card", "our", "their", "his",    "her", "its", "ending", "numbers", "value",
        "a",   "an",   "at",  "as",    "date",   "in",  "key", "for",    "holder"};
    if (w.size() > 8) return false;
    char low[8];
    for (size_t i = 0; i < w.size(); ++i) low[i] = Lower(static_cast<unsigned char>(w[i]));
    std::string_view lw(low, w.size());
    for (std::string_view f : kFiller)
      if (f == lw) return true;
    return false;
  }

  const View& v_;
  std::vector<EntityMatch>* out_;
};

// Does any of `words` occur (case-insensitively) in the `width` bytes before b on its line?
bool NearWord(const View& v, uint32_t b, std::span<const std::string_view> words,
              uint32_t width = 48) {
  if (words.empty()) return false;
  char win[48];
  width = std::min<uint32_t>(width, sizeof(win));
  uint32_t s = b > v.seg_start + width ? b - width : v.seg_start;
  size_t n = 0;
  for (uint32_t i = s; i < b; ++i) {
    char c = v.p[i];
    if (c == '\n') {
      n = 0;
      continue;
    }
    win[n++] = Lower(static_cast<unsigned char>(c));
  }
  std::string_view w(win, n);
  for (std::string_view x : words)
    if (w.find(x) != std::string_view::npos) return true;
  return false;
}

// Is the word right before b (across at most a few separators) one of `words`, as in
// "order 4111…", "sku=…", "order_id: …"? Negative context only counts this close.
bool PrecedingWordIs(const View& v, uint32_t b, std::span<const std::string_view> words) {
  if (words.empty()) return false;
  int64_t i = b;
  int gap = 0;
  while (i > v.seg_start && gap < 6 && !IsAlpha(v.at(i - 1)) && v.at(i - 1) != '\n' &&
         !IsDigit(v.at(i - 1))) {
    --i;
    ++gap;
  }
  char w[32];
  size_t n = 0;
  int64_t e = i;
  while (i > v.seg_start && e - i < 31 && (IsWord(v.at(i - 1)))) --i;
  for (int64_t k = i; k < e; ++k) w[n++] = Lower(v.at(k));
  std::string_view word(w, n);
  for (std::string_view x : words)
    if (catalog::ColumnNameHas(word, x) || word.starts_with(x)) return true;
  return false;
}

struct MatchSink {
  std::vector<Scanner::RawHit>* hits;
  uint32_t base;  // offset of the scanned range in the text
};

int OnMatch(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
            void* ctx) {
  auto* sink = static_cast<MatchSink*>(ctx);
  const uint32_t end = sink->base + static_cast<uint32_t>(to);
  sink->hits->push_back({id, end});
  // Custom entities report their start too: it follows as a second record.
  if (id >= kCustomIdBase) sink->hits->push_back({~0u, sink->base + static_cast<uint32_t>(from)});
  return 0;
}

// Byte-class counts of a segment, to skip databases that cannot match in it.
struct SegmentShape {
  uint32_t digits = 0, uppers = 0, colons = 0, dots = 0, dashes = 0, spaces = 0;
};

// One table lookup and one add per byte: each class counts in its own 8-bit lane of a 64-bit
// word, folded into 32-bit counters every 255 bytes so no lane overflows.
constexpr std::array<uint64_t, 256> kShapeLanes = [] {
  std::array<uint64_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = 1ull << 0;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = 1ull << 8;
  t[':'] = 1ull << 16;
  t['.'] = 1ull << 24;
  t['-'] = 1ull << 32;
  t[' '] = 1ull << 40;
  return t;
}();

SegmentShape ShapeOf(std::string_view t) {
  SegmentShape s;
  for (size_t i = 0; i < t.size();) {
    const size_t end = std::min(t.size(), i + 255);
    // Four independent sums: the adds no longer wait on each other.
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(t.data());
    for (; i + 4 <= end; i += 4) {
      a0 += kShapeLanes[p[i]];
      a1 += kShapeLanes[p[i + 1]];
      a2 += kShapeLanes[p[i + 2]];
      a3 += kShapeLanes[p[i + 3]];
    }
    for (; i < end; ++i) a0 += kShapeLanes[p[i]];
    const uint64_t acc = a0 + a1 + a2 + a3;  // each lane stays below 256: 255 bytes a block
    s.digits += acc & 255;
    s.uppers += (acc >> 8) & 255;
    s.colons += (acc >> 16) & 255;
    s.dots += (acc >> 24) & 255;
    s.dashes += (acc >> 32) & 255;
    s.spaces += (acc >> 40) & 255;
  }
  return s;
}

// Can a segment of this shape hold a match of the class? Digit shapes need 6 digits (a NINO;
// phones have 7), or the dots of an IPv4 or Cisco MAC, the colons of an IPv6/MAC, the dashes
// of a MAC; letter shapes are base58 wallets (26+ characters) and street lines (spaces, a
// capital, a house number).
bool Gate(DbClass cls, const SegmentShape& s, uint32_t size) {
  switch (cls) {
    case DbClass::kDigits:
      return s.digits >= 6 || s.dots >= 2 || s.colons >= 3 || s.dashes >= 5;
    case DbClass::kLetters:  // a base58 wallet (26+ characters) or a street line
      return s.digits >= 1 && (size >= 26 || (s.spaces >= 2 && s.uppers >= 1));
    default:
      return true;
  }
}

}  // namespace

std::bitset<kMaxEntities> Detector::Options::AllBuiltins() {
  std::bitset<kMaxEntities> b;
  for (size_t i = 0; i < kBuiltinEntityCount; ++i) b.set(i);
  return b;
}

Detector::~Detector() = default;

Result<std::shared_ptr<const Detector>> Detector::Create(Options options) {
  if (hs_valid_platform() != HS_SUCCESS)
    return Error{"this CPU lacks the SSSE3 instructions that Hyperscan needs"};
  if (options.custom.size() > kMaxEntities - kFirstCustom) return Error{"too many custom entities"};
  std::shared_ptr<Detector> d(new Detector());
  auto patterns = catalog::Patterns();
  for (DbClass cls : catalog::kDbClasses) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < patterns.size(); ++i) {
      const PatternSpec& ps = patterns[i];
      // kBuiltinCount marks patterns that serve several entities (SQL INSERT).
      if (ps.db != cls) continue;
      if (ps.entity != Entity::kBuiltinCount && !options.enabled.test(Index(ps.entity))) continue;
      exprs.push_back(ps.regex);
      flags.push_back(cls == DbClass::kKeyword ? HS_FLAG_CASELESS : 0);
      ids.push_back(static_cast<unsigned>(i));
    }
    if (exprs.empty()) continue;
    auto db = std::make_unique<Db>();
    db->cls = cls;
    db->gated = cls == DbClass::kDigits || cls == DbClass::kLetters;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db->db,
                         &err) != HS_SUCCESS) {
      std::string msg = "built-in pattern failed to compile: ";
      msg += err ? err->message : "?";
      if (err && err->expression >= 0) msg += std::string(" in ") + exprs[err->expression];
      hs_free_compile_error(err);
      return Error{msg};
    }
    d->dbs_.push_back(std::move(db));
  }
  if (!options.custom.empty()) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < options.custom.size(); ++i) {
      exprs.push_back(options.custom[i].pattern.c_str());
      flags.push_back(HS_FLAG_SOM_LEFTMOST);
      ids.push_back(kCustomIdBase + static_cast<unsigned>(i));
    }
    auto db = std::make_unique<Db>();
    db->som = true;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db->db,
                         &err) != HS_SUCCESS) {
      std::string msg = "custom entity ";
      if (err && err->expression >= 0) msg += options.custom[err->expression].name + " ";
      msg += "pattern does not compile: ";
      msg += err ? err->message : "?";
      hs_free_compile_error(err);
      return Error{msg};
    }
    d->dbs_.push_back(std::move(db));
  }
  d->options_ = std::move(options);
  return std::shared_ptr<const Detector>(std::move(d));
}

std::string_view Detector::EntityName(uint8_t id) const {
  if (id < kBuiltinEntityCount) return kBuiltinEntityNames[id];
  size_t c = static_cast<size_t>(id) - kFirstCustom;
  if (id >= kFirstCustom && c < options_.custom.size()) return options_.custom[c].name;
  return "UNKNOWN";
}

int Detector::EntityId(std::string_view name) const {
  if (auto e = BuiltinEntityFromName(name)) return static_cast<int>(*e);
  for (size_t i = 0; i < options_.custom.size(); ++i)
    if (options_.custom[i].name == name) return static_cast<int>(kFirstCustom + i);
  return -1;
}

Scanner::Scanner(std::shared_ptr<const Detector> detector) : detector_(std::move(detector)) {
  for (const auto& db : detector_->dbs_) {
    // Growing one scratch to fit every database; failure here is out-of-memory.
    if (hs_alloc_scratch(db->db, &scratch_) != HS_SUCCESS) std::abort();
  }
  hits_.reserve(256);
  candidates_.reserve(64);
}

Scanner::~Scanner() { hs_free_scratch(scratch_); }

void Scanner::Scan(std::string_view text, std::vector<EntityMatch>* out, const ColumnHints* hints) {
  Segment whole{0, static_cast<uint32_t>(text.size()), hints};
  Scan(text, std::span<const Segment>(&whole, 1), out);
}

void Scanner::Scan(std::string_view text, std::span<const Segment> segments,
                   std::vector<EntityMatch>* out) {
  out->clear();
  if (text.empty()) return;
  hits_.clear();
  shapes_.clear();
  for (const Segment& sg : segments) {
    SegmentShape sh = ShapeOf(text.substr(sg.start, sg.end - sg.start));
    shapes_.push_back({sh.digits, sh.uppers, sh.colons, sh.dots, sh.dashes, sh.spaces});
  }
  MatchSink sink{&hits_, 0};
  for (const auto& db : detector_->dbs_) {
    if (!db->gated) {
      sink.base = 0;
      hs_scan(db->db, text.data(), static_cast<unsigned>(text.size()), 0, scratch_, OnMatch, &sink);
      continue;
    }
    // Scan the segments that pass the gate, merging neighbours so that short cells do not
    // each pay Hyperscan's per-call cost: a gap under 256 bytes is scanned through.
    constexpr uint32_t kMaxGap = 256;
    uint32_t rb = 0, re = 0;
    bool open = false;
    auto flush = [&] {
      if (!open) return;
      sink.base = rb;
      hs_scan(db->db, text.data() + rb, re - rb, 0, scratch_, OnMatch, &sink);
      open = false;
    };
    for (size_t i = 0; i < segments.size(); ++i) {
      const auto& sh = shapes_[i];
      if (!Gate(db->cls, {sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]},
                segments[i].end - segments[i].start))
        continue;
      if (open && segments[i].start - re < kMaxGap) {
        re = segments[i].end;
      } else {
        flush();
        rb = segments[i].start;
        re = segments[i].end;
        open = true;
      }
    }
    flush();
  }
  if (hits_.empty()) return;

  candidates_.clear();
  auto patterns = catalog::Patterns();
  const auto& opts = detector_->options_;
  uint32_t skip_card = 0, skip_phone = 0, skip_v6 = 0;
  size_t seg = 0;
  // Hits of one database arrive in end order, but the databases run one after another:
  // sort so the per-resolver skip marks and the segment cursor only move forward.
  std::vector<RawHit>& hits = hits_;
  // Custom hits are pairs (id, to)(~0, from): sort (to, index) keys, skipping the "from"s.
  order_.clear();
  for (uint32_t i = 0; i < hits.size(); ++i) {
    if (hits[i].pattern != ~0u) order_.push_back(uint64_t{hits[i].to} << 32 | i);
  }
  std::sort(order_.begin(), order_.end());

  for (uint64_t key : order_) {
    const uint32_t idx = static_cast<uint32_t>(key);
    const RawHit& h = hits[idx];
    while (seg + 1 < segments.size() && h.to > segments[seg].end) ++seg;
    const Segment& sg = segments[seg];
    if (h.to <= sg.start || h.to > sg.end) continue;  // crosses a segment separator
    View v{text.data(), sg.start, sg.end};
    size_t before = candidates_.size();
    Resolution r(v, &candidates_);
    if (h.pattern >= kCustomIdBase) {
      uint32_t from = hits[idx + 1].to;
      size_t c = h.pattern - kCustomIdBase;
      if (from < sg.start) continue;
      candidates_.push_back(
          {from, h.to, static_cast<uint8_t>(kFirstCustom + c), opts.custom[c].score});
    } else {
      const PatternSpec& ps = patterns[h.pattern];
      switch (ps.resolver) {
        case Resolver::kEmail:
          r.Email(h.to);
          break;
        case Resolver::kFixedToken:
          r.FixedToken(ps, h.to);
          break;
        case Resolver::kPrivateKey:
          r.PrivateKey(h.to);
          break;
        case Resolver::kUrlPassword:
          r.UrlPassword(h.to);
          break;
        case Resolver::kCardRun:
          r.CardRun(h.to, &skip_card);
          break;
        case Resolver::kSsnDashed:
          r.SsnDashed(h.to);
          break;
        case Resolver::kPhone:
          r.Phone(h.to, &skip_phone);
          break;
        case Resolver::kSpacedTen:
          r.SpacedTen(h.to);
          break;
        case Resolver::kIban:
          r.Iban(h.to);
          break;
        case Resolver::kNino:
          r.Nino(h.to);
          break;
        case Resolver::kIpv4:
          r.Ipv4(h.to);
          break;
        case Resolver::kIpv6:
          r.Ipv6(h.to, &skip_v6);
          break;
        case Resolver::kMac:
          r.Mac(ps, h.to);
          break;
        case Resolver::kStreet:
          r.Street(h.to);
          break;
        case Resolver::kKeywordValue:
          r.KeywordValue(ps.entity, h.to);
          break;
        case Resolver::kPersonKeyword:
          r.PersonKeyword(h.to);
          break;
        case Resolver::kSqlInsert:
          r.SqlInsert(h.to);
          break;
      }
    }
    // Context: words before the value, and the column's hints.
    for (size_t i = before; i < candidates_.size(); ++i) {
      EntityMatch& m = candidates_[i];
      if (!opts.enabled.test(m.entity) && m.entity < kFirstCustom) {
        m.score = -1;
        continue;
      }
      if (m.entity < kBuiltinEntityCount) {
        const auto& info = catalog::Info(static_cast<Entity>(m.entity));
        if (NearWord(v, m.start, info.positive)) m.score += 0.15f;
        // Negative words count only right before the value ("order 4111…", "sku=…").
        if (PrecedingWordIs(v, m.start, info.negative)) m.score -= 0.3f;
      } else {
        size_t c = m.entity - kFirstCustom;
        for (const std::string& w : opts.custom[c].context) {
          std::string_view sw(w);
          if (NearWord(v, m.start, std::span<const std::string_view>(&sw, 1))) {
            m.score += 0.15f;
            break;
          }
        }
      }
      if (sg.hints) m.score += sg.hints->boost[m.entity];
      m.score = std::min(m.score, 1.0f);
    }
  }

  // Keep the best of overlapping candidates (higher score, then longer). Candidates sorted by
  // start fall into clusters of overlapping ones; the choice is made within each cluster, so
  // the work stays linear in the number of candidates across a large block.
  std::erase_if(candidates_, [&](const EntityMatch& m) { return m.score < opts.min_score; });
  std::sort(candidates_.begin(), candidates_.end(),
            [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
  auto better = [](const EntityMatch& a, const EntityMatch& b) {
    if (a.score != b.score) return a.score > b.score;
    return (a.end - a.start) > (b.end - b.start);
  };
  for (size_t i = 0; i < candidates_.size();) {
    size_t j = i + 1;
    uint32_t cluster_end = candidates_[i].end;
    while (j < candidates_.size() && candidates_[j].start < cluster_end) {
      cluster_end = std::max(cluster_end, candidates_[j].end);
      ++j;
    }
    if (j == i + 1) {
      out->push_back(candidates_[i]);
    } else {
      std::sort(candidates_.begin() + i, candidates_.begin() + j, better);
      const size_t first = out->size();
      for (size_t k = i; k < j; ++k) {
        const EntityMatch& m = candidates_[k];
        bool overlaps = false;
        for (size_t o = first; o < out->size() && !overlaps; ++o)
          overlaps = m.start < (*out)[o].end && (*out)[o].start < m.end;
        if (!overlaps) out->push_back(m);
      }
      std::sort(out->begin() + first, out->end(),
                [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
    }
    i = j;
  }
}

}  // namespace veil::masker
