"""Host health end to end: active HTTP and TCP health checks, outlier detection (consecutive 5xx,
max_ejection_percent), priority failover and panic mode, against real upstreams on loopback.
Intervals are short (200ms) but nothing asserts on timing: each test polls with a bound."""
import json
import time
import unittest

from harness import Proxy, Upstream, curl, free_port

LISTENER = """
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
              - match: {{prefix: "/"}}
                route: {{cluster: backend}}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: backend
    connect_timeout: 1s
    type: STATIC
    lb_policy: ROUND_ROBIN
{cluster_extra}
    load_assignment:
      cluster_name: backend
      endpoints:
{endpoints}
"""

HTTP_HC = """
    health_checks:
    - timeout: 1s
      interval: 0.2s
      unhealthy_threshold: 1
      healthy_threshold: 1
      http_health_check: {path: /health}
"""


def endpoints(*groups):
    """groups: (priority, [ports]) -> the YAML of load_assignment.endpoints."""
    out = []
    for priority, ports in groups:
        out.append(f"      - priority: {priority}\n        lb_endpoints:")
        for port in ports:
            out.append("        - endpoint: {address: {socket_address: "
                       f"{{address: 127.0.0.1, port_value: {port}}}}}}}")
    return "\n".join(out)


def bootstrap(port, cluster_extra, eps):
    return LISTENER.format(port=port, cluster_extra=cluster_extra.rstrip("\n"), endpoints=eps)


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class HealthTestBase(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.upstreams = []
        self.proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()
        for u in self.upstreams:
            u.stop()

    def start(self, cluster_extra, eps):
        self.proxy = Proxy(bootstrap(self.port, cluster_extra, eps))

    def upstream(self, tag):
        u = Upstream(tag)
        self.upstreams.append(u)
        return u

    def get(self, path="/"):
        """(status, upstream tag or None)."""
        rc, out, _ = curl("-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{self.port}{path}")
        self.assertEqual(rc, 0)
        body, code = out.rsplit("\n", 1)
        try:
            tag = json.loads(body)["server"]
        except ValueError:
            tag = None
        return int(code), tag

    def servers(self, n=20):
        return [self.get()[1] for _ in range(n)]

    def health_flags(self, upstream):
        _, text = self.proxy.admin_get("/clusters")
        key = f"backend::127.0.0.1:{upstream.port}::health_flags::"
        for line in text.splitlines():
            if line.startswith(key):
                return line[len(key):]
        return None

    def stat(self, name):
        _, text = self.proxy.admin_get("/stats")
        for line in text.splitlines():
            if line.startswith(name + ": "):
                return int(line.split(": ", 1)[1])
        return 0


class ActiveHealthCheckTest(HealthTestBase):
    def test_http_health_check_takes_failing_host_out_and_back(self):
        a, b = self.upstream("a"), self.upstream("b")
        self.start(HTTP_HC, endpoints((0, [a.port, b.port])))
        wait_for(lambda: self.health_flags(a) == "healthy" and self.health_flags(b) == "healthy",
                 what="both hosts healthy")
        self.assertEqual(set(self.servers(10)), {"a", "b"})

        b.set_health_status(503)
        wait_for(lambda: self.health_flags(b) == "/failed_active_hc", what="b failed_active_hc")
        self.assertEqual(self.health_flags(a), "healthy")
        self.assertEqual(set(self.servers(20)), {"a"})
        self.assertGreater(self.stat("cluster.backend.health_check.failure"), 0)
        self.assertEqual(self.stat("cluster.backend.health_check.healthy"), 1)

        b.set_health_status(200)
        wait_for(lambda: self.health_flags(b) == "healthy", what="b healthy again")
        wait_for(lambda: "b" in self.servers(10), what="traffic back on b")
        self.assertGreater(self.stat("cluster.backend.health_check.success"), 0)
        self.assertGreater(self.stat("cluster.backend.health_check.attempt"), 2)

    def test_tcp_health_check_sends_and_expects_bytes(self):
        a, b = self.upstream("a"), self.upstream("b")
        # Send "GET /health HTTP/1.1\r\nHost: hc\r\n\r\n", expect "HTTP/1.1 200" back (hex).
        send = b"GET /health HTTP/1.1\r\nHost: hc\r\n\r\n".hex()
        receive = b"HTTP/1.1 200".hex()
        tcp_hc = f"""
    health_checks:
    - timeout: 0.5s
      interval: 0.2s
      unhealthy_threshold: 1
      healthy_threshold: 1
      reuse_connection: false
      tcp_health_check:
        send: {{text: "{send}"}}
        receive: [{{text: "{receive}"}}]
"""
        self.start(tcp_hc, endpoints((0, [a.port, b.port])))
        wait_for(lambda: self.health_flags(a) == "healthy" and self.health_flags(b) == "healthy",
                 what="both hosts healthy")
        b.set_health_status(500)  # answers "HTTP/1.1 500": the expected bytes never come
        wait_for(lambda: self.health_flags(b) == "/failed_active_hc", what="b failed_active_hc")
        self.assertEqual(set(self.servers(20)), {"a"})
        b.set_health_status(200)
        wait_for(lambda: self.health_flags(b) == "healthy", what="b healthy again")

    def test_stopped_host_fails_connect_only_tcp_check(self):
        a, b = self.upstream("a"), self.upstream("b")
        tcp_hc = """
    health_checks:
    - timeout: 0.5s
      interval: 0.2s
      unhealthy_threshold: 2
      healthy_threshold: 1
      tcp_health_check: {}
"""
        self.start(tcp_hc, endpoints((0, [a.port, b.port])))
        wait_for(lambda: self.health_flags(b) == "healthy", what="b healthy")
        b.stop()
        self.upstreams.remove(b)
        wait_for(lambda: self.health_flags(b) == "/failed_active_hc", what="b failed_active_hc")
        self.assertGreater(self.stat("cluster.backend.health_check.network_failure"), 0)
        self.assertEqual(set(self.servers(10)), {"a"})

    def test_bad_health_check_config_is_refused_with_its_path(self):
        bad = """
    health_checks:
    - timeout: 1s
      interval: 0.2s
      unhealthy_threshold: 1
      http_health_check: {path: /health}
"""
        with self.assertRaises(RuntimeError) as ctx:
            self.start(bad, endpoints((0, [free_port()])))
        self.assertIn("health_checks[0].healthy_threshold", str(ctx.exception))
        zero = HTTP_HC.replace("interval: 0.2s", "interval: 0s")
        with self.assertRaises(RuntimeError) as ctx:
            self.start(zero, endpoints((0, [free_port()])))
        self.assertIn("health_checks[0].interval", str(ctx.exception))


OUTLIER = """
    outlier_detection:
      consecutive_5xx: 3
      interval: 0.2s
      base_ejection_time: 3s
      max_ejection_percent: {max_percent}
"""


class OutlierDetectionTest(HealthTestBase):
    def test_consecutive_5xx_ejects_host_until_base_ejection_time(self):
        good, bad = self.upstream("good"), self.upstream("bad")
        bad.set_fixed_status(503)
        self.start(OUTLIER.format(max_percent=50), endpoints((0, [good.port, bad.port])))
        self.assertEqual(self.health_flags(bad), "healthy")

        def ejected():
            self.get()
            return self.health_flags(bad) == "/failed_outlier_check"
        wait_for(ejected, what="bad ejected")
        self.assertEqual(self.stat("cluster.backend.outlier_detection.ejections_active"), 1)
        self.assertGreaterEqual(
            self.stat("cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx"), 1)
        self.assertGreaterEqual(
            self.stat("cluster.backend.outlier_detection.ejections_enforced_total"), 1)
        # Ejected for base_ejection_time (3s): well beyond these requests.
        self.assertEqual([self.get() for _ in range(10)], [(200, "good")] * 10)

        bad.set_fixed_status(None)
        wait_for(lambda: self.health_flags(bad) == "healthy", what="bad back after ejection")
        wait_for(lambda: "bad" in self.servers(10), what="traffic back on bad")
        self.assertEqual(self.stat("cluster.backend.outlier_detection.ejections_active"), 0)

    def test_max_ejection_percent_caps_ejections(self):
        ups = [self.upstream(f"u{i}") for i in range(3)]
        for u in ups:
            u.set_fixed_status(503)
        # 2 of 3 hosts would be 66% > 50%: only one may be out at a time.
        self.start(OUTLIER.format(max_percent=50), endpoints((0, [u.port for u in ups])))

        def overflowed():
            for _ in range(10):
                self.get()
            return self.stat("cluster.backend.outlier_detection.ejections_overflow") > 0
        wait_for(overflowed, what="ejections_overflow")
        self.assertLessEqual(self.stat("cluster.backend.outlier_detection.ejections_active"), 1)
        flags = [self.health_flags(u) for u in ups]
        self.assertLessEqual(flags.count("/failed_outlier_check"), 1)


class PriorityFailoverTest(HealthTestBase):
    def test_unhealthy_p0_fails_over_to_p1_and_back(self):
        p0, p1 = self.upstream("p0"), self.upstream("p1")
        self.start(HTTP_HC, endpoints((0, [p0.port]), (1, [p1.port])))
        wait_for(lambda: self.health_flags(p0) == "healthy" and self.health_flags(p1) == "healthy",
                 what="both healthy")
        self.assertEqual(set(self.servers(20)), {"p0"})

        p0.set_health_status(503)
        wait_for(lambda: self.health_flags(p0) == "/failed_active_hc", what="p0 unhealthy")
        self.assertEqual(set(self.servers(20)), {"p1"})

        p0.set_health_status(200)
        wait_for(lambda: self.health_flags(p0) == "healthy", what="p0 healthy")
        self.assertEqual(set(self.servers(20)), {"p0"})

    def test_panic_when_every_host_is_unhealthy_still_serves(self):
        a, b = self.upstream("a"), self.upstream("b")
        self.start(HTTP_HC, endpoints((0, [a.port, b.port])))
        wait_for(lambda: self.health_flags(a) == "healthy" and self.health_flags(b) == "healthy",
                 what="both healthy")
        self.assertEqual(self.stat("cluster.backend.lb_healthy_panic"), 0)
        a.set_health_status(503)
        b.set_health_status(503)
        wait_for(lambda: self.health_flags(a) == "/failed_active_hc" and
                 self.health_flags(b) == "/failed_active_hc", what="both unhealthy")
        results = [self.get() for _ in range(20)]
        self.assertTrue(all(code == 200 for code, _ in results), results)
        self.assertEqual({tag for _, tag in results}, {"a", "b"})
        self.assertGreaterEqual(self.stat("cluster.backend.lb_healthy_panic"), 20)


if __name__ == "__main__":
    unittest.main()
