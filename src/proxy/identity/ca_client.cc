#include "proxy/identity/ca_client.h"

#include <grpcpp/grpcpp.h>

#include "istio/security/v1alpha1/ca.grpc.pb.h"

namespace weft::proxy::identity {

namespace auth = istio::v1::auth;

class CaClient::Impl {
 public:
  Impl(const std::string& address, const std::string& root_cert_pem) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = root_cert_pem;
    // The agent retries with its own back-off; the channel's reconnect back-off (gRPC's default
    // grows to 120 s, doc/connection-backoff.md) would otherwise fail its requests at once for
    // minutes after the CA comes back. Bounded here, and requests wait for the reconnect
    // (wait_for_ready) within their deadline instead of failing fast.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 500);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    stub_ = auth::IstioCertificateService::NewStub(
        grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args));
  }
  std::unique_ptr<auth::IstioCertificateService::Stub> stub_;
};

CaClient::CaClient(const std::string& address, const std::string& root_cert_pem)
    : impl_(std::make_unique<Impl>(address, root_cert_pem)) {}
CaClient::~CaClient() = default;

absl::StatusOr<std::vector<std::string>> CaClient::CreateCertificate(const std::string& csr_pem,
                                                                     const std::string& token,
                                                                     std::chrono::seconds validity,
                                                                     std::chrono::seconds timeout) {
  auth::IstioCertificateRequest request;
  request.set_csr(csr_pem);
  request.set_validity_duration(validity.count());
  auth::IstioCertificateResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(true);
  context.AddMetadata("authorization", "Bearer " + token);
  grpc::Status status = impl_->stub_->CreateCertificate(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        "CreateCertificate: " + status.error_message());
  }
  if (response.cert_chain_size() < 2) {
    return absl::InvalidArgumentError("CreateCertificate: the CA answered no chain");
  }
  return std::vector<std::string>(response.cert_chain().begin(), response.cert_chain().end());
}

}  // namespace weft::proxy::identity
