#include "proxy/stats/stats.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace weft::stats {

void Histogram::Record(double ms) {
  size_t i = 0;
  while (i < kBuckets && ms > kBounds[i]) ++i;
  if (i < kBuckets)
    buckets_[i].store(buckets_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sum_.store(sum_.load(std::memory_order_relaxed) + ms, std::memory_order_relaxed);
}

template <typename T>
static T& FindOrCreate(std::map<std::string, std::unique_ptr<T>, std::less<>>& map,
                       std::string_view name) {
  auto it = map.find(name);
  if (it == map.end()) it = map.emplace(std::string(name), std::make_unique<T>()).first;
  return *it->second;
}

Counter& Store::counter(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  return FindOrCreate(counters_, name);
}
Gauge& Store::gauge(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  return FindOrCreate(gauges_, name);
}
Histogram& Store::histogram(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  return FindOrCreate(histograms_, name);
}

Store& Registry::NewStore() {
  std::lock_guard<std::mutex> lock(mutex_);
  stores_.push_back(std::make_unique<Store>());
  return *stores_.back();
}

Snapshot Registry::Merge() {
  Snapshot out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& store : stores_) {
    std::lock_guard<std::mutex> store_lock(store->mutex_);
    for (auto& [name, c] : store->counters_) out.counters[name] += c->value();
    for (auto& [name, g] : store->gauges_) out.gauges[name] += g->value();
    for (auto& [name, h] : store->histograms_) {
      auto& snap = out.histograms[name];
      if (snap.buckets.empty()) snap.buckets.resize(Histogram::kBuckets);
      snap.count += h->count();
      snap.sum += h->sum();
      for (size_t i = 0; i < Histogram::kBuckets; ++i) snap.buckets[i] += h->bucket(i);
    }
  }
  return out;
}

std::string FormatText(const Snapshot& snapshot, std::string_view filter) {
  std::map<std::string, std::string> lines;  // Envoy prints every stat sorted by name
  for (auto& [name, v] : snapshot.counters) lines[name] = std::to_string(v);
  for (auto& [name, v] : snapshot.gauges) lines[name] = std::to_string(v);
  for (auto& [name, h] : snapshot.histograms) {
    lines[name] =
        h.count == 0 ? "No recorded values" : absl::StrCat("count=", h.count, " sum=", h.sum);
  }
  std::string out;
  for (auto& [name, v] : lines) {
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    absl::StrAppend(&out, name, ": ", v, "\n");
  }
  return out;
}

std::string FormatJson(const Snapshot& snapshot) {
  nlohmann::json stats = nlohmann::json::array();
  for (auto& [name, v] : snapshot.counters) stats.push_back({{"name", name}, {"value", v}});
  for (auto& [name, v] : snapshot.gauges) stats.push_back({{"name", name}, {"value", v}});
  return nlohmann::json{{"stats", stats}}.dump();
}

namespace {

// Envoy's default tag extractors for the prefixes Weft emits: the stat name loses the tag value,
// which becomes a label (e.g. cluster.backend.upstream_rq_total ->
// envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"}).
struct PromName {
  std::string name;
  std::string labels;
};

std::string Sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      c = '_';
  }
  return out;
}

PromName ToPrometheus(std::string_view stat) {
  // A series stored under its Prometheus name, labels included (Istio's standard metrics,
  // proxy/filters/istio_stats.h): printed as it is.
  if (const size_t brace = stat.find('{'); brace != std::string_view::npos && stat.back() == '}') {
    return {std::string(stat.substr(0, brace)),
            std::string(stat.substr(brace + 1, stat.size() - brace - 2))};
  }
  struct Rule {
    std::string_view prefix;
    std::string_view label;
  };
  static constexpr Rule kRules[] = {{"cluster.", "envoy_cluster_name"},
                                    {"http.", "envoy_http_conn_manager_prefix"},
                                    {"listener.", "envoy_listener_address"},
                                    {"tcp.", "envoy_tcp_prefix"}};
  for (const Rule& rule : kRules) {
    if (stat.substr(0, rule.prefix.size()) != rule.prefix) continue;
    std::string_view rest = stat.substr(rule.prefix.size());
    // The tag value is everything up to the last dot-separated metric name. Listener addresses
    // contain dots ("0.0.0.0_10000"), so take the metric name from the end.
    size_t dot = rest.rfind('.');
    if (dot == std::string_view::npos) break;
    std::string_view value = rest.substr(0, dot);
    std::string_view metric = rest.substr(dot + 1);
    if (rule.prefix == "http." && value.find('.') != std::string_view::npos) {
      // http.<prefix>.downstream_rq_2xx: the prefix itself has no dots.
      size_t first = value.find('.');
      metric = rest.substr(first + 1);
      value = value.substr(0, first);
    }
    std::string label = absl::StrCat(std::string(rule.label), "=\"");
    AppendPrometheusLabelValue(label, value);
    label += '"';
    return {absl::StrCat("envoy_", Sanitize(rule.prefix.substr(0, rule.prefix.size() - 1)), "_",
                         Sanitize(metric)),
            std::move(label)};
  }
  return {absl::StrCat("envoy_", Sanitize(stat)), ""};
}

std::string Braced(const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; }

}  // namespace

std::string FormatPrometheus(const Snapshot& snapshot) {
  // Group series by metric name so each # TYPE line appears once.
  std::map<std::string, std::vector<std::string>> counters, gauges, histograms;
  for (auto& [name, v] : snapshot.counters) {
    PromName p = ToPrometheus(name);
    counters[p.name].push_back(absl::StrCat(p.name, Braced(p.labels), " ", v));
  }
  for (auto& [name, v] : snapshot.gauges) {
    PromName p = ToPrometheus(name);
    gauges[p.name].push_back(absl::StrCat(p.name, Braced(p.labels), " ", v));
  }
  for (auto& [name, h] : snapshot.histograms) {
    PromName p = ToPrometheus(name);
    std::string sep = p.labels.empty() ? "" : ",";
    uint64_t cumulative = 0;
    auto& lines = histograms[p.name];
    for (size_t i = 0; i < Histogram::kBuckets; ++i) {
      cumulative += h.buckets[i];
      lines.push_back(absl::StrCat(p.name, "_bucket{", p.labels, sep, "le=\"",
                                   Histogram::kBounds[i], "\"} ", cumulative));
    }
    lines.push_back(absl::StrCat(p.name, "_bucket{", p.labels, sep, "le=\"+Inf\"} ", h.count));
    lines.push_back(absl::StrCat(p.name, "_sum", Braced(p.labels), " ", h.sum));
    lines.push_back(absl::StrCat(p.name, "_count", Braced(p.labels), " ", h.count));
  }
  std::string out;
  auto emit = [&](auto& group, std::string_view type) {
    for (auto& [name, lines] : group) {
      absl::StrAppend(&out, "# TYPE ", name, " ", std::string(type), "\n");
      for (auto& line : lines) absl::StrAppend(&out, line, "\n");
    }
  };
  emit(counters, "counter");
  emit(gauges, "gauge");
  emit(histograms, "histogram");
  return out;
}

void AppendPrometheusLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

}  // namespace weft::stats
