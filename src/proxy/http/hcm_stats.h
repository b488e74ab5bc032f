// http.<stat_prefix>.* statistics of one HTTP connection manager on one worker (Envoy's names).
#pragma once

#include <string>

#include "proxy/stats/stats.h"

namespace weft::proxy {

// clang-format off
#define WEFT_HCM_COUNTERS(X) \
  X(downstream_cx_total) \
  X(downstream_cx_http1_total) \
  X(downstream_cx_http2_total) \
  X(downstream_cx_destroy) \
  X(downstream_cx_destroy_remote) \
  X(downstream_cx_destroy_local) \
  X(downstream_cx_idle_timeout) \
  X(downstream_cx_protocol_error) \
  X(downstream_cx_drain_close) \
  X(downstream_cx_rx_bytes_total) \
  X(downstream_cx_tx_bytes_total) \
  X(downstream_cx_upgrades_total) \
  X(downstream_rq_total) \
  X(downstream_rq_http1_total) \
  X(downstream_rq_http2_total) \
  X(downstream_rq_1xx) \
  X(downstream_rq_2xx) \
  X(downstream_rq_3xx) \
  X(downstream_rq_4xx) \
  X(downstream_rq_5xx) \
  X(downstream_rq_completed) \
  X(downstream_rq_timeout) \
  X(downstream_rq_idle_timeout) \
  X(downstream_rq_header_timeout) \
  X(downstream_rq_rx_reset) \
  X(downstream_rq_tx_reset) \
  X(downstream_rq_non_relative_path) \
  X(downstream_rq_too_large) \
  X(no_route) \
  X(no_cluster) \
  X(rq_direct_response) \
  X(rq_redirect) \
  X(rq_total) \
  X(downstream_flow_control_paused_reading_total) \
  X(downstream_flow_control_resumed_reading_total)

#define WEFT_HCM_GAUGES(X) \
  X(downstream_cx_active) \
  X(downstream_cx_http1_active) \
  X(downstream_cx_http2_active) \
  X(downstream_rq_active) \
  X(downstream_cx_upgrades_active)
// clang-format on

struct HcmStats {
#define WEFT_DECLARE_COUNTER(name) stats::Counter& name;
#define WEFT_DECLARE_GAUGE(name) stats::Gauge& name;
  WEFT_HCM_COUNTERS(WEFT_DECLARE_COUNTER)
  WEFT_HCM_GAUGES(WEFT_DECLARE_GAUGE)
#undef WEFT_DECLARE_COUNTER
#undef WEFT_DECLARE_GAUGE
  stats::Histogram& downstream_rq_time;
  stats::Histogram& downstream_cx_length_ms;

  static HcmStats Create(stats::Store& store, const std::string& stat_prefix) {
    const std::string p = "http." + stat_prefix + ".";
#define WEFT_INIT_COUNTER(name) store.counter(p + #name),
#define WEFT_INIT_GAUGE(name) store.gauge(p + #name),
    return HcmStats{WEFT_HCM_COUNTERS(WEFT_INIT_COUNTER) WEFT_HCM_GAUGES(WEFT_INIT_GAUGE)
                        store.histogram(p + "downstream_rq_time"),
                    store.histogram(p + "downstream_cx_length_ms")};
#undef WEFT_INIT_COUNTER
#undef WEFT_INIT_GAUGE
  }
  void RecordResponseCode(uint32_t code) {
    switch (code / 100) {
      case 1:
        downstream_rq_1xx.Inc();
        break;
      case 2:
        downstream_rq_2xx.Inc();
        break;
      case 3:
        downstream_rq_3xx.Inc();
        break;
      case 4:
        downstream_rq_4xx.Inc();
        break;
      case 5:
        downstream_rq_5xx.Inc();
        break;
      default:
        break;
    }
  }
};

}  // namespace weft::proxy
