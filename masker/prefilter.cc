#include "masker/prefilter.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <cstring>

#include "masker/sort.h"
#include "masker/unicode_fold.h"
#include "masker/validators.h"

namespace veil::masker {
namespace {

// Byte classes, one bitmask array each.
enum Class : int {
  kD,      // 0-9
  kU,      // A-Z
  kL,      // a-z
  kSp,     // ' '
  kDot,    // '.'
  kDash,   // '-'
  kCol,    // ':'
  kAt,     // '@'
  kUs,     // '_'
  kPhl,    // '(' or '+'
  kEq,     // '='
  kSl,     // '/'
  kComma,  // ','
  kNl,     // '\n'
  kHi,     // 0xC3..0xC5: lead byte of a Latin-1 / Latin Extended-A letter
  kOther,  // 0x80..0xFF but kHi: the lead byte of any other script (Greek, Cyrillic, Arabic,
           // CJK, …), or a continuation byte (never a word start)
  kGt,     // '>': the end of an XML start tag (<FirstName>)
  kClasses,
};

constexpr std::array<uint32_t, 256> kTable = [] {
  std::array<uint32_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] |= 1 << kD;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= 1 << kU;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= 1 << kL;
  t[' '] |= 1 << kSp;
  t['.'] |= 1 << kDot;
  t['-'] |= 1 << kDash;
  t[':'] |= 1 << kCol;
  t['@'] |= 1 << kAt;
  t['_'] |= 1 << kUs;
  t['('] |= 1 << kPhl;
  t['+'] |= 1 << kPhl;
  t['='] |= 1 << kEq;
  t['/'] |= 1 << kSl;
  t[','] |= 1 << kComma;
  t['\n'] |= 1 << kNl;
  t['>'] |= 1 << kGt;
  for (int c = 0xC3; c <= 0xC5; ++c) t[c] |= 1 << kHi;
  for (int c = 0x80; c <= 0xFF; ++c)
    if (c < 0xC3 || c > 0xC5) t[c] |= 1 << kOther;
  return t;
}();

// The best classifier the CPU runs, capped by VEIL_PREFILTER_ISA (scalar, avx2, avx512bw) for
// tests and benchmarks; VEIL_PORTABLE_PREFILTER=1 is the same as VEIL_PREFILTER_ISA=scalar.
PrefilterIsa CpuIsa() {
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("bmi2"))
    return PrefilterIsa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2")) return PrefilterIsa::kAvx2;
  return PrefilterIsa::kScalar;
}

PrefilterIsa ConfiguredIsa() {
  static const PrefilterIsa isa = [] {
    PrefilterIsa cap = PrefilterIsa::kAvx512;
    if (std::getenv("VEIL_PORTABLE_PREFILTER")) cap = PrefilterIsa::kScalar;
    if (const char* e = std::getenv("VEIL_PREFILTER_ISA")) {
      const std::string_view v(e);
      if (v == "scalar") cap = PrefilterIsa::kScalar;
      if (v == "avx2") cap = PrefilterIsa::kAvx2;
    }
    return std::min(cap, CpuIsa());
  }();
  return isa;
}

// Appends [b, e) clipped to the text; a window that Merge would join to the last one is joined
// now (most arrive in order, several per line), which keeps the list short.
void Add(std::vector<Window>* v, int64_t b, int64_t e, uint32_t n) {
  if (b < 0) b = 0;
  if (e > n) e = n;
  if (e <= b) return;
  if (!v->empty()) {
    Window& last = v->back();
    if (b >= last.begin && b <= int64_t{last.end} + Prefilter::kMergeGap) {
      last.end = std::max(last.end, static_cast<uint32_t>(e));
      return;
    }
  }
  v->push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
}

void Merge(std::vector<Window>* v) {
  if (v->size() < 2) return;
  // Windows arrive in trigger order, each within a few hundred bytes of its place (a keyword
  // window starts up to 56 bytes back, a block's triggers run type by type).
  SortNearlySorted(v->begin(), v->end(),
                   [](const Window& a, const Window& b) { return a.begin < b.begin; });
  size_t o = 0;
  for (size_t i = 1; i < v->size(); ++i) {
    Window& cur = (*v)[o];
    const Window& w = (*v)[i];
    if (w.begin <= cur.end + Prefilter::kMergeGap) {
      cur.end = std::max(cur.end, w.end);
    } else {
      (*v)[++o] = w;
    }
  }
  v->resize(o + 1);
}

// Whether the digits at i (after a space after a word) are a birth year, 1900-2099 and four
// digits alone, after a month's name ("july 1976", "juillet, 1976") or the "de" of "4 de julio
// de 1976", or before the rest of a date written year first.
bool BirthYearAfterMonth(const unsigned char* p, uint32_t n, uint32_t i) {
  auto digit = [&](uint32_t k) { return k < n && p[k] >= '0' && p[k] <= '9'; };
  if (!(digit(i + 3) && digit(i + 2) && !digit(i + 4)) ||
      !((p[i] == '1' && p[i + 1] == '9') || (p[i] == '2' && p[i + 1] == '0')) || i < 4)
    return false;
  // The year first: Hungarian and Latvian "1968. március 20.", "1981. gada 7. okt.", Chinese,
  // Japanese and Korean "1944年11月16日", "1964년 4월 3일", Lithuanian "1977 m. kovo 9 d.".
  auto at = [&](uint32_t k, std::string_view s) {
    return k + s.size() <= n && std::memcmp(p + k, s.data(), s.size()) == 0;
  };
  if ((i + 6 < n && p[i + 4] == '.' && p[i + 5] == ' ' &&
       (((p[i + 6] | 0x20) >= 'a' && (p[i + 6] | 0x20) <= 'z') || p[i + 6] >= 0x80)) ||
      at(i + 4, "\xE5\xB9\xB4") || at(i + 4, "\xEB\x85\x84") || at(i + 4, " m. "))
    return true;
  uint32_t e = i - 1;  // the space
  if (p[e - 1] == ',' || p[e - 1] == '.') --e;
  // Vietnamese, the month's number after its word: "5 tháng 2, 1937", "17 thg 1, 1964".
  if (p[e - 1] >= '0' && p[e - 1] <= '9') {
    uint32_t k = e - 1;
    while (k > 0 && e - k < 3 && p[k - 1] >= '0' && p[k - 1] <= '9') --k;
    return k >= 7 && p[k - 1] == ' ' && (at(k - 7, "th\xC3\xA1ng") || (k >= 4 && at(k - 4, "thg")));
  }
  uint32_t b = e;
  while (b > 0 && e - b < 24 &&
         (((p[b - 1] | 0x20) >= 'a' && (p[b - 1] | 0x20) <= 'z') || p[b - 1] >= 0x80))
    --b;
  const std::string_view word(reinterpret_cast<const char*>(p) + b, e - b);
  return word == "de" || validate::MonthOf(word) != 0;
}

}  // namespace

