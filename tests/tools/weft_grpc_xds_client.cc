// weft-grpc-xds-client: a proxyless gRPC client on Debian's grpc++ (C-core 1.51), whose own xDS
// resolver — code written by others — reads weftd's config. For the interop tests.
//
//   GRPC_XDS_BOOTSTRAP=bootstrap.json weft-grpc-xds-client xds:///reviews:9080 N
//       [--metadata key=value]... [--deadline-ms D] [--interval-ms I] [--prefix P]
//
// Sends N unary weft.interop.Echo/Say calls (tests/interop/echo.proto) one after another, each
// with the given metadata and message "<prefix>-<i>", and prints one JSON line per call as it
// ends: {"call": i, "code": <grpc status code>, "status": "OK", "server": "<who answered>",
// "error": "<message>"}. The server's name comes from the reply (EchoReply.server). Exit status
// 0 when every call ran (whatever their codes), 1 on bad usage.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "echo.grpc.pb.h"

namespace {

const char* const kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

int Usage() {
  std::cerr << "usage: weft-grpc-xds-client TARGET N [--metadata k=v]... [--deadline-ms D] "
               "[--interval-ms I] [--prefix P]\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string target = argv[1];
  const int calls = std::atoi(argv[2]);
  std::vector<std::pair<std::string, std::string>> metadata;
  int deadline_ms = 10000;
  int interval_ms = 0;
  std::string prefix = "call";
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (arg == "--metadata") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos) return Usage();
      metadata.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (arg == "--deadline-ms") {
      deadline_ms = std::atoi(value.c_str());
    } else if (arg == "--interval-ms") {
      interval_ms = std::atoi(value.c_str());
    } else if (arg == "--prefix") {
      prefix = value;
    } else {
      return Usage();
    }
  }

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = weft::interop::Echo::NewStub(channel);
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
    weft::interop::EchoRequest request;
    request.set_message(prefix + "-" + std::to_string(i));
    weft::interop::EchoReply reply;
    const grpc::Status status = stub->Say(&context, request, &reply);
    nlohmann::json line = {{"call", i}, {"code", static_cast<int>(status.error_code())}};
    const int code = static_cast<int>(status.error_code());
    line["status"] = code >= 0 && code <= 16 ? kCodeNames[code] : "?";
    if (status.ok()) {
      line["server"] = reply.server();
    } else {
      line["error"] = status.error_message();
    }
    std::cout << line.dump() << std::endl;  // flushed: tests read lines as calls end
    if (interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  return 0;
}
