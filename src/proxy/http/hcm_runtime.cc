#include "proxy/http/hcm_runtime.h"

#include "absl/strings/str_cat.h"

namespace weft::proxy {

absl::StatusOr<std::shared_ptr<const HcmRuntime>> HcmRuntime::Build(
    const listener::HttpConnectionManagerConfig& config,
    std::shared_ptr<router::RdsRouteTable> rds) {
  auto rt = std::make_shared<HcmRuntime>();
  rt->config = &config;
  if (rds != nullptr) {
    rt->rds = std::move(rds);
  } else {
    auto routes = config.route_config ? config.route_config
                                      : std::make_shared<const router::RouteConfiguration>();
    ASSIGN_OR_RETURN(rt->routes, router::RouteTable::Create(routes));
  }
  ASSIGN_OR_RETURN(rt->access_logs, access_log::BuildAccessLogs(config.access_logs));
  auto compile = [](const std::string& format, std::string_view what)
      -> absl::StatusOr<std::shared_ptr<const access_log::SubstitutionFormatter>> {
    auto f = access_log::SubstitutionFormatter::Compile(format);
    if (!f.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), ": ", f.status().message()));
    return std::make_shared<const access_log::SubstitutionFormatter>(std::move(*f));
  };
  for (const auto& m : config.local_reply.mappers) {
    LocalReplyMapperRuntime mapper;
    mapper.config = &m;
    if (m.body) {
      ASSIGN_OR_RETURN(mapper.body, compile(*m.body, "local_reply_config.mappers.body"));
    }
    if (m.body_format) {
      ASSIGN_OR_RETURN(mapper.body_format,
                       compile(*m.body_format, "local_reply_config.mappers.body_format_override"));
    }
    rt->local_reply_mappers.push_back(std::move(mapper));
  }
  if (config.local_reply.body_format) {
    ASSIGN_OR_RETURN(rt->local_reply_body_format,
                     compile(*config.local_reply.body_format, "local_reply_config.body_format"));
  }
  rt->limits.max_header_count = config.max_headers_count;
  rt->limits.max_header_bytes = static_cast<size_t>(config.max_request_headers_kb) * 1024;
  rt->limits.max_url_length = config.max_url_bytes;
  rt->limits.allow_chunked_length = config.allow_chunked_length;
  rt->stat_prefix = absl::StrCat("http.", config.stat_prefix, ".");
  for (const auto& filter : config.http_filters) {
    if (filter.factory) rt->filter_factories.push_back(filter.factory);
  }
  rt->http2 = config.http2;
  rt->http2.drain_timeout = config.drain_timeout;
  return std::shared_ptr<const HcmRuntime>(std::move(rt));
}

}  // namespace weft::proxy
