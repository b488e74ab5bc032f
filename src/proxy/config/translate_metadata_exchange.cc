#include "proxy/config/translate_metadata_exchange.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "base/status.h"
#include "proxy/config/translate_common.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::config {
namespace {

using google::protobuf::internal::WireFormatLite;

// The bare message: MetadataExchange.protocol = 1 (string), enable_discovery = 2 (bool); the
// proto is not in Weft's tree, so its two fields are read off the wire.
absl::StatusOr<std::string> FromBareMessage(const std::string& bytes, std::string_view path) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::string protocol;
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire = WireFormatLite::GetTagWireType(tag);
    if (field == 1 && wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::ReadString(&in, &protocol)) {
        return ConfigError(path, "cannot decode the MetadataExchange message");
      }
    } else if (field == 2 && wire == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t ignored = 0;
      if (!in.ReadVarint64(&ignored)) {
        return ConfigError(path, "cannot decode the MetadataExchange message");
      }
    } else {
      return ConfigError(path, "field ", field,
                         " not supported (weft-proxy's istio.metadata_exchange takes protocol "
                         "and enable_discovery)");
    }
  }
  return protocol;
}

}  // namespace

absl::StatusOr<std::string> TranslateMetadataExchange(const google::protobuf::Any* typed_config,
                                                      std::string_view path) {
  if (typed_config == nullptr) {
    return ConfigError(FieldPath(path, "typed_config"), "is required for istio.metadata_exchange");
  }
  const std::string c_path = FieldPath(path, "typed_config");
  std::string protocol;
  if (TypedStructInnerType(*typed_config).empty()) {
    ASSIGN_OR_RETURN(protocol, FromBareMessage(typed_config->value(), c_path));
  } else {
    xds::type::v3::TypedStruct typed_struct;
    typed_struct.ParseFromString(typed_config->value());  // TypedStructInnerType decoded it
    const std::string v_path = FieldPath(c_path, "value");
    for (const auto& [field, value] : typed_struct.value().fields()) {
      const std::string f_path = FieldPath(v_path, field);
      if (field == "protocol") {
        if (!value.has_string_value()) return ConfigError(f_path, "must be a string");
        protocol = value.string_value();
      } else if (field == "enable_discovery") {
        if (!value.has_bool_value()) return ConfigError(f_path, "must be a bool");
      } else {
        return ConfigError(f_path,
                           "not supported (weft-proxy's istio.metadata_exchange takes protocol "
                           "and enable_discovery)");
      }
    }
  }
  if (protocol.empty()) {
    return ConfigError(FieldPath(c_path, "protocol"),
                       "is required (the ALPN the exchange runs on, Istio's istio-peer-exchange)");
  }
  return protocol;
}

}  // namespace weft::config