Prefilter::Prefilter() : isa_(ConfiguredIsa()) {
  letters_.reserve(256);
  newlines_.reserve(256);
  for (auto& w : windows_) w.reserve(64);
  numbers_.reserve(256);
  name_starts_.reserve(256);
}

const char* Prefilter::IsaName(PrefilterIsa isa) {
  switch (isa) {
    case PrefilterIsa::kAvx512:
      return "avx512bw";
    case PrefilterIsa::kAvx2:
      return "avx2";
    case PrefilterIsa::kScalar:
      break;
  }
  return "scalar";
}

bool Prefilter::UseIsa(PrefilterIsa isa) {
  if (isa > CpuIsa()) return false;
  isa_ = isa;
  return true;
}

namespace {

// Bit j of Nx(a, an, k) is byte j+k; of Pv(a, ap, k), byte j-k (a: this word, an/ap: the
// next/previous one).
inline uint64_t Nx(uint64_t a, uint64_t an, int k) { return (a >> k) | (an << (64 - k)); }
inline uint64_t Pv(uint64_t a, uint64_t ap, int k) { return (a << k) | (ap >> (64 - k)); }

}  // namespace

// The class masks of one 64-byte block.
struct Blk {
  uint64_t c[kClasses];
  uint64_t enc;  // '%', '&', '[', '(', '{': where encoded text may start (not a class: no stage
                 // derives from it)
  uint64_t ld, lo, lt;  // 'd', 'o', 't' in either case: " dot " spelled out in an address
};

namespace {

void ClassifyBlockScalar(const unsigned char* p, size_t n, size_t base, Blk* out) {
  uint64_t acc[kClasses] = {};
  const size_t end = std::min(n, base + 64);
  for (size_t i = base; i < end; ++i) {
    uint32_t c = kTable[p[i]];
    while (c) {
      int k = std::countr_zero(c);
      acc[k] |= uint64_t{1} << (i - base);
      c &= c - 1;
    }
  }
  for (int k = 0; k < kClasses; ++k) out->c[k] = acc[k];
  out->enc = out->ld = out->lo = out->lt = 0;
  for (size_t i = base; i < end; ++i) {
    const unsigned char c = p[i];
    const uint64_t bit = uint64_t{1} << (i - base);
    if (c == '%' || c == '&' || c == '[' || c == '(' || c == '{' || c == '\\') out->enc |= bit;
    const unsigned char lc = c | 0x20;
    if (lc == 'd') out->ld |= bit;
    if (lc == 'o') out->lo |= bit;
    if (lc == 't') out->lt |= bit;
  }
}

}  // namespace

// What each 64-byte word triggers; bit j is byte j of the word.
struct Triggers {
  uint64_t lit_at;     // '@', "://", "::"
  uint64_t lit_dash;   // "-----"
  uint64_t tok;        // the start of a token run of 14+ [A-Za-z0-9_-]
  uint64_t num;        // a number run worth lexing; '(' or '+' before two digits; [A-Z]{2}\d{2}
  uint64_t lettered;   // the byte before is a capital (or a space after a capital)
  uint64_t kwnum;      // a bare run of 7+ joined bytes (4+ after a capital, 6+ after a
                       // word and a space) not at a line start; a capital and a digit
                       // starting a word
  uint64_t hex_col;    // a chain of three colons
  uint64_t hex_mac;    // four dashes every third byte
  uint64_t hex_cisco;  // dots five apart
  uint64_t cap;        // a capitalised word starts
  uint64_t cap_lower;  // … and its next byte is lower case
  uint64_t assign;     // '=', ':' or '(' right after a letter (':' after one of another script);
                       // a command line's "-x" or "--x"
  uint64_t street;     // a house number before a capital or an ordinal
  uint64_t other;      // a word of a script without capitals starts after a space ("Dear Иван")
  uint64_t field;      // '=', ':' or '>' right after a key ("first_name=", "\"given\":", "<sn>")
  uint64_t Any() const {
    return lit_at | lit_dash | tok | num | kwnum | hex_col | hex_mac | hex_cisco | cap | assign |
           street | other | field;
  }
};

// Masks of word w and w+1 that the handlers read runs off: joined digits (j), token bytes
// (t), digits and dots.
struct RunMasks {
  uint64_t j[2], t[2], d[2], dot[2];
};

