// Envoy's transport_socket (envoy.transport_sockets.tls) on filter chains and clusters ->
// tls::TlsContext: CommonTlsContext's certificates, validation, ALPN and tls_params. Certificates
// and keys given inline or by file are loaded (and refused with their path) here.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "envoy/config/core/v3/base.pb.h"
#include "proxy/tls/tls_context.h"

namespace weft::config {

// `server`: a filter chain's DownstreamTlsContext; otherwise a cluster's UpstreamTlsContext.
// `default_alpn` is offered upstream when the context names none (h2 for HTTP/2 clusters).
// envoy.transport_sockets.raw_buffer (plaintext) gives null.
absl::StatusOr<std::shared_ptr<tls::TlsContext>> TranslateTransportSocket(
    const envoy::config::core::v3::TransportSocket& socket, bool server, std::string_view path,
    const std::vector<std::string>& default_alpn = {});

}  // namespace weft::config
