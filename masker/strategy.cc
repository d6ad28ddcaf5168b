// The HMAC below copies SHA256_CTX states, an API OpenSSL 3 deprecates (see the constructor).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "masker/strategy.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace veil::masker {
namespace {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }

bool IsSecret(uint8_t e) {
  switch (static_cast<Entity>(e)) {
    case Entity::kJwt:
    case Entity::kAwsAccessKey:
    case Entity::kAwsSecretKey:
    case Entity::kGcpApiKey:
    case Entity::kGithubToken:
    case Entity::kSlackToken:
    case Entity::kStripeKey:
    case Entity::kOpenAiApiKey:
    case Entity::kPrivateKey:
    case Entity::kPasswordInUrl:
    case Entity::kGenericSecret:
    case Entity::kApiToken:
      return true;
    default:
      return e >= kFirstCustom;  // custom entities reveal nothing either
  }
}

std::array<uint8_t, 32> Derive(const std::array<uint8_t, 32>& root, std::string_view label) {
  std::array<uint8_t, 32> out{};
  unsigned len = 0;
  HMAC(EVP_sha256(), root.data(), static_cast<int>(root.size()),
       reinterpret_cast<const unsigned char*>(label.data()), label.size(), out.data(), &len);
  return out;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::optional<Strategy> StrategyFromName(std::string_view n) {
  if (n == "redact") return Strategy::kRedact;
  if (n == "partial") return Strategy::kPartial;
  if (n == "hash") return Strategy::kHash;
  if (n == "fpe") return Strategy::kFpe;
  if (n == "null") return Strategy::kNull;
  if (n == "fake") return Strategy::kFake;
  return std::nullopt;
}

std::string_view StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kRedact:
      return "redact";
    case Strategy::kPartial:
      return "partial";
    case Strategy::kHash:
      return "hash";
    case Strategy::kFpe:
      return "fpe";
    case Strategy::kNull:
      return "null";
    case Strategy::kFake:
      return "fake";
  }
  return "?";
}

std::shared_ptr<const MaskKey> MaskKey::FromBytes(const std::array<uint8_t, kSize>& bytes) {
  auto k = std::make_shared<MaskKey>();
  k->hmac_key_ = Derive(bytes, "veil.mask.hmac.v1");
  k->fpe_key_ = Derive(bytes, "veil.mask.ff1.v1");
  return k;
}

Result<std::shared_ptr<const MaskKey>> MaskKey::LoadOrCreate(const std::string& path) {
  std::array<uint8_t, kSize> bytes{};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (!dir.empty() && !std::filesystem::exists(dir)) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return Error{"cannot create " + dir.string() + ": " + ec.message()};
      ::chmod(dir.c_str(), 0700);
    }
    if (RAND_bytes(bytes.data(), kSize) != 1) return Error{"no randomness for the mask key"};
    int w = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w < 0) return Error{"cannot create mask key " + path + ": " + std::strerror(errno)};
    bool ok = ::write(w, bytes.data(), kSize) == static_cast<ssize_t>(kSize) && ::fsync(w) == 0;
    ::close(w);
    if (!ok) return Error{"cannot write mask key " + path};
    return FromBytes(bytes);
  }
  if (fd < 0) return Error{"cannot open mask key " + path + ": " + std::strerror(errno)};
  struct stat st {};
  ::fstat(fd, &st);
  if (st.st_mode & 0077) {
    ::close(fd);
    return Error{"mask key " + path + " is readable by group or others; chmod 600 it"};
  }
  ssize_t n = ::read(fd, bytes.data(), kSize);
  char extra;
  ssize_t more = ::read(fd, &extra, 1);
  ::close(fd);
  if (n != static_cast<ssize_t>(kSize) || more != 0)
    return Error{"mask key " + path + " must hold exactly 32 bytes"};
  return FromBytes(bytes);
}

