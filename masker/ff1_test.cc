#include "masker/ff1.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace veil::masker {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string AsString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

Ff1 MakeFf1(std::string_view key_hex, unsigned radix) {
  Result<Ff1> ff1 = Ff1::Create(FromHex(key_hex), radix);
  EXPECT_TRUE(ff1.ok()) << ff1.error().message;
  return std::move(ff1).value();
}

// NIST SP 800-38G FF1 samples 1-9 (csrc.nist.gov, "FF1samples.pdf").
struct NistSample {
  int number;
  const char* key;
  unsigned radix;
  const char* tweak;
  const char* plaintext;
  const char* ciphertext;
};

void PrintTo(const NistSample& s, std::ostream* os) { *os << "NIST sample " << s.number; }

constexpr char kKey128[] = "2B7E151628AED2A6ABF7158809CF4F3C";
constexpr char kKey192[] = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
constexpr char kKey256[] = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
constexpr char kTweak10[] = "39383736353433323130";
constexpr char kTweak11[] = "3737373770717273373737";

constexpr NistSample kNistSamples[] = {
    {1, kKey128, 10, "", "0123456789", "2433477484"},
    {2, kKey128, 10, kTweak10, "0123456789", "6124200773"},
    {3, kKey128, 36, kTweak11, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {4, kKey192, 10, "", "0123456789", "2830668132"},
    {5, kKey192, 10, kTweak10, "0123456789", "2496655549"},
    {6, kKey192, 36, kTweak11, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {7, kKey256, 10, "", "0123456789", "6657667009"},
    {8, kKey256, 10, kTweak10, "0123456789", "1001623463"},
    {9, kKey256, 36, kTweak11, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};

// Every sample runs through the 128-bit path and, forced, through the BIGNUM path.
class Ff1NistTest : public ::testing::TestWithParam<std::tuple<NistSample, bool>> {};

TEST_P(Ff1NistTest, EncryptsToPublishedCiphertext) {
  const auto& [sample, force_bignum] = GetParam();
  Ff1 ff1 = MakeFf1(sample.key, sample.radix);
  ff1.ForceBignumForTesting(force_bignum);
  Result<std::string> ct = ff1.EncryptString(sample.plaintext, AsString(FromHex(sample.tweak)));
  ASSERT_TRUE(ct.ok()) << ct.error().message;
  EXPECT_EQ(*ct, sample.ciphertext);
}

TEST_P(Ff1NistTest, DecryptsPublishedCiphertext) {
  const auto& [sample, force_bignum] = GetParam();
  Ff1 ff1 = MakeFf1(sample.key, sample.radix);
  ff1.ForceBignumForTesting(force_bignum);
  Result<std::string> pt = ff1.DecryptString(sample.ciphertext, AsString(FromHex(sample.tweak)));
  ASSERT_TRUE(pt.ok()) << pt.error().message;
  EXPECT_EQ(*pt, sample.plaintext);
}

TEST_P(Ff1NistTest, NumeralApiMatchesStringApi) {
  const auto& [sample, force_bignum] = GetParam();
  Ff1 ff1 = MakeFf1(sample.key, sample.radix);
  ff1.ForceBignumForTesting(force_bignum);
  // Samples 3, 6 and 9 list their numerals; the plaintext is 0, 1, ..., n-1 in every sample.
  const std::string_view plaintext = sample.plaintext;
  std::vector<uint8_t> numerals(plaintext.size());
  for (size_t i = 0; i < numerals.size(); ++i) numerals[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> ct(numerals.size());
  ASSERT_TRUE(ff1.Encrypt(numerals, FromHex(sample.tweak), ct).ok());
  std::string ct_text;
  for (uint8_t x : ct) ct_text += "0123456789abcdefghijklmnopqrstuvwxyz"[x];
  EXPECT_EQ(ct_text, sample.ciphertext);

  std::vector<uint8_t> back(ct.size());
  ASSERT_TRUE(ff1.Decrypt(ct, FromHex(sample.tweak), back).ok());
  EXPECT_EQ(back, numerals);
}

INSTANTIATE_TEST_SUITE_P(Samples, Ff1NistTest,
                         ::testing::Combine(::testing::ValuesIn(kNistSamples), ::testing::Bool()),
                         [](const auto& info) {
                           return "Sample" + std::to_string(std::get<0>(info.param).number) +
                                  (std::get<1>(info.param) ? "Bignum" : "Fast");
                         });

// Not NIST-published: produced by a separate arbitrary-precision transcription of SP 800-38G
// Algorithm 7 (Python integers + AES from `cryptography`), written from the spec, to pin down
// what the NIST samples never reach: b > 12 (so d > 16 and S spans several AES blocks), odd n,
// tweaks longer than one block, and radix 2 / 256.
// Numerals are hex-encoded, one byte each.
struct ReferenceVector {
  const char* key;
  unsigned radix;
  const char* tweak;
  const char* plaintext;
  const char* ciphertext;
};

const ReferenceVector kReferenceVectors[] = {
    // n = 61, b = 13, d = 20
    {kKey128, 10, "00112233445566778899aabbccddeeff0102030405",
     "05020600010801050900080300010606010301080600090103090009090600030008020406020801"
     "090408020109090305010801090009030708060507",
     "05090805000308010203070702080208030300040604080708030900000600050804080907090706"
     "040501030002040004020106020608050405010409"},
    // n = 40, b = 13, d = 20
    {kKey192, 36, "",
     "1d17130f0b0f0513211f151c120407201a0a15091f1a0204231415161f1d0405111e0403131c1218",
     "131c1409150d060d0109030e1f180904230d08091e1a0d02230f1c1c040100210113170a05220b10"},
    // n = 301, b = 19, d = 24
    {kKey256, 2, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
     "01000101000001000001000001010100000101010001010101010000000000000000010001010000"
     "01010100000101010101000101000000000100000100000000000100000001000101010100000101"
     "01010100000001010100000001000001000101000100010000000100000101000001010100010101"
     "01000000000100010001000101000001000100010100010101000000000000010001010000000000"
     "00010000000100010001010100000101010000000100000000000100000101000000000100000100"
     "00010100010101000100010001000101010000010000010000010001000100000101000000010101"
     "01000101000100010101000101010000000000010100000100010101000101000100000100010000"
     "010000000100010001010100000000000100000001",
     "00000100010000000000000000010100000001000101000100000101010101000100000000000100"
     "01000100010000010101000100000000010101010001000001000001010000010101010000010100"
     "01010000010100000101000100010100000101010000000100010000000101000000000100000000"
     "01010101010001000000000100000000010101010100010000010101010101010101000101000000"
     "01010101000000000001010000000101000000000100000000010000000001000100010000000000"
     "00000100010000010101010000000100010101000100000101010001000101000101010001000100"
     "00010001010000010101000000010001010001010000000100010001000101000000000000010001"
     "000000000001010000010100010101000001010001"},
    // n = 45, b = 23, d = 28
    {kKey128, 256, "7465737474776b",
     "9c6994e45b8ab1098012070961f37de436ddfdc99d6e75af6547cfb11b42072482dc531c2bc3907c"
     "9617eb5e50",
     "0de70486798e068135872cc231011e857ed8c587cb72da23c726dc6de1b1d0ec031a5c1ea5394331"
     "0cdf2672dd"},
    // n = 200, b = 42, d = 48
    {kKey256, 10, "39383736353433323130",
     "04070004050508050300040305020005060107040803030800010401020609000600040403010908"
     "02090605070204090200080608020808090009030100000205010607080000080307040007010808"
     "01080107040104030303070706010704000903010902050404090902000700070401030704080407"
     "07070108030401070004070108070406030301090102080405020908040105030707060002000707"
     "06040206050605010500050506010300040405010606090105060400040100040203040608050305",
     "00000109050903020303030806000507090701040605010105070901020502030106090803080001"
     "08090601060602020004070905090509020207020805080209070802040100040408030903040403"
     "08060207010909080500060703040202000109060706060305040301030104010406020904010502"
     "06020005050908080605050708070808070309090101060908070706000803070206050304080405"
     "00090302090405060702050206010206040708080703010502060005070400040306000100060306"},
};

TEST(Ff1Test, MatchesIndependentReferenceBeyondNistSamples) {
  for (const ReferenceVector& vec : kReferenceVectors) {
    SCOPED_TRACE(::testing::Message() << "radix " << vec.radix << " key " << vec.key);
    Ff1 ff1 = MakeFf1(vec.key, vec.radix);
    const std::vector<uint8_t> pt = FromHex(vec.plaintext);
    const std::vector<uint8_t> ct = FromHex(vec.ciphertext);
    std::vector<uint8_t> out(pt.size());
    ASSERT_TRUE(ff1.Encrypt(pt, FromHex(vec.tweak), out).ok());
    EXPECT_EQ(out, ct);
    ASSERT_TRUE(ff1.Decrypt(ct, FromHex(vec.tweak), out).ok());
    EXPECT_EQ(out, pt);
  }
}

// Round trip over random keys, tweaks, lengths and radices; also checks that the 128-bit path
// and the BIGNUM path agree wherever both apply.
TEST(Ff1Test, RandomRoundTripAndPathsAgree) {
  std::mt19937_64 rng(20240917);
  const unsigned radices[] = {2, 3, 7, 10, 16, 26, 36, 62, 255, 256};
  for (unsigned radix : radices) {
    for (int iter = 0; iter < 40; ++iter) {
      std::vector<uint8_t> key(16 + 8 * (rng() % 3));
      for (auto& k : key) k = static_cast<uint8_t>(rng());
      Result<Ff1> fast = Ff1::Create(key, radix);
      Result<Ff1> slow = Ff1::Create(key, radix);
      ASSERT_TRUE(fast.ok() && slow.ok());
      slow->ForceBignumForTesting(true);

      // Smallest length meeting the NIST domain minimum, up to well past the 128-bit path.
      size_t min_len = 2;
      for (uint64_t p = radix * radix; p < Ff1::kMinDomainSize; p *= radix) ++min_len;
      const size_t n = min_len + rng() % 150;
      std::vector<uint8_t> pt(n);
      for (auto& x : pt) x = static_cast<uint8_t>(rng() % radix);
      std::vector<uint8_t> tweak(rng() % 40);
      for (auto& t : tweak) t = static_cast<uint8_t>(rng());

      std::vector<uint8_t> ct(n), ct_slow(n), back(n);
      ASSERT_TRUE(fast->Encrypt(pt, tweak, ct).ok());
      ASSERT_TRUE(slow->Encrypt(pt, tweak, ct_slow).ok());
      EXPECT_EQ(ct, ct_slow) << "radix " << radix << " n " << n;
      for (uint8_t x : ct) ASSERT_LT(x, radix);
      ASSERT_TRUE(fast->Decrypt(ct, tweak, back).ok());
      EXPECT_EQ(back, pt) << "radix " << radix << " n " << n;
    }
  }
}

TEST(Ff1Test, EncryptsInPlace) {
  Ff1 ff1 = MakeFf1(kKey128, 10);
  std::vector<uint8_t> buf = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_TRUE(ff1.Encrypt(buf, {}, buf).ok());
  EXPECT_EQ(buf, (std::vector<uint8_t>{2, 4, 3, 3, 4, 7, 7, 4, 8, 4}));  // NIST sample 1
  ASSERT_TRUE(ff1.Decrypt(buf, {}, buf).ok());
  EXPECT_EQ(buf, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Ff1Test, TweakChangesCiphertext) {
  Ff1 ff1 = MakeFf1(kKey128, 10);
  Result<std::string> a = ff1.EncryptString("4111111111111111", "tenant-a");
  Result<std::string> b = ff1.EncryptString("4111111111111111", "tenant-b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 16u);
  EXPECT_NE(*a, *b);
  Result<std::string> back = ff1.DecryptString(*a, "tenant-a");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "4111111111111111");
}

TEST(Ff1Test, RejectsDomainBelowNistMinimum) {
  Ff1 decimal = MakeFf1(kKey128, 10);
  Result<std::string> r = decimal.EncryptString("12345", "");  // 10^5 < 10^6
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("domain too small"));
  EXPECT_TRUE(decimal.EncryptString("123456", "").ok());  // 10^6 is the minimum

  Ff1 binary = MakeFf1(kKey128, 2);
  std::vector<uint8_t> bits(19), out(19);  // 2^19 < 10^6 <= 2^20
  Status s = binary.Encrypt(bits, {}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("domain too small"));
  bits.resize(20);
  out.resize(20);
  EXPECT_TRUE(binary.Encrypt(bits, {}, out).ok());
}

TEST(Ff1Test, RejectsBadKeyLength) {
  for (size_t len : {0, 8, 15, 17, 31, 33, 64}) {
    std::vector<uint8_t> key(len, 0x42);
    Result<Ff1> ff1 = Ff1::Create(key, 10);
    ASSERT_FALSE(ff1.ok()) << len;
    EXPECT_THAT(ff1.error().message, HasSubstr("key must be 16, 24 or 32 bytes")) << len;
  }
}

TEST(Ff1Test, RejectsBadRadix) {
  const std::vector<uint8_t> key = FromHex(kKey128);
  for (unsigned radix : {0u, 1u, 257u, 65536u}) {
    Result<Ff1> ff1 = Ff1::Create(key, radix);
    ASSERT_FALSE(ff1.ok()) << radix;
    EXPECT_THAT(ff1.error().message, HasSubstr("radix must be in [2, 256]")) << radix;
  }
}

TEST(Ff1Test, RejectsNumeralOutsideRadix) {
  Ff1 ff1 = MakeFf1(kKey128, 10);
  std::vector<uint8_t> in = {0, 1, 2, 3, 4, 10, 6, 7}, out(8);
  Status s = ff1.Encrypt(in, {}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("numeral 10 at position 5"));

  Result<std::string> r = ff1.EncryptString("1234a678", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("'a' at position 4 is not a radix-10 digit"));
  r = ff1.EncryptString("1234-5678", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("position 4 is not in [0-9a-z]"));
  r = ff1.EncryptString("1234A678", "");  // uppercase would not round-trip
  ASSERT_FALSE(r.ok());
}

TEST(Ff1Test, RejectsMismatchedOutputAndOverlongInput) {
  Ff1 ff1 = MakeFf1(kKey128, 10);
  std::vector<uint8_t> in(10), out(9);
  Status s = ff1.Encrypt(in, {}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("output size 9 differs from input size 10"));

  std::vector<uint8_t> big(Ff1::kMaxLength + 1), big_out(Ff1::kMaxLength + 1);
  s = ff1.Encrypt(big, {}, big_out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("length must be in"));
}

TEST(Ff1Test, StringApiNeedsRadixAtMost36) {
  Ff1 ff1 = MakeFf1(kKey128, 62);
  Result<std::string> r = ff1.EncryptString("0123456789", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("radix <= 36"));
}

}  // namespace
}  // namespace veil::masker
