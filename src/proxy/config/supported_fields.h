// What of Envoy's v3 API Weft supports, as data: for each message type, the fields a config may
// set. One generic reflection walk checks a parsed message against the table and refuses the
// first set field outside it with its full path ("static_resources.listeners[0].name"), so nothing
// a user configures is silently ignored. Any fields are unpacked and walked when their type is a
// known extension (known_extensions.h) and refused otherwise.
//
// To support a new field: add it to the table in supported_fields.cc AND translate it.
// The table is immutable; the functions are thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/status.h"

namespace google::protobuf {
class Message;
}

namespace weft::config {

struct SupportedFields {
  std::string_view message;  // full proto name
  std::string_view fields;   // space-separated field names
};

std::span<const SupportedFields> SupportedFieldsTable();

// OK, or InvalidArgument "<path>.<field>: not supported" for the first unsupported set field
// (depth first, in field-number order), or "<path>: unsupported extension '<type>'" for an Any
// whose type Weft does not implement. `path` prefixes every reported path; may be empty.
absl::Status CheckSupportedFields(const google::protobuf::Message& message, std::string_view path);

}  // namespace weft::config
