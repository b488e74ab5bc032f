#include "proxy/access_log/access_log_sink.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace weft::access_log {
namespace {

class TempFile {
 public:
  TempFile() {
    char path[] = "/tmp/weft_access_log_XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = path;
  }
  ~TempFile() {
    std::remove(path_.c_str());
    std::remove((path_ + ".1").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(AccessLogSinkTest, BuffersUntilThresholdOrFlush) {
  TempFile temp;
  auto file = AccessLogFile::Open(temp.path());
  ASSERT_TRUE(file.ok()) << file.status();
  AccessLogWriter writer(*file, /*flush_threshold=*/64);
  writer.Append("first line");  // no newline: the writer adds one
  EXPECT_TRUE(ReadLines(temp.path()).empty());
  EXPECT_EQ(writer.buffered_bytes(), 11u);
  writer.Flush();
  EXPECT_EQ(ReadLines(temp.path()), std::vector<std::string>{"first line"});
  writer.Append(std::string(70, 'x') + "\n");  // passes the threshold: written at once
  EXPECT_EQ(writer.buffered_bytes(), 0u);
  EXPECT_EQ(ReadLines(temp.path()).size(), 2u);
}

TEST(AccessLogSinkTest, TwoThreadsNeverInterleaveLines) {
  TempFile temp;
  auto file = AccessLogFile::Open(temp.path());
  ASSERT_TRUE(file.ok());
  constexpr int kLines = 20000;
  auto worker = [&](char tag) {
    AccessLogWriter writer(*file);  // default 64 KiB threshold
    for (int i = 0; i < kLines; ++i) {
      std::string& buffer = writer.line_buffer();
      buffer += tag;
      buffer += ' ';
      buffer += std::to_string(i);
      buffer += ' ';
      buffer.append(100, tag);
      buffer += '\n';
      writer.CommitLine();
      if (i % 5000 == 0) writer.Flush();  // as the periodic timer would
    }
  };  // the destructor flushes the rest
  std::thread a(worker, 'a');
  std::thread b(worker, 'b');
  a.join();
  b.join();

  std::map<char, int> next;  // each thread's lines stay in order
  const auto lines = ReadLines(temp.path());
  ASSERT_EQ(lines.size(), 2u * kLines);
  for (const std::string& line : lines) {
    ASSERT_GE(line.size(), 104u);
    const char tag = line[0];
    ASSERT_TRUE(tag == 'a' || tag == 'b') << line;
    const std::string expected =
        std::string(1, tag) + " " + std::to_string(next[tag]++) + " " + std::string(100, tag);
    ASSERT_EQ(line, expected);
  }
  EXPECT_EQ(next['a'], kLines);
  EXPECT_EQ(next['b'], kLines);
}

TEST(AccessLogSinkTest, ReopenFollowsRotation) {
  TempFile temp;
  auto file = AccessLogFile::Open(temp.path());
  ASSERT_TRUE(file.ok());
  AccessLogWriter writer(*file);
  writer.Append("before\n");
  writer.Flush();
  ASSERT_EQ(std::rename(temp.path().c_str(), (temp.path() + ".1").c_str()), 0);
  ASSERT_TRUE((*file)->Reopen().ok());
  writer.Append("after\n");
  writer.Flush();
  EXPECT_EQ(ReadLines(temp.path() + ".1"), std::vector<std::string>{"before"});
  EXPECT_EQ(ReadLines(temp.path()), std::vector<std::string>{"after"});
}

TEST(AccessLogSinkTest, OpenFailsForUnwritablePath) {
  EXPECT_FALSE(AccessLogFile::Open("/nonexistent-dir/x.log").ok());
}

}  // namespace
}  // namespace weft::access_log
