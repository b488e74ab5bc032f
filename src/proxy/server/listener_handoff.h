// Envoy's use_original_dst hand-off: which listener a connection accepted by a use_original_dst
// listener belongs to once its original destination is known (Envoy:
// ConnectionHandlerImpl::getBalancedHandlerByAddress in
// source/common/listener_manager/connection_handler_impl.cc, and the Listener proto's
// use_original_dst comment). This is how Istio's virtualOutbound 15001 reaches the
// `0.0.0.0_<port>` and `<VIP>_<port>` listeners, which have bind_to_port: false.
#pragma once

#include <netinet/in.h>

#include <iterator>

#include "network/address.h"

namespace weft::proxy {

// Whether `address` is 0.0.0.0 or [::] (a listener on every address of its family).
bool IsWildcardAddress(const network::Address& address);
// Whether two addresses of the same family have the same IP (ports aside), without formatting
// them: this runs for every listener on every redirected connection.
bool SameIp(const network::Address& a, const network::Address& b);

// The element of `candidates` whose address (`address_of(element)`) equals `original_dst`
// (ip and port); else the one on the wildcard address of `original_dst`'s family with its port;
// else nullptr (the connection stays with the listener that accepted it). The first match wins
// among equals.
template <typename Range, typename AddressOf>
auto SelectHandoffTarget(Range& candidates, const network::Address& original_dst,
                         AddressOf address_of) -> decltype(&*std::begin(candidates)) {
  decltype(&*std::begin(candidates)) wildcard = nullptr;
  for (auto& candidate : candidates) {
    const network::Address& a = address_of(candidate);
    if (a.family() != original_dst.family() || a.port() != original_dst.port()) continue;
    if (SameIp(a, original_dst)) return &candidate;
    if (wildcard == nullptr && IsWildcardAddress(a)) wildcard = &candidate;
  }
  return wildcard;
}

}  // namespace weft::proxy
