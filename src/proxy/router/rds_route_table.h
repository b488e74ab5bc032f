// One RDS route configuration as the workers see it, swappable in place: an RDS update reaches
// every new stream, also on connections (HTTP/1.1 keep-alive, long-lived HTTP/2 and gRPC
// channels) that were open before it, without touching the listener. Envoy behaves the same way:
// a new route configuration applies from the next stream on.
//
// Threads: one slot per worker. The main thread builds the RouteTable once and posts it to each
// worker, which writes its own slot; a worker reads only its own slot, at the start of each
// stream. So the per-stream cost is one read of thread-local data and one reference-count
// increment, with no lock and no allocation. Each slot's shared_ptr has the worker's own control
// block (aliasing a per-worker holder), so the increments of different workers never touch the
// same cache line. A stream keeps the table it started with (its route entry points into it)
// until it ends, whatever updates arrive meanwhile.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxy/router/router.h"

namespace weft::router {

class RdsRouteTable {
 public:
  // On the main thread, before any worker can see this object: every slot starts at `table`.
  RdsRouteTable(std::string name, size_t workers, std::shared_ptr<const RouteTable> table);

  const std::string& name() const { return name_; }

  // On worker `worker`'s thread: the table a new stream routes by.
  const std::shared_ptr<const RouteTable>& Current(size_t worker) const {
    return slots_[worker].table;
  }
  // On worker `worker`'s thread (the main thread posts it there): new streams use `table`.
  void Set(size_t worker, std::shared_ptr<const RouteTable> table);

  size_t workers() const { return slots_.size(); }

 private:
  // A cache line each: a worker writes its slot while the others read theirs.
  struct alignas(64) Slot {
    std::shared_ptr<const RouteTable> table;
  };
  std::string name_;
  std::vector<Slot> slots_;
};

}  // namespace weft::router