namespace {

// The trigger arithmetic, written once for scalar words (T = uint64_t) and for eight words
// at a time (T = an AVX-512 vector, with the shift helpers below). x[k] is class k of the word,
// xp/xn/xnn of the previous, next and the one after; jp, tp: the previous word's joined-digit
// and token masks.
#define OR(a, b) o.Or(a, b)
#define AND(a, b) o.And(a, b)
#define NOT(a) o.Not(a)
#define N(a, an, k) o.Nx(a, an, k)
#define P(a, ap, k) o.Pv(a, ap, k)
#define VEIL_DERIVE_BODY                                                                         \
  const V d = x[kD], dn = xn[kD], dnn = xnn[kD], dp = xp[kD];                                    \
  const V u = x[kU], l = x[kL], sp = x[kSp], dot = x[kDot], dash = x[kDash];                     \
  const V col = x[kCol], sl = x[kSl], phl = x[kPhl];                                             \
  const V colon_lit =                                                                            \
      AND(col, OR(AND(N(sl, xn[kSl], 1), N(sl, xn[kSl], 2)), N(col, xn[kCol], 1)));              \
  out[0] = OR(x[kAt], colon_lit);                                                                \
  V dash5 = AND(dash, NOT(P(dash, xp[kDash], 1)));                                               \
  for (int k = 1; k < 5; ++k) dash5 = AND(dash5, N(dash, xn[kDash], k));                         \
  out[1] = dash5;                                                                                \
  const V t = OR(OR(OR(d, u), OR(l, x[kUs])), dash);                                             \
  const V tn = OR(OR(OR(dn, xn[kU]), OR(xn[kL], xn[kUs])), xn[kDash]);                           \
  V r = AND(t, N(t, tn, 1)), rn = AND(tn, o.Shr(tn, 1));                                         \
  r = AND(r, N(r, rn, 2));                                                                       \
  rn = AND(rn, o.Shr(rn, 2));                                                                    \
  r = AND(r, N(r, rn, 4));                                                                       \
  rn = AND(rn, o.Shr(rn, 4));                                                                    \
  r = AND(r, N(r, rn, 6));                                                                       \
  out[2] = AND(r, NOT(P(t, tp, 1)));                                                             \
  *t_out = t;                                                                                    \
  *tn_out = tn;                                                                                  \
  const V sepm = OR(OR(sp, dot), OR(dash, sl));                                                  \
  const V sepn = OR(OR(xn[kSp], xn[kDot]), OR(xn[kDash], xn[kSl]));                              \
  const V sepnn = OR(OR(xnn[kSp], xnn[kDot]), OR(xnn[kDash], xnn[kSl]));                         \
  const V j = OR(d, AND(sepm, AND(P(d, dp, 1), N(d, dn, 1))));                                   \
  const V jn = OR(dn, AND(sepn, AND(P(dn, d, 1), N(dn, dnn, 1))));                               \
  (void)sepnn;                                                                                   \
  *j_out = j;                                                                                    \
  *jn_out = jn;                                                                                  \
  const V jstart = AND(j, NOT(P(j, jp, 1)));                                                     \
  const V j2 = AND(j, N(j, jn, 1)), j2n = AND(jn, o.Shr(jn, 1));                                 \
  const V j4 = AND(j2, N(j2, j2n, 2)), j4n = AND(j2n, o.Shr(j2n, 2));                            \
  const V j6 = AND(j4, N(j2, j2n, 4));                                                           \
  const V j7 = AND(j6, N(j, jn, 6));                                                             \
  const V j9 = AND(AND(j4, N(j4, j4n, 4)), N(j, jn, 8));                                         \
  const V up = xp[kU];                                                                           \
  const V lettered = OR(P(u, up, 1), AND(P(sp, xp[kSp], 1), P(u, up, 2)));                       \
  const V dotn = xn[kDot];                                                                       \
  const V dotted = OR(OR(N(dot, dotn, 1), N(dot, dotn, 2)), N(dot, dotn, 3));                    \
  /* YYYY-MM-DD: four digits first (France's NIR, "1 84 12 76 451 089 46", is no date), not      \
     spaced ("0044 20 7946 0958" is a phone), and ending at the day ("0178-78-6617", a           \
     Japanese phone, has a third group of four). */                                              \
  const V sepd = OR(dot, OR(dash, sl)), sepdn = OR(xn[kDot], OR(xn[kDash], xn[kSl]));            \
  const V date =                                                                                 \
      AND(AND(AND(AND(AND(d, N(d, dn, 1)), N(d, dn, 3)), AND(N(sepd, sepdn, 4), N(d, dn, 5))),   \
              N(sepd, sepdn, 7)),                                                                \
          NOT(N(d, dn, 10)));                                                                    \
  const V num = AND(jstart, OR(OR(AND(j9, NOT(date)), AND(j6, lettered)), AND(j7, dotted)));     \
  const V phone_lead = AND(phl, AND(N(d, dn, 1), N(d, dn, 2)));                                  \
  const V glue_p1 = P(OR(OR(OR(u, l), OR(d, x[kUs])), OR(dash, sl)),                             \
                      OR(OR(OR(up, xp[kL]), OR(dp, xp[kUs])), OR(xp[kDash], xp[kSl])), 1);       \
  const V iban = AND(AND(AND(u, N(u, xn[kU], 1)), AND(N(d, dn, 2), N(d, dn, 3))), NOT(glue_p1)); \
  out[3] = OR(OR(num, phone_lead), iban);                                                        \
  out[4] = lettered;                                                                             \
  const V coln = xn[kCol], colnn = xnn[kCol];                                                    \
  const V near = OR(OR(N(col, coln, 2), N(col, coln, 3)), OR(N(col, coln, 4), N(col, coln, 5))); \
  const V nearn =                                                                                \
      OR(OR(N(coln, colnn, 2), N(coln, colnn, 3)), OR(N(coln, colnn, 4), N(coln, colnn, 5)));    \
  const V c2 = AND(col, near), c2n = AND(coln, nearn);                                           \
  out[6] = AND(c2, OR(OR(N(c2, c2n, 2), N(c2, c2n, 3)), OR(N(c2, c2n, 4), N(c2, c2n, 5))));      \
  const V dashn = xn[kDash];                                                                     \
  out[7] = AND(AND(dash, N(dash, dashn, 3)), AND(N(dash, dashn, 6), N(dash, dashn, 9)));         \
  out[8] = AND(dot, N(dot, dotn, 5));                                                            \
  const V hi = x[kHi];                                                                           \
  const V letters = OR(u, l), letters_p = OR(up, xp[kL]);                                        \
  const V glue = OR(OR(OR(letters, d), OR(x[kUs], dash)), OR(sl, x[kAt]));                       \
  const V glue_p = OR(OR(OR(letters_p, dp), OR(xp[kUs], xp[kDash])), OR(xp[kSl], xp[kAt]));      \
  /* A bare run of 7+ joined digits; a document number with letters in it, which a context       \
     keyword may name: four digits after a capital ("12AB34567", "ABCPE1234F"), a capital        \
     and a digit starting a word ("L01X00T47"). */                                               \
  const V cap_digit = AND(AND(u, N(d, dn, 1)), NOT(P(glue, glue_p, 1)));                         \
  /* … and six digits after a word and a space, a local phone after its label ("mobile         \
     389285", "Tel. 739297"). */                                                                 \
  const V after_label = AND(P(sp, xp[kSp], 1), P(OR(l, dot), OR(xp[kL], xp[kDot]), 2));          \
  out[5] = OR(AND(AND(jstart, OR(OR(j7, AND(j6, after_label)), AND(j4, lettered))),              \
                  AND(NOT(num), NOT(P(x[kNl], xp[kNl], 1)))),                                    \
              cap_digit);                                                                        \
  /* A lower-case letter, or the lead byte of a letter beyond ASCII (Hai, Jurgen accented). */   \
  const V other = x[kOther];                                                                     \
  const V lh = OR(OR(l, hi), other), lhn = OR(OR(xn[kL], xn[kHi]), xn[kOther]);                  \
  const V after = N(OR(OR(lh, u), dot), OR(OR(lhn, xn[kU]), xn[kDot]), 1);                       \
  const V cap = AND(OR(AND(u, after), hi), NOT(P(glue, glue_p, 1)));                             \
  /* A word of another script (Cyrillic, Greek, CJK...): its lead byte after no letter, digit,   \
     lead or continuation byte. The names stage reads whether it is a capital. */                \
  const V ob = OR(OR(glue, hi), other), obp = OR(OR(glue_p, xp[kHi]), xp[kOther]);               \
  const V ostart = other ? AND(other, NOT(P(ob, obp, 1))) : 0; /* ASCII: none */                 \
  out[9] = OR(cap, ostart);                                                                      \
  out[10] = AND(cap, N(lh, lhn, 1));                                                             \
  const V near_letter = OR(P(letters, letters_p, 1), P(letters, letters_p, 2));                  \
  /* A command-line option: a blank or a line's start, '-', then a letter or '-'. */             \
  const V flag = AND(AND(dash, P(OR(sp, x[kNl]), OR(xp[kSp], xp[kNl]), 1)),                      \
                     N(OR(letters, dash), OR(OR(xn[kU], xn[kL]), xn[kDash]), 1));                \
  /* A label of another script before ':', '=' or '>' (a colon, a JSON key's quote and colon,    \
     an XML start tag; a fullwidth colon reaches here folded). */                                \
  const V after_other =                                                                          \
      AND(OR(OR(col, x[kEq]), x[kGt]), OR(P(other, xp[kOther], 1), P(other, xp[kOther], 2)));    \
  out[11] = OR(OR(AND(OR(OR(x[kEq], col), phl), near_letter), flag), after_other);               \
  /* A house number before a capital, or before an ordinal ("5th"); with a capital after it as   \
     Britain writes it ("221B Baker Street"). */                                                 \
  const V house = AND(d, N(sp, xn[kSp], 1));                                                     \
  const V ord = AND(N(d, dn, 2), OR(N(l, xn[kL], 3), N(l, xn[kL], 4)));                          \
  const V house_b = AND(AND(d, N(u, xn[kU], 1)), N(sp, xn[kSp], 2));                             \
  /* ... or before a word of another alphabet ("289 <Cyrillic> Heights", "060 <Kanji> St"). */   \
  const V word_other = OR(hi, other), word_other_n = OR(xn[kHi], xn[kOther]);                    \
  out[12] = OR(OR(AND(house, OR(N(u, xn[kU], 2), ord)),                                          \
                  AND(house_b, AND(N(u, xn[kU], 3), N(l, xn[kL], 4)))),                          \
               AND(house, N(word_other, word_other_n, 2)));                                      \
  out[13] = AND(x[kOther], P(sp, xp[kSp], 1));                                                   \
  out[14] = AND(OR(OR(x[kEq], col), x[kGt]), OR(near_letter, P(letters, letters_p, 3)));

template <typename Ops>
__attribute__((always_inline)) inline void DeriveTriggers(const uint64_t* xp, const uint64_t* x,
                                                          const uint64_t* xn, const uint64_t* xnn,
                                                          uint64_t jp, uint64_t tp, const Ops& o,
                                                          uint64_t* out, uint64_t* j_out,
                                                          uint64_t* t_out, uint64_t* jn_out,
                                                          uint64_t* tn_out) {
  using V = uint64_t;
  VEIL_DERIVE_BODY
}
#undef OR
#undef AND
#undef NOT
#undef N
#undef P
#undef VEIL_DERIVE_BODY
#define VEIL_INL __attribute__((always_inline)) inline
struct ScalarOps {
  VEIL_INL uint64_t Or(uint64_t a, uint64_t b) const { return a | b; }
  VEIL_INL uint64_t And(uint64_t a, uint64_t b) const { return a & b; }
  VEIL_INL uint64_t Not(uint64_t a) const { return ~a; }
  VEIL_INL uint64_t Shr(uint64_t a, int k) const { return a >> k; }
  VEIL_INL uint64_t Nx(uint64_t a, uint64_t an, int k) const { return veil::masker::Nx(a, an, k); }
  VEIL_INL uint64_t Pv(uint64_t a, uint64_t ap, int k) const { return veil::masker::Pv(a, ap, k); }
};

Triggers ToTriggers(const uint64_t* o) {
  return {o[0], o[1], o[2],  o[3],  o[4],  o[5],  o[6], o[7],
          o[8], o[9], o[10], o[11], o[12], o[13], o[14]};
}

}  // namespace