StrategyApplier::StrategyApplier(std::shared_ptr<const MaskKey> key, fake::Options fake)
    : key_(std::move(key)), fake_(fake) {
  auto f = Ff1::Create(key_->fpe_key(), 10);
  if (f.ok()) ff1_.emplace(std::move(f).value());
  // HMAC by its definition, SHA-256(K^opad || SHA-256(K^ipad || m)), with both padded-key
  // states absorbed once and copied per value. The one-shot HMAC() fetched the digest and built
  // three contexts per call (half of a masked pg_dump's CPU); EVP_MD_CTX_copy_ex still
  // allocated a provider context per copy. SHA256_CTX is a plain struct: copying it is a
  // 112-byte memcpy. (OpenSSL 3 marks the SHA256_* calls deprecated, not removed; they run the
  // same SHA-NI code.)
  const auto& k = key_->hmac_key();
  std::array<uint8_t, 64> ipad{}, opad{};
  static_assert(sizeof(k) <= 64, "an HMAC key longer than the block would be hashed first");
  for (size_t i = 0; i < 64; ++i) {
    uint8_t b = i < k.size() ? k[i] : 0;
    ipad[i] = b ^ 0x36;
    opad[i] = b ^ 0x5c;
  }
  precomputed_ = SHA256_Init(&inner_) == 1 && SHA256_Update(&inner_, ipad.data(), 64) == 1 &&
                 SHA256_Init(&outer_) == 1 && SHA256_Update(&outer_, opad.data(), 64) == 1;
  OPENSSL_cleanse(ipad.data(), ipad.size());
  OPENSSL_cleanse(opad.data(), opad.size());
}

StrategyApplier::~StrategyApplier() {
  OPENSSL_cleanse(&inner_, sizeof(inner_));
  OPENSSL_cleanse(&outer_, sizeof(outer_));
}

std::array<uint8_t, 32> StrategyApplier::Mac(std::string_view name, std::string_view value) {
  std::array<uint8_t, 32> out{};
  if (precomputed_) {
    static constexpr unsigned char kZero = 0;
    std::array<uint8_t, 32> inner{};
    SHA256_CTX c = inner_;
    SHA256_Update(&c, name.data(), name.size());
    SHA256_Update(&c, &kZero, 1);
    SHA256_Update(&c, value.data(), value.size());
    SHA256_Final(inner.data(), &c);
    c = outer_;
    SHA256_Update(&c, inner.data(), inner.size());
    SHA256_Final(out.data(), &c);
    return out;
  }
  // The same MAC the slow way (contexts could not be set up).
  scratch_.assign(name);
  scratch_.push_back('\0');
  scratch_.append(value);
  unsigned len = 0;
  HMAC(EVP_sha256(), key_->hmac_key().data(), static_cast<int>(key_->hmac_key().size()),
       reinterpret_cast<const unsigned char*>(scratch_.data()), scratch_.size(), out.data(), &len);
  return out;
}

void StrategyApplier::Apply(Strategy s, uint8_t entity, std::string_view name,
                            std::string_view value, std::string* out) {
  switch (s) {
    case Strategy::kRedact:
      Redact(name, out);
      return;
    case Strategy::kPartial:
      Partial(entity, name, value, out);
      return;
    case Strategy::kHash:
      Hash(entity, name, value, out);
      return;
    case Strategy::kFpe:
      Fpe(entity, name, value, out);
      return;
    case Strategy::kNull:
      return;
    case Strategy::kFake:
      Fake(entity, name, value, out);
      return;
  }
}

void StrategyApplier::Redact(std::string_view name, std::string* out) {
  out->push_back('[');
  out->append(name);
  out->push_back(']');
}

