"""tcp_proxy and HTTP Upgrade pass-through, end to end with raw sockets on loopback."""
import socket
import threading
import time
import unittest

from harness import SANITIZED, Proxy, free_port


class RawServer:
    """A TCP server on 127.0.0.1 whose per-connection behaviour is a function of the socket."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.running = False
        self.sock.close()


def echo_until_eof_then_bye(conn):
    """Echoes everything; when the client half-closes, sends 'bye' and closes."""
    while True:
        data = conn.recv(65536)
        if not data:
            conn.sendall(b"bye")
            return
        conn.sendall(data)


def websocket_like(conn):
    """Answers an Upgrade request with 101, then echoes raw bytes (what a WebSocket server does
    after its handshake, minus framing, which the proxy never looks at)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buf += chunk
    head = buf.split(b"\r\n\r\n", 1)[0].lower()
    if b"upgrade: websocket" not in head:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        return
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    rest = buf.split(b"\r\n\r\n", 1)[1]
    if rest:
        conn.sendall(rest)
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


TCP_BOOTSTRAP = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: tcp
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: echo
          cluster: echo
          idle_timeout: 1s
  - name: tcp_down
    address: {{socket_address: {{address: 127.0.0.1, port_value: {down_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: down
          cluster: down
  - name: http
    address: {{socket_address: {{address: 127.0.0.1, port_value: {http_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ws
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: ws}}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: echo
    connect_timeout: 1s
    load_assignment:
      cluster_name: echo
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {echo}}}}}}}}}]}}]
  - name: down
    connect_timeout: 1s
    load_assignment:
      cluster_name: down
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {closed}}}}}}}}}]}}]
  - name: ws
    connect_timeout: 1s
    load_assignment:
      cluster_name: ws
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {ws}}}}}}}}}]}}]
"""


def recv_exactly(sock, n, timeout=5):
    sock.settimeout(timeout)
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def read_http_response(sock, timeout=30):
    """Reads one HTTP/1.1 response with a Content-Length; returns (head, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(length - len(body))
    return head, body


class TcpProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = RawServer(echo_until_eof_then_bye)
        cls.ws = RawServer(websocket_like)
        cls.port, cls.down_port, cls.http_port = free_port(), free_port(), free_port()
        cls.proxy = Proxy(TCP_BOOTSTRAP.format(port=cls.port, down_port=cls.down_port,
                                               http_port=cls.http_port, echo=cls.echo.port,
                                               closed=free_port(), ws=cls.ws.port))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.echo.stop()
        cls.ws.stop()

    def test_bytes_flow_both_ways_and_half_close_is_forwarded(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            payload = bytes(range(256)) * 4096  # 1 MiB, more than one buffer's worth
            sender = threading.Thread(target=s.sendall, args=(payload,))
            sender.start()
            echoed = recv_exactly(s, len(payload), timeout=10)
            sender.join()
            self.assertEqual(echoed, payload)
            # Half-close: the upstream sees EOF, answers, and closes; we still read its answer.
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_exactly(s, 3), b"bye")
            self.assertEqual(s.recv(1), b"")

    def test_idle_timeout_closes_the_connection(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"ping")
            self.assertEqual(recv_exactly(s, 4), b"ping")
            s.settimeout(5)
            start = time.monotonic()
            self.assertEqual(s.recv(1), b"")  # closed by the proxy after ~1 s of silence
            self.assertGreater(time.monotonic() - start, 0.5)
        status, body = self.proxy.admin_get("/stats?filter=tcp.echo")
        self.assertIn("tcp.echo.idle_timeout: ", body)
        self.assertNotIn("tcp.echo.idle_timeout: 0\n", body)

    def test_unreachable_upstream_closes_the_client(self):
        with socket.create_connection(("127.0.0.1", self.down_port), timeout=5) as s:
            s.settimeout(5)
            self.assertEqual(s.recv(1), b"")
        status, body = self.proxy.admin_get("/stats?filter=cluster.down.upstream_cx_connect_fail")
        self.assertNotIn("upstream_cx_connect_fail: 0\n", body)

    def test_websocket_upgrade_passes_through(self):
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=5) as s:
            s.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            s.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(1)
                self.assertTrue(chunk, head)
                head += chunk
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
            self.assertIn(b"upgrade: websocket", head.lower())
            for message in (b"\x81\x05hello", b"\x82\x03abc" * 1000):
                s.sendall(message)
                self.assertEqual(recv_exactly(s, len(message)), message)


if __name__ == "__main__":
    unittest.main(verbosity=2)


