"""gRPC and the mesh's resilience features, end to end: real Python gRPC servers and clients
(Debian's python3-grpcio, generic handlers, raw-bytes messages) through weft-proxy over HTTP/2.

- GrpcHealthCheckTest: grpc_health_check against servers implementing grpc.health.v1.Health/Check
  by hand-encoded protobuf; a host that answers NOT_SERVING leaves the load balancing and comes
  back when it serves again (/clusters shows /failed_active_hc meanwhile).
- GrpcResilienceTest: retry_on unavailable, grpc-timeout (max_stream_duration with
  grpc_timeout_header_max), fault aborts with a gRPC status (route config and request header),
  local rate limiting, and no healthy / refusing upstreams, each as the gRPC client sees it
  (status and message) and as the access log records it (response flags).
Nothing asserts on speed; waits are polls with a bound."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent import futures

try:
    import grpc
except ImportError:  # python3-grpcio is Debian's: visible to /usr/bin/python3, maybe not to ours
    sys.path.append("/usr/lib/python3/dist-packages")
    import grpc

from harness import Proxy, free_port

# grpc.health.v1 (grpc/doc/health-checking.md): HealthCheckRequest{string service = 1},
# HealthCheckResponse{ServingStatus status = 1}, SERVING = 1, NOT_SERVING = 2.
SERVING = b"\x08\x01"
NOT_SERVING = b"\x08\x02"


def decode_service(request):
    """HealthCheckRequest.service from its bytes (field 1, length-delimited, short names)."""
    if not request:
        return ""
    assert request[0] == 0x0A and request[1] < 0x80, request
    return request[2:2 + request[1]].decode()


class GrpcBackend:
    """A gRPC server on loopback with a hand-written health service and test methods, served for
    any service name (routes below tell calls apart by service):
      Echo       -> b"<tag>:<request>"
      FailFirst  -> the request b"<key>:<n>" fails UNAVAILABLE n times per key, then succeeds
      Sleep      -> answers after 2 s (or as soon as the call is cancelled)
    Health/Check answers `self.health[service]` (SERVING when unset; None = NOT_FOUND)."""

    def __init__(self, tag):
        self.tag = tag
        self.lock = threading.Lock()
        self.health = {}
        self.checks = []  # (service, metadata dict) of each Health/Check received
        self.attempts = {}
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        self.server.add_generic_rpc_handlers((self._Handler(self),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    class _Handler(grpc.GenericRpcHandler):
        def __init__(self, backend):
            self.backend = backend

        def service(self, details):
            b = self.backend
            if details.method == "/grpc.health.v1.Health/Check":
                return grpc.unary_unary_rpc_method_handler(b._check)
            method = details.method.rsplit("/", 1)[-1]
            handler = {"Echo": b._echo, "FailFirst": b._fail_first, "Sleep": b._sleep}.get(method)
            return grpc.unary_unary_rpc_method_handler(handler) if handler else None

    def set_health(self, service, status):
        with self.lock:
            self.health[service] = status

    def _check(self, request, context):
        service = decode_service(request)
        with self.lock:
            self.checks.append((service, dict(context.invocation_metadata())))
            status = self.health.get(service, SERVING)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return status

    def _echo(self, request, context):
        return self.tag.encode() + b":" + request

    def _fail_first(self, request, context):
        key, n = request.decode().rsplit(":", 1)
        with self.lock:
            attempt = self.attempts.get(key, 0) + 1
            self.attempts[key] = attempt
        if attempt <= int(n):
            context.abort(grpc.StatusCode.UNAVAILABLE, f"not yet (attempt {attempt})")
        return f"ok on attempt {attempt}".encode()

    def _sleep(self, request, context):
        deadline = time.time() + 2
        while time.time() < deadline and context.is_active():
            time.sleep(0.02)
        return b"slept"

    def stop(self):
        self.server.stop(grace=None)


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stat(proxy, name):
    _, body = proxy.admin_get("/stats")
    for line in body.splitlines():
        if line.startswith(name + ": "):
            return int(line.split(": ")[1])
    return 0


def endpoint(port):
    return ("        - endpoint: {address: {socket_address: "
            f"{{address: 127.0.0.1, port_value: {port}}}}}}}\n")


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
          codec_type: AUTO
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
{routes}
              - match: {{prefix: "/"}}
                route: {{cluster: backend}}
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: {{header_abort: {{}}, percentage: {{numerator: 100}}}}
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: unlimited
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
{clusters}
"""