// The handlers: turn each trigger bit of word w into windows, number runs and name starts.
void Prefilter::Handle(std::string_view text, size_t w, const Triggers& tr, const RunMasks& rm,
                       const uint64_t* LU, const uint64_t* NL) {
  const uint32_t n = static_cast<uint32_t>(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const uint32_t base = static_cast<uint32_t>(w * 64);
  auto& lit = windows_[static_cast<int>(Stage::kLiteral)];
  auto& hex = windows_[static_cast<int>(Stage::kHexSep)];
  auto& kw = windows_[static_cast<int>(Stage::kKeyword)];
  auto& let = windows_[static_cast<int>(Stage::kLetters)];
  // The 64 bits of mask m before pos: bit k is byte pos-64+k (the words before the text are
  // zero; only words up to w are read, which the caller has filled).
  auto before = [&](const uint64_t* m, uint32_t pos) {
    const int64_t q = pos / 64;
    const uint32_t r = pos % 64;
    return r ? (m[q - 1] >> r) | (m[q] << (64 - r)) : m[q - 1];
  };
  // A value that a context keyword may precede: its window runs back to the keyword, at most
  // 56 bytes and not past the line's start, if 2+ letters are in it.
  // Where a window that reaches back to its line's start begins: at most 56 bytes before pos.
  auto keyword_value = [&](uint32_t pos) {
    const uint64_t nl = before(NL, pos) & (~uint64_t{0} << 8);  // bytes pos-56 .. pos-1
    const uint32_t ls = nl ? pos - 63 + (63 - static_cast<uint32_t>(std::countl_zero(nl)))
                           : (pos > 56 ? pos - 56 : 0);
    const uint32_t len = pos - ls;
    if (len >= 2 && std::popcount(before(LU, pos) >> (64 - len)) >= 2)
      Add(&kw, ls, int64_t{pos} + 2, n);
  };
  // The end of the run of set bits of m (words w, w+1) from pos, or 0 when it runs past w+1.
  auto run_end = [&](const uint64_t* m, uint32_t pos) -> uint32_t {
    if (const uint64_t z = ~m[0] >> (pos - base)) return pos + std::countr_zero(z);
    if (const uint64_t z = ~m[1]) return base + 64 + std::countr_zero(z);
    return 0;
  };
  // Set bits of m (words w, w+1) in [b, e), e at most the end of w+1.
  auto bits_in = [&](const uint64_t* m, uint32_t b, uint32_t e) {
    const uint32_t lo = b - base, hi = e - base;  // 0 <= lo <= hi <= 128
    auto part = [&](int k) {
      const uint32_t s = std::max<uint32_t>(lo, 64 * k), t = std::min<uint32_t>(hi, 64 * k + 64);
      if (s >= t) return 0;
      uint64_t v = m[k] >> (s - 64 * k);
      if (t - s < 64) v &= (uint64_t{1} << (t - s)) - 1;
      return std::popcount(v);
    };
    return static_cast<uint32_t>(part(0) + part(1));
  };
  auto is_digit = [&](uint32_t i) { return i < n && p[i] >= '0' && p[i] <= '9'; };
  // A number run from pos (a digit): digits joined by single ' ', '.', '-' or '/'; the joined
  // mask gives it where it ends within two words, the bytes beyond.
  auto number_run = [&](uint32_t pos, uint32_t* digits, uint32_t* dots) {
    if (const uint32_t end = run_end(rm.j, pos)) {
      *digits = bits_in(rm.d, pos, end);
      *dots = bits_in(rm.dot, pos, end);
      return end;
    }
    uint32_t e = pos, nd = 0, nt = 0;
    while (e < n) {
      if (is_digit(e)) {
        ++nd;
        ++e;
      } else if ((p[e] == ' ' || p[e] == '.' || p[e] == '-' || p[e] == '/') && is_digit(e + 1)) {
        nt += p[e] == '.';
        ++e;
      } else {
        break;
      }
    }
    *digits = nd;
    *dots = nt;
    return e;
  };
  auto token_end = [&](uint32_t pos) {
    if (const uint32_t end = run_end(rm.t, pos)) return end;
    uint32_t e = pos;
    constexpr uint32_t kTok = (1 << kD) | (1 << kU) | (1 << kL) | (1 << kUs) | (1 << kDash);
    while (e < n && (kTable[p[e]] & kTok)) ++e;
    return e;
  };
  auto each = [&](uint64_t b, auto&& f) {
    for (; b; b &= b - 1) f(base + static_cast<uint32_t>(std::countr_zero(b)));
  };

  // Bare numbers stay in text order (the kinds of trigger of one word come one after another).
  auto push_bare = [&](uint32_t b, uint32_t e) {
    bare_numbers_.push_back({b, e});
    for (size_t k = bare_numbers_.size() - 1;
         k > 0 && bare_numbers_[k - 1].begin > bare_numbers_[k].begin; --k)
      std::swap(bare_numbers_[k - 1], bare_numbers_[k]);
  };
  // A number that starts a CSV or TSV cell, or an item of a list typed with a space after
  // each comma ("Ivar Kristiansen, stine63@gmail.com, 10083315").
  auto own_cell = [&](uint32_t pos) {
    auto edge = [&](unsigned char c) { return c == ',' || c == '\t' || c == ';'; };
    return pos > 0 && (edge(p[pos - 1]) || (pos > 1 && p[pos - 1] == ' ' && edge(p[pos - 2])));
  };
  each(tr.lit_at, [&](uint32_t pos) {
    const int64_t e = p[pos] == '@' ? 2 : p[pos + 1] == '/' ? 400 : 3;
    Add(&lit, int64_t{pos} - 1, int64_t{pos} + e, n);
    if (p[pos] != '@') return;
    // An Oracle logon, `scott/tiger@orcl`: a '/' inside the word before the '@'.
    for (uint32_t q = pos; q > 0 && pos - q < 48; --q) {
      const unsigned char c = p[q - 1];
      if (c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == ':') break;
      if (c == '/') {
        if (q >= 2 && ((p[q - 2] | 0x20) >= 'a' && (p[q - 2] | 0x20) <= 'z'))
          commands_.push_back(pos);
        break;
      }
    }
  });
  each(tr.lit_dash, [&](uint32_t pos) { Add(&lit, pos, int64_t{pos} + 48, n); });
  each(tr.tok, [&](uint32_t pos) {
    const uint32_t end = token_end(pos);
    // From 12 bytes before: a token's prefix may end in '.' or ':' ("hvs.", "SG.", a Telegram
    // bot's "123456789:"), which the run does not include.
    Add(&lit, int64_t{pos} - 12, int64_t{end} + 1, n);
    token_starts_.push_back(pos);
    keyword_value(pos);
    if (end - pos >= 26 && (p[pos] == '1' || p[pos] == '3'))
      Add(&let, int64_t{pos} - 1, int64_t{end} + 1, n);
  });
  each(tr.num, [&](uint32_t pos) {
    if (p[pos] >= 'A' && p[pos] <= 'Z') {  // [A-Z]{2}\d{2}: an IBAN (letters in the BBAN too)
      numbers_.push_back({pos, pos + 4});
      return;
    }
    if (p[pos] == '(' || p[pos] == '+') {
      uint32_t digits = 0;  // enough digits on the same line for a phone number
      for (uint32_t q = pos + 1; q < n && q < pos + 20 && p[q] != '\n'; ++q)
        digits += p[q] >= '0' && p[q] <= '9';
      if (digits >= 7) numbers_.push_back({pos, pos + 1});
      return;
    }
    uint32_t digits = 0, dots = 0;
    const uint32_t end = number_run(pos, &digits, &dots);
    const bool compact = end - pos == digits;
    const bool lettered = (tr.lettered >> (pos - base)) & 1;
    if ((digits >= 7 || (lettered && digits >= 4)) && pos > 0 && p[pos - 1] != '\n')
      keyword_value(pos);
    // Up to 17 after an international prefix, "00" and the 15 digits a number may have.
    const uint32_t longest = pos + 1 < n && p[pos] == '0' && p[pos + 1] == '0' ? 17 : 15;
    if (digits >= 7 && digits <= longest && (digits >= 9 || own_cell(pos))) push_bare(pos, end);
    // Bare runs of fewer than 13 digits are ids until a context keyword says otherwise.
    if (lettered ? digits >= 6
                 : (digits >= 4 && dots >= 3) || (digits >= 9 && !(compact && digits < 13)))
      numbers_.push_back({pos, end});
  });
  // A bare number of 7+ digits can still be a value after a keyword ("ssn 123456789").
  // So can a date of one-digit parts ("born 3/2/1988"), and a document number with letters in
  // it ("Passeport n° 12AB34567", "Personalausweis L01X00T47").
  each(tr.kwnum, [&](uint32_t pos) {
    if (p[pos] >= 'A' && p[pos] <= 'Z') {  // a word of 8-18 letters and digits, 4+ digits
      uint32_t e = pos, digits = 0;
      for (; e < n && e - pos <= 18 && (kTable[p[e]] & ((1 << kD) | (1 << kU) | (1 << kL))); ++e)
        digits += p[e] >= '0' && p[e] <= '9';
      if (e - pos >= 8 && e - pos <= 18 && digits >= 4) keyword_value(pos);
      return;
    }
    uint32_t digits = 0, dots = 0;
    const uint32_t end = number_run(pos, &digits, &dots);
    const bool after_label = pos >= 2 && p[pos - 1] == ' ' &&
                             ((p[pos - 2] >= 'a' && p[pos - 2] <= 'z') || p[pos - 2] == '.');
    if (digits >= 7 || (digits >= 5 && end - pos - digits == 2) ||
        (digits >= 4 && ((tr.lettered >> (pos - base)) & 1)) || (digits == 6 && after_label))
      keyword_value(pos);
    // Seven or eight digits may be a phone after whom to call ("Contact Ann Lee at 48705086",
    // "call Ann on 5551234"): kept in text order with the longer runs of the same word.
    // … and so in a CSV or TSV cell of its own ("Vagn Rice,82898915,…", "Sidy Dione,210-27-81,…").
    const bool after_at_on =
        pos >= 4 && p[pos - 1] == ' ' && p[pos - 4] == ' ' &&
        ((p[pos - 3] == 'a' && p[pos - 2] == 't') || (p[pos - 3] == 'o' && p[pos - 2] == 'n'));
    if (digits >= 7 && digits <= 8 && (after_at_on || own_cell(pos))) push_bare(pos, end);
  });
  each(tr.hex_col, [&](uint32_t pos) { Add(&hex, int64_t{pos} - 5, int64_t{pos} + 45, n); });
  each(tr.hex_mac, [&](uint32_t pos) { Add(&hex, int64_t{pos} - 2, int64_t{pos} + 16, n); });
  each(tr.hex_cisco, [&](uint32_t pos) { Add(&hex, int64_t{pos} - 4, int64_t{pos} + 11, n); });
  each(tr.cap, [&](uint32_t pos) {
    name_starts_.push_back(pos);
    // A clause of Chinese, Japanese or Korean (lead bytes E3-ED): no space or capital marks
    // where a label or a name stands in it ("您好，我叫王秀英", "私の名前は山田太郎です"), so
    // the keyword stage reads on from its start.
    if (p[pos] >= 0xE3 && p[pos] <= 0xED) return Add(&kw, pos, int64_t{pos} + 64, n);
    if ((tr.cap_lower >> (pos - base)) & 1) return keyword_value(pos);  // "Jane", not "XL"
    // Two words in capitals ("customer CASPAR SMIEJA"), not one ("XL", "USD", "ACTIVE").
    uint32_t q = pos + 1;
    while (q < n && q - pos < 24 && ((p[q] >= 'A' && p[q] <= 'Z') || p[q] >= 0x80)) ++q;
    if (q - pos >= 2 && q + 1 < n && p[q] == ' ' &&
        ((p[q + 1] >= 'A' && p[q + 1] <= 'Z') || (p[q + 1] >= 0xC3 && p[q + 1] <= 0xC5)))
      keyword_value(pos);
  });
  each(tr.assign, [&](uint32_t pos) {
    if (p[pos] == '-') return commands_.push_back(pos);  // `mysql -pS3cr3t`, `--db-password X`
    keyword_value(pos);                                  // "password=", "SSN: ", "INSERT INTO t ("
  });
  each(tr.other, keyword_value);  // "Dear Иван Петров": names in scripts without capitals
  each(tr.street, [&](uint32_t pos) { Add(&let, int64_t{pos} - 6, int64_t{pos} + 90, n); });
  each(tr.field, [&](uint32_t pos) { fields_.push_back(pos); });
}

// Classify and derive word by word, blocks w-1 .. w+2 in a ring (registers and L1);
// `classify_block` fills one block's class masks.
template <typename Classify>
__attribute__((always_inline)) inline void Prefilter::RunStreaming(std::string_view text,
                                                                   Classify&& classify_block) {
  const uint32_t n = static_cast<uint32_t>(text.size());
  const size_t words = (n + 63) / 64;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (auto* v : {&letters_, &newlines_})
    if (v->size() < words + 3) v->resize(words + 3);
  uint64_t* LU = letters_.data() + 1;
  uint64_t* NL = newlines_.data() + 1;
  LU[-1] = NL[-1] = 0;
  Blk ring[4];
  for (auto& c : ring[3].c) c = 0;  // block -1
  ring[3].enc = ring[3].ld = ring[3].lo = ring[3].lt = 0;
  auto classify = [&](size_t base, Blk* b) {
    if (base >= n) {
      for (auto& c : b->c) c = 0;
      b->enc = b->ld = b->lo = b->lt = 0;
    } else {
      classify_block(p, n, base, b);
    }
  };
  classify(0, &ring[0]);
  classify(64, &ring[1]);
  classify(128, &ring[2]);
  uint64_t jp = 0, tp = 0, letterish_p = 0;
  for (size_t w = 0; w < words; ++w) {
    const Blk& P = ring[(w + 3) & 3];
    const Blk& C = ring[w & 3];
    const Blk& N = ring[(w + 1) & 3];
    const Blk& N2 = ring[(w + 2) & 3];
    LU[w] = C.c[kL] | C.c[kU] | C.c[kOther];  // letters, and the bytes of other scripts' letters
    NL[w] = C.c[kNl];
    // Encoded text: '%' before two hex digits, '&' before '#' or a letter (&#64; &amp;), an
    // opening bracket before 'a' or 'd' ("[at]", "(dot)"), " dot " spelled out ("john dot doe
    // at example dot com"). The detector decodes and checks.
    const uint64_t spelled = C.c[kSp] & Nx(C.ld, N.ld, 1) & Nx(C.lo, N.lo, 2) & Nx(C.lt, N.lt, 3) &
                             Nx(C.c[kSp], N.c[kSp], 4);
    // Unicode forms of ASCII (unicode_fold.h), each marked: the detector decodes every segment
    // that holds one (cells of a batch share words, and need not end at a line break). Words of
    // ASCII and Latin-1 letters skip this; others pay a table test per byte beyond Latin-1.
    uint32_t folds[64];
    int nfolds = 0, next_fold = 0;
    for (uint64_t o = C.c[kOther]; o;) {
      const int b = std::countr_zero(o);
      const size_t i = w * 64 + static_cast<size_t>(b);
      size_t len = 1;  // Utf8At sets it only for a well-formed character
      if (FoldLead(p[i])) {
        const uint32_t cp = Utf8At(p, i, n, &len);
        if (cp && FoldToAscii(cp) != 0) folds[nfolds++] = static_cast<uint32_t>(i);
      }
      o = b + len >= 64 ? 0 : o & (~0ULL << (b + len));  // past this character
    }
    for (uint64_t e = C.enc | spelled; e; e &= e - 1) {
      const uint32_t i = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(std::countr_zero(e));
      while (next_fold < nfolds && folds[next_fold] < i)  // marks stay in text order
        encodings_.push_back(folds[next_fold++]);
      if ((spelled >> (i - w * 64)) & 1) {
        encodings_.push_back(i);
        continue;
      }
      const unsigned char c = p[i], c1 = i + 1 < n ? p[i + 1] : 0;
      auto hex = [](unsigned char x) {
        return (x >= '0' && x <= '9') || ((x | 0x20) >= 'a' && (x | 0x20) <= 'f');
      };
      bool mark;
      if (c == '%')
        mark = i + 2 < n && hex(c1) && hex(p[i + 2]);
      else if (c == '&')
        mark = c1 == '#' || ((c1 | 0x20) >= 'a' && (c1 | 0x20) <= 'z');
      else if (c == '\\')  // "\u0040" in JSON; "\nMaria Lopez", "\t123-45-6789": an escaped
        // line break or tab glues the next word to a letter
        mark = c1 == 'u' || ((c1 == 'n' || c1 == 'r' || c1 == 't') && i + 2 < n &&
                             ((p[i + 2] >= 'A' && p[i + 2] <= 'Z') ||
                              (p[i + 2] >= '0' && p[i + 2] <= '9') || p[i + 2] >= 0xC3));
      else
        mark = (c1 | 0x20) == 'a' || (c1 | 0x20) == 'd';
      if (mark) encodings_.push_back(i);
    }
    while (next_fold < nfolds) encodings_.push_back(folds[next_fold++]);
    {
      // House numbers of streets written name first ("Hauptstraße 5", "Via Roma 15", "ul.
      // Marszałkowska 84"): a digit run after a space after a letter, marked where it starts;
      // and number first ("12 rue de la Paix", "975 Rua Samuel"): 1-4 digits, a space, a
      // letter, marked where the run ends (fewer shifts than testing each length from the
      // start) and pushed as its start.
      const uint64_t d = C.c[kD], dn = N.c[kD];
      const uint64_t dstart = d & ~Pv(d, P.c[kD], 1);
      // The byte before the space may be a letter, '.' ("Bensberger Str. 186") or ','
      // ("Calle Mayor, 10").
      const uint64_t letterish =
          C.c[kU] | C.c[kL] | C.c[kHi] | C.c[kOther] | C.c[kDot] | C.c[kComma];
      const uint64_t after_word = Pv(C.c[kSp], P.c[kSp], 1) & Pv(letterish, letterish_p, 2);
      letterish_p = letterish;
      // A letter of any script: "74 רחוב זבולון", "500 شارع قطر" are number first too.
      const uint64_t l = C.c[kL] | C.c[kU] | C.c[kHi] | C.c[kOther],
                     ln = N.c[kL] | N.c[kU] | N.c[kHi] | N.c[kOther];
      // … and with a comma after the number, as French writes it: "595, boulevard de Guillot".
      const uint64_t french =
          d & ~Nx(d, dn, 1) &
          ((Nx(C.c[kSp], N.c[kSp], 1) & Nx(l, ln, 2)) |
           (Nx(C.c[kComma], N.c[kComma], 1) & Nx(C.c[kSp], N.c[kSp], 2) & Nx(l, ln, 3)));
      const uint64_t starts = dstart & after_word;
      const uint32_t base = static_cast<uint32_t>(w * 64);
      for (uint64_t h = starts | french; h; h &= h - 1) {
        const int k = std::countr_zero(h);
        uint32_t i = base + static_cast<uint32_t>(k);
        if (!((starts >> k) & 1)) {  // the end of a run: back to its start, 1-4 digits
          auto digit = [&](uint32_t q) { return q > 0 && p[q - 1] >= '0' && p[q - 1] <= '9'; };
          auto run_start = [&](uint32_t e) {
            uint32_t q = e;
            while (digit(q) && e - q < 4) --q;
            return q;
          };
          i = run_start(i);
          if (digit(i)) continue;
          // A range, "8-37, via Marcella Fontana": from its first number.
          if (i > 1 && p[i - 1] == '-' && digit(i - 1)) {
            i = run_start(i - 1);
            if (digit(i) || (i > 0 && p[i - 1] == '-')) continue;
          }
          if (!house_numbers_.empty() && house_numbers_.back() == i) continue;
        } else if (BirthYearAfterMonth(p, n, i)) {
          // "born 4 july 1976", "né le 4 juillet 1976": a date whose month no capital or
          // long number marks; its keyword is up to 56 bytes back on the line.
          uint32_t ls = i;
          while (ls > 0 && i - ls < 56 && p[ls - 1] != '\n') --ls;
          Add(&windows_[static_cast<int>(Stage::kKeyword)], ls, int64_t{i} + 4, n);
        }
        house_numbers_.push_back(i);
      }
    }
    uint64_t out[15], j, t, jn, tn;
    DeriveTriggers(P.c, C.c, N.c, N2.c, jp, tp, ScalarOps{}, out, &j, &t, &jn, &tn);
    jp = j;
    tp = t;
    const Triggers tr = ToTriggers(out);
    if (tr.Any()) {
      const RunMasks rm{{j, jn}, {t, tn}, {C.c[kD], N.c[kD]}, {C.c[kDot], N.c[kDot]}};
      Handle(text, w, tr, rm, LU, NL);
    }
    classify((w + 3) * 64, &ring[(w + 3) & 3]);  // replaces block w-1
  }
}

void Prefilter::RunPortable(std::string_view text) {
  RunStreaming(text, [](const unsigned char* p, size_t n, size_t base, Blk* b) {
    ClassifyBlockScalar(p, n, base, b);
  });
}

namespace {

// The classes of one block, written once for every SIMD classifier: each defines VEIL_EQ(c)
// (bytes equal to c), VEIL_RANGE(lo, len) (bytes in [lo, lo + len)), VEIL_HIGH (bytes with the
// high bit set) and VEIL_TO_LOWER (sets the case bit of every byte), as 64-bit masks.
#define VEIL_CLASSIFY_BODY                                                                      \
  out->c[kD] = VEIL_RANGE('0', 10);                                                             \
  out->c[kU] = VEIL_RANGE('A', 26);                                                             \
  out->c[kL] = VEIL_RANGE('a', 26);                                                             \
  out->c[kSp] = VEIL_EQ(' ');                                                                   \
  out->c[kDot] = VEIL_EQ('.');                                                                  \
  out->c[kDash] = VEIL_EQ('-');                                                                 \
  out->c[kCol] = VEIL_EQ(':');                                                                  \
  out->c[kAt] = VEIL_EQ('@');                                                                   \
  out->c[kUs] = VEIL_EQ('_');                                                                   \
  const uint64_t paren = VEIL_EQ('(');                                                          \
  out->c[kPhl] = paren | VEIL_EQ('+');                                                          \
  out->c[kEq] = VEIL_EQ('=');                                                                   \
  out->c[kSl] = VEIL_EQ('/');                                                                   \
  out->c[kComma] = VEIL_EQ(',');                                                                \
  out->c[kNl] = VEIL_EQ('\n');                                                                  \
  out->c[kHi] = VEIL_RANGE(0xC3, 3);                                                            \
  out->c[kOther] = VEIL_HIGH & ~out->c[kHi];                                                    \
  out->c[kGt] = VEIL_EQ('>');                                                                   \
  out->enc = VEIL_EQ('%') | VEIL_EQ('&') | VEIL_EQ('[') | paren | VEIL_EQ('{') | VEIL_EQ('\\'); \
  VEIL_TO_LOWER;                                                                                \
  out->ld = VEIL_EQ('d');                                                                       \
  out->lo = VEIL_EQ('o');                                                                       \
  out->lt = VEIL_EQ('t');

// One 64-byte block into its class masks: a compare per class, straight into mask registers.
__attribute__((target("avx512f,avx512bw,bmi2"))) inline void ClassifyBlockAvx512(
    const unsigned char* p, size_t n, size_t base, Blk* out) {
  __m512i x;
  if (base + 64 <= n) {
    x = _mm512_loadu_si512(p + base);
  } else {
    x = _mm512_maskz_loadu_epi8(_bzhi_u64(~uint64_t{0}, static_cast<unsigned>(n - base)), p + base);
  }
#define VEIL_EQ(c) _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c))
#define VEIL_RANGE(lo, len)                                                           \
  _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, _mm512_set1_epi8(static_cast<char>(lo))), \
                         _mm512_set1_epi8(static_cast<char>(len)))
#define VEIL_HIGH _mm512_movepi8_mask(x)
#define VEIL_TO_LOWER x = _mm512_or_si512(x, _mm512_set1_epi8(0x20))
  VEIL_CLASSIFY_BODY
#undef VEIL_EQ
#undef VEIL_RANGE
#undef VEIL_HIGH
#undef VEIL_TO_LOWER
}

