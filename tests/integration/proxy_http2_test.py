"""weft-proxy over HTTP/2 (h2c, prior knowledge) end to end: curl, h2load, nghttp and nghttpd as
real clients and upstreams, plus an HTTP/1 upstream and a hand-rolled HTTP/2 upstream that resets
every stream. Everything on loopback; processes we start are stopped by PID."""
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Proxy, Upstream, curl, free_port

BIG = 8 * 1024 * 1024 + 123  # over 8 MiB: many windows' worth in both directions


def h2_cluster(name, port, style="explicit", extra=""):
    """A cluster that speaks HTTP/2 to its endpoint: via typed_extension_protocol_options
    (explicit or use_downstream), or Envoy's deprecated cluster-level http2_protocol_options."""
    if style == "explicit":
        proto = """
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {%s}""" % extra
    elif style == "downstream":
        proto = """
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        use_downstream_protocol_config:
          http_protocol_options: {}
          http2_protocol_options: {}"""
    else:
        proto = "\n    http2_protocol_options: {%s}" % extra
    return cluster(name, port) + proto


def cluster(name, port):
    return f"""
  - name: {name}
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}"""


def bootstrap(port, access_log, routes, clusters, codec_type="AUTO", hcm_extra="",
              drain_timeout="0.5s"):
    route_yaml = "".join(
        f"""
              - match: {{prefix: "{prefix}"}}
                route: {{cluster: {name}, timeout: 60s}}""" for prefix, name in routes)
    return f"""
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
          codec_type: {codec_type}
          drain_timeout: {drain_timeout}{hcm_extra}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {access_log}
              log_format:
                text_format_source:
                  inline_string: "%PROTOCOL% %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER%\\n"
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:{route_yaml}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:{"".join(clusters)}
"""


class _HashHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 upstream: /sha256 answers the hash of the request body, /bytes/N sends N
    deterministic bytes, anything else echoes the request as JSON (harness-style)."""
    protocol_version = "HTTP/1.1"

    def _body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def _answer(self):
        body = self._body()
        if self.path.startswith("/sha256"):
            payload = json.dumps({"sha256": hashlib.sha256(body).hexdigest(),
                                  "length": len(body)}).encode()
        elif self.path.startswith("/bytes/"):
            payload = pattern(int(self.path.split("/")[2]))
        else:
            payload = json.dumps({"path": self.path, "method": self.command,
                                  "headers": {k.lower(): v for k, v in self.headers.items()},
                                  "body_length": len(body)}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


def pattern(n):
    block = bytes(range(256)) * 16
    return (block * (n // len(block) + 1))[:n]


class HashUpstream:
    def __init__(self):
        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256
        self.server = Server(("127.0.0.1", 0), _HashHandler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ResettingH2Upstream:
    """An HTTP/2 server that answers every stream's HEADERS with RST_STREAM (INTERNAL_ERROR).
    Frames are built by hand (RFC 9113 §4.1): no HPACK is needed to refuse everything."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.resets = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def frame(ftype, flags, stream, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", stream) + payload

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            buf = b""
            try:
                conn.sendall(self.frame(4, 0, 0))  # our SETTINGS (empty)
                while len(buf) < 24:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[24:]  # the client preface
                while True:
                    while len(buf) >= 9:
                        length = int.from_bytes(buf[:3], "big")
                        if len(buf) < 9 + length:
                            break
                        ftype, flags = buf[3], buf[4]
                        stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                        buf = buf[9 + length:]
                        if ftype == 4 and not flags & 1:
                            conn.sendall(self.frame(4, 1, 0))  # SETTINGS ACK
                        elif ftype == 1:
                            self.resets += 1
                            conn.sendall(self.frame(3, 0, stream, struct.pack(">I", 2)))
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
            except OSError:
                return

    def stop(self):
        self.stopped = True
        self.sock.close()


class Nghttpd:
    """nghttpd (Debian's nghttp2-server) as an h2c upstream serving `docroot`."""

    def __init__(self, docroot, *flags):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", docroot, *flags, str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nghttpd did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stat(proxy, name):
    status, body = proxy.admin_get("/stats?format=json")
    for s in json.loads(body)["stats"]:
        if s.get("name") == name:
            return s.get("value")
    return None


