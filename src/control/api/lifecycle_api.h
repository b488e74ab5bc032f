// What weftctl's lifecycle commands (install, verify-install, version, upgrade) ask weftd:
//
//   GET /version                 {"version": "0.5.0", "revision": "default", "gitCommit": ""}
//                                (the build's version, `--revision`, the configured commit)
//   GET /debug/storedversions    {"items": [{"apiVersion", "kind", "namespace", "name"}]}: each
//                                stored resource with the API version it was WRITTEN under (reads
//                                always serve the version asked for), so `weftctl upgrade` can
//                                warn about resources kept under deprecated versions.
//
// Runs on weftd's dispatcher, like the resource API.
#pragma once

#include <string>

#include "control/api/http_server.h"
#include "control/store/store.h"

namespace weft::control {

class LifecycleApi {
 public:
  LifecycleApi(std::string revision, Store& store)
      : revision_(std::move(revision)), store_(store) {}

  static bool Serves(const HttpRequest& request);
  void Handle(const HttpRequest& request, HttpExchange& exchange);

 private:
  std::string revision_;
  Store& store_;
};

}  // namespace weft::control
