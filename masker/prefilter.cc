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

void ClassifyScalar(const unsigned char* p, size_t n, std::vector<uint64_t>* m, size_t off) {
  const size_t words = (n + 63) / 64;
  for (size_t w = 0; w < words; ++w) {
    uint64_t acc[kClasses] = {};
    const size_t base = w * 64, end = std::min(n, base + 64);
    for (size_t i = base; i < end; ++i) {
      uint16_t c = kTable[p[i]];
      while (c) {
        int k = std::countr_zero(c);
        acc[k] |= uint64_t{1} << (i - base);
        c &= c - 1;
      }
    }
    for (int k = 0; k < kClasses; ++k) m[k][w + off] = acc[k];
  }
}

__attribute__((target("avx512bw,avx512f,bmi2"))) void ClassifyAvx512(const unsigned char* p,
                                                                    size_t n,
                                                                    std::vector<uint64_t>* m,
                                                                    size_t off) {
  const size_t words = (n + 63) / 64;
  const __m512i c0 = _mm512_set1_epi8('0'), cA = _mm512_set1_epi8('A'),
                ca = _mm512_set1_epi8('a'), ten = _mm512_set1_epi8(10),
                t26 = _mm512_set1_epi8(26), hi0 = _mm512_set1_epi8(static_cast<char>(0xC3)),
                three = _mm512_set1_epi8(3);
  for (size_t w = 0; w < words; ++w) {
    const size_t base = w * 64;
    __m512i x;
    if (base + 64 <= n) {
      x = _mm512_loadu_si512(p + base);
    } else {
      __mmask64 k = _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(n - base));
      x = _mm512_maskz_loadu_epi8(k, p + base);
    }
    m[kD][w + off] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, c0), ten);
    m[kU][w + off] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, cA), t26);
    m[kL][w + off] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, ca), t26);
    m[kSp][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(' '));
    m[kDot][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('.'));
    m[kDash][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('-'));
    m[kCol][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(':'));
    m[kAt][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('@'));
    m[kUs][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('_'));
    m[kPhl][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('(')) |
                       _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('+'));
    m[kEq][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('='));
    m[kSl][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('/'));
    m[kComma][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(','));
    m[kNl][w + off] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('\n'));
    m[kHi][w + off] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, hi0), three);
  }
}

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


// Trigger masks, one array each (same layout as the class masks: a zero word before, two after).
enum Trigger : int {
  kTok,        // [A-Za-z0-9_-]
  kJoin,       // digits, and single separators between two digits
  kR1,         // doubling steps for token runs: bytes j..j+1, j..j+3, j..j+7 are token bytes
  kR2,
  kR3,
  kLitAt,      // '@', "://", "::"
  kLitTok,     // the start of a token run of 14+
  kLitDash,    // "-----"
  kNum,        // the start of a number run worth lexing, or '(' / '+' before two digits
  kLettered,   // the byte before is a capital (or a space after a capital)
  kKwNum,      // the start of a bare run of 7+ joined bytes not on its own line
  kHexCol,     // a chain of three colons
  kHexMac,     // four dashes every third byte
  kHexCisco,   // dots five apart
  kCap,        // a capitalised word starts
  kCapLower,   // … and its next byte is lower case
  kAssign,     // '=', ':' or '(' right after a letter
  kStreet,     // a digit, a space, a capital
  kTriggers,
};

// Bit j of Nx(a, an, k) is byte j+k; of Pv(a, ap, k), byte j-k (a: this word, an/ap: the
// next/previous one).
inline uint64_t Nx(uint64_t a, uint64_t an, int k) { return (a >> k) | (an << (64 - k)); }
inline uint64_t Pv(uint64_t a, uint64_t ap, int k) { return (a << k) | (ap >> (64 - k)); }

