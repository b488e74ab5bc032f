"""weft-proxy end to end over HTTP/1.1: real upstreams, real curl, raw sockets, on loopback."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import PROXY, SHARED, Proxy, Upstream, curl, free_port, raw_request

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
          stat_prefix: ingress_http
          local_reply_config:
            mappers:
            - filter:
                status_code_filter:
                  comparison: {{op: EQ, value: {{default_value: 503, runtime_key: unused}}}}
              body_format_override:
                text_format: "%LOCAL_REPLY_BODY% (mapped %RESPONSE_CODE%)"
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {access_log}
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: {{prefix: "/direct"}}
                direct_response: {{status: 200, body: {{inline_string: "hello from weft\\n"}}}}
              - match: {{prefix: "/old"}}
                redirect: {{path_redirect: "/new", response_code: FOUND}}
              - match:
                  prefix: "/"
                  headers:
                  - name: x-canary
                    string_match: {{exact: "yes"}}
                route: {{cluster: canary}}
              - match: {{prefix: "/api/"}}
                route:
                  cluster: primary
                  prefix_rewrite: "/v2/"
                request_headers_to_add:
                - header: {{key: x-added, value: "by-route"}}
                response_headers_to_add:
                - header: {{key: x-resp, value: "weft"}}
              - match: {{prefix: "/down"}}
                route: {{cluster: down}}
              - match: {{prefix: "/slow"}}
                route: {{cluster: primary, timeout: 0.5s}}
              - match: {{prefix: "/"}}
                route: {{cluster: primary}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: primary
    type: STATIC
    connect_timeout: 5s  # generous: CI machines are busy, and this is not what is tested
    load_assignment:
      cluster_name: primary
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {primary}}}}}}}
  - name: canary
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: canary
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {canary}}}}}}}
  - name: down
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: down
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {down}}}}}}}
"""


class ProxyHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.primary = Upstream("primary")
        cls.canary = Upstream("canary")
        cls.port = free_port()
        cls.access_log = os.path.join(tempfile.mkdtemp(prefix="weft-al-"), "access.log")
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, primary=cls.primary.port,
                                           canary=cls.canary.port, down=free_port(),
                                           access_log=cls.access_log), concurrency=2)
        cls.base = f"http://127.0.0.1:{cls.port}"

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.primary.stop()
        cls.canary.stop()

    def get_json(self, path, *args):
        code, out, err = curl(*args, self.base + path)
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def test_routes_to_upstream_with_edge_headers(self):
        body = self.get_json("/hello?x=1")
        self.assertEqual(body["server"], "primary")
        self.assertEqual(body["path"], "/hello?x=1")
        self.assertIn("x-request-id", body["headers"])
        self.assertEqual(body["headers"]["x-forwarded-proto"], "http")

    def test_header_match_selects_other_cluster(self):
        self.assertEqual(self.get_json("/", "-H", "x-canary: yes")["server"], "canary")
        self.assertEqual(self.get_json("/", "-H", "x-canary: no")["server"], "primary")

    def test_prefix_rewrite_and_header_mutations(self):
        code, out, err = curl("-i", self.base + "/api/users")
        self.assertEqual(code, 0, err)
        head, _, body = out.partition("\n\n")
        self.assertIn("x-resp: weft", head.lower())
        self.assertIn("x-envoy-upstream-service-time:", head.lower())
        data = json.loads(body)
        self.assertEqual(data["path"], "/v2/users")
        self.assertEqual(data["headers"]["x-added"], "by-route")
        self.assertEqual(data["headers"]["x-envoy-original-path"], "/api/users")

    def test_direct_response_and_redirect(self):
        code, out, _ = curl(self.base + "/direct")
        self.assertEqual(out, "hello from weft\n")
        code, out, _ = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", self.base + "/old")
        self.assertEqual(out, f"302 http://127.0.0.1:{self.port}/new")

    def test_post_bodies_content_length_and_chunked(self):
        body = self.get_json("/echo", "-X", "POST", "--data-binary", "a" * 100000)
        self.assertEqual(len(body["body"]), 100000)
        body = self.get_json("/echo", "-X", "POST", "-H", "transfer-encoding: chunked",
                             "--data-binary", "chunked-body")
        self.assertEqual(body["body"], "chunked-body")

    def test_expect_100_continue(self):
        body = self.get_json("/echo", "-H", "expect: 100-continue", "--data-binary", "x" * 2000)
        self.assertEqual(len(body["body"]), 2000)
        self.assertNotIn("expect", body["headers"])

    def test_keep_alive_reuses_one_client_connection(self):
        code, out, err = curl("-v", self.base + "/a", self.base + "/b")
        self.assertEqual(code, 0)
        self.assertIn("Re-using existing connection", err)

    def test_pipelined_requests_answered_in_order(self):
        req = b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
        out = raw_request(self.port, req + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        paths = []
        while out:
            head, _, rest = out.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            paths.append(json.loads(rest[:length])["path"])
            out = rest[length:]
        self.assertEqual(paths, ["/p0", "/p1", "/p2", "/last"])

    def test_upstream_down_is_503_uf(self):
        code, out, _ = curl("-w", "\n%{http_code}", self.base + "/down")
        self.assertTrue(out.endswith("503"))
        # local_reply_config's mapper (503 only) wraps the local reply body.
        self.assertRegex(out, r"^upstream connect error .* \(mapped 503\)\n503$")

    def test_route_timeout_is_504(self):
        code, out, _ = curl("-w", "\n%{http_code}", self.base + "/slow/2")
        self.assertTrue(out.endswith("504"), out)
        self.assertIn("upstream request timeout", out)

    def test_upstream_status_passes_through(self):
        code, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}", self.base + "/status/418")
        self.assertEqual(out, "418")

    def test_http10_clients(self):
        # HTTP/1.0 without keep-alive: answered in HTTP/1.0 and closed.
        out = raw_request(self.port, b"GET /ten HTTP/1.0\r\nHost: x\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.0 200"), out[:100])
        self.assertIn(b"connection: close", out.lower())
        self.assertIn(b'"path": "/ten"', out)
        # HTTP/1.0 asking for keep-alive gets it, and a second request on the same connection.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            for path in (b"/a", b"/b"):
                s.sendall(b"GET " + path + b" HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
                data = b""
                while b"}" not in data:
                    data += s.recv(65536)
                self.assertTrue(data.startswith(b"HTTP/1.0 200"), data[:100])
                self.assertIn(b"connection: keep-alive", data.lower())

    def test_absolute_form_request_target(self):
        # A client talking to the proxy as a forward proxy sends the absolute URI.
        out = raw_request(self.port, b"GET http://api.example.com/abs?q=1 HTTP/1.1\r\n"
                                     b"Host: api.example.com\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:100])
        body = json.loads(out.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(body["path"], "/abs?q=1")
        self.assertEqual(body["headers"]["host"], "api.example.com")

    def test_head_request_has_no_body(self):
        code, out, err = curl("-I", self.base + "/x")
        self.assertEqual(code, 0, err)
        self.assertIn("200", out.splitlines()[0])

    # ---- rejections: each answered with the right status, and the connection closed.

    def assert_rejected(self, request, status):
        out = raw_request(self.port, request)
        self.assertTrue(out.startswith(b"HTTP/1.1 %d" % status), out[:200])

    def test_rejects_content_length_with_transfer_encoding(self):
        self.assert_rejected(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)

    def test_rejects_differing_content_lengths(self):
        self.assert_rejected(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                             b"Content-Length: 4\r\n\r\nabcd", 400)

    def test_rejects_invalid_header_name_and_obs_fold(self):
        self.assert_rejected(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400)
        self.assert_rejected(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  folded\r\n\r\n", 400)

    def test_rejects_bare_lf_and_missing_host(self):
        self.assert_rejected(b"GET / HTTP/1.1\nHost: x\n\n", 400)
        self.assert_rejected(b"GET / HTTP/1.1\r\n\r\n", 400)

    def test_limits_headers_and_url(self):
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        self.assert_rejected(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n", 431)
        self.assert_rejected(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)

    # ---- admin, stats, access log

    def test_admin_endpoints(self):
        curl(self.base + "/hello")
        status, body = self.proxy.admin_get("/ready")
        self.assertEqual((status, body), (200, "LIVE\n"))
        status, body = self.proxy.admin_get("/stats")
        self.assertIn("http.ingress_http.downstream_rq_total:", body)
        self.assertIn("cluster.primary.upstream_rq_2xx:", body)
        status, body = self.proxy.admin_get("/stats/prometheus")
        self.assertIn('envoy_cluster_upstream_rq_total{envoy_cluster_name="primary"}', body)
        curl(self.base + "/down")
        status, body = self.proxy.admin_get("/clusters")
        host = f"primary::127.0.0.1:{self.primary.port}::"
        self.assertIn(host + "health_flags::healthy", body)
        lines = dict(l.rsplit("::", 1) for l in body.splitlines())
        self.assertGreaterEqual(int(lines[host + "rq_total"]), 1)
        self.assertGreaterEqual(int(lines[host + "rq_success"]), 1)
        self.assertGreaterEqual(int(lines[host + "cx_total"]), 1)
        down = next(k for k in lines if k.startswith("down::") and k.endswith("::rq_error"))
        self.assertGreaterEqual(int(lines[down]), 1)  # the refused connection counts as an error
        status, body = self.proxy.admin_get("/clusters?format=json")
        names = [c["name"] for c in json.loads(body)["cluster_statuses"]]
        self.assertEqual(sorted(names), ["canary", "down", "primary"])
        status, body = self.proxy.admin_get("/listeners")
        self.assertIn(f"ingress::127.0.0.1:{self.port}", body)
        status, body = self.proxy.admin_get("/config_dump")
        self.assertEqual(status, 200)
        json.loads(body)
        self.assertEqual(self.proxy.admin_get("/logging?level=debug")[0], 405)
        status, body = self.proxy.admin_get("/logging?level=debug", method="POST")
        self.assertIn("weft: debug", body)
        self.proxy.admin_get("/logging?level=info", method="POST")

    def test_access_log_has_envoy_default_format_and_flags(self):
        curl(self.base + "/down")
        curl(self.base + "/hello-log")
        curl(self.base + "/slow/2?flag=UT")                  # route timeout 0.5 s -> 504 UT
        curl(self.base + "/slowdc/3?flag=DC", timeout=0.3)  # client gives up -> DC
        raw_request(self.port, b"POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")  # -> 400 DPE
        deadline = time.time() + 5
        text = ""
        while time.time() < deadline:
            if os.path.exists(self.access_log):
                with open(self.access_log) as f:
                    text = f.read()
            if all(p in text for p in ("/hello-log", "/down", "flag=UT")):
                break
            time.sleep(0.2)
        line = next(l for l in text.splitlines() if '"GET /hello-log HTTP/1.1"' in l)
        self.assertRegex(line, r'^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /hello-log HTTP/1.1" 200 - ')
        self.assertIn(f'"127.0.0.1:{self.primary.port}"', line)
        down = next(l for l in text.splitlines() if '"GET /down HTTP/1.1"' in l)
        self.assertIn(" 503 UF ", down)
        deadline = time.time() + 5
        while time.time() < deadline and "flag=DC" not in text:
            time.sleep(0.2)
            with open(self.access_log) as f:
                text = f.read()
        self.assertIn(" 504 UT ", next(l for l in text.splitlines() if "flag=UT" in l))
        self.assertIn(" 0 DC ", next(l for l in text.splitlines() if "flag=DC" in l))
        # The malformed request never became a stream, but it is logged and counted.
        self.assertIn('"- - HTTP/1.1" 400 DPE ', text)
        _, stats = self.proxy.admin_get("/stats?filter=ingress_http.downstream_rq_4xx")
        self.assertNotIn("downstream_rq_4xx: 0\n", stats)

    def test_log_rotation_reopens_the_access_log(self):
        rotated = self.access_log + ".1"
        os.rename(self.access_log, rotated)
        status, body = self.proxy.admin_get("/reopen_logs", method="POST")
        self.assertEqual(status, 200, body)
        curl(self.base + "/after-rotation")
        deadline = time.time() + 5
        text = ""
        while time.time() < deadline and "/after-rotation" not in text:
            time.sleep(0.2)
            if os.path.exists(self.access_log):
                with open(self.access_log) as f:
                    text = f.read()
        self.assertIn("/after-rotation", text)
        # SIGUSR1 does the same (what logrotate's postrotate usually sends).
        os.rename(self.access_log, rotated)
        self.proxy.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        curl(self.base + "/after-usr1")
        deadline = time.time() + 5
        text = ""
        while time.time() < deadline and "/after-usr1" not in text:
            time.sleep(0.2)
            if os.path.exists(self.access_log):
                with open(self.access_log) as f:
                    text = f.read()
        self.assertIn("/after-usr1", text)

    def test_concurrent_load_with_wrk_loses_nothing(self):
        p = subprocess.run(["wrk", "-t2", "-c20", "-d2s", self.base + "/load"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("Non-2xx", p.stdout)
        self.assertNotIn("Socket errors", p.stdout)


class ProxyLifecycleTest(unittest.TestCase):
    def test_validate_mode_refuses_unknown_field_with_its_path(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("static_resources:\n  listeners:\n  - name: x\n    bogus_field: 1\n")
            f.flush()
            p = subprocess.run([PROXY, "--mode", "validate", "-c", f.name], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bogus_field", p.stderr)

    def test_config_yaml_is_merged_over_the_file(self):
        # As in Envoy: repeated fields (listeners) are appended, the admin block is added.
        base_port, extra_port, upstream = free_port(), free_port(), Upstream()
        base = BOOTSTRAP.format(port=base_port, primary=upstream.port, canary=upstream.port,
                                down=free_port(), access_log="/dev/null")
        base = base.replace("admin:\n  address: {socket_address: {address: 127.0.0.1, port_value: 0}}\n", "")
        self.assertNotIn("admin:", base)
        overlay = ("{admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}, "
                   "static_resources: {listeners: [{name: extra, address: {socket_address: "
                   "{address: 127.0.0.1, port_value: %d}}, filter_chains: [{filters: [{name: "
                   "envoy.filters.network.http_connection_manager, typed_config: {'@type': "
                   "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                   ".HttpConnectionManager, stat_prefix: extra, http_filters: [{name: "
                   "envoy.filters.http.router}], route_config: {virtual_hosts: [{name: x, domains: "
                   "['*'], routes: [{match: {prefix: /}, direct_response: {status: 200, body: "
                   "{inline_string: merged}}}]}]}}}]}]}]}}") % extra_port
        proxy = Proxy(base, extra_args=("--config-yaml", overlay))
        try:
            self.assertEqual(curl(f"http://127.0.0.1:{extra_port}/")[1], "merged")
            self.assertEqual(json.loads(curl(f"http://127.0.0.1:{base_port}/x")[1])["path"], "/x")
        finally:
            proxy.stop()
            upstream.stop()

    def test_port_in_use_is_a_clear_error(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            yaml = BOOTSTRAP.format(port=port, primary=free_port(), canary=free_port(), down=free_port(),
                                    access_log="/dev/null")
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write(yaml)
                f.flush()
                p = subprocess.run([PROXY, "-c", f.name], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"127.0.0.1:{port}", p.stderr)

    def test_sigterm_drains_in_flight_requests(self):
        upstream = Upstream()
        port = free_port()
        proxy = Proxy(BOOTSTRAP.format(port=port, primary=upstream.port, canary=upstream.port,
                                       down=free_port(), access_log="/dev/null"), drain_time_s=10)
        try:
            results = []
            # x-canary selects the catch-all-timeout route: the upstream sleeps 1 s on /slow/1.
            t2 = threading.Thread(target=lambda: results.append(
                curl("-H", "x-canary: yes", f"http://127.0.0.1:{port}/slow/1", "-w", "\n%{http_code}")))
            t2.start()
            time.sleep(0.3)
            proxy.proc.send_signal(signal.SIGTERM)
            t2.join(15)
            self.assertEqual(len(results), 1)
            self.assertTrue(results[0][1].endswith("200"), results[0])
            proxy.proc.wait(15)
            self.assertEqual(proxy.proc.returncode, 0)
        finally:
            proxy.stop()
            upstream.stop()


class EnvoyConformanceTest(unittest.TestCase):
    """Envoy's own example configs, unchanged, from ../shared/conformance."""

    def config(self, name):
        path = os.path.join(SHARED, "conformance", "envoy-configs", name)
        if not os.path.exists(path):
            self.skipTest(f"{path} not present")
        return path

    def test_envoy_demo_serves_welcome_page(self):
        path = self.config("envoy-demo.yaml")
        for port in (10000, 10001):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    self.skipTest(f"port {port} is taken on this machine")
        proc = subprocess.Popen([PROXY, "-c", path, "--concurrency", "1", "-l", "warning"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            out = ""
            while time.time() < deadline:
                code, out, _ = curl("http://127.0.0.1:10000/")
                if code == 0 and out:
                    break
                time.sleep(0.1)
            self.assertIn("Welcome to Envoy", out)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)

    def test_front_proxy_config_validates(self):
        path = self.config("front-proxy_envoy.yaml")
        p = subprocess.run([PROXY, "--mode", "validate", "-c", path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
