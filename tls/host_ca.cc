#include "tls/host_ca.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "tls/internal/openssl_error.h"

namespace veil::tls {

void EvpPkeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
void X509Deleter::operator()(X509* cert) const { X509_free(cert); }

namespace {

using internal::OpenSslError;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;

constexpr long kCaValiditySeconds = 3653L * 24 * 3600;  // 10 years, leap days included
// Certificates start an hour in the past so that a client whose clock is a little behind the
// host's does not reject a certificate issued a moment ago as "not yet valid".
constexpr long kBackdateSeconds = 3600;

std::string Errno(int e) { return std::strerror(e); }

Result<std::string> DrainToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n < 0) return OpenSslError("reading a memory BIO");
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("encoding a certificate as PEM");
  }
  return DrainToString(bio.get());
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("encoding a private key as PEM");
  }
  return DrainToString(bio.get());
}

std::string TimeToString(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) {
    ERR_clear_error();
    return "(unprintable time)";
  }
  auto s = DrainToString(bio.get());
  return s.ok() ? *s : "(unprintable time)";
}

Result<EvpPkeyPtr> NewP256Key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating an EC P-256 key");
  return key;
}

// RFC 5280 4.1.2.2: a positive serial of at most 20 octets, unique per issuer; CA/Browser Forum
// wants at least 64 random bits. 126 random bits, with the top bits fixed so it is positive,
// non-zero and always exactly 16 DER octets.
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslError("generating a serial number");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x3f) | 0x40);
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("setting a serial number");
  }
  return Status::Ok();
}

// `issuer` may be `cert` itself (self-signed); it must already carry its subjectKeyIdentifier
// when authorityKeyIdentifier is added.
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return OpenSslError(std::string("building extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError(std::string("adding extension ") + OBJ_nid2sn(nid));
  return Status::Ok();
}

Status SetCommonName(X509_NAME* name, const std::string& cn) {
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return OpenSslError("setting subject CN \"" + cn + "\"");
  }
  return Status::Ok();
}

std::string CaCommonName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "unknown");
  }
  std::string cn = std::string("veil host CA ") + host;
  // X.520 limits a CN to 64 characters; OpenSSL refuses longer ones.
  if (cn.size() > 64) cn.resize(64);
  return cn;
}

Result<X509Ptr> NewSelfSignedCa(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("allocating the CA certificate");
  X509* x = cert.get();
  if (X509_set_version(x, X509_VERSION_3) != 1) return OpenSslError("setting version");
  if (Status s = SetRandomSerial(x); !s.ok()) return s.error();
  if (Status s = SetCommonName(X509_get_subject_name(x), CaCommonName()); !s.ok()) {
    return s.error();
  }
  if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1) {
    return OpenSslError("setting the CA issuer name");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(x), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x), kCaValiditySeconds) == nullptr) {
    return OpenSslError("setting the CA validity");
  }
  if (X509_set_pubkey(x, key) != 1) return OpenSslError("setting the CA public key");
  // Order matters: the authority key id of a self-signed cert is copied from its own subject
  // key id. pathlen:0 — this CA signs leaves only, never another CA.
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                                   std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                                   std::pair{NID_subject_key_identifier, "hash"},
                                   std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (Status s = AddExtension(x, x, nid, value); !s.ok()) return s.error();
  }
  if (X509_sign(x, key, EVP_sha256()) <= 0) return OpenSslError("self-signing the CA certificate");
  return cert;
}

// Writes `data` to a new file `path` with exactly `mode`, durably, without ever replacing an
// existing file (a CA key that clients already trust must not be clobbered by a racing start).
// The data goes to path.tmp first, so `path` never exists half-written.
Status WriteNewFile(const std::string& path, const std::string& data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return Error{"removing stale " + tmp + ": " + Errno(errno)};
  }
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Error{"creating " + tmp + ": " + Errno(errno)};
  auto fail = [&](const std::string& what) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return Error{what + " " + tmp + ": " + Errno(e)};
  };
  // The umask may have stripped bits from `mode` (ca.crt must be world-readable for clients).
  if (fchmod(fd, mode) != 0) return fail("setting the mode of");
  for (size_t off = 0; off < data.size();) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("writing");
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("syncing");
  if (close(fd) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Error{"closing " + tmp + ": " + Errno(e)};
  }
  if (link(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Error{"creating " + path + ": " + Errno(e)};
  }
  unlink(tmp.c_str());
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error{"opening " + dir + ": " + Errno(errno)};
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0) return Error{"syncing " + dir + ": " + Errno(e)};
  return Status::Ok();
}

