// A sidecar's identity from weftctl: the token API path, the CA address a sidecar dials, the
// pod's hosts file naming weftd's CA, the /certs summary of `weftctl workloads`, and the identity
// files themselves (asked of a one-shot fake weftd on loopback; modes and contents checked).
#include "ctl/workload_identity.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "ctl/netns.h"
#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;

TEST(WorkloadIdentityTest, TokenPathAndCaAddress) {
  EXPECT_EQ(TokenApiPath("bookinfo", "bookinfo-reviews"),
            "/apis/weft.io/v1/namespaces/bookinfo/serviceaccounts/bookinfo-reviews/token");
  // Captured: weftd's certificate name, resolved by the pod's hosts file to the gateway.
  EXPECT_EQ(SidecarCaAddress(true, "0.0.0.0:41234"), "istiod.istio-system.svc:41234");
  EXPECT_EQ(SidecarCaAddress(false, "127.0.0.1:15012"), "127.0.0.1:15012");
  EXPECT_EQ(SidecarCaAddress(true, ""), "");  // an older install record: no identity
}

TEST(WorkloadIdentityTest, PodHostsFileNamesTheCaOnTheGateway) {
  const std::string hosts = PodHostsFile("10.250.0.7", "reviews-v1", "10.250.0.1");
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost\n"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("10.250.0.7\treviews-v1\n"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("10.250.0.1\tistiod.istio-system.svc "), std::string::npos) << hosts;
}

TEST(WorkloadIdentityTest, CertificateSummaryFromEnvoysCertsPage) {
  const nlohmann::json page = nlohmann::json::parse(R"({"certificates": [{
      "ca_cert": [{"serial_number": "aa", "subject_alt_names": []}],
      "cert_chain": [{"serial_number": "01d1", "expiration_time": "2026-11-26T08:44:51Z",
                      "subject_alt_names": [{"uri": "spiffe://cluster.local/ns/default/sa/a"}]}]
  }]})");
  EXPECT_EQ(CertificateSummary(page),
            "spiffe://cluster.local/ns/default/sa/a serial 01d1 until 2026-11-26T08:44:51Z");
  EXPECT_EQ(CertificateSummary(nlohmann::json::parse(R"({"certificates": []})")), "none");
  EXPECT_EQ(CertificateSummary(nlohmann::json()), "none");
}

// Answers one HTTP request on 127.0.0.1 with `status` and `body`; records the request line.
class OneShotServer {
 public:
  OneShotServer(int status, std::string body) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 1);
    thread_ = std::thread([this, status, body] {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string request;
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      request_line_ = request.substr(0, request.find("\r\n"));
      const std::string response =
          "HTTP/1.1 " + std::to_string(status) +
          " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      ssize_t ignored = write(c, response.data(), response.size());
      (void)ignored;
      close(c);
    });
  }
  ~OneShotServer() {
    shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string request_line() {
    if (thread_.joinable()) thread_.join();
    return request_line_;
  }

 private:
  int fd_ = -1, port_ = 0;
  std::thread thread_;
  std::string request_line_;
};

class IdentityFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ =
        fs::temp_directory_path() / ("weft-identity-" + std::to_string(getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    setenv("WEFT_HOME", home_.c_str(), 1);
    fs::create_directories(home_);
    root_ = home_ / "root-cert.pem";
    std::ofstream(root_) << "-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n";
    w_.name = "reviews-v1";
    w_.ns = "bookinfo";
    w_.service_account = "bookinfo-reviews";
  }
  void TearDown() override {
    fs::remove_all(home_);
    unsetenv("WEFT_HOME");
  }
  static mode_t Mode(const fs::path& p) {
    struct stat st {};
    stat(p.c_str(), &st);
    return st.st_mode & 07777;
  }
  fs::path home_, root_;
  WorkloadRecord w_;
};

TEST_F(IdentityFilesTest, TokenOnlyForTheSidecarAndRootBesideIt) {
  OneShotServer weftd(201, R"({"token": "header.payload.signature"})");
  Client client(weftd.address());
  std::string error;
  ASSERT_TRUE(ProvisionIdentity(client, w_, root_, geteuid(), getegid(), &error)) << error;
  EXPECT_EQ(weftd.request_line(),
            "POST /apis/weft.io/v1/namespaces/bookinfo/serviceaccounts/bookinfo-reviews/token "
            "HTTP/1.1");
  const IdentityFiles files = WorkloadIdentityFiles("reviews-v1");
  EXPECT_EQ(files.dir, home_ / "workloads" / "reviews-v1" / "identity");
  std::ifstream token(files.token);
  std::string text;
  std::getline(token, text);
  EXPECT_EQ(text, "header.payload.signature");
  EXPECT_EQ(Mode(files.token), 0400u);
  EXPECT_EQ(Mode(files.root_cert), 0444u);
  EXPECT_EQ(Mode(files.dir), 0700u);
  EXPECT_FALSE(fs::exists(files.token.string() + ".tmp"));
  RemoveIdentity("reviews-v1");
  EXPECT_FALSE(fs::exists(files.dir));
}

TEST_F(IdentityFilesTest, RefusalsSayWhy) {
  OneShotServer weftd(400,
                      R"({"message": "namespace and service account must be DNS-1123 names"})");
  Client client(weftd.address());
  std::string error;
  EXPECT_FALSE(ProvisionIdentity(client, w_, root_, geteuid(), getegid(), &error));
  EXPECT_EQ(error,
            "weftd did not issue a token for bookinfo/bookinfo-reviews (HTTP 400: namespace and "
            "service account must be DNS-1123 names)");
  EXPECT_FALSE(fs::exists(WorkloadIdentityFiles("reviews-v1").token));
  EXPECT_FALSE(ProvisionIdentity(client, w_, home_ / "missing.pem", geteuid(), getegid(), &error));
  EXPECT_NE(error.find("missing.pem: the mesh root cannot be read"), std::string::npos) << error;
}

}  // namespace
}  // namespace weft::ctl
