#include "proxy/admin/admin_server.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "http/query_string.h"
#include "network/connection.h"
#include "proxy/codec/codec.h"
#include "proxy/codec/codec_factory.h"

namespace weft::proxy {

// One admin client connection: HTTP/1 requests in, responses out.
class AdminServer::Connection : public network::ConnectionCallbacks,
                                public http::ServerConnectionCallbacks,
                                public http::StreamDecoder,
                                public http::StreamCallbacks {
 public:
  Connection(AdminServer& server, int fd) : server_(server) {
    connection_ = std::make_unique<network::Connection>(server.dispatcher_, fd, 1 << 20);
    connection_->SetCallbacks(this);
    codec_ = http::CreateHttp1ServerCodec(*connection_, *this, http::CodecLimits{});
  }
  ~Connection() override { connection_->SetCallbacks(nullptr); }

  void OnData(network::Buffer& data, bool end_stream) override {
    if (!codec_->Dispatch(data).ok()) {
      connection_->Close(network::Connection::CloseType::kFlushWrite);
      return;
    }
    if (end_stream) connection_->Close(network::Connection::CloseType::kFlushWrite);
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected) return;
    // Remove from the server (deferred: we are on the call stack).
    for (auto it = server_.connections_.begin(); it != server_.connections_.end(); ++it) {
      if (it->get() == this) {
        server_.dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
        server_.connections_.erase(it);
        return;
      }
    }
  }
  http::StreamDecoder& NewStream(http::StreamEncoder& encoder) override {
    encoder_ = &encoder;
    encoder.SetCallbacks(this);
    return *this;
  }
  void DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) override {
    headers_ = std::move(headers);
    if (end_stream) Respond();
  }
  void DecodeData(network::Buffer& data, bool end_stream) override {
    data.Drain(data.length());
    if (end_stream) Respond();
  }
  void DecodeTrailers(std::unique_ptr<http::HeaderMap>) override { Respond(); }
  void OnResetStream(http::StreamResetReason, std::string_view) override { encoder_ = nullptr; }

 private:
  void Respond() {
    if (!encoder_) return;
    AdminResponse r = server_.Handle(headers_->Method(), headers_->Path());
    http::HeaderMap out;
    out.Add(":status", std::to_string(r.status));
    out.Add("content-type", r.content_type);
    out.Add("content-length", std::to_string(r.body.size()));
    out.Add("cache-control", "no-cache, max-age=0");
    out.Add("x-content-type-options", "nosniff");
    http::StreamEncoder* encoder = encoder_;
    encoder_ = nullptr;
    bool head = headers_->Method() == "HEAD";
    encoder->EncodeHeaders(out, r.body.empty() || head);
    if (!r.body.empty() && !head) {
      network::Buffer body;
      body.Append(r.body);
      encoder->EncodeData(body, true);
    }
  }

  AdminServer& server_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::Connection> codec_;
  http::StreamEncoder* encoder_ = nullptr;
  std::unique_ptr<http::HeaderMap> headers_;
};

AdminServer::AdminServer(event::Dispatcher& dispatcher) : dispatcher_(dispatcher) {
  AddHandler("/help", "print out list of admin commands", false,
             [this](std::string_view, std::string_view, const auto&) {
               AdminResponse r;
               r.body = "admin commands are:\n";
               for (auto& [path, e] : handlers_)
                 absl::StrAppend(&r.body, "  ", path, ": ", e.help, "\n");
               return r;
             });
}

AdminServer::~AdminServer() {
  acceptor_.reset();
  connections_.clear();
}

void AdminServer::AddHandler(std::string path, std::string help, bool mutating,
                             AdminHandler handler) {
  handlers_[std::move(path)] = Entry{std::move(help), mutating, std::move(handler)};
}

absl::Status AdminServer::Listen(const network::Address& address) {
  ASSIGN_OR_RETURN(int fd, network::BindListenSocket(address, 128, false));
  address_ = network::LocalAddress(fd);
  acceptor_ = std::make_unique<network::Acceptor>(dispatcher_, fd, [this](int cfd) {
    connections_.push_back(std::make_unique<Connection>(*this, cfd));
  });
  return absl::OkStatus();
}

AdminResponse AdminServer::Handle(std::string_view method, std::string_view path_and_query) {
  http::PathAndQuery target = http::SplitPathAndQuery(path_and_query);
  std::string_view path = target.path;
  const std::map<std::string, std::string>& query = target.query;
  auto it = handlers_.find(std::string(path));
  if (it == handlers_.end()) {
    AdminResponse r = handlers_["/help"].handler(method, path, query);
    r.status = 404;
    r.body = absl::StrCat("invalid path. ", r.body);
    return r;
  }
  if (it->second.mutating && method != "POST") {
    return AdminResponse{405, "text/plain; charset=UTF-8", "This endpoint requires POST.\n"};
  }
  return it->second.handler(method, path, query);
}

}  // namespace weft::proxy
