#include "control/xds/resource_json.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/util/json_util.h>

namespace weft::control::xds {

absl::StatusOr<std::string> ResourceToJson(const std::string& serialized_any) {
  google::protobuf::Any any;
  if (!any.ParseFromString(serialized_any)) {
    return absl::InvalidArgumentError("not a serialized google.protobuf.Any");
  }
  // Converting the Any itself unpacks it through the generated descriptor pool (every Envoy type
  // weftd translates to is linked in), which keeps "@type" in front like Envoy's config_dump.
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(any, &out, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string("cannot print ") + any.type_url() + ": " +
                                      std::string(status.message()));
  }
  return out;
}

}  // namespace weft::control::xds
