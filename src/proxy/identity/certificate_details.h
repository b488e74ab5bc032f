// What Envoy's admin /certs shows of a certificate (envoy/admin/v3/certs.proto,
// CertificateDetails): path, serial_number (lowercase hex), subject_alt_names ({uri}, {dns},
// {ip_address}), days_until_expiration (a uint64, so a JSON string as protobuf's JSON mapping
// writes it), valid_from and expiration_time (RFC 3339, UTC). Never anything of a key.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace weft::proxy::identity {

struct Validity {
  std::chrono::system_clock::time_point not_before, not_after;
};

absl::StatusOr<Validity> CertificateValidity(const std::string& pem);

// `path` as Envoy names the source: "<inline>" for bytes that came from no file.
absl::StatusOr<nlohmann::json> CertificateDetails(const std::string& pem, const std::string& path,
                                                  std::chrono::system_clock::time_point now);

}  // namespace weft::proxy::identity
