// Earliest-deadline-first scheduling, shared by the weighted round-robin and least-request
// balancers: each host is due at a virtual time that advances by 1/weight per pick, and the host
// due first is picked next (Envoy documents the same idea for its weighted balancers).
#pragma once

namespace weft::upstream {

// The std::*_heap algorithms build a max-heap, so "less" here means "due later"; ties go to the
// lower host index so schedules are deterministic.
struct DueLater {
  template <typename Entry>
  bool operator()(const Entry& a, const Entry& b) const {
    if (a.deadline != b.deadline) return a.deadline > b.deadline;
    return a.host > b.host;
  }
};

}  // namespace weft::upstream
