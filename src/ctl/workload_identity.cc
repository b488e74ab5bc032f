#include "ctl/workload_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ctl/json_fields.h"
#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;

// Creates `path` with `mode` and `content` under a temporary name, gives it to uid/gid, then
// renames it into place: the mode is set at creation, so the content is never readable by others.
bool WriteOwnedFile(const fs::path& path, const std::string& content, mode_t mode, uid_t uid,
                    gid_t gid, std::string* error) {
  const fs::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    *error = tmp.string() + ": " + std::strerror(errno);
    return false;
  }
  const bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const bool owned = ::fchown(fd, uid, gid) == 0 || ::geteuid() == uid;
  const bool closed = ::close(fd) == 0;
  if (!written || !owned || !closed || ::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path.string() + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

IdentityFiles WorkloadIdentityFiles(const std::string& workload) {
  const fs::path dir = WorkloadDir(workload) / "identity";
  return {dir, dir / "istio-token", dir / "root-cert.pem"};
}

std::string TokenApiPath(const std::string& ns, const std::string& service_account) {
  return "/apis/weft.io/v1/namespaces/" + EscapePathSegment(ns) + "/serviceaccounts/" +
         EscapePathSegment(service_account) + "/token";
}

std::string SidecarCaAddress(bool capture, const std::string& xds_tls_address) {
  const size_t colon = xds_tls_address.rfind(':');
  if (colon == std::string::npos) return "";
  const std::string port = xds_tls_address.substr(colon + 1);
  return std::string(capture ? kCaHostName : "127.0.0.1") + ":" + port;
}

bool ProvisionIdentity(Client& client, const WorkloadRecord& w, const fs::path& mesh_root,
                       uid_t sidecar_uid, gid_t sidecar_gid, std::string* error) {
  std::ifstream root_in(mesh_root);
  std::stringstream root;
  root << root_in.rdbuf();
  if (!root_in || root.str().empty()) {
    *error = mesh_root.string() + ": the mesh root cannot be read (is weftd's CA running? " +
             "weftctl verify-install)";
    return false;
  }
  Response r = client.Call("POST", TokenApiPath(w.ns, w.service_account), "{}");
  const std::string token = TextField(r.body, "token");
  if (r.status != 201 || token.empty()) {
    const std::string message = TextField(r.body, "message");
    *error = "weftd did not issue a token for " + w.ns + "/" + w.service_account + " (" +
             (r.status == 0 ? "no answer" : "HTTP " + std::to_string(r.status)) +
             (message.empty() ? "" : ": " + message) + ")";
    return false;
  }
  const IdentityFiles files = WorkloadIdentityFiles(w.name);
  std::error_code ec;
  fs::create_directories(files.dir, ec);
  // Only the sidecar's user reads the directory; root (weftctl) writes it regardless.
  if (::chown(files.dir.c_str(), sidecar_uid, sidecar_gid) != 0 && ::geteuid() != sidecar_uid) {
    *error = files.dir.string() + ": chown: " + std::strerror(errno);
    return false;
  }
  ::chmod(files.dir.c_str(), 0700);
  if (!WriteOwnedFile(files.token, token + "\n", 0400, sidecar_uid, sidecar_gid, error) ||
      !WriteOwnedFile(files.root_cert, root.str(), 0444, sidecar_uid, sidecar_gid, error)) {
    return false;
  }
  return true;
}

std::string CertificateSummary(const nlohmann::json& certs_page) {
  for (const nlohmann::json& entry : Items(certs_page, "certificates")) {
    for (const nlohmann::json& cert : Items(entry, "cert_chain")) {
      std::string san;
      for (const nlohmann::json& name : Items(cert, "subject_alt_names")) {
        san = TextField(name, "uri", TextField(name, "dns"));
        if (!san.empty()) break;
      }
      return (san.empty() ? "<no SAN>" : san) + " serial " + TextField(cert, "serial_number") +
             " until " + TextField(cert, "expiration_time");
    }
  }
  return "none";
}

void RemoveIdentity(const std::string& workload) {
  std::error_code ec;
  fs::remove_all(WorkloadIdentityFiles(workload).dir, ec);
}

}  // namespace weft::ctl
