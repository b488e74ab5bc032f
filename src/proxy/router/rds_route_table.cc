#include "proxy/router/rds_route_table.h"

namespace weft::router {

RdsRouteTable::RdsRouteTable(std::string name, size_t workers,
                             std::shared_ptr<const RouteTable> table)
    : name_(std::move(name)), slots_(workers) {
  for (size_t i = 0; i < workers; ++i) Set(i, table);
}

void RdsRouteTable::Set(size_t worker, std::shared_ptr<const RouteTable> table) {
  // The holder owns a reference to the shared table; the slot aliases it, so copies made by this
  // worker's streams count on the holder's control block, which only this worker touches.
  auto holder = std::make_shared<const std::shared_ptr<const RouteTable>>(std::move(table));
  slots_[worker].table = std::shared_ptr<const RouteTable>(holder, holder->get());
}

}  // namespace weft::router
