// A UDP listener with envoy.filters.udp.dns_filter: answers A/AAAA queries for the names of its
// table, NXDOMAIN for other names under its known suffixes, and relays every other query to an
// upstream nameserver (client_config.upstream_resolvers, else resolv.conf's). Lives on one
// worker's event loop and is used only there (not thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/random.h"
#include "event/dispatcher.h"
#include "network/address.h"
#include "proxy/dns/dns_message.h"
#include "proxy/dns/dns_table.h"
#include "proxy/listener/dns_filter_config.h"
#include "proxy/stats/stats.h"

namespace weft::dns {

// Envoy's dns_filter statistics (dns_filter.<stat_prefix>.<name>), the ones Weft counts.
struct DnsFilterStats {
  stats::Counter& downstream_rx_queries;
  stats::Counter& downstream_rx_bytes;
  stats::Counter& downstream_rx_invalid_queries;
  stats::Counter& downstream_tx_responses;
  stats::Counter& downstream_tx_bytes;
  stats::Counter& known_domain_queries;
  stats::Counter& local_a_record_answers;
  stats::Counter& local_aaaa_record_answers;
  stats::Counter& unanswered_queries;
  stats::Counter& unsupported_queries;
  stats::Counter& queries_with_ans_or_authority_rrs;
  stats::Counter& external_a_record_queries;
  stats::Counter& external_aaaa_record_queries;
  stats::Counter& external_unsupported_queries;
  stats::Counter& externally_resolved_queries;
  static DnsFilterStats Create(stats::Store& store, const std::string& stat_prefix);
};

class DnsServer {
 public:
  // Takes ownership of the bound socket `fd`. `resolvers`: where forwarded queries go (used when
  // the config names no upstream_resolvers).
  DnsServer(event::Dispatcher& dispatcher, stats::Store& stats, int fd,
            const listener::DnsFilterConfig& config, std::vector<network::Address> resolvers);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // An LDS update of the listener: the next query is answered from the new table; lookups in
  // flight finish with the settings they started with.
  void UpdateConfig(const listener::DnsFilterConfig& config);

  size_t pending_lookups() const { return pending_.size(); }

 private:
  // A forwarded query waiting for its nameserver's answer, by the id it was sent with.
  struct PendingLookup {
    network::Address client;
    uint16_t client_id = 0;
    std::string query;  // as received, to build SERVFAIL on timeout
    network::Address resolver;
    std::unique_ptr<event::Timer> timeout;
  };
  struct Settings {
    std::shared_ptr<const DnsTable> table;
    std::unique_ptr<DnsFilterStats> stats;
    std::chrono::milliseconds resolver_timeout;
    uint64_t max_pending_lookups;
    std::vector<network::Address> resolvers;
  };

  void OnReadable();
  void OnUpstreamReadable(int fd);
  void HandleQuery(std::span<const uint8_t> packet, const network::Address& client);
  void Forward(std::span<const uint8_t> packet, const Query& query, const network::Address& client);
  void Reply(const std::string& response, const network::Address& client);
  void OnLookupTimeout(uint16_t upstream_id);
  // The upstream socket of the family (created on first use), or -1.
  int UpstreamSocket(int family);

  event::Dispatcher& dispatcher_;
  stats::Store& store_;
  int fd_;
  std::unique_ptr<event::FileEvent> event_;
  std::vector<network::Address> default_resolvers_;
  Settings settings_;
  FastRandom random_;
  int upstream_v4_ = -1;
  int upstream_v6_ = -1;
  std::unique_ptr<event::FileEvent> upstream_v4_event_;
  std::unique_ptr<event::FileEvent> upstream_v6_event_;
  std::unordered_map<uint16_t, PendingLookup> pending_;
};

}  // namespace weft::dns
