#include "control/model/kinds.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace weft::control {

const std::vector<KindInfo>& AllKinds() {
  // Short names as Istio's CRDs declare them (manifests/charts/base/files/crd-all.gen.yaml).
  static const std::vector<KindInfo> kinds = {
      {"VirtualService", "virtualservices", "virtualservice", {"vs"}},
      {"DestinationRule", "destinationrules", "destinationrule", {"dr"}},
      {"ServiceEntry", "serviceentries", "serviceentry", {"se"}},
      {"WorkloadEntry", "workloadentries", "workloadentry", {"we"}},
      {"WorkloadGroup", "workloadgroups", "workloadgroup", {"wg"}},
      {"Sidecar", "sidecars", "sidecar", {}},
      {"Gateway", "gateways", "gateway", {"gw"}},
      {"PeerAuthentication",
       "peerauthentications",
       "peerauthentication",
       {"pa"},
       kIstioSecurityGroup},
      {"AuthorizationPolicy",
       "authorizationpolicies",
       "authorizationpolicy",
       {"ap"},
       kIstioSecurityGroup},
      {"RequestAuthentication",
       "requestauthentications",
       "requestauthentication",
       {"ra"},
       kIstioSecurityGroup},
      // Kubernetes' core v1 Secret (weftd's own store keeps it: there is no Kubernetes here).
      {"Secret", "secrets", "secret", {}, kCoreGroup},
  };
  return kinds;
}

const std::vector<std::string_view>& ServedVersions() {
  static const std::vector<std::string_view> versions = {"v1alpha3", "v1beta1", "v1"};
  return versions;
}

bool IsServedVersion(std::string_view version) {
  const auto& v = ServedVersions();
  return std::find(v.begin(), v.end(), version) != v.end();
}

bool IsServedVersion(const KindInfo& kind, std::string_view version) {
  if (kind.group == kCoreGroup) return version == "v1";
  if (kind.group == kIstioSecurityGroup) return version == "v1beta1" || version == "v1";
  return IsServedVersion(version);
}

bool IsServedGroup(std::string_view group) {
  return group == kIstioNetworkingGroup || group == kIstioSecurityGroup;
}

std::string ApiVersionOf(const KindInfo& kind, std::string_view version) {
  if (kind.group == kCoreGroup) return std::string(version);
  return std::string(kind.group) + "/" + std::string(version);
}

void SplitApiVersion(std::string_view api_version, std::string_view* group,
                     std::string_view* version) {
  const size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) {
    *group = kCoreGroup;
    *version = api_version;
    return;
  }
  *group = api_version.substr(0, slash);
  *version = api_version.substr(slash + 1);
}

std::string ApiPathPrefix(const KindInfo& kind, std::string_view version) {
  if (kind.group == kCoreGroup) return "/api/" + std::string(version);
  return "/apis/" + std::string(kind.group) + "/" + std::string(version);
}

std::string ResourceGroupName(const KindInfo& kind, std::string_view name) {
  if (kind.group == kCoreGroup) return std::string(name);
  return std::string(name) + "." + std::string(kind.group);
}

const KindInfo* FindKindByPlural(std::string_view plural) {
  for (const KindInfo& k : AllKinds())
    if (k.plural == plural) return &k;
  return nullptr;
}

const KindInfo* FindKindByName(std::string_view kind) {
  for (const KindInfo& k : AllKinds())
    if (k.kind == kind) return &k;
  return nullptr;
}

const KindInfo* FindKindByAnyName(std::string_view name) {
  // "virtualservices.networking.istio.io" names the same kind.
  std::string_view group;
  if (size_t dot = name.find('.'); dot != std::string_view::npos) {
    group = name.substr(dot + 1);
    if (!IsServedGroup(group)) return nullptr;
    name = name.substr(0, dot);
  }
  auto eq = [name](std::string_view s) {
    return absl::EqualsIgnoreCase(absl::string_view(s.data(), s.size()),
                                  absl::string_view(name.data(), name.size()));
  };
  for (const KindInfo& k : AllKinds()) {
    if (!group.empty() && k.group != group) continue;
    if (eq(k.kind) || eq(k.plural) || eq(k.singular)) return &k;
    for (std::string_view s : k.short_names)
      if (eq(s)) return &k;
  }
  return nullptr;
}

}  // namespace weft::control
