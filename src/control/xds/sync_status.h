// Whether a proxy runs what weftd sent it, per resource type: the column values of
// `weftctl proxy-status`, mirroring istioctl proxy-status.
//
//   NOT SENT  nothing of this type was ever sent on the node's streams
//   NACKED    the node rejected the last response of this type (TypeStatus::nack_error says
//             why); it keeps running the last version it ACKed
//   SYNCED    the node ACKed the version last sent
//   STALE     sent, but not ACKed (yet): the answer is in flight, or an older response was NACKed
//             and a newer one is awaiting its answer
#pragma once

#include <string_view>

#include "control/xds/snapshot_cache.h"

namespace weft::control::xds {

enum class SyncState { kNotSent, kSynced, kStale, kNacked };

SyncState ComputeSyncState(const TypeStatus& status);
std::string_view SyncStateName(SyncState state);  // "SYNCED", "NOT SENT", ...

// The short names weftctl uses for the four type URLs ("CDS", "EDS", "LDS", "RDS"), or the URL.
std::string_view ShortTypeName(std::string_view type_url);

}  // namespace weft::control::xds
