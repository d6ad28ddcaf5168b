#include "masker/prefilter.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <bit>

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
  kClasses,
};

constexpr std::array<uint16_t, 256> kTable = [] {
  std::array<uint16_t, 256> t{};
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
  for (int c = 0xC3; c <= 0xC5; ++c) t[c] |= 1 << kHi;
  return t;
}();

bool HaveAvx512() {
  static const bool ok = __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
  return ok;
}

void Add(std::vector<Window>* v, int64_t b, int64_t e, uint32_t n) {
  if (b < 0) b = 0;
  if (e > n) e = n;
  if (e <= b) return;
  v->push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
}

void Merge(std::vector<Window>* v) {
  if (v->size() < 2) return;
  if (!std::is_sorted(v->begin(), v->end(),
                      [](const Window& a, const Window& b) { return a.begin < b.begin; }))
    std::sort(v->begin(), v->end(),
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



}  // namespace

Prefilter::Prefilter() {
  for (auto* v : {&d_, &l_, &u_, &dot_, &nl_}) v->reserve(256);
  for (auto& w : windows_) w.reserve(64);
  numbers_.reserve(256);
  name_starts_.reserve(256);
}

const char* Prefilter::Isa() { return HaveAvx512() ? "avx512bw" : "scalar"; }

namespace {

// Bit j of Nx(a, an, k) is byte j+k; of Pv(a, ap, k), byte j-k (a: this word, an/ap: the
// next/previous one).
inline uint64_t Nx(uint64_t a, uint64_t an, int k) { return (a >> k) | (an << (64 - k)); }
inline uint64_t Pv(uint64_t a, uint64_t ap, int k) { return (a << k) | (ap >> (64 - k)); }

struct Blk {
  uint64_t c[kClasses];
};

__attribute__((always_inline)) inline void ClassifyBlockScalar(const unsigned char* p, size_t n,
                                                               size_t base, Blk* out) {
  uint64_t acc[kClasses] = {};
  const size_t end = std::min(n, base + 64);
  for (size_t i = base; i < end; ++i) {
    uint16_t c = kTable[p[i]];
    while (c) {
      int k = std::countr_zero(c);
      acc[k] |= uint64_t{1} << (i - base);
      c &= c - 1;
    }
  }
  for (int k = 0; k < kClasses; ++k) out->c[k] = acc[k];
}

__attribute__((target("avx512f,avx512bw,bmi2"))) inline void ClassifyBlockAvx512(
    const unsigned char* p, size_t n, size_t base, Blk* out) {
  __m512i x;
  if (base + 64 <= n) {
    x = _mm512_loadu_si512(p + base);
  } else {
    __mmask64 k = _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(n - base));
    x = _mm512_maskz_loadu_epi8(k, p + base);
  }
#define VEIL_EQ(c) _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c))
#define VEIL_RANGE(lo, len)                                                          \
  _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, _mm512_set1_epi8(static_cast<char>(lo))), \
                         _mm512_set1_epi8(static_cast<char>(len)))
  out->c[kD] = VEIL_RANGE('0', 10);
  out->c[kU] = VEIL_RANGE('A', 26);
  out->c[kL] = VEIL_RANGE('a', 26);
  out->c[kSp] = VEIL_EQ(' ');
  out->c[kDot] = VEIL_EQ('.');
  out->c[kDash] = VEIL_EQ('-');
  out->c[kCol] = VEIL_EQ(':');
  out->c[kAt] = VEIL_EQ('@');
  out->c[kUs] = VEIL_EQ('_');
  out->c[kPhl] = VEIL_EQ('(') | VEIL_EQ('+');
  out->c[kEq] = VEIL_EQ('=');
  out->c[kSl] = VEIL_EQ('/');
  out->c[kComma] = VEIL_EQ(',');
  out->c[kNl] = VEIL_EQ('\n');
  out->c[kHi] = VEIL_RANGE(0xC3, 3);
