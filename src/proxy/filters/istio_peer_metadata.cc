#include "proxy/filters/istio_peer_metadata.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"

namespace weft::filters::istio {
namespace {

// Protobuf wire types (protobuf.dev/programming-guides/encoding).
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
// google/protobuf/struct.proto: Struct.fields = 1 (a map: entries {key = 1, value = 2});
// Value.string_value = 3, Value.struct_value = 5.
constexpr uint32_t kStructFields = 1, kEntryKey = 1, kEntryValue = 2;
constexpr uint32_t kValueString = 3, kValueStruct = 5;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void PutLengthDelimited(std::string& out, uint32_t field, std::string_view bytes) {
  PutVarint(out, (field << 3) | kLengthDelimited);
  PutVarint(out, bytes.size());
  out.append(bytes);
}

// One Struct entry: key -> Value{string_value | struct_value}.
void PutEntry(std::string& out, std::string_view key, uint32_t value_field,
              std::string_view value_bytes) {
  std::string value;
  PutLengthDelimited(value, value_field, value_bytes);
  std::string entry;
  PutLengthDelimited(entry, kEntryKey, key);
  PutLengthDelimited(entry, kEntryValue, value);
  PutLengthDelimited(out, kStructFields, entry);
}

void PutString(std::string& out, std::string_view key, const std::string& value) {
  if (!value.empty()) PutEntry(out, key, kValueString, value);
}

// A cursor over wire bytes. Every read fails (returns false) past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty(); }
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return false;
      const uint8_t b = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Bytes(std::string_view& out) {
    uint64_t n = 0;
    if (!Varint(n) || n > rest_.size()) return false;
    out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool Skip(uint32_t wire_type) {
    uint64_t v = 0;
    std::string_view b;
    switch (wire_type) {
      case kVarint:
        return Varint(v);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return Bytes(b);
      case kFixed32:
        return Advance(4);
      default:
        return false;  // groups are not in proto3 messages
    }
  }
  // The next field's number and wire type.
  bool Tag(uint32_t& field, uint32_t& wire_type) {
    uint64_t tag = 0;
    if (!Varint(tag)) return false;
    field = static_cast<uint32_t>(tag >> 3);
    wire_type = static_cast<uint32_t>(tag & 7);
    return field != 0;
  }

 private:
  bool Advance(size_t n) {
    if (rest_.size() < n) return false;
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view rest_;
};

struct StructValue {
  std::optional<std::string> string_value;
  std::optional<std::string_view> struct_bytes;
};

// Calls `on_entry(key, value)` for every entry of the Struct in `bytes`.
template <typename OnEntry>
bool ForEachEntry(std::string_view bytes, OnEntry on_entry) {
  Reader struct_reader(bytes);
  while (!struct_reader.done()) {
    uint32_t field = 0, wire = 0;
    if (!struct_reader.Tag(field, wire)) return false;
    if (field != kStructFields || wire != kLengthDelimited) {
      if (!struct_reader.Skip(wire)) return false;
      continue;
    }
    std::string_view entry;
    if (!struct_reader.Bytes(entry)) return false;
    Reader entry_reader(entry);
    std::string_view key;
    StructValue value;
    while (!entry_reader.done()) {
      if (!entry_reader.Tag(field, wire)) return false;
      std::string_view b;
      if (field == kEntryKey && wire == kLengthDelimited) {
        if (!entry_reader.Bytes(key)) return false;
      } else if (field == kEntryValue && wire == kLengthDelimited) {
        if (!entry_reader.Bytes(b)) return false;
        Reader value_reader(b);
        while (!value_reader.done()) {
          if (!value_reader.Tag(field, wire)) return false;
          std::string_view v;
          if ((field == kValueString || field == kValueStruct) && wire == kLengthDelimited) {
            if (!value_reader.Bytes(v)) return false;
            if (field == kValueString) value.string_value = std::string(v);
            if (field == kValueStruct) value.struct_bytes = v;
          } else if (!value_reader.Skip(wire)) {
            return false;
          }
        }
      } else if (!entry_reader.Skip(wire)) {
        return false;
      }
    }
    if (!on_entry(key, value)) return false;
  }
  return true;
}

}  // namespace

std::string WorkloadMetadata::Label(std::string_view key) const {
  auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string() : it->second;
}

std::string WorkloadMetadata::CanonicalService() const {
  for (const char* key : {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}) {
    if (std::string v = Label(key); !v.empty()) return v;
  }
  return workload_name;
}

std::string WorkloadMetadata::CanonicalRevision() const {
  for (const char* key :
       {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"}) {
    if (std::string v = Label(key); !v.empty()) return v;
  }
  return "latest";
}

WorkloadMetadata WorkloadFromNode(const std::string& node_id,
                                  const std::map<std::string, std::string>& node_metadata) {
  WorkloadMetadata w;
  w.node_id = node_id;
  auto get = [&](const char* key) {
    auto it = node_metadata.find(key);
    return it == node_metadata.end() ? std::string() : it->second;
  };
  w.name = get("NAME");
  w.namespace_ = get("NAMESPACE");
  w.workload_name = get("WORKLOAD_NAME");
  w.service_account = get("SERVICE_ACCOUNT");
  w.cluster_id = get("CLUSTER_ID");
  w.owner = get("OWNER");
  w.mesh_id = get("MESH_ID");
  // LABELS is a Struct of strings; the loader keeps nested values as their JSON text.
  const std::string labels = get("LABELS");
  if (!labels.empty()) {
    const nlohmann::json j = nlohmann::json::parse(labels, nullptr, false);
    if (j.is_object()) {
      for (const auto& [key, value] : j.items()) {
        if (value.is_string()) w.labels[key] = value.get<std::string>();
      }
    }
  }
  return w;
}

std::string EncodeWorkloadStruct(const WorkloadMetadata& w) {
  std::string out;
  PutString(out, "NAME", w.name);
  PutString(out, "NAMESPACE", w.namespace_);
  PutString(out, "WORKLOAD_NAME", w.workload_name);
  PutString(out, "SERVICE_ACCOUNT", w.service_account);
  PutString(out, "CLUSTER_ID", w.cluster_id);
  PutString(out, "OWNER", w.owner);
  PutString(out, "MESH_ID", w.mesh_id);
  if (!w.labels.empty()) {
    std::string labels;
    for (const auto& [key, value] : w.labels) PutString(labels, key, value);
    PutEntry(out, "LABELS", kValueStruct, labels);
  }
  return out;
}

std::optional<WorkloadMetadata> DecodeWorkloadStruct(std::string_view bytes) {
  WorkloadMetadata w;
  const bool ok = ForEachEntry(bytes, [&](std::string_view key, const StructValue& value) {
    if (key == "LABELS" && value.struct_bytes) {
      return ForEachEntry(*value.struct_bytes, [&](std::string_view k, const StructValue& v) {
        if (v.string_value) w.labels[std::string(k)] = *v.string_value;
        return true;
      });
    }
    if (!value.string_value) return true;
    std::string* field = key == "NAME"              ? &w.name
                         : key == "NAMESPACE"       ? &w.namespace_
                         : key == "WORKLOAD_NAME"   ? &w.workload_name
                         : key == "SERVICE_ACCOUNT" ? &w.service_account
                         : key == "CLUSTER_ID"      ? &w.cluster_id
                         : key == "OWNER"           ? &w.owner
                         : key == "MESH_ID"         ? &w.mesh_id
                                                    : nullptr;
    if (field != nullptr) *field = *value.string_value;
    return true;
  });
  if (!ok) return std::nullopt;
  return w;
}

std::string EncodePeerHeader(const WorkloadMetadata& workload) {
  return absl::Base64Escape(EncodeWorkloadStruct(workload));
}

namespace {

// google/protobuf/any.proto: type_url = 1, value = 2.
constexpr uint32_t kAnyTypeUrl = 1, kAnyValue = 2;
constexpr std::string_view kStructTypeUrl = "type.googleapis.com/google.protobuf.Struct";

void PutBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

uint32_t BigEndian32(std::string_view b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

}  // namespace

std::string EncodeMxFrame(const WorkloadMetadata& workload) {
  // Istio serializes the Struct deterministically (map keys sorted): "...-metadata" comes
  // before "...-metadata-id".
  std::string data;
  PutEntry(data, kPeerMetadataHeader, kValueStruct, EncodeWorkloadStruct(workload));
  if (!workload.node_id.empty()) {
    PutEntry(data, kPeerMetadataIdHeader, kValueString, workload.node_id);
  }
  std::string any;
  PutLengthDelimited(any, kAnyTypeUrl, kStructTypeUrl);
  PutLengthDelimited(any, kAnyValue, data);
  std::string frame;
  PutBigEndian32(frame, kMxMagic);
  PutBigEndian32(frame, static_cast<uint32_t>(any.size()));
  frame += any;
  return frame;
}

MxRead ReadMxFrame(std::string_view bytes) {
  MxRead out;
  // Decide on the magic as soon as its bytes are there, so that a stream that is not a frame is
  // not held back.
  const std::string_view magic = "\x3d\x23\x04\x67";
  const size_t have = std::min(bytes.size(), magic.size());
  if (bytes.substr(0, have) != magic.substr(0, have)) {
    out.status = MxRead::Status::kNotAFrame;
    return out;
  }
  if (bytes.size() < kMxHeaderSize) return out;  // kNeedMore
  const uint32_t data_size = BigEndian32(bytes.substr(4, 4));
  if (data_size > kMxMaxDataSize) {
    out.status = MxRead::Status::kNotAFrame;
    return out;
  }
  if (bytes.size() - kMxHeaderSize < data_size) return out;  // kNeedMore
  out.status = MxRead::Status::kDone;
  out.size = kMxHeaderSize + data_size;

  // The Any, then the Struct in it.
  Reader any(bytes.substr(kMxHeaderSize, data_size));
  std::string_view type_url, value;
  bool has_value = false;
  while (!any.done()) {
    uint32_t field = 0, wire = 0;
    if (!any.Tag(field, wire)) return out;
    if (field == kAnyTypeUrl && wire == kLengthDelimited) {
      if (!any.Bytes(type_url)) return out;
    } else if (field == kAnyValue && wire == kLengthDelimited) {
      if (!any.Bytes(value)) return out;
      has_value = true;
    } else if (!any.Skip(wire)) {
      return out;
    }
  }
  if (type_url != kStructTypeUrl || !has_value) return out;
  std::optional<std::string_view> metadata;
  std::string node_id;
  const bool ok = ForEachEntry(value, [&](std::string_view key, const StructValue& v) {
    if (key == kPeerMetadataHeader && v.struct_bytes) metadata = v.struct_bytes;
    if (key == kPeerMetadataIdHeader && v.string_value) node_id = *v.string_value;
    return true;
  });
  if (!ok || !metadata) return out;
  out.peer = DecodeWorkloadStruct(*metadata);
  if (out.peer) {
    out.peer->node_id = std::move(node_id);
    out.peer_struct = *metadata;
  }
  return out;
}

std::optional<WorkloadMetadata> DecodePeerHeader(std::string_view value) {
  std::string bytes;
  if (!absl::Base64Unescape(absl::string_view(value.data(), value.size()), &bytes)) {
    return std::nullopt;
  }
  return DecodeWorkloadStruct(bytes);
}

}  // namespace weft::filters::istio
