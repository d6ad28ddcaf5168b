#include "masker/strategy.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace veil::masker {
namespace {

std::shared_ptr<const MaskKey> TestKey() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i);
  return MaskKey::FromBytes(k);
}

std::string Apply(Strategy s, Entity e, std::string_view v) {
  StrategyApplier a(TestKey());
  std::string out;
  a.Apply(s, static_cast<uint8_t>(e), kBuiltinEntityNames[Index(e)], v, &out);
  return out;
}

TEST(Strategy, Redact) { EXPECT_EQ(Apply(Strategy::kRedact, Entity::kEmail, "a@b.io"), "[EMAIL]"); }

TEST(Strategy, PartialKeepsAtMostLastFour) {
  EXPECT_EQ(Apply(Strategy::kPartial, Entity::kUsSsn, "123-45-6789"), "***-**-6789");
  EXPECT_EQ(Apply(Strategy::kPartial, Entity::kCreditCard, "4111 1111 1111 1111"),
            "**** **** **** 1111");
  EXPECT_EQ(Apply(Strategy::kPartial, Entity::kEmail, "bob@example.com"), "b***@example.com");
  EXPECT_EQ(Apply(Strategy::kPartial, Entity::kGithubToken, "ghp_abc"), "[GITHUB_TOKEN]");
  EXPECT_EQ(Apply(Strategy::kPartial, Entity::kIpAddress, "203.0.113.7"), "203.0.***.*");
}

// The applier's HMAC (pads absorbed once, contexts reused) is HMAC-SHA-256 as OpenSSL's
// one-shot HMAC() computes it, value after value on one applier.
TEST(Strategy, HashTokenIsTheStandardHmac) {
  auto key = TestKey();
  StrategyApplier a(key);
  for (std::string v : {std::string("bob@example.com"), std::string(""), std::string(1000, 'x'),
                        std::string("alice@example.com"), std::string("bob@example.com")}) {
    std::string msg = std::string("EMAIL") + '\0' + v;
    unsigned char mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), key->hmac_key().data(), static_cast<int>(key->hmac_key().size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string want = "u_";
    for (size_t i = 0; i < 10; ++i) want.push_back(kHex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 15]);
    want += "@masked.invalid";
    std::string got;
    a.Apply(Strategy::kHash, static_cast<uint8_t>(Entity::kEmail), "EMAIL", v, &got);
    EXPECT_EQ(got, want) << v.size();
  }
}

TEST(Strategy, HashIsDeterministicAndShaped) {
  std::string a = Apply(Strategy::kHash, Entity::kEmail, "bob@example.com");
  EXPECT_EQ(a, Apply(Strategy::kHash, Entity::kEmail, "bob@example.com"));
  EXPECT_NE(a, Apply(Strategy::kHash, Entity::kEmail, "alice@example.com"));
  EXPECT_TRUE(a.starts_with("u_") && a.ends_with("@masked.invalid")) << a;
  EXPECT_EQ(a.size(), std::string("u_0123456789@masked.invalid").size());
  std::string ssn = Apply(Strategy::kHash, Entity::kUsSsn, "123-45-6789");
  ASSERT_EQ(ssn.size(), 11u);
  EXPECT_EQ(ssn[3], '-');
  EXPECT_NE(ssn, "123-45-6789");
}

TEST(Strategy, FpeKeepsDigitsAndSeparators) {
  std::string c = Apply(Strategy::kFpe, Entity::kCreditCard, "4111-1111-1111-1111");
  ASSERT_EQ(c.size(), 19u);
  EXPECT_EQ(c[4], '-');
  EXPECT_NE(c, "4111-1111-1111-1111");
  for (char ch : c) EXPECT_TRUE(ch == '-' || (ch >= '0' && ch <= '9'));
  EXPECT_EQ(c, Apply(Strategy::kFpe, Entity::kCreditCard, "4111-1111-1111-1111"));
}

TEST(MaskKey, CreatesPrivateKeyFileAndReloadsIt) {
  // A pid comes round again over many runs: what an earlier run left (chmod 0644 below) must
  // not be found.
  std::string dir = ::testing::TempDir() + "/veil-key-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::string path = dir + "/keys/mask.key";
  auto k1 = MaskKey::LoadOrCreate(path);
  ASSERT_TRUE(k1.ok()) << k1.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto k2 = MaskKey::LoadOrCreate(path);
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ((*k1)->hmac_key(), (*k2)->hmac_key());
  ::chmod(path.c_str(), 0644);
  EXPECT_FALSE(MaskKey::LoadOrCreate(path).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace veil::masker