// Pure bit arithmetic over whole arrays: loops without branches or side effects, which the
// compiler vectorises (eight words per instruction with AVX-512).
__attribute__((always_inline)) inline void DeriveBody(const uint64_t* const* m,
                                                      uint64_t* const* t, size_t words) {
  const uint64_t* __restrict D = m[kD] + 1;
  const uint64_t* __restrict U = m[kU] + 1;
  const uint64_t* __restrict L = m[kL] + 1;
  const uint64_t* __restrict SP = m[kSp] + 1;
  const uint64_t* __restrict DOT = m[kDot] + 1;
  const uint64_t* __restrict DASH = m[kDash] + 1;
  const uint64_t* __restrict COL = m[kCol] + 1;
  const uint64_t* __restrict AT = m[kAt] + 1;
  const uint64_t* __restrict US = m[kUs] + 1;
  const uint64_t* __restrict PHL = m[kPhl] + 1;
  const uint64_t* __restrict EQ = m[kEq] + 1;
  const uint64_t* __restrict SL = m[kSl] + 1;
  const uint64_t* __restrict NL = m[kNl] + 1;
  const uint64_t* __restrict HI = m[kHi] + 1;
  uint64_t* __restrict T = t[kTok] + 1;
  uint64_t* __restrict J = t[kJoin] + 1;
  uint64_t* __restrict R1 = t[kR1] + 1;
  uint64_t* __restrict R2 = t[kR2] + 1;
  uint64_t* __restrict R3 = t[kR3] + 1;
  for (size_t w = 0; w < words; ++w) {
    T[w] = D[w] | U[w] | L[w] | US[w] | DASH[w];
    const uint64_t sep = SP[w] | DOT[w] | DASH[w] | SL[w];
    J[w] = D[w] | (sep & Pv(D[w], D[w - 1], 1) & Nx(D[w], D[w + 1], 1));
  }
  for (size_t w = 0; w < words; ++w) R1[w] = T[w] & Nx(T[w], T[w + 1], 1);
  for (size_t w = 0; w < words; ++w) R2[w] = R1[w] & Nx(R1[w], R1[w + 1], 2);
  for (size_t w = 0; w < words; ++w) R3[w] = R2[w] & Nx(R2[w], R2[w + 1], 4);

  uint64_t* __restrict LitAt = t[kLitAt] + 1;
  uint64_t* __restrict LitTok = t[kLitTok] + 1;
  uint64_t* __restrict LitDash = t[kLitDash] + 1;
  for (size_t w = 0; w < words; ++w) {
    const uint64_t col = COL[w];
    LitAt[w] = AT[w] | (col & ((Nx(SL[w], SL[w + 1], 1) & Nx(SL[w], SL[w + 1], 2)) |
                               Nx(col, COL[w + 1], 1)));
    LitTok[w] = R3[w] & Nx(R3[w], R3[w + 1], 6) & ~Pv(T[w], T[w - 1], 1);
    const uint64_t dash = DASH[w], dn = DASH[w + 1];
    LitDash[w] = dash & ~Pv(dash, DASH[w - 1], 1) & Nx(dash, dn, 1) & Nx(dash, dn, 2) &
                 Nx(dash, dn, 3) & Nx(dash, dn, 4);
  }

  uint64_t* __restrict Num = t[kNum] + 1;
  uint64_t* __restrict Lettered = t[kLettered] + 1;
  uint64_t* __restrict KwNum = t[kKwNum] + 1;
  for (size_t w = 0; w < words; ++w) {
    // Runs of joined digits 9+ bytes long; 6+ right after a capital (NINO, an IBAN's tail);
    // 7+ with a dot in the first four bytes (a dotted quad). Bit j of jk: bytes j..j+k-1.
    const uint64_t j = J[w], jn = J[w + 1], jnn = J[w + 2];
    const uint64_t j2 = j & Nx(j, jn, 1), j2n = jn & Nx(jn, jnn, 1);
    const uint64_t j4 = j2 & Nx(j2, j2n, 2), j4n = j2n & (j2n >> 2);
    const uint64_t j6 = j4 & Nx(j2, j2n, 4);
    const uint64_t j7 = j6 & Nx(j, jn, 6);
    const uint64_t j9 = j4 & Nx(j4, j4n, 4) & Nx(j, jn, 8);
    const uint64_t jstart = j & ~Pv(j, J[w - 1], 1);
    const uint64_t u = U[w], up = U[w - 1];
    const uint64_t lettered = Pv(u, up, 1) | (Pv(SP[w], SP[w - 1], 1) & Pv(u, up, 2));
    const uint64_t dot = DOT[w], dotn = DOT[w + 1];
    const uint64_t dotted = Nx(dot, dotn, 1) | Nx(dot, dotn, 2) | Nx(dot, dotn, 3);
    // A date at the start of the run: dddd-dd-dd, dddd/dd/dd, dddd.dd.dd, dddd dd dd.
    const uint64_t ds = SP[w] | DASH[w] | SL[w] | dot;
    const uint64_t dsn = SP[w + 1] | DASH[w + 1] | SL[w + 1] | dotn;
    const uint64_t d = D[w], dn = D[w + 1];
    const uint64_t date = d & Nx(d, dn, 3) & Nx(ds, dsn, 4) & Nx(d, dn, 5) & Nx(ds, dsn, 7);
    const uint64_t num = jstart & ((j9 & ~date) | (j6 & lettered) | (j7 & dotted));
    const uint64_t phone_lead = PHL[w] & Nx(d, dn, 1) & Nx(d, dn, 2);
    Num[w] = num | phone_lead;
    Lettered[w] = lettered;
    KwNum[w] = jstart & j7 & ~num & ~Pv(NL[w], NL[w - 1], 1);
  }

  uint64_t* __restrict HexCol = t[kHexCol] + 1;
  uint64_t* __restrict HexMac = t[kHexMac] + 1;
  uint64_t* __restrict HexCisco = t[kHexCisco] + 1;
  for (size_t w = 0; w < words; ++w) {
    const uint64_t col = COL[w], coln = COL[w + 1], colnn = COL[w + 2];
    const uint64_t near = Nx(col, coln, 2) | Nx(col, coln, 3) | Nx(col, coln, 4) | Nx(col, coln, 5);
    const uint64_t nearn =
        Nx(coln, colnn, 2) | Nx(coln, colnn, 3) | Nx(coln, colnn, 4) | Nx(coln, colnn, 5);
    const uint64_t c2 = col & near, c2n = coln & nearn;
    HexCol[w] = c2 & (Nx(c2, c2n, 2) | Nx(c2, c2n, 3) | Nx(c2, c2n, 4) | Nx(c2, c2n, 5));
    const uint64_t dash = DASH[w], dashn = DASH[w + 1];
    HexMac[w] = dash & Nx(dash, dashn, 3) & Nx(dash, dashn, 6) & Nx(dash, dashn, 9);
    HexCisco[w] = DOT[w] & Nx(DOT[w], DOT[w + 1], 5);
  }

  uint64_t* __restrict Cap = t[kCap] + 1;
  uint64_t* __restrict CapLower = t[kCapLower] + 1;
  uint64_t* __restrict Assign = t[kAssign] + 1;
  uint64_t* __restrict Street = t[kStreet] + 1;
  for (size_t w = 0; w < words; ++w) {
    const uint64_t u = U[w], l = L[w], hi = HI[w];
    const uint64_t letters = u | l, letters_p = U[w - 1] | L[w - 1];
    // A word starts after a byte that is not a letter, digit, '_', '-', '/' or '@'.
    const uint64_t glue = letters | D[w] | US[w] | DASH[w] | SL[w] | AT[w];
    const uint64_t glue_p = letters_p | D[w - 1] | US[w - 1] | DASH[w - 1] | SL[w - 1] | AT[w - 1];
    const uint64_t after = Nx(l | u | hi | DOT[w], L[w + 1] | U[w + 1] | HI[w + 1] | DOT[w + 1], 1);
    const uint64_t cap = ((u & after) | hi) & ~Pv(glue, glue_p, 1);
    Cap[w] = cap;
    CapLower[w] = cap & Nx(l | hi, L[w + 1] | HI[w + 1], 1);
    const uint64_t near_letter = Pv(letters, letters_p, 1) | Pv(letters, letters_p, 2);
    const uint64_t paren = PHL[w] & ~(Nx(D[w], D[w + 1], 1) & Nx(D[w], D[w + 1], 2));
    Assign[w] = (EQ[w] | COL[w] | paren) & near_letter;
    Street[w] = D[w] & Nx(SP[w], SP[w + 1], 1) & Nx(u, U[w + 1], 2);
  }
}

