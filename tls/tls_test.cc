// Real CAs, real certificates and real TLS handshakes between two SSL objects joined by a BIO
// pair in memory: what a psql client with sslmode=verify-full would accept or refuse.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "tls/context.h"
#include "tls/host_ca.h"
#include "tls/internal/openssl_error.h"

namespace veil::tls {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "veil_tls_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

unsigned Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0xffff;
  return st.st_mode & 07777;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

HostCa MustCreateCa(const std::string& dir) {
  auto ca = HostCa::LoadOrCreate(dir);
  if (!ca.ok()) ADD_FAILURE() << ca.error().message;
  return std::move(ca).value();
}

LeafCert MustIssue(const HostCa& ca, std::vector<std::string> dns, std::vector<std::string> ips) {
  auto leaf = ca.Issue(std::move(dns), std::move(ips));
  if (!leaf.ok()) ADD_FAILURE() << leaf.error().message;
  return std::move(leaf).value();
}

SslCtxPtr MustServerCtx(const LeafCert& leaf) {
  auto ctx = MakeClientFacingContext(leaf);
  if (!ctx.ok()) ADD_FAILURE() << ctx.error().message;
  return std::move(ctx).value();
}

std::string Seconds(long s) { return std::to_string(s) + "s"; }

// Seconds from notBefore to notAfter.
long Lifetime(const X509* cert) {
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)) != 1) {
    return -1;
  }
  return days * 86400L + secs;
}

// What libpq does for sslmode=verify-full with sslrootcert=ca.crt: trust only that CA, check the
// host name. Built by hand, not by MakeUpstreamContext, so it is an independent client.
SslCtxPtr VerifyingClientCtx(X509* trusted_ca) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), trusted_ca), 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

struct Handshake {
  bool ok = false;
  std::string error;               // which side failed, with OpenSSL's queue
  long client_verify = X509_V_OK;  // the client's verdict on the server certificate
  std::string client_verify_text;  // PeerVerifyFailure(client)
  std::string sni_seen;            // the server name the server received, "" if none
  std::string alpn;                // the protocol both agreed on, "" if none
  int peer_chain_length = 0;       // certificates the server sent
  int version = 0;
};

// Drives a TLS handshake between `server_ctx` and `client_ctx` through an in-memory BIO pair,
// then sends one message each way. `configure_client` runs on the client SSL first.
Handshake RunHandshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                       const std::function<void(SSL*)>& configure_client = nullptr) {
  Handshake r;
  SslPtr server(SSL_new(server_ctx));
  SslPtr client(SSL_new(client_ctx));
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (!server || !client || BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) {
    r.error = internal::DrainOpenSslErrors("setup");
    return r;
  }
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  if (configure_client) configure_client(client.get());

  bool client_done = false, server_done = false;
  auto step = [&](SSL* ssl, bool& done, const char* side) {
    if (done) return true;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
      done = true;
      return true;
    }
    int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    r.error = internal::DrainOpenSslErrors(std::string(side) + " handshake failed");
    return false;
  };
  for (int i = 0; i < 50 && !(client_done && server_done); ++i) {
    if (!step(client.get(), client_done, "client") || !step(server.get(), server_done, "server")) {
      break;
    }
  }
  r.client_verify = SSL_get_verify_result(client.get());
  r.client_verify_text = PeerVerifyFailure(client.get());
  if (!client_done || !server_done) {
    if (r.error.empty()) r.error = "handshake did not finish";
    return r;
  }
  if (const char* sni = SSL_get_servername(server.get(), TLSEXT_NAMETYPE_host_name)) {
    r.sni_seen = sni;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(client.get(), &alpn, &alpn_len);
  r.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.get())) {
    r.peer_chain_length = sk_X509_num(chain);
  }
  r.version = SSL_version(client.get());

  // Application data both ways, as the proxy would relay a query and its reply.
  char buf[16] = {};
  if (SSL_write(client.get(), "SELECT 1", 8) != 8 || SSL_read(server.get(), buf, 16) != 8 ||
      std::string(buf, 8) != "SELECT 1" || SSL_write(server.get(), "1 row", 5) != 5 ||
      SSL_read(client.get(), buf, 16) != 5 || std::string(buf, 5) != "1 row") {
    r.error = internal::DrainOpenSslErrors("application data did not round-trip");
    return r;
  }
  r.ok = true;
  return r;
}

