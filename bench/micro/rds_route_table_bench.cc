// What an rds HCM adds to each stream: taking the worker's current route table (one reference
// count up, one down when the stream ends), against an inline route_config (a plain pointer).
// Threads run as workers: each on its own slot (the design: per-worker control blocks), and,
// for comparison, all on one shared_ptr (what a single atomic<shared_ptr> or shared table
// would cost when every worker counts on the same cache line).
#include <benchmark/benchmark.h>

#include <memory>

#include "proxy/router/rds_route_table.h"

namespace weft::router {
namespace {

std::shared_ptr<const RouteTable> Table() {
  return *RouteTable::Create(std::make_shared<const RouteConfiguration>());
}

// Shared by the threads of a benchmark; built once.
RdsRouteTable& Rds() {
  static RdsRouteTable rds("routes", 64, Table());
  return rds;
}
const std::shared_ptr<const RouteTable>& SharedTable() {
  static const std::shared_ptr<const RouteTable> table = Table();
  return table;
}

void BM_InlineRouteConfig(benchmark::State& state) {
  const std::shared_ptr<const RouteTable>& table = SharedTable();
  for (auto _ : state) {
    const RouteTable* routes = table.get();
    benchmark::DoNotOptimize(routes);
  }
}
BENCHMARK(BM_InlineRouteConfig)->Threads(1)->Threads(2);

void BM_RdsPerWorkerSlot(benchmark::State& state) {
  RdsRouteTable& rds = Rds();
  const size_t worker = static_cast<size_t>(state.thread_index());
  for (auto _ : state) {
    std::shared_ptr<const RouteTable> pin = rds.Current(worker);  // a stream starts
    benchmark::DoNotOptimize(pin.get());
  }  // and ends
}
BENCHMARK(BM_RdsPerWorkerSlot)->Threads(1)->Threads(2);

void BM_RdsOneSharedControlBlock(benchmark::State& state) {
  const std::shared_ptr<const RouteTable>& table = SharedTable();
  for (auto _ : state) {
    std::shared_ptr<const RouteTable> pin = table;
    benchmark::DoNotOptimize(pin.get());
  }
}
BENCHMARK(BM_RdsOneSharedControlBlock)->Threads(1)->Threads(2);

}  // namespace
}  // namespace weft::router
