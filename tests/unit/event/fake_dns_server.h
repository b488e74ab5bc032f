// A tiny authoritative DNS server for tests: UDP on 127.0.0.1:<ephemeral>, answering A and AAAA
// questions from a table the test controls (names absent from it get NXDOMAIN), on its own
// thread. Just enough of RFC 1035 for c-ares to talk to it. Header-only so the event and
// upstream test binaries can both use it.
//
// Thread-safety: the setters and counters may be called from the test thread while the server
// thread answers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft::testing {

class FakeDnsServer {
 public:
  FakeDnsServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeDnsServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Replaces the records of `name`. An empty list for a type means NOERROR with no answers.
  void Set(const std::string& name, std::vector<std::string> ipv4, std::vector<std::string> ipv6,
           uint32_t ttl) {
    std::lock_guard<std::mutex> lock(mutex_);
    records_[Lower(name)] = Records{std::move(ipv4), std::move(ipv6), ttl};
  }
  // The name answers NXDOMAIN from now on.
  void Remove(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    records_.erase(Lower(name));
  }
  // While silent, queries are read and dropped (to test timeouts).
  void SetSilent(bool silent) { silent_ = silent; }

  // Questions received for `name` (any type).
  int QueryCount(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = queries_.find(Lower(name));
    return it == queries_.end() ? 0 : it->second;
  }

 private:
  struct Records {
    std::vector<std::string> ipv4, ipv6;
    uint32_t ttl = 0;
  };
  static constexpr uint16_t kTypeA = 1, kTypeAaaa = 28;

  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  static void Put16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(v >> 8);
    out.push_back(v & 0xff);
  }
  static void Put32(std::vector<uint8_t>& out, uint32_t v) {
    Put16(out, v >> 16);
    Put16(out, v & 0xffff);
  }

  void Serve() {
    uint8_t buffer[1500];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof(peer);
      ssize_t n =
          recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
      if (n < 12) continue;
      std::vector<uint8_t> reply;
      if (!Answer(buffer, static_cast<size_t>(n), reply) || silent_) continue;
      sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_len);
    }
  }

  // Builds the reply to one query; false if the query is malformed.
  bool Answer(const uint8_t* q, size_t n, std::vector<uint8_t>& reply) {
    size_t pos = 12;
    std::string name;
    while (pos < n && q[pos] != 0) {
      size_t len = q[pos++];
      if (len > 63 || pos + len > n) return false;
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(q + pos), len);
      pos += len;
    }
    if (pos + 5 > n) return false;
    ++pos;  // the root label
    uint16_t qtype = static_cast<uint16_t>(q[pos] << 8 | q[pos + 1]);
    pos += 4;  // type and class
    name = Lower(name);

    std::vector<std::array<uint8_t, 16>> answers;
    size_t rdlength = 4;
    uint32_t ttl = 0;
    uint16_t rcode = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++queries_[name];
      auto it = records_.find(name);
      if (it == records_.end()) {
        rcode = 3;  // NXDOMAIN
      } else {
        ttl = it->second.ttl;
        const bool v6 = qtype == kTypeAaaa;
        rdlength = v6 ? 16 : 4;
        if (qtype == kTypeA || v6) {
          for (const std::string& ip : v6 ? it->second.ipv6 : it->second.ipv4) {
            std::array<uint8_t, 16> bytes{};
            inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), bytes.data());
            answers.push_back(bytes);
          }
        }
      }
    }
    reply.assign(q, q + 2);                                               // id
    Put16(reply, 0x8000 | 0x0400 | (q[2] & 0x01) << 8 | 0x0080 | rcode);  // QR AA RD RA
    Put16(reply, 1);
    Put16(reply, static_cast<uint16_t>(answers.size()));
    Put16(reply, 0);
    Put16(reply, 0);
    reply.insert(reply.end(), q + 12, q + pos);  // the question
    for (const auto& bytes : answers) {
      Put16(reply, 0xc00c);  // name: pointer to the question's
      Put16(reply, qtype);
      Put16(reply, 1);  // IN
      Put32(reply, ttl);
      Put16(reply, static_cast<uint16_t>(rdlength));
      reply.insert(reply.end(), bytes.begin(), bytes.begin() + rdlength);
    }
    return true;
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> silent_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::string, Records> records_;  // GUARDED_BY(mutex_)
  std::map<std::string, int> queries_;      // GUARDED_BY(mutex_)
};

}  // namespace weft::testing
