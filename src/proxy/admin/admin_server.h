// The admin endpoint (Envoy's admin API on a loopback port): /ready, /stats (text, json,
// prometheus), /config_dump, /clusters, /listeners, /logging, /drain_listeners, /quitquitquit,
// /server_info, /help. Runs on the main thread's dispatcher over the same HTTP/1 codec as the
// data path. Mutating endpoints require POST, as Envoy's do.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "network/address.h"
#include "network/listen_socket.h"

namespace weft::proxy {

struct AdminResponse {
  uint32_t status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body;
};

// A handler gets the method, the path without query, and the parsed query parameters.
using AdminHandler = std::function<AdminResponse(std::string_view method, std::string_view path,
                                                 const std::map<std::string, std::string>& query)>;

class AdminServer {
 public:
  explicit AdminServer(event::Dispatcher& dispatcher);
  ~AdminServer();

  // `mutating` handlers answer 405 to anything but POST.
  void AddHandler(std::string path, std::string help, bool mutating, AdminHandler handler);
  absl::Status Listen(const network::Address& address);
  const network::Address& address() const { return address_; }

  AdminResponse Handle(std::string_view method, std::string_view path_and_query);

 private:
  class Connection;
  struct Entry {
    std::string help;
    bool mutating;
    AdminHandler handler;
  };
  event::Dispatcher& dispatcher_;
  std::map<std::string, Entry> handlers_;
  std::unique_ptr<network::Acceptor> acceptor_;
  network::Address address_;
  std::list<std::unique_ptr<Connection>> connections_;
};

}  // namespace weft::proxy
