// Circuit breaking (envoy.config.cluster.v3.CircuitBreakers): how many connections, pending
// requests, requests and retries one cluster may have open at once, counted across all workers
// (the limits protect the upstream, which sees the whole proxy). One ResourceManager per cluster
// config and priority, shared by the workers; every count is one atomic.
//
// Thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>

namespace weft::upstream {

// envoy.config.cluster.v3.CircuitBreakers.Thresholds, with Envoy's defaults.
struct CircuitBreakerThresholds {
  uint32_t max_connections = 1024;
  uint32_t max_pending_requests = 1024;
  uint32_t max_requests = 1024;
  uint32_t max_retries = 3;
  // retry_budget: retries limited to a share of the requests in flight (active + pending), but
  // never below min_retry_concurrency. Replaces max_retries when set.
  struct RetryBudget {
    double budget_percent = 20.0;        // Envoy's default
    uint32_t min_retry_concurrency = 3;  // Envoy's default
  };
  std::optional<RetryBudget> retry_budget;
};

class ResourceManager {
 public:
  class Resource {
   public:
    explicit Resource(uint64_t max) : max_(max) {}
    bool CanCreate() const { return count() < max_; }
    void Inc() { count_.fetch_add(1, std::memory_order_relaxed); }
    void Dec() { count_.fetch_sub(1, std::memory_order_relaxed); }
    uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    uint64_t max() const { return max_; }

   private:
    std::atomic<uint64_t> count_{0};
    const uint64_t max_;
  };

  explicit ResourceManager(const CircuitBreakerThresholds& t)
      : connections(t.max_connections),
        pending_requests(t.max_pending_requests),
        requests(t.max_requests),
        retries(t.max_retries),
        retry_budget_(t.retry_budget) {}

  // Whether one more retry may start now.
  bool CanRetry() const { return retries.count() < MaxRetries(); }
  uint64_t MaxRetries() const {
    if (!retry_budget_) return retries.max();
    const double in_flight = static_cast<double>(requests.count() + pending_requests.count());
    const auto budget = static_cast<uint64_t>(in_flight * retry_budget_->budget_percent / 100.0);
    return std::max<uint64_t>(budget, retry_budget_->min_retry_concurrency);
  }

  Resource connections;
  Resource pending_requests;
  Resource requests;
  Resource retries;

 private:
  std::optional<CircuitBreakerThresholds::RetryBudget> retry_budget_;
};

}  // namespace weft::upstream
