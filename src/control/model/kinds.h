// The resource kinds weftd serves: Istio's networking.istio.io kinds, every served version
// (v1alpha3, v1beta1, v1) with one schema, as Istio's CRDs do, and its security.istio.io kinds
// (PeerAuthentication, AuthorizationPolicy, RequestAuthentication; v1beta1 and v1), and
// Kubernetes' core v1 Secret (apiVersion "v1", paths /api/v1/...: TLS credentials that
// DestinationRule credentialName names; model/secret.h). The one table the API paths, validation
// and weftctl's KIND arguments are read from.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace weft::control {

inline constexpr std::string_view kIstioNetworkingGroup = "networking.istio.io";
inline constexpr std::string_view kIstioSecurityGroup = "security.istio.io";
// Kubernetes' core group: no name; its apiVersion is the bare version ("v1").
inline constexpr std::string_view kCoreGroup = "";

struct KindInfo {
  std::string_view kind;                      // "VirtualService"
  std::string_view plural;                    // "virtualservices"
  std::string_view singular;                  // "virtualservice"
  std::vector<std::string_view> short_names;  // kubectl's: "vs"
  std::string_view group = kIstioNetworkingGroup;
};

const std::vector<KindInfo>& AllKinds();
const std::vector<std::string_view>& ServedVersions();  // v1alpha3, v1beta1, v1
bool IsServedVersion(std::string_view version);
// The versions Istio's CRD of `kind` serves: networking v1alpha3, v1beta1, v1; security v1beta1,
// v1.
bool IsServedVersion(const KindInfo& kind, std::string_view version);
bool IsServedGroup(std::string_view group);

// "networking.istio.io/v1", or "v1" for the core group.
std::string ApiVersionOf(const KindInfo& kind, std::string_view version);
// Splits an apiVersion into group and version: "v1" (no slash) is the core group's.
void SplitApiVersion(std::string_view api_version, std::string_view* group,
                     std::string_view* version);
// The REST prefix of a kind's version: "/apis/<group>/<version>", or "/api/v1" for the core group.
std::string ApiPathPrefix(const KindInfo& kind, std::string_view version);
// "virtualservices.networking.istio.io" (kubectl's resource.group), "secrets" for the core group.
std::string ResourceGroupName(const KindInfo& kind, std::string_view name);

const KindInfo* FindKindByPlural(std::string_view plural);
const KindInfo* FindKindByName(std::string_view kind);
// kubectl-style lookup: kind, plural, singular or short name, case-insensitive.
const KindInfo* FindKindByAnyName(std::string_view name);

}  // namespace weft::control
