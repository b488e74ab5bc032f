// Envoy-named statistics, kept per worker and merged when someone reads them (admin /stats).
//
// Each thread that records stats owns one Store. A counter is written only by its owning thread,
// so an increment is a plain load + store (relaxed atomics compile to ordinary moves on x86; they
// exist only so the main thread's concurrent read is not a data race). Creating a stat takes the
// store's mutex; that happens when configuration is applied, never per request.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::stats {

class Counter {
 public:
  void Inc(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  void Add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A histogram of milliseconds with Envoy's default bucket bounds.
class Histogram {
 public:
  static constexpr double kBounds[] = {0.5,   1,      5,      10,      25,     50,    100,
                                       250,   500,    1000,   2500,    5000,   10000, 30000,
                                       60000, 300000, 600000, 1800000, 3600000};
  static constexpr size_t kBuckets = sizeof(kBounds) / sizeof(kBounds[0]);
  void Record(double ms);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> buckets_[kBuckets] = {};  // count of values <= kBounds[i] (not cumulative)
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// State kept beside a store by the thread that owns it (see Store::Attachment).
class StoreAttachment {
 public:
  virtual ~StoreAttachment() = default;
};

// One thread's stats. Pointers it hands out stay valid for the store's life.
class Store {
 public:
  Counter& counter(std::string_view name);
  Gauge& gauge(std::string_view name);
  Histogram& histogram(std::string_view name);

  // The store's one T (a StoreAttachment constructible from Store&), created on first use: state
  // a hot path keeps beside the stats it resolves, e.g. istio.stats' cache of resolved series.
  // It is destroyed before the stats, so the pointers into this store it holds never dangle.
  // Only the owning thread calls it (no lock: the admin thread never reads attachments).
  template <typename T>
  T& Attachment() {
    static const char kTag = 0;  // one address per T
    for (auto& [tag, attachment] : attachments_) {
      if (tag == &kTag) return static_cast<T&>(*attachment);
    }
    attachments_.emplace_back(&kTag, std::make_unique<T>(*this));
    return static_cast<T&>(*attachments_.back().second);
  }

 private:
  friend class Registry;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;      // GUARDED_BY(mutex_)
  std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges_;          // GUARDED_BY(mutex_)
  std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms_;  // GUARDED_BY(mutex_)
  // Declared last: destroyed first, while the stats they point into still exist.
  std::vector<std::pair<const void*, std::unique_ptr<StoreAttachment>>> attachments_;
};

struct HistogramSnapshot {
  uint64_t count = 0;
  double sum = 0;
  std::vector<uint64_t> buckets;  // per bucket, not cumulative
};

// The merged view of every store, sorted by name.
struct Snapshot {
  std::map<std::string, uint64_t> counters;
  std::map<std::string, int64_t> gauges;
  std::map<std::string, HistogramSnapshot> histograms;
};

// Owns every thread's Store. Thread-safe.
class Registry {
 public:
  Store& NewStore();
  Snapshot Merge();

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Store>> stores_;  // GUARDED_BY(mutex_)
};

// Text formats of a snapshot: Envoy's "name: value" lines, and Prometheus exposition with
// Envoy's tag extraction for the common prefixes (cluster.<name>., http.<prefix>., ...). A stat
// whose name is already a Prometheus series ("istio_requests_total{reporter=\"source\",...}")
// is printed with its own labels.
std::string FormatText(const Snapshot& snapshot, std::string_view filter = {});
std::string FormatJson(const Snapshot& snapshot);
std::string FormatPrometheus(const Snapshot& snapshot);
// Appends `value` escaped as a Prometheus label value (backslash, double quote, newline), for
// FormatPrometheus and the filters that store series under their Prometheus names.
void AppendPrometheusLabelValue(std::string& out, std::string_view value);

}  // namespace weft::stats