// ---- HostCa ---------------------------------------------------------------------------------

TEST(HostCaTest, FirstStartCreatesPrivateKeyAndPublicCaCert) {
  TempDir tmp;
  const std::string dir = tmp / "ca";  // missing: LoadOrCreate makes it
  HostCa ca = MustCreateCa(dir);

  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(dir + "/ca.key"), 0600u);
  EXPECT_EQ(Mode(dir + "/ca.crt"), 0644u);
  EXPECT_EQ(ca.CaCertPath(), dir + "/ca.crt");
  EXPECT_EQ(ReadFile(ca.CaCertPath()), ca.CaCertPem());
  EXPECT_THAT(ReadFile(dir + "/ca.key"), StartsWith("-----BEGIN PRIVATE KEY-----"));
  EXPECT_FALSE(fs::exists(dir + "/ca.key.tmp"));
  EXPECT_FALSE(fs::exists(dir + "/ca.crt.tmp"));

  X509* cert = ca.ca_cert();
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  EXPECT_THAT(cn, StartsWith("veil host CA "));
  EXPECT_EQ(X509_check_ca(cert), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(cert)), 1) << "not self-signed";

  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(crit, 1) << "basicConstraints must be critical";
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));

  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert);
  ASSERT_NE(ski, nullptr);
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(ski, aki), 0);

  // 10 years, give or take the backdating and leap days.
  EXPECT_GE(Lifetime(cert), 3650L * 86400) << Seconds(Lifetime(cert));
  EXPECT_LE(Lifetime(cert), 3654L * 86400) << Seconds(Lifetime(cert));

  EVP_PKEY* pub = X509_get0_pubkey(cert);
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
  char group[64] = {};
  size_t group_len = 0;
  EVP_PKEY_get_group_name(pub, group, sizeof(group), &group_len);
  EXPECT_STREQ(group, "prime256v1");

  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  EXPECT_EQ(ASN1_STRING_length(serial), 16) << "128-bit serial";
}

TEST(HostCaTest, SecondStartLoadsTheSameCa) {
  TempDir tmp;
  std::string first_pem = MustCreateCa(tmp.path()).CaCertPem();
  auto again = HostCa::LoadOrCreate(tmp.path());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->CaCertPem(), first_pem);
  EXPECT_EQ(ReadFile(again->CaCertPath()), first_pem);
}

TEST(HostCaTest, TwoCasHaveDifferentKeysAndSerials) {
  TempDir a, b;
  HostCa ca_a = MustCreateCa(a.path());
  HostCa ca_b = MustCreateCa(b.path());
  EXPECT_NE(EVP_PKEY_eq(X509_get0_pubkey(ca_a.ca_cert()), X509_get0_pubkey(ca_b.ca_cert())), 1);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca_a.ca_cert()),
                             X509_get0_serialNumber(ca_b.ca_cert())),
            0);
}

TEST(HostCaTest, RefusesKeyReadableByOthers) {
  TempDir tmp;
  MustCreateCa(tmp.path());
  const std::string key = tmp / "ca.key";
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  auto ca = HostCa::LoadOrCreate(tmp.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_THAT(ca.error().message, HasSubstr(key + " has mode 0644"));
  EXPECT_THAT(ca.error().message, HasSubstr("chmod 600 " + key));

  ASSERT_EQ(chmod(key.c_str(), 0640), 0);  // group alone is refused too
  EXPECT_FALSE(HostCa::LoadOrCreate(tmp.path()).ok());
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);  // the fix the message names works
  EXPECT_TRUE(HostCa::LoadOrCreate(tmp.path()).ok());
}

