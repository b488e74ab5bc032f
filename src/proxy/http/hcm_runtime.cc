#include "proxy/http/hcm_runtime.h"

#include "absl/strings/str_cat.h"

namespace weft::proxy {

absl::StatusOr<std::vector<AccessLogRuntime>> BuildAccessLogs(
    const std::vector<listener::AccessLogConfig>& configs) {
  std::vector<AccessLogRuntime> out;
  for (size_t i = 0; i < configs.size(); ++i) {
    const auto& c = configs[i];
    AccessLogRuntime rt;
    std::string path = c.sink == listener::AccessLogConfig::Sink::kStdout   ? "/dev/stdout"
                       : c.sink == listener::AccessLogConfig::Sink::kStderr ? "/dev/stderr"
                                                                            : c.path;
    auto file = access_log::AccessLogFile::Open(path);
    if (!file.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("access_log[", i, "]: ", file.status().message()));
    }
    rt.file = *file;
    if (!c.json_format.empty()) {
      auto json = access_log::JsonFormatter::Compile(c.json_format);
      if (!json.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("access_log[", i, "].json_format: ", json.status().message()));
      }
      rt.json = std::make_shared<const access_log::JsonFormatter>(std::move(*json));
    } else {
      std::string_view format = c.text_format.empty() ? access_log::kDefaultAccessLogFormat
                                                      : std::string_view(c.text_format);
      auto text = access_log::SubstitutionFormatter::Compile(format);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("access_log[", i, "].format: ", text.status().message()));
      }
      rt.text = std::make_shared<const access_log::SubstitutionFormatter>(std::move(*text));
    }
    out.push_back(std::move(rt));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const HcmRuntime>> HcmRuntime::Build(
    const listener::HttpConnectionManagerConfig& config) {
  auto rt = std::make_shared<HcmRuntime>();
  rt->config = &config;
  auto routes = config.route_config ? config.route_config
                                    : std::make_shared<const router::RouteConfiguration>();
  ASSIGN_OR_RETURN(rt->routes, router::RouteTable::Create(routes));
  ASSIGN_OR_RETURN(rt->access_logs, BuildAccessLogs(config.access_logs));
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
  return std::shared_ptr<const HcmRuntime>(std::move(rt));
}

}  // namespace weft::proxy
