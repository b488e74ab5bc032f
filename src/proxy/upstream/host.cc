#include "proxy/upstream/host.h"

#include <algorithm>
#include <cstring>

namespace weft::upstream {

HostConstSharedPtr MakeHost(const sockaddr* address, socklen_t address_len, std::string hostname,
                            uint32_t weight, Locality locality, uint32_t priority,
                            uint32_t locality_weight,
                            std::map<std::string, std::string> transport_socket_match) {
  auto host = std::make_shared<Host>();
  std::memcpy(&host->address, address, std::min<size_t>(address_len, sizeof(host->address)));
  host->address_len = address_len;
  host->address_string = FormatAddress(address);
  host->hostname = std::move(hostname);
  host->weight = std::max<uint32_t>(weight, 1);
  host->locality = std::move(locality);
  host->locality_weight = locality_weight;
  host->priority = priority;
  host->transport_socket_match = std::move(transport_socket_match);
  return host;
}

void HostSet::AddToLevel(uint32_t index, PriorityHosts& level) const {
  const Host& host = *(*hosts_)[index];
  if (!level.hosts.empty() && (*hosts_)[level.hosts.front()]->weight != host.weight) {
    level.equal_weights = false;
  }
  level.hosts.push_back(index);
  level.total_weight += host.weight;
  auto it = std::find_if(level.localities.begin(), level.localities.end(),
                         [&](const LocalityHosts& l) { return l.locality == host.locality; });
  if (it == level.localities.end()) {
    level.localities.push_back(LocalityHosts{host.locality, host.locality_weight, {}});
    it = level.localities.end() - 1;
  }
  it->hosts.push_back(index);
}

std::shared_ptr<const HostSet> HostSet::Create(std::vector<HostConstSharedPtr> hosts) {
  std::shared_ptr<HostSet> set(new HostSet());
  set->hosts_ = std::make_shared<const std::vector<HostConstSharedPtr>>(std::move(hosts));
  for (uint32_t i = 0; i < set->hosts_->size(); ++i) {
    const uint32_t priority = (*set->hosts_)[i]->priority;
    if (set->priorities_.size() <= priority) set->priorities_.resize(priority + 1);
    set->AddToLevel(i, set->priorities_[priority]);
  }
  return set;
}

std::shared_ptr<const HostSet> HostSet::CreateView(const HostSet& all,
                                                   const std::vector<uint32_t>& hosts) {
  std::shared_ptr<HostSet> view(new HostSet());
  view->hosts_ = all.hosts_;
  view->priorities_.resize(1);
  for (uint32_t index : hosts) view->AddToLevel(index, view->priorities_[0]);
  return view;
}

const PriorityHosts& HostSet::primary() const {
  static const PriorityHosts kEmpty;
  return priorities_.empty() ? kEmpty : priorities_[0];
}

bool HostSet::SameHostsAs(const HostSet& other) const {
  if (hosts_->size() != other.hosts_->size()) return false;
  for (size_t i = 0; i < hosts_->size(); ++i) {
    const Host& a = *(*hosts_)[i];
    const Host& b = *(*other.hosts_)[i];
    if (a.address_string != b.address_string || a.weight != b.weight || a.priority != b.priority ||
        a.locality_weight != b.locality_weight || !(a.locality == b.locality) ||
        a.hostname != b.hostname) {
      return false;
    }
  }
  return true;
}

}  // namespace weft::upstream
