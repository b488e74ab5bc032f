#include "proxy/server/worker.h"

#include <unistd.h>

#include "base/logging.h"

namespace weft::proxy {

namespace {
constexpr std::chrono::milliseconds kAccessLogFlushInterval{1000};
}

Worker::Worker(int index, stats::Registry& registry, std::string hostname)
    : index_(index),
      stats_(registry.NewStore()),
      random_(FastRandom::FromClockAndThread()),
      clusters_(dispatcher_, stats_, random_),
      context_{dispatcher_, stats_, random_, clusters_, std::move(hostname)} {
  random_ = FastRandom(random_.Next() + static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ULL);
}

Worker::~Worker() { Stop(); }

void Worker::AddCluster(std::shared_ptr<const upstream::ClusterConfig> config) {
  dispatcher_.Post(
      [this, config = std::move(config)]() mutable { clusters_.AddCluster(std::move(config)); });
}

void Worker::UpdateHosts(const std::string& cluster, std::shared_ptr<const upstream::HostSet> hosts,
                         std::shared_ptr<const upstream::LbSharedState> lb_state) {
  dispatcher_.Post(
      [this, cluster, hosts = std::move(hosts), lb_state = std::move(lb_state)]() mutable {
        clusters_.UpdateHosts(cluster, std::move(hosts), std::move(lb_state));
      });
}

void Worker::AddListener(std::shared_ptr<const ListenerRuntime> runtime, int listen_fd) {
  dispatcher_.Post([this, runtime = std::move(runtime), listen_fd]() mutable {
    listeners_.push_back(ActiveListener{});
    ActiveListener& l = listeners_.back();
    l.cx_total = &stats_.counter(runtime->stat_prefix + "downstream_cx_total");
    l.cx_active = &stats_.gauge(runtime->stat_prefix + "downstream_cx_active");
    l.no_filter_chain_match = &stats_.counter(runtime->stat_prefix + "no_filter_chain_match");
    l.runtime = std::move(runtime);
    l.acceptor = std::make_unique<network::Acceptor>(dispatcher_, listen_fd,
                                                     [this, &l](int fd) { OnAccept(l, fd); });
  });
}

HcmStats& Worker::HcmStatsFor(const std::string& prefix) {
  auto& stats = hcm_stats_[prefix];
  if (!stats) stats = std::make_unique<HcmStats>(HcmStats::Create(stats_, prefix));
  return *stats;
}

void Worker::OnAccept(ActiveListener& listener, int fd) {
  const ListenerRuntime& rt = *listener.runtime;
  auto connection = std::make_unique<network::Connection>(
      dispatcher_, fd, rt.config->per_connection_buffer_limit_bytes);
  network::Address local = connection->local_address();
  if (rt.config->use_original_dst) {
    auto dst = network::OriginalDestination(fd);
    if (dst.ok()) local = *dst;
  }
  const FilterChainRuntime* chain = rt.SelectChain(local, connection->remote_address());
  if (chain == nullptr) {
    listener.no_filter_chain_match->Inc();
    return;  // the connection closes as it goes out of scope
  }
  listener.cx_total->Inc();
  listener.cx_active->Inc();
  ++active_connections_;
  stats::Gauge* cx_active = listener.cx_active;
  if (chain->hcm) {
    HcmStats& stats = HcmStatsFor(chain->hcm->config->stat_prefix);
    auto hcm = std::make_unique<HttpConnectionManager>(
        context_, chain->hcm, stats, std::move(connection),
        [this, cx_active](HttpConnectionManager* h) {
          cx_active->Dec();
          --active_connections_;
          for (auto it = http_connections_.begin(); it != http_connections_.end(); ++it) {
            if (it->get() == h) {
              dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
              http_connections_.erase(it);
              break;
            }
          }
        });
    if (context_.draining) hcm->StartDrain();
    http_connections_.push_back(std::move(hcm));
    return;
  }
  auto session = std::make_unique<TcpProxySession>(
      context_, chain->tcp, std::move(connection), [this, cx_active](TcpProxySession* s) {
        cx_active->Dec();
        --active_connections_;
        for (auto it = tcp_sessions_.begin(); it != tcp_sessions_.end(); ++it) {
          if (it->get() == s) {
            dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
            tcp_sessions_.erase(it);
            break;
          }
        }
      });
  TcpProxySession* raw = session.get();
  tcp_sessions_.push_back(std::move(session));
  raw->Start();
}

void Worker::StartDrain() {
  dispatcher_.Post([this] {
    context_.draining = true;
    for (auto& l : listeners_) l.acceptor->Close();
    // StartDrain may close connections, which removes them from the list: iterate a copy.
    std::vector<HttpConnectionManager*> open;
    for (auto& h : http_connections_) open.push_back(h.get());
    for (auto* h : open) h->StartDrain();
  });
}

void Worker::Start() {
  thread_ = std::thread([this] {
    flush_timer_ = dispatcher_.CreateTimer([this] {
      context_.access_logs.Flush();
      flush_timer_->Enable(kAccessLogFlushInterval);
    });
    flush_timer_->Enable(kAccessLogFlushInterval);
    dispatcher_.Run();
    // Close what is still open, on this thread, then flush the logs they write.
    http_connections_.clear();
    tcp_sessions_.clear();
    listeners_.clear();
    flush_timer_.reset();
    context_.access_logs.Flush();
    context_.access_logs.Clear();
  });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  dispatcher_.Exit();
  thread_.join();
}

}  // namespace weft::proxy
