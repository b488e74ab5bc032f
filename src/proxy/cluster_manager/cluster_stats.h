// The per-cluster statistics Envoy users scrape (cluster.<name>.<stat>), declared in one list so
// every name is greppable. One instance per worker per cluster.
#pragma once

#include <optional>
#include <string>

#include "proxy/stats/stats.h"
#include "proxy/tls/tls_context.h"

namespace weft::cluster {

// clang-format off
#define WEFT_CLUSTER_COUNTERS(X) \
  X(upstream_cx_total) \
  X(upstream_cx_http1_total) \
  X(upstream_cx_http2_total) \
  X(upstream_cx_protocol_error) \
  X(upstream_cx_connect_fail) \
  X(upstream_cx_connect_timeout) \
  X(upstream_cx_destroy) \
  X(upstream_cx_destroy_local) \
  X(upstream_cx_destroy_remote) \
  X(upstream_cx_rx_bytes_total) \
  X(upstream_cx_tx_bytes_total) \
  X(upstream_cx_none_healthy) \
  X(upstream_cx_overflow) \
  X(upstream_cx_idle_timeout) \
  X(upstream_cx_max_requests) \
  X(upstream_rq_total) \
  X(upstream_rq_completed) \
  X(upstream_rq_1xx) \
  X(upstream_rq_2xx) \
  X(upstream_rq_3xx) \
  X(upstream_rq_4xx) \
  X(upstream_rq_5xx) \
  X(upstream_rq_timeout) \
  X(upstream_rq_rx_reset) \
  X(upstream_rq_tx_reset) \
  X(upstream_rq_pending_total) \
  X(upstream_rq_pending_failure_eject) \
  X(upstream_rq_pending_overflow) \
  X(upstream_rq_per_try_timeout) \
  X(upstream_rq_retry) \
  X(upstream_rq_retry_success) \
  X(upstream_rq_retry_overflow) \
  X(upstream_rq_retry_limit_exceeded) \
  X(upstream_rq_retry_backoff_exponential) \
  X(retry_or_shadow_abandoned) \
  X(upstream_rq_max_duration_reached) \
  X(upstream_flow_control_paused_reading_total) \
  X(upstream_flow_control_resumed_reading_total) \
  X(lb_healthy_panic) \
  X(membership_change) \
  X(update_success) \
  X(update_failure)

#define WEFT_CLUSTER_GAUGES(X) \
  X(upstream_cx_active) \
  X(upstream_rq_active) \
  X(upstream_rq_pending_active) \
  X(membership_total) \
  X(membership_healthy)
// clang-format on

struct ClusterStats {
#define WEFT_DECLARE_COUNTER(name) stats::Counter& name;
#define WEFT_DECLARE_GAUGE(name) stats::Gauge& name;
  WEFT_CLUSTER_COUNTERS(WEFT_DECLARE_COUNTER)
  WEFT_CLUSTER_GAUGES(WEFT_DECLARE_GAUGE)
#undef WEFT_DECLARE_COUNTER
#undef WEFT_DECLARE_GAUGE
  stats::Histogram& upstream_rq_time;
  stats::Histogram& upstream_cx_connect_ms;
  // cluster.<name>.ssl.*, only for clusters with a TLS transport_socket (set by the owner).
  std::optional<tls::TlsStats> ssl;

  static ClusterStats Create(stats::Store& store, const std::string& cluster_name);
  void RecordResponseCode(uint32_t code);
};

}  // namespace weft::cluster