// Bytes of x in [from, from + top]: x - from, wrapped, is at most top (unsigned min leaves it).
__attribute__((target("avx2"), always_inline)) inline __m256i InRange(__m256i x, char from,
                                                                      char top) {
  const __m256i a = _mm256_sub_epi8(x, _mm256_set1_epi8(from));
  return _mm256_cmpeq_epi8(_mm256_min_epu8(a, _mm256_set1_epi8(top)), a);
}

// The same with AVX2 (every x86-64 server since 2013, AMD's before Zen 4): each 32-byte half
// compared per class, its byte mask moved out and the halves joined.
__attribute__((target("avx2,bmi2"))) inline void ClassifyBlockAvx2(const unsigned char* p, size_t n,
                                                                   size_t base, Blk* out) {
  __m256i lo, hi;
  if (base + 64 <= n) {
    lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + base));
    hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + base + 32));
  } else {  // the text's last block: its bytes, zeros after (no class but none)
    alignas(32) unsigned char tail[64] = {};
    std::memcpy(tail, p + base, n - base);
    lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
    hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail + 32));
  }
#define VEIL_MASK(a, b)                             \
  (static_cast<uint32_t>(_mm256_movemask_epi8(a)) | \
   (uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(b))} << 32))
#define VEIL_EQ(c) \
  VEIL_MASK(_mm256_cmpeq_epi8(lo, _mm256_set1_epi8(c)), _mm256_cmpeq_epi8(hi, _mm256_set1_epi8(c)))
