#include "control/api/resource_api.h"

#include <charconv>
#include <cstdio>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/api/api_status.h"
#include "control/model/kinds.h"
#include "control/model/secret.h"
#include "control/model/validation.h"

namespace weft::control {
namespace {

using nlohmann::json;
constexpr std::string_view kJson = "application/json";

void Reply(HttpExchange& exchange, uint32_t code, const json& body) {
  exchange.Respond(code, kJson, body.dump());
}
void Reply(HttpExchange& exchange, const ApiError& error) {
  exchange.Respond(error.code, kJson, error.status.dump());
}

// metadata.resourceVersion / ?resourceVersion= as a revision; 0 when absent or empty.
bool ParseRevision(const std::string& text, int64_t* out) {
  *out = 0;
  if (text.empty()) return true;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size() && *out >= 0;
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const json& Field(const json& object, std::string_view a, std::string_view b = {}) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(a);
  if (it == object.end()) return null;
  if (b.empty()) return *it;
  if (!it->is_object()) return null;
  auto jt = it->find(b);
  return jt == it->end() ? null : *jt;
}

std::string StringField(const json& object, std::string_view a, std::string_view b = {}) {
  const json& v = Field(object, a, b);
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

// What a request's path names.
struct ResourceApi::Target {
  std::string version;
  const KindInfo* kind = nullptr;
  std::string ns;  // empty: every namespace (list and watch only)
  std::string name;
  std::string api_version() const { return ApiVersionOf(*kind, version); }
  std::string resource() const {  // "virtualservices.networking.istio.io", "secrets"
    return ResourceGroupName(*kind, kind->plural);
  }
  std::string kind_group() const {  // "VirtualService.networking.istio.io", "Secret"
    return ResourceGroupName(*kind, kind->kind);
  }
  // The object as this request's version shows it.
  json Serve(json object) const {
    object["apiVersion"] = api_version();
    return object;
  }
};

// One watch: store events, as JSON lines, to one streaming response. Lives until the client
// goes away (the exchange's on_close) or the server ends it.
class ResourceApi::WatchStream {
 public:
  WatchStream(Store& store, Target target, HttpExchange& exchange)
      : store_(store), target_(std::move(target)), exchange_(exchange) {}
  ~WatchStream() {
    if (id_) store_.Unwatch(*id_);
  }
  void Send(std::string_view type, const json& object) {
    exchange_.Write(json{{"type", type}, {"object", target_.Serve(object)}}.dump() + "\n");
  }
  Store& store_;
  Target target_;
  HttpExchange& exchange_;
  std::optional<Store::WatchId> id_;
};

ResourceApi::ResourceApi(Store& store, std::function<std::chrono::system_clock::time_point()> now)
    : store_(store),
      now_(now ? std::move(now) : [] { return std::chrono::system_clock::now(); }),
      uid_random_(std::random_device{}()) {}

ResourceApi::~ResourceApi() = default;

std::string ResourceApi::NewUid() {
  // An RFC 4122 version-4 UUID, like the uids Kubernetes gives objects.
  uint64_t hi = uid_random_(), lo = uid_random_();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;
  lo = (lo & ~(0xcULL << 60)) | (0x8ULL << 60);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

void ResourceApi::Handle(const HttpRequest& request, HttpExchange& exchange) {
  if (request.path == "/healthz" || request.path == "/readyz" || request.path == "/livez") {
    exchange.Respond(200, "text/plain", "ok");
    return;
  }
  // /apis/<group>/<version>/[namespaces/<ns>/]<plural>[/<name>], and Kubernetes' core group
  // (Secret) at /api/<version>/...
  std::vector<std::string> parts = absl::StrSplit(request.path, '/', absl::SkipEmpty());
  auto not_found = [&] { Reply(exchange, UnknownPath()); };
  Target target;
  std::string group;
  size_t i = 0;
  if (parts.size() >= 3 && parts[0] == "api") {
    group = std::string(kCoreGroup);
    target.version = parts[1];
    i = 2;
  } else if (parts.size() >= 4 && parts[0] == "apis" && IsServedGroup(parts[1])) {
    group = parts[1];
    target.version = parts[2];
    i = 3;
  } else {
    return not_found();
  }
  if (parts[i] == "namespaces") {
    if (parts.size() < i + 3) return not_found();
    target.ns = parts[i + 1];
    i += 2;
  }
  target.kind = FindKindByPlural(parts[i]);
  if (target.kind == nullptr || target.kind->group != group ||
      !IsServedVersion(*target.kind, target.version) || parts.size() > i + 2) {
    return not_found();
  }
  if (parts.size() == i + 2) target.name = parts[i + 1];

  const std::string& m = request.method;
  const bool watch = request.query.contains("watch") && request.query.at("watch") != "false" &&
                     request.query.at("watch") != "0";
  if (target.name.empty()) {
    if ((m == "GET" || m == "HEAD") && watch) return Watch(target, request, exchange);
    if (m == "GET" || m == "HEAD") return List(target, exchange);
    if (m == "POST" && !target.ns.empty()) return Create(target, request, exchange);
    return Reply(exchange, MethodNotAllowed());
  }
  if (target.ns.empty()) return not_found();
  if (m == "GET" || m == "HEAD") return Get(target, exchange);
  if (m == "PUT") return Update(target, request, exchange);
  if (m == "DELETE") return Delete(target, request, exchange);
  Reply(exchange, MethodNotAllowed());
}

void ResourceApi::List(const Target& target, HttpExchange& exchange) {
  absl::StatusOr<ListResult> list = store_.List({std::string(target.kind->kind), target.ns});
  if (!list.ok())
    return Reply(exchange, control::InternalError(std::string(list.status().message())));
  json items = json::array();
  for (json& item : list->items) items.push_back(target.Serve(std::move(item)));
  Reply(exchange, 200,
        {{"apiVersion", target.api_version()},
         {"kind", absl::StrCat(std::string(target.kind->kind), "List")},
         {"metadata", {{"resourceVersion", std::to_string(list->revision)}}},
         {"items", std::move(items)}});
}

void ResourceApi::Watch(const Target& target, const HttpRequest& request, HttpExchange& exchange) {
  int64_t after = 0;
  auto rv = request.query.find("resourceVersion");
  if (rv != request.query.end() && !ParseRevision(rv->second, &after)) {
    return Reply(exchange,
                 BadRequest(absl::StrCat("invalid resourceVersion \"", rv->second, "\"")));
  }
  const Selector selector{std::string(target.kind->kind), target.ns};
  auto stream = std::make_shared<WatchStream>(store_, target, exchange);
  // The stream lives as long as the response: on_close drops the last reference.
  exchange.StartStream(200, kJson, [stream]() mutable { stream.reset(); });
  WatchStream* s = stream.get();
  if (after == 0) {
    // No resourceVersion (or "0"): the current objects as ADDED, then what follows, as the
    // Kubernetes API starts a watch "from any" version.
    absl::StatusOr<ListResult> list = store_.List(selector);
    if (!list.ok()) {
      s->Send("ERROR", control::InternalError(std::string(list.status().message())).status);
      return exchange.EndStream();
    }
    for (const json& item : list->items) s->Send("ADDED", item);
    after = list->revision;
  }
  absl::StatusOr<Store::WatchId> id = store_.Watch(selector, after, [s](const WatchEvent& event) {
    s->Send(EventTypeName(event.type), event.object);
  });
  if (!id.ok()) {
    // Kubernetes answers 200, then one ERROR event carrying the Status (410 Expired: re-list).
    ApiError error = FromStoreStatus(id.status(), target.resource(), "");
    exchange.Write(json{{"type", "ERROR"}, {"object", error.status}}.dump() + "\n");
    return exchange.EndStream();
  }
  s->id_ = *id;
}

void ResourceApi::Get(const Target& target, HttpExchange& exchange) {
  absl::StatusOr<json> object =
      store_.Get({std::string(target.kind->kind), target.ns, target.name});
  if (!object.ok()) {
    return Reply(exchange, FromStoreStatus(object.status(), target.resource(), target.name));
  }
  Reply(exchange, 200, target.Serve(std::move(*object)));
}

namespace {

// Parses a write's body and checks that it names what the path names; the validation errors
// come after. On failure, fills `error`.
std::optional<json> ParseBody(const std::string& body, std::string_view api_version,
                              std::string_view kind, const std::string& ns, ApiError* error) {
  json object = json::parse(body, nullptr, false);
  if (object.is_discarded() || !object.is_object()) {
    *error = BadRequest("the request body is not a JSON object");
    return std::nullopt;
  }
  std::string got_kind = StringField(object, "kind");
  if (!got_kind.empty() && got_kind != kind) {
    *error =
        BadRequest(absl::StrCat("the kind in the data (", got_kind,
                                ") does not match the expected kind (", std::string(kind), ")"));
    return std::nullopt;
  }
  std::string got_version = StringField(object, "apiVersion");
  if (!got_version.empty() && got_version != api_version) {
    *error = BadRequest(absl::StrCat("the API version in the data (", got_version,
                                     ") does not match the expected API version (",
                                     std::string(api_version), ")"));
    return std::nullopt;
  }
  object["kind"] = kind;
  object["apiVersion"] = api_version;
  if (!Field(object, "metadata").is_object()) {
    if (!Field(object, "metadata").is_null()) {
      *error = BadRequest("metadata must be an object");
      return std::nullopt;
    }
    object["metadata"] = json::object();
  }
  std::string got_ns = StringField(object, "metadata", "namespace");
  if (!got_ns.empty() && got_ns != ns) {
    *error = BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
    return std::nullopt;
  }
  object["metadata"]["namespace"] = ns;
  return object;
}

}  // namespace

void ResourceApi::Create(const Target& target, const HttpRequest& request, HttpExchange& exchange) {
  ApiError error;
  std::optional<json> object =
      ParseBody(request.body, target.api_version(), target.kind->kind, target.ns, &error);
  if (!object) return Reply(exchange, error);
  json& meta = (*object)["metadata"];
  // Server-set fields a client may echo back from another object: they are not its to choose.
  for (const char* server_set : {"resourceVersion", "uid", "creationTimestamp", "generation"})
    meta.erase(server_set);
  std::vector<FieldError> errors = ValidateResource(*object);
  if (!errors.empty()) {
    return Reply(exchange,
                 Invalid(target.kind_group(), StringField(*object, "metadata", "name"), errors));
  }
  if (target.kind->kind == "Secret") FoldStringData(*object);
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = Rfc3339(now_());
  meta["generation"] = 1;
  const std::string name = meta["name"];
  absl::StatusOr<json> stored = store_.Create(std::move(*object));
  if (!stored.ok()) {
    return Reply(exchange, FromStoreStatus(stored.status(), target.resource(), name));
  }
  Reply(exchange, 201, target.Serve(std::move(*stored)));
}

void ResourceApi::Update(const Target& target, const HttpRequest& request, HttpExchange& exchange) {
  ApiError error;
  std::optional<json> object =
      ParseBody(request.body, target.api_version(), target.kind->kind, target.ns, &error);
  if (!object) return Reply(exchange, error);
  json& meta = (*object)["metadata"];
  std::string name = StringField(*object, "metadata", "name");
  if (name.empty()) meta["name"] = name = target.name;
  if (name != target.name) {
    return Reply(exchange, BadRequest(absl::StrCat("the name of the object (", name,
                                                   ") does not match the name on the URL (",
                                                   target.name, ")")));
  }
  int64_t expected = 0;
  if (!ParseRevision(StringField(*object, "metadata", "resourceVersion"), &expected)) {
    return Reply(exchange, BadRequest("metadata.resourceVersion must be a decimal revision"));
  }
  meta.erase("generation");
  std::vector<FieldError> errors = ValidateResource(*object);
  if (!errors.empty()) return Reply(exchange, Invalid(target.kind_group(), name, errors));
  if (target.kind->kind == "Secret") FoldStringData(*object);

  const ResourceKey key{std::string(target.kind->kind), target.ns, name};
  absl::StatusOr<json> current = store_.Get(key);
  if (!current.ok()) {
    return Reply(exchange, FromStoreStatus(current.status(), target.resource(), name));
  }
  if (target.kind->kind == "Secret") {
    Errors immutable;
    ValidateSecretUpdate(*current, *object, immutable);
    if (!immutable.empty())
      return Reply(exchange, Invalid(target.kind_group(), name, immutable.list()));
  }
  // uid and creationTimestamp stay the object's; generation counts spec changes only (status
  // and metadata writes do not bump it), as for Kubernetes custom resources.
  const json& old_meta = (*current)["metadata"];
  meta["uid"] = old_meta.value("uid", json());
  meta["creationTimestamp"] = old_meta.value("creationTimestamp", json());
  int64_t generation = old_meta.value("generation", json(1)).is_number_integer()
                           ? old_meta.value("generation", int64_t{1})
                           : 1;
  if (Field(*current, "spec") != Field(*object, "spec")) ++generation;
  meta["generation"] = generation;
  // Without a resourceVersion the update is unconditional against what we just read (the store
  // is single-writer, so nothing can come in between).
  if (expected == 0) {
    ParseRevision(StringField(*current, "metadata", "resourceVersion"), &expected);
  }
  absl::StatusOr<json> stored = store_.Update(std::move(*object), expected);
  if (!stored.ok()) {
    return Reply(exchange, FromStoreStatus(stored.status(), target.resource(), name));
  }
  Reply(exchange, 200, target.Serve(std::move(*stored)));
}

void ResourceApi::Delete(const Target& target, const HttpRequest& request, HttpExchange& exchange) {
  // DeleteOptions may carry a precondition: {"preconditions": {"resourceVersion": "N"}}.
  int64_t expected = 0;
  if (!request.body.empty()) {
    json options = json::parse(request.body, nullptr, false);
    if (options.is_discarded() || !options.is_object()) {
      return Reply(exchange, BadRequest("the request body is not a DeleteOptions object"));
    }
    if (!ParseRevision(StringField(options, "preconditions", "resourceVersion"), &expected)) {
      return Reply(exchange, BadRequest("preconditions.resourceVersion must be a revision"));
    }
  }
  absl::StatusOr<json> deleted =
      store_.Delete({std::string(target.kind->kind), target.ns, target.name}, expected);
  if (!deleted.ok()) {
    return Reply(exchange, FromStoreStatus(deleted.status(), target.resource(), target.name));
  }
  Reply(exchange, 200, target.Serve(std::move(*deleted)));
}

}  // namespace weft::control
