"""envoy.filters.udp.dns_filter in weft-proxy: a UDP listener answers A/AAAA from its inline
table, NXDOMAIN under its known suffixes, and forwards everything else to a nameserver (a fake
one this test runs), relaying the answer or SERVFAIL after resolver_timeout. Queries are built
and read with python sockets (RFC 1035 wire format), so nothing but python3 is needed."""
import ipaddress
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import PROXY, Proxy
import xds_test

DNS_FILTER = "type.googleapis.com/envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig"
TYPE_A, TYPE_AAAA, TYPE_TXT = 1, 28, 16
NOERROR, FORMERR, SERVFAIL, NXDOMAIN = 0, 1, 2, 3


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def make_query(name, qtype, qid=None):
    qid = random.randrange(65536) if qid is None else qid
    return qid, struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + \
        struct.pack("!HH", qtype, 1)


def skip_name(msg, at):
    while True:
        length = msg[at]
        if length & 0xc0 == 0xc0:
            return at + 2
        at += 1 + length
        if length == 0:
            return at


def parse_response(msg):
    """(id, flags, rcode, [(type, ttl, address)])"""
    qid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    at = 12
    for _ in range(qd):
        at = skip_name(msg, at) + 4
    answers = []
    for _ in range(an):
        at = skip_name(msg, at)
        rtype, _, ttl, rdlen = struct.unpack("!HHIH", msg[at:at + 10])
        rdata = msg[at + 10:at + 10 + rdlen]
        at += 10 + rdlen
        addr = str(ipaddress.ip_address(rdata)) if rdlen in (4, 16) else rdata
        answers.append((rtype, ttl, addr))
    return qid, flags, flags & 0xf, answers


def ask(port, name, qtype, timeout=5, raw=None):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        qid, query = make_query(name, qtype) if raw is None else (struct.unpack("!H", raw[:2])[0],
                                                                  raw)
        s.sendto(query, ("127.0.0.1", port))
        msg, _ = s.recvfrom(65535)
        got = parse_response(msg)
        assert got[0] == qid, (got[0], qid)
        return got


class FakeNameserver:
    """Answers A queries with 192.0.2.<n> (n = how many it answered), ignores names starting
    with "slow." (to time the proxy out), NXDOMAIN for the rest. Records what it saw."""

    def __init__(self, host="127.0.0.1", port=0, log_path=None):
        self.log_path = log_path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                msg, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            qid = struct.unpack("!H", msg[:2])[0]
            end = skip_name(msg, 12)
            labels, at = [], 12
            while msg[at]:
                labels.append(msg[at + 1:at + 1 + msg[at]].decode())
                at += 1 + msg[at]
            name = ".".join(labels)
            qtype = struct.unpack("!H", msg[end:end + 2])[0]
            self.seen.append((name, qtype))
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(f"{name} {qtype}\n")
            if name.startswith("slow."):
                continue
            question = msg[12:end + 4]
            if qtype == TYPE_A:
                answer = struct.pack("!HHHIH", 0xc00c, TYPE_A, 1, 60, 4) + \
                    bytes([192, 0, 2, len(self.seen) % 256])
                reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer
            else:
                reply = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
            self.sock.sendto(reply, peer)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def dns_listener_yaml(port, extra_client=""):
    return f"""
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}}}
static_resources:
  listeners:
  - name: dns
    address: {{socket_address: {{protocol: UDP, address: 127.0.0.1, port_value: {port}}}}}
    udp_listener_config: {{}}
    listener_filters:
    - name: envoy.filters.udp.dns_filter
      typed_config:
        "@type": {DNS_FILTER}
        stat_prefix: dns
        server_config:
          inline_dns_table:
            virtual_domains:
            - name: reviews.default.svc.cluster.local
              endpoint: {{address_list: {{address: [240.240.0.1]}}}}
              answer_ttl: 30s
            - name: reviews
              endpoint: {{address_list: {{address: [240.240.0.1]}}}}
              answer_ttl: 30s
            - name: dual.example.com
              endpoint: {{address_list: {{address: [240.240.0.7, "fd00::7"]}}}}
            known_suffixes: [{{suffix: cluster.local}}]
        client_config: {{resolver_timeout: 1s {extra_client}}}
"""


