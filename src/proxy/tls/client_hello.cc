#include "proxy/tls/client_hello.h"

#include <cstdint>
#include <optional>

namespace weft::tls {

namespace {

constexpr uint8_t kContentTypeHandshake = 22;   // RFC 8446 §5.1 ContentType.handshake
constexpr uint8_t kHandshakeClientHello = 1;    // RFC 8446 §4 HandshakeType.client_hello
constexpr uint16_t kExtensionServerName = 0;    // RFC 6066 §3
constexpr uint16_t kExtensionAlpn = 16;         // RFC 7301 §3.1
constexpr uint8_t kServerNameTypeHostName = 0;  // RFC 6066 §3 NameType.host_name
constexpr size_t kRecordHeader = 5;
// RFC 8446 §5.1: a record's plaintext never exceeds 2^14 bytes.
constexpr size_t kMaxRecordLength = 1 << 14;

// A bounds-checked reader: every read fails (and stays failed) past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::optional<uint32_t> Uint(size_t bytes) {
    if (data_.size() < bytes) return Fail<uint32_t>();
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(data_[i]);
    data_.remove_prefix(bytes);
    return v;
  }
  std::optional<std::string_view> Bytes(size_t n) {
    if (data_.size() < n) return Fail<std::string_view>();
    std::string_view out = data_.substr(0, n);
    data_.remove_prefix(n);
    return out;
  }
  // A vector with a `len_bytes`-byte length prefix (TLS's opaque<..> / Type<..>).
  std::optional<std::string_view> Vector(size_t len_bytes) {
    auto len = Uint(len_bytes);
    if (!len) return std::nullopt;
    return Bytes(*len);
  }
  bool empty() const { return data_.empty(); }

 private:
  template <typename T>
  std::optional<T> Fail() {
    data_ = {};
    return std::nullopt;
  }
  std::string_view data_;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool ParseServerName(std::string_view ext, ClientHelloInfo& info) {
  Reader r(ext);
  auto list = r.Vector(2);
  if (!list || !r.empty()) return false;
  Reader names(*list);
  while (!names.empty()) {
    auto type = names.Uint(1);
    auto name = names.Vector(2);
    if (!type || !name) return false;
    // RFC 6066: at most one name per type; the first host_name is the one servers use.
    if (*type == kServerNameTypeHostName && info.sni.empty()) info.sni = Lower(*name);
  }
  return true;
}

bool ParseAlpn(std::string_view ext, ClientHelloInfo& info) {
  Reader r(ext);
  auto list = r.Vector(2);
  if (!list || !r.empty()) return false;
  Reader protocols(*list);
  while (!protocols.empty()) {
    auto p = protocols.Vector(1);
    if (!p || p->empty()) return false;  // RFC 7301: ProtocolName<1..2^8-1>
    info.alpn.emplace_back(*p);
  }
  return true;
}

// The ClientHello body (after the 4-byte handshake header), RFC 8446 §4.1.2 (the TLS 1.2 form,
// RFC 5246 §7.4.1.2, is the same up to the extensions, which may be absent there).
bool ParseBody(std::string_view body, ClientHelloInfo& info) {
  Reader r(body);
  if (!r.Uint(2) || !r.Bytes(32)) return false;  // legacy_version, random
  auto session_id = r.Vector(1);
  auto cipher_suites = r.Vector(2);
  auto compression = r.Vector(1);
  if (!session_id || session_id->size() > 32 || !cipher_suites || cipher_suites->empty() ||
      cipher_suites->size() % 2 != 0 || !compression || compression->empty()) {
    return false;
  }
  if (r.empty()) return true;  // no extensions (old TLS 1.0-1.2 clients)
  auto extensions = r.Vector(2);
  if (!extensions || !r.empty()) return false;
  Reader ext(*extensions);
  while (!ext.empty()) {
    auto type = ext.Uint(2);
    auto data = ext.Vector(2);
    if (!type || !data) return false;
    if (*type == kExtensionServerName && !ParseServerName(*data, info)) return false;
    if (*type == kExtensionAlpn && !ParseAlpn(*data, info)) return false;
  }
  return true;
}

}  // namespace

ClientHelloResult ParseClientHello(std::string_view bytes, ClientHelloInfo& info) {
  info = {};
  // The handshake message may be fragmented over several records: gather their fragments until
  // the 4-byte handshake header and the body it announces are all there.
  std::string message;
  size_t wanted = 0;  // 4 + body length once the header is known
  size_t offset = 0;
  for (;;) {
    std::string_view rest = bytes.substr(offset);
    // Decide "not TLS" as early as the bytes allow, so plaintext never waits for the timeout.
    if (!rest.empty() && static_cast<uint8_t>(rest[0]) != kContentTypeHandshake) {
      return ClientHelloResult::kNotTls;  // also SSLv2's 0x80 / 0x00 length byte
    }
    // Record versions 0x0300..0x0304 (RFC 8446 §5.1: legacy_record_version, often 0x0301).
    if (rest.size() >= 2 && static_cast<uint8_t>(rest[1]) != 3) return ClientHelloResult::kNotTls;
    if (rest.size() >= 3 && static_cast<uint8_t>(rest[2]) > 4) return ClientHelloResult::kNotTls;
    if (rest.size() < kRecordHeader) return ClientHelloResult::kNeedMoreData;
    const size_t record_length =
        (static_cast<size_t>(static_cast<uint8_t>(rest[3])) << 8) | static_cast<uint8_t>(rest[4]);
    if (record_length == 0 || record_length > kMaxRecordLength) return ClientHelloResult::kNotTls;
    if (rest.size() < kRecordHeader + record_length) {
      // Still useful to refuse a too-large hello before the whole record arrives.
      if (message.empty() && rest.size() >= kRecordHeader + 4) {
        std::string_view h = rest.substr(kRecordHeader);
        if (static_cast<uint8_t>(h[0]) != kHandshakeClientHello) return ClientHelloResult::kNotTls;
        size_t len = (static_cast<size_t>(static_cast<uint8_t>(h[1])) << 16) |
                     (static_cast<size_t>(static_cast<uint8_t>(h[2])) << 8) |
                     static_cast<uint8_t>(h[3]);
        if (len > kMaxClientHelloSize) return ClientHelloResult::kTooLarge;
      }
      return ClientHelloResult::kNeedMoreData;
    }
    message.append(rest.substr(kRecordHeader, record_length));
    offset += kRecordHeader + record_length;
    if (wanted == 0 && message.size() >= 4) {
      if (static_cast<uint8_t>(message[0]) != kHandshakeClientHello) {
        return ClientHelloResult::kNotTls;
      }
      size_t len = (static_cast<size_t>(static_cast<uint8_t>(message[1])) << 16) |
                   (static_cast<size_t>(static_cast<uint8_t>(message[2])) << 8) |
                   static_cast<uint8_t>(message[3]);
      if (len > kMaxClientHelloSize) return ClientHelloResult::kTooLarge;
      wanted = 4 + len;
    }
    if (wanted != 0 && message.size() >= wanted) break;
  }
  if (!ParseBody(std::string_view(message).substr(4, wanted - 4), info)) {
    info = {};
    return ClientHelloResult::kNotTls;
  }
  return ClientHelloResult::kTls;
}

}  // namespace weft::tls
