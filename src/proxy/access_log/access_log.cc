#include "proxy/access_log/access_log.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace weft::access_log {

absl::StatusOr<std::vector<AccessLog>> BuildAccessLogs(
    const std::vector<listener::AccessLogConfig>& configs) {
  std::vector<AccessLog> out;
  for (size_t i = 0; i < configs.size(); ++i) {
    const auto& c = configs[i];
    AccessLog log;
    std::string path = c.sink == listener::AccessLogConfig::Sink::kStdout   ? "/dev/stdout"
                       : c.sink == listener::AccessLogConfig::Sink::kStderr ? "/dev/stderr"
                                                                            : c.path;
    auto file = AccessLogFile::Open(path);
    if (!file.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("access_log[", i, "]: ", file.status().message()));
    }
    log.file = *file;
    if (!c.json_format.empty()) {
      auto json = JsonFormatter::Compile(c.json_format);
      if (!json.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("access_log[", i, "].json_format: ", json.status().message()));
      }
      log.json = std::make_shared<const JsonFormatter>(std::move(*json));
    } else {
      std::string_view format =
          c.text_format.empty() ? kDefaultAccessLogFormat : std::string_view(c.text_format);
      auto text = SubstitutionFormatter::Compile(format);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("access_log[", i, "].format: ", text.status().message()));
      }
      log.text = std::make_shared<const SubstitutionFormatter>(std::move(*text));
    }
    out.push_back(std::move(log));
  }
  return out;
}

void WorkerAccessLogs::Write(const std::vector<AccessLog>& logs, const StreamInfo& info) {
  for (const AccessLog& log : logs) {
    auto& writer = writers_[log.file.get()];
    if (!writer) writer = std::make_unique<AccessLogWriter>(log.file);
    std::string& line = writer->line_buffer();
    if (log.json) {
      log.json->FormatTo(info, line);
    } else {
      log.text->FormatTo(info, line);
    }
    writer->CommitLine();
  }
}

void WorkerAccessLogs::Flush() {
  for (auto& [file, writer] : writers_) writer->Flush();
}

}  // namespace weft::access_log
