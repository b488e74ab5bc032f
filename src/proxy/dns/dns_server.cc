#include "proxy/dns/dns_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/logging.h"
#include "network/udp_socket.h"

namespace weft::dns {
namespace {

// Large enough for any UDP DNS message (EDNS allows up to 65535 bytes).
constexpr size_t kMaxDatagram = 65535;
// Datagrams read per readiness callback before yielding to the rest of the loop.
constexpr int kReadBatch = 64;

bool SameAddress(const network::Address& a, const network::Address& b) {
  return a.family() == b.family() && a.port() == b.port() && a.IpString() == b.IpString();
}

}  // namespace

DnsFilterStats DnsFilterStats::Create(stats::Store& store, const std::string& stat_prefix) {
  const std::string p = "dns_filter." + stat_prefix + ".";
  return DnsFilterStats{
      store.counter(p + "downstream_rx_queries"),
      store.counter(p + "downstream_rx_bytes"),
      store.counter(p + "downstream_rx_invalid_queries"),
      store.counter(p + "downstream_tx_responses"),
      store.counter(p + "downstream_tx_bytes"),
      store.counter(p + "known_domain_queries"),
      store.counter(p + "local_a_record_answers"),
      store.counter(p + "local_aaaa_record_answers"),
      store.counter(p + "unanswered_queries"),
      store.counter(p + "unsupported_queries"),
      store.counter(p + "queries_with_ans_or_authority_rrs"),
      store.counter(p + "external_a_record_queries"),
      store.counter(p + "external_aaaa_record_queries"),
      store.counter(p + "external_unsupported_queries"),
      store.counter(p + "externally_resolved_queries"),
  };
}

DnsServer::DnsServer(event::Dispatcher& dispatcher, stats::Store& stats, int fd,
                     const listener::DnsFilterConfig& config,
                     std::vector<network::Address> resolvers)
    : dispatcher_(dispatcher),
      store_(stats),
      fd_(fd),
      default_resolvers_(std::move(resolvers)),
      random_(FastRandom::FromClockAndThread()) {
  UpdateConfig(config);
  event_ = dispatcher_.CreateFileEvent(fd_, [this](uint32_t) { OnReadable(); });
}

DnsServer::~DnsServer() {
  pending_.clear();
  event_.reset();
  upstream_v4_event_.reset();
  upstream_v6_event_.reset();
  for (int fd : {fd_, upstream_v4_, upstream_v6_}) {
    if (fd >= 0) close(fd);
  }
}

void DnsServer::UpdateConfig(const listener::DnsFilterConfig& config) {
  settings_.table = std::make_shared<const DnsTable>(config);
  settings_.stats =
      std::make_unique<DnsFilterStats>(DnsFilterStats::Create(store_, config.stat_prefix));
  settings_.resolver_timeout = config.resolver_timeout;
  settings_.max_pending_lookups = config.max_pending_lookups;
  settings_.resolvers.clear();
  for (const auto& r : config.upstream_resolvers) {
    auto address = network::MakeAddress(r.ip, r.port);
    if (address.ok()) settings_.resolvers.push_back(*address);
  }
  if (settings_.resolvers.empty()) settings_.resolvers = default_resolvers_;
}

void DnsServer::OnReadable() {
  uint8_t buffer[kMaxDatagram];
  for (int i = 0; i < kReadBatch; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    ssize_t n =
        recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        WEFT_LOG(debug, "dns: recvfrom: {}", std::strerror(errno));
      }
      return;
    }
    HandleQuery(std::span<const uint8_t>(buffer, static_cast<size_t>(n)),
                network::AddressFromSockaddr(reinterpret_cast<sockaddr*>(&from), from_len));
  }
  event_->Activate(event::kRead);  // more may be queued: come back after the rest of the loop
}

void DnsServer::HandleQuery(std::span<const uint8_t> packet, const network::Address& client) {
  DnsFilterStats& stats = *settings_.stats;
  stats.downstream_rx_bytes.Inc(packet.size());
  Query query;
  const ParseResult parsed = ParseQuery(packet, query);
  if (parsed == ParseResult::kDrop) {
    stats.downstream_rx_invalid_queries.Inc();
    return;
  }
  stats.downstream_rx_queries.Inc();
  if (parsed == ParseResult::kMalformed) {
    stats.downstream_rx_invalid_queries.Inc();
    stats.unanswered_queries.Inc();
    Reply(BuildHeaderOnlyResponse(packet, Rcode::kFormErr), client);
    return;
  }
  if (parsed == ParseResult::kNotQuery) {
    stats.unsupported_queries.Inc();
    stats.unanswered_queries.Inc();
    Reply(BuildHeaderOnlyResponse(packet, Rcode::kNotImp), client);
    return;
  }
  if (query.answer_count > 0) stats.queries_with_ans_or_authority_rrs.Inc();

  const DnsTable& table = *settings_.table;
  const DnsTable::Entry* entry =
      query.matchable && query.qclass == kClassIn ? table.Find(query.name) : nullptr;
  if (entry != nullptr) {
    stats.known_domain_queries.Inc();
    // A and AAAA from the table; any other type of a name we own: NOERROR with no answers
    // (RFC 2308 NODATA), as for AAAA of a name with only v4 addresses.
    std::vector<Answer> answers;
    const std::vector<std::string>* rdata = nullptr;
    if (query.qtype == kTypeA) rdata = &entry->v4;
    if (query.qtype == kTypeAAAA) rdata = &entry->v6;
    if (rdata != nullptr) {
      for (const auto& r : *rdata) answers.push_back(Answer{query.qtype, entry->ttl_seconds, r});
    }
    std::string response = BuildResponse(packet, query, Rcode::kNoError, answers, true);
    // The answer count actually sent (some may not fit in 512 bytes).
    const uint16_t sent = static_cast<uint16_t>((static_cast<uint8_t>(response[6]) << 8) |
                                                static_cast<uint8_t>(response[7]));
    if (sent == 0) stats.unanswered_queries.Inc();
    if (query.qtype == kTypeA) stats.local_a_record_answers.Inc(sent);
    if (query.qtype == kTypeAAAA) stats.local_aaaa_record_answers.Inc(sent);
    Reply(response, client);
    return;
  }
  if (query.matchable && table.UnderKnownSuffix(query.name)) {
    // Ours, but not a name we have: NXDOMAIN now rather than a trip upstream (what makes the
    // ndots:5 search list of a pod's resolv.conf cheap).
    stats.known_domain_queries.Inc();
    stats.unanswered_queries.Inc();
    Reply(BuildResponse(packet, query, Rcode::kNxDomain, {}, true), client);
    return;
  }
  Forward(packet, query, client);
}

