// FF1 format-preserving encryption: encrypts a string of numerals in radix r into another string
// of the same length and radix, so a masked card number is still 16 digits and a masked account
// id still alphanumeric. Deterministic for a given key and tweak, and reversible with the key.
//
// Implements FF1 from NIST SP 800-38G (Rev. 1), "Recommendation for Block Cipher Modes of
// Operation: Methods for Format-Preserving Encryption", with AES-128/192/256 as the block cipher
// (https://csrc.nist.gov/pubs/sp/800/38/g/r1/final). Tested against NIST's FF1 samples.
//
//   auto ff1 = Ff1::Create(key, 10);
//   if (!ff1.ok()) return Error{ff1.error().message};
//   Result<std::string> masked = ff1->EncryptString("4111111111111111", "tenant-42");
//
// Inputs with radix^ceil(n/2) <= 2^96 (radix 10: up to 56 digits; radix 36: up to 36
// characters) take a fast path on 128-bit integers, where Encrypt/Decrypt do not allocate;
// longer ones use OpenSSL BIGNUM.
//
// Thread-safety: an Ff1 object is NOT thread-safe, not even for concurrent Encrypt calls (it
// owns a cipher context and a bignum scratch context). Use one object per thread; creating one
// costs a key schedule.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::masker {

class Ff1 {
 public:
  static constexpr unsigned kMinRadix = 2;
  // Numerals travel as uint8_t; the string API additionally requires radix <= 36.
  static constexpr unsigned kMaxRadix = 256;
  // NIST SP 800-38G Rev. 1 requires radix^minlen >= 1,000,000.
  static constexpr uint64_t kMinDomainSize = 1'000'000;
  static constexpr size_t kMaxLength = size_t{1} << 16;       // numerals per message
  static constexpr size_t kMaxTweakLength = size_t{1} << 16;  // bytes

  // key: 16, 24 or 32 bytes (AES-128/192/256); it is not retained beyond the AES key schedule.
  // radix: in [kMinRadix, kMaxRadix].
  static Result<Ff1> Create(std::span<const uint8_t> key, unsigned radix);

  Ff1(Ff1&&) noexcept;
  Ff1& operator=(Ff1&&) noexcept;
  ~Ff1();

  unsigned radix() const { return radix_; }

  // Encrypts the numeral string `numerals` (each element in [0, radix)) under `tweak` into
  // `out`, which must have the same size. `out` may be the same buffer as `numerals`.
  // Fails, leaving `out` unspecified, if a numeral is out of range, the length is outside
  // [2, kMaxLength] or radix^length < kMinDomainSize, or the tweak exceeds kMaxTweakLength.
  Status Encrypt(std::span<const uint8_t> numerals, std::span<const uint8_t> tweak,
                 std::span<uint8_t> out);
  // Inverse of Encrypt under the same key, radix and tweak; same constraints.
  Status Decrypt(std::span<const uint8_t> numerals, std::span<const uint8_t> tweak,
                 std::span<uint8_t> out);

  // Character convenience for radix <= 36: '0'-'9' are numerals 0-9 and 'a'-'z' are 10-35
  // (lowercase only, so that Decrypt restores the exact input). The tweak is taken as bytes.
  Result<std::string> EncryptString(std::string_view text, std::string_view tweak);
  Result<std::string> DecryptString(std::string_view text, std::string_view tweak);

  // Routes every input through the BIGNUM path, so tests can check it against the NIST samples
  // (which are all small enough for the 128-bit path).
  void ForceBignumForTesting(bool force) { force_bignum_ = force; }

 private:
  struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const;
  };
  struct BnCtxDeleter {
    void operator()(BN_CTX* ctx) const;
  };
  struct Layout;

  Ff1(std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> aes,
      std::unique_ptr<BN_CTX, BnCtxDeleter> bn, unsigned radix);

  Status Crypt(bool encrypt, std::span<const uint8_t> numerals, std::span<const uint8_t> tweak,
               std::span<uint8_t> out);
  Status CryptSmall(bool encrypt, const Layout& layout, std::span<const uint8_t> numerals,
                    std::span<uint8_t> out);
  Status CryptBignum(bool encrypt, std::span<const uint8_t> numerals,
                     std::span<const uint8_t> tweak, std::span<uint8_t> out);
  Result<std::string> CryptString(bool encrypt, std::string_view text, std::string_view tweak);

  // AES-ECB on `blocks` consecutive 16-byte blocks; in == out is allowed.
  bool Ciph(const uint8_t* in, uint8_t* out, size_t blocks);
  // CBC-MAC (zero IV) over P || T || zero padding, excluding the trailing partial block of the
  // padded tweak, which is copied into `carry` (carry_len bytes) for the per-round blocks.
  bool MacPrefix(const Layout& layout, std::span<const uint8_t> tweak, uint8_t mac[16],
                 uint8_t carry[16]);
  // Continues the CBC-MAC from `mac` over `tail` (a multiple of 16 bytes) into `r`.
  bool MacTail(const uint8_t mac[16], const uint8_t* tail, size_t tail_len, uint8_t r[16]);

  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> aes_;
  std::unique_ptr<BN_CTX, BnCtxDeleter> bn_;
  unsigned radix_;
  size_t min_length_;  // smallest n with radix^n >= kMinDomainSize
  // radix^k for every k with radix^k <= 2^96: the moduli of the 128-bit path.
  std::vector<unsigned __int128> small_powers_;
  bool force_bignum_ = false;
};

}  // namespace veil::masker