TEST(HostCaTest, RefusesCertThatDoesNotMatchKey) {
  TempDir tmp, other;
  MustCreateCa(tmp.path());
  MustCreateCa(other.path());
  fs::copy_file(other / "ca.crt", tmp / "ca.crt", fs::copy_options::overwrite_existing);
  auto ca = HostCa::LoadOrCreate(tmp.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_THAT(
      ca.error().message,
      HasSubstr(tmp / "ca.crt" + " does not belong to the private key in " + tmp / "ca.key"));
  EXPECT_THAT(ca.error().message, HasSubstr("remove both ca.key and ca.crt"));
}

TEST(HostCaTest, RefusesHalfACaAndDoesNotReplaceIt) {
  TempDir tmp;
  MustCreateCa(tmp.path());
  const std::string key_before = ReadFile(tmp / "ca.key");
  fs::remove(tmp / "ca.crt");
  auto ca = HostCa::LoadOrCreate(tmp.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_THAT(ca.error().message, HasSubstr(tmp / "ca.crt" + " is missing"));
  EXPECT_EQ(ReadFile(tmp / "ca.key"), key_before);
  EXPECT_FALSE(fs::exists(tmp / "ca.crt"));
}

TEST(HostCaTest, RefusesGarbageCert) {
  TempDir tmp;
  MustCreateCa(tmp.path());
  WriteFile(tmp / "ca.crt", "not a certificate\n");
  auto ca = HostCa::LoadOrCreate(tmp.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_THAT(ca.error().message, HasSubstr(tmp / "ca.crt" + " does not hold a PEM certificate"));
}

TEST(HostCaTest, IssuesServerLeafForNamesAndIps) {
  TempDir tmp;
  HostCa ca = MustCreateCa(tmp.path());
  LeafCert leaf = MustIssue(ca, {"localhost", "db.internal"}, {"127.0.0.1", "::1"});
  X509* cert = leaf.cert.get();

  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "db.internal", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "db.example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.2", 0), 0);

  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(ca.ca_cert())), 1) << "not signed by the CA";
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca.ca_cert())), 0);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
                                  X509_get0_subject_key_id(ca.ca_cert())),
            0);
  EXPECT_EQ(X509_check_private_key(cert, leaf.key.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_bits(leaf.key.get()), 256);
  EXPECT_EQ(X509_cmp(leaf.ca_cert.get(), ca.ca_cert()), 0);

  // 397 days plus the one-hour backdating.
  EXPECT_EQ(Lifetime(cert), 397L * 86400 + 3600);
  auto left = leaf.NotAfter() - std::chrono::system_clock::now();
  EXPECT_GT(left, std::chrono::days(396));
  EXPECT_LE(left, std::chrono::days(397));

  auto pem = leaf.CertPem();
  ASSERT_TRUE(pem.ok());
  EXPECT_THAT(*pem, StartsWith("-----BEGIN CERTIFICATE-----"));
  auto key_pem = leaf.KeyPem();
  ASSERT_TRUE(key_pem.ok());
  EXPECT_THAT(*key_pem, StartsWith("-----BEGIN PRIVATE KEY-----"));

  LeafCert second = MustIssue(ca, {"localhost"}, {});
  EXPECT_NE(EVP_PKEY_eq(leaf.key.get(), second.key.get()), 1) << "each leaf gets its own key";
}

TEST(HostCaTest, LeafDoesNotOutliveItsCa) {
  TempDir tmp;
  HostCa ca = MustCreateCa(tmp.path());
  auto leaf = ca.Issue({"localhost"}, {}, std::chrono::days(20 * 365));
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;
  EXPECT_EQ(
      ASN1_TIME_compare(X509_get0_notAfter(leaf->cert.get()), X509_get0_notAfter(ca.ca_cert())), 0);
}

TEST(HostCaTest, IssueRefusesBadNames) {
  TempDir tmp;
  HostCa ca = MustCreateCa(tmp.path());
  auto none = ca.Issue({}, {});
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message, HasSubstr("at least one"));

  auto bad_ip = ca.Issue({"localhost"}, {"localhost"});
  ASSERT_FALSE(bad_ip.ok());
  EXPECT_THAT(bad_ip.error().message, HasSubstr("\"localhost\" is not an IPv4 or IPv6 address"));

  auto ip_as_dns = ca.Issue({"10.0.0.5"}, {});
  ASSERT_FALSE(ip_as_dns.ok());
  EXPECT_THAT(ip_as_dns.error().message, HasSubstr("is an IP address"));

  EXPECT_FALSE(ca.Issue({"db internal"}, {}).ok());
  EXPECT_FALSE(ca.Issue({"localhost"}, {}, std::chrono::seconds(0)).ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "refusals leave no stale OpenSSL errors behind";
}

