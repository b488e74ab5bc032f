// An HttpExchange that keeps the one response an API handler gives, for the API's unit tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "control/api/http_server.h"

namespace weft::control {

struct CapturedResponse : HttpExchange {
  uint32_t status = 0;
  std::string body;
  void Respond(uint32_t s, std::string_view, std::string_view b) override {
    status = s;
    body = std::string(b);
  }
  void StartStream(uint32_t, std::string_view, std::function<void()>) override {}
  void Write(std::string_view) override {}
  void EndStream() override {}
  nlohmann::json Json() const { return nlohmann::json::parse(body); }
};

}  // namespace weft::control
