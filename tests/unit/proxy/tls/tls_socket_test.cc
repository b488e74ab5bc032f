// TLS contexts and sockets without the network: a client and a server TlsSocket hand each other
// their wire bytes in memory. Certificates are made by the openssl command for each run.
#include "proxy/tls/tls_socket.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "proxy/tls/secret_provider.h"
#include "proxy/tls/tls_context.h"

namespace weft::tls {
namespace {

using network::Buffer;
using Result = network::TransportSocket::Result;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A root and two leaves signed by it, URI SANs spiffe://test/a and spiffe://test/b.
class Pki {
 public:
  Pki() {
    char tmpl[] = "/tmp/weft-tls-unit-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.pem -days 1 -subj /CN=root");
    for (const char* name : {"a", "b"}) {
      std::string n(name);
      Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + n +
          ".key -out " + n + ".csr -subj /CN=" + n);
      std::ofstream(dir_ + "/" + n + ".ext") << "subjectAltName=URI:spiffe://test/" << n << "\n";
      Run("openssl x509 -req -in " + n +
          ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
          "-extfile " +
          n + ".ext -out " + n + ".pem");
    }
  }
  ~Pki() { std::filesystem::remove_all(dir_); }
  TlsCertificate Cert(const std::string& name) const {
    return {ReadFile(dir_ + "/" + name + ".pem"), ReadFile(dir_ + "/" + name + ".key")};
  }
  ValidationContext Root() const { return {ReadFile(dir_ + "/ca.pem")}; }

 private:
  void Run(const std::string& command) {
    std::string full = "cd " + dir_ + " && " + command + " >/dev/null 2>&1";
    ASSERT_EQ(system(full.c_str()), 0) << command;
  }
  std::string dir_;
};

SanMatcher ExactUri(const std::string& value) {
  SanMatcher m;
  m.type = SanMatcher::Type::kUri;
  m.matcher.value = value;
  return m;
}

struct Pair {
  TlsSocket client, server;
  Buffer c2s, s2c, client_plain, server_plain;
  Result client_result = Result::kOk, server_result = Result::kOk;
  Pair(std::shared_ptr<const SslContext> c, std::shared_ptr<const SslContext> s,
       std::shared_ptr<SessionCache> sessions = nullptr, const TlsStats* client_stats = nullptr)
      : client(std::move(c), client_stats, std::move(sessions)), server(std::move(s), nullptr) {
    client.StartHandshake(c2s);
  }
  // Shuttles bytes until neither side has anything to send.
  void Run() {
    for (int i = 0; i < 10 && (!c2s.empty() || !s2c.empty()); ++i) {
      if (!c2s.empty()) server_result = server.OnWireData(c2s, server_plain, s2c);
      if (!s2c.empty()) client_result = client.OnWireData(s2c, client_plain, c2s);
    }
  }
};

class TlsSocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() { delete pki_; }
  std::shared_ptr<TlsContext> Server(bool require_client, std::vector<SanMatcher> sans = {}) {
    TlsContextConfig c;
    c.server = true;
    c.certificate = pki_->Cert("a");
    c.require_client_certificate = require_client;
    if (require_client) c.validation = pki_->Root();
    c.san_matchers = std::move(sans);
    c.alpn_protocols = {"h2", "http/1.1"};
    return *TlsContext::Create(c);
  }
  std::shared_ptr<TlsContext> Client(std::optional<std::string> cert,
                                     std::vector<SanMatcher> sans) {
    TlsContextConfig c;
    if (cert) c.certificate = pki_->Cert(*cert);
    c.validation = pki_->Root();
    c.san_matchers = std::move(sans);
    c.alpn_protocols = {"http/1.1", "h2"};
    c.sni = "a.test";
    return *TlsContext::Create(c);
  }
  static Pki* pki_;
};
Pki* TlsSocketTest::pki_ = nullptr;

