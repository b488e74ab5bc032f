#include "proxy/access_log/stream_info.h"

#include <array>

namespace weft::access_log {
namespace {

// Index = bit position of the ResponseFlag; names from Envoy's access log documentation
// ("%RESPONSE_FLAGS%" in envoyproxy.io .../observability/access_log/usage).
constexpr std::array<std::string_view, kResponseFlagCount> kShortNames = {
    "LH",   "UH",   "UT",   "LR",   "UR", "UF",  "UC", "UO", "NR",  "DI",
    "FI",   "RL",   "UAEX", "RLSE", "DC", "URX", "SI", "IH", "DPE", "UMSDR",
    "RFCF", "NFCF", "DT",   "UPE",  "NC", "OM",  "DF", "DO", "DR",
};

}  // namespace

std::string_view ResponseFlagShortName(int index) { return kShortNames[index]; }

void AppendResponseFlags(uint64_t flags, std::string& out, bool dash_when_empty) {
  if (flags == 0) {
    if (dash_when_empty) out += '-';
    return;
  }
  bool first = true;
  for (int i = 0; i < kResponseFlagCount; ++i) {
    if ((flags & (1ull << i)) == 0) continue;
    if (!first) out += ',';
    out += kShortNames[i];
    first = false;
  }
}

void StreamInfo::Reset() {
  start_time = {};
  start_monotonic = {};
  protocol = {};
  request_headers = response_headers = response_trailers = nullptr;
  response_code.reset();
  response_flags = 0;
  bytes_received = bytes_sent = 0;
  last_downstream_rx_byte_received.reset();
  first_upstream_rx_byte_received.reset();
  last_downstream_tx_byte_sent.reset();
  request_complete.reset();
  for (std::string* s :
       {&upstream_host, &upstream_cluster, &upstream_local_address,
        &upstream_transport_failure_reason, &downstream_remote_address, &downstream_local_address,
        &downstream_direct_remote_address, &route_name, &response_code_details, &local_reply_body,
        &connection_termination_details, &request_id}) {
    s->clear();
  }
  upstream_service_time.reset();
  for (std::string_view* v :
       {&requested_server_name, &downstream_peer_uri_san, &downstream_tls_version,
        &downstream_tls_cipher, &downstream_peer_subject, &upstream_peer_uri_san,
        &upstream_local_uri_san}) {
    *v = {};
  }
  downstream_security.reset();
  upstream_security.reset();
  downstream_tls = false;
  downstream_peer_certificate = false;
  dynamic_metadata.clear();
}

}  // namespace weft::access_log
