#include "proxy/filters/rbac_engine.h"

#include <algorithm>
#include <cstring>

#include "http/header_map.h"
#include "network/address.h"
#include "proxy/router/route_matcher.h"

namespace weft::rbac {
namespace {

class AnyMatcher : public Matcher {
 public:
  bool Matches(const RbacRequest&) const override { return true; }
};

class AndMatcher : public Matcher {
 public:
  explicit AndMatcher(std::vector<MatcherPtr> children) : children_(std::move(children)) {}
  bool Matches(const RbacRequest& r) const override {
    return std::all_of(children_.begin(), children_.end(),
                       [&](const MatcherPtr& c) { return c->Matches(r); });
  }

 private:
  std::vector<MatcherPtr> children_;
};

class OrMatcher : public Matcher {
 public:
  explicit OrMatcher(std::vector<MatcherPtr> children) : children_(std::move(children)) {}
  bool Matches(const RbacRequest& r) const override {
    return std::any_of(children_.begin(), children_.end(),
                       [&](const MatcherPtr& c) { return c->Matches(r); });
  }

 private:
  std::vector<MatcherPtr> children_;
};

class NotMatcher : public Matcher {
 public:
  explicit NotMatcher(MatcherPtr child) : child_(std::move(child)) {}
  bool Matches(const RbacRequest& r) const override { return !child_->Matches(r); }

 private:
  MatcherPtr child_;
};

// Header rules never match a connection (the network filter has no headers), as in Envoy.
class HeaderRule : public Matcher {
 public:
  explicit HeaderRule(router::HeaderMatcher m) : matcher_(std::move(m)) {}
  bool Matches(const RbacRequest& r) const override {
    return r.headers != nullptr && router::MatchHeader(matcher_, *r.headers);
  }

 private:
  router::HeaderMatcher matcher_;
};

class UrlPathRule : public Matcher {
 public:
  explicit UrlPathRule(router::StringMatcher m) : matcher_(std::move(m)) {}
  bool Matches(const RbacRequest& r) const override {
    if (r.headers == nullptr) return false;
    const std::string* path = r.headers->Get(":path");
    if (path == nullptr) return false;
    return router::MatchString(matcher_, router::SplitPathAndQuery(*path).path);
  }

 private:
  router::StringMatcher matcher_;
};

class IpRule : public Matcher {
 public:
  IpRule(IpSource source, Cidr cidr) : source_(source), cidr_(cidr) {}
  bool Matches(const RbacRequest& r) const override {
    switch (source_) {
      case IpSource::kDirectRemote:
        return cidr_.Contains(r.direct_remote);
      case IpSource::kRemote:
        return cidr_.Contains(r.remote);
      case IpSource::kLocal:
        return cidr_.Contains(r.local);
    }
    return false;
  }

 private:
  IpSource source_;
  Cidr cidr_;
};

class PortRangeRule : public Matcher {
 public:
  PortRangeRule(uint32_t start, uint32_t end_exclusive) : start_(start), end_(end_exclusive) {}
  bool Matches(const RbacRequest& r) const override {
    return r.local.family != 0 && r.local.port >= start_ && r.local.port < end_;
  }

 private:
  uint32_t start_, end_;
};

class ServerNameRule : public Matcher {
 public:
  explicit ServerNameRule(router::StringMatcher m) : matcher_(std::move(m)) {}
  bool Matches(const RbacRequest& r) const override {
    return router::MatchString(matcher_, r.requested_server_name);
  }

 private:
  router::StringMatcher matcher_;
};

class AuthenticatedRule : public Matcher {
 public:
  explicit AuthenticatedRule(std::optional<router::StringMatcher> m) : matcher_(std::move(m)) {}
  bool Matches(const RbacRequest& r) const override {
    if (r.peer_principal.empty()) return false;  // no verified peer certificate
    return !matcher_ || router::MatchString(*matcher_, r.peer_principal);
  }

 private:
  std::optional<router::StringMatcher> matcher_;
};

class MetadataRule : public Matcher {
 public:
  MetadataRule(std::string filter, std::string key, MetadataValueMatch value, bool invert)
      : filter_(std::move(filter)),
        key_(std::move(key)),
        value_(std::move(value)),
        invert_(invert) {}
  bool Matches(const RbacRequest& r) const override { return MatchesValue(r) != invert_; }

