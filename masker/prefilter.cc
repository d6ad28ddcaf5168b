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
  // Each mask array has one zero word before and two after the text's words, so that the
  // neighbours of every word can be read without bounds checks.
  for (int k = 0; k < kClasses; ++k) m_[k].assign(words + 3, 0);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (HaveAvx512())
    ClassifyAvx512(p, n, m_, 1);
  else
    ClassifyScalar(p, n, m_, 1);
  const uint64_t* D = m_[kD].data() + 1;
  const uint64_t* U = m_[kU].data() + 1;
  const uint64_t* L = m_[kL].data() + 1;
  const uint64_t* SP = m_[kSp].data() + 1;
  const uint64_t* DOT = m_[kDot].data() + 1;
  const uint64_t* DASH = m_[kDash].data() + 1;
  const uint64_t* COL = m_[kCol].data() + 1;
  const uint64_t* AT = m_[kAt].data() + 1;
  const uint64_t* US = m_[kUs].data() + 1;
  const uint64_t* PHL = m_[kPhl].data() + 1;
  const uint64_t* EQ = m_[kEq].data() + 1;
  const uint64_t* SL = m_[kSl].data() + 1;
  const uint64_t* NL = m_[kNl].data() + 1;
  const uint64_t* HI = m_[kHi].data() + 1;
  // Bit j of Nx(a, an, k) is byte j+k; of Pv(a, ap, k), byte j-k (a: this word, an/ap: the
  // next/previous one).
  auto Nx = [](uint64_t a, uint64_t an, int k) { return (a >> k) | (an << (64 - k)); };
  auto Pv = [](uint64_t a, uint64_t ap, int k) { return (a << k) | (ap >> (64 - k)); };

  auto& lit = windows_[static_cast<int>(Stage::kLiteral)];
  auto& hex = windows_[static_cast<int>(Stage::kHexSep)];
  auto& kw = windows_[static_cast<int>(Stage::kKeyword)];
  auto& let = windows_[static_cast<int>(Stage::kLetters)];

  // Derived arrays (same layout): token bytes, digits joined by single separators, and the
  // doubling steps for token runs of 14+ (bit j of r3: bytes j..j+7 are token bytes).
  for (auto* v : {&tok_, &j_, &r1_, &r2_, &r3_}) v->assign(words + 3, 0);
  uint64_t* T = tok_.data() + 1;
  uint64_t* J = j_.data() + 1;
  for (size_t w = 0; w < words; ++w) {
    T[w] = D[w] | U[w] | L[w] | US[w] | DASH[w];
    const uint64_t sep = SP[w] | DOT[w] | DASH[w] | SL[w];
    J[w] = D[w] | (sep & Pv(D[w], D[w - 1], 1) & Nx(D[w], D[w + 1], 1));
  }
  uint64_t* R1 = r1_.data() + 1;
  uint64_t* R2 = r2_.data() + 1;
  uint64_t* R3 = r3_.data() + 1;
  for (size_t w = 0; w < words; ++w) R1[w] = T[w] & Nx(T[w], T[w + 1], 1);
  for (size_t w = 0; w < words; ++w) R2[w] = R1[w] & Nx(R1[w], R1[w + 1], 2);
  for (size_t w = 0; w < words; ++w) R3[w] = R2[w] & Nx(R2[w], R2[w + 1], 4);

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

  for (size_t w = 0; w < words; ++w) {
    const uint32_t base = static_cast<uint32_t>(w * 64);
    const uint64_t d = D[w], u = U[w], l = L[w], col = COL[w], dash = DASH[w], dot = DOT[w];
    const uint64_t letters = u | l, letters_p = U[w - 1] | L[w - 1];

    // ---- literal stage: '@', "://", "::", "-----", token runs of 14+ ----
    const uint64_t r14 = R3[w] & Nx(R3[w], R3[w + 1], 6);
    const uint64_t tok_start = r14 & ~Pv(T[w], T[w - 1], 1);
    const uint64_t colon_lit =
        col & ((Nx(SL[w], SL[w + 1], 1) & Nx(SL[w], SL[w + 1], 2)) | Nx(col, COL[w + 1], 1));
    uint64_t dash5 = dash & ~Pv(dash, DASH[w - 1], 1);
    for (int k = 1; k < 5; ++k) dash5 &= Nx(dash, DASH[w + 1], k);
    if (AT[w] | colon_lit | dash5 | tok_start) {
      for (uint64_t b = AT[w]; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        Add(&lit, int64_t{pos} - 1, int64_t{pos} + 2, n);
      }
      for (uint64_t b = colon_lit; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        Add(&lit, int64_t{pos} - 1, int64_t{pos} + (p[pos + 1] == '/' ? 400 : 3), n);
      }
      for (uint64_t b = dash5; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        Add(&lit, pos, int64_t{pos} + 48, n);
      }
      for (uint64_t b = tok_start; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        const uint32_t end = run_end(T, pos);
        Add(&lit, int64_t{pos} - 1, int64_t{end} + 1, n);
        keyword_value(pos);
        if (end - pos >= 26 && (p[pos] == '1' || p[pos] == '3'))
          Add(&let, int64_t{pos} - 1, int64_t{end} + 1, n);
      }
    }

    // ---- numbers ----
    // Runs of joined digits 9+ bytes long; 6+ right after a capital (NINO, an IBAN's tail);
    // 7+ with a dot in the first four bytes (a dotted quad). Bit j of jk: bytes j..j+k-1 in J.
    const uint64_t j = J[w], jn = J[w + 1];
    const uint64_t j2 = j & Nx(j, jn, 1), j2n = jn & Nx(jn, J[w + 2], 1);
    const uint64_t j4 = j2 & Nx(j2, j2n, 2), j4n = j2n & (j2n >> 2);
    const uint64_t j6 = j4 & Nx(j2, j2n, 4);
    const uint64_t j7 = j6 & Nx(j, jn, 6);
    const uint64_t j9 = j4 & Nx(j4, j4n, 4) & Nx(j, jn, 8);
    const uint64_t jstart = j & ~Pv(j, J[w - 1], 1);
    const uint64_t lettered = Pv(u, U[w - 1], 1) | (Pv(SP[w], SP[w - 1], 1) & Pv(u, U[w - 1], 2));
    const uint64_t dotted = Nx(dot, DOT[w + 1], 1) | Nx(dot, DOT[w + 1], 2) | Nx(dot, DOT[w + 1], 3);
    // A date at the start of the run: dddd-dd-dd, dddd/dd/dd, dddd.dd.dd.
    const uint64_t ds = SP[w] | dash | SL[w] | dot, dsn = SP[w + 1] | DASH[w + 1] | SL[w + 1] | DOT[w + 1];
    const uint64_t date = d & Nx(d, D[w + 1], 3) & Nx(ds, dsn, 4) & Nx(ds, dsn, 7) & Nx(d, D[w + 1], 5);
    const uint64_t num_start = jstart & ((j9 & ~date) | (j6 & lettered) | (j7 & dotted));
    const uint64_t phl = PHL[w];
    const uint64_t phone_lead = phl & Nx(d, D[w + 1], 1) & Nx(d, D[w + 1], 2);
    if (num_start | phone_lead) {
      for (uint64_t b = num_start | phone_lead; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        if (p[pos] == '(' || p[pos] == '+') {
          uint32_t digits = 0;  // enough digits on the same line for a phone number
          for (uint32_t q = pos + 1; q < n && q < pos + 20 && p[q] != '\n'; ++q)
            digits += p[q] >= '0' && p[q] <= '9';
          if (digits >= 7) numbers_.push_back({pos, pos + 1});
          continue;
        }
        const uint32_t end = run_end(J, pos);
        const uint32_t digits = count(D, pos, end);
        const bool lettered_run = (lettered >> (pos - base)) & 1;
        const bool compact = end - pos == digits;
        if (digits >= 7 && pos > 0 && p[pos - 1] != '\n') keyword_value(pos);
        // Bare runs of fewer than 13 digits are ids until a context keyword says otherwise.
        if (lettered_run ? digits >= 6
                         : (digits >= 4 && count(DOT, pos, end) >= 3) ||
                               (digits >= 9 && !(compact && digits < 13)))
          numbers_.push_back({pos, end});
      }
    }
    // A long bare number can still be a value after a keyword ("ssn 123456789").
    for (uint64_t b = jstart & j7 & ~num_start & ~Pv(NL[w], NL[w - 1], 1); b; b &= b - 1) {
      const uint32_t pos = base + std::countr_zero(b);
      if (pos > 0 && count(D, pos, run_end(J, pos)) >= 7) keyword_value(pos);
    }

    // ---- hex separators: MACs and full IPv6 ----
    if (col | dash | dot) {
      uint64_t near_col = 0, near_coln = 0;
      for (int k = 2; k <= 5; ++k) {
        near_col |= Nx(col, COL[w + 1], k);
        near_coln |= Nx(COL[w + 1], COL[w + 2], k);
      }
      const uint64_t c2 = col & near_col, c2n = COL[w + 1] & near_coln;
      uint64_t c3 = 0;
      for (int k = 2; k <= 5; ++k) c3 |= Nx(c2, c2n, k);
      c3 &= c2;
      const uint64_t mac_dash = dash & Nx(dash, DASH[w + 1], 3) & Nx(dash, DASH[w + 1], 6) &
                                Nx(dash, DASH[w + 1], 9);
      const uint64_t cisco = dot & Nx(dot, DOT[w + 1], 5);
      for (uint64_t b = c3; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        Add(&hex, int64_t{pos} - 5, int64_t{pos} + 45, n);
      }
      for (uint64_t b = mac_dash; b; b &= b - 1) {
        const uint32_t pos = base + std::countr_zero(b);
        Add(&hex, int64_t{pos} - 2, int64_t{pos} + 16, n);
      }
      for (uint64_t b = cisco; b; b &= b - 1) {  // 001a.2b3c.4d5e
        const uint32_t pos = base + std::countr_zero(b);
        Add(&hex, int64_t{pos} - 4, int64_t{pos} + 11, n);
      }
    }

    // ---- capitalised word starts: names, and values of context keywords ----
    // A word starts after a byte that is not a letter, digit, '_', '-', '/' or '@'.
    const uint64_t glue = letters | d | US[w] | dash | SL[w] | AT[w];
    const uint64_t glue_p = letters_p | D[w - 1] | US[w - 1] | DASH[w - 1] | SL[w - 1] | AT[w - 1];
    const uint64_t hi = HI[w];
    const uint64_t lower_next = Nx(l | hi, L[w + 1] | HI[w + 1], 1);
    const uint64_t after = Nx(l | u | hi | dot, L[w + 1] | U[w + 1] | HI[w + 1] | DOT[w + 1], 1);
    const uint64_t cap = ((u & after) | hi) & ~Pv(glue, glue_p, 1);
    for (uint64_t b = cap; b; b &= b - 1) {
      const uint32_t pos = base + std::countr_zero(b);
      name_starts_.push_back(pos);
      if ((lower_next >> (pos - base)) & 1) keyword_value(pos);  // "Jane", not "XL"
    }
    // '=' or ':' right after a word: "password=", "SSN: ", "\"api_key\": "; '(' after a word:
    // "INSERT INTO t (".
    const uint64_t near_letter = Pv(letters, letters_p, 1) | Pv(letters, letters_p, 2);
    for (uint64_t b = (EQ[w] | col | (phl & ~phone_lead)) & near_letter; b; b &= b - 1)
      keyword_value(base + std::countr_zero(b));

    // ---- letters: a house number, a space, a capital (street lines) ----
    for (uint64_t b = d & Nx(SP[w], SP[w + 1], 1) & Nx(u, U[w + 1], 2); b; b &= b - 1) {
      const uint32_t pos = base + std::countr_zero(b);
      Add(&let, int64_t{pos} - 6, int64_t{pos} + 90, n);
    }
  }
  for (auto& v : windows_) Merge(&v);
}

}  // namespace veil::masker
