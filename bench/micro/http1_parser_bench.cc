// Cost of parsing typical requests with the HTTP/1 parser: a curl/wrk GET and a browser GET with
// ten header fields, each fed whole on a keep-alive connection (the common case), plus the browser
// request split in two reads (the head gathered across reads) and a small chunked POST.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "http/http1_parser.h"

namespace weft::http {
namespace {

constexpr std::string_view kCurlGet =
    "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n\r\n";

constexpr std::string_view kBrowserGet =
    "GET /static/app.js?v=3f9a2c HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/products/list?page=2\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=7b1e3f0c9d2a4e8b; theme=dark; consent=yes\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: script\r\n"
    "\r\n";

constexpr std::string_view kChunkedPost =
    "POST /api/v1/items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "1a\r\n{\"name\":\"widget\",\"qty\":12}\r\n0\r\n\r\n";

// Touches what a connection manager would, so nothing is optimised away.
class CountingVisitor : public Http1Visitor {
 public:
  void OnHeadersComplete(HeaderMap&& headers, const Http1MessageInfo& info) override {
    fields += headers.size();
    benchmark::DoNotOptimize(headers);
  }
  void OnBody(std::string_view data) override { body_bytes += data.size(); }
  void OnMessageComplete() override { ++messages; }
  void OnError(const Http1ParseError& error) override { ++errors; }
  size_t fields = 0;
  size_t body_bytes = 0;
  size_t messages = 0;
  size_t errors = 0;
};

void ParseRepeatedly(benchmark::State& state, std::string_view request, size_t split) {
  CountingVisitor visitor;
  Http1Parser parser(Http1MessageType::kRequest, visitor);
  for (auto _ : state) {
    if (split == 0) {
      parser.Execute(request);
    } else {
      parser.Execute(request.substr(0, split));
      parser.Execute(request.substr(split));
    }
  }
  if (visitor.errors != 0 || visitor.messages != static_cast<size_t>(state.iterations())) {
    state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_CurlGet(benchmark::State& state) { ParseRepeatedly(state, kCurlGet, 0); }
void BM_BrowserGet(benchmark::State& state) { ParseRepeatedly(state, kBrowserGet, 0); }
void BM_BrowserGetSplitRead(benchmark::State& state) {
  ParseRepeatedly(state, kBrowserGet, kBrowserGet.size() / 2);
}
void BM_ChunkedPost(benchmark::State& state) { ParseRepeatedly(state, kChunkedPost, 0); }

BENCHMARK(BM_CurlGet);
BENCHMARK(BM_BrowserGet);
BENCHMARK(BM_BrowserGetSplitRead);
BENCHMARK(BM_ChunkedPost);

}  // namespace
}  // namespace weft::http
