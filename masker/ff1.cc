#include "masker/ff1.h"

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <bit>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace veil::masker {
namespace {

using U128 = unsigned __int128;

constexpr size_t kBlock = 16;
constexpr int kRounds = 10;
// The 128-bit path holds radix^v <= 2^96, so b <= 12 bytes, d <= 16 (y = NUM(S) is one AES
// block and fits in 128 bits) and NUM(A) + (y mod radix^m) < 2^97 cannot overflow.
constexpr U128 kSmallPathLimit = U128{1} << 96;
constexpr std::string_view kAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

Error Fail(std::string message) { return Error{"ff1: " + std::move(message)}; }

// radix^e, or limit + 1 if that exceeds limit (limit < 2^127 so the product cannot wrap).
U128 PowSaturated(unsigned radix, size_t e, U128 limit) {
  U128 p = 1;
  for (size_t i = 0; i < e; ++i) {
    p *= radix;
    if (p > limit) return limit + 1;
  }
  return p;
}

int BitLength(U128 x) {
  const uint64_t hi = static_cast<uint64_t>(x >> 64);
  const uint64_t lo = static_cast<uint64_t>(x);
  if (hi != 0) return 128 - __builtin_clzll(hi);
  if (lo != 0) return 64 - __builtin_clzll(lo);
  return 0;
}

// NUM_radix for the 128-bit path.
U128 NumSmall(std::span<const uint8_t> x, unsigned radix) {
  U128 v = 0;
  for (uint8_t d : x) v = v * radix + d;
  return v;
}

// STR^m_radix for the 128-bit path; v < radix^out.size().
void StrSmall(U128 v, unsigned radix, std::span<uint8_t> out) {
  size_t i = out.size();
  // 128-bit division is a library call; drop to 64 bits as soon as the value allows.
  while (i > 0 && (v >> 64) != 0) {
    out[--i] = static_cast<uint8_t>(v % radix);
    v /= radix;
  }
  uint64_t v64 = static_cast<uint64_t>(v);
  while (i > 0) {
    out[--i] = static_cast<uint8_t>(v64 % radix);
    v64 /= radix;
  }
}

uint64_t BigEndian64(uint64_t x) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(x);
  return x;
}

// Writes the low `len` (<= 16) bytes of v big-endian.
void StoreBigEndian(U128 v, uint8_t* out, size_t len) {
  const uint64_t words[2] = {BigEndian64(static_cast<uint64_t>(v >> 64)),
                             BigEndian64(static_cast<uint64_t>(v))};
  std::memcpy(out, reinterpret_cast<const uint8_t*>(words) + kBlock - len, len);
}

// Reads the first `len` (1..16) bytes of a 16-byte block as a big-endian number.
U128 LoadBigEndian(const uint8_t block[16], size_t len) {
  uint64_t hi, lo;
  std::memcpy(&hi, block, 8);
  std::memcpy(&lo, block + 8, 8);
  const U128 v = (U128{BigEndian64(hi)} << 64) | BigEndian64(lo);
  return v >> (8 * (kBlock - len));
}

void XorBlock(uint8_t* dst, const uint8_t* src) {
  uint64_t d[2], s[2];
  std::memcpy(d, dst, kBlock);
  std::memcpy(s, src, kBlock);
  d[0] ^= s[0];
  d[1] ^= s[1];
  std::memcpy(dst, d, kBlock);
}

// BN_CTX_start/BN_CTX_end as a scope, so every return path releases the frame.
class BnFrame {
 public:
  explicit BnFrame(BN_CTX* ctx) : ctx_(ctx) { BN_CTX_start(ctx_); }
  ~BnFrame() { BN_CTX_end(ctx_); }
  BnFrame(const BnFrame&) = delete;
  BnFrame& operator=(const BnFrame&) = delete;

 private:
  BN_CTX* ctx_;
};

constexpr BN_ULONG kBnWordMax = std::numeric_limits<BN_ULONG>::max();

// NUM_radix into a BIGNUM, one machine word of numerals at a time.
bool NumBignum(std::span<const uint8_t> x, unsigned radix, BIGNUM* out) {
  BN_zero(out);
  size_t i = 0;
  while (i < x.size()) {
    BN_ULONG chunk = 0;
    BN_ULONG scale = 1;
    for (; i < x.size() && scale <= kBnWordMax / radix; ++i) {
      chunk = chunk * radix + x[i];
      scale *= radix;
    }
    if (!BN_mul_word(out, scale) || !BN_add_word(out, chunk)) return false;
  }
  return true;
}

bool PowBignum(unsigned radix, size_t e, BIGNUM* out) {
  if (!BN_one(out)) return false;
  while (e > 0) {
    BN_ULONG scale = 1;
    for (; e > 0 && scale <= kBnWordMax / radix; --e) scale *= radix;
    if (!BN_mul_word(out, scale)) return false;
  }
  return true;
}

// STR^m_radix from a BIGNUM; consumes `v` (v < radix^out.size()).
bool StrBignum(BIGNUM* v, unsigned radix, std::span<uint8_t> out) {
  size_t i = out.size();
  while (i > 0) {
    BN_ULONG scale = 1;
    size_t chunk = 0;
    for (; chunk < i && scale <= kBnWordMax / radix; ++chunk) scale *= radix;
    BN_ULONG rem = BN_div_word(v, scale);
    if (rem == static_cast<BN_ULONG>(-1)) return false;
    for (size_t k = 0; k < chunk; ++k) {
      out[--i] = static_cast<uint8_t>(rem % radix);
      rem /= radix;
    }
  }
  return true;
}

}  // namespace