void StrategyApplier::Partial(uint8_t entity, std::string_view name, std::string_view v,
                              std::string* out) {
  if (IsSecret(entity)) return Redact(name, out);
  switch (static_cast<Entity>(entity)) {
    case Entity::kEmail: {
      size_t at = v.rfind('@');
      out->push_back(v.empty() ? '*' : v[0]);
      out->append("***");
      out->append(v.substr(at == std::string_view::npos ? v.size() : at));
      return;
    }
    case Entity::kPersonName: {  // initials: "J. D."
      bool start = true, first = true;
      for (char c : v) {
        if (c == ' ') {
          start = true;
          continue;
        }
        if (start) {
          if (!first) out->push_back(' ');
          out->push_back(c);
          out->push_back('.');
          first = false;
          start = false;
        }
      }
      return;
    }
    case Entity::kIpAddress: {  // keep the first two octets / groups
      char sep = v.find(':') != std::string_view::npos ? ':' : '.';
      int seen = 0;
      for (char c : v) {
        if (seen < 2) {
          out->push_back(c);
          if (c == sep) ++seen;
        } else {
          out->push_back(c == sep ? sep : '*');
        }
      }
      return;
    }
    case Entity::kMacAddress: {  // keep the vendor prefix (OUI, first 3 bytes)
      int hex = 0;
      for (char c : v) out->push_back(IsAlnum(c) && hex++ >= 6 ? '*' : c);
      return;
    }
    case Entity::kDateOfBirth: {  // keep the year only
      size_t year = std::string_view::npos;
      for (size_t i = 0; i + 4 <= v.size(); ++i)
        if (IsDigit(v[i]) && IsDigit(v[i + 1]) && IsDigit(v[i + 2]) && IsDigit(v[i + 3]) &&
            (i + 4 == v.size() || !IsDigit(v[i + 4])) && (i == 0 || !IsDigit(v[i - 1]))) {
          year = i;
          break;
        }
      for (size_t i = 0; i < v.size(); ++i)
        out->push_back(year != std::string_view::npos && i >= year && i < year + 4 ? v[i]
                       : IsAlnum(v[i])                                             ? '*'
                                                                                   : v[i]);
      return;
    }
    case Entity::kStreetAddress: {  // the house number goes, the street stays
      for (char c : v) out->push_back(IsDigit(c) ? '*' : c);
      return;
    }
    default: {  // numbers: everything but the last 4 alphanumerics (PCI: at most last 4)
      size_t alnum = 0;
      for (char c : v) alnum += IsAlnum(c);
      size_t keep_from = alnum > 8 ? alnum - 4 : alnum;  // short values reveal nothing
      size_t i = 0;
      for (char c : v) {
        if (IsAlnum(c)) {
          out->push_back(i >= keep_from ? c : '*');
          ++i;
        } else {
          out->push_back(c);
        }
      }
      return;
    }
  }
}

void StrategyApplier::Hash(uint8_t entity, std::string_view name, std::string_view v,
                           std::string* out) {
  std::array<uint8_t, 32> mac = Mac(name, v);
  auto hex = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) out->push_back(kHex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 15]);
  };
  switch (static_cast<Entity>(entity)) {
    case Entity::kEmail:
      out->append("u_");
      hex(10);
      out->append("@masked.invalid");
      return;
    case Entity::kIpAddress:
      if (v.find(':') != std::string_view::npos) {  // a unique-local IPv6 address
        out->append("fd00::");
        hex(4);
        out->push_back(':');
        for (size_t i = 4; i < 8; ++i) out->push_back(kHex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 15]);
      } else {  // 240.0.0.0/4 is reserved: a token that cannot be a real host
        *out += "240." + std::to_string(mac[0]) + "." + std::to_string(mac[1]) + "." +
                std::to_string(mac[2]);
      }
      return;
    case Entity::kMacAddress:  // locally administered unicast
      out->append("02");
      for (int i = 0; i < 5; ++i) {
        out->push_back(':');
        out->push_back(kHex[mac[i] >> 4]);
        out->push_back(kHex[mac[i] & 15]);
      }
      return;
    case Entity::kPersonName:
      out->append("Person_");
      hex(8);
      return;
    case Entity::kCreditCard:
    case Entity::kPhone:
    case Entity::kIban:
    case Entity::kUsSsn:
    case Entity::kUsItin:
    case Entity::kUsPassport:
    case Entity::kUsDriverLicense:
    case Entity::kUsBankRouting:
    case Entity::kUkNino:
    case Entity::kUkNhs:
    case Entity::kUsNpi:
    case Entity::kNationalId:
    case Entity::kBankAccount:
    case Entity::kCardCvv:
    case Entity::kDateOfBirth: {
      // Same shape: digits stay digits, letters stay letters, separators stay.
      // IBANs keep their country code so the shape still reads as an IBAN.
      size_t i = 0, k = 0;
      if (static_cast<Entity>(entity) == Entity::kIban && v.size() >= 2) {
        out->append(v.substr(0, 2));
        i = 2;
      }
      for (; i < v.size(); ++i) {
        char c = v[i];
        uint8_t r = mac[k++ % 32];
        if (IsDigit(c))
          out->push_back(static_cast<char>('0' + r % 10));
        else if (c >= 'A' && c <= 'Z')
          out->push_back(static_cast<char>('A' + r % 26));
        else if (c >= 'a' && c <= 'z')
          out->push_back(static_cast<char>('a' + r % 26));
        else
          out->push_back(c);
      }
      return;
    }
    default:
      for (char c : name) out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
      out->push_back('_');
      hex(12);
      return;
  }
}

