// Configured access logs at run time: each is a destination file and a compiled format, built
// once on the main thread and shared by every worker; each worker writes through its own
// buffered writers (WorkerAccessLogs), so logging takes no lock on the data path.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/access_log/access_log_sink.h"
#include "proxy/access_log/json_formatter.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/access_log/substitution_formatter.h"
#include "proxy/listener/listener_config.h"

namespace weft::access_log {

struct AccessLog {
  std::shared_ptr<AccessLogFile> file;
  std::shared_ptr<const SubstitutionFormatter> text;  // set for text formats
  std::shared_ptr<const JsonFormatter> json;          // set for JSON formats
};

// Opens the files and compiles the formats; an error names the log by its index.
absl::StatusOr<std::vector<AccessLog>> BuildAccessLogs(
    const std::vector<listener::AccessLogConfig>& configs);

// One worker's buffered writers, one per file. Not thread-safe: owned by one worker.
class WorkerAccessLogs {
 public:
  // Formats `info` into every log of `logs`.
  void Write(const std::vector<AccessLog>& logs, const StreamInfo& info);
  void Flush();
  void Clear() { writers_.clear(); }

 private:
  std::map<const AccessLogFile*, std::unique_ptr<AccessLogWriter>> writers_;
};

}  // namespace weft::access_log
