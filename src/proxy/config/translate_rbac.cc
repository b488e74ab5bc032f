#include "proxy/config/translate_rbac.h"

#include "base/status.h"
#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "proxy/config/translate_common.h"

namespace weft::config {
namespace {

namespace rbac_pb = envoy::config::rbac::v3;
namespace http_pb = envoy::extensions::filters::http::rbac::v3;
namespace net_pb = envoy::extensions::filters::network::rbac::v3;

absl::StatusOr<router::StringMatcher> TranslatePathMatcher(
    const envoy::type::matcher::v3::PathMatcher& m, std::string_view path) {
  if (!m.has_path()) return ConfigError(FieldPath(path, "path"), "is required");
  return TranslateStringMatcher(m.path(), FieldPath(path, "path"));
}

absl::StatusOr<rbac::MatcherPtr> TranslateMetadata(
    const envoy::type::matcher::v3::MetadataMatcher& m, std::string_view path) {
  if (m.filter().empty()) return ConfigError(FieldPath(path, "filter"), "is required");
  if (m.path_size() == 0) return ConfigError(FieldPath(path, "path"), "needs at least one key");
  std::string key;
  for (int i = 0; i < m.path_size(); ++i) {
    if (m.path(i).key().empty()) {
      return ConfigError(FieldPath(IndexPath(path, "path", i), "key"), "is required");
    }
    if (i > 0) key += '.';
    key += m.path(i).key();
  }
  const std::string v_path = FieldPath(path, "value");
  const auto& v = m.value();
  rbac::MetadataValueMatch value;
  switch (v.match_pattern_case()) {
    case envoy::type::matcher::v3::ValueMatcher::kStringMatch: {
      value.kind = rbac::MetadataValueMatch::Kind::kString;
      ASSIGN_OR_RETURN(value.string_match,
                       TranslateStringMatcher(v.string_match(), FieldPath(v_path, "string_match")));
      break;
    }
    case envoy::type::matcher::v3::ValueMatcher::kPresentMatch:
      value.kind = rbac::MetadataValueMatch::Kind::kPresent;
      value.present = v.present_match();
      break;
    case envoy::type::matcher::v3::ValueMatcher::kListMatch: {
      const std::string l_path = FieldPath(v_path, "list_match.one_of");
      if (!v.list_match().one_of().has_string_match()) {
        return ConfigError(l_path, "only string_match is supported");
      }
      value.kind = rbac::MetadataValueMatch::Kind::kListOneOf;
      ASSIGN_OR_RETURN(value.string_match,
                       TranslateStringMatcher(v.list_match().one_of().string_match(),
                                              FieldPath(l_path, "string_match")));
      break;
    }
    default:
      return ConfigError(v_path, "only string_match, list_match and present_match are supported");
  }
  return rbac::MatchMetadata(m.filter(), std::move(key), std::move(value), m.invert());
}

absl::StatusOr<rbac::MatcherPtr> TranslatePermission(const rbac_pb::Permission& p,
                                                     std::string_view path);
absl::StatusOr<rbac::MatcherPtr> TranslatePrincipal(const rbac_pb::Principal& p,
                                                    std::string_view path);

// and_rules / or_rules / and_ids / or_ids: a non-empty list of children.
template <typename Child, typename TranslateChild>
absl::StatusOr<std::vector<rbac::MatcherPtr>> TranslateSet(
    const google::protobuf::RepeatedPtrField<Child>& children, std::string_view path,
    std::string_view field, TranslateChild translate) {
  if (children.empty()) return ConfigError(FieldPath(path, field), "needs at least one entry");
  std::vector<rbac::MatcherPtr> out;
  for (int i = 0; i < children.size(); ++i) {
    ASSIGN_OR_RETURN(rbac::MatcherPtr m, translate(children.Get(i), IndexPath(path, field, i)));
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<rbac::MatcherPtr> TranslatePermission(const rbac_pb::Permission& p,
                                                     std::string_view path) {
  using P = rbac_pb::Permission;
  switch (p.rule_case()) {
    case P::kAny:
      // rbac.proto validates `any` as const true.
      if (!p.any()) return ConfigError(FieldPath(path, "any"), "must be true");
      return rbac::MatchAny();
    case P::kAndRules: {
      ASSIGN_OR_RETURN(auto children,
                       TranslateSet(p.and_rules().rules(), FieldPath(path, "and_rules"), "rules",
                                    TranslatePermission));
      return rbac::MatchAnd(std::move(children));
    }
    case P::kOrRules: {
      ASSIGN_OR_RETURN(auto children,
                       TranslateSet(p.or_rules().rules(), FieldPath(path, "or_rules"), "rules",
                                    TranslatePermission));
      return rbac::MatchOr(std::move(children));
    }
    case P::kNotRule: {
      ASSIGN_OR_RETURN(auto child, TranslatePermission(p.not_rule(), FieldPath(path, "not_rule")));
      return rbac::MatchNot(std::move(child));
    }
    case P::kHeader: {
      ASSIGN_OR_RETURN(auto m, TranslateHeaderMatcher(p.header(), FieldPath(path, "header")));
      return rbac::MatchHeader(std::move(m));
    }
    case P::kUrlPath: {
      ASSIGN_OR_RETURN(auto m, TranslatePathMatcher(p.url_path(), FieldPath(path, "url_path")));
      return rbac::MatchUrlPath(std::move(m));
    }
    case P::kDestinationIp: {
      ASSIGN_OR_RETURN(auto c,
                       TranslateCidr(p.destination_ip(), FieldPath(path, "destination_ip")));
      return rbac::MatchIp(rbac::IpSource::kLocal, c);
    }
    case P::kDestinationPort: {
      if (p.destination_port() > 65535) {
        return ConfigError(FieldPath(path, "destination_port"), "must be at most 65535");
      }
      return rbac::MatchDestinationPort(p.destination_port());
    }
    case P::kDestinationPortRange: {
      // Int32Range: [start, end).
      const auto& r = p.destination_port_range();
      if (r.start() < 0 || r.end() > 65536 || r.start() > r.end()) {
        return ConfigError(FieldPath(path, "destination_port_range"),
                           "must be a range [start, end) within [0, 65536)");
      }
      return rbac::MatchDestinationPortRange(static_cast<uint32_t>(r.start()),
                                             static_cast<uint32_t>(r.end()));
    }
    case P::kRequestedServerName: {
      ASSIGN_OR_RETURN(auto m, TranslateStringMatcher(p.requested_server_name(),
                                                      FieldPath(path, "requested_server_name")));
      return rbac::MatchRequestedServerName(std::move(m));
    }
    case P::kMetadata:
      return TranslateMetadata(p.metadata(), FieldPath(path, "metadata"));
    default:
      return ConfigError(path,
                         "needs one of any, and_rules, or_rules, not_rule, header, url_path, "
                         "destination_ip, destination_port, destination_port_range, "
                         "requested_server_name, metadata");
  }
}

absl::StatusOr<rbac::MatcherPtr> TranslatePrincipal(const rbac_pb::Principal& p,
                                                    std::string_view path) {
  using P = rbac_pb::Principal;
  switch (p.identifier_case()) {
    case P::kAny:
      // rbac.proto validates `any` as const true.
      if (!p.any()) return ConfigError(FieldPath(path, "any"), "must be true");
      return rbac::MatchAny();
    case P::kAndIds: {
      ASSIGN_OR_RETURN(auto children, TranslateSet(p.and_ids().ids(), FieldPath(path, "and_ids"),
                                                   "ids", TranslatePrincipal));
      return rbac::MatchAnd(std::move(children));
    }
    case P::kOrIds: {
      ASSIGN_OR_RETURN(auto children, TranslateSet(p.or_ids().ids(), FieldPath(path, "or_ids"),
                                                   "ids", TranslatePrincipal));
      return rbac::MatchOr(std::move(children));
    }
    case P::kNotId: {
      ASSIGN_OR_RETURN(auto child, TranslatePrincipal(p.not_id(), FieldPath(path, "not_id")));
      return rbac::MatchNot(std::move(child));
    }
    case P::kAuthenticated: {
      std::optional<router::StringMatcher> name;
      if (p.authenticated().has_principal_name()) {
        ASSIGN_OR_RETURN(name,
                         TranslateStringMatcher(p.authenticated().principal_name(),
                                                FieldPath(path, "authenticated.principal_name")));
      }
      return rbac::MatchAuthenticated(std::move(name));
    }
    // source_ip (deprecated by Envoy) is the socket's peer, as direct_remote_ip.
    case P::kSourceIp: {
      ASSIGN_OR_RETURN(auto c, TranslateCidr(p.source_ip(), FieldPath(path, "source_ip")));
      return rbac::MatchIp(rbac::IpSource::kDirectRemote, c);
    }
    case P::kDirectRemoteIp: {
      ASSIGN_OR_RETURN(auto c,
                       TranslateCidr(p.direct_remote_ip(), FieldPath(path, "direct_remote_ip")));
      return rbac::MatchIp(rbac::IpSource::kDirectRemote, c);
    }
    case P::kRemoteIp: {
      ASSIGN_OR_RETURN(auto c, TranslateCidr(p.remote_ip(), FieldPath(path, "remote_ip")));
      return rbac::MatchIp(rbac::IpSource::kRemote, c);
    }
    case P::kHeader: {
      ASSIGN_OR_RETURN(auto m, TranslateHeaderMatcher(p.header(), FieldPath(path, "header")));
      return rbac::MatchHeader(std::move(m));
    }
    case P::kUrlPath: {
      ASSIGN_OR_RETURN(auto m, TranslatePathMatcher(p.url_path(), FieldPath(path, "url_path")));
      return rbac::MatchUrlPath(std::move(m));
    }
    case P::kMetadata:
      return TranslateMetadata(p.metadata(), FieldPath(path, "metadata"));
    default:
      return ConfigError(path,
                         "needs one of any, and_ids, or_ids, not_id, authenticated, "
                         "source_ip, direct_remote_ip, remote_ip, header, url_path, "
                         "metadata");
  }
}

absl::StatusOr<std::shared_ptr<const rbac::RbacEngine>> TranslateRules(const rbac_pb::RBAC& r,
                                                                       std::string_view path) {
  rbac::Action action = rbac::Action::kAllow;
  switch (r.action()) {
    case rbac_pb::RBAC::ALLOW:
      break;
    case rbac_pb::RBAC::DENY:
      action = rbac::Action::kDeny;
      break;
    case rbac_pb::RBAC::LOG:
      action = rbac::Action::kLog;
      break;
    default:
      return ConfigError(FieldPath(path, "action"), "must be ALLOW, DENY or LOG");
  }
  std::vector<rbac::Policy> policies;
  for (const auto& [name, policy] : r.policies()) {
    const std::string p_path = Cat(path, ".policies[", name, "]");
    rbac::Policy out;
    out.name = name;
    // Envoy's schema: both lists need at least one entry (rbac.proto min_items: 1).
    if (policy.permissions_size() == 0) {
      return ConfigError(FieldPath(p_path, "permissions"), "needs at least one entry");
    }
    if (policy.principals_size() == 0) {
      return ConfigError(FieldPath(p_path, "principals"), "needs at least one entry");
    }
    for (int i = 0; i < policy.permissions_size(); ++i) {
      ASSIGN_OR_RETURN(
          auto m, TranslatePermission(policy.permissions(i), IndexPath(p_path, "permissions", i)));
      out.permissions.push_back(std::move(m));
    }
    for (int i = 0; i < policy.principals_size(); ++i) {
      ASSIGN_OR_RETURN(
          auto m, TranslatePrincipal(policy.principals(i), IndexPath(p_path, "principals", i)));
      out.principals.push_back(std::move(m));
    }
    policies.push_back(std::move(out));
  }
  return std::make_shared<const rbac::RbacEngine>(action, std::move(policies));
}

// The fields the HTTP and network RBAC messages share, under the same names.
template <typename Proto>
absl::Status TranslateCommon(const Proto& p, std::string_view path, rbac::RbacConfig& out) {
  if (p.has_rules()) {
    ASSIGN_OR_RETURN(out.rules, TranslateRules(p.rules(), FieldPath(path, "rules")));
  }
  if (p.has_shadow_rules()) {
    ASSIGN_OR_RETURN(out.shadow_rules,
                     TranslateRules(p.shadow_rules(), FieldPath(path, "shadow_rules")));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> TranslateHttpRbac(
    const google::protobuf::Any& typed_config, std::string_view http_stat_prefix,
    std::string_view path) {
  ASSIGN_OR_RETURN(auto proto, Unpack<http_pb::RBAC>(typed_config, path));
  auto out = std::make_shared<rbac::RbacConfig>();
  RETURN_IF_ERROR(TranslateCommon(proto, path, *out));
  // Envoy: http.<stat_prefix>.rbac.<rules_stat_prefix>allowed, ...<shadow prefix>shadow_allowed.
  rbac::SetRbacStatNames(*out, std::string(http_stat_prefix) + "rbac.", proto.rules_stat_prefix(),
                         proto.shadow_rules_stat_prefix());
  return std::shared_ptr<const rbac::RbacConfig>(std::move(out));
}

absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> TranslateHttpRbacPerRoute(
    const google::protobuf::Any& typed_config, std::string_view path) {
  ASSIGN_OR_RETURN(auto proto, Unpack<http_pb::RBACPerRoute>(typed_config, path));
  auto out = std::make_shared<rbac::RbacConfig>();
  if (proto.has_rbac()) {
    const std::string r_path = FieldPath(path, "rbac");
    RETURN_IF_ERROR(TranslateCommon(proto.rbac(), r_path, *out));
  }
  // Stat names stay empty: the filter counts under its listener config's names.
  return std::shared_ptr<const rbac::RbacConfig>(std::move(out));
}

absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> TranslateNetworkRbac(
    const google::protobuf::Any& typed_config, std::string_view path) {
  ASSIGN_OR_RETURN(auto proto, Unpack<net_pb::RBAC>(typed_config, path));
  if (proto.stat_prefix().empty()) {
    return ConfigError(FieldPath(path, "stat_prefix"), "is required");
  }
  // ONE_TIME_ON_FIRST_BYTE (the default) and CONTINUOUS decide the same once per connection
  // here: nothing a network policy reads changes during a connection.
  auto out = std::make_shared<rbac::RbacConfig>();
  RETURN_IF_ERROR(TranslateCommon(proto, path, *out));
  // Envoy: <stat_prefix>.rbac.allowed, <stat_prefix>.rbac.<shadow prefix>shadow_allowed.
  std::string prefix = proto.stat_prefix();
  if (prefix.back() != '.') prefix += '.';  // Envoy's statPrefixJoin
  rbac::SetRbacStatNames(*out, prefix + "rbac.", "", proto.shadow_rules_stat_prefix());
  return std::shared_ptr<const rbac::RbacConfig>(std::move(out));
}

}  // namespace weft::config
