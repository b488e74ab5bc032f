"""Resilience end to end: retries (and their budget), per-try timeouts, circuit breakers, fault
injection, local rate limiting, request mirroring and max stream duration, each shown working
against real upstreams that fail on purpose, with the response flags the access log records."""
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

from harness import Proxy, Upstream, curl, free_port

HERE = os.path.dirname(os.path.abspath(__file__))

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
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {log}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_HOST%\\n"
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/retry/"}}
                route:
                  cluster: flaky
                  retry_policy: {{retry_on: "5xx,reset", num_retries: 2,
                                  retry_back_off: {{base_interval: 0.01s}}}}
              - match: {{prefix: "/retry-codes/"}}
                route:
                  cluster: flaky
                  retry_policy: {{retry_on: "retriable-status-codes", retriable_status_codes: [418],
                                  num_retries: 1}}
              - match: {{prefix: "/pertry/"}}
                route:
                  cluster: flaky
                  timeout: 5s
                  retry_policy: {{retry_on: "5xx", num_retries: 1, per_try_timeout: 0.3s}}
              - match: {{prefix: "/failover/"}}
                route:
                  cluster: half_dead
                  retry_policy:
                    retry_on: connect-failure
                    num_retries: 3
                    retry_host_predicate:
                    - name: envoy.retry_host_predicates.previous_hosts
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                    host_selection_retry_max_attempts: 3
              - match: {{prefix: "/cb/"}}
                route:
                  cluster: guarded
                  retry_policy: {{retry_on: "5xx", num_retries: 3}}
              - match: {{prefix: "/timeout/"}}
                route: {{cluster: flaky, timeout: 0.3s}}
              - match: {{prefix: "/narrow/"}}
                route: {{cluster: narrow}}
              - match: {{prefix: "/fault/abort"}}
                route: {{cluster: flaky}}
                typed_per_filter_config:
                  envoy.filters.http.fault:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                    abort: {{http_status: 503, percentage: {{numerator: 100}}}}
              - match: {{prefix: "/fault/delay"}}
                route: {{cluster: flaky}}
                typed_per_filter_config:
                  envoy.filters.http.fault:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                    delay: {{fixed_delay: 0.3s, percentage: {{numerator: 100}}}}
              - match: {{prefix: "/limited/"}}
                route: {{cluster: flaky}}
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: limited
                    token_bucket: {{max_tokens: 3, tokens_per_fill: 3, fill_interval: 60s}}
                    filter_enabled: {{default_value: {{numerator: 100}}}}
                    filter_enforced: {{default_value: {{numerator: 100}}}}
                    response_headers_to_add:
                    - header: {{key: x-limited, value: "yes"}}
              - match: {{prefix: "/mirror/"}}
                route:
                  cluster: flaky
                  request_mirror_policies:
                  - cluster: mirror
                    runtime_fraction: {{default_value: {{numerator: 100}}}}
              - match: {{prefix: "/duration/"}}
                route:
                  cluster: flaky
                  max_stream_duration: {{max_stream_duration: 0.3s}}
              - match: {{prefix: "/"}}
                route: {{cluster: flaky}}
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: {{header_abort: {{}}, percentage: {{numerator: 100}}}}
              delay: {{header_delay: {{}}, percentage: {{numerator: 100}}}}
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: unlimited
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: flaky
    load_assignment:
      cluster_name: flaky
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {flaky}}}}}}}}}]}}]
  - name: mirror
    load_assignment:
      cluster_name: mirror
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {mirror}}}}}}}}}]}}]
  - name: half_dead
    connect_timeout: 1s
    load_assignment:
      cluster_name: half_dead
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {dead}}}}}}}
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {flaky}}}}}}}
  - name: narrow
    circuit_breakers:
      thresholds:
      - max_connections: 1
        max_pending_requests: 1
    load_assignment:
      cluster_name: narrow
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {flaky}}}}}}}}}]}}]
  - name: guarded
    circuit_breakers:
      thresholds:
      - max_requests: 1
        max_retries: 0
    load_assignment:
      cluster_name: guarded
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {flaky}}}}}}}}}]}}]
"""


def stat(proxy, name):
    _, body = proxy.admin_get("/stats?format=json")
    for s in json.loads(body)["stats"]:
        if s.get("name") == name:
            return s.get("value")
    return 0


class ResilienceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.flaky = Upstream("flaky")
        cls.mirror = Upstream("mirror")
        cls.port = free_port()
        cls.dead = free_port()  # nothing listens here
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, flaky=cls.flaky.port,
                                           mirror=cls.mirror.port, dead=cls.dead,
                                           log="{log}").replace("{log}", "/dev/null"))
        # The access log goes to a file in the proxy's directory; restart with it.
        cls.proxy.stop()
        cls.log_path = os.path.join(cls.proxy.dir, "access.log")
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, flaky=cls.flaky.port,
                                           mirror=cls.mirror.port, dead=cls.dead,
                                           log=cls.log_path))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.flaky.stop()
        cls.mirror.stop()

    def get(self, path, *args):
        code, out, err = curl("-o", "/dev/null", "-w", "%{http_code}", *args,
                              f"http://127.0.0.1:{self.port}{path}")
        self.assertEqual(code, 0, err)
        return int(out)

    def log_line(self, path):
        """The access-log line of the last request for `path` (the log is flushed each second)."""
        deadline = time.time() + 5
        while time.time() < deadline:
            if os.path.exists(self.log_path):
                with open(self.log_path) as f:
                    lines = [l for l in f.read().splitlines() if l.split(" ")[0] == path]
                if lines:
                    return lines[-1]
            time.sleep(0.1)
        self.fail(f"no access log line for {path}")

    # --- retries ---

    def test_retries_until_success(self):
        before = stat(self.proxy, "cluster.flaky.upstream_rq_retry")
        self.assertEqual(self.get("/retry/flaky/2/503/a"), 200)
        self.assertEqual(stat(self.proxy, "cluster.flaky.upstream_rq_retry") - before, 2)
        self.assertGreaterEqual(stat(self.proxy, "cluster.flaky.upstream_rq_retry_success"), 1)

    def test_retries_exhausted_flags_urx(self):
        self.assertEqual(self.get("/retry/flaky/5/503/b"), 503)
        self.assertIn("URX", self.log_line("/retry/flaky/5/503/b"))
        # Three attempts in all: the first and num_retries: 2.
        self.assertEqual(self.flaky.server.counts["b"], 3)

    def test_retry_after_reset(self):
        self.assertEqual(self.get("/retry/flaky/1/reset/c"), 200)
        self.assertEqual(self.flaky.server.counts["c"], 2)

    def test_no_retry_without_policy(self):
        self.assertEqual(self.get("/flaky/1/503/d"), 503)
        self.assertEqual(self.flaky.server.counts["d"], 1)

    def test_retriable_status_codes(self):
        self.assertEqual(self.get("/retry-codes/flaky/1/418/e"), 200)
        self.assertEqual(self.get("/retry-codes/flaky/1/500/f"), 500)  # not in the list
        self.assertEqual(self.flaky.server.counts["f"], 1)

    def test_retry_resends_the_body(self):
        code, out, err = curl("-d", "payload-123", f"http://127.0.0.1:{self.port}/retry/flaky/1/503/g")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["body"], "payload-123")
        bodies = [b for (_, p, _, b) in self.flaky.seen if p == "/retry/flaky/1/503/g"]
        self.assertEqual(bodies, [b"payload-123", b"payload-123"])

    def test_per_try_timeout_retries_a_slow_attempt(self):
        before = stat(self.proxy, "cluster.flaky.upstream_rq_per_try_timeout")
        self.assertEqual(self.get("/pertry/flaky/1/slow/h"), 200)
        self.assertEqual(stat(self.proxy, "cluster.flaky.upstream_rq_per_try_timeout") - before, 1)

    def test_per_try_timeout_without_retries_left_is_504_ut(self):
        self.assertEqual(self.get("/pertry/flaky/5/slow/i"), 504)
        self.assertIn("UT", self.log_line("/pertry/flaky/5/slow/i"))

    def test_connect_failure_moves_to_another_host(self):
        # Round robin over a dead and a live host: with previous_hosts, a retry never picks the
        # host that just refused, so every request succeeds.
        for i in range(10):
            self.assertEqual(self.get(f"/failover/{i}"), 200)
        self.assertGreaterEqual(stat(self.proxy, "cluster.half_dead.upstream_rq_retry"), 1)

    def test_route_timeout_covers_the_whole_response(self):
        # Headers arrive at once, the body would come 2 s later: the 0.3 s route timeout (from
        # the end of the request to the end of the response, as in Envoy) cuts it off.
        code, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{self.port}/timeout/stall/2")
        self.assertNotEqual(code, 0)  # the transfer ended short
        self.assertEqual(out, "200")
        self.assertIn("UT", self.log_line("/timeout/stall/2"))
        self.assertEqual(self.get("/timeout/stall/0"), 200)

    # --- circuit breakers ---

    def test_max_requests_overflow_is_503_uo(self):
        results = []
        def slow():
            results.append(self.get("/cb/slow/1"))
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)  # the slow request holds the cluster's only request slot
        self.assertEqual(self.get("/cb/fast"), 503)
        t.join()
        self.assertEqual(results, [200])
        self.assertIn("UO", self.log_line("/cb/fast"))
        self.assertGreaterEqual(stat(self.proxy, "cluster.guarded.upstream_rq_pending_overflow"), 1)

    def test_max_connections_queue_then_max_pending_overflows(self):
        # One connection allowed: the second request waits for it (pending), the third finds the
        # pending queue full and is answered 503 UO at once.
        results = {}
        def fetch(name, path):
            results[name] = self.get(path)
        first = threading.Thread(target=fetch, args=("first", "/narrow/slow/1"))
        first.start()
        time.sleep(0.3)
        second = threading.Thread(target=fetch, args=("second", "/narrow/slow/0.2"))
        second.start()
        time.sleep(0.3)
        self.assertEqual(self.get("/narrow/third"), 503)
        first.join()
        second.join()
        self.assertEqual(results, {"first": 200, "second": 200})
        self.assertIn("UO", self.log_line("/narrow/third"))
        self.assertGreaterEqual(stat(self.proxy, "cluster.narrow.upstream_cx_overflow"), 1)
        self.assertGreaterEqual(stat(self.proxy, "cluster.narrow.upstream_rq_pending_overflow"), 1)
        self.assertEqual(stat(self.proxy, "cluster.narrow.upstream_cx_total"), 1)

    def test_max_retries_zero_stops_retries(self):
        before = stat(self.proxy, "cluster.guarded.upstream_rq_retry_overflow")
        self.assertEqual(self.get("/cb/flaky/1/503/j"), 503)
        self.assertEqual(self.flaky.server.counts["j"], 1)
        self.assertEqual(stat(self.proxy, "cluster.guarded.upstream_rq_retry_overflow") - before, 1)

    # --- fault injection ---

    def test_fault_abort(self):
        before = stat(self.proxy, "http.ingress.fault.aborts_injected")
        self.assertEqual(self.get("/fault/abort"), 503)
        self.assertIn("FI", self.log_line("/fault/abort"))
        self.assertEqual(stat(self.proxy, "http.ingress.fault.aborts_injected") - before, 1)

    def test_fault_delay(self):
        start = time.monotonic()
        self.assertEqual(self.get("/fault/delay"), 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.29)
        self.assertIn("DI", self.log_line("/fault/delay"))

    def test_fault_delay_holds_the_request_body(self):
        code, out, err = curl("-d", "held-body", f"http://127.0.0.1:{self.port}/fault/delay-body")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["body"], "held-body")

    def test_fault_from_request_headers(self):
        self.assertEqual(self.get("/header-fault", "-H", "x-envoy-fault-abort-request: 418"), 418)
        self.assertIn("FI", self.log_line("/header-fault"))
        # A 0% percentage header turns the abort off.
        self.assertEqual(self.get("/header-fault-off", "-H", "x-envoy-fault-abort-request: 418",
                                  "-H", "x-envoy-fault-abort-request-percentage: 0"), 200)
        self.assertEqual(self.get("/plain"), 200)

    # --- local rate limit ---

    def test_local_rate_limit(self):
        codes = [self.get("/limited/x") for _ in range(5)]
        self.assertEqual(codes, [200, 200, 200, 429, 429])
        self.assertIn("RL", self.log_line("/limited/x"))
        code, out, _ = curl("-sI", f"http://127.0.0.1:{self.port}/limited/x")
        self.assertIn("x-limited: yes", out.lower())
        self.assertEqual(stat(self.proxy, "limited.http_local_rate_limit.rate_limited"), 3)
        # Routes without a per-route limit are not limited.
        self.assertEqual([self.get("/plain") for _ in range(5)], [200] * 5)

    # --- mirroring ---

    def test_mirror_gets_a_shadow_copy(self):
        code, out, err = curl("-d", "mirrored", "-H", "host: shop.local",
                              f"http://127.0.0.1:{self.port}/mirror/one")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["server"], "flaky")
        deadline = time.time() + 5
        while time.time() < deadline and not any(p == "/mirror/one" for (_, p, _, _) in self.mirror.seen):
            time.sleep(0.05)
        copies = [(h, b) for (_, p, h, b) in self.mirror.seen if p == "/mirror/one"]
        self.assertEqual(len(copies), 1)
        self.assertEqual(copies[0][0]["host"], "shop.local-shadow")
        self.assertEqual(copies[0][1], b"mirrored")

    # --- max stream duration ---

    def test_max_stream_duration(self):
        self.assertEqual(self.get("/duration/slow/2"), 408)
        self.assertIn("DT", self.log_line("/duration/slow/2"))


class RetryChaosTest(unittest.TestCase):
    """An upstream killed (SIGKILL) in the middle of load: every request that a retry on the
    other host can save is saved, so the client sees no error at all."""

    def test_kill_one_of_two_upstreams_under_load(self):
        ports = [free_port(), free_port()]
        servers = [subprocess.Popen([sys.executable, os.path.join(HERE, "harness.py"), "serve",
                                     "127.0.0.1", str(p), f"u{i}"]) for i, p in enumerate(ports)]
        port = free_port()
        config = f"""
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: chaos
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route:
                  cluster: pair
                  retry_policy:
                    retry_on: "reset,connect-failure,5xx"
                    num_retries: 3
                    retry_back_off: {{base_interval: 0.005s}}
                    retry_host_predicate: [{{name: envoy.retry_host_predicates.previous_hosts}}]
                    host_selection_retry_max_attempts: 5
          http_filters: [{{name: envoy.filters.http.router}}]
  clusters:
  - name: pair
    connect_timeout: 1s
    circuit_breakers: {{thresholds: [{{max_retries: 1000}}]}}
    load_assignment:
      cluster_name: pair
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {ports[0]}}}}}}}
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {ports[1]}}}}}}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
"""
        proxy = None
        try:
            for p in ports:
                deadline = time.time() + 10
                while curl(f"http://127.0.0.1:{p}/")[0] != 0 and time.time() < deadline:
                    time.sleep(0.05)
            proxy = Proxy(config, concurrency=2)
            wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "16", "-d", "4s",
                                    f"http://127.0.0.1:{port}/"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(1.5)
            servers[0].kill()  # SIGKILL, by PID: in-flight requests are cut off mid-exchange
            servers[0].wait()
            out, _ = wrk.communicate(timeout=30)
            requests = int(re.search(r"(\d+) requests in", out).group(1))
            self.assertGreater(requests, 100, out)
            self.assertNotIn("Non-2xx", out, out)
            self.assertNotIn("Socket errors", out, out)
            _, body = proxy.admin_get("/stats")
            retries = re.search(r"cluster\.pair\.upstream_rq_retry: (\d+)", body)
            self.assertIsNotNone(retries, body)
            self.assertGreater(int(retries.group(1)), 0)
        finally:
            if proxy:
                proxy.stop()
            for s in servers:
                if s.poll() is None:
                    s.kill()
                    s.wait()


if __name__ == "__main__":
    unittest.main()
