#include "control/xds/sync_status.h"

namespace weft::control::xds {

SyncState ComputeSyncState(const TypeStatus& status) {
  if (status.pushes == 0 && status.sent_version.empty()) return SyncState::kNotSent;
  // RecordNack stores the version the NACK rejected; only when that is still the latest response
  // is the node out of sync because of it. A newer push supersedes it (STALE until answered).
  if (!status.nack_version.empty() && status.nack_version == status.sent_version) {
    return SyncState::kNacked;
  }
  if (status.acked_version == status.sent_version) return SyncState::kSynced;
  return SyncState::kStale;
}

std::string_view SyncStateName(SyncState state) {
  switch (state) {
    case SyncState::kNotSent:
      return "NOT SENT";
    case SyncState::kSynced:
      return "SYNCED";
    case SyncState::kStale:
      return "STALE";
    case SyncState::kNacked:
      return "NACKED";
  }
  return "UNKNOWN";
}

std::string_view ShortTypeName(std::string_view type_url) {
  if (type_url == kClusterType) return "CDS";
  if (type_url == kEndpointType) return "EDS";
  if (type_url == kListenerType) return "LDS";
  if (type_url == kRouteType) return "RDS";
  return type_url;
}

}  // namespace weft::control::xds
