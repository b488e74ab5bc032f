"""Helpers for integration tests: free ports, a real upstream HTTP server, starting weft-proxy
with a bootstrap file and waiting for its admin endpoint, all on loopback and cleaned up by PID."""
import http.server
import json
import os
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("WEFT_BUILD_DIR", os.path.join(ROOT, "build"))
# WEFT_PROXY picks another binary, e.g. the sanitizer build scripts/run-tests.sh makes.
PROXY = os.environ.get("WEFT_PROXY") or os.path.join(BUILD, "bin", "weft-proxy")
# Set when PROXY runs under AddressSanitizer, whose shadow memory voids RSS bounds.
SANITIZED = bool(os.environ.get("WEFT_SANITIZED"))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with a JSON description of what it received."""
    protocol_version = "HTTP/1.1"
    server_name_tag = "upstream"

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        path = self.path.split("?", 1)[0]
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in
                                                           self.headers.items()}, body))
        code = 200
        # Behaviours are chosen by a path segment, wherever it is (routes add prefixes).
        if (path.startswith("/slow") or "/slow/" in path) and "/flaky/" not in path:
            # /slow/<seconds>: answer after that long
            time.sleep(float(path.split("/")[-1] or "1"))
        if self.path.startswith("/status/"):
            code = int(self.path.split("/")[2])
        elif path == "/health":
            # Health checks probe /health; tests flip Upstream.health_status.
            code = self.server.health_status
        elif self.server.fixed_status:
            # An upstream that fails on purpose: every other request gets this status.
            code = self.server.fixed_status
        if "/flaky/" in path:
            # /flaky/<n>/<what>/<key>: the first n requests for <key> fail, then 200. <what> is an
            # HTTP status, "reset" (close without answering) or "slow" (answer after 1 s).
            n, what, key = path[path.index("/flaky/") + len("/flaky/"):].split("/", 2)
            with self.server.lock:
                count = self.server.counts.get(key, 0)
                self.server.counts[key] = count + 1
            if count < int(n):
                if what == "reset":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if what == "slow":
                    time.sleep(1)
                else:
                    code = int(what)
        if path.endswith("/reset"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if "/stall/" in path:
            # /stall/<seconds>: headers at once, the body that long after.
            self.send_response(200)
            self.send_header("content-length", "5")
            self.end_headers()
            self.wfile.flush()
            time.sleep(float(path.split("/")[-1]))
            self.wfile.write(b"late\n")
            return
        payload = json.dumps({
            "server": self.server.tag,
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("latin-1"),
        }).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


class EchoServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops SYNs when a proxy opens many connections at once.
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # The proxy resetting a request it gave up on (timeouts, retries) is expected here.
        import sys
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def init_upstream_state(server, tag):
    """What the echo handler keeps on its server: its tag, the requests seen, /flaky counts."""
    server.tag = tag
    server.seen = []
    server.counts = {}
    server.lock = threading.Lock()
    server.health_status = 200
    server.fixed_status = None


class Upstream:
    """A threaded HTTP/1.1 server on 127.0.0.1:<free port> that echoes requests as JSON."""

    def __init__(self, tag="upstream"):
        self.server = EchoServer(("127.0.0.1", 0), _EchoHandler)
        init_upstream_state(self.server, tag)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def seen(self):
        """(method, path, headers, body) of every request received, in order."""
        return self.server.seen

    def set_health_status(self, code):
        """What GET /health answers from now on."""
        self.server.health_status = code

    def set_fixed_status(self, code):
        """Answer every request except /health with `code` (None: echo normally)."""
        self.server.fixed_status = code

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Proxy:
    """weft-proxy started from a bootstrap YAML text; stopped by PID."""

    def __init__(self, bootstrap_yaml, concurrency=1, extra_args=(), drain_time_s=5,
                 wait_ready=True):
        """Waits for the admin's /ready 200, or (wait_ready False) only for the admin address:
        listeners warming for their secrets keep /ready at 503 INITIALIZING."""
        self.dir = tempfile.mkdtemp(prefix="weft-it-")
        self.config = os.path.join(self.dir, "bootstrap.yaml")
        with open(self.config, "w") as f:
            f.write(bootstrap_yaml)
        self.admin_path = os.path.join(self.dir, "admin.addr")
        self.log = open(os.path.join(self.dir, "proxy.log"), "w+")
        self.proc = subprocess.Popen(
            [PROXY, "-c", self.config, "--concurrency", str(concurrency), "-l", "info",
             "--admin-address-path", self.admin_path, "--drain-time-s", str(drain_time_s),
             *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.admin = None
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("weft-proxy exited: " + self.output())
            if os.path.exists(self.admin_path) and os.path.getsize(self.admin_path) > 0:
                with open(self.admin_path) as f:
                    self.admin = f.read().strip()
                if not wait_ready:
                    return
                try:
                    if self.admin_get("/ready")[0] == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("weft-proxy did not become ready: " + self.output())

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def admin_get(self, path, method="GET"):
        import http.client
        host, port = self.admin.rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request(method, path)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def curl(*args, timeout=10):
    """Runs curl and returns (exit code, stdout, stderr)."""
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout), *args],
                       capture_output=True, text=True, timeout=timeout + 5)
    return p.returncode, p.stdout, p.stderr


def raw_request(port, data, timeout=5, read_all=True):
    """Sends raw bytes and returns everything the proxy answers until it closes or times out."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                if not read_all:
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


def serve_forever(host, port, tag):
    """Runs the echo upstream in this process (for use inside a network namespace)."""
    server = EchoServer((host, port), _EchoHandler)
    init_upstream_state(server, tag)
    server.serve_forever()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve_forever(sys.argv[2], int(sys.argv[3]), sys.argv[4])