// The byte layout of one FF1 call (SP 800-38G Algorithm 7, steps 1-5), shared by both paths.
struct Ff1::Layout {
  Layout(size_t n_in, size_t t_in, size_t b_in)
      : n(n_in),
        u(n_in / 2),
        v(n_in - n_in / 2),
        t(t_in),
        b(b_in),
        d(4 * ((b_in + 3) / 4) + 4),
        pad((kBlock - (t_in + b_in + 1) % kBlock) % kBlock),
        carry_len((t_in + pad) % kBlock),
        tail_len(carry_len + 1 + b_in) {}

  size_t n, u, v, t, b, d;
  size_t pad;        // zero bytes between T and the round number in Q
  size_t carry_len;  // bytes of T || pad that share a block with the round number
  size_t tail_len;   // per-round CBC-MAC input: carry || [i]^1 || [NUM(B)]^b
};

void Ff1::CipherCtxDeleter::operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
void Ff1::BnCtxDeleter::operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }

Ff1::Ff1(std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> aes,
         std::unique_ptr<BN_CTX, BnCtxDeleter> bn, unsigned radix)
    : aes_(std::move(aes)), bn_(std::move(bn)), radix_(radix), min_length_(2) {
  while (PowSaturated(radix_, min_length_, kMinDomainSize) < kMinDomainSize) ++min_length_;
  for (U128 p = 1; p <= kSmallPathLimit; p *= radix_) small_powers_.push_back(p);
}
Ff1::Ff1(Ff1&&) noexcept = default;
Ff1& Ff1::operator=(Ff1&&) noexcept = default;
Ff1::~Ff1() = default;

