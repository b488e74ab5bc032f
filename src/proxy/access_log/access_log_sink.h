// Where access log lines go: a file (or stdout/stderr) that every worker thread writes to without
// taking a lock per request.
//
// Shape: one AccessLogFile per configured path, shared by all workers (shared_ptr), and one
// AccessLogWriter per worker thread per file. A worker formats each line straight into its
// writer's buffer; the buffer goes to the file with one write(2) when it passes the flush
// threshold (64 KiB) or when the worker's periodic timer calls Flush() (the connection manager
// drives it, e.g. every second). The file is opened O_APPEND and a buffer only ever holds whole
// lines, so for regular files the kernel appends each write(2) as a unit and lines from different
// workers never interleave mid-line. (Pipes only guarantee that for writes up to PIPE_BUF, so
// stdout piped to another process may interleave under load; Envoy has the same limit.)
//
// Reopen() (for log rotation, /reopen_logs) swaps the descriptor atomically; a write already in
// progress finishes on the old descriptor, which closes when its last user lets go.
//
// Thread-safety: AccessLogFile is thread-safe. AccessLogWriter belongs to one thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weft::access_log {

class AccessLogFile {
 public:
  // `path` is a file path, or "/dev/stdout" / "/dev/stderr" (the process's own descriptors, never
  // reopened). The file is created if missing (mode 0644).
  static absl::StatusOr<std::shared_ptr<AccessLogFile>> Open(std::string path);
  ~AccessLogFile();

  // Opens the path again and swaps the descriptor in, e.g. after logrotate moved the file.
  absl::Status Reopen();

  // Writes all of `data` (whole lines) with write(2), retrying partial writes and EINTR.
  absl::Status Write(std::string_view data) const;

  const std::string& path() const { return path_; }

 private:
  struct Descriptor;
  explicit AccessLogFile(std::string path) : path_(std::move(path)) {}

  std::string path_;
  bool is_std_stream_ = false;
  std::atomic<std::shared_ptr<const Descriptor>> descriptor_;
};

class AccessLogWriter {
 public:
  static constexpr size_t kDefaultFlushThreshold = 64 * 1024;

  explicit AccessLogWriter(std::shared_ptr<AccessLogFile> file,
                           size_t flush_threshold = kDefaultFlushThreshold);
  ~AccessLogWriter();  // flushes what is buffered
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Two-step append that lets a formatter write straight into the buffer:
  //   formatter.FormatTo(info, writer.line_buffer()); writer.CommitLine();
  // CommitLine() ends the line with '\n' if the format did not, and flushes past the threshold.
  std::string& line_buffer() { return buffer_; }
  void CommitLine();

  // Appends one line (a '\n' is added if missing).
  void Append(std::string_view line) {
    buffer_ += line;
    CommitLine();
  }

  // Writes out the buffer now (periodic timer, shutdown). Errors are logged, data is dropped:
  // an access log must never stall or fail a request.
  void Flush();

  size_t buffered_bytes() const { return buffer_.size(); }

 private:
  std::shared_ptr<AccessLogFile> file_;
  size_t flush_threshold_;
  std::string buffer_;
};

}  // namespace weft::access_log