// 1: exists, 0: does not, error otherwise (e.g. the folder is not searchable).
Result<bool> Exists(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return Error{"checking " + path + ": " + Errno(errno)};
}

Status EnsureDir(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Error{dir + " exists but is not a folder"};
    return Status::Ok();
  }
  if (errno != ENOENT) return Error{"checking " + dir + ": " + Errno(errno)};
  if (mkdir(dir.c_str(), 0700) != 0) {
    return Error{"creating " + dir + ": " + Errno(errno) +
                 " (its parent, normally agent.state_dir, must exist and be writable by veild)"};
  }
  if (chmod(dir.c_str(), 0700) != 0)
    return Error{"setting mode 0700 on " + dir + ": " + Errno(errno)};
  return Status::Ok();
}

constexpr const char* kNewCaHint =
    "remove both ca.key and ca.crt to create a new CA (clients that trust the old ca.crt must "
    "then be given the new one)";

}  // namespace

Result<std::string> LeafCert::CertPem() const { return CertToPem(cert.get()); }
Result<std::string> LeafCert::KeyPem() const { return KeyToPem(key.get()); }

std::chrono::system_clock::time_point LeafCert::NotAfter() const {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Result<HostCa> HostCa::LoadOrCreate(const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) return Error{"host CA folder is empty (expected state_dir/ca)"};
  if (Status s = EnsureDir(dir); !s.ok()) return s.error();
  const std::string key_path = (fs::path(dir) / kKeyFile).string();
  const std::string cert_path = (fs::path(dir) / kCertFile).string();

  auto key_exists = Exists(key_path);
  if (!key_exists.ok()) return key_exists.error();
  auto cert_exists = Exists(cert_path);
  if (!cert_exists.ok()) return cert_exists.error();

  if (!*key_exists && !*cert_exists) {
    auto key = NewP256Key();
    if (!key.ok()) return key.error();
    auto cert = NewSelfSignedCa(key->get());
    if (!cert.ok()) return cert.error();
    auto key_pem = KeyToPem(key->get());
    if (!key_pem.ok()) return key_pem.error();
    auto cert_pem = CertToPem(cert->get());
    if (!cert_pem.ok()) return cert_pem.error();
    if (Status s = WriteNewFile(key_path, *key_pem, 0600); !s.ok()) return s.error();
    if (Status s = WriteNewFile(cert_path, *cert_pem, 0644); !s.ok()) {
      // Leave nothing behind, or the next start would refuse a key without a certificate.
      unlink(key_path.c_str());
      return s.error();
    }
    if (Status s = SyncDir(dir); !s.ok()) return s.error();
    return HostCa(dir, std::move(*key), std::move(*cert), std::move(*cert_pem));
  }
  if (!*cert_exists) {
    return Error{cert_path + " is missing but " + key_path +
                 " exists: restore ca.crt from a backup, or " + kNewCaHint};
  }
  if (!*key_exists) {
    return Error{key_path + " is missing but " + cert_path +
                 " exists: restore ca.key from a backup, or " + kNewCaHint};
  }

  struct stat st;
  if (stat(key_path.c_str(), &st) != 0) return Error{"checking " + key_path + ": " + Errno(errno)};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{key_path + " has mode " + mode +
                 ": the CA private key must not be accessible to group or others; run chmod 600 " +
                 key_path + " (and consider the key leaked: " + kNewCaHint + ")"};
  }

  BioPtr key_bio(BIO_new_file(key_path.c_str(), "r"));
  if (!key_bio) return OpenSslError("reading " + key_path);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError(key_path + " does not hold an unencrypted PEM private key");

  BioPtr cert_bio(BIO_new_file(cert_path.c_str(), "r"));
  if (!cert_bio) return OpenSslError("reading " + cert_path);
  X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError(cert_path + " does not hold a PEM certificate");

  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Error{cert_path + " does not belong to the private key in " + key_path +
                 ": restore the matching pair from a backup, or " + kNewCaHint};
  }
  if (X509_check_ca(cert.get()) < 1) {
    return Error{cert_path +
                 " is not a CA certificate (no basicConstraints CA:TRUE): " + kNewCaHint};
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    return Error{cert_path + " expired on " + TimeToString(X509_get0_notAfter(cert.get())) + ": " +
                 kNewCaHint};
  }
  auto pem = CertToPem(cert.get());
  if (!pem.ok()) return pem.error();
  return HostCa(dir, std::move(key), std::move(cert), std::move(*pem));
}