TEST(HostCaTest, OpensslVerifyAcceptsTheIssuedChain) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "the openssl command-line tool is not installed";
  }
  TempDir tmp;
  HostCa ca = MustCreateCa(tmp / "ca");
  LeafCert leaf = MustIssue(ca, {"localhost"}, {"127.0.0.1"});
  const std::string leaf_path = tmp / "leaf.pem";
  WriteFile(leaf_path, leaf.CertPem().value());

  auto run = [](const std::string& cmd) {
    std::string out;
    if (FILE* p = popen((cmd + " 2>&1").c_str(), "r")) {
      char buf[512];
      while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
      pclose(p);
    }
    return out;
  };
  EXPECT_EQ(run("openssl verify -CAfile " + ca.CaCertPath() + " " + leaf_path),
            leaf_path + ": OK\n");
  // What a verify-full client checks: server purpose and the name it dialed.
  EXPECT_EQ(run("openssl verify -purpose sslserver -verify_hostname localhost -CAfile " +
                ca.CaCertPath() + " " + leaf_path),
            leaf_path + ": OK\n");
  EXPECT_EQ(run("openssl verify -verify_ip 127.0.0.1 -CAfile " + ca.CaCertPath() + " " + leaf_path),
            leaf_path + ": OK\n");
  EXPECT_THAT(run("openssl verify -verify_hostname db.example.com -CAfile " + ca.CaCertPath() +
                  " " + leaf_path),
              HasSubstr("hostname mismatch"));
}

// ---- Client-facing context: what database clients see ---------------------------------------

class ClientFacingTest : public ::testing::Test {
 protected:
  ClientFacingTest() : ca_(MustCreateCa(tmp_.path())) {
    // The context must keep what it needs: the leaf is gone before any handshake.
    LeafCert leaf = MustIssue(ca_, {"localhost"}, {"127.0.0.1"});
    server_ = MustServerCtx(leaf);
  }

  TempDir tmp_;
  HostCa ca_;
  SslCtxPtr server_;
};

TEST_F(ClientFacingTest, VerifyFullClientTrustingTheHostCaConnects) {
  SslCtxPtr client = VerifyingClientCtx(ca_.ca_cert());
  Handshake h = RunHandshake(server_.get(), client.get(), [](SSL* ssl) {
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
  });
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.client_verify, X509_V_OK);
  EXPECT_EQ(h.version, TLS1_3_VERSION);
  EXPECT_EQ(h.peer_chain_length, 2) << "leaf and the host CA";
}

