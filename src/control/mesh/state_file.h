// weftd's small state files in --data-dir (registrations.json, vips.json): JSON documents that
// are derived state rather than user resources, replaced whole on every save.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weft::control::mesh {

// Writes `text` to `path` through "<path>.tmp" and a rename: a crash leaves the old file or the
// new one, never half of one.
absl::Status WriteStateFile(const std::string& path, const std::string& text);

// The file's content; nullopt when it does not exist (a first start).
absl::StatusOr<std::optional<std::string>> ReadStateFile(const std::string& path);

}  // namespace weft::control::mesh
