#include "proxy/cluster_manager/cluster_stats.h"

namespace weft::cluster {

ClusterStats ClusterStats::Create(stats::Store& store, const std::string& cluster_name) {
  const std::string p = "cluster." + cluster_name + ".";
#define WEFT_INIT_COUNTER(name) store.counter(p + #name),
#define WEFT_INIT_GAUGE(name) store.gauge(p + #name),
  return ClusterStats{WEFT_CLUSTER_COUNTERS(WEFT_INIT_COUNTER) WEFT_CLUSTER_GAUGES(WEFT_INIT_GAUGE)
                          store.histogram(p + "upstream_rq_time"),
                      store.histogram(p + "upstream_cx_connect_ms")};
#undef WEFT_INIT_COUNTER
#undef WEFT_INIT_GAUGE
}

void ClusterStats::RecordResponseCode(uint32_t code) {
  switch (code / 100) {
    case 1:
      upstream_rq_1xx.Inc();
      break;
    case 2:
      upstream_rq_2xx.Inc();
      break;
    case 3:
      upstream_rq_3xx.Inc();
      break;
    case 4:
      upstream_rq_4xx.Inc();
      break;
    case 5:
      upstream_rq_5xx.Inc();
      break;
    default:
      break;
  }
  upstream_rq_completed.Inc();
}

}  // namespace weft::cluster