@unittest.skipIf(SANITIZED, "RSS bounds do not hold under AddressSanitizer's shadow memory")
class FlowControlTest(unittest.TestCase):
    """A slow client must not make the proxy buffer a fast upstream's whole response: the
    write-side watermark pauses reading from the upstream until the client catches up."""

    BODY = 64 * 1024 * 1024

    @staticmethod
    def big_response(conn):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buf += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % FlowControlTest.BODY)
        block = b"x" * (1 << 20)
        for _ in range(FlowControlTest.BODY // len(block)):
            conn.sendall(block)

    def test_slow_reader_keeps_proxy_memory_bounded(self):
        upstream = RawServer(self.big_response)
        port = free_port()
        proxy = Proxy(TCP_BOOTSTRAP.format(port=free_port(), down_port=free_port(), http_port=port,
                                           echo=upstream.port, closed=free_port(), ws=upstream.port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
                received = 0
                peak_rss_kb = 0
                deadline = time.time() + 60
                while received < self.BODY and time.time() < deadline:
                    chunk = s.recv(256 * 1024)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received % (8 << 20) < len(chunk):
                        # Read slowly at first so the upstream is far ahead of us.
                        time.sleep(0.2)
                        with open(f"/proc/{proxy.proc.pid}/status") as f:
                            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
                        peak_rss_kb = max(peak_rss_kb, rss)
            self.assertGreaterEqual(received, self.BODY)  # (plus the response head)
            # The whole response is 64 MiB; a proxy that did not stop reading would hold most of
            # it. With 1 MiB watermarks the proxy stays within a few MiB of its idle size.
            self.assertLess(peak_rss_kb, 32 * 1024, f"peak RSS {peak_rss_kb} KiB")
        finally:
            proxy.stop()
            upstream.stop()


INSPECTOR_BOOTSTRAP = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: inbound
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    listener_filters:
    - name: envoy.filters.listener.http_inspector
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector
    filter_chains:
    - filter_chain_match: {{application_protocols: ["http/1.1", "http/1.0", "h2c"]}}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound_http
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "http chain"}}}}
          http_filters:
          - name: envoy.filters.http.router
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: inbound_tcp
          cluster: echo
  clusters:
  - name: echo
    load_assignment:
      cluster_name: echo
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {echo}}}}}}}}}]}}]
"""


@unittest.skipIf(SANITIZED, "RSS bounds do not hold under AddressSanitizer's shadow memory")
class UploadFlowControlTest(unittest.TestCase):
    """The other direction: a client uploading faster than the upstream reads must be paused,
    not buffered whole in the proxy."""

    BODY = 64 * 1024 * 1024

    @staticmethod
    def slow_reader(conn):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        got = len(buf.split(b"\r\n\r\n", 1)[1])
        time.sleep(1.5)  # not reading: the client's bytes pile up wherever they are let to
        while got < UploadFlowControlTest.BODY:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            got += len(chunk)
        body = b"%d" % got
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))

    def test_fast_upload_to_slow_upstream_keeps_proxy_memory_bounded(self):
        upstream = RawServer(self.slow_reader)
        port = free_port()
        proxy = Proxy(TCP_BOOTSTRAP.format(port=free_port(), down_port=free_port(), http_port=port,
                                           echo=upstream.port, closed=free_port(), ws=upstream.port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % self.BODY)
                block = b"u" * (1 << 20)
                sender = threading.Thread(
                    target=lambda: [s.sendall(block) for _ in range(self.BODY // len(block))])
                sender.start()
                time.sleep(1.0)  # the upstream is not reading yet
                with open(f"/proc/{proxy.proc.pid}/status") as f:
                    rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
                sender.join(60)
                head, body = read_http_response(s)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
            self.assertEqual(body, b"%d" % self.BODY)
            self.assertLess(rss_kb, 32 * 1024, f"RSS {rss_kb} KiB while the upstream was not reading")
        finally:
            proxy.stop()
            upstream.stop()


class HttpInspectorTest(unittest.TestCase):
    """One port, two protocols: the http_inspector sends HTTP to the HTTP chain and anything
    else to tcp_proxy, as Istio's inbound listeners do."""

    def test_http_and_raw_tcp_share_a_port(self):
        echo = RawServer(echo_until_eof_then_bye)
        port = free_port()
        proxy = Proxy(INSPECTOR_BOOTSTRAP.format(port=port, echo=echo.port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                self.assertIn(b"http chain", recv_exactly(s, 1000))
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                raw = b"\x16\x03\x01not http at all"
                s.sendall(raw)
                self.assertEqual(recv_exactly(s, len(raw)), raw)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                # The request line arrives in pieces: the inspector waits for enough of it.
                s.sendall(b"GE")
                time.sleep(0.2)
                s.sendall(b"T /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                self.assertIn(b"http chain", recv_exactly(s, 1000))
        finally:
            proxy.stop()
            echo.stop()