__attribute__((target("avx512f,avx512bw,popcnt"))) void DeriveAvx512(const uint64_t* const* m,
                                                                     uint64_t* const* t,
                                                                     size_t words) {
  DeriveBody(m, t, words);
}
void DerivePortable(const uint64_t* const* m, uint64_t* const* t, size_t words) {
  DeriveBody(m, t, words);
}

}  // namespace

Prefilter::Prefilter() {
  for (auto& m : m_) m.reserve(256);
  for (auto& w : windows_) w.reserve(64);
  numbers_.reserve(256);
  name_starts_.reserve(256);
}

const char* Prefilter::Isa() { return HaveAvx512() ? "avx512bw" : "scalar"; }

void Prefilter::Run(std::string_view text) {
  for (auto& w : windows_) w.clear();
  numbers_.clear();
  name_starts_.clear();
  const uint32_t n = static_cast<uint32_t>(text.size());
  const size_t words = (n + 63) / 64;
  // Every array has one zero word before and two after the text's words, so that the
  // neighbours of every word are read without bounds checks.
  // (Only the pad words are zeroed: every word in between is written before it is read.)
  const uint64_t* mp[kClasses];
  for (int k = 0; k < kClasses; ++k) {
    if (m_[k].size() < words + 3) m_[k].resize(words + 3);
    m_[k][0] = m_[k][words + 1] = m_[k][words + 2] = 0;
    mp[k] = m_[k].data();
  }
  uint64_t* tp[kTriggers];
  if (t_.size() < kTriggers) t_.resize(kTriggers);
  for (int k = 0; k < kTriggers; ++k) {
    if (t_[k].size() < words + 3) t_[k].resize(words + 3);
    t_[k][0] = t_[k][words + 1] = t_[k][words + 2] = 0;
    tp[k] = t_[k].data();
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (HaveAvx512()) {
    ClassifyAvx512(p, n, m_, 1);
    DeriveAvx512(mp, tp, words);
  } else {
    ClassifyScalar(p, n, m_, 1);
    DerivePortable(mp, tp, words);
  }
  const uint64_t* D = mp[kD] + 1;
  const uint64_t* L = mp[kL] + 1;
  const uint64_t* U = mp[kU] + 1;
  const uint64_t* DOT = mp[kDot] + 1;
  const uint64_t* NL = mp[kNl] + 1;
  const uint64_t* T = tp[kTok] + 1;
  const uint64_t* J = tp[kJoin] + 1;

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
  auto run_end = [&](const uint64_t* m, uint32_t b) {  // first byte >= b not in m
    while (b < n) {
      const uint64_t out = ~m[b / 64] >> (b % 64);
      if (out) return std::min<uint32_t>(n, b + static_cast<uint32_t>(std::countr_zero(out)));
      b = (b / 64 + 1) * 64;
    }
    return n;
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
  // A value that a context keyword may precede: its window runs back to the keyword.
  auto keyword_value = [&](uint32_t pos) {
    const uint32_t ls = line_start(pos, 56);
    if (pos - ls >= 2 && count(L, ls, pos) + count(U, ls, pos) >= 2)
      Add(&kw, ls, int64_t{pos} + 2, n);
  };
  auto bits = [&](int k, size_t w) { return tp[k][w + 1]; };

  for (size_t w = 0; w < words; ++w) {
    uint64_t any = 0;
    for (int k = kLitAt; k < kTriggers; ++k)
      if (k != kLettered && k != kCapLower) any |= bits(k, w);
    if (!any) continue;
    const uint32_t base = static_cast<uint32_t>(w * 64);
    auto each = [&](uint64_t b, auto&& f) {
      for (; b; b &= b - 1) f(base + static_cast<uint32_t>(std::countr_zero(b)));
    };

    // ---- literal stage: '@', "://", "::", "-----", token runs of 14+ ----
    each(bits(kLitAt, w), [&](uint32_t pos) {
      const int64_t e = p[pos] == '@' ? 2 : p[pos + 1] == '/' ? 400 : 3;
      Add(&lit, int64_t{pos} - 1, int64_t{pos} + e, n);
    });
    each(bits(kLitDash, w), [&](uint32_t pos) { Add(&lit, pos, int64_t{pos} + 48, n); });
    each(bits(kLitTok, w), [&](uint32_t pos) {
      const uint32_t end = run_end(T, pos);
      Add(&lit, int64_t{pos} - 1, int64_t{end} + 1, n);
      keyword_value(pos);
      if (end - pos >= 26 && (p[pos] == '1' || p[pos] == '3'))
        Add(&let, int64_t{pos} - 1, int64_t{end} + 1, n);
    });

    // ---- numbers ----
    const uint64_t lettered = bits(kLettered, w);
    each(bits(kNum, w), [&](uint32_t pos) {
      if (p[pos] == '(' || p[pos] == '+') {
        uint32_t digits = 0;  // enough digits on the same line for a phone number
        for (uint32_t q = pos + 1; q < n && q < pos + 20 && p[q] != '\n'; ++q)
          digits += p[q] >= '0' && p[q] <= '9';
        if (digits >= 7) numbers_.push_back({pos, pos + 1});
        return;
      }
      const uint32_t end = run_end(J, pos);
      const uint32_t digits = count(D, pos, end);
      const bool compact = end - pos == digits;
      if (digits >= 7 && pos > 0 && p[pos - 1] != '\n') keyword_value(pos);
      // Bare runs of fewer than 13 digits are ids until a context keyword says otherwise.
      if ((lettered >> (pos - base)) & 1 ? digits >= 6
                                         : (digits >= 4 && count(DOT, pos, end) >= 3) ||
                                               (digits >= 9 && !(compact && digits < 13)))
        numbers_.push_back({pos, end});
    });
    // A bare number of 7+ digits can still be a value after a keyword ("ssn 123456789").
    each(bits(kKwNum, w), [&](uint32_t pos) {
      if (count(D, pos, run_end(J, pos)) >= 7) keyword_value(pos);
    });

    // ---- hex separators: MACs and full IPv6 ----
    each(bits(kHexCol, w), [&](uint32_t pos) { Add(&hex, int64_t{pos} - 5, int64_t{pos} + 45, n); });
    each(bits(kHexMac, w), [&](uint32_t pos) { Add(&hex, int64_t{pos} - 2, int64_t{pos} + 16, n); });
    each(bits(kHexCisco, w), [&](uint32_t pos) { Add(&hex, int64_t{pos} - 4, int64_t{pos} + 11, n); });

    // ---- capitalised words: names, and values of context keywords ("Jane", not "XL") ----
    const uint64_t cap_lower = bits(kCapLower, w);
    each(bits(kCap, w), [&](uint32_t pos) {
      name_starts_.push_back(pos);
      if ((cap_lower >> (pos - base)) & 1) keyword_value(pos);
    });
    // '=' or ':' right after a word ("password=", "SSN: "), '(' ("INSERT INTO t (").
    each(bits(kAssign, w), keyword_value);

    // ---- letters: a house number, a space, a capital (street lines) ----
    each(bits(kStreet, w), [&](uint32_t pos) { Add(&let, int64_t{pos} - 6, int64_t{pos} + 90, n); });
  }
  for (auto& v : windows_) Merge(&v);
}

}  // namespace veil::masker
