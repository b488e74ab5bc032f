// MeshConfig.accessLogFile: Istio's default sidecar access log, the file logger with Istio's
// default TEXT format (istio mesh config defaults, pilot/pkg/model/telemetry_logging.go
// EnvoyTextLogFormat), on every http_connection_manager and tcp_proxy of the sidecar's
// listeners. Applied after the listeners are built so that no builder needs to know about it.
#include "control/translate/internal.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = envoy::extensions::filters::network::tcp_proxy::v3;

// Istio's default text format (the same for HTTP and TCP: HTTP operators print "-" on TCP).
constexpr char kIstioTextFormat[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% "
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

envoy::config::accesslog::v3::AccessLog IstioFileLog(const std::string& path) {
  envoy::extensions::access_loggers::file::v3::FileAccessLog file;
  file.set_path(path);
  file.mutable_log_format()->mutable_text_format_source()->set_inline_string(kIstioTextFormat);
  envoy::config::accesslog::v3::AccessLog log;
  log.set_name("envoy.access_loggers.file");
  log.mutable_typed_config()->PackFrom(file);
  return log;
}

// Unpacks the filter's config as T, lets `edit` change it, packs it back.
template <typename T, typename Edit>
void EditFilter(envoy::config::listener::v3::Filter& filter, Edit edit) {
  T config;
  if (!filter.typed_config().UnpackTo(&config)) return;
  edit(config);
  filter.mutable_typed_config()->PackFrom(config);
}

}  // namespace

void AddMeshAccessLogs(const View& view, XdsResources& out) {
  const std::string& path = view.mesh().access_log_file;
  if (path.empty()) return;
  const auto log = IstioFileLog(path);
  for (auto& listener : out.listeners) {
    for (auto& chain : *listener.mutable_filter_chains()) {
      for (auto& filter : *chain.mutable_filters()) {
        if (filter.name() == "envoy.filters.network.http_connection_manager") {
          EditFilter<hcm::HttpConnectionManager>(
              filter, [&](hcm::HttpConnectionManager& m) { *m.add_access_log() = log; });
        } else if (filter.name() == "envoy.filters.network.tcp_proxy") {
          EditFilter<tcp::TcpProxy>(filter, [&](tcp::TcpProxy& t) { *t.add_access_log() = log; });
        }
      }
    }
  }
}

}  // namespace weft::control::translate::internal
