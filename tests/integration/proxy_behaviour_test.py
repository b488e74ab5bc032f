"""More of weft-proxy's behaviour end to end: consistent hashing across real upstreams, HTTP
timeouts against slow or idle clients, and the admin endpoints that change the server's state."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

from harness import Proxy, Upstream, curl, free_port

BOOTSTRAP = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: ingress
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          request_headers_timeout: 0.5s
          common_http_protocol_options: {{idle_timeout: 2s}}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/sticky"}}
                route:
                  cluster: ring
                  hash_policy: [{{header: {{header_name: x-user}}}}]
              - match: {{prefix: "/maglev"}}
                route:
                  cluster: maglev
                  hash_policy: [{{header: {{header_name: x-user}}}}]
              - match: {{prefix: "/"}}
                route: {{cluster: rr}}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
{clusters}
"""

CLUSTER = """  - name: {name}
    lb_policy: {policy}
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
{endpoints}
"""

ENDPOINT = """        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}
          load_balancing_weight: {weight}
"""


class ProxyBehaviourTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstreams = [Upstream(f"u{i}") for i in range(3)]
        def cluster(name, policy, weights=(1, 1, 1)):
            eps = "".join(ENDPOINT.format(port=u.port, weight=w) for u, w in zip(cls.upstreams, weights))
            return CLUSTER.format(name=name, policy=policy, endpoints=eps)
        clusters = (cluster("ring", "RING_HASH") + cluster("maglev", "MAGLEV") +
                    cluster("rr", "ROUND_ROBIN", weights=(1, 2, 1)))
        cls.port = free_port()
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, clusters=clusters), concurrency=2)
        cls.base = f"http://127.0.0.1:{cls.port}"

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        for u in cls.upstreams:
            u.stop()

    def server_for(self, path, *headers):
        args = []
        for h in headers:
            args += ["-H", h]
        code, out, err = curl(*args, self.base + path)
        self.assertEqual(code, 0, err)
        return json.loads(out)["server"]

    def test_hash_policies_keep_a_user_on_one_host(self):
        for path in ("/sticky", "/maglev"):
            seen_by_user = {}
            # Sixteen users over three hosts: that all land on one host by chance (the hosts'
            # hashes come from ephemeral ports) has odds of 3 / 3**16, not 3 / 3**6 (0.4 %).
            for user in ("user-%d" % i for i in range(16)):
                # Fresh connections each time: the choice must not depend on connection reuse or
                # on which worker accepted the connection.
                servers = {self.server_for(path, f"x-user: {user}") for _ in range(4)}
                self.assertEqual(len(servers), 1, (path, user, servers))
                seen_by_user[user] = servers.pop()
            self.assertGreater(len(set(seen_by_user.values())), 1, (path, seen_by_user))

    def test_weighted_round_robin_spreads_by_weight(self):
        # One keep-alive connection so one worker's balancer sees every request.
        urls = [self.base + "/rr"] * 40
        code, out, err = curl("-s", *urls)
        self.assertEqual(code, 0, err)
        counts = {}
        for line in out.replace("}{", "}\n{").splitlines():
            s = json.loads(line)["server"]
            counts[s] = counts.get(s, 0) + 1
        self.assertEqual(counts, {"u0": 10, "u1": 20, "u2": 10})

    def test_idle_connection_is_closed_after_idle_timeout(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            first = s.recv(65536)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"))
            start = time.monotonic()
            s.settimeout(5)
            rest = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            self.assertGreater(time.monotonic() - start, 1.0)
        _, stats = self.proxy.admin_get("/stats?filter=downstream_cx_idle_timeout")
        self.assertNotIn("downstream_cx_idle_timeout: 0\n", stats)

    def test_slow_request_headers_get_408(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n")  # never finishes its headers
            s.settimeout(5)
            answer = s.recv(65536)
            self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer)
            self.assertEqual(s.recv(1), b"")


    def test_slow_headers_of_a_later_request_get_408_too(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            s.settimeout(5)
            first = b""
            while b"}" not in first:  # the echo upstream answers with a JSON object
                first += s.recv(65536)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first)
            time.sleep(0.8)  # idle between requests is not slowness: no timer runs yet
            s.sendall(b"GET /y HTTP/1.1\r\nHo")
            answer = s.recv(65536)
            self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer)


