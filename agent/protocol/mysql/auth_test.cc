#include "agent/protocol/mysql/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace veil::mysql {
namespace {

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string Salt() {
  std::string s;
  for (int i = 1; i <= 20; ++i) s += static_cast<char>(i);
  return s;
}

// Expected values computed independently with Python's hashlib from the formulas in the MySQL
// documentation. mysql_native_password is also proven against a real MariaDB login in
// mariadb_capture_test.cc (a right password is accepted, a wrong one refused with 1045).
// caching_sha2_password has no server on Debian (no MySQL 8): this vector is its only check.
TEST(NativePassword, MatchesTheDocumentedFormula) {
  // SHA1(password) XOR SHA1(salt + SHA1(SHA1(password)))
  EXPECT_EQ(Hex(NativePasswordScramble("secret", Salt())),
            "b32bb3a583e1340c0a1108d58b1be49781ad8c2f");
}

TEST(NativePassword, EmptyPasswordSendsNothing) {
  EXPECT_EQ(NativePasswordScramble("", Salt()), "");
}

TEST(NativePassword, DependsOnTheSalt) {
  std::string other = Salt();
  other[0] = 'x';
  EXPECT_NE(NativePasswordScramble("secret", Salt()), NativePasswordScramble("secret", other));
  EXPECT_EQ(NativePasswordScramble("secret", other).size(), 20u);
}

TEST(CachingSha2, MatchesTheDocumentedFormula) {
  // XOR(SHA256(password), SHA256(SHA256(SHA256(password)) + salt))
  EXPECT_EQ(Hex(CachingSha2Scramble("secret", Salt())),
            "746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9");
  EXPECT_EQ(CachingSha2Scramble("", Salt()), "");
}

}  // namespace
}  // namespace veil::mysql