Result<Ff1> Ff1::Create(std::span<const uint8_t> key, unsigned radix) {
  const EVP_CIPHER* cipher = nullptr;
  switch (key.size()) {
    case 16:
      cipher = EVP_aes_128_ecb();
      break;
    case 24:
      cipher = EVP_aes_192_ecb();
      break;
    case 32:
      cipher = EVP_aes_256_ecb();
      break;
    default:
      return Fail("key must be 16, 24 or 32 bytes (AES-128/192/256), got " +
                  std::to_string(key.size()));
  }
  if (radix < kMinRadix || radix > kMaxRadix) {
    return Fail("radix must be in [" + std::to_string(kMinRadix) + ", " +
                std::to_string(kMaxRadix) + "], got " + std::to_string(radix));
  }
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> aes(EVP_CIPHER_CTX_new());
  if (aes == nullptr || EVP_EncryptInit_ex2(aes.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(aes.get(), 0) != 1) {
    return Fail("cannot initialise AES-ECB in OpenSSL");
  }
  std::unique_ptr<BN_CTX, BnCtxDeleter> bn(BN_CTX_new());
  if (bn == nullptr) return Fail("cannot allocate BN_CTX");
  return Ff1(std::move(aes), std::move(bn), radix);
}

Status Ff1::Encrypt(std::span<const uint8_t> numerals, std::span<const uint8_t> tweak,
                    std::span<uint8_t> out) {
  return Crypt(/*encrypt=*/true, numerals, tweak, out);
}

Status Ff1::Decrypt(std::span<const uint8_t> numerals, std::span<const uint8_t> tweak,
                    std::span<uint8_t> out) {
  return Crypt(/*encrypt=*/false, numerals, tweak, out);
}

Result<std::string> Ff1::EncryptString(std::string_view text, std::string_view tweak) {
  return CryptString(/*encrypt=*/true, text, tweak);
}

Result<std::string> Ff1::DecryptString(std::string_view text, std::string_view tweak) {
  return CryptString(/*encrypt=*/false, text, tweak);
}

Result<std::string> Ff1::CryptString(bool encrypt, std::string_view text, std::string_view tweak) {
  if (radix_ > kAlphabet.size()) {
    return Fail("the string API supports radix <= 36, this cipher has radix " +
                std::to_string(radix_));
  }
  std::string out(text);
  auto* numerals = reinterpret_cast<uint8_t*>(out.data());
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    unsigned numeral;
    if (c >= '0' && c <= '9') {
      numeral = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      numeral = c - 'a' + 10;
    } else {
      return Fail("character at position " + std::to_string(i) + " is not in [0-9a-z]");
    }
    if (numeral >= radix_) {
      return Fail("character '" + std::string(1, c) + "' at position " + std::to_string(i) +
                  " is not a radix-" + std::to_string(radix_) + " digit");
    }
    numerals[i] = static_cast<uint8_t>(numeral);
  }
  std::span<uint8_t> buf(numerals, out.size());
  const std::span<const uint8_t> tweak_bytes(reinterpret_cast<const uint8_t*>(tweak.data()),
                                             tweak.size());
  if (Status s = Crypt(encrypt, buf, tweak_bytes, buf); !s.ok()) return s.error();
  for (char& c : out) c = kAlphabet[static_cast<uint8_t>(c)];
  return out;
}

