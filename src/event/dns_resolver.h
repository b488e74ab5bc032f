// Asynchronous DNS on the event loop, through c-ares (Debian's libc-ares 1.18).
//
// c-ares owns the protocol (queries, retries, server rotation, /etc/hosts, search domains); this
// class gives it the dispatcher's FileEvents for its sockets (ARES_OPT_SOCK_STATE_CB) and a Timer
// for its retransmission deadlines (ares_timeout), so resolution never blocks a thread. Lookups
// use ares_getaddrinfo, which reports each record's TTL, with lookups "fb": /etc/hosts first, then
// DNS. IP literals are answered at once without any query.
//
// Callbacks run on the dispatcher's thread, never from inside c-ares: a callback may cancel other
// queries or destroy the resolver.
//
// Thread-safety: none; use from the thread of the dispatcher it was created with (the main
// thread, where clusters are maintained).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "event/dispatcher.h"

// c-ares' types, kept out of this header so that only dns_resolver.cc includes <ares.h>.
struct ares_channeldata;
struct ares_addrinfo;

namespace weft::event {

// Envoy's Cluster.DnsLookupFamily.
enum class DnsLookupFamily {
  kAuto,  // IPv6 addresses if the name has any, else IPv4
  kV4Only,
  kV6Only,
  kV4Preferred,  // IPv4 addresses if the name has any, else IPv6
  kAll,          // both
};

struct DnsResponse {
  sockaddr_storage address{};  // AF_INET or AF_INET6, port 0
  socklen_t address_len = 0;
  std::chrono::seconds ttl{0};  // 0 for literals and /etc/hosts entries
};

// OK with at least one address; NotFound for NXDOMAIN or no record of the wanted family;
// DeadlineExceeded when every server timed out; Unavailable for other failures.
using DnsCallback = std::function<void(absl::Status, std::vector<DnsResponse>)>;

// A query in flight. Valid until its callback has run or Cancel() was called.
class ActiveDnsQuery {
 public:
  virtual ~ActiveDnsQuery() = default;
  // The callback will not run. The handle must not be used afterwards.
  virtual void Cancel() = 0;
};

struct DnsResolverOptions {
  // "ip:port" or "[ipv6]:port" (Cluster.dns_resolvers); empty = the system's /etc/resolv.conf.
  std::vector<std::string> servers;
  // Per-try timeout and tries per server (c-ares' defaults are 2 s and 3; Envoy keeps them).
  std::chrono::milliseconds query_timeout{2000};
  int query_tries = 3;
};

class DnsResolver {
 public:
  static absl::StatusOr<std::unique_ptr<DnsResolver>> Create(Dispatcher& dispatcher,
                                                             DnsResolverOptions options = {});
  // Cancels every query in flight: no callback runs afterwards.
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Resolves `name` (a host name or an IP literal). For a literal the callback runs before
  // Resolve returns and the result is nullptr; likewise if c-ares answers synchronously (e.g.
  // from /etc/hosts). Otherwise returns a handle to cancel the query.
  ActiveDnsQuery* Resolve(std::string_view name, DnsLookupFamily family, DnsCallback callback);

 private:
  struct Query;
  struct Completion;
  struct Socket {
    std::unique_ptr<FileEvent> event;
    bool wants_write = false;
  };

  explicit DnsResolver(Dispatcher& dispatcher);
  static void OnSocketState(void* data, int fd, int readable, int writable);
  static void OnAddrInfo(void* arg, int status, int timeouts, ::ares_addrinfo* result);
  void OnSocketReady(int fd, uint32_t events);
  void OnTimer();
  // Runs the callbacks of the queries c-ares completed. Returns false if one of them destroyed
  // the resolver (then `this` must not be touched).
  bool DeliverCompleted();
  void UpdateTimer();

  Dispatcher& dispatcher_;
  ::ares_channeldata* channel_ = nullptr;
  std::unordered_map<int, Socket> sockets_;
  std::unique_ptr<Timer> timer_;
  std::vector<Completion> completed_;  // filled inside c-ares callbacks, delivered after
  bool destroying_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace weft::event
