#include "proxy/identity/identity_agent.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "proxy/identity/ca_client.h"
#include "proxy/identity/certificate_details.h"
#include "security/openssl_util.h"

namespace weft::proxy::identity {
namespace {

using Clock = std::chrono::system_clock;
constexpr std::chrono::milliseconds kInitialBackoff(1000);
// A sidecar without a certificate serves no TLS (its listeners warm): retry often enough that it
// recovers within seconds of the CA coming back; a CSR is cheap for the CA.
constexpr std::chrono::milliseconds kMaxBackoff(10000);
constexpr double kRenewRatio = 0.5;
constexpr double kJitter = 0.1;

// One issued identity: what the secrets are made of.
struct Issued {
  tls::TlsCertificate certificate;  // leaf + intermediates, key
  std::string root_pem;
  std::vector<std::string> chain;  // as the CA answered: leaf, intermediates..., root
};

}  // namespace

// Main-thread state; the worker reaches it only through posted closures holding a weak_ptr.
struct IdentityAgent::Shared {
  std::vector<std::function<void(const tls::TlsCertificate&)>> certificate_subscribers;
  std::vector<std::function<void(const tls::ValidationContext&)>> validation_subscribers;
  std::optional<Issued> current;
  stats::Gauge* days_until_expiring = nullptr;

  void Apply(Issued issued) {
    current = std::move(issued);
    if (days_until_expiring != nullptr) {
      if (auto validity = CertificateValidity(current->chain.front()); validity.ok()) {
        const auto hours =
            std::chrono::duration_cast<std::chrono::hours>(validity->not_after - Clock::now());
        days_until_expiring->Set(std::max<int64_t>(0, hours.count() / 24));
      }
    }
    for (auto& cb : certificate_subscribers) cb(current->certificate);
    for (auto& cb : validation_subscribers) cb(tls::ValidationContext{current->root_pem});
  }
};

class IdentityAgent::Worker {
 public:
  Worker(event::Dispatcher& main, AgentOptions options, std::weak_ptr<Shared> shared)
      : main_(main),
        options_(std::move(options)),
        shared_(std::move(shared)),
        client_(options_.ca_address, options_.root_cert_pem),
        random_(std::random_device{}()) {}

  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

 private:
  double Jitter() { return std::uniform_real_distribution<double>(-kJitter, kJitter)(random_); }

  void Run() {
    std::chrono::milliseconds backoff = kInitialBackoff;
    while (true) {
      std::chrono::milliseconds wait;
      absl::StatusOr<Issued> issued = Request();
      if (issued.ok()) {
        wait = RenewalDelay(issued->chain.front());
        backoff = kInitialBackoff;
        WEFT_LOG(info, "identity: certificate for {} issued; renewing in {} ms", options_.spiffe_id,
                 wait.count());
        main_.Post([weak = shared_, issued = std::move(*issued)]() mutable {
          if (auto shared = weak.lock()) shared->Apply(std::move(issued));
        });
      } else {
        wait = std::chrono::milliseconds(
            static_cast<int64_t>(static_cast<double>(backoff.count()) * (1 + Jitter())));
        WEFT_LOG(warn, "identity: certificate request for {} to {} failed: {}; retrying in {} ms",
                 options_.spiffe_id, options_.ca_address, issued.status().message(), wait.count());
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
    }
  }

  // Half the lifetime from notBefore, ±10 %; at once if that is already past.
  std::chrono::milliseconds RenewalDelay(const std::string& leaf_pem) {
    auto validity = CertificateValidity(leaf_pem);
    if (!validity.ok()) return kInitialBackoff;
    const auto lifetime = std::chrono::duration_cast<std::chrono::milliseconds>(
        validity->not_after - validity->not_before);
    const auto renew_at =
        validity->not_before +
        std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(lifetime.count()) *
                                                       kRenewRatio * (1 + Jitter())));
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(renew_at - Clock::now()));
  }

  absl::StatusOr<Issued> Request() {
    ASSIGN_OR_RETURN(std::string token, security::ReadTokenFile(options_.token_path));
    ASSIGN_OR_RETURN(security::PkeyPtr key, security::NewEcP256Key());
    ASSIGN_OR_RETURN(std::string csr, security::MakeCsr(key.get(), "URI:" + options_.spiffe_id));
    ASSIGN_OR_RETURN(
        std::vector<std::string> chain,
        client_.CreateCertificate(csr, token, std::chrono::seconds(0), options_.request_timeout));
    Issued issued;
    for (size_t i = 0; i + 1 < chain.size(); ++i) issued.certificate.cert_chain_pem += chain[i];
    issued.certificate.private_key_pem = security::PrivateKeyToPem(key.get());
    issued.root_pem = chain.back();
    issued.chain = std::move(chain);
    return issued;
  }

  event::Dispatcher& main_;
  const AgentOptions options_;
  std::weak_ptr<Shared> shared_;
  CaClient client_;
  std::mt19937_64 random_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

IdentityAgent::IdentityAgent(event::Dispatcher& main, AgentOptions options,
                             stats::Gauge* days_until_expiring)
    : shared_(std::make_shared<Shared>()) {
  shared_->days_until_expiring = days_until_expiring;
  worker_ = std::make_unique<Worker>(main, std::move(options), shared_);
}

IdentityAgent::~IdentityAgent() { worker_.reset(); }

void IdentityAgent::Start() { worker_->Start(); }

void IdentityAgent::SubscribeCertificate(const std::string& name,
                                         std::function<void(const tls::TlsCertificate&)> callback) {
  if (name != kWorkloadCertificate) return;
  if (shared_->current) callback(shared_->current->certificate);
  shared_->certificate_subscribers.push_back(std::move(callback));
}

void IdentityAgent::SubscribeValidation(
    const std::string& name, std::function<void(const tls::ValidationContext&)> callback) {
  if (name != kRootCa) return;
  if (shared_->current) callback(tls::ValidationContext{shared_->current->root_pem});
  shared_->validation_subscribers.push_back(std::move(callback));
}

std::string IdentityAgent::CertsJson() const {
  nlohmann::json certificates = nlohmann::json::array();
  if (shared_->current) {
    const Clock::time_point now = Clock::now();
    const std::vector<std::string>& chain = shared_->current->chain;
    nlohmann::json ca = nlohmann::json::array(), leafs = nlohmann::json::array();
    if (auto root = CertificateDetails(chain.back(), "<inline>", now); root.ok()) {
      ca.push_back(*root);
    }
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      if (auto cert = CertificateDetails(chain[i], "<inline>", now); cert.ok()) {
        leafs.push_back(*cert);
      }
    }
    certificates.push_back({{"ca_cert", ca}, {"cert_chain", leafs}});
  }
  return nlohmann::json{{"certificates", certificates}}.dump(2);
}

}  // namespace weft::proxy::identity
