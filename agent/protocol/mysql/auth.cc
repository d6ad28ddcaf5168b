#include "agent/protocol/mysql/auth.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>

namespace veil::mysql {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// One digest over the concatenation of `parts`. Aborts if OpenSSL cannot hash (a broken
// library is not a condition the data path can answer).
std::string Digest(const EVP_MD* md, std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
  for (std::string_view p : parts) ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out, &n) == 1;
  if (!ok) abort();
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string Xor(std::string a, std::string_view b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<char>(a[i] ^ b[i]);
  return a;
}

}  // namespace

std::string NativePasswordScramble(std::string_view password, std::string_view scramble) {
  if (password.empty()) return {};
  const EVP_MD* sha1 = EVP_sha1();
  const std::string stage1 = Digest(sha1, {password});
  const std::string stage2 = Digest(sha1, {stage1});
  return Xor(stage1, Digest(sha1, {scramble, stage2}));
}

std::string CachingSha2Scramble(std::string_view password, std::string_view scramble) {
  if (password.empty()) return {};
  const EVP_MD* sha256 = EVP_sha256();
  const std::string stage1 = Digest(sha256, {password});
  const std::string stage2 = Digest(sha256, {stage1});
  return Xor(stage1, Digest(sha256, {stage2, scramble}));
}

}  // namespace veil::mysql