std::string HostCa::CaCertPath() const {
  return (std::filesystem::path(dir_) / kCertFile).string();
}

Result<LeafCert> HostCa::Issue(std::vector<std::string> dns_names, std::vector<std::string> ips,
                               std::chrono::seconds validity) const {
  if (dns_names.empty() && ips.empty()) {
    return Error{"a leaf certificate needs at least one DNS name or IP address"};
  }
  if (validity.count() <= 0) return Error{"leaf certificate validity must be positive"};

  GeneralNamesPtr sans(sk_GENERAL_NAME_new_null());
  if (!sans) return OpenSslError("allocating subjectAltName");
  auto push = [&](int type, ASN1_STRING* value) -> Status {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_STRING_free(value);
      return OpenSslError("allocating a subjectAltName entry");
    }
    GENERAL_NAME_set0_value(gn, type, value);
    if (sk_GENERAL_NAME_push(sans.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      return OpenSslError("adding a subjectAltName entry");
    }
    return Status::Ok();
  };
  for (const std::string& name : dns_names) {
    // IA5String: printable ASCII. Anything else is a caller bug, not something to encode.
    bool printable = !name.empty();
    for (char c : name) printable = printable && c > 0x20 && c < 0x7f;
    if (!printable) return Error{"\"" + name + "\" is not a DNS name"};
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str())) {
      ASN1_OCTET_STRING_free(ip);
      return Error{"\"" + name + "\" is an IP address: pass it among the IPs, not the DNS names"};
    }
    ERR_clear_error();
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (s == nullptr || ASN1_STRING_set(s, name.data(), static_cast<int>(name.size())) != 1) {
      ASN1_IA5STRING_free(s);
      return OpenSslError("encoding DNS name " + name);
    }
    if (Status st = push(GEN_DNS, s); !st.ok()) return st.error();
  }
  for (const std::string& ip : ips) {
    ASN1_OCTET_STRING* bytes = a2i_IPADDRESS(ip.c_str());
    if (bytes == nullptr) {
      ERR_clear_error();
      return Error{"\"" + ip + "\" is not an IPv4 or IPv6 address"};
    }
    if (Status st = push(GEN_IPADD, bytes); !st.ok()) return st.error();
  }

  auto key = NewP256Key();
  if (!key.ok()) return key.error();
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("allocating a leaf certificate");
  X509* x = cert.get();
  X509* ca = cert_.get();
  if (X509_set_version(x, X509_VERSION_3) != 1) return OpenSslError("setting version");
  if (Status s = SetRandomSerial(x); !s.ok()) return s.error();
  // Clients match names against the subjectAltName only; the CN is for people reading the cert.
  std::string cn = !dns_names.empty() ? dns_names.front() : ips.front();
  if (cn.size() > 64) cn = "veil";
  if (Status s = SetCommonName(X509_get_subject_name(x), cn); !s.ok()) return s.error();
  if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1) {
    return OpenSslError("setting the leaf issuer name");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(x), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(validity.count())) == nullptr) {
    return OpenSslError("setting the leaf validity");
  }
  if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca)) > 0 &&
      X509_set1_notAfter(x, X509_get0_notAfter(ca)) != 1) {
    return OpenSslError("capping the leaf validity at the CA's");
  }
  if (X509_set_pubkey(x, key->get()) != 1) return OpenSslError("setting the leaf public key");
  for (const auto& [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
        std::pair{NID_key_usage, "critical,digitalSignature"},
        std::pair{NID_ext_key_usage, "serverAuth"}, std::pair{NID_subject_key_identifier, "hash"},
        std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (Status s = AddExtension(x, ca, nid, value); !s.ok()) return s.error();
  }
  if (X509_add1_ext_i2d(x, NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding subjectAltName");
  }
  if (X509_sign(x, key_.get(), EVP_sha256()) <= 0) {
    return OpenSslError("signing the leaf certificate");
  }
  if (X509_up_ref(ca) != 1) return OpenSslError("referencing the CA certificate");
  return LeafCert{std::move(*key), std::move(cert), X509Ptr(ca)};
}

}  // namespace veil::tls