def h2load(*args, timeout=120):
    p = subprocess.run(["h2load", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def h2load_counts(output):
    """(total, succeeded, failed, errored, 2xx) from h2load's summary."""
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored", output)
    codes = re.search(r"status codes: (\d+) 2xx", output)
    if not m or not codes:
        raise AssertionError("unexpected h2load output:\n" + output)
    return tuple(int(x) for x in m.groups()) + (int(codes.group(1)),)


class Http2Base(unittest.TestCase):
    codec_type = "AUTO"
    drain_timeout = "0.5s"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weft-h2-")
        cls.docroot = os.path.join(cls.tmp, "htdocs")
        os.mkdir(cls.docroot)
        with open(os.path.join(cls.docroot, "index.html"), "wb") as f:
            f.write(b"hello over h2\n")
        cls.big = pattern(BIG)
        with open(os.path.join(cls.docroot, "big.bin"), "wb") as f:
            f.write(cls.big)
        cls.h1 = HashUpstream()
        cls.nghttpd = Nghttpd(cls.docroot, "--echo-upload", "--trailer", "x-h2-trailer: done",
                             "--no-content-length")
        cls.nghttpd_limited = Nghttpd(cls.docroot, "-m", "2")
        cls.resetting = ResettingH2Upstream()
        cls.port = free_port()
        cls.access_log = os.path.join(cls.tmp, "access.log")
        routes = [("/h1/", "h1"), ("/sha256", "h1"), ("/bytes/", "h1"),
                  ("/h2/", "nghttpd"), ("/legacy/", "nghttpd_legacy"),
                  ("/limited/", "nghttpd_limited"), ("/reset", "resetting"),
                  ("/same/", "same_protocol"), ("/", "nghttpd")]
        clusters = [cluster("h1", cls.h1.port),
                    h2_cluster("nghttpd", cls.nghttpd.port),
                    h2_cluster("nghttpd_legacy", cls.nghttpd.port, style="legacy"),
                    h2_cluster("nghttpd_limited", cls.nghttpd_limited.port,
                               extra="max_concurrent_streams: 100"),
                    h2_cluster("resetting", cls.resetting.port),
                    h2_cluster("same_protocol", cls.h1.port, style="downstream")]
        cls.proxy = Proxy(bootstrap(cls.port, cls.access_log, routes, clusters,
                                    codec_type=cls.codec_type,
                                    drain_timeout=cls.drain_timeout), concurrency=2)
        cls.url = f"http://127.0.0.1:{cls.port}"

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.nghttpd.stop()
        cls.nghttpd_limited.stop()
        cls.resetting.stop()
        cls.h1.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def h2curl(self, *args, timeout=30):
        return curl("--http2-prior-knowledge", *args, timeout=timeout)

    def access_log_lines(self, needle, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.access_log):
                with open(self.access_log) as f:
                    lines = [l for l in f if needle in l]
                if lines:
                    return lines
            time.sleep(0.1)
        return []


class Http2ProxyTest(Http2Base):
    def test_h2_client_to_h1_upstream_gets_host_from_authority(self):
        rc, out, err = self.h2curl("-H", "cookie: a=1", "-H", "cookie: b=2",
                                   self.url + "/h1/echo?x=1")
        self.assertEqual(rc, 0, err)
        echo = json.loads(out)
        self.assertEqual(echo["path"], "/h1/echo?x=1")
        self.assertEqual(echo["headers"]["host"], f"127.0.0.1:{self.port}")
        # HTTP/2's split cookie fields arrive as one HTTP/1 field (RFC 9113 §8.2.3).
        self.assertEqual(echo["headers"]["cookie"], "a=1; b=2")
        self.assertTrue(self.access_log_lines("HTTP/2 GET /h1/echo?x=1 200"))

    def test_h2_client_to_nghttpd(self):
        rc, out, err = self.h2curl("-sS", "-D", "-", self.url + "/index.html")
        self.assertEqual(rc, 0, err)
        self.assertIn("HTTP/2 200", out)
        self.assertIn("\n\nhello over h2\n", out)
        # The upstream's trailer passed HTTP/2 to HTTP/2 (curl -D prints it after the body).
        self.assertTrue(out.endswith("x-h2-trailer: done\n"), out)

    def test_h1_client_to_h2_upstream_sends_scheme_and_authority(self):
        # nghttpd refuses a request without :scheme or :authority, so a 200 proves both.
        rc, out, err = curl("--http1.1", "-D", "-", self.url + "/h2/../index.html")
        self.assertEqual(rc, 0, err)
        self.assertIn("HTTP/1.1 200", out)
        self.assertIn("\n\nhello over h2\n", out)
        self.assertNotIn("connection: keep-alive\r\nconnection", out)

    def test_h2_upstream_trailers_reach_h1_client_as_chunked_trailers(self):
        port = self.port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /index.html HTTP/1.1\r\nhost: x\r\nte: trailers\r\n\r\n")
            data = b""
            while not data.endswith(b"\r\n\r\n") or b"0\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"transfer-encoding: chunked", head.lower())
        self.assertIn(b"hello over h2\n", body)
        self.assertIn(b"0\r\nx-h2-trailer: done\r\n\r\n", body)

    def test_deprecated_cluster_http2_protocol_options(self):
        rc, out, err = curl("--http1.1", self.url + "/legacy/../index.html")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "hello over h2\n")

    def test_use_downstream_protocol_keeps_http1_for_http1(self):
        rc, out, err = curl("--http1.1", self.url + "/same/x")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["path"], "/same/x")

    def test_large_download_and_upload_through_h2_flow_control(self):
        # Download: nghttpd -> weft (HTTP/2 upstream windows) -> curl (HTTP/2 downstream).
        out_path = os.path.join(self.tmp, "download.bin")
        rc, _, err = self.h2curl("-o", out_path, self.url + "/big.bin", timeout=60)
        self.assertEqual(rc, 0, err)
        with open(out_path, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             hashlib.sha256(self.big).hexdigest())
        # Upload over HTTP/2 to an HTTP/1 upstream that hashes what it got.
        src = os.path.join(self.docroot, "big.bin")
        rc, out, err = self.h2curl("--data-binary", "@" + src, self.url + "/sha256", timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["sha256"], hashlib.sha256(self.big).hexdigest())
        # Both ways over HTTP/2 upstream: nghttpd --echo-upload sends the body back.
        rc, _, err = self.h2curl("--data-binary", "@" + src, "-o", out_path,
                                 self.url + "/h2/echo", timeout=60)
        self.assertEqual(rc, 0, err)
        with open(out_path, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             hashlib.sha256(self.big).hexdigest())

    def test_h2load_through_weft_all_2xx(self):
        rc, out = h2load("-c", "4", "-m", "10", "-n", "2000", self.url + "/index.html")
        total, ok, failed, errored, twoxx = h2load_counts(out)
        self.assertEqual((total, ok, failed, errored, twoxx), (2000, 2000, 0, 0, 2000), out)
        # And to the HTTP/1 upstream.
        rc, out = h2load("-c", "4", "-m", "10", "-n", "1000", self.url + "/h1/x")
        self.assertEqual(h2load_counts(out), (1000, 1000, 0, 0, 1000), out)

    def test_many_streams_on_one_connection(self):
        before = stat(self.proxy, "http.ingress_http.downstream_cx_http2_total")
        rc, out = h2load("-c", "1", "-m", "100", "-n", "500", self.url + "/index.html")
        self.assertEqual(h2load_counts(out), (500, 500, 0, 0, 500), out)
        after = stat(self.proxy, "http.ingress_http.downstream_cx_http2_total")
        self.assertEqual(after - before, 1)
        self.assertGreaterEqual(stat(self.proxy, "http.ingress_http.downstream_rq_http2_total"),
                                500)

    def test_upstream_multiplexes_and_respects_peer_max_concurrent_streams(self):
        before = stat(self.proxy, "cluster.nghttpd_limited.upstream_cx_http2_total") or 0
        rc, out = h2load("-c", "1", "-m", "20", "-n", "200", self.url + "/limited/../index.html")
        self.assertEqual(h2load_counts(out), (200, 200, 0, 0, 200), out)
        opened = stat(self.proxy, "cluster.nghttpd_limited.upstream_cx_http2_total") - before
        # nghttpd -m 2 allows two streams per connection: 20 concurrent requests need several
        # connections, but far fewer than one per request.
        self.assertGreater(opened, 1)
        self.assertLess(opened, 200)
        # The default cluster carries everything on very few connections.
        self.assertLessEqual(stat(self.proxy, "cluster.nghttpd.upstream_cx_http2_total"), 20)

    def test_upstream_rst_stream_is_503_ur(self):
        rc, out, err = self.h2curl("-o", "/dev/null", "-w", "%{http_code}", self.url + "/reset")
        self.assertEqual(out, "503")
        self.assertTrue(self.access_log_lines("HTTP/2 GET /reset 503 UR resetting"),
                        open(self.access_log).read())
        rc, out, err = curl("--http1.1", "-o", "/dev/null", "-w", "%{http_code}",
                            self.url + "/reset")
        self.assertEqual(out, "503")
        self.assertGreaterEqual(stat(self.proxy, "cluster.resetting.upstream_rq_rx_reset"), 2)

    def test_stats_name_protocols(self):
        self.assertGreater(stat(self.proxy, "http.ingress_http.downstream_cx_http2_total"), 0)
        curl("--http1.1", self.url + "/h1/x")
        self.assertGreater(stat(self.proxy, "http.ingress_http.downstream_cx_http1_total"), 0)
        self.assertGreater(stat(self.proxy, "http.ingress_http.downstream_rq_http1_total"), 0)
        self.assertGreater(stat(self.proxy, "cluster.nghttpd.upstream_cx_http2_total"), 0)
        self.assertGreater(stat(self.proxy, "cluster.h1.upstream_cx_http1_total"), 0)


