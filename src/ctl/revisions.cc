#include "ctl/revisions.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ctl/json_fields.h"
#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char kFallbackServer[] = "http://127.0.0.1:15080";

struct Captured {
  std::string out, err;
};

// Runs `fn` with stdout and stderr going to temporary files; returns what it printed on each.
Captured CaptureOutput(const std::function<void()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  FILE* tmp[2] = {std::tmpfile(), std::tmpfile()};
  const int saved[2] = {dup(1), dup(2)};
  dup2(fileno(tmp[0]), 1);
  dup2(fileno(tmp[1]), 2);
  fn();
  std::fflush(stdout);
  std::fflush(stderr);
  std::string text[2];
  for (int i = 0; i < 2; ++i) {
    dup2(saved[i], i + 1);
    close(saved[i]);
    std::rewind(tmp[i]);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), tmp[i])) > 0;) text[i].append(buf, n);
    std::fclose(tmp[i]);
  }
  return {text[0], text[1]};
}

}  // namespace

std::vector<std::string> InstalledRevisions() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(WeftHome() / "control-planes", ec)) {
    if (fs::exists(e.path() / "install.json")) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    if ((a == kDefaultRevision) != (b == kDefaultRevision)) return a == kDefaultRevision;
    return a < b;
  });
  return out;
}

std::string ResolveServer(const std::string& flag_server, const std::string& revision) {
  if (!flag_server.empty()) return flag_server;
  if (const char* env = std::getenv("WEFT_SERVER"); env != nullptr && *env != '\0') return env;
  std::string error;
  if (auto record = ReadInstallRecord(revision, &error); record && !record->api_address.empty()) {
    return "http://" + record->api_address;
  }
  return kFallbackServer;
}

bool WritesToEveryRevision(const std::string& flag_server, const std::string& revision) {
  const char* env = std::getenv("WEFT_SERVER");
  return flag_server.empty() && (env == nullptr || *env == '\0') && revision.empty() &&
         InstalledRevisions().size() >= 2;
}

int ForEachWriteTarget(const std::string& flag_server, const std::string& revision,
                       const std::function<int(Client&)>& verb) {
  const std::vector<std::string> revisions = InstalledRevisions();
  if (!WritesToEveryRevision(flag_server, revision)) {
    Client client(ResolveServer(flag_server, revision));
    return verb(client);
  }
  int worst = 0;
  Captured first;
  for (size_t i = 0; i < revisions.size(); ++i) {
    Client client(ResolveServer("", revisions[i]));
    int code = 0;
    const Captured c = CaptureOutput([&] { code = verb(client); });
    worst = std::max(worst, code);
    if (i == 0) {
      first = c;
      std::fputs(c.out.c_str(), stdout);
      std::fputs(c.err.c_str(), stderr);
    } else if (c.out != first.out || c.err != first.err) {
      std::printf("revision %s (differs from revision %s):\n%s", revisions[i].c_str(),
                  revisions[0].c_str(), c.out.c_str());
      if (!c.err.empty()) {
        std::fprintf(stderr, "revision %s: %s", revisions[i].c_str(), c.err.c_str());
      }
    }
  }
  return worst;
}

int ForEachWriteTargetReading(const std::string& flag_server, const std::string& revision,
                              const std::string& source,
                              const std::function<int(Client&, const std::string& source)>& verb) {
  if (source != "-" || !WritesToEveryRevision(flag_server, revision)) {
    return ForEachWriteTarget(flag_server, revision,
                              [&](Client& client) { return verb(client, source); });
  }
  char path[] = "/tmp/weftctl-stdin-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    std::fprintf(stderr, "error: cannot keep stdin for every revision: mkstemp: %s\n",
                 std::strerror(errno));
    return 1;
  }
  char buf[65536];
  for (ssize_t n; (n = read(0, buf, sizeof(buf))) > 0;) {
    if (write(fd, buf, n) != n) {
      std::fprintf(stderr, "error: cannot keep stdin for every revision: %s: %s\n", path,
                   std::strerror(errno));
      close(fd);
      unlink(path);
      return 1;
    }
  }
  close(fd);
  const std::string copy = path;
  const int code =
      ForEachWriteTarget(flag_server, revision, [&](Client& client) { return verb(client, copy); });
  unlink(path);
  return code;
}

std::vector<std::string> WorkloadsUsing(const std::string& revision) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(WeftHome() / "workloads", ec)) {
    std::ifstream in(e.path() / "workload.json");
    if (!in) continue;
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) continue;
    const std::string used = TextField(j, "revision", kDefaultRevision);
    if (used == (revision.empty() ? kDefaultRevision : revision) ||
        (used.empty() && revision == kDefaultRevision)) {
      out.push_back(TextField(j, "name", e.path().filename().string()));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace weft::ctl