Status Ff1::Crypt(bool encrypt, std::span<const uint8_t> numerals, std::span<const uint8_t> tweak,
                  std::span<uint8_t> out) {
  const size_t n = numerals.size();
  if (out.size() != n) {
    return Fail("output size " + std::to_string(out.size()) + " differs from input size " +
                std::to_string(n));
  }
  if (n < 2 || n > kMaxLength) {
    return Fail("length must be in [2, " + std::to_string(kMaxLength) + "], got " +
                std::to_string(n));
  }
  if (n < min_length_) {
    return Fail("domain too small: radix " + std::to_string(radix_) + " with " + std::to_string(n) +
                " numerals has fewer than 1,000,000 values (NIST SP 800-38G)");
  }
  if (tweak.size() > kMaxTweakLength) {
    return Fail("tweak longer than " + std::to_string(kMaxTweakLength) + " bytes");
  }
  for (size_t i = 0; i < n; ++i) {
    if (numerals[i] >= radix_) {
      return Fail("numeral " + std::to_string(numerals[i]) + " at position " + std::to_string(i) +
                  " is not below radix " + std::to_string(radix_));
    }
  }

  const size_t v = n - n / 2;
  if (v >= small_powers_.size() || force_bignum_) {
    return CryptBignum(encrypt, numerals, tweak, out);
  }
  const U128 mod_u = small_powers_[n / 2];
  const U128 mod_v = small_powers_[v];
  // b = ceil(ceil(v * log2(radix)) / 8) is the byte length of radix^v - 1, computed exactly.
  const Layout layout(n, tweak.size(), (BitLength(mod_v - 1) + 7) / 8);

  uint8_t mac[kBlock];
  uint8_t tail[2 * kBlock];  // carry_len + 1 + b <= 15 + 1 + 12
  if (!MacPrefix(layout, tweak, mac, tail)) return Fail("AES failed");

  U128 a = NumSmall(numerals.first(layout.u), radix_);
  U128 b = NumSmall(numerals.subspan(layout.u), radix_);
  for (int j = 0; j < kRounds; ++j) {
    const int i = encrypt ? j : kRounds - 1 - j;
    tail[layout.carry_len] = static_cast<uint8_t>(i);
    StoreBigEndian(encrypt ? b : a, tail + layout.carry_len + 1, layout.b);
    uint8_t r[kBlock];
    if (!MacTail(mac, tail, layout.tail_len, r)) return Fail("AES failed");
    const U128 m = i % 2 == 0 ? mod_u : mod_v;
    const U128 y = LoadBigEndian(r, layout.d) % m;
    // A and B are kept as numbers: NUM_radix(STR^m_radix(c)) == c, so no per-round digits.
    if (encrypt) {
      U128 c = a + y;
      if (c >= m) c -= m;
      a = b;
      b = c;
    } else {
      const U128 c = b >= y ? b - y : b + m - y;
      b = a;
      a = c;
    }
  }
  StrSmall(a, radix_, out.first(layout.u));
  StrSmall(b, radix_, out.subspan(layout.u));
  return Status::Ok();
}

Status Ff1::CryptBignum(bool encrypt, std::span<const uint8_t> numerals,
                        std::span<const uint8_t> tweak, std::span<uint8_t> out) {
  BN_CTX* ctx = bn_.get();
  BnFrame frame(ctx);
  BIGNUM* a = BN_CTX_get(ctx);
  BIGNUM* b = BN_CTX_get(ctx);
  BIGNUM* c = BN_CTX_get(ctx);
  BIGNUM* y = BN_CTX_get(ctx);
  BIGNUM* mod_u = BN_CTX_get(ctx);
  BIGNUM* mod_v = BN_CTX_get(ctx);
  if (mod_v == nullptr) return Fail("out of memory in BN_CTX");  // later gets fail too

  const size_t n = numerals.size();
  const size_t u = n / 2;
  const size_t v = n - u;
  if (!PowBignum(radix_, u, mod_u) || !PowBignum(radix_, v, mod_v) || !BN_copy(c, mod_v) ||
      !BN_sub_word(c, 1) || !NumBignum(numerals.first(u), radix_, a) ||
      !NumBignum(numerals.subspan(u), radix_, b)) {
    return Fail("BIGNUM arithmetic failed");
  }
  const Layout layout(n, tweak.size(), (static_cast<size_t>(BN_num_bits(c)) + 7) / 8);

  uint8_t mac[kBlock];
  std::vector<uint8_t> tail(layout.tail_len);
  if (!MacPrefix(layout, tweak, mac, tail.data())) return Fail("AES failed");
  const size_t s_blocks = (layout.d + kBlock - 1) / kBlock;
  std::vector<uint8_t> s(s_blocks * kBlock);

  for (int j = 0; j < kRounds; ++j) {
    const int i = encrypt ? j : kRounds - 1 - j;
    tail[layout.carry_len] = static_cast<uint8_t>(i);
    if (BN_bn2binpad(encrypt ? b : a, tail.data() + layout.carry_len + 1,
                     static_cast<int>(layout.b)) < 0) {
      return Fail("BIGNUM wider than b bytes");
    }
    if (!MacTail(mac, tail.data(), tail.size(), s.data())) return Fail("AES failed");
    // S = R || CIPH(R xor [1]^16) || CIPH(R xor [2]^16) || ..., truncated to d bytes.
    for (size_t k = 1; k < s_blocks; ++k) {
      uint8_t* blk = s.data() + k * kBlock;
      std::memcpy(blk, s.data(), kBlock);
      for (size_t byte = 0; byte < sizeof(k); ++byte) {
        blk[kBlock - 1 - byte] ^= static_cast<uint8_t>(k >> (8 * byte));
      }
    }
    if (s_blocks > 1 && !Ciph(s.data() + kBlock, s.data() + kBlock, s_blocks - 1)) {
      return Fail("AES failed");
    }
    if (BN_bin2bn(s.data(), static_cast<int>(layout.d), y) == nullptr) {
      return Fail("BIGNUM arithmetic failed");
    }
    const BIGNUM* m = i % 2 == 0 ? mod_u : mod_v;
    if (encrypt) {
      if (!BN_mod_add(c, a, y, m, ctx)) return Fail("BIGNUM arithmetic failed");
      std::swap(a, b);  // A = B
      std::swap(b, c);  // B = C; c is now scratch
    } else {
      if (!BN_mod_sub(c, b, y, m, ctx)) return Fail("BIGNUM arithmetic failed");
      std::swap(b, a);  // B = A
      std::swap(a, c);  // A = C; c is now scratch
    }
  }
  if (!StrBignum(a, radix_, out.first(u)) || !StrBignum(b, radix_, out.subspan(u))) {
    return Fail("BIGNUM arithmetic failed");
  }
  return Status::Ok();
}