class UpstreamRestartTest(unittest.TestCase):
    """An upstream that dies under load and comes back: the proxy answers 503 meanwhile (never
    hangs, never crashes), drops the dead pooled connections, and serves again afterwards."""

    def test_recovers_after_the_upstream_restarts(self):
        port, up_port = free_port(), free_port()
        here = os.path.dirname(os.path.abspath(__file__))

        def start(tag):  # a separate process, so that killing it resets every connection
            p = subprocess.Popen([sys.executable, os.path.join(here, "harness.py"), "serve",
                                  "127.0.0.1", str(up_port), tag])
            deadline = time.time() + 5
            while time.time() < deadline and curl(f"http://127.0.0.1:{up_port}/")[0] != 0:
                time.sleep(0.05)
            return p
        upstream = start("before")
        clusters = CLUSTER.format(name="rr", policy="ROUND_ROBIN",
                                  endpoints=ENDPOINT.format(port=up_port, weight=1))
        clusters += CLUSTER.format(name="ring", policy="RING_HASH",
                                   endpoints=ENDPOINT.format(port=up_port, weight=1))
        clusters += CLUSTER.format(name="maglev", policy="MAGLEV",
                                   endpoints=ENDPOINT.format(port=up_port, weight=1))
        proxy = Proxy(BOOTSTRAP.format(port=port, clusters=clusters), concurrency=2)
        try:
            load = subprocess.Popen(["wrk", "-t2", "-c16", "-d3s", f"http://127.0.0.1:{port}/"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            upstream.kill()                       # dies mid-load: pooled connections reset
            upstream.wait()
            time.sleep(0.7)                       # requests fail fast meanwhile (503)
            upstream = start("after")
            out, _ = load.communicate(timeout=30)
            self.assertIn("requests in", out)
            self.assertIsNone(proxy.proc.poll(), "the proxy died")
            deadline = time.time() + 5
            server = None
            while time.time() < deadline and server != "after":
                code, body, _ = curl(f"http://127.0.0.1:{port}/")
                server = json.loads(body)["server"] if code == 0 and body.startswith("{") else None
                time.sleep(0.1)
            self.assertEqual(server, "after")
            self.assertEqual(proxy.admin_get("/ready")[0], 200)
            _, stats = proxy.admin_get("/stats?filter=cluster.rr.upstream_cx_connect_fail")
            self.assertNotIn("upstream_cx_connect_fail: 0\n", stats)  # it did see the outage
        finally:
            proxy.stop()
            upstream.kill()
            upstream.wait()


class AdminControlTest(unittest.TestCase):
    def test_drain_listeners_stops_accepting_and_quitquitquit_exits(self):
        upstream = Upstream()
        port = free_port()
        clusters = CLUSTER.format(name="rr", policy="ROUND_ROBIN",
                                  endpoints=ENDPOINT.format(port=upstream.port, weight=1))
        clusters += CLUSTER.format(name="ring", policy="RING_HASH",
                                   endpoints=ENDPOINT.format(port=upstream.port, weight=1))
        clusters += CLUSTER.format(name="maglev", policy="MAGLEV",
                                   endpoints=ENDPOINT.format(port=upstream.port, weight=1))
        proxy = Proxy(BOOTSTRAP.format(port=port, clusters=clusters))
        try:
            self.assertEqual(curl(f"http://127.0.0.1:{port}/")[0], 0)
            self.assertEqual(proxy.admin_get("/drain_listeners", method="POST")[0], 200)
            self.assertEqual(proxy.admin_get("/ready"), (503, "DRAINING\n"))
            deadline = time.time() + 5
            refused = False
            while time.time() < deadline and not refused:
                refused = curl(f"http://127.0.0.1:{port}/")[0] == 7  # connection refused
                time.sleep(0.05)
            self.assertTrue(refused)
            self.assertEqual(proxy.admin_get("/quitquitquit", method="POST")[0], 200)
            self.assertEqual(proxy.proc.wait(10), 0)
        finally:
            proxy.stop()
            upstream.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