void StrategyApplier::Fpe(uint8_t entity, std::string_view name, std::string_view v,
                          std::string* out) {
  uint8_t numerals[64];
  size_t n = 0;
  for (char c : v) {
    if (IsDigit(c)) {
      if (n == sizeof(numerals)) return Hash(entity, name, v, out);
      numerals[n++] = static_cast<uint8_t>(c - '0');
    }
  }
  if (!ff1_ || n < 6) return Hash(entity, name, v, out);  // below FF1's 10^6 domain
  uint8_t enc[64];
  std::span<const uint8_t> tweak(reinterpret_cast<const uint8_t*>(name.data()), name.size());
  if (!ff1_->Encrypt({numerals, n}, tweak, {enc, n}).ok()) return Hash(entity, name, v, out);
  size_t k = 0;
  for (char c : v) out->push_back(IsDigit(c) ? static_cast<char>('0' + enc[k++]) : c);
}

void StrategyApplier::Fake(uint8_t entity, std::string_view name, std::string_view v,
                           std::string* out) {
  // Custom entities share ids with no built-in; only built-ins have a realistic form.
  if (entity >= kBuiltinEntityCount) return Hash(entity, name, v, out);
  const Entity e = static_cast<Entity>(entity);
  std::array<uint8_t, 32> mac = Mac(name, v);
  const uint64_t original = fake::OriginalFingerprint(mac);
  if (fake_cache_.empty()) fake_cache_.resize(kFakeCacheSize);
  FakeCached& cached = fake_cache_[original % kFakeCacheSize];
  if (cached.original == original && cached.entity == entity) {
    out->append(cached.surrogate);
    return;
  }
  const size_t base = out->size();
  FakeDraw(e, name, v, mac, original, out);
  cached.original = original;
  cached.entity = entity;
  cached.surrogate.assign(*out, base, std::string::npos);
}

void StrategyApplier::FakeDraw(Entity e, std::string_view name, std::string_view v,
                               std::array<uint8_t, 32> mac, uint64_t original, std::string* out) {
  const auto entity = static_cast<uint8_t>(e);
  fake::SurrogateRegistry* reg = fake_.registry.get();
  // Shifted dates collide by design (a ±N-day window): no registry for them.
  if (reg == nullptr || e == Entity::kDateOfBirth) {
    if (fake::Surrogate(e, v, mac, fake_, out)) return;
    return Hash(entity, name, v, out);
  }
  std::string& s = fake_draw_;
  for (uint32_t k = 0; k < fake::kMaxAttempts; ++k) {
    if (k > 0) {  // draw k: the MAC of the value under "NAME#k" (names hold no '#')
      fake_label_.assign(name);
      fake_label_.push_back('#');
      fake_label_.append(std::to_string(k));
      mac = Mac(fake_label_, v);
    }
    s.clear();
    if (!fake::Surrogate(e, v, mac, fake_, &s, k)) return Hash(entity, name, v, out);
    switch (reg->TryClaim(fake::SurrogateFingerprint(entity, s), original)) {
      case fake::SurrogateRegistry::Claim::kNew:
        if (k > 0) reg->CountMoved();
        [[fallthrough]];
      case fake::SurrogateRegistry::Claim::kMine:
        out->append(s);
        return;
      case fake::SurrogateRegistry::Claim::kFull:
        reg->CountUnchecked();
        out->append(s);
        return;
      case fake::SurrogateRegistry::Claim::kTaken:
        break;
    }
  }
  reg->CountUnchecked();  // every draw taken: the last one, shared
  out->append(s);
}

}  // namespace veil::masker
