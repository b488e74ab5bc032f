// What a worker offers the connections it owns: its event loop, stats, randomness and clusters.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <string>

#include "base/random.h"
#include "event/dispatcher.h"
#include "proxy/access_log/access_log.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/http/cluster_fetch.h"
#include "proxy/http/shadow_request.h"
#include "proxy/stats/stats.h"

namespace weft::proxy {

struct WorkerContext {
  event::Dispatcher& dispatcher;
  stats::Store& stats;
  Random& random;
  cluster::ThreadLocalClusterManager& clusters;
  std::string hostname;   // for %HOSTNAME% and x-envoy headers
  size_t index = 0;       // the worker's number: its slot in per-worker tables (RDS routes)
  bool draining = false;  // set on drain: HTTP answers "connection: close", TCP is left alone

  access_log::WorkerAccessLogs access_logs;  // flushed by the worker every second
  ShadowRequests shadows;                    // mirrored requests still in flight
  ClusterFetches fetches;                    // filters' own requests (remote JWKS) in flight

  // The HTTP Date value (RFC 9110 §5.6.7) for `now`, formatted once per second per worker.
  const std::string& HttpDate(std::chrono::system_clock::time_point now) {
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    if (t != date_second) {
      char buf[64];
      std::tm tm;
      gmtime_r(&t, &tm);
      date_value.assign(buf, std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm));
      date_second = t;
    }
    return date_value;
  }
  std::time_t date_second = 0;
  std::string date_value;
};

}  // namespace weft::proxy