def h2_cluster(name, ports, extra=""):
    return (f"""
  - name: {name}
    connect_timeout: 1s
    http2_protocol_options: {{}}
{extra}
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
""" + "".join(endpoint(p) for p in ports))


class GrpcTestBase(unittest.TestCase):
    def start_proxy(self, routes, clusters):
        self.tmp = tempfile.mkdtemp(prefix="weft-grpc-res-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.port = free_port()
        self.access_log = os.path.join(self.tmp, "access.log")
        self.proxy = Proxy(LISTENER.format(port=self.port, log=self.access_log, routes=routes,
                                           clusters=clusters), concurrency=2)
        self.addCleanup(self.proxy.stop)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.addCleanup(self.channel.close)

    def call(self, path, request=b"x", timeout=10, metadata=None):
        """(code, details or response bytes, seconds taken)."""
        start = time.monotonic()
        try:
            response = self.channel.unary_unary(path)(request, timeout=timeout, metadata=metadata)
            return grpc.StatusCode.OK, response, time.monotonic() - start
        except grpc.RpcError as e:
            return e.code(), e.details(), time.monotonic() - start

    def log_line(self, path, timeout=5):
        def find():
            if not os.path.exists(self.access_log):
                return None
            with open(self.access_log) as f:
                lines = [line.strip() for line in f if line.startswith(path + " ")]
            return lines[-1] if lines else None
        return wait_for(find, timeout, f"access log line for {path}")


class GrpcHealthCheckTest(GrpcTestBase):
    HC = """    common_lb_config: {healthy_panic_threshold: {value: 0}}
    health_checks:
    - timeout: 1s
      interval: 0.2s
      unhealthy_threshold: 2
      healthy_threshold: 1
      grpc_health_check:
        service_name: weft.test.Echo
        initial_metadata: [{header: {key: x-probe, value: weft}}]"""

    def setUp(self):
        self.a = GrpcBackend("a")
        self.addCleanup(self.a.stop)
        self.b = GrpcBackend("b")
        self.addCleanup(self.b.stop)
        self.start_proxy("", h2_cluster("backend", [self.a.port, self.b.port], self.HC))

    def flags(self, backend):
        _, text = self.proxy.admin_get("/clusters")
        key = f"backend::127.0.0.1:{backend.port}::health_flags::"
        for line in text.splitlines():
            if line.startswith(key):
                return line[len(key):]
        return None

    def servers(self, n=20):
        tags = set()
        for i in range(n):
            code, response, _ = self.call("/weft.test.Echo/Echo", str(i).encode())
            self.assertEqual(code, grpc.StatusCode.OK, response)
            tags.add(response.split(b":")[0].decode())
        return tags

    def test_not_serving_host_leaves_and_comes_back(self):
        wait_for(lambda: self.flags(self.a) == "healthy" and self.flags(self.b) == "healthy",
                 what="both hosts healthy")
        # The probe is a real Check call for the configured service, with its metadata.
        with self.a.lock:
            service, metadata = self.a.checks[-1]
        self.assertEqual(service, "weft.test.Echo")
        self.assertEqual(metadata.get("x-probe"), "weft")
        self.assertEqual(self.servers(), {"a", "b"})

        # NOT_SERVING is an active failure: the host is out at once (unhealthy_threshold
        # counts only network failures and timeouts).
        self.b.set_health("weft.test.Echo", NOT_SERVING)
        wait_for(lambda: self.flags(self.b) == "/failed_active_hc", what="b failed_active_hc")
        self.assertEqual(self.flags(self.a), "healthy")
        self.assertEqual(self.servers(), {"a"})
        self.assertGreater(stat(self.proxy, "cluster.backend.health_check.failure"), 0)
        self.assertEqual(stat(self.proxy, "cluster.backend.health_check.healthy"), 1)

        self.b.set_health("weft.test.Echo", SERVING)
        wait_for(lambda: self.flags(self.b) == "healthy", what="b healthy again")
        wait_for(lambda: self.servers() == {"a", "b"}, what="b taking calls again")

    def test_grpc_error_status_fails_the_check(self):
        wait_for(lambda: self.flags(self.b) == "healthy", what="b healthy")
        self.b.set_health("weft.test.Echo", None)  # grpc-status NOT_FOUND, trailers-only
        wait_for(lambda: self.flags(self.b) == "/failed_active_hc", what="b failed_active_hc")
        self.assertEqual(self.servers(), {"a"})

    def test_stopped_host_fails_after_the_threshold(self):
        wait_for(lambda: self.flags(self.b) == "healthy", what="b healthy")
        self.b.stop()
        wait_for(lambda: self.flags(self.b) == "/failed_active_hc", what="b failed_active_hc")
        self.assertGreater(stat(self.proxy, "cluster.backend.health_check.network_failure"), 0)
        self.assertEqual(self.servers(), {"a"})


class GrpcResilienceTest(GrpcTestBase):
    ROUTES = """
              - match: {prefix: "/weft.test.Retry/"}
                route:
                  cluster: backend
                  retry_policy: {retry_on: unavailable, num_retries: 2,
                                 retry_back_off: {base_interval: 0.01s}}
              - match: {prefix: "/weft.test.RetryOnce/"}
                route:
                  cluster: backend
                  retry_policy: {retry_on: unavailable, num_retries: 1,
                                 retry_back_off: {base_interval: 0.01s}}
              - match: {prefix: "/weft.test.Deadline/"}
                route:
                  cluster: backend
                  max_stream_duration: {grpc_timeout_header_max: 0s}
              - match: {prefix: "/weft.test.DeadlineCapped/"}
                route:
                  cluster: backend
                  max_stream_duration: {grpc_timeout_header_max: 0.2s}
              - match: {prefix: "/weft.test.DeadlineOffset/"}
                route:
                  cluster: backend
                  max_stream_duration: {grpc_timeout_header_max: 0s,
                                        grpc_timeout_header_offset: 0.15s}
              - match: {prefix: "/weft.test.RouteTimeout/"}
                route: {cluster: backend, timeout: 0.3s}
              - match: {prefix: "/weft.test.Fault/"}
                route: {cluster: backend}
                typed_per_filter_config:
                  envoy.filters.http.fault:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                    abort: {grpc_status: 14, percentage: {numerator: 100}}
              - match: {prefix: "/weft.test.Limited/"}
                route: {cluster: backend}
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: limited
                    token_bucket: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 3600s}
                    filter_enabled: {default_value: {numerator: 100}}
                    filter_enforced: {default_value: {numerator: 100}}
              - match: {prefix: "/weft.test.LimitedExhausted/"}
                route: {cluster: backend}
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: exhausted
                    token_bucket: {max_tokens: 1, tokens_per_fill: 1, fill_interval: 3600s}
                    filter_enabled: {default_value: {numerator: 100}}
                    filter_enforced: {default_value: {numerator: 100}}
                    rate_limited_as_resource_exhausted: true
              - match: {prefix: "/weft.test.Refused/"}
                route: {cluster: refused}
              - match: {prefix: "/weft.test.Unhealthy/"}
                route: {cluster: unhealthy}"""

    @classmethod
    def setUpClass(cls):
        cls.backend = GrpcBackend("main")
        # Nothing listens on this port: connections are refused.
        cls.refused_port = free_port()
        # Its one host answers NOT_SERVING for this cluster's service: never healthy.
        cls.backend.set_health("weft.test.Down", NOT_SERVING)

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()

    def setUp(self):
        unhealthy = """    common_lb_config: {healthy_panic_threshold: {value: 0}}
    health_checks:
    - {timeout: 1s, interval: 0.2s, unhealthy_threshold: 1, healthy_threshold: 1,
       grpc_health_check: {service_name: weft.test.Down}}"""
        self.start_proxy(self.ROUTES,
                         h2_cluster("backend", [self.backend.port]) +
                         h2_cluster("refused", [self.refused_port]) +
                         h2_cluster("unhealthy", [self.backend.port], unhealthy))

    # --- retries ---

    def test_retry_on_unavailable_saves_the_call(self):
        code, response, _ = self.call("/weft.test.Retry/FailFirst", b"saved:2")
        self.assertEqual(code, grpc.StatusCode.OK)
        self.assertEqual(response, b"ok on attempt 3")
        self.assertEqual(self.backend.attempts["saved"], 3)
        self.assertGreaterEqual(stat(self.proxy, "cluster.backend.upstream_rq_retry"), 2)

    def test_retries_exhausted_pass_the_last_answer_through(self):
        code, details, _ = self.call("/weft.test.RetryOnce/FailFirst", b"lost:3")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(details, "not yet (attempt 2)")  # the server's own message
        self.assertEqual(self.backend.attempts["lost"], 2)  # the call and one retry

    def test_unavailable_is_not_retried_without_retry_on(self):
        code, details, _ = self.call("/weft.test.Echo/FailFirst", b"once:1")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(details, "not yet (attempt 1)")
        self.assertEqual(self.backend.attempts["once"], 1)

    # --- grpc-timeout ---

    def test_grpc_timeout_bounds_the_call(self):
        code, details, took = self.call("/weft.test.Deadline/Sleep", timeout=0.3)
        self.assertEqual(code, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(took, 1.5)  # the deadline (0.3 s), not the handler's 2 s

    def test_proxy_cuts_the_call_at_grpc_timeout_minus_offset(self):
        # The offset makes the proxy's timer fire well before the client's own deadline, so the
        # answer is the proxy's: DEADLINE_EXCEEDED with its message, and DT in the access log.
        code, details, took = self.call("/weft.test.DeadlineOffset/Sleep", timeout=0.5)
        self.assertEqual(code, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertEqual(details, "downstream duration timeout")
        self.assertLess(took, 1.5)
        self.assertIn(" DT ", self.log_line("/weft.test.DeadlineOffset/Sleep"))

    def grpc_curl(self, path, timeout_header):
        """A gRPC call by curl, whose deadline is only the grpc-timeout header it sends (no
        client-side timer): what the proxy does with the header is all that bounds it.
        Returns (seconds, headers and trailers as text)."""
        body = os.path.join(self.tmp, "empty-message")
        with open(body, "wb") as f:
            f.write(b"\0\0\0\0\0")
        start = time.monotonic()
        out = subprocess.run(
            ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", "-D", "-", "-o",
             os.devnull, "-H", "content-type: application/grpc", "-H", "te: trailers",
             "-H", f"grpc-timeout: {timeout_header}", "--data-binary", f"@{body}",
             f"http://127.0.0.1:{self.port}{path}"],
            capture_output=True, text=True, timeout=15)
        self.assertEqual(out.returncode, 0, out.stderr)
        return time.monotonic() - start, out.stdout.lower()

    def test_grpc_timeout_header_max_caps_the_deadline(self):
        # The client allows 5 s (so does the server, which honours grpc-timeout itself); the
        # route caps it at 0.2 s and the proxy answers DEADLINE_EXCEEDED.
        took, headers = self.grpc_curl("/weft.test.DeadlineCapped/Sleep", "5S")
        self.assertIn("grpc-status: 4", headers)
        self.assertIn("grpc-message: downstream duration timeout", headers)
        self.assertLess(took, 1.5)
        self.assertIn(" DT ", self.log_line("/weft.test.DeadlineCapped/Sleep"))

    def test_without_grpc_timeout_header_max_the_proxy_does_not_cut_the_call(self):
        # The header still reaches the server, whose gRPC library ends the call at its deadline
        # with its own message; the proxy passes that answer through and flags nothing.
        took, headers = self.grpc_curl("/weft.test.Echo/Sleep", "300m")
        self.assertIn("grpc-status: 4", headers)
        self.assertIn("grpc-message: deadline exceeded", headers)
        self.assertLess(took, 1.5)
        self.assertEqual(self.log_line("/weft.test.Echo/Sleep").split()[2], "-")
        # With a deadline longer than the handler, the call completes.
        took, headers = self.grpc_curl("/weft.test.Echo/Sleep", "5S")
        self.assertIn("grpc-status: 0", headers)
        self.assertGreaterEqual(took, 1.9)

    def test_route_timeout_before_the_response_is_unavailable(self):
        # A unary handler sends its headers with its answer, so the route timeout (a bound on
        # the wait for the response to start) fires: 504 "upstream request timeout", which a
        # gRPC client reads as UNAVAILABLE (http-grpc-status-mapping.md), flag UT.
        code, details, took = self.call("/weft.test.RouteTimeout/Sleep", timeout=10)
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(details, "upstream request timeout")
        self.assertLess(took, 1.5)
        self.assertIn(" UT ", self.log_line("/weft.test.RouteTimeout/Sleep"))

    # --- faults ---

    def test_route_fault_aborts_with_grpc_status(self):
        code, details, _ = self.call("/weft.test.Fault/Echo")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(details, "fault filter abort")
        self.assertIn(" FI ", self.log_line("/weft.test.Fault/Echo"))

    def test_fault_abort_grpc_request_header(self):
        code, details, _ = self.call("/weft.test.Echo/Echo", metadata=(
            ("x-envoy-fault-abort-grpc-request", "8"),))
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(details, "fault filter abort")
        self.assertIn(" FI ", self.log_line("/weft.test.Echo/Echo"))
        # The same call without the header goes through.
        code, response, _ = self.call("/weft.test.Echo/Echo", b"plain")
        self.assertEqual((code, response), (grpc.StatusCode.OK, b"main:plain"))

    # --- local rate limit ---

    def test_local_ratelimit_answers_unavailable(self):
        codes = [self.call("/weft.test.Limited/Echo")[0] for _ in range(4)]
        self.assertEqual(codes, [grpc.StatusCode.OK] * 2 + [grpc.StatusCode.UNAVAILABLE] * 2)
        self.assertIn(" RL ", self.log_line("/weft.test.Limited/Echo"))
        self.assertEqual(stat(self.proxy, "limited.http_local_rate_limit.rate_limited"), 2)

    def test_local_ratelimit_as_resource_exhausted(self):
        codes = [self.call("/weft.test.LimitedExhausted/Echo")[0] for _ in range(2)]
        self.assertEqual(codes, [grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED])

    # --- upstreams that cannot answer ---

    def test_refused_upstream_is_unavailable(self):
        code, details, _ = self.call("/weft.test.Refused/Echo")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn("UF", self.log_line("/weft.test.Refused/Echo").split()[2])

    def test_no_healthy_upstream_is_unavailable(self):
        code, details, _ = self.call("/weft.test.Unhealthy/Echo")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(details, "no healthy upstream")
        self.assertIn(" UH ", self.log_line("/weft.test.Unhealthy/Echo"))


if __name__ == "__main__":
    unittest.main()
