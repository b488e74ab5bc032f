#include "proxy/dns/dns_message.h"

namespace weft::dns {
namespace {

uint16_t Read16(std::span<const uint8_t> p, size_t at) {
  return static_cast<uint16_t>((p[at] << 8) | p[at + 1]);
}

void Append16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void Append32(std::string& out, uint32_t v) {
  Append16(out, static_cast<uint16_t>(v >> 16));
  Append16(out, static_cast<uint16_t>(v & 0xffff));
}

// RFC 1035 4.1.1 header flag bits.
constexpr uint16_t kQr = 0x8000;
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr uint16_t kAa = 0x0400;
constexpr uint16_t kTc = 0x0200;
constexpr uint16_t kRd = 0x0100;
constexpr uint16_t kRa = 0x0080;

// The response's flags: QR, the query's opcode and RD, RA (the filter forwards recursively).
uint16_t ResponseFlags(uint16_t query_flags, Rcode rcode, bool authoritative, bool truncated) {
  uint16_t flags = kQr | kRa | (query_flags & (kOpcodeMask | kRd)) | static_cast<uint16_t>(rcode);
  if (authoritative) flags |= kAa;
  if (truncated) flags |= kTc;
  return flags;
}

}  // namespace

uint16_t MessageId(std::span<const uint8_t> packet) { return Read16(packet, 0); }

void SetMessageId(std::string& packet, uint16_t id) {
  packet[0] = static_cast<char>(id >> 8);
  packet[1] = static_cast<char>(id & 0xff);
}

ParseResult ParseQuery(std::span<const uint8_t> p, Query& out) {
  if (p.size() < kHeaderSize) return ParseResult::kDrop;
  out = Query{};
  out.id = Read16(p, 0);
  out.flags = Read16(p, 2);
  if (out.flags & kQr) return ParseResult::kDrop;  // a response: answering it could loop
  if ((out.flags & kOpcodeMask) != 0) return ParseResult::kNotQuery;
  const uint16_t qdcount = Read16(p, 4);
  out.answer_count = static_cast<uint16_t>(Read16(p, 6) + Read16(p, 8));
  out.additional_count = Read16(p, 10);
  if (qdcount != 1) return ParseResult::kMalformed;
  // QNAME: labels up to 63 bytes, 255 bytes in all (RFC 1035 2.3.4). A query's only name cannot
  // be compressed (there is nothing before it to point at), so a pointer is malformed.
  size_t at = kHeaderSize;
  size_t wire_length = 0;
  while (true) {
    if (at >= p.size()) return ParseResult::kMalformed;
    const uint8_t len = p[at++];
    wire_length += 1 + len;
    if (wire_length > 255) return ParseResult::kMalformed;
    if (len == 0) break;
    if (len > 63) return ParseResult::kMalformed;  // 0b11 pointers and the reserved 0b01/0b10
    if (at + len > p.size()) return ParseResult::kMalformed;
    if (!out.name.empty()) out.name.push_back('.');
    for (size_t i = 0; i < len; ++i) {
      char c = static_cast<char>(p[at + i]);
      if (c == '.' || c <= ' ' || c > '~') out.matchable = false;
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out.name.push_back(c);
    }
    at += len;
  }
  if (at + 4 > p.size()) return ParseResult::kMalformed;
  out.qtype = Read16(p, at);
  out.qclass = Read16(p, at + 2);
  out.question_end = at + 4;
  return ParseResult::kOk;
}

std::string BuildResponse(std::span<const uint8_t> packet, const Query& query, Rcode rcode,
                          const std::vector<Answer>& answers, bool authoritative) {
  std::string out;
  out.reserve(kMaxUdpResponse);
  Append16(out, query.id);
  Append16(out, 0);  // flags, set below
  Append16(out, 1);  // QDCOUNT
  Append16(out, 0);  // ANCOUNT, set below
  Append16(out, 0);  // NSCOUNT
  Append16(out, 0);  // ARCOUNT
  out.append(reinterpret_cast<const char*>(packet.data()) + kHeaderSize,
             query.question_end - kHeaderSize);
  uint16_t count = 0;
  bool truncated = false;
  for (const Answer& a : answers) {
    // NAME (a pointer to the question's name at offset 12), TYPE, CLASS, TTL, RDLENGTH, RDATA.
    const size_t size = 2 + 2 + 2 + 4 + 2 + a.rdata.size();
    if (out.size() + size > kMaxUdpResponse) {
      truncated = true;
      break;
    }
    Append16(out, 0xc000 | kHeaderSize);
    Append16(out, a.type);
    Append16(out, kClassIn);
    Append32(out, a.ttl);
    Append16(out, static_cast<uint16_t>(a.rdata.size()));
    out += a.rdata;
    ++count;
  }
  const uint16_t flags = ResponseFlags(query.flags, rcode, authoritative, truncated);
  out[2] = static_cast<char>(flags >> 8);
  out[3] = static_cast<char>(flags & 0xff);
  out[6] = static_cast<char>(count >> 8);
  out[7] = static_cast<char>(count & 0xff);
  return out;
}

std::string BuildHeaderOnlyResponse(std::span<const uint8_t> packet, Rcode rcode) {
  std::string out;
  Append16(out, Read16(packet, 0));
  Append16(out, ResponseFlags(Read16(packet, 2), rcode, false, false));
  out.append(8, '\0');
  return out;
}

}  // namespace weft::dns
