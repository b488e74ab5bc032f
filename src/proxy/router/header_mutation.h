// Header edits from route configuration (request_headers_to_add / _to_remove and the response
// equivalents), compiled once per level and applied per request in Envoy's order.
//
// Per level (Envoy's HeaderParser): removals first, then every value is formatted against the
// headers as they were before this level's additions, then overwrites, then appends. Values go
// through the access log's SubstitutionFormatter (one engine for %VARIABLE% everywhere) with
// missing variables rendered empty, so keep_empty_value=false drops a header whose value came
// out empty. "%%" is a literal '%'.
//
// Across levels (envoyproxy.io, "HTTP > Custom request/response headers"): by default the most
// specific level is applied first — weighted cluster, route, virtual host, route configuration —
// so for overwrite actions the route configuration's value wins. With
// most_specific_header_mutations_wins the order reverses and the most specific level wins.
//
// Thread-safety: a compiled HeaderMutator is immutable and shared by all workers.
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "http/header_map.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/access_log/substitution_formatter.h"
#include "proxy/router/route_config.h"

namespace weft::router {

class HeaderMutator {
 public:
  HeaderMutator() = default;
  // `config` must outlive the mutator (both live in the same immutable route table).
  static absl::StatusOr<HeaderMutator> Compile(const HeaderMutations& config);

  void ApplyToRequest(http::HeaderMap& headers, const access_log::StreamInfo& info) const {
    Apply(request_to_add_, *request_to_remove_, headers, info);
  }
  void ApplyToResponse(http::HeaderMap& headers, const access_log::StreamInfo& info) const {
    Apply(response_to_add_, *response_to_remove_, headers, info);
  }
  bool empty() const;

 private:
  struct CompiledOption {
    const HeaderValueOption* option;
    access_log::SubstitutionFormatter value;
    bool literal;  // no %VARIABLE%: the configured text is the value
  };
  static absl::Status CompileList(const std::vector<HeaderValueOption>& options,
                                  std::vector<CompiledOption>& out);
  static void Apply(const std::vector<CompiledOption>& to_add,
                    const std::vector<std::string>& to_remove, http::HeaderMap& headers,
                    const access_log::StreamInfo& info);

  static const std::vector<std::string> kNoRemovals;
  std::vector<CompiledOption> request_to_add_;
  std::vector<CompiledOption> response_to_add_;
  const std::vector<std::string>* request_to_remove_ = &kNoRemovals;
  const std::vector<std::string>* response_to_remove_ = &kNoRemovals;
};

// Applies the levels of one request in Envoy's order. `most_specific_first` lists the levels from
// the most specific (weighted cluster; null entries are skipped) to the route configuration.
void ApplyRequestHeaderMutations(std::span<const HeaderMutator* const> most_specific_first,
                                 bool most_specific_wins, http::HeaderMap& headers,
                                 const access_log::StreamInfo& info);
void ApplyResponseHeaderMutations(std::span<const HeaderMutator* const> most_specific_first,
                                  bool most_specific_wins, http::HeaderMap& headers,
                                  const access_log::StreamInfo& info);

}  // namespace weft::router
