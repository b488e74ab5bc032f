#include "proxy/access_log/access_log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>

#include "base/logging.h"

namespace weft::access_log {

struct AccessLogFile::Descriptor {
  int fd = -1;
  bool owned = true;
  ~Descriptor() {
    if (owned && fd >= 0) ::close(fd);
  }
};

namespace {

absl::StatusOr<int> OpenForAppend(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        fmt::format("access log: cannot open {}: {}", path, std::strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::shared_ptr<AccessLogFile>> AccessLogFile::Open(std::string path) {
  std::shared_ptr<AccessLogFile> file(new AccessLogFile(std::move(path)));
  auto descriptor = std::make_shared<Descriptor>();
  if (file->path_ == "/dev/stdout" || file->path_ == "/dev/stderr") {
    file->is_std_stream_ = true;
    descriptor->fd = file->path_ == "/dev/stdout" ? STDOUT_FILENO : STDERR_FILENO;
    descriptor->owned = false;
  } else {
    auto fd = OpenForAppend(file->path_);
    if (!fd.ok()) return fd.status();
    descriptor->fd = *fd;
  }
  file->descriptor_.store(std::move(descriptor));
  return file;
}

AccessLogFile::~AccessLogFile() = default;

absl::Status AccessLogFile::Reopen() {
  if (is_std_stream_) return absl::OkStatus();
  auto fd = OpenForAppend(path_);
  if (!fd.ok()) return fd.status();
  auto descriptor = std::make_shared<Descriptor>();
  descriptor->fd = *fd;
  descriptor_.store(std::move(descriptor));
  return absl::OkStatus();
}

absl::Status AccessLogFile::Write(std::string_view data) const {
  // Holding the shared_ptr keeps the descriptor open even if Reopen() swaps it meanwhile.
  std::shared_ptr<const Descriptor> descriptor = descriptor_.load();
  while (!data.empty()) {
    ssize_t n = ::write(descriptor->fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          fmt::format("access log: write to {}: {}", path_, std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

AccessLogWriter::AccessLogWriter(std::shared_ptr<AccessLogFile> file, size_t flush_threshold)
    : file_(std::move(file)), flush_threshold_(flush_threshold) {
  buffer_.reserve(flush_threshold_ + 1024);
}

AccessLogWriter::~AccessLogWriter() { Flush(); }

void AccessLogWriter::CommitLine() {
  if (!buffer_.empty() && buffer_.back() != '\n') buffer_ += '\n';
  if (buffer_.size() >= flush_threshold_) Flush();
}

void AccessLogWriter::Flush() {
  if (buffer_.empty()) return;
  absl::Status status = file_->Write(buffer_);
  // (spdlog directly: WEFT_LOG's parameter is named `level`, which breaks spdlog::level::level.)
  if (!status.ok() && spdlog::should_log(spdlog::level::warn)) {
    spdlog::warn("{}", std::string(status.message()));
  }
  buffer_.clear();  // keeps capacity: no allocation on the next line
}

}  // namespace weft::access_log
