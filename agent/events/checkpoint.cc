#include "agent/events/checkpoint.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace veil::events {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 0xf];
  }
  return out;
}

bool Unhex(const std::string& s, std::vector<unsigned char>& out) {
  if (s.size() % 2) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return true;
}

Result<std::string> KeyId(EVP_PKEY* key) {
  unsigned char raw[64];
  size_t len = sizeof(raw);
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) return Error{"cannot read public key"};
  return Sha256Hex(std::string_view(reinterpret_cast<char*>(raw), len)).substr(0, 16);
}

Result<std::string> PublicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return Error{"cannot encode public key"};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Status WriteFileMode(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error{tmp + ": " + std::strerror(errno)};
  ::fchmod(fd, mode);  // umask must not widen or narrow the intended mode
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Error{tmp + ": " + std::strerror(e)};
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error{path + ": " + std::strerror(errno)};
  return Status::Ok();
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": " + std::strerror(errno)};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string CheckpointMessage(uint64_t seq, const std::string& hash, int64_t time_ms) {
  return "veil.audit.checkpoint.v1:" + std::to_string(seq) + ":" + hash + ":" +
         std::to_string(time_ms);
}

CheckpointSigner::CheckpointSigner(EvpPkeyPtr key, std::string key_id, std::string public_pem)
    : key_(std::move(key)), key_id_(std::move(key_id)), public_pem_(std::move(public_pem)) {}

Result<std::unique_ptr<CheckpointSigner>> CheckpointSigner::LoadOrCreate(
    const std::string& keys_dir) {
  if (::mkdir(keys_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error{keys_dir + ": " + std::strerror(errno)};
  const std::string key_path = keys_dir + "/audit.key";
  const std::string pub_path = keys_dir + "/audit.pub";
  EvpPkeyPtr key;
  if (::access(key_path.c_str(), F_OK) == 0) {
    auto pem = ReadWhole(key_path);
    if (!pem.ok()) return pem.error();
    BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519)
      return Error{key_path + ": not an Ed25519 private key in PEM"};
  } else {
    EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!raw) return Error{"cannot generate an Ed25519 key"};
    key.reset(raw);
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return Error{"cannot encode the audit key"};
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    Status st = WriteFileMode(key_path, std::string(data, static_cast<size_t>(n)), 0600);
    if (!st.ok()) return st.error();
  }
  auto id = KeyId(key.get());
  if (!id.ok()) return id.error();
  auto pub = PublicPem(key.get());
  if (!pub.ok()) return pub.error();
  // Rewritten whenever it differs, so audit.pub always matches the key that signs.
  auto existing = ReadWhole(pub_path);
  if (!existing.ok() || *existing != *pub) {
    Status st = WriteFileMode(pub_path, *pub, 0644);
    if (!st.ok()) return st.error();
  }
  return std::unique_ptr<CheckpointSigner>(
      new CheckpointSigner(std::move(key), std::move(*id), std::move(*pub)));
}

nlohmann::json CheckpointSigner::MakeRecord(const ChainHead& head, int64_t time_ms) const {
  const std::string msg = CheckpointMessage(head.seq, head.hash, time_ms);
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature;
  if (ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
      EVP_DigestSign(ctx.get(), sig, &sig_len, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) == 1) {
    signature = Hex(sig, sig_len);
  }
  // An empty signature (OpenSSL failure) is written as such and fails verification loudly.
  return {
      {"activity_id", 99},
      {"activity_name", "Checkpoint"},
      {"category_name", "System Activity"},
      {"category_uid", 1},
      {"class_name", "Event Log Activity"},
      {"class_uid", 1008},
      {"message", "audit chain checkpoint"},
      {"metadata",
       {{"product", {{"name", "veil"}, {"vendor_name", "veil"}}}, {"version", "1.3.0"}}},
      {"severity_id", 1},
      {"time", time_ms},
      {"type_uid", 100899},
      {"unmapped",
       {{"checkpoint",
         {{"seq", head.seq},
          {"hash", head.hash},
          {"time", time_ms},
          {"key_id", key_id_},
          {"signature", signature}}}}},
  };
}

CheckpointVerifier::CheckpointVerifier(EvpPkeyPtr key, std::string key_id)
    : key_(std::move(key)), key_id_(std::move(key_id)) {}

Result<std::unique_ptr<CheckpointVerifier>> CheckpointVerifier::FromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519)
    return Error{"not an Ed25519 public key in PEM"};
  auto id = KeyId(key.get());
  if (!id.ok()) return id.error();
  return std::unique_ptr<CheckpointVerifier>(new CheckpointVerifier(std::move(key), *id));
}

Result<std::unique_ptr<CheckpointVerifier>> CheckpointVerifier::FromPemFile(
    const std::string& path) {
  auto pem = ReadWhole(path);
  if (!pem.ok()) return pem.error();
  auto v = FromPem(*pem);
  if (!v.ok()) return Error{path + ": " + v.error().message};
  return v;
}

Status CheckpointVerifier::Check(const nlohmann::json& cp) const {
  if (!cp.is_object()) return Error{"checkpoint is not an object"};
  auto seq = cp.find("seq");
  auto hash = cp.find("hash");
  auto time = cp.find("time");
  auto key_id = cp.find("key_id");
  auto sig = cp.find("signature");
  if (seq == cp.end() || !seq->is_number_unsigned() || hash == cp.end() || !hash->is_string() ||
      time == cp.end() || !time->is_number_integer() || sig == cp.end() || !sig->is_string())
    return Error{"checkpoint fields missing or malformed"};
  if (key_id != cp.end() && key_id->is_string() && key_id->get<std::string>() != key_id_)
    return Error{"checkpoint signed by key " + key_id->get<std::string>() + ", not " + key_id_};
  std::vector<unsigned char> raw;
  if (!Unhex(sig->get<std::string>(), raw) || raw.size() != 64)
    return Error{"checkpoint signature is not 64 hex bytes"};
  const std::string msg =
      CheckpointMessage(seq->get<uint64_t>(), hash->get<std::string>(), time->get<int64_t>());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1)
    return Error{"cannot initialise Ed25519 verification"};
  if (EVP_DigestVerify(ctx.get(), raw.data(), raw.size(),
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1)
    return Error{"checkpoint signature does not verify"};
  return Status::Ok();
}

}  // namespace veil::events
