// Conversions shared by the translator's files: durations, percentages, destinations.
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"

namespace weft::control::translate::internal {

std::optional<google::protobuf::Duration> ParseDuration(const json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty()) return std::nullopt;
  // A sequence of <number><unit>, units h, m, s, ms, us, ns (Go's time.ParseDuration, which
  // Istio's validation uses).
  double total_seconds = 0;
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    const double number = std::strtod(s.substr(start, i - start).c_str(), nullptr);
    const size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    const std::string unit = s.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "h")
      scale = 3600;
    else if (unit == "m")
      scale = 60;
    else if (unit == "s")
      scale = 1;
    else if (unit == "ms")
      scale = 1e-3;
    else if (unit == "us" || unit == "µs")
      scale = 1e-6;
    else if (unit == "ns")
      scale = 1e-9;
    else
      return std::nullopt;
    total_seconds += number * scale;
  }
  google::protobuf::Duration d;
  const double whole = std::floor(total_seconds);
  d.set_seconds(static_cast<int64_t>(whole));
  d.set_nanos(static_cast<int32_t>(std::llround((total_seconds - whole) * 1e9)));
  if (d.nanos() >= 1000000000) {
    d.set_seconds(d.seconds() + 1);
    d.set_nanos(0);
  }
  return d;
}

envoy::type::v3::FractionalPercent PercentOf(const json& percentage, const json& legacy_percent) {
  envoy::type::v3::FractionalPercent out;
  if (percentage.is_object() && percentage.contains("value") && percentage["value"].is_number()) {
    // Istio keeps Percent's precision by counting in millionths.
    out.set_numerator(static_cast<uint32_t>(std::llround(percentage["value"].get<double>() * 1e4)));
    out.set_denominator(envoy::type::v3::FractionalPercent::MILLION);
  } else if (legacy_percent.is_number()) {
    out.set_numerator(legacy_percent.get<uint32_t>());
    out.set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
  } else {
    // Unset means always, as in Istio.
    out.set_numerator(100);
    out.set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
  }
  return out;
}

std::optional<Destination> ResolveDestination(const View& view, const json& destination,
                                              std::string_view namespace_, uint32_t default_port,
                                              const std::string& where) {
  Destination out;
  const std::string host = ResolveHost(Str(destination, "host"), namespace_);
  out.subset = Str(destination, "subset");
  const json& port = Obj(destination, "port");
  if (port.contains("number") && port["number"].is_number()) {
    out.port = port["number"].get<uint32_t>();
  }
  out.service = view.FindService(host);
  if (out.service == nullptr) {
    view.Warn(absl::StrCat(where, ": destination host '", host,
                           "' is not a service this proxy can see (routed to BlackHoleCluster)"));
    out.cluster = "BlackHoleCluster";
    return out;
  }
  if (out.port == 0) {
    out.port = out.service->ports.size() == 1 ? out.service->ports[0].number : default_port;
  }
  out.cluster = OutboundClusterName(out.port, out.subset, host);
  return out;
}

}  // namespace weft::control::translate::internal

namespace weft::control::translate {

std::string OutboundClusterName(uint32_t port, std::string_view subset, std::string_view host) {
  return absl::StrCat("outbound|", port, "|", absl::string_view(subset.data(), subset.size()), "|",
                      absl::string_view(host.data(), host.size()));
}

std::string InboundClusterName(uint32_t port) { return absl::StrCat("inbound|", port, "||"); }

}  // namespace weft::control::translate