#undef VEIL_EQ
#undef VEIL_RANGE
}

template <bool kAvx512>
__attribute__((always_inline)) inline void ClassifyBlock(const unsigned char* p, size_t n,
                                                         size_t base, Blk* out) {
  if (base >= n) {
    for (auto& c : out->c) c = 0;
    return;
  }
  if constexpr (kAvx512)
    ClassifyBlockAvx512(p, n, base, out);
  else
    ClassifyBlockScalar(p, n, base, out);
}

}  // namespace

template <bool kAvx512>
__attribute__((always_inline)) inline void Prefilter::RunImpl(std::string_view text) {
  const uint32_t n = static_cast<uint32_t>(text.size());
  const size_t words = (n + 63) / 64;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  // Mask arrays the handlers read (counts, line starts), with a zero word before the text's.
  for (auto* v : {&d_, &l_, &u_, &dot_, &nl_})
    if (v->size() < words + 2) v->resize(words + 2);
  uint64_t* D = d_.data() + 1;
  uint64_t* L = l_.data() + 1;
  uint64_t* U = u_.data() + 1;
  uint64_t* DOT = dot_.data() + 1;
  uint64_t* NL = nl_.data() + 1;
  D[-1] = L[-1] = U[-1] = DOT[-1] = NL[-1] = 0;

  auto& lit = windows_[static_cast<int>(Stage::kLiteral)];
  auto& hex = windows_[static_cast<int>(Stage::kHexSep)];
  auto& kw = windows_[static_cast<int>(Stage::kKeyword)];
  auto& let = windows_[static_cast<int>(Stage::kLetters)];

  auto count = [&](const uint64_t* m, uint32_t b, uint32_t e) {
    uint32_t c = 0;
    while (b < e) {
      const uint32_t lo = b % 64, take = std::min<uint32_t>(64 - lo, e - b);
      uint64_t bits = m[b / 64] >> lo;
      if (take < 64) bits &= (uint64_t{1} << take) - 1;
      c += static_cast<uint32_t>(std::popcount(bits));
      b += take;
    }
    return c;
  };
  auto line_start = [&](uint32_t pos, uint32_t back) {  // after the last '\n' before pos
    const uint32_t lo = pos > back ? pos - back : 0;
    for (uint32_t q = pos; q > lo;) {
      const uint32_t w = (q - 1) / 64, bit = (q - 1) % 64;
      const uint64_t bits = NL[w] & (bit == 63 ? ~uint64_t{0} : (uint64_t{2} << bit) - 1);
      if (bits) {
        const uint32_t nl = w * 64 + 63 - static_cast<uint32_t>(std::countl_zero(bits));
        return nl >= lo ? nl + 1 : lo;
      }
      q = w * 64;
    }
    return lo;
  };
  // A value that a context keyword may precede: its window runs back to the keyword (only
  // masks of words up to the current one are read).
  auto keyword_value = [&](uint32_t pos) {
    const uint32_t ls = line_start(pos, 56);
    if (pos - ls >= 2 && count(L, ls, pos) + count(U, ls, pos) >= 2)
      Add(&kw, ls, int64_t{pos} + 2, n);
  };
  auto is_digit = [&](uint32_t i) { return i < n && p[i] >= '0' && p[i] <= '9'; };
  // A run of digits joined by single separators from pos; its end and digit count.
  auto number_run = [&](uint32_t pos, uint32_t* digits) {
    uint32_t e = pos, nd = 0;
    while (e < n) {
      if (is_digit(e)) {
        ++nd;
        ++e;
      } else if ((p[e] == ' ' || p[e] == '.' || p[e] == '-' || p[e] == '/') && is_digit(e + 1)) {
        ++e;
      } else {
        break;
      }
    }
    *digits = nd;
    return e;
  };
  auto token_end = [&](uint32_t pos) {
    uint32_t e = pos;
    while (e < n && (kTable[p[e]] & ((1 << kD) | (1 << kU) | (1 << kL) | (1 << kUs) | (1 << kDash))))
      ++e;
    return e;
  };

  // Blocks w-1 .. w+2 in registers; block w+3 is classified each round.
  Blk ring[4];
  for (auto& c : ring[3].c) c = 0;  // block -1
  ClassifyBlock<kAvx512>(p, n, 0, &ring[0]);
  ClassifyBlock<kAvx512>(p, n, 64, &ring[1]);
  ClassifyBlock<kAvx512>(p, n, 128, &ring[2]);
  uint64_t j_prev = 0, t_prev = 0;
  for (size_t w = 0; w < words; ++w) {
    const Blk& P = ring[(w + 3) & 3];   // w-1
    const Blk& C = ring[w & 3];         // w
    const Blk& N = ring[(w + 1) & 3];   // w+1
    const Blk& N2 = ring[(w + 2) & 3];  // w+2
    const uint32_t base = static_cast<uint32_t>(w * 64);
    D[w] = C.c[kD];
    L[w] = C.c[kL];
    U[w] = C.c[kU];
    DOT[w] = C.c[kDot];
    NL[w] = C.c[kNl];
    auto each = [&](uint64_t b, auto&& f) {
      for (; b; b &= b - 1) f(base + static_cast<uint32_t>(std::countr_zero(b)));
    };
    const uint64_t d = C.c[kD], dn = N.c[kD], dnn = N2.c[kD];
    const uint64_t u = C.c[kU], l = C.c[kL], sp = C.c[kSp], dot = C.c[kDot], dash = C.c[kDash];
    const uint64_t col = C.c[kCol], sl = C.c[kSl], phl = C.c[kPhl];

    // ---- literal stage: '@', "://", "::", "-----", token runs of 14+ ----
    const uint64_t colon_lit =
        col & ((Nx(sl, N.c[kSl], 1) & Nx(sl, N.c[kSl], 2)) | Nx(col, N.c[kCol], 1));
    each(C.c[kAt] | colon_lit, [&](uint32_t pos) {
      const int64_t e = p[pos] == '@' ? 2 : p[pos + 1] == '/' ? 400 : 3;
      Add(&lit, int64_t{pos} - 1, int64_t{pos} + e, n);
    });
    if (std::popcount(dash) + std::popcount(N.c[kDash] & 15) >= 5) {
      uint64_t dash5 = dash & ~Pv(dash, P.c[kDash], 1);
      for (int k = 1; k < 5; ++k) dash5 &= Nx(dash, N.c[kDash], k);
      each(dash5, [&](uint32_t pos) { Add(&lit, pos, int64_t{pos} + 48, n); });
    }
    const uint64_t t = d | u | l | C.c[kUs] | dash;
    const uint64_t tn = dn | N.c[kU] | N.c[kL] | N.c[kUs] | N.c[kDash];
    {
      // Bit j of r: bytes j..j+13 are token bytes (the next word's low bits are enough).
      uint64_t r = t & Nx(t, tn, 1), rn = tn & (tn >> 1);
      r &= Nx(r, rn, 2);
      rn &= rn >> 2;
      r &= Nx(r, rn, 4);
      rn &= rn >> 4;
      r &= Nx(r, rn, 6);
      each(r & ~Pv(t, t_prev, 1), [&](uint32_t pos) {
        const uint32_t end = token_end(pos);
        Add(&lit, int64_t{pos} - 1, int64_t{end} + 1, n);
        keyword_value(pos);
        if (end - pos >= 26 && (p[pos] == '1' || p[pos] == '3'))
          Add(&let, int64_t{pos} - 1, int64_t{end} + 1, n);
      });
    }
    t_prev = t;

    // ---- numbers ----
    const uint64_t sepm = sp | dot | dash | sl;
    const uint64_t sepn = N.c[kSp] | N.c[kDot] | N.c[kDash] | N.c[kSl];
    const uint64_t j = d | (sepm & Pv(d, P.c[kD], 1) & Nx(d, dn, 1));
    const uint64_t jn = dn | (sepn & Pv(dn, d, 1) & Nx(dn, dnn, 1));
    const uint64_t jstart = j & ~Pv(j, j_prev, 1);
    j_prev = j;
    // [A-Z]{2}\d{2} at a word start: an IBAN, whose BBAN may hold more letters than digits.
    const uint64_t glue_p1 = Pv(u | l | d | C.c[kUs] | dash | sl,
                                P.c[kU] | P.c[kL] | P.c[kD] | P.c[kUs] | P.c[kDash] | P.c[kSl], 1);
    const uint64_t iban = u & Nx(u, N.c[kU], 1) & Nx(d, dn, 2) & Nx(d, dn, 3) & ~glue_p1;
    if (jstart | phl | iban) {
      // Runs of joined digits 9+ bytes long; 6+ right after a capital (NINO, an IBAN's
      // tail); 7+ with a dot in its first four bytes (a dotted quad). Bit j of jk: bytes
      // j..j+k-1 are in the run.
      const uint64_t j2 = j & Nx(j, jn, 1), j2n = jn & (jn >> 1);
      const uint64_t j4 = j2 & Nx(j2, j2n, 2), j4n = j2n & (j2n >> 2);
      const uint64_t j6 = j4 & Nx(j2, j2n, 4);
      const uint64_t j7 = j6 & Nx(j, jn, 6);
      const uint64_t j9 = j4 & Nx(j4, j4n, 4) & Nx(j, jn, 8);
      const uint64_t lettered = Pv(u, P.c[kU], 1) | (Pv(sp, P.c[kSp], 1) & Pv(u, P.c[kU], 2));
      const uint64_t dotn = N.c[kDot];
      const uint64_t dotted = Nx(dot, dotn, 1) | Nx(dot, dotn, 2) | Nx(dot, dotn, 3);
      // A date at the start of the run: dddd-dd-dd, dddd/dd/dd, dddd.dd.dd.
      const uint64_t date =
          d & Nx(d, dn, 3) & Nx(sepm, sepn, 4) & Nx(d, dn, 5) & Nx(sepm, sepn, 7);
      const uint64_t num = jstart & ((j9 & ~date) | (j6 & lettered) | (j7 & dotted));
      const uint64_t phone_lead = phl & Nx(d, dn, 1) & Nx(d, dn, 2);
      each(num | phone_lead | iban, [&](uint32_t pos) {
        if (p[pos] >= 'A' && p[pos] <= 'Z') {
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
        uint32_t digits = 0;
        const uint32_t end = number_run(pos, &digits);
        uint32_t dots = 0;
        for (uint32_t q = pos; q < end; ++q) dots += p[q] == '.';
        const bool compact = end - pos == digits;
        if (digits >= 7 && pos > 0 && p[pos - 1] != '\n') keyword_value(pos);
        // Bare runs of fewer than 13 digits are ids until a context keyword says otherwise.
        if ((lettered >> (pos - base)) & 1 ? digits >= 6
                                           : (digits >= 4 && dots >= 3) ||
                                                 (digits >= 9 && !(compact && digits < 13)))
          numbers_.push_back({pos, end});
      });
      // A bare number of 7+ digits can still be a value after a keyword ("ssn 123456789").
      each(jstart & j7 & ~num & ~Pv(C.c[kNl], P.c[kNl], 1), [&](uint32_t pos) {
        uint32_t digits = 0;
        number_run(pos, &digits);
        if (digits >= 7) keyword_value(pos);
      });
    }

    // ---- hex separators: MACs and full IPv6 ----
    if (std::popcount(col) + std::popcount(N.c[kCol] & 0x3FF) >= 3) {
      const uint64_t coln = N.c[kCol], colnn = N2.c[kCol];
      const uint64_t near =
          Nx(col, coln, 2) | Nx(col, coln, 3) | Nx(col, coln, 4) | Nx(col, coln, 5);
      const uint64_t nearn =
          Nx(coln, colnn, 2) | Nx(coln, colnn, 3) | Nx(coln, colnn, 4) | Nx(coln, colnn, 5);
      const uint64_t c2 = col & near, c2n = coln & nearn;
      each(c2 & (Nx(c2, c2n, 2) | Nx(c2, c2n, 3) | Nx(c2, c2n, 4) | Nx(c2, c2n, 5)),
           [&](uint32_t pos) { Add(&hex, int64_t{pos} - 5, int64_t{pos} + 45, n); });
    }
    if (std::popcount(dash) + std::popcount(N.c[kDash] & 0x3FF) >= 4) {
      const uint64_t dn2 = N.c[kDash];
      each(dash & Nx(dash, dn2, 3) & Nx(dash, dn2, 6) & Nx(dash, dn2, 9),
           [&](uint32_t pos) { Add(&hex, int64_t{pos} - 2, int64_t{pos} + 16, n); });
    }
    each(dot & Nx(dot, N.c[kDot], 5),  // Cisco 001a.2b3c.4d5e
         [&](uint32_t pos) { Add(&hex, int64_t{pos} - 4, int64_t{pos} + 11, n); });

    // ---- capitalised words: names, and values of context keywords ("Jane", not "XL") ----
    const uint64_t hi = C.c[kHi];
    const uint64_t letters = u | l, letters_p = P.c[kU] | P.c[kL];
    if (u | hi) {
      // A word starts after a byte that is not a letter, digit, '_', '-', '/' or '@'.
      const uint64_t glue = letters | d | C.c[kUs] | dash | sl | C.c[kAt];
      const uint64_t glue_p =
          letters_p | P.c[kD] | P.c[kUs] | P.c[kDash] | P.c[kSl] | P.c[kAt];
      const uint64_t lhn = N.c[kL] | N.c[kHi];
      const uint64_t after = Nx(l | u | hi | dot, lhn | N.c[kU] | N.c[kDot], 1);
      const uint64_t cap = ((u & after) | hi) & ~Pv(glue, glue_p, 1);
      const uint64_t cap_lower = cap & Nx(l | hi, lhn, 1);
      each(cap, [&](uint32_t pos) {
        name_starts_.push_back(pos);
        if ((cap_lower >> (pos - base)) & 1) keyword_value(pos);
      });
    }
    // A house number, a space, a capital: a street line.
    // (Or a number, a space, an ordinal: "79910 8th Street".)
    each(d & Nx(sp, N.c[kSp], 1) &
             (Nx(u, N.c[kU], 2) | (Nx(d, dn, 2) & (Nx(l, N.c[kL], 3) | Nx(l, N.c[kL], 4)))),
         [&](uint32_t pos) { Add(&let, int64_t{pos} - 6, int64_t{pos} + 90, n); });
    // '=' or ':' right after a word ("password=", "SSN: "), '(' ("INSERT INTO t (").
    if (C.c[kEq] | col | phl) {
      const uint64_t near_letter = Pv(letters, letters_p, 1) | Pv(letters, letters_p, 2);
      each((C.c[kEq] | col | phl) & near_letter, keyword_value);
    }

    ClassifyBlock<kAvx512>(p, n, (w + 3) * 64, &ring[(w + 3) & 3]);  // replaces block w-1
  }
}

__attribute__((target("avx512f,avx512bw,bmi2,popcnt"))) void Prefilter::RunAvx512(
    std::string_view text) {
  RunImpl<true>(text);
}
void Prefilter::RunPortable(std::string_view text) { RunImpl<false>(text); }

void Prefilter::Run(std::string_view text) {
  for (auto& w : windows_) w.clear();
  numbers_.clear();
  name_starts_.clear();
  if (HaveAvx512())
    RunAvx512(text);
  else
    RunPortable(text);
  for (auto& v : windows_) Merge(&v);
}

}  // namespace veil::masker