#define VEIL_RANGE(from, len)                                                 \
  VEIL_MASK(InRange(lo, static_cast<char>(from), static_cast<char>(len - 1)), \
            InRange(hi, static_cast<char>(from), static_cast<char>(len - 1)))
#define VEIL_HIGH VEIL_MASK(lo, hi)
#define VEIL_TO_LOWER                               \
  lo = _mm256_or_si256(lo, _mm256_set1_epi8(0x20)); \
  hi = _mm256_or_si256(hi, _mm256_set1_epi8(0x20))
  VEIL_CLASSIFY_BODY
#undef VEIL_MASK
#undef VEIL_EQ
#undef VEIL_RANGE
#undef VEIL_HIGH
#undef VEIL_TO_LOWER
}

#undef VEIL_CLASSIFY_BODY

}  // namespace

// AVX-512BW classifies each block with one compare per class; the derivation is the same
// scalar bit arithmetic (deriving eight words per instruction from arrays of the class masks
// was measured no faster: the loads and stores of 15 arrays outweigh the width).
__attribute__((target("avx512f,avx512bw,bmi2,popcnt"))) void Prefilter::RunAvx512(
    std::string_view text) {
  RunStreaming(text, [](const unsigned char* p, size_t n, size_t base, Blk* b) {
    ClassifyBlockAvx512(p, n, base, b);
  });
}

__attribute__((target("avx2,bmi2,popcnt"))) void Prefilter::RunAvx2(std::string_view text) {
  RunStreaming(text, [](const unsigned char* p, size_t n, size_t base, Blk* b) {
    ClassifyBlockAvx2(p, n, base, b);
  });
}

void Prefilter::Run(std::string_view text) {
  for (auto& w : windows_) w.clear();
  numbers_.clear();
  name_starts_.clear();
  token_starts_.clear();
  encodings_.clear();
  house_numbers_.clear();
  bare_numbers_.clear();
  fields_.clear();
  commands_.clear();
  switch (isa_) {
    case PrefilterIsa::kAvx512:
      RunAvx512(text);
      break;
    case PrefilterIsa::kAvx2:
      RunAvx2(text);
      break;
    case PrefilterIsa::kScalar:
      RunPortable(text);
      break;
  }
  for (auto& v : windows_) Merge(&v);
  // Options and logons arrive by word, each kind in order: the detector reads them in order.
  if (!std::is_sorted(commands_.begin(), commands_.end()))
    std::sort(commands_.begin(), commands_.end());
}

}  // namespace veil::masker
