"""Load-aware and locality-weighted balancing end to end: peak EWMA steering traffic away from a
slow upstream (where round robin keeps sending it a third), and locality weights splitting
traffic 80/20 between two localities. Real upstreams and weft-proxy on loopback."""
import http.client
import http.server
import json
import socketserver
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import Proxy, Upstream, free_port

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
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/ewma"}}
                route: {{cluster: ewma}}
              - match: {{prefix: "/rr"}}
                route: {{cluster: rr}}
              - match: {{prefix: "/zones"}}
                route: {{cluster: zones}}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: ewma
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.peak_ewma
          typed_config:
            "@type": type.googleapis.com/xds.type.v3.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.load_balancing_policies.peak_ewma.v3alpha.PeakEwma
            value: {{decay_time: 10s, default_rtt: 0.030s}}
      # What a proxy without peak EWMA falls back to (Envoy skips what it lacks; so does Weft).
      - typed_extension_config:
          name: envoy.load_balancing_policies.round_robin
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin
    load_assignment:
      cluster_name: ewma
      endpoints:
      - lb_endpoints:
{three}
  - name: rr
    load_assignment:
      cluster_name: rr
      endpoints:
      - lb_endpoints:
{three}
  - name: zones
    common_lb_config: {{locality_weighted_lb_config: {{}}}}
    load_assignment:
      cluster_name: zones
      endpoints:
      - locality: {{region: r, zone: a}}
        load_balancing_weight: 80
        lb_endpoints:
{zone_a}
      - locality: {{region: r, zone: b}}
        load_balancing_weight: 20
        lb_endpoints:
{zone_b}
"""

ENDPOINT = """        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}
"""


class _DelayedHandler(harness._EchoHandler):
    """The echo upstream, answering after the server's `delay` seconds."""

    def _answer(self):
        if self.server.delay:
            time.sleep(self.server.delay)
        super()._answer()

    do_GET = _answer


class DelayedUpstream(Upstream):
    def __init__(self, tag, delay):
        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256
        self.server = Server(("127.0.0.1", 0), _DelayedHandler)
        harness.init_upstream_state(self.server, tag)
        self.server.delay = delay
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


class LoadBalancingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # u0 answers after 50 ms, u1 and u2 at once.
        cls.upstreams = [DelayedUpstream("u0", 0.05), DelayedUpstream("u1", 0),
                         DelayedUpstream("u2", 0)]
        cls.zone_a = [Upstream("a0"), Upstream("a1")]
        cls.zone_b = [Upstream("b0")]
        eps = lambda ups: "".join(ENDPOINT.format(port=u.port) for u in ups)
        cls.port = free_port()
        # One worker, so one balancer sees every request and the shares are its decisions.
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, three=eps(cls.upstreams),
                                           zone_a=eps(cls.zone_a), zone_b=eps(cls.zone_b)),
                          concurrency=1)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        for u in cls.upstreams + cls.zone_a + cls.zone_b:
            u.stop()

    def spread(self, path, requests, clients):
        """Sends `requests` GETs from `clients` keep-alive connections; counts answers by server."""
        counts = {}
        lock = threading.Lock()

        def client(n):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                for _ in range(n):
                    c.request("GET", path)
                    r = c.getresponse()
                    body = r.read()
                    self.assertEqual(r.status, 200, body)
                    server = json.loads(body)["server"]
                    with lock:
                        counts[server] = counts.get(server, 0) + 1
            finally:
                c.close()

        with ThreadPoolExecutor(clients) as pool:
            for f in [pool.submit(client, requests // clients) for _ in range(clients)]:
                f.result()
        return counts

    def test_peak_ewma_sends_little_to_the_slow_upstream(self):
        counts = self.spread("/ewma", 300, clients=4)
        total = sum(counts.values())
        self.assertEqual(total, 300)
        # Round robin gives u0 a third (next test); peak EWMA learns from u0's first answer.
        self.assertLess(counts.get("u0", 0) / total, 0.20, counts)
        self.assertGreater(counts.get("u1", 0), 60, counts)
        self.assertGreater(counts.get("u2", 0), 60, counts)

    def test_round_robin_gives_the_slow_upstream_a_third(self):
        counts = self.spread("/rr", 90, clients=6)
        self.assertEqual(sum(counts.values()), 90)
        for tag in ("u0", "u1", "u2"):
            self.assertGreaterEqual(counts.get(tag, 0), 25, counts)
            self.assertLessEqual(counts.get(tag, 0), 35, counts)

    def test_locality_weights_split_traffic_80_20(self):
        counts = self.spread("/zones", 200, clients=4)
        a = counts.get("a0", 0) + counts.get("a1", 0)
        b = counts.get("b0", 0)
        self.assertEqual(a + b, 200, counts)
        # Without locality weighting b0 would get a third of the requests (one of three hosts).
        self.assertGreater(b, 200 * 0.10, counts)
        self.assertLess(b, 200 * 0.30, counts)
        # Within zone a, round robin shares between its two hosts.
        self.assertGreater(counts.get("a0", 0), 40, counts)
        self.assertGreater(counts.get("a1", 0), 40, counts)

    def test_admin_config_and_stats_reflect_the_clusters(self):
        status, body = self.proxy.admin_get("/clusters")
        self.assertEqual(status, 200)
        for u in self.upstreams + self.zone_a + self.zone_b:
            self.assertIn(f"127.0.0.1:{u.port}", body)


if __name__ == "__main__":
    unittest.main()