TEST_F(ClientFacingTest, VerifyFullClientDialingAnotherNameIsRefused) {
  SslCtxPtr client = VerifyingClientCtx(ca_.ca_cert());
  Handshake h = RunHandshake(server_.get(), client.get(),
                             [](SSL* ssl) { SSL_set1_host(ssl, "db.example.com"); });
  EXPECT_FALSE(h.ok);
  EXPECT_THAT(h.error, HasSubstr("certificate verify failed"));
  EXPECT_EQ(h.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(h.client_verify_text, "hostname mismatch");
}

TEST_F(ClientFacingTest, ClientTrustingAnotherCaIsRefused) {
  TempDir other_dir;
  HostCa other = MustCreateCa(other_dir.path());
  SslCtxPtr client = VerifyingClientCtx(other.ca_cert());
  Handshake h =
      RunHandshake(server_.get(), client.get(), [](SSL* ssl) { SSL_set1_host(ssl, "localhost"); });
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.client_verify, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
}

TEST_F(ClientFacingTest, Tls12ClientConnectsAndOlderIsRefused) {
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server_.get()), TLS1_2_VERSION);

  SslCtxPtr tls12 = VerifyingClientCtx(ca_.ca_cert());
  SSL_CTX_set_max_proto_version(tls12.get(), TLS1_2_VERSION);
  Handshake h12 = RunHandshake(server_.get(), tls12.get());
  ASSERT_TRUE(h12.ok) << h12.error;
  EXPECT_EQ(h12.version, TLS1_2_VERSION);

  SslCtxPtr tls11(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(tls11.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(tls11.get(), TLS1_1_VERSION);
  SSL_CTX_set_cipher_list(tls11.get(), "DEFAULT@SECLEVEL=0");
  Handshake h11 = RunHandshake(server_.get(), tls11.get());
  EXPECT_FALSE(h11.ok);
}

TEST_F(ClientFacingTest, SelectsPostgresqlAlpnAndIgnoresOthers) {
  SslCtxPtr client = VerifyingClientCtx(ca_.ca_cert());
  static const unsigned char kPg[] = "\x02h2\x0apostgresql";
  Handshake pg = RunHandshake(server_.get(), client.get(),
                              [](SSL* ssl) { SSL_set_alpn_protos(ssl, kPg, sizeof(kPg) - 1); });
  ASSERT_TRUE(pg.ok) << pg.error;
  EXPECT_EQ(pg.alpn, "postgresql");

  static const unsigned char kH2[] = "\x02h2";
  Handshake h2 = RunHandshake(server_.get(), client.get(),
                              [](SSL* ssl) { SSL_set_alpn_protos(ssl, kH2, sizeof(kH2) - 1); });
  ASSERT_TRUE(h2.ok) << h2.error;
  EXPECT_EQ(h2.alpn, "");
}

TEST_F(ClientFacingTest, NoSessionResumption) {
  EXPECT_NE(SSL_CTX_get_options(server_.get()) & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_get_num_tickets(server_.get()), 0u);
  EXPECT_EQ(SSL_CTX_get_session_cache_mode(server_.get()), SSL_SESS_CACHE_OFF);
}

TEST(ClientFacingContextTest, RefusesEmptyLeaf) {
  auto ctx = MakeClientFacingContext(LeafCert{});
  ASSERT_FALSE(ctx.ok());
}

// ---- Upstream context: veild as the client of the real database ------------------------------

// The database server: a leaf for "localhost" and 127.0.0.1 from the database's own CA.
class UpstreamTest : public ::testing::Test {
 protected:
  UpstreamTest() : db_ca_(MustCreateCa(tmp_ / "db-ca")) {
    LeafCert leaf = MustIssue(db_ca_, {"localhost"}, {"127.0.0.1"});
    db_server_ = MustServerCtx(leaf);
  }

  Handshake Connect(UpstreamVerify verify, const std::string& ca_file, const std::string& host) {
    auto ctx = MakeUpstreamContext(verify, ca_file);
    if (!ctx.ok()) return Handshake{.error = ctx.error().message};
    std::string configure_error;
    Handshake h = RunHandshake(db_server_.get(), ctx->get(), [&](SSL* ssl) {
      Status s = ConfigureUpstreamSsl(ssl, verify, host);
      if (!s.ok()) configure_error = s.error().message;
    });
    EXPECT_EQ(configure_error, "");
    return h;
  }

  TempDir tmp_;
  HostCa db_ca_;
  SslCtxPtr db_server_;
};

TEST_F(UpstreamTest, VerifyFullAcceptsTheRightCaAndName) {
  Handshake h = Connect(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath(), "localhost");
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.sni_seen, "localhost");
  EXPECT_EQ(h.client_verify_text, "");
}

