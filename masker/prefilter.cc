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

void ClassifyScalar(const unsigned char* p, size_t n, std::vector<uint64_t>* m) {
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
    for (int k = 0; k < kClasses; ++k) m[k][w] = acc[k];
  }
}

__attribute__((target("avx512bw,avx512f,bmi2"))) void ClassifyAvx512(const unsigned char* p,
                                                                    size_t n,
                                                                    std::vector<uint64_t>* m) {
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
    m[kD][w] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, c0), ten);
    m[kU][w] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, cA), t26);
    m[kL][w] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, ca), t26);
    m[kSp][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(' '));
    m[kDot][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('.'));
    m[kDash][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('-'));
    m[kCol][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(':'));
    m[kAt][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('@'));
    m[kUs][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('_'));
    m[kPhl][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('(')) |
                 _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('+'));
    m[kEq][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('='));
    m[kSl][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('/'));
    m[kComma][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(','));
    m[kNl][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('\n'));
    m[kHi][w] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, hi0), three);
  }
}

bool HaveAvx512() {
  static const bool ok = __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
  return ok;
}

// Word-at-a-time views of a mask array with neighbours: bit j of Next(k) is byte j+k.
struct Masks {
  const std::vector<uint64_t>* m;
  size_t words;
  uint64_t W(int c, size_t w) const { return w < words ? m[c][w] : 0; }
  uint64_t Next(uint64_t cur, uint64_t nxt, int k) const {
    return k == 0 ? cur : (cur >> k) | (nxt << (64 - k));
  }
  uint64_t Prev(uint64_t cur, uint64_t prv, int k) const {
    return k == 0 ? cur : (cur << k) | (prv >> (64 - k));
  }
  // Number of class-c bytes in [b, e).
  uint32_t Count(int c, uint32_t b, uint32_t e) const {
    uint32_t n = 0;
    while (b < e) {
      size_t w = b / 64;
      uint32_t lo = b % 64, hi = std::min<uint32_t>(64, lo + (e - b));
      uint64_t bits = W(c, w) >> lo;
      if (hi - lo < 64) bits &= (uint64_t{1} << (hi - lo)) - 1;
      n += std::popcount(bits);
      b += hi - lo;
    }
    return n;
  }
  // First position >= b (and < limit) whose byte is not in the union mask of classes.
  template <typename F>
  uint32_t RunEnd(uint32_t b, uint32_t limit, F in_run) const {
    while (b < limit) {
      size_t w = b / 64;
      uint64_t out = ~in_run(w) >> (b % 64);
      if (out) return std::min<uint32_t>(limit, b + std::countr_zero(out));
      b = static_cast<uint32_t>((w + 1) * 64);
    }
    return limit;
  }
  // Last newline before p, at most `back` bytes back; returns the first byte of p's line
  // within that range.
  uint32_t LineStart(uint32_t p, uint32_t back) const {
    uint32_t lo = p > back ? p - back : 0;
    while (p > lo) {
      size_t w = (p - 1) / 64;
      uint32_t hi_bit = (p - 1) % 64;
      uint64_t bits = W(kNl, w) & (hi_bit == 63 ? ~uint64_t{0} : ((uint64_t{2} << hi_bit) - 1));
      if (bits) {
        uint32_t nl = static_cast<uint32_t>(w * 64 + 63 - std::countl_zero(bits));
        return nl >= lo ? nl + 1 : lo;
      }
      p = static_cast<uint32_t>(w * 64);
    }
    return lo;
  }
};

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
  for (int k = 0; k < kClasses; ++k) m_[k].resize(words);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (HaveAvx512())
    ClassifyAvx512(p, n, m_);
  else
    ClassifyScalar(p, n, m_);
  Masks M{m_, words};

  auto& lit = windows_[static_cast<int>(Stage::kLiteral)];
  auto& hex = windows_[static_cast<int>(Stage::kHexSep)];
  auto& kw = windows_[static_cast<int>(Stage::kKeyword)];
  auto& let = windows_[static_cast<int>(Stage::kLetters)];

  auto token = [&](size_t w) {
    return M.W(kD, w) | M.W(kU, w) | M.W(kL, w) | M.W(kUs, w) | M.W(kDash, w);
  };
  auto joined = [&](size_t w) {  // digits, and single separators between two digits
    uint64_t d = M.W(kD, w), dp = w ? M.W(kD, w - 1) : 0, dn = M.W(kD, w + 1);
    uint64_t sep = M.W(kSp, w) | M.W(kDot, w) | M.W(kDash, w) | M.W(kSl, w);
    return d | (sep & M.Prev(d, dp, 1) & M.Next(d, dn, 1));
  };
  // A value that a context keyword may precede: its window runs back to the keyword.
  auto keyword_value = [&](uint32_t pos) {
    uint32_t ls = M.LineStart(pos, 56);
    if (M.Count(kL, ls, pos) + M.Count(kU, ls, pos) >= 2) Add(&kw, ls, int64_t{pos} + 2, n);
  };

  // Token runs of 14+ characters ([A-Za-z0-9_-]): bit j of r14 says bytes j..j+13 are all
  // token bytes. Built by doubling over whole arrays so runs may cross words.
  for (auto* v : {&tok_, &r1_, &r2_, &r3_}) v->assign(words + 1, 0);
  for (size_t w = 0; w < words; ++w) tok_[w] = token(w);
  for (size_t w = 0; w < words; ++w) r1_[w] = tok_[w] & M.Next(tok_[w], tok_[w + 1], 1);
  for (size_t w = 0; w < words; ++w) r2_[w] = r1_[w] & M.Next(r1_[w], r1_[w + 1], 2);
  for (size_t w = 0; w < words; ++w) r3_[w] = r2_[w] & M.Next(r2_[w], r2_[w + 1], 4);

  uint64_t prev_j = 0;
  for (size_t w = 0; w < words; ++w) {
    const uint32_t base = static_cast<uint32_t>(w * 64);
    const uint64_t d = M.W(kD, w), dn = M.W(kD, w + 1);
    const uint64_t u = M.W(kU, w), l = M.W(kL, w);
    const uint64_t col = M.W(kCol, w), coln = M.W(kCol, w + 1);
    const uint64_t dash = M.W(kDash, w), dashn = M.W(kDash, w + 1);
    const uint64_t dot = M.W(kDot, w), dotn = M.W(kDot, w + 1);
    const uint64_t letters = u | l, lettersp = w ? M.W(kU, w - 1) | M.W(kL, w - 1) : 0;
    const uint64_t wordish = letters | d | M.W(kUs, w);
    const uint64_t wordishp = w ? lettersp | M.W(kD, w - 1) | M.W(kUs, w - 1) : 0;

    // ---- literal stage ----
    for (uint64_t b = M.W(kAt, w); b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      Add(&lit, int64_t{pos} - 1, int64_t{pos} + 2, n);
    }
    const uint64_t sl = M.W(kSl, w), sln = M.W(kSl, w + 1);
    for (uint64_t b = col & M.Next(sl, sln, 1) & M.Next(sl, sln, 2); b; b &= b - 1) {  // "://"
      uint32_t pos = base + std::countr_zero(b);
      Add(&lit, int64_t{pos} - 1, int64_t{pos} + 400, n);
    }
    for (uint64_t b = col & M.Next(col, coln, 1); b; b &= b - 1) {  // "::"
      uint32_t pos = base + std::countr_zero(b);
      Add(&lit, int64_t{pos} - 1, int64_t{pos} + 3, n);
    }
    uint64_t dash5 = dash;
    for (int k = 1; k < 5; ++k) dash5 &= M.Next(dash, dashn, k);
    for (uint64_t b = dash5 & ~M.Prev(dash, w ? M.W(kDash, w - 1) : 0, 1); b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      Add(&lit, pos, int64_t{pos} + 48, n);
    }
    const uint64_t r14 = r3_[w] & M.Next(r3_[w], r3_[w + 1], 6);
    for (uint64_t b = r14 & ~M.Prev(tok_[w], w ? tok_[w - 1] : 0, 1); b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      uint32_t end = M.RunEnd(pos, n, token);
      Add(&lit, int64_t{pos} - 1, int64_t{end} + 1, n);
      keyword_value(pos);
      if (end - pos >= 26 && (p[pos] == '1' || p[pos] == '3'))
        Add(&let, int64_t{pos} - 1, int64_t{end} + 1, n);
    }

    // ---- numbers ----
    const uint64_t j = joined(w);
    const uint64_t jstarts = j & ~((j << 1) | (prev_j >> 63));
    const uint64_t phl = M.W(kPhl, w);
    const uint64_t phl_digit = phl & M.Next(d, dn, 1);
    // J-runs of 6+ bytes only: "03", "+00", "44.1" never hold an entity.
    const uint64_t jn = joined(w + 1);
    uint64_t j6 = j & M.Next(j, jn, 1);
    j6 &= M.Next(j6, jn & (jn >> 1), 2);
    j6 &= M.Next(j6, jn & (jn >> 1) & (jn >> 2) & (jn >> 3), 2);
    const uint64_t long_starts = jstarts & j6;
    for (uint64_t b = long_starts | phl_digit; b; b &= b - 1) {
      const uint32_t pos = base + std::countr_zero(b);
      if (p[pos] == '(' || p[pos] == '+') {
        // '+' or '(' then enough digits close by for a phone number.
        if (M.Count(kD, pos + 1, std::min(n, pos + 20)) >= 7) numbers_.push_back({pos, pos + 1});
        continue;
      }
      const uint32_t end = M.RunEnd(pos, n, joined);
      const uint32_t digits = M.Count(kD, pos, end);
      if (digits >= 6 || (digits >= 4 && M.Count(kDot, pos, end) >= 3)) {
        numbers_.push_back({pos, end});
        if (digits >= 7 && pos > 0 && p[pos - 1] != '\n') keyword_value(pos);
      }
    }
    for (uint64_t b = phl; b; b &= b - 1) {  // INSERT INTO t (…, "(650) 253-0000"
      const uint32_t pos = base + std::countr_zero(b);
      if (p[pos] == '(') keyword_value(pos);
    }

    // ---- hex separators: MACs and full IPv6 ----
    uint64_t near_col = 0;
    for (int k = 2; k <= 5; ++k) near_col |= M.Next(col, coln, k);
    const uint64_t c2 = col & near_col;
    const uint64_t c2n = coln & (coln >> 2 | coln >> 3 | coln >> 4 | coln >> 5);
    uint64_t c3 = 0;
    for (int k = 2; k <= 5; ++k) c3 |= M.Next(c2, c2n, k);
    c3 &= c2;
    for (uint64_t b = c3; b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      Add(&hex, int64_t{pos} - 5, int64_t{pos} + 45, n);
    }
    const uint64_t mac_dash =
        dash & M.Next(dash, dashn, 3) & M.Next(dash, dashn, 6) & M.Next(dash, dashn, 9);
    for (uint64_t b = mac_dash; b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      Add(&hex, int64_t{pos} - 2, int64_t{pos} + 16, n);
    }
    for (uint64_t b = dot & M.Next(dot, dotn, 5); b; b &= b - 1) {  // Cisco 001a.2b3c.4d5e
      uint32_t pos = base + std::countr_zero(b);
      Add(&hex, int64_t{pos} - 4, int64_t{pos} + 11, n);
    }

    // ---- capitalised word starts: names, and values of context keywords ----
    const uint64_t word_before = M.Prev(wordish, wordishp, 1);
    const uint64_t hi = M.W(kHi, w);
    const uint64_t after = l | u | hi | dot;
    const uint64_t aftern = M.W(kL, w + 1) | M.W(kU, w + 1) | M.W(kHi, w + 1) | dotn;
    const uint64_t cap = ((u & M.Next(after, aftern, 1)) | hi) & ~word_before;
    for (uint64_t b = cap; b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      name_starts_.push_back(pos);
      keyword_value(pos);
    }
    // '=' or ':' right after a word: "password=", "SSN: ", "\"api_key\": ".
    const uint64_t assign = M.W(kEq, w) | col;
    const uint64_t near_letter = M.Prev(letters, lettersp, 1) | M.Prev(letters, lettersp, 2);
    for (uint64_t b = assign & near_letter; b; b &= b - 1)
      keyword_value(base + std::countr_zero(b));

    // ---- letters: a house number then a capitalised word (street lines) ----
    const uint64_t sp = M.W(kSp, w), spn = M.W(kSp, w + 1);
    for (uint64_t b = d & M.Next(sp, spn, 1) & M.Next(u, M.W(kU, w + 1), 2); b; b &= b - 1) {
      uint32_t pos = base + std::countr_zero(b);
      Add(&let, int64_t{pos} - 6, int64_t{pos} + 90, n);
    }
    prev_j = j;
  }
  for (auto& v : windows_) Merge(&v);
}

}  // namespace veil::masker
