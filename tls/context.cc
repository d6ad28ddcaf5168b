#include "tls/context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "tls/internal/openssl_error.h"

namespace veil::tls {

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

namespace {

using internal::OpenSslError;

// TLS 1.2 suites of Mozilla's "intermediate" profile: ECDHE/DHE key exchange (forward secrecy)
// with AEAD ciphers only. TLS 1.3 keeps OpenSSL's default suites, which are all of that kind.
// Both certificate types are listed: veil's own leaf is ECDSA, upstream servers are often RSA.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

constexpr std::string_view kPostgresAlpn = "postgresql";

Result<SslCtxPtr> NewContext(const SSL_METHOD* method, const char* side) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return OpenSslError(std::string("creating the ") + side + " TLS context");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return OpenSslError("setting TLS 1.2 as the minimum version");
  }
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return OpenSslError("setting the TLS 1.2 cipher list");
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

// Picks "postgresql" if the client offers it, else answers without ALPN (rather than with a
// fatal alert) so clients that offer something else, or nothing, still connect.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (len == 0 || i + 1 + len > inlen) break;  // malformed: OpenSSL has checked, but be safe
    std::string_view proto(reinterpret_cast<const char*>(in + i + 1), len);
    if (proto == kPostgresAlpn) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

const char* ConfigName(UpstreamVerify verify) {
  switch (verify) {
    case UpstreamVerify::kDisable:
      return "disable";
    case UpstreamVerify::kRequire:
      return "require";
    case UpstreamVerify::kVerifyCa:
      return "verify-ca";
    case UpstreamVerify::kVerifyFull:
      return "verify-full";
  }
  return "?";
}

}  // namespace

Result<SslCtxPtr> MakeClientFacingContext(const LeafCert& leaf) {
  if (!leaf.cert || !leaf.key) return Error{"client-facing TLS needs a leaf certificate and key"};
  auto ctx = NewContext(TLS_server_method(), "client-facing");
  if (!ctx.ok()) return ctx;
  SSL_CTX* c = ctx->get();
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(c, 0) != 1) return OpenSslError("disabling TLS 1.3 session tickets");
  if (SSL_CTX_use_certificate(c, leaf.cert.get()) != 1) {
    return OpenSslError("using the leaf certificate");
  }
  if (SSL_CTX_use_PrivateKey(c, leaf.key.get()) != 1) return OpenSslError("using the leaf key");
  if (SSL_CTX_check_private_key(c) != 1) {
    return OpenSslError("the leaf certificate does not match its key");
  }
  if (leaf.ca_cert && SSL_CTX_add1_chain_cert(c, leaf.ca_cert.get()) != 1) {
    return OpenSslError("adding the host CA certificate to the chain");
  }
  SSL_CTX_set_alpn_select_cb(c, SelectAlpn, nullptr);
  return ctx;
}

Result<SslCtxPtr> MakeUpstreamContext(UpstreamVerify verify, const std::string& ca_file) {
  if (verify == UpstreamVerify::kDisable) {
    return Error{
        "tls.upstream is disable: the upstream connection is plain TCP and needs no TLS "
        "context"};
  }
  auto ctx = NewContext(TLS_client_method(), "upstream");
  if (!ctx.ok()) return ctx;
  SSL_CTX* c = ctx->get();
  if (verify == UpstreamVerify::kRequire) {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  const std::string mode = ConfigName(verify);
  if (ca_file.empty()) {
    return Error{"tls.upstream " + mode +
                 " needs tls.upstream_ca: a PEM file with the CA certificate(s) that signed the "
                 "database server's certificate"};
  }
  // Open it ourselves first: errno says "Permission denied" more plainly than OpenSSL's queue.
  if (FILE* f = std::fopen(ca_file.c_str(), "r")) {
    std::fclose(f);
  } else {
    return Error{"cannot read tls.upstream_ca " + ca_file + ": " + std::strerror(errno)};
  }
  if (SSL_CTX_load_verify_file(c, ca_file.c_str()) != 1) {
    return OpenSslError("tls.upstream_ca " + ca_file + " holds no usable PEM CA certificate");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

Status ConfigureUpstreamSsl(SSL* ssl, UpstreamVerify verify, const std::string& host_in) {
  if (ssl == nullptr) return Error{"ConfigureUpstreamSsl: no SSL object"};
  if (verify == UpstreamVerify::kDisable) {
    return Error{"tls.upstream is disable: the upstream connection does not use TLS"};
  }
  const bool verifying =
      verify == UpstreamVerify::kVerifyCa || verify == UpstreamVerify::kVerifyFull;
  // A verify-full SSL made from a require context would check the name but not the chain, and
  // OpenSSL would not even fail on the name: refuse the mix-up instead of silently not verifying.
  if (verifying && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) {
    return Error{std::string("tls.upstream ") + ConfigName(verify) +
                 ": the SSL object comes from a context that does not verify the server"};
  }
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const bool is_ip = IsIpLiteral(host);
  if (!is_ip && !host.empty() && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return OpenSslError("setting SNI to " + host);
  }
  if (verify != UpstreamVerify::kVerifyFull) return Status::Ok();
  if (host.empty()) {
    return Error{
        "tls.upstream verify-full needs the upstream host name to check the server "
        "certificate against"};
  }
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return OpenSslError("setting the expected server IP " + host);
    }
    return Status::Ok();
  }
  // "*.example.com" matches one leftmost label, never "f*.example.com" (libpq's rule too).
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) {
    return OpenSslError("setting the expected server host name " + host);
  }
  return Status::Ok();
}

std::string PeerVerifyFailure(const SSL* ssl) {
  // Without SSL_VERIFY_PEER (require) OpenSSL still records a result, but nothing relied on it.
  if (ssl == nullptr || (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) return "";
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

}  // namespace veil::tls