 private:
  bool MatchesValue(const RbacRequest& r) const {
    const std::vector<std::string>* values = Lookup(r);
    switch (value_.kind) {
      case MetadataValueMatch::Kind::kPresent:
        return (values != nullptr) == value_.present;
      case MetadataValueMatch::Kind::kString:
        // A single value; a list is not a string (Envoy's ValueMatcher on a ListValue).
        return values != nullptr && values->size() == 1 &&
               router::MatchString(value_.string_match, values->front());
      case MetadataValueMatch::Kind::kListOneOf:
        return values != nullptr &&
               std::any_of(values->begin(), values->end(), [&](const std::string& v) {
                 return router::MatchString(value_.string_match, v);
               });
    }
    return false;
  }

  const std::vector<std::string>* Lookup(const RbacRequest& r) const {
    if (r.dynamic_metadata == nullptr) return nullptr;
    auto ns = r.dynamic_metadata->find(filter_);
    if (ns == r.dynamic_metadata->end()) return nullptr;
    auto it = ns->second.find(key_);
    return it == ns->second.end() ? nullptr : &it->second;
  }

  std::string filter_, key_;
  MetadataValueMatch value_;
  bool invert_;
};

}  // namespace

MatcherPtr MatchAny() { return std::make_unique<AnyMatcher>(); }
MatcherPtr MatchAnd(std::vector<MatcherPtr> children) {
  return std::make_unique<AndMatcher>(std::move(children));
}
MatcherPtr MatchOr(std::vector<MatcherPtr> children) {
  return std::make_unique<OrMatcher>(std::move(children));
}
MatcherPtr MatchNot(MatcherPtr child) { return std::make_unique<NotMatcher>(std::move(child)); }
MatcherPtr MatchHeader(router::HeaderMatcher matcher) {
  return std::make_unique<HeaderRule>(std::move(matcher));
}
MatcherPtr MatchUrlPath(router::StringMatcher matcher) {
  return std::make_unique<UrlPathRule>(std::move(matcher));
}
MatcherPtr MatchIp(IpSource source, Cidr cidr) { return std::make_unique<IpRule>(source, cidr); }
MatcherPtr MatchDestinationPort(uint32_t port) {
  return std::make_unique<PortRangeRule>(port, port + 1);
}
MatcherPtr MatchDestinationPortRange(uint32_t start, uint32_t end_exclusive) {
  return std::make_unique<PortRangeRule>(start, end_exclusive);
}
MatcherPtr MatchRequestedServerName(router::StringMatcher matcher) {
  return std::make_unique<ServerNameRule>(std::move(matcher));
}
MatcherPtr MatchAuthenticated(std::optional<router::StringMatcher> principal_name) {
  return std::make_unique<AuthenticatedRule>(std::move(principal_name));
}
MatcherPtr MatchMetadata(std::string filter, std::string key, MetadataValueMatch value,
                         bool invert) {
  return std::make_unique<MetadataRule>(std::move(filter), std::move(key), std::move(value),
                                        invert);
}

RbacEngine::RbacEngine(Action action, std::vector<Policy> policies)
    : action_(action), policies_(std::move(policies)) {
  std::sort(policies_.begin(), policies_.end(),
            [](const Policy& a, const Policy& b) { return a.name < b.name; });
}

RbacEngine::Result RbacEngine::Evaluate(const RbacRequest& request) const {
  auto any = [&](const std::vector<MatcherPtr>& ms) {
    return std::any_of(ms.begin(), ms.end(),
                       [&](const MatcherPtr& m) { return m->Matches(request); });
  };
  Result out;
  for (const Policy& p : policies_) {
    if (any(p.permissions) && any(p.principals)) {
      out.matched_policy = &p.name;
      break;
    }
  }
  switch (action_) {
    case Action::kAllow:
      out.allowed = out.matched_policy != nullptr;
      break;
    case Action::kDeny:
      out.allowed = out.matched_policy == nullptr;
      break;
    case Action::kLog:
      out.allowed = true;
      break;
  }
  return out;
}

void SetRbacStatNames(RbacConfig& config, std::string_view prefix,
                      std::string_view rules_stat_prefix, std::string_view shadow_stat_prefix) {
  const std::string rules = std::string(prefix) + std::string(rules_stat_prefix);
  const std::string shadow = std::string(prefix) + std::string(shadow_stat_prefix);
  config.allowed_stat = rules + "allowed";
  config.denied_stat = rules + "denied";
  config.logged_stat = rules + "logged";
  config.not_logged_stat = rules + "not_logged";
  config.shadow_allowed_stat = shadow + "shadow_allowed";
  config.shadow_denied_stat = shadow + "shadow_denied";
}

}  // namespace weft::rbac
