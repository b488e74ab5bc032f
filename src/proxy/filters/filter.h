// HTTP filters: the steps a request passes through between the connection manager and the router
// (envoy.filters.http.* in an http_connection_manager's http_filters). A filter sees the request
// headers after the route was chosen and may let them through, hold them (a fault delay), or
// answer locally (a fault abort, a rate limit). It also sees the response headers on their way
// out. The router itself is not a filter object: it is the stream's last step (ActiveStream).
//
// A FilterFactory is built once per http_filters entry on the main thread and shared, immutable,
// by every worker; it creates one StreamFilter per request. Per-route settings
// (typed_per_filter_config) reach a filter as a router::RouteFilterConfig looked up by the
// filter's name, most specific level first.
//
// Not thread-safe: a StreamFilter lives on its stream's worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/random.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/router/route_config.h"
#include "proxy/stats/stats.h"

namespace weft::router {
struct RouteEntry;
}

namespace weft::filters {

enum class FilterStatus {
  kContinue,        // go on to the next filter
  kStopIteration,   // hold the request until the filter calls ContinueDecoding()
  kLocalReplySent,  // the filter answered (SendLocalReply); nothing further runs
};

// What a filter may ask of the stream it belongs to.
class FilterCallbacks {
 public:
  virtual ~FilterCallbacks() = default;
  virtual event::Dispatcher& dispatcher() = 0;
  virtual Random& random() = 0;
  virtual stats::Store& stats() = 0;
  // The connection manager's stat prefix as Envoy prints it: "http.<stat_prefix>.".
  virtual const std::string& stat_prefix() = 0;
  virtual access_log::StreamInfo& info() = 0;
  // The per-route config the route (or its virtual host) gives the filter named `filter_name`,
  // or nullptr.
  virtual const router::RouteFilterConfig* PerRouteConfig(std::string_view filter_name) = 0;
  // The route chosen for the request (before the filters run), or nullptr when none matched.
  virtual const router::RouteEntry* route() = 0;
  // Resumes a request held by kStopIteration.
  virtual void ContinueDecoding() = 0;
  // Answers the request locally. `grpc_status`, for gRPC requests, replaces the status that
  // would be derived from the HTTP status (gRPC's HTTP-to-gRPC mapping).
  virtual void SendLocalReply(uint32_t status, std::string_view body, std::string_view details,
                              uint64_t response_flag,
                              std::optional<uint32_t> grpc_status = std::nullopt) = 0;
  // Sends `request` (a GET's headers) to a host of `cluster` from this worker and calls `done`
  // on this worker with the body of a 200 response, or nullopt for anything else (no such
  // cluster, no host, connection failure, other status, `timeout`). `done` may run after the
  // stream ended: it must check that what it captured is still alive. jwt_authn's remote JWKS.
  virtual void FetchFromCluster(std::string_view cluster, std::unique_ptr<http::HeaderMap> request,
                                std::chrono::milliseconds timeout,
                                std::function<void(std::optional<std::string>)> done) {
    done(std::nullopt);
  }
};

class StreamFilter {
 public:
  virtual ~StreamFilter() = default;
  virtual FilterStatus DecodeHeaders(http::HeaderMap& headers, bool end_stream) = 0;
  // The response headers, local replies included, before they are encoded.
  virtual void EncodeHeaders(http::HeaderMap& headers, bool end_stream) {}
  // The stream is ending (completed or reset): stop timers, release shared counts.
  virtual void OnDestroy() {}
};

class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  // The http_filters entry's name: the key of its per-route configs.
  virtual const std::string& name() const = 0;
  // A filter for one request, or nullptr when it has nothing to do for any request.
  virtual std::unique_ptr<StreamFilter> Create(FilterCallbacks& callbacks) const = 0;
};

// The factory of a filter whose instances take (callbacks, config, name): the usual shape.
template <typename Filter, typename Config>
class TypedFilterFactory : public FilterFactory {
 public:
  TypedFilterFactory(std::string name, std::shared_ptr<const Config> config)
      : name_(std::move(name)), config_(std::move(config)) {}
  const std::string& name() const override { return name_; }
  std::unique_ptr<StreamFilter> Create(FilterCallbacks& callbacks) const override {
    return std::make_unique<Filter>(callbacks, *config_, name_);
  }

 private:
  std::string name_;  // outlives every filter it creates
  std::shared_ptr<const Config> config_;
};

}  // namespace weft::filters