bool Ff1::Ciph(const uint8_t* in, uint8_t* out, size_t blocks) {
  const int len = static_cast<int>(blocks * kBlock);
  int out_len = 0;
  return EVP_EncryptUpdate(aes_.get(), out, &out_len, in, len) == 1 && out_len == len;
}

bool Ff1::MacPrefix(const Layout& layout, std::span<const uint8_t> tweak, uint8_t mac[16],
                    uint8_t carry[16]) {
  // P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 || [u mod 256]^1 || [n]^4 || [t]^4
  const uint8_t p[kBlock] = {
      1,
      2,
      1,
      static_cast<uint8_t>(radix_ >> 16),
      static_cast<uint8_t>(radix_ >> 8),
      static_cast<uint8_t>(radix_),
      kRounds,
      static_cast<uint8_t>(layout.u),
      static_cast<uint8_t>(layout.n >> 24),
      static_cast<uint8_t>(layout.n >> 16),
      static_cast<uint8_t>(layout.n >> 8),
      static_cast<uint8_t>(layout.n),
      static_cast<uint8_t>(layout.t >> 24),
      static_cast<uint8_t>(layout.t >> 16),
      static_cast<uint8_t>(layout.t >> 8),
      static_cast<uint8_t>(layout.t),
  };
  if (!Ciph(p, mac, 1)) return false;
  // Q begins with T || [0]^pad; MAC its whole blocks once instead of once per round.
  const size_t prefix_len = layout.t + layout.pad;
  const size_t whole = prefix_len - layout.carry_len;
  auto prefix_byte = [&](size_t pos) -> uint8_t { return pos < tweak.size() ? tweak[pos] : 0; };
  for (size_t off = 0; off < whole; off += kBlock) {
    for (size_t k = 0; k < kBlock; ++k) mac[k] ^= prefix_byte(off + k);
    if (!Ciph(mac, mac, 1)) return false;
  }
  for (size_t k = 0; k < layout.carry_len; ++k) carry[k] = prefix_byte(whole + k);
  return true;
}

bool Ff1::MacTail(const uint8_t mac[16], const uint8_t* tail, size_t tail_len, uint8_t r[16]) {
  std::memcpy(r, mac, kBlock);
  for (size_t off = 0; off < tail_len; off += kBlock) {
    XorBlock(r, tail + off);
    if (!Ciph(r, r, 1)) return false;
  }
  return true;
}

}  // namespace veil::masker
