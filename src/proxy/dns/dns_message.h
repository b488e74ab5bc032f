// DNS wire format (RFC 1035 4.1), the server side: parses a query (header and its one question)
// and builds responses with A/AAAA answers or an error rcode. Written by hand: c-ares (the
// resolver the proxy already links) parses *responses* for a client, and no Debian library
// offers a small server-side query parser. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace weft::dns {

inline constexpr size_t kHeaderSize = 12;
// RFC 1035 4.2.1: without EDNS a UDP response is at most 512 bytes (the rest is truncated, TC).
inline constexpr size_t kMaxUdpResponse = 512;

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAAAA = 28;
inline constexpr uint16_t kClassIn = 1;

enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
};

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // as received (opcode and RD are echoed in the response)
  // The question name in lower case without the trailing dot ("" is the root). `matchable` is
  // false when a label holds a '.' or a byte outside printable ASCII: such a name is never in
  // the table, so it is only ever forwarded.
  std::string name;
  bool matchable = true;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  size_t question_end = 0;        // offset just past the question in the packet
  uint16_t answer_count = 0;      // ANCOUNT + NSCOUNT: a query should carry none
  uint16_t additional_count = 0;  // ARCOUNT (an EDNS OPT record, typically)
};

enum class ParseResult {
  kOk,
  kDrop,       // shorter than a header, or a response (QR set): nothing to answer
  kMalformed,  // header readable, the question is not: answer FORMERR
  kNotQuery,   // opcode other than QUERY: answer NOTIMP
};

ParseResult ParseQuery(std::span<const uint8_t> packet, Query& out);

struct Answer {
  uint16_t type = kTypeA;
  uint32_t ttl = 0;
  std::string rdata;  // 4 bytes (A) or 16 (AAAA), network order
};

// A response to `query` (parsed from `packet`): the question echoed as received, then as many
// of `answers` as fit in 512 bytes (TC set when some did not). `authoritative` sets AA.
std::string BuildResponse(std::span<const uint8_t> packet, const Query& query, Rcode rcode,
                          const std::vector<Answer>& answers, bool authoritative);
// FORMERR/NOTIMP/SERVFAIL without a question, for a packet whose question is unreadable: only
// the id and flags of `packet` (at least kHeaderSize bytes) are used.
std::string BuildHeaderOnlyResponse(std::span<const uint8_t> packet, Rcode rcode);

// Reads/writes the 16-bit id at the start of a message.
uint16_t MessageId(std::span<const uint8_t> packet);
void SetMessageId(std::string& packet, uint16_t id);

}  // namespace weft::dns
