// weftd's resource API, shaped like the Kubernetes API so its clients and habits carry over:
//
//   /apis/networking.istio.io/<version>/namespaces/<ns>/<plural>            GET list, POST create
//   /apis/networking.istio.io/<version>/namespaces/<ns>/<plural>/<name>     GET, PUT, DELETE
//   /apis/networking.istio.io/<version>/<plural>                            GET list, all
//   namespaces
//   ...?watch=true[&resourceVersion=N]    chunked JSON lines {"type":"ADDED|MODIFIED|DELETED",
//                                         "object":{...}} until the client goes away
//   /healthz, /readyz                     "ok"
//
// Writes are validated (model/validation.h: 422 Invalid with a cause per bad field), then the
// server sets metadata.uid and creationTimestamp on create, bumps metadata.generation when the
// spec changes, and the store sets resourceVersion. Errors are Kubernetes Status objects
// (api_status.h). Objects are served in the version the request names.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "control/api/http_server.h"
#include "control/store/store.h"

namespace weft::control {

class ResourceApi {
 public:
  // `now` gives creationTimestamp (injectable for tests).
  explicit ResourceApi(Store& store,
                       std::function<std::chrono::system_clock::time_point()> now = nullptr);
  ~ResourceApi();

  void Handle(const HttpRequest& request, HttpExchange& exchange);

 private:
  struct Target;
  class WatchStream;
  void List(const Target& target, HttpExchange& exchange);
  void Watch(const Target& target, const HttpRequest& request, HttpExchange& exchange);
  void Get(const Target& target, HttpExchange& exchange);
  void Create(const Target& target, const HttpRequest& request, HttpExchange& exchange);
  void Update(const Target& target, const HttpRequest& request, HttpExchange& exchange);
  void Delete(const Target& target, const HttpRequest& request, HttpExchange& exchange);
  std::string NewUid();

  Store& store_;
  std::function<std::chrono::system_clock::time_point()> now_;
  std::mt19937_64 uid_random_;
};

}  // namespace weft::control