TEST_F(UpstreamTest, VerifyFullRefusesServerFromAnotherCa) {
  TempDir other_dir;
  HostCa other = MustCreateCa(other_dir.path());
  Handshake h = Connect(UpstreamVerify::kVerifyFull, other.CaCertPath(), "localhost");
  EXPECT_FALSE(h.ok);
  EXPECT_THAT(h.error, HasSubstr("certificate verify failed"));
  EXPECT_EQ(h.client_verify, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
  EXPECT_EQ(h.client_verify_text, "self-signed certificate in certificate chain");
}

TEST_F(UpstreamTest, VerifyCaAlsoRefusesServerFromAnotherCa) {
  TempDir other_dir;
  HostCa other = MustCreateCa(other_dir.path());
  Handshake h = Connect(UpstreamVerify::kVerifyCa, other.CaCertPath(), "localhost");
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.client_verify, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
}

TEST_F(UpstreamTest, RequireEncryptsWithoutVerifying) {
  TempDir other_dir;
  HostCa other = MustCreateCa(other_dir.path());
  Handshake h = Connect(UpstreamVerify::kRequire, other.CaCertPath(), "db.example.com");
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.sni_seen, "db.example.com");
  EXPECT_EQ(h.client_verify_text, "") << "require ignores the verdict, so reports none";
}

TEST_F(UpstreamTest, VerifyCaChecksTheChainButNotTheName) {
  Handshake ca_only = Connect(UpstreamVerify::kVerifyCa, db_ca_.CaCertPath(), "db.example.com");
  ASSERT_TRUE(ca_only.ok) << ca_only.error;

  Handshake full = Connect(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath(), "db.example.com");
  EXPECT_FALSE(full.ok);
  EXPECT_EQ(full.client_verify_text, "hostname mismatch");
}

TEST_F(UpstreamTest, VerifyFullChecksIpLiteralsAndSendsNoSniForThem) {
  Handshake ok = Connect(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath(), "127.0.0.1");
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.sni_seen, "");

  Handshake wrong = Connect(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath(), "127.0.0.2");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.client_verify, X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_F(UpstreamTest, VerifyFullChecksBracketedIpv6) {
  LeafCert v6 = MustIssue(db_ca_, {"db.internal"}, {"::1"});
  db_server_ = MustServerCtx(v6);
  Handshake ok = Connect(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath(), "[::1]");
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.sni_seen, "");
  EXPECT_FALSE(Connect(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath(), "::2").ok);
}

TEST_F(UpstreamTest, ContextErrorsNameTheSettingAndFile) {
  const std::string missing = tmp_ / "no-such-ca.pem";
  auto r = MakeUpstreamContext(UpstreamVerify::kVerifyFull, missing);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message,
              HasSubstr("cannot read tls.upstream_ca " + missing + ": No such file or directory"));

  const std::string garbage = tmp_ / "garbage.pem";
  WriteFile(garbage, "this is not PEM\n");
  r = MakeUpstreamContext(UpstreamVerify::kVerifyCa, garbage);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message,
              HasSubstr("tls.upstream_ca " + garbage + " holds no usable PEM CA certificate"));

  r = MakeUpstreamContext(UpstreamVerify::kVerifyCa, "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("tls.upstream verify-ca needs tls.upstream_ca"));

  EXPECT_FALSE(MakeUpstreamContext(UpstreamVerify::kDisable, "").ok());
  EXPECT_TRUE(MakeUpstreamContext(UpstreamVerify::kRequire, "").ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "errors are drained into the message";
}

TEST_F(UpstreamTest, ConfigureRefusesMismatchedModes) {
  auto require_ctx = MakeUpstreamContext(UpstreamVerify::kRequire, "");
  ASSERT_TRUE(require_ctx.ok());
  SslPtr ssl(SSL_new(require_ctx->get()));
  Status s = ConfigureUpstreamSsl(ssl.get(), UpstreamVerify::kVerifyFull, "localhost");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("does not verify the server"));
  EXPECT_FALSE(ConfigureUpstreamSsl(ssl.get(), UpstreamVerify::kDisable, "localhost").ok());

  auto full_ctx = MakeUpstreamContext(UpstreamVerify::kVerifyFull, db_ca_.CaCertPath());
  ASSERT_TRUE(full_ctx.ok());
  SslPtr full(SSL_new(full_ctx->get()));
  EXPECT_FALSE(ConfigureUpstreamSsl(full.get(), UpstreamVerify::kVerifyFull, "").ok());
  EXPECT_FALSE(ConfigureUpstreamSsl(nullptr, UpstreamVerify::kRequire, "localhost").ok());
}

}  // namespace
}  // namespace veil::tls
