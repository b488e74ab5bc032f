#include "event/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"

namespace weft::event {

namespace {

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// ares_library_init is process-wide and not thread-safe; do it once, never undo it.
absl::Status InitAresLibrary() {
  static int status = [] { return ares_library_init(ARES_LIB_INIT_ALL); }();
  if (status != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("ares_library_init: ", ares_strerror(status)));
  }
  return absl::OkStatus();
}

absl::Status StatusFromAres(int status, std::string_view name) {
  switch (status) {
    case ARES_ENOTFOUND:
      return absl::NotFoundError(absl::StrCat("DNS: no such name '", View(name), "'"));
    case ARES_ENODATA:
      return absl::NotFoundError(absl::StrCat("DNS: no records for '", View(name), "'"));
    case ARES_ETIMEOUT:
      return absl::DeadlineExceededError(
          absl::StrCat("DNS: timed out resolving '", View(name), "'"));
    default:
      return absl::UnavailableError(
          absl::StrCat("DNS: resolving '", View(name), "': ", ares_strerror(status)));
  }
}

// Parses an IP literal; returns false if `name` is not one.
bool ParseLiteral(const std::string& name, DnsResponse* out) {
  auto* in = reinterpret_cast<sockaddr_in*>(&out->address);
  if (inet_pton(AF_INET, name.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    out->address_len = sizeof(sockaddr_in);
    return true;
  }
  std::string_view inner = name;
  if (inner.size() > 2 && inner.front() == '[' && inner.back() == ']') {
    inner = inner.substr(1, inner.size() - 2);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out->address);
  if (inet_pton(AF_INET6, std::string(inner).c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    out->address_len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool FamilyAllowed(DnsLookupFamily family, int address_family) {
  if (family == DnsLookupFamily::kV4Only) return address_family == AF_INET;
  if (family == DnsLookupFamily::kV6Only) return address_family == AF_INET6;
  return true;
}

// kAuto and kV4Preferred ask for both families in one round trip, then keep the preferred one
// if the name has it (Envoy's semantics without its sequential second query).
void ApplyPreference(DnsLookupFamily family, std::vector<DnsResponse>& responses) {
  int preferred;
  if (family == DnsLookupFamily::kAuto) {
    preferred = AF_INET6;
  } else if (family == DnsLookupFamily::kV4Preferred) {
    preferred = AF_INET;
  } else {
    return;
  }
  bool has_preferred = std::any_of(responses.begin(), responses.end(), [&](const DnsResponse& r) {
    return r.address.ss_family == preferred;
  });
  if (!has_preferred) return;
  std::erase_if(responses, [&](const DnsResponse& r) { return r.address.ss_family != preferred; });
}

}  // namespace

struct DnsResolver::Query final : ActiveDnsQuery {
  void Cancel() override {
    cancelled = true;
    callback = nullptr;  // release what it captured now
  }
  std::string name;
  DnsLookupFamily family;
  DnsCallback callback;
  DnsResolver* resolver;
  bool cancelled = false;
  bool completed = false;
};

struct DnsResolver::Completion {
  std::unique_ptr<Query> query;
  absl::Status status;
  std::vector<DnsResponse> responses;
};

DnsResolver::DnsResolver(Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

absl::StatusOr<std::unique_ptr<DnsResolver>> DnsResolver::Create(Dispatcher& dispatcher,
                                                                 DnsResolverOptions options) {
  if (auto status = InitAresLibrary(); !status.ok()) return status;
  std::unique_ptr<DnsResolver> resolver(new DnsResolver(dispatcher));

  ares_options ares_opts{};
  ares_opts.sock_state_cb = &DnsResolver::OnSocketState;
  ares_opts.sock_state_cb_data = resolver.get();
  ares_opts.timeout = static_cast<int>(options.query_timeout.count());
  ares_opts.tries = std::max(options.query_tries, 1);
  char lookups[] = "fb";  // /etc/hosts, then DNS
  ares_opts.lookups = lookups;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
  int status = ares_init_options(&resolver->channel_, &ares_opts, mask);
  if (status != ARES_SUCCESS) {
    resolver->channel_ = nullptr;
    return absl::InternalError(absl::StrCat("ares_init_options: ", ares_strerror(status)));
  }
  if (!options.servers.empty()) {
    std::string csv = absl::StrJoin(options.servers, ",");
    status = ares_set_servers_ports_csv(resolver->channel_, csv.c_str());
    if (status != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns_resolvers '", csv, "': ", ares_strerror(status)));
    }
  }
  resolver->timer_ = dispatcher.CreateTimer([r = resolver.get()] { r->OnTimer(); });
  return resolver;
}

DnsResolver::~DnsResolver() {
  destroying_ = true;
  *alive_ = false;
  // Runs every pending query's callback with ARES_EDESTRUCTION (dropped in OnAddrInfo) and
  // closes the sockets, which removes their FileEvents through OnSocketState.
  if (channel_ != nullptr) ares_destroy(channel_);
  completed_.clear();
  sockets_.clear();
}

ActiveDnsQuery* DnsResolver::Resolve(std::string_view name, DnsLookupFamily family,
                                     DnsCallback callback) {
  std::string name_string(name);
  DnsResponse literal;
  if (ParseLiteral(name_string, &literal)) {
    if (FamilyAllowed(family, literal.address.ss_family)) {
      callback(absl::OkStatus(), {literal});
    } else {
      callback(
          absl::NotFoundError(absl::StrCat("'", View(name), "' is an address of the wrong family")),
          {});
    }
    return nullptr;
  }

  auto* query = new Query();
  query->name = std::move(name_string);
  query->family = family;
  query->callback = std::move(callback);
  query->resolver = this;

  ares_addrinfo_hints hints{};
  hints.ai_family = family == DnsLookupFamily::kV4Only   ? AF_INET
                    : family == DnsLookupFamily::kV6Only ? AF_INET6
                                                         : AF_UNSPEC;
  // Keep the server's order: LOGICAL_DNS uses the first address, and RFC 6724 sorting would
  // open a UDP socket per address to find source addresses.
  hints.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(channel_, query->name.c_str(), nullptr, &hints, &DnsResolver::OnAddrInfo, query);
  if (query->completed) {  // answered synchronously (hosts file, or an immediate error)
    DeliverCompleted();
    return nullptr;
  }
  UpdateTimer();
  return query;
}

void DnsResolver::OnAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Query> query(static_cast<Query*>(arg));
  DnsResolver* self = query->resolver;
  if (query->cancelled || self->destroying_ || status == ARES_ECANCELLED ||
      status == ARES_EDESTRUCTION) {
    if (result != nullptr) ares_freeaddrinfo(result);
    return;
  }
  Completion completion;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
      if (!FamilyAllowed(query->family, node->ai_family)) continue;
      if (node->ai_addrlen > sizeof(sockaddr_storage)) continue;
      DnsResponse response;
      std::memcpy(&response.address, node->ai_addr, node->ai_addrlen);
      response.address_len = node->ai_addrlen;
      // c-ares fills in no port (we pass no service); make sure it reads as 0.
      if (node->ai_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&response.address)->sin_port = 0;
      } else if (node->ai_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&response.address)->sin6_port = 0;
      }
      response.ttl = std::chrono::seconds(std::max(node->ai_ttl, 0));
      completion.responses.push_back(response);
    }
    ApplyPreference(query->family, completion.responses);
    completion.status =
        completion.responses.empty() ? StatusFromAres(ARES_ENODATA, query->name) : absl::OkStatus();
  } else {
    completion.status = StatusFromAres(status, query->name);
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  query->completed = true;
  completion.query = std::move(query);
  self->completed_.push_back(std::move(completion));
}

bool DnsResolver::DeliverCompleted() {
  if (completed_.empty()) return true;
  std::vector<Completion> batch;
  batch.swap(completed_);
  std::shared_ptr<bool> alive = alive_;
  for (Completion& completion : batch) {
    if (!*alive) return false;
    Query& query = *completion.query;
    if (query.cancelled || !query.callback) continue;
    // Move the callback out so it may safely cancel or destroy anything, including itself.
    DnsCallback callback = std::move(query.callback);
    query.cancelled = true;  // the handle is spent
    callback(std::move(completion.status), std::move(completion.responses));
  }
  return *alive;
}

void DnsResolver::OnSocketState(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<DnsResolver*>(data);
  if (!readable && !writable) {
    self->sockets_.erase(fd);
    return;
  }
  Socket& socket = self->sockets_[fd];
  if (socket.event == nullptr) {
    socket.event = self->dispatcher_.CreateFileEvent(
        fd, [self, fd](uint32_t events) { self->OnSocketReady(fd, events); });
  } else if (writable && !socket.wants_write) {
    // Edge-triggered: the socket may have been writable all along, so no new edge would come.
    socket.event->Activate(kWrite);
  }
  socket.wants_write = writable != 0;
}

void DnsResolver::OnSocketReady(int fd, uint32_t events) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return;
  ares_socket_t read_fd = (events & (kRead | kClosed)) ? fd : ARES_SOCKET_BAD;
  ares_socket_t write_fd = (events & kWrite) && it->second.wants_write ? fd : ARES_SOCKET_BAD;
  if (read_fd != ARES_SOCKET_BAD || write_fd != ARES_SOCKET_BAD) {
    ares_process_fd(channel_, read_fd, write_fd);
  }
  // c-ares drains UDP sockets but reads a TCP answer piecemeal; with edge-triggered epoll no
  // new edge comes for bytes already buffered, so ask to be called again while any remain.
  it = sockets_.find(fd);
  if (it != sockets_.end()) {
    int pending = 0;
    if (ioctl(fd, FIONREAD, &pending) == 0 && pending > 0) it->second.event->Activate(kRead);
  }
  if (!DeliverCompleted()) return;
  UpdateTimer();
}

void DnsResolver::OnTimer() {
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // handles expired tries
  if (!DeliverCompleted()) return;
  UpdateTimer();
}

void DnsResolver::UpdateTimer() {
  timeval tv;
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    timer_->Disable();
    return;
  }
  auto delay = std::chrono::milliseconds(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
  timer_->Enable(delay);
}

}  // namespace weft::event
