// Listener warming (Envoy's "Listener warming", LDS architecture overview): a listener is given to
// the workers only once its init targets are ready — the SDS secrets of its TLS contexts and, for
// LDS listeners, the RDS route configurations it names. Until then it is "warming": its sockets
// are bound (a client's connection waits in the backlog, it is never handshaken without a
// certificate) and the old version of the same name, if any, keeps serving. Secrets stop being
// waited for after their sds_config.initial_fetch_timeout (Envoy's default 15 s; 0 = no limit):
// the listener then goes active anyway, as Envoy's init manager does.
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "proxy/server/server.h"

namespace weft::proxy {
namespace {

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

// How long `config` may wait for its secrets: the longest initial_fetch_timeout of its TLS
// contexts still waiting; nullopt when one of them waits without limit (0) or none waits.
std::optional<std::chrono::milliseconds> SecretsTimeout(const listener::ListenerConfig& config) {
  std::optional<std::chrono::milliseconds> longest;
  for (const auto& context : TlsContextsOf(config)) {
    if (context->ready()) continue;
    const std::chrono::milliseconds timeout = context->config().initial_fetch_timeout;
    if (timeout.count() == 0) return std::nullopt;
    longest = std::max(longest.value_or(timeout), timeout);
  }
  return longest;
}

}  // namespace

Server::WarmingListener& Server::WarmingListener::operator=(WarmingListener&& other) noexcept {
  if (this != &other) {
    CloseAll(fds);
    config = std::move(other.config);
    fds = std::exchange(other.fds, {});
    waits_for_routes = other.waits_for_routes;
    secrets_timeout = std::move(other.secrets_timeout);
    secrets_timed_out = other.secrets_timed_out;
  }
  return *this;
}

Server::WarmingListener::~WarmingListener() { CloseAll(fds); }

bool Server::SecretsReady(const listener::ListenerConfig& config) {
  const auto contexts = TlsContextsOf(config);
  return std::all_of(contexts.begin(), contexts.end(),
                     [](const auto& context) { return context->ready(); });
}

std::vector<std::string> Server::WarmingTargets(const WarmingListener& warming) const {
  std::vector<std::string> targets;
  if (!warming.secrets_timed_out && !SecretsReady(warming.config)) targets.emplace_back("secrets");
  if (warming.waits_for_routes && !RoutesKnown(warming.config)) targets.emplace_back("routes");
  return targets;
}

void Server::StartWarming(listener::ListenerConfig config, std::vector<int> fds,
                          bool waits_for_routes) {
  const std::string name = config.name;
  WarmingListener warming(std::move(config), std::move(fds));
  warming.waits_for_routes = waits_for_routes;
  if (!SecretsReady(warming.config)) {
    if (auto timeout = SecretsTimeout(warming.config)) {
      // The timer belongs to this warming version: replacing or dropping it disarms the timer.
      warming.secrets_timeout = dispatcher_.CreateTimer([this, name] {
        auto it = warming_listeners_.find(name);
        if (it == warming_listeners_.end()) return;
        WEFT_LOG(warn,
                 "listener '{}': SDS secrets not received within initial_fetch_timeout: "
                 "activating it without them",
                 name);
        it->second.secrets_timed_out = true;
        // Not from inside the timer's own callback: activating destroys the timer.
        dispatcher_.Post([this] { (void)ActivateWarmListeners(); });
      });
      warming.secrets_timeout->Enable(*timeout);
    }
  }
  WEFT_LOG(info, "listener '{}' warming (waiting for its {})", name,
           absl::StrJoin(WarmingTargets(warming), " and "));
  warming_listeners_[name] = std::move(warming);
  UpdateListenerState();
}

std::vector<int> Server::TakeWarmingSockets(const listener::ListenerConfig& config) {
  auto it = warming_listeners_.find(config.name);
  if (it == warming_listeners_.end()) return {};
  const listener::ListenerConfig& old = it->second.config;
  std::vector<int> fds;
  if (old.address == config.address && old.port == config.port &&
      old.bind_to_port == config.bind_to_port && old.udp == config.udp) {
    fds = std::exchange(it->second.fds, {});
  }
  warming_listeners_.erase(it);  // closes the sockets not taken
  return fds;
}

absl::Status Server::ActivateWarmListeners() {
  if (draining_) return absl::OkStatus();  // no new listener while the workers drain
  absl::Status first_error;
  for (auto it = warming_listeners_.begin(); it != warming_listeners_.end();) {
    if (!WarmingTargets(it->second).empty()) {
      ++it;
      continue;
    }
    if (absl::Status st = InstallListener(it->second.config, std::exchange(it->second.fds, {}));
        !st.ok()) {
      WEFT_LOG(error, "{}", st.message());
      if (first_error.ok()) first_error = st;
    }
    it = warming_listeners_.erase(it);
  }
  UpdateListenerState();
  return first_error;
}

void Server::UpdateListenerState() {
  main_stats_->gauge("listener_manager.total_listeners_warming")
      .Set(static_cast<int64_t>(warming_listeners_.size()));
  main_stats_->gauge("listener_manager.total_listeners_active")
      .Set(static_cast<int64_t>(listeners_.size()));
  if (initializing_ && warming_listeners_.empty()) {
    initializing_ = false;
    WEFT_LOG(info, "all initial listeners are active: server LIVE");
  }
  // Envoy's server.state: 0 LIVE, 1 DRAINING, 2 PRE_INITIALIZING, 3 INITIALIZING.
  main_stats_->gauge("server.state").Set(draining_ ? 1 : initializing_ ? 3 : 0);
}

}  // namespace weft::proxy