TEST_F(TlsSocketTest, MutualHandshakeCarriesDataAndIdentities) {
  Pair p(Client("b", {ExactUri("spiffe://test/a")})->current(),
         Server(true, {ExactUri("spiffe://test/b")})->current());
  p.Run();
  ASSERT_TRUE(p.client.HandshakeDone()) << p.client.failure_reason();
  ASSERT_TRUE(p.server.HandshakeDone()) << p.server.failure_reason();
  EXPECT_EQ(p.server.security_info()->peer_uri_san, "spiffe://test/b");
  EXPECT_EQ(p.client.security_info()->peer_uri_san, "spiffe://test/a");
  // Each side's own certificate too (Istio's client-side source_principal).
  EXPECT_EQ(p.client.security_info()->local_uri_san, "spiffe://test/b");
  EXPECT_EQ(p.server.security_info()->local_uri_san, "spiffe://test/a");
  EXPECT_EQ(p.server.security_info()->sni, "a.test");
  EXPECT_EQ(p.server.security_info()->tls_version, "TLSv1.3");
  EXPECT_EQ(p.server.security_info()->alpn, "h2");  // the server's preference
  Buffer request;
  request.Append("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.client.Encrypt(request, p.c2s), Result::kOk);
  EXPECT_TRUE(request.empty());
  p.Run();
  EXPECT_EQ(p.server_plain.view(), "GET / HTTP/1.1\r\n\r\n");
  // close_notify reaches the other side as end of stream.
  p.client.CloseNotify(p.c2s);
  p.Run();
  EXPECT_EQ(p.server_result, Result::kPeerClosed);
}

// The socket reads ciphertext straight from the Connection's wire buffer: bytes arriving a few
// at a time (records split anywhere, headers included) and many records in one read must come
// out whole and in order, with nothing left behind in the wire buffer.
TEST_F(TlsSocketTest, WireBytesInSmallPiecesAndManyRecordsComeOutWhole) {
  Pair p(Client("b", {ExactUri("spiffe://test/a")})->current(),
         Server(true, {ExactUri("spiffe://test/b")})->current());
  p.Run();
  ASSERT_TRUE(p.client.HandshakeDone()) << p.client.failure_reason();
  std::string payload;
  for (int i = 0; payload.size() < 100000; ++i) payload += std::to_string(i) + ",";
  Buffer plain;
  plain.Append(payload);
  ASSERT_EQ(p.server.Encrypt(plain, p.s2c), Result::kOk);  // several 16 KiB records
  ASSERT_GT(p.s2c.length(), payload.size());
  // In 7-byte pieces, appended to one wire buffer as Connection::DoRead does.
  std::string wire(p.s2c.view());
  p.s2c.Drain(p.s2c.length());
  Buffer wire_in, unused_out;
  for (size_t at = 0; at < wire.size(); at += 7) {
    wire_in.Append(std::string_view(wire).substr(at, 7));
    ASSERT_EQ(p.client.OnWireData(wire_in, p.client_plain, unused_out), Result::kOk);
    EXPECT_TRUE(wire_in.empty());
  }
  EXPECT_EQ(p.client_plain.view(), payload);
  // And the same all at once, in the other direction.
  plain.Append(payload);
  ASSERT_EQ(p.client.Encrypt(plain, p.c2s), Result::kOk);
  ASSERT_EQ(p.server.OnWireData(p.c2s, p.server_plain, p.s2c), Result::kOk);
  EXPECT_TRUE(p.c2s.empty());
  EXPECT_EQ(p.server_plain.view(), payload);
}

TEST_F(TlsSocketTest, WrongPeerIdentityFailsTheHandshake) {
  Pair p(Client("b", {})->current(), Server(true, {ExactUri("spiffe://test/other")})->current());
  p.Run();
  EXPECT_EQ(p.server_result, Result::kError);
  EXPECT_NE(p.server.failure_reason().find("SAN"), std::string::npos) << p.server.failure_reason();
}

TEST_F(TlsSocketTest, MissingClientCertificateFailsWhenRequired) {
  Pair p(Client(std::nullopt, {})->current(), Server(true)->current());
  p.Run();
  EXPECT_EQ(p.server_result, Result::kError);
  EXPECT_FALSE(p.server.HandshakeDone());
}

TEST_F(TlsSocketTest, BadKeyIsRefused) {
  TlsContextConfig c;
  c.server = true;
  c.certificate = TlsCertificate{pki_->Cert("a").cert_chain_pem, pki_->Cert("b").private_key_pem};
  auto context = TlsContext::Create(c);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("private_key"), std::string::npos);
}

