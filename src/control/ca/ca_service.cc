#include "control/ca/ca_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "base/logging.h"
#include "istio/security/v1alpha1/ca.grpc.pb.h"

namespace weft::control::ca {
namespace {

namespace auth = istio::v1::auth;

constexpr std::string_view kBearer = "Bearer ";

// Istio's counters (security/pkg/server/ca/monitoring.go), same names and meanings.
struct Counters {
  std::atomic<int64_t> csr_count{0};                     // every CreateCertificate call
  std::atomic<int64_t> authentication_failure_count{0};  // no, malformed or invalid token
  std::atomic<int64_t> csr_parsing_err_count{0};         // CSR unreadable or bad signature
  std::atomic<int64_t> csr_sign_error_count{0};          // refused identity, TTL, signing error
  std::atomic<int64_t> success_cert_issuance_count{0};
};

std::string Peer(grpc::CallbackServerContext* context) { return context->peer(); }

}  // namespace

class CaService::Impl final : public auth::IstioCertificateService::CallbackService {
 public:
  Impl(CertificateAuthority& authority, const TokenAuthority& tokens, std::string trust_domain,
       std::chrono::seconds ttl)
      : authority_(authority), tokens_(tokens), trust_domain_(std::move(trust_domain)), ttl_(ttl) {}

  grpc::ServerUnaryReactor* CreateCertificate(grpc::CallbackServerContext* context,
                                              const auth::IstioCertificateRequest* request,
                                              auth::IstioCertificateResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Serve(context, *request, *response));
    return reactor;
  }

  std::string PrometheusText() const {
    std::string out;
    auto counter = [&out](const char* name, const char* help, const std::atomic<int64_t>& v) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
             " " + std::to_string(v.load()) + "\n";
    };
    counter("citadel_server_csr_count", "The number of CSRs received by the CA.",
            counters_.csr_count);
    counter("citadel_server_authentication_failure_count",
            "The number of CSRs refused for a missing or invalid token.",
            counters_.authentication_failure_count);
    counter("citadel_server_csr_parsing_err_count", "The number of unreadable CSRs.",
            counters_.csr_parsing_err_count);
    counter("citadel_server_csr_sign_error_count",
            "The number of CSRs refused (identity, TTL) or that failed to sign.",
            counters_.csr_sign_error_count);
    counter("citadel_server_success_cert_issuance_count", "The number of certificates issued.",
            counters_.success_cert_issuance_count);
    return out;
  }

 private:
  grpc::Status Refuse(grpc::CallbackServerContext* context, std::atomic<int64_t>& counter,
                      grpc::StatusCode code, const std::string& why) {
    ++counter;
    WEFT_LOG(warn, "ca: refused CreateCertificate from {}: {}", Peer(context), why);
    return grpc::Status(code, why);
  }

  grpc::Status Serve(grpc::CallbackServerContext* context,
                     const auth::IstioCertificateRequest& request,
                     auth::IstioCertificateResponse& response) {
    ++counters_.csr_count;
    const auto& metadata = context->client_metadata();
    auto header = metadata.find("authorization");
    if (header == metadata.end()) {
      return Refuse(context, counters_.authentication_failure_count,
                    grpc::StatusCode::UNAUTHENTICATED, "no authorization: Bearer token");
    }
    std::string value(header->second.data(), header->second.size());
    if (value.rfind(kBearer, 0) != 0) {
      return Refuse(context, counters_.authentication_failure_count,
                    grpc::StatusCode::UNAUTHENTICATED, "authorization is not a Bearer token");
    }
    absl::StatusOr<ServiceAccount> account = tokens_.Verify(value.substr(kBearer.size()));
    if (!account.ok()) {
      return Refuse(context, counters_.authentication_failure_count,
                    grpc::StatusCode::UNAUTHENTICATED, std::string(account.status().message()));
    }
    std::chrono::seconds ttl = ttl_;
    if (request.validity_duration() < 0 || request.validity_duration() > ttl_.count()) {
      return Refuse(context, counters_.csr_sign_error_count, grpc::StatusCode::INVALID_ARGUMENT,
                    "requested validity_duration " + std::to_string(request.validity_duration()) +
                        "s is outside (0, " + std::to_string(ttl_.count()) + "s]");
    }
    if (request.validity_duration() > 0) ttl = std::chrono::seconds(request.validity_duration());
    const std::string id = SpiffeId(trust_domain_, account->ns, account->name);
    absl::StatusOr<std::vector<std::string>> chain = authority_.SignCsr(request.csr(), id, ttl);
    if (!chain.ok()) {
      const std::string why = std::string(chain.status().message());
      switch (chain.status().code()) {
        case absl::StatusCode::kInvalidArgument:
          return Refuse(context, counters_.csr_parsing_err_count,
                        grpc::StatusCode::INVALID_ARGUMENT, why);
        case absl::StatusCode::kPermissionDenied:
          return Refuse(context, counters_.csr_sign_error_count,
                        grpc::StatusCode::PERMISSION_DENIED, why);
        default:
          return Refuse(context, counters_.csr_sign_error_count, grpc::StatusCode::INTERNAL, why);
      }
    }
    for (std::string& pem : *chain) response.add_cert_chain(std::move(pem));
    ++counters_.success_cert_issuance_count;
    WEFT_LOG(info, "ca: issued a certificate for {} valid {}s to {}", id, ttl.count(),
             Peer(context));
    return grpc::Status::OK;
  }

  CertificateAuthority& authority_;
  const TokenAuthority& tokens_;
  const std::string trust_domain_;
  const std::chrono::seconds ttl_;
  Counters counters_;
};

CaService::CaService(CertificateAuthority& authority, const TokenAuthority& tokens,
                     std::string trust_domain, std::chrono::seconds workload_cert_ttl)
    : impl_(std::make_unique<Impl>(authority, tokens, std::move(trust_domain), workload_cert_ttl)) {
}
CaService::~CaService() = default;

grpc::Service* CaService::grpc_service() { return impl_.get(); }

std::string CaService::PrometheusText() const { return impl_->PrometheusText(); }

}  // namespace weft::control::ca
