// Masking strategies (SPEC §6): what a detected value is replaced with.
//
//   redact   "[EMAIL]"
//   partial  type-aware reveal: cards and SSNs keep at most the last 4 ("***-**-6789"),
//            emails the first letter and the domain, IPs the network part; secrets reveal
//            nothing (partial = redact for them)
//   hash     deterministic keyed HMAC-SHA-256 token in the entity's shape
//            ("u_3f9a1c0b2d@masked.invalid"), so joins and distinct counts survive
//   fpe      FF1 (NIST SP 800-38G) over the digits, separators kept; values with fewer
//            than 6 digits (below FF1's minimum domain) fall back to hash
//   null     the cell becomes SQL NULL; in free text the value is removed
//   fake     realistic surrogates in reserved ranges (masker/fake.h: names, example.com
//            emails, 555-01xx phones, Luhn-valid cards, 9xx SSNs, mod-97 IBANs, shifted
//            dates), keyed by the same HMAC as hash; other entities get hash's output
//
// The key is 32 random bytes in `masking.key_file`; HMAC and FF1 keys are derived from it
// with distinct labels. A StrategyApplier is per-thread (it owns OpenSSL contexts).
#pragma once

#include <openssl/sha.h>
#include <openssl/types.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "masker/entity.h"
#include "masker/fake.h"
#include "masker/ff1.h"

namespace veil::masker {

enum class Strategy : uint8_t { kRedact, kPartial, kHash, kFpe, kNull, kFake };

std::optional<Strategy> StrategyFromName(std::string_view name);
std::string_view StrategyName(Strategy s);

// The profile's secret. Immutable; share it between threads.
class MaskKey {
 public:
  static constexpr size_t kSize = 32;
  // Reads the key file, or creates it (0600, 32 random bytes; parent folder 0700) if absent.
  // Refuses a key file that is group- or world-readable, or of the wrong size.
  static Result<std::shared_ptr<const MaskKey>> LoadOrCreate(const std::string& path);
  static std::shared_ptr<const MaskKey> FromBytes(const std::array<uint8_t, kSize>& bytes);

  const std::array<uint8_t, kSize>& hmac_key() const { return hmac_key_; }
  const std::array<uint8_t, kSize>& fpe_key() const { return fpe_key_; }

 private:
  std::array<uint8_t, kSize> hmac_key_{};
  std::array<uint8_t, kSize> fpe_key_{};
};

class StrategyApplier {
 public:
  explicit StrategyApplier(std::shared_ptr<const MaskKey> key, fake::Options fake = {});
  ~StrategyApplier();
  StrategyApplier(const StrategyApplier&) = delete;
  StrategyApplier& operator=(const StrategyApplier&) = delete;

  // Appends the replacement for `value` (a detected `entity` named `name`) to *out.
  // kNull appends nothing; the caller decides what NULL means in its context.
  void Apply(Strategy strategy, uint8_t entity, std::string_view name, std::string_view value,
             std::string* out);

 private:
  void Redact(std::string_view name, std::string* out);
  void Partial(uint8_t entity, std::string_view name, std::string_view value, std::string* out);
  void Hash(uint8_t entity, std::string_view name, std::string_view value, std::string* out);
  void Fpe(uint8_t entity, std::string_view name, std::string_view value, std::string* out);
  void Fake(uint8_t entity, std::string_view name, std::string_view value, std::string* out);
  void FakeDraw(Entity entity, std::string_view name, std::string_view value,
                std::array<uint8_t, 32> mac, uint64_t original, std::string* out);
  // HMAC-SHA-256(hmac_key, name || 0 || value).
  std::array<uint8_t, 32> Mac(std::string_view name, std::string_view value);

  std::shared_ptr<const MaskKey> key_;
  fake::Options fake_;
  std::optional<Ff1> ff1_;
  // SHA-256 with the HMAC key's inner and outer pads absorbed (Mac copies them per value).
  SHA256_CTX inner_{};
  SHA256_CTX outer_{};
  bool precomputed_ = false;
  std::string scratch_;
  std::string fake_draw_, fake_label_;
  // The last surrogates by MAC fingerprint (direct-mapped, allocated on first use): a value seen
  // again skips drawing and the registry. An original's surrogate never changes for the
  // registry's life, and the key is its MAC, so nothing raw is kept here.
  struct FakeCached {
    uint64_t original = 0;
    uint8_t entity = 0xff;
    std::string surrogate;
  };
  static constexpr size_t kFakeCacheSize = 4096;
  std::vector<FakeCached> fake_cache_;
};

}  // namespace veil::masker
