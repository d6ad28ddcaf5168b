// The TLS contexts veild uses on both sides of a proxied session. This module hands out
// configured OpenSSL SSL_CTXs and does no socket I/O; the proxy wraps each in an
// asio::ssl::context and runs the handshake on asio::ssl::stream.
//
// Towards database clients (endpoint `tls.client`), veild terminates TLS with a leaf issued by
// the host CA (tls/host_ca.h). That CA lives in state_dir/ca/ca.crt; a client that passes it as
// sslrootcert can use sslmode=verify-full against veil:
//   psql "host=db.internal port=15432 sslmode=verify-full sslrootcert=/var/lib/veil/ca/ca.crt"
//
// Towards the real database (endpoint `tls.upstream`, `tls.upstream_ca`), veild is the TLS client
// and verifies the server the way libpq's sslmode of the same name would:
//   disable      plain TCP; no context
//   require      encrypted, server certificate not checked
//   verify-ca    certificate must chain to upstream_ca
//   verify-full  verify-ca, and the certificate must name the host (DNS name or IP) veild dialed
//
//   auto ctx = MakeUpstreamContext(UpstreamVerify::kVerifyFull, "/etc/veil/db-ca.pem");
//   if (!ctx.ok()) return Error{ctx.error().message};  // at startup or reload
//   asio::ssl::context asio_ctx(ctx->release());       // asio takes ownership
//   ...per connection, before the handshake:
//   Status s = ConfigureUpstreamSsl(stream.native_handle(), UpstreamVerify::kVerifyFull, host);
//
// Both sides: TLS 1.2 minimum, forward-secret AEAD cipher suites only.
//
// Thread-safety: the factories may run on any thread. A finished SSL_CTX is shared by the
// connections made from it and must not be reconfigured once connections use it; reload builds a
// new one.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "tls/host_ca.h"

namespace veil::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Server-side context for accepting database clients: presents `leaf` with its CA as the chain.
// Holds its own references to the leaf's certificate, key and CA; `leaf` may be destroyed after.
// No session resumption (neither tickets nor cache): database connections are long-lived and
// libpq does not resume, so it would only be state to keep and a ticket key to rotate. If a
// client offers ALPN "postgresql" (libpq 17+), it is selected; other ALPN offers get no answer.
Result<SslCtxPtr> MakeClientFacingContext(const LeafCert& leaf);

// The values of an endpoint's `tls.upstream`.
enum class UpstreamVerify { kDisable, kRequire, kVerifyCa, kVerifyFull };

// Client-side context for connecting to the database. kVerifyCa and kVerifyFull trust only the
// CA certificates in `ca_file` (PEM; an error naming the file if it cannot be read or holds none).
// kRequire encrypts without checking the server certificate, as libpq's sslmode=require, and
// ignores `ca_file`. kDisable is an error: a plain-TCP upstream needs no context.
Result<SslCtxPtr> MakeUpstreamContext(UpstreamVerify verify, const std::string& ca_file);

// Per connection, on an SSL made from MakeUpstreamContext(verify, ...) with the same `verify`,
// before the handshake. `host` is what veild dials: a DNS name, or an IPv4/IPv6 literal (brackets
// allowed). Sends SNI for DNS names only (RFC 6066 forbids IP literals there). For kVerifyFull,
// makes the handshake fail unless the certificate's subjectAltName (or, lacking DNS entries,
// its CN) matches the name, or an iPAddress entry matches the IP. Wildcards match one leftmost
// label only, like libpq.
Status ConfigureUpstreamSsl(SSL* ssl, UpstreamVerify verify, const std::string& host);

// After a failed handshake on a verifying SSL: why the peer certificate was refused, in
// OpenSSL's words ("hostname mismatch", "unable to get local issuer certificate"), for the error
// veild reports. Empty if verification passed or was not attempted.
std::string PeerVerifyFailure(const SSL* ssl);

}  // namespace veil::tls
