// Per-host statistics, as Envoy's admin /clusters shows them (cluster::host::rq_total::N).
// They live in their own stats registry, not in /stats: a mesh has many hosts per cluster, and
// Envoy too keeps per-host numbers out of its stats sink by default.
#pragma once

#include <string>

#include "proxy/stats/stats.h"

namespace weft::cluster {

// clang-format off
#define WEFT_HOST_COUNTERS(X) \
  X(cx_total) \
  X(cx_connect_fail) \
  X(rq_total) \
  X(rq_success) \
  X(rq_error) \
  X(rq_timeout)

#define WEFT_HOST_GAUGES(X) \
  X(cx_active) \
  X(rq_active)
// clang-format on

struct HostStats {
#define WEFT_DECLARE_COUNTER(name) stats::Counter& name;
#define WEFT_DECLARE_GAUGE(name) stats::Gauge& name;
  WEFT_HOST_COUNTERS(WEFT_DECLARE_COUNTER)
  WEFT_HOST_GAUGES(WEFT_DECLARE_GAUGE)
#undef WEFT_DECLARE_COUNTER
#undef WEFT_DECLARE_GAUGE

  // Names are "<cluster>::<host address>::<stat>", the form /clusters prints.
  static HostStats Create(stats::Store& store, const std::string& cluster,
                          const std::string& host) {
    const std::string p = cluster + "::" + host + "::";
#define WEFT_INIT_COUNTER(name) store.counter(p + #name),
#define WEFT_INIT_GAUGE(name) store.gauge(p + #name),
    return HostStats{WEFT_HOST_COUNTERS(WEFT_INIT_COUNTER) WEFT_HOST_GAUGES(WEFT_INIT_GAUGE)};
#undef WEFT_INIT_COUNTER
#undef WEFT_INIT_GAUGE
  }
};

}  // namespace weft::cluster