class Http2AutoDetectTest(Http2Base):
    """codec_type AUTO on one listener: HTTP/1.1 and HTTP/2 prior-knowledge clients alike."""

    def test_both_protocols_on_one_listener(self):
        rc, out, err = curl("--http1.1", "-D", "-", self.url + "/h1/a")
        self.assertEqual(rc, 0, err)
        self.assertIn("HTTP/1.1 200", out)
        rc, out, err = self.h2curl("-D", "-", self.url + "/h1/b")
        self.assertEqual(rc, 0, err)
        self.assertIn("HTTP/2 200", out)
        self.assertTrue(self.access_log_lines("HTTP/1.1 GET /h1/a 200"))
        self.assertTrue(self.access_log_lines("HTTP/2 GET /h1/b 200"))

    def test_preface_split_across_reads(self):
        # The first bytes say neither yet: the codec is chosen once the preface is complete.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n")
            time.sleep(0.2)
            s.sendall(b"\r\nSM\r\n\r\n" + ResettingH2Upstream.frame(4, 0, 0))
            data = s.recv(65536)
        self.assertGreaterEqual(len(data), 9)
        self.assertEqual(data[3], 4)  # the server's SETTINGS frame

    def test_garbage_after_preface_is_goaway_and_counted(self):
        before = stat(self.proxy, "http.ingress_http.downstream_cx_protocol_error") or 0
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            # A DATA frame on stream 0 is a connection error (RFC 9113 §6.1).
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + ResettingH2Upstream.frame(4, 0, 0) +
                      ResettingH2Upstream.frame(0, 0, 0, b"xx"))
            data = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass
        frames = []
        while len(data) >= 9:
            length = int.from_bytes(data[:3], "big")
            frames.append(data[3])
            data = data[9 + length:]
        self.assertIn(7, frames)  # GOAWAY, then the connection closed
        deadline = time.time() + 5
        while time.time() < deadline and \
                (stat(self.proxy, "http.ingress_http.downstream_cx_protocol_error") or 0) <= before:
            time.sleep(0.1)
        self.assertGreater(stat(self.proxy, "http.ingress_http.downstream_cx_protocol_error"),
                           before)


