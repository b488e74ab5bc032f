#include "ctl/revisions.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ctl/json_fields.h"
#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char kFallbackServer[] = "http://127.0.0.1:15080";

// Runs `fn` with stdout going to a temporary file; returns what it printed.
std::string CaptureStdout(const std::function<void()>& fn) {
  std::fflush(stdout);
  FILE* tmp = std::tmpfile();
  const int saved = dup(1);
  dup2(fileno(tmp), 1);
  fn();
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), tmp)) > 0;) out.append(buf, n);
  std::fclose(tmp);
  return out;
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
  std::string first_output;
  for (size_t i = 0; i < revisions.size(); ++i) {
    Client client(ResolveServer("", revisions[i]));
    int code = 0;
    const std::string out = CaptureStdout([&] { code = verb(client); });
    worst = std::max(worst, code);
    if (i == 0) {
      first_output = out;
      std::fputs(out.c_str(), stdout);
    } else if (out != first_output) {
      std::printf("revision %s (differs from revision %s):\n%s", revisions[i].c_str(),
                  revisions[0].c_str(), out.c_str());
    }
  }
  return worst;
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
