// The host CA: a certificate authority private to one veil host, which issues the leaf
// certificate veild presents to database clients when it terminates their TLS.
//
// veild calls HostCa::LoadOrCreate(state_dir + "/ca") at start. The first start creates
//   state_dir/ca/        0700
//   state_dir/ca/ca.key  0600  EC P-256 private key (PKCS#8 PEM)
//   state_dir/ca/ca.crt  0644  self-signed CA certificate, valid 10 years
// and later starts load them. Clients that should authenticate veil point libpq at the CA:
//   psql "host=db.internal sslmode=verify-full sslrootcert=/var/lib/veil/ca/ca.crt"
// veild then issues a leaf for the names clients dial (Issue) and hands it to
// MakeClientFacingContext (tls/context.h). Leaf keys live only in memory; a restart issues a new
// leaf, so nothing but the CA needs protecting on disk.
//
//   auto ca = veil::tls::HostCa::LoadOrCreate("/var/lib/veil/ca");
//   if (!ca.ok()) return Error{ca.error().message};
//   auto leaf = ca->Issue({"db.internal", "localhost"}, {"10.0.0.5", "127.0.0.1"});
//
// Errors carry OpenSSL's error queue text; nothing here throws.
//
// Thread-safety: a HostCa does not change after LoadOrCreate, but OpenSSL documents no guarantee
// for signing with one EVP_PKEY from several threads at once. veild issues leaves at startup and
// on reload, from one thread; callers elsewhere should serialize Issue too.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace veil::tls {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const;
};
struct X509Deleter {
  void operator()(X509* cert) const;
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// A leaf certificate and its private key, plus the CA certificate that issued it (sent to clients
// as the chain). Move-only; owns a reference to each handle, independent of the HostCa.
struct LeafCert {
  EvpPkeyPtr key;
  X509Ptr cert;
  X509Ptr ca_cert;

  // PEM encodings. Fail only when OpenSSL cannot allocate.
  Result<std::string> CertPem() const;
  Result<std::string> KeyPem() const;  // unencrypted PKCS#8: do not write it anywhere shared

  // When the certificate expires; veild reissues before this.
  std::chrono::system_clock::time_point NotAfter() const;
};

class HostCa {
 public:
  static constexpr const char* kKeyFile = "ca.key";
  static constexpr const char* kCertFile = "ca.crt";
  // 397 days: the longest lifetime Apple platforms and browsers accept for a TLS server leaf.
  static constexpr std::chrono::seconds kDefaultLeafValidity = std::chrono::days(397);

  // Loads the CA from `dir`, or creates it there if neither ca.key nor ca.crt exists (creating
  // `dir` itself 0700 if missing; its parent must exist). Refuses, with a message that names the
  // file and the fix: a ca.key readable or writable by group or others, a ca.crt that does not
  // belong to ca.key or is not a CA certificate or has expired, and only one of the two files
  // being present. Never overwrites an existing file.
  static Result<HostCa> LoadOrCreate(const std::string& dir);

  HostCa(HostCa&&) noexcept = default;
  HostCa& operator=(HostCa&&) noexcept = default;
  ~HostCa() = default;

  // Issues a server certificate for `dns_names` and `ips` (IPv4 or IPv6 literals; at least one
  // name in total) with a fresh EC P-256 key, signed by this CA. The leaf's notAfter is capped at
  // the CA's, since a leaf cannot verify after its issuer expires.
  Result<LeafCert> Issue(std::vector<std::string> dns_names, std::vector<std::string> ips,
                         std::chrono::seconds validity = kDefaultLeafValidity) const;

  // dir/ca.crt: what clients pass as sslrootcert.
  std::string CaCertPath() const;
  // The CA certificate as PEM (what ca.crt holds, re-encoded when loaded).
  const std::string& CaCertPem() const { return cert_pem_; }
  // Borrowed; valid while this HostCa lives.
  X509* ca_cert() const { return cert_.get(); }

 private:
  HostCa(std::string dir, EvpPkeyPtr key, X509Ptr cert, std::string cert_pem)
      : dir_(std::move(dir)),
        key_(std::move(key)),
        cert_(std::move(cert)),
        cert_pem_(std::move(cert_pem)) {}

  std::string dir_;
  EvpPkeyPtr key_;
  X509Ptr cert_;
  std::string cert_pem_;
};

}  // namespace veil::tls
