#include "proxy/dns/dns_message.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "proxy/dns/dns_table.h"

namespace weft::dns {
namespace {

// A query as a stub resolver sends it: id, RD, one question, optionally an EDNS OPT record.
std::vector<uint8_t> MakeQuery(uint16_t id, const std::string& name, uint16_t qtype,
                               bool edns = false) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8),     static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
      static_cast<uint8_t>(edns ? 1 : 0)};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    if (dot > start) {
      q.push_back(static_cast<uint8_t>(dot - start));
      q.insert(q.end(), name.begin() + static_cast<long>(start),
               name.begin() + static_cast<long>(dot));
    }
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(static_cast<uint8_t>(qtype >> 8));
  q.push_back(static_cast<uint8_t>(qtype));
  q.push_back(0);
  q.push_back(1);
  if (edns) {
    // OPT: root name, type 41, UDP size 1232, no rcode/flags, no data.
    const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    q.insert(q.end(), opt, opt + sizeof(opt));
  }
  return q;
}

uint16_t At16(const std::string& s, size_t i) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[i]) << 8) | static_cast<uint8_t>(s[i + 1]));
}

TEST(DnsMessageTest, ParsesAQueryCaseInsensitively) {
  auto q = MakeQuery(0xbeef, "Reviews.Default.SVC.cluster.local", kTypeAAAA, /*edns=*/true);
  Query out;
  ASSERT_EQ(ParseQuery(q, out), ParseResult::kOk);
  EXPECT_EQ(out.id, 0xbeef);
  EXPECT_EQ(out.name, "reviews.default.svc.cluster.local");
  EXPECT_TRUE(out.matchable);
  EXPECT_EQ(out.qtype, kTypeAAAA);
  EXPECT_EQ(out.qclass, kClassIn);
  EXPECT_EQ(out.additional_count, 1);
  EXPECT_EQ(out.question_end, q.size() - 11);  // the OPT record follows the question
}

TEST(DnsMessageTest, ResponseEchoesTheQuestionAndCarriesAnswers) {
  auto q = MakeQuery(7, "ratings", kTypeA);
  Query query;
  ASSERT_EQ(ParseQuery(q, query), ParseResult::kOk);
  std::vector<Answer> answers = {{kTypeA, 30, std::string("\xf0\xf0\x00\x02", 4)}};
  std::string r = BuildResponse(q, query, Rcode::kNoError, answers, true);
  EXPECT_EQ(At16(r, 0), 7);
  const uint16_t flags = At16(r, 2);
  EXPECT_TRUE(flags & 0x8000);   // QR
  EXPECT_TRUE(flags & 0x0400);   // AA
  EXPECT_TRUE(flags & 0x0100);   // RD echoed
  EXPECT_EQ(flags & 0x000f, 0);  // NOERROR
  EXPECT_EQ(At16(r, 4), 1);      // QDCOUNT
  EXPECT_EQ(At16(r, 6), 1);      // ANCOUNT
  EXPECT_EQ(r.substr(12, q.size() - 12), std::string(q.begin() + 12, q.end()));
  const size_t a = q.size();
  EXPECT_EQ(At16(r, a), 0xc00c);  // name: pointer to the question
  EXPECT_EQ(At16(r, a + 2), kTypeA);
  EXPECT_EQ(At16(r, a + 6), 0);   // TTL high
  EXPECT_EQ(At16(r, a + 8), 30);  // TTL low
  EXPECT_EQ(At16(r, a + 10), 4);  // RDLENGTH
  EXPECT_EQ(r.substr(a + 12), std::string("\xf0\xf0\x00\x02", 4));
}

TEST(DnsMessageTest, TruncatesAt512Bytes) {
  auto q = MakeQuery(1, "many", kTypeAAAA);
  Query query;
  ASSERT_EQ(ParseQuery(q, query), ParseResult::kOk);
  std::vector<Answer> answers(40, Answer{kTypeAAAA, 1, std::string(16, '\x01')});
  std::string r = BuildResponse(q, query, Rcode::kNoError, answers, true);
  EXPECT_LE(r.size(), kMaxUdpResponse);
  EXPECT_TRUE(At16(r, 2) & 0x0200);  // TC
  EXPECT_EQ(At16(r, 6), (kMaxUdpResponse - q.size()) / 28);
}