int DnsServer::UpstreamSocket(int family) {
  int& fd = family == AF_INET6 ? upstream_v6_ : upstream_v4_;
  if (fd >= 0) return fd;
  auto created = network::CreateUdpSocket(family);
  if (!created.ok()) {
    WEFT_LOG(warn, "dns: {}", created.status().message());
    return -1;
  }
  fd = *created;
  auto event = dispatcher_.CreateFileEvent(fd, [this, fd](uint32_t) { OnUpstreamReadable(fd); });
  (family == AF_INET6 ? upstream_v6_event_ : upstream_v4_event_) = std::move(event);
  return fd;
}

void DnsServer::Forward(std::span<const uint8_t> packet, const Query& query,
                        const network::Address& client) {
  DnsFilterStats& stats = *settings_.stats;
  if (query.qtype == kTypeA) {
    stats.external_a_record_queries.Inc();
  } else if (query.qtype == kTypeAAAA) {
    stats.external_aaaa_record_queries.Inc();
  } else {
    stats.external_unsupported_queries.Inc();
  }
  auto servfail = [&] {
    stats.unanswered_queries.Inc();
    Reply(BuildResponse(packet, query, Rcode::kServFail, {}, false), client);
  };
  if (settings_.resolvers.empty() ||
      (settings_.max_pending_lookups > 0 && pending_.size() >= settings_.max_pending_lookups) ||
      pending_.size() >= 0xffff) {
    servfail();
    return;
  }
  // A fresh id per lookup: two clients may use the same one, and the answer must go back to
  // the right client.
  uint16_t id;
  do {
    id = static_cast<uint16_t>(random_.Next());
  } while (pending_.count(id) > 0);
  const network::Address& resolver = settings_.resolvers.front();
  const int fd = UpstreamSocket(resolver.family());
  std::string out(reinterpret_cast<const char*>(packet.data()), packet.size());
  SetMessageId(out, id);
  if (fd < 0 || sendto(fd, out.data(), out.size(), 0, resolver.sa(), resolver.len) < 0) {
    servfail();
    return;
  }
  PendingLookup& lookup = pending_[id];
  lookup.client = client;
  lookup.client_id = query.id;
  lookup.query.assign(reinterpret_cast<const char*>(packet.data()), query.question_end);
  lookup.resolver = resolver;
  lookup.timeout = dispatcher_.CreateTimer([this, id] { OnLookupTimeout(id); });
  lookup.timeout->Enable(settings_.resolver_timeout);
}

void DnsServer::OnLookupTimeout(uint16_t upstream_id) {
  auto it = pending_.find(upstream_id);
  if (it == pending_.end()) return;
  PendingLookup lookup = std::move(it->second);
  pending_.erase(it);
  // The timer's callback is running: destroy it after this returns.
  dispatcher_.DeferredDelete(event::DeferLater(std::move(lookup.timeout)));
  settings_.stats->unanswered_queries.Inc();
  std::span<const uint8_t> query(reinterpret_cast<const uint8_t*>(lookup.query.data()),
                                 lookup.query.size());
  Query parsed;
  if (ParseQuery(query, parsed) != ParseResult::kOk) return;
  Reply(BuildResponse(query, parsed, Rcode::kServFail, {}, false), lookup.client);
}

void DnsServer::OnUpstreamReadable(int fd) {
  uint8_t buffer[kMaxDatagram];
  for (int i = 0; i < kReadBatch; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    ssize_t n =
        recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    if (static_cast<size_t>(n) < kHeaderSize) continue;
    std::span<const uint8_t> answer(buffer, static_cast<size_t>(n));
    auto it = pending_.find(MessageId(answer));
    // Only the nameserver the query went to may answer it.
    if (it == pending_.end() ||
        !SameAddress(it->second.resolver,
                     network::AddressFromSockaddr(reinterpret_cast<sockaddr*>(&from), from_len))) {
      continue;
    }
    PendingLookup lookup = std::move(it->second);
    pending_.erase(it);
    std::string relayed(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
    SetMessageId(relayed, lookup.client_id);
    settings_.stats->externally_resolved_queries.Inc();
    Reply(relayed, lookup.client);
  }
  (fd == upstream_v6_ ? upstream_v6_event_ : upstream_v4_event_)->Activate(event::kRead);
}

void DnsServer::Reply(const std::string& response, const network::Address& client) {
  if (sendto(fd_, response.data(), response.size(), 0, client.sa(), client.len) < 0) {
    WEFT_LOG(debug, "dns: reply to {}: {}", client.ToString(), std::strerror(errno));
    return;
  }
  settings_.stats->downstream_tx_responses.Inc();
  settings_.stats->downstream_tx_bytes.Inc(response.size());
}

}  // namespace weft::dns