class Http2DrainTest(Http2Base):
    # The final GOAWAY comes drain_timeout after the first; streams the client sent in the
    # meantime that had not reached the proxy yet are refused by it (RFC 9113 §6.8: not
    # processed, safe to retry), which h2load counts as failed. With the final GOAWAY after the
    # load has ended, the test sees exactly what it checks: no stream lost to the first GOAWAY.
    drain_timeout = "10s"
    def test_goaway_on_drain_loses_no_started_stream(self):
        p = subprocess.Popen(["h2load", "-c", "4", "-m", "10", "-D", "3", self.url + "/h1/x"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Drain once every h2load connection is up and streaming (a slow machine may take
        # longer than a fixed sleep), so the drain lands mid-load.
        deadline = time.time() + 15
        while ((stat(self.proxy, "http.ingress_http.downstream_cx_http2_active") or 0) < 4 or
               (stat(self.proxy, "http.ingress_http.downstream_rq_http2_total") or 0) < 100):
            self.assertLess(time.time(), deadline, "h2load did not get going")
            time.sleep(0.05)
        self.assertEqual(self.proxy.admin_get("/drain_listeners", method="POST")[0], 200)
        out, _ = p.communicate(timeout=60)
        total, ok, failed, errored, twoxx = h2load_counts(out)
        self.assertGreater(ok, 0, out)
        self.assertEqual(ok, twoxx, out)
        # h2load may still try to open streams on a connection that got the GOAWAY; its nghttp2
        # refuses them before they are sent ("Process Request Failure", counted failed and
        # errored), which is the GOAWAY working. What must hold is on the proxy's side: every
        # stream it received finished with a 200 and no failure flag, and their number is
        # exactly what h2load saw succeed.
        deadline = time.time() + 5
        lines = []
        while time.time() < deadline:
            lines = self.access_log_lines(" /h1/x ")
            if len(lines) >= ok:
                break
            time.sleep(0.2)
        self.assertEqual(len(lines), ok, out)
        for line in lines:
            self.assertRegex(line, r" /h1/x 200 - h1$", line)
        # New connections are not accepted after the drain.
        rc, _, _ = self.h2curl(self.url + "/h1/x", timeout=3)
        self.assertNotEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