TEST(DnsMessageTest, MalformedQueries) {
  Query out;
  std::vector<uint8_t> short_packet = {1, 2, 3};
  EXPECT_EQ(ParseQuery(short_packet, out), ParseResult::kDrop);
  auto response = MakeQuery(1, "a", kTypeA);
  response[2] |= 0x80;  // QR: a response, not a query
  EXPECT_EQ(ParseQuery(response, out), ParseResult::kDrop);
  auto notify = MakeQuery(1, "a", kTypeA);
  notify[2] |= 0x20;  // opcode 4 (NOTIFY)
  EXPECT_EQ(ParseQuery(notify, out), ParseResult::kNotQuery);
  auto two = MakeQuery(1, "a", kTypeA);
  two[5] = 2;  // QDCOUNT 2
  EXPECT_EQ(ParseQuery(two, out), ParseResult::kMalformed);
  auto cut = MakeQuery(1, "example.com", kTypeA);
  cut.resize(cut.size() - 3);  // type/class cut short
  EXPECT_EQ(ParseQuery(cut, out), ParseResult::kMalformed);
  auto label_past_end = MakeQuery(1, "example.com", kTypeA);
  label_past_end[12] = 60;
  EXPECT_EQ(ParseQuery(label_past_end, out), ParseResult::kMalformed);
  auto pointer = MakeQuery(1, "a", kTypeA);
  pointer[12] = 0xc0;  // a compression pointer where nothing can be pointed at
  EXPECT_EQ(ParseQuery(pointer, out), ParseResult::kMalformed);
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(63, 'a') + ".";  // > 255 bytes on the wire
  EXPECT_EQ(ParseQuery(MakeQuery(1, long_name, kTypeA), out), ParseResult::kMalformed);

  // FORMERR keeps the id; no question.
  std::string formerr = BuildHeaderOnlyResponse(two, Rcode::kFormErr);
  ASSERT_EQ(formerr.size(), kHeaderSize);
  EXPECT_EQ(At16(formerr, 0), 1);
  EXPECT_EQ(At16(formerr, 2) & 0x800f, 0x8001);
  EXPECT_EQ(At16(formerr, 4), 0);
}

TEST(DnsMessageTest, OddBytesInALabelAreNeverMatched) {
  std::vector<uint8_t> q = MakeQuery(1, "ab", kTypeA);
  q[13] = '.';  // the label "\.b"
  Query out;
  ASSERT_EQ(ParseQuery(q, out), ParseResult::kOk);
  EXPECT_FALSE(out.matchable);
}

// Random bytes, and random corruptions of a valid query: the parser never reads past the end
// (ASan would say) and whatever it accepts has a question inside the packet.
TEST(DnsMessageTest, RandomInputs) {
  std::mt19937 rng(12345);
  const auto valid = MakeQuery(9, "reviews.default.svc.cluster.local", kTypeA, true);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> p;
    if (i % 2 == 0) {
      p.resize(rng() % 80);
      for (auto& b : p) b = static_cast<uint8_t>(rng());
    } else {
      p = valid;
      for (int k = 0; k < 3; ++k) p[rng() % p.size()] = static_cast<uint8_t>(rng());
      p.resize(rng() % (p.size() + 1));
    }
    Query out;
    const ParseResult r = ParseQuery(p, out);
    if (r == ParseResult::kOk) {
      ASSERT_LE(out.question_end, p.size());
      ASSERT_GE(out.question_end, kHeaderSize + 5);
      std::string response = BuildResponse(p, out, Rcode::kNxDomain, {}, true);
      ASSERT_EQ(response.size(), out.question_end);
    } else if (r != ParseResult::kDrop) {
      ASSERT_EQ(BuildHeaderOnlyResponse(p, Rcode::kFormErr).size(), kHeaderSize);
    }
  }
}

TEST(DnsTableTest, LookupsAndKnownSuffixes) {
  listener::DnsFilterConfig config;
  config.virtual_domains.push_back({"reviews.default.svc.cluster.local",
                                    {"240.240.0.1", "fd00::1", "240.240.0.9"},
                                    std::chrono::seconds(30)});
  router::StringMatcher suffix;
  suffix.kind = router::StringMatcher::Kind::kSuffix;
  suffix.value = "cluster.local";
  suffix.ignore_case = true;
  config.known_suffixes.push_back(suffix);
  DnsTable table(config);
  const DnsTable::Entry* e = table.Find("reviews.default.svc.cluster.local");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->v4.size(), 2u);
  EXPECT_EQ(e->v6.size(), 1u);
  EXPECT_EQ(e->v4[0], std::string("\xf0\xf0\x00\x01", 4));
  EXPECT_EQ(e->ttl_seconds, 30u);
  EXPECT_EQ(table.Find("ratings.default.svc.cluster.local"), nullptr);
  EXPECT_TRUE(table.UnderKnownSuffix("ratings.default.svc.cluster.local"));
  EXPECT_FALSE(table.UnderKnownSuffix("example.com"));
}

}  // namespace
}  // namespace weft::dns