// Rotation: each SDS update builds a new SSL_CTX for new connections; a socket made with the
// old one keeps it.
TEST_F(TlsSocketTest, SdsUpdateSwapsTheContextForNewConnectionsOnly) {
  TlsContextConfig c;
  c.server = true;
  c.certificate_sds_name = "default";
  auto context = *TlsContext::Create(c);
  EXPECT_EQ(context->current(), nullptr);
  StaticSecretProvider provider;
  context->Subscribe(provider);
  provider.SetCertificate("default", pki_->Cert("a"));
  std::shared_ptr<const SslContext> first = context->current();
  ASSERT_NE(first, nullptr);
  Pair open(Client(std::nullopt, {ExactUri("spiffe://test/a")})->current(), first);
  provider.SetCertificate("default", pki_->Cert("b"));
  std::shared_ptr<const SslContext> second = context->current();
  ASSERT_NE(second, first);
  open.Run();  // the connection started before the rotation completes with the old certificate
  EXPECT_TRUE(open.client.HandshakeDone()) << open.client.failure_reason();
  Pair fresh(Client(std::nullopt, {ExactUri("spiffe://test/b")})->current(), second);
  fresh.Run();
  EXPECT_TRUE(fresh.client.HandshakeDone()) << fresh.client.failure_reason();
}

// Upstream resumption: the session of the first connection (a TLS 1.3 ticket) is kept in the
// host's cache and offered by the next connection, which resumes; another client context (a
// rotation) does not offer it.
TEST_F(TlsSocketTest, SessionCacheResumesTheNextConnection) {
  auto server = Server(/*require_client=*/true)->current();
  auto client = Client("b", {ExactUri("spiffe://test/a")})->current();
  auto sessions = std::make_shared<SessionCache>();
  stats::Registry registry;
  TlsStats stats = TlsStats::Create(registry.NewStore(), "cluster.c.");
  Pair first(client, server, sessions, &stats);
  first.Run();
  ASSERT_TRUE(first.client.HandshakeDone()) << first.client.failure_reason();
  ASSERT_NE(sessions->SessionFor(client.get()), nullptr);
  EXPECT_EQ(stats.session_reused->value(), 0u);
  Pair second(client, server, sessions, &stats);
  second.Run();
  ASSERT_TRUE(second.client.HandshakeDone()) << second.client.failure_reason();
  EXPECT_EQ(stats.session_reused->value(), 1u);
  EXPECT_EQ(stats.handshake->value(), 2u);
  EXPECT_EQ(second.client.security_info()->peer_uri_san, "spiffe://test/a");
  EXPECT_EQ(second.client.security_info()->local_uri_san, "spiffe://test/b");  // resumed too
  auto other = Client("b", {ExactUri("spiffe://test/a")})->current();
  EXPECT_EQ(sessions->SessionFor(other.get()), nullptr);
  Pair no_cache(client, server, nullptr, &stats);
  no_cache.Run();
  ASSERT_TRUE(no_cache.client.HandshakeDone());
  EXPECT_EQ(stats.session_reused->value(), 1u);
}

// trust_chain_verification ACCEPT_UNTRUSTED: a peer whose chain does not verify is accepted,
// but its SAN must still match.
TEST_F(TlsSocketTest, AcceptUntrustedSkipsTheChainButNotTheSans) {
  auto server = Server(/*require_client=*/false)->current();
  auto make_client = [&](bool accept_untrusted, const std::string& san) {
    TlsContextConfig c;
    c.validation = ValidationContext{pki_->Cert("b").cert_chain_pem};  // not the server's root
    c.san_matchers = {ExactUri(san)};
    c.accept_untrusted = accept_untrusted;
    return (*TlsContext::Create(c))->current();
  };
  Pair verified(make_client(false, "spiffe://test/a"), server);
  verified.Run();
  EXPECT_FALSE(verified.client.HandshakeDone());
  Pair accepted(make_client(true, "spiffe://test/a"), server);
  accepted.Run();
  EXPECT_TRUE(accepted.client.HandshakeDone()) << accepted.client.failure_reason();
  Pair wrong_san(make_client(true, "spiffe://test/other"), server);
  wrong_san.Run();
  EXPECT_FALSE(wrong_san.client.HandshakeDone());
}

}  // namespace
}  // namespace weft::tls