class DnsFilterTest(unittest.TestCase):
    """Static bootstrap; the fake nameserver is named by a WEFT_RESOLV_CONF file, the way the
    proxy reads a pod's /etc/resolv.conf. resolv.conf has no port, so the fake needs port 53 on
    its own loopback address: root only. DnsFilterUpstreamResolversTest covers the rest."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("a fake nameserver on port 53 needs root")
        self.dir = tempfile.mkdtemp(prefix="weft-dns-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        ip = "127.%d.%d.53" % (os.getpid() % 200 + 20, random.randrange(1, 250))
        self.nameserver = FakeNameserver(ip, 53)
        self.addCleanup(self.nameserver.stop)
        resolv = os.path.join(self.dir, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("search default.svc.cluster.local svc.cluster.local cluster.local\n"
                    f"nameserver {ip}\noptions ndots:5\n")
        self.port = free_udp_port()
        os.environ["WEFT_RESOLV_CONF"] = resolv
        try:
            self.proxy = Proxy(dns_listener_yaml(self.port))
        finally:
            del os.environ["WEFT_RESOLV_CONF"]
        self.addCleanup(self.proxy.stop)

    def stat(self, name):
        return xds_test.stat(self.proxy, "dns_filter.dns." + name)

    def test_table_names_suffixes_forwarding_and_timeouts(self):
        # A from the table, case-insensitively, with the table's TTL; AA set.
        _, flags, rcode, answers = ask(self.port, "REVIEWS.default.svc.cluster.local", TYPE_A)
        self.assertEqual(rcode, NOERROR)
        self.assertTrue(flags & 0x0400)
        self.assertEqual(answers, [(TYPE_A, 30, "240.240.0.1")])
        self.assertEqual(ask(self.port, "reviews", TYPE_A)[3], [(TYPE_A, 30, "240.240.0.1")])
        # AAAA: the v6 address; for a v4-only name NOERROR with no answers.
        self.assertEqual(ask(self.port, "dual.example.com", TYPE_AAAA)[3],
                         [(TYPE_AAAA, 300, "fd00::7")])
        rcode, answers = ask(self.port, "reviews", TYPE_AAAA)[2:]
        self.assertEqual((rcode, answers), (NOERROR, []))
        # Under cluster.local but not in the table (the ndots:5 search list's tries): NXDOMAIN,
        # and the nameserver never hears of it.
        self.assertEqual(ask(self.port, "reviews.default.svc.cluster.local.default.svc.cluster"
                                        ".local", TYPE_A)[2], NXDOMAIN)
        # Anything else goes to the nameserver, its answer comes back under the client's id.
        rcode, answers = ask(self.port, "www.example.org", TYPE_A)[2:]
        self.assertEqual(rcode, NOERROR)
        self.assertEqual(len(answers), 1)
        self.assertTrue(answers[0][2].startswith("192.0.2."))
        self.assertEqual(ask(self.port, "nope.example.org", TYPE_TXT)[2], NXDOMAIN)
        self.assertEqual(self.nameserver.seen, [("www.example.org", TYPE_A),
                                                ("nope.example.org", TYPE_TXT)])
        # The nameserver does not answer: SERVFAIL after resolver_timeout (1 s here).
        start = time.time()
        self.assertEqual(ask(self.port, "slow.example.org", TYPE_A)[2], SERVFAIL)
        self.assertGreaterEqual(time.time() - start, 0.9)
        # Malformed (QDCOUNT 2 but one question): FORMERR with the client's id.
        _, query = make_query("x.example.org", TYPE_A, qid=4242)
        broken = query[:4] + b"\x00\x02" + query[6:]
        qid, _, rcode, _ = ask(self.port, None, None, raw=broken)
        self.assertEqual((qid, rcode), (4242, FORMERR))

        self.assertEqual(self.stat("downstream_rx_queries"), 9)
        self.assertEqual(self.stat("known_domain_queries"), 5)
        self.assertEqual(self.stat("local_a_record_answers"), 2)
        self.assertEqual(self.stat("local_aaaa_record_answers"), 1)
        self.assertEqual(self.stat("external_a_record_queries"), 2)
        self.assertEqual(self.stat("external_unsupported_queries"), 1)
        self.assertEqual(self.stat("externally_resolved_queries"), 2)
        self.assertEqual(self.stat("downstream_rx_invalid_queries"), 1)
        # NODATA, NXDOMAIN, SERVFAIL, FORMERR (the relayed NXDOMAIN is the nameserver's answer).
        self.assertEqual(self.stat("unanswered_queries"), 4)
        self.assertEqual(self.stat("downstream_tx_responses"), 9)


class DnsFilterUpstreamResolversTest(unittest.TestCase):
    """client_config.upstream_resolvers instead of resolv.conf (any user; ephemeral ports)."""

    def setUp(self):
        self.nameserver = FakeNameserver()
        self.addCleanup(self.nameserver.stop)
        self.port = free_udp_port()
        extra = (", upstream_resolvers: [{socket_address: {address: 127.0.0.1, port_value: %d}}]"
                 % self.nameserver.port)
        # resolv.conf is not used: point it at a file with no nameserver to be sure.
        self.dir = tempfile.mkdtemp(prefix="weft-dns-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        empty = os.path.join(self.dir, "resolv.conf")
        open(empty, "w").close()
        os.environ["WEFT_RESOLV_CONF"] = empty
        try:
            self.proxy = Proxy(dns_listener_yaml(self.port, extra))
        finally:
            del os.environ["WEFT_RESOLV_CONF"]
        self.addCleanup(self.proxy.stop)

    def test_forwards_to_the_configured_resolver(self):
        self.assertEqual(ask(self.port, "reviews", TYPE_A)[3], [(TYPE_A, 30, "240.240.0.1")])
        rcode, answers = ask(self.port, "api.example.net", TYPE_A)[2:]
        self.assertEqual(rcode, NOERROR)
        self.assertEqual(answers[0][0], TYPE_A)
        self.assertEqual(self.nameserver.seen, [("api.example.net", TYPE_A)])
        # Two clients asking at once with the same id each get their own answer.
        socks = []
        for name in ("one.example.net", "two.example.net"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.sendto(make_query(name, TYPE_A, qid=777)[1], ("127.0.0.1", self.port))
            socks.append(s)
        for s in socks:
            msg = s.recv(65535)
            self.assertEqual(parse_response(msg)[0], 777)
            self.assertEqual(parse_response(msg)[2], NOERROR)
            s.close()


class DnsFilterLdsTest(unittest.TestCase):
    """The DNS listener over LDS (as weftd sends it); an update swaps the table in place."""

    def setUp(self):
        self.fixture = xds_test.Fixture()
        self.addCleanup(shutil.rmtree, self.fixture.dir, True)
        self.addCleanup(self.fixture.stop)
        self.port = free_udp_port()

    def resource(self, address):
        return {"@type": xds_test.LISTENER, "name": "dns",
                "address": {"socket_address": {"protocol": "UDP", "address": "127.0.0.1",
                                               "port_value": self.port}},
                "udp_listener_config": {},
                "listener_filters": [{"name": "envoy.filters.udp.dns_filter", "typed_config": {
                    "@type": DNS_FILTER, "stat_prefix": "dns",
                    "server_config": {"inline_dns_table": {
                        "virtual_domains": [{"name": "reviews.default.svc.cluster.local",
                                             "endpoint": {"address_list": {"address": [address]}},
                                             "answer_ttl": "30s"}],
                        "known_suffixes": [{"suffix": "cluster.local"}]}}}}]}

    def answer(self):
        try:
            got = ask(self.port, "reviews.default.svc.cluster.local", TYPE_A, timeout=0.5)
        except OSError:
            return None
        return got[3][0][2] if got[3] else None

    def test_lds_adds_then_updates_the_table_without_rebinding(self):
        self.fixture.put("listener-dns", self.resource("240.240.0.1"))
        self.proxy = Proxy(xds_test.bootstrap(self.fixture.port))
        self.addCleanup(self.proxy.stop)
        xds_test.wait_for(lambda: self.answer() == "240.240.0.1", what="the LDS DNS listener")
        # A client socket kept across the update: the listener's socket stays the same one.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            self.fixture.put("listener-dns", self.resource("240.240.0.2"))
            xds_test.wait_for(lambda: self.answer() == "240.240.0.2", what="the updated table")
            s.sendto(make_query("reviews.default.svc.cluster.local", TYPE_A, qid=5)[1],
                     ("127.0.0.1", self.port))
            self.assertEqual(parse_response(s.recv(512))[3], [(TYPE_A, 30, "240.240.0.2")])
        self.assertEqual(xds_test.stat(self.proxy, "listener_manager.listener_modified"), 1)
        # Removed: it stops answering.
        self.fixture.remove("listener-dns")
        xds_test.wait_for(lambda: self.answer() is None, what="the DNS listener's removal")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and shutil.which("iptables")
                     and shutil.which("setpriv"), "needs root, iproute2, iptables and setpriv")
class DnsCaptureTest(unittest.TestCase):
    """The sidecar layout end to end in a network namespace: iptables sends the application's
    UDP port 53 to the proxy's 127.0.0.1:15053 (except the proxy's own group), the namespace's
    resolv.conf (/etc/netns/<ns>/resolv.conf) has a pod's search list and ndots:5, and the proxy
    forwards what it does not own to that same file's nameserver (a fake one in the namespace)."""

    NS = f"weft-dns-{os.getpid()}"
    GID = "1337"

    def ns(self, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", self.NS, *cmd], **kw)

    def setUp(self):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="weft-dns-")
        self.etc = f"/etc/netns/{self.NS}"
        os.makedirs(self.etc)
        self.addCleanup(self.cleanup)
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.53\n"
                    "search default.svc.cluster.local svc.cluster.local cluster.local\n"
                    "options ndots:5\n")
        subprocess.run(["ip", "netns", "add", self.NS], check=True)
        self.ns("ip", "link", "set", "lo", "up", check=True)
        self.ns("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "udp", "--dport", "53", "-m",
                "owner", "!", "--gid-owner", self.GID, "-j", "REDIRECT", "--to-ports", "15053",
                check=True)
        self.seen_path = os.path.join(self.dir, "seen")
        open(self.seen_path, "w").close()
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.NS, sys.executable, os.path.abspath(__file__),
             "serve-dns", "127.0.0.53", self.seen_path]))
        config = os.path.join(self.dir, "bootstrap.yaml")
        with open(config, "w") as f:
            f.write(dns_listener_yaml(15053).replace("port_value: 0}", "port_value: 15000}")
                    .replace("client_config: {resolver_timeout: 1s }", ""))
        self.log = open(os.path.join(self.dir, "proxy.log"), "w")
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.NS, "setpriv", "--regid", self.GID, "--clear-groups",
             PROXY, "-c", config, "-l", "info"], stdout=self.log, stderr=subprocess.STDOUT))
        deadline = time.time() + 10
        while self.ns("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:15000/ready").returncode:
            self.assertLess(time.time(), deadline, "weft-proxy did not become ready")
            time.sleep(0.1)
        while "127.0.0.53:53 " not in self.ns("ss", "-lunH", capture_output=True,
                                              text=True).stdout:
            self.assertLess(time.time(), deadline, "the fake nameserver did not start")
            time.sleep(0.1)

    def cleanup(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", self.NS])
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def resolve(self, name):
        """The application's view: glibc's resolver (gethostbyname: A only, and unlike
        getaddrinfo's AI_ADDRCONFIG it asks even though the namespace has only loopback)."""
        p = self.ns(sys.executable, "-c", "import socket, sys\n"
                    "try: print(socket.gethostbyname(sys.argv[1]))\n"
                    "except OSError as e: print('error', e)", name,
                    capture_output=True, text=True, timeout=20)
        return p.stdout.strip()

    def test_application_lookups_are_answered_or_forwarded_by_the_sidecar(self):
        # Short name + search list: the first try (reviews.default.svc.cluster.local) is ours.
        self.assertEqual(self.resolve("reviews"), "240.240.0.1")
        # An outside name: the search-list tries under cluster.local get NXDOMAIN from the proxy
        # and never reach the nameserver; the name itself is forwarded and answered.
        address = self.resolve("www.example.org")
        self.assertTrue(address.startswith("192.0.2."), address)
        with open(self.seen_path) as f:
            seen = [line.split()[0] for line in f if line.strip()]
        self.assertEqual(set(seen), {"www.example.org"}, seen)
        out = self.ns("curl", "-s", "http://127.0.0.1:15000/stats?filter=dns_filter",
                      capture_output=True, text=True).stdout
        self.assertIn("dns_filter.dns.local_a_record_answers: 1", out)
        self.assertNotIn("dns_filter.dns.externally_resolved_queries: 0", out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve-dns"]:
        # In a test's network namespace: FakeNameserver on <ip>:53, logging to <path>.
        server = FakeNameserver(sys.argv[2], 53, log_path=sys.argv[3])
        server.thread.join()
    else:
        unittest.main(verbosity=2)
