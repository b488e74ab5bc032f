"""What the four Bookinfo services share: the `--listen` flag, a threaded HTTP/1.1 keep-alive
server, `GET /health`, JSON answers, and upstream calls that forward the request's tracing and
routing headers (the services are the only link between an inbound request and the outbound
calls it causes, so a mesh cannot carry these headers for them: Istio's Bookinfo forwards the same
set).

Python 3 standard library only, so the services run anywhere `python3` does, including inside a
workload's network namespace with nothing installed.
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

# Headers copied from the inbound request onto every upstream call. end-user carries the user for
# Istio's header-match routing (virtual-service-reviews-test-v2.yaml); the others are trace
# context (W3C traceparent/tracestate, Zipkin's B3 in both forms, Envoy's x-request-id).
# Cookies are NOT forwarded: productpage turns its session cookie into end-user.
FORWARDED = ("end-user", "x-request-id", "traceparent", "tracestate", "b3", "user-agent")
FORWARDED_PREFIXES = ("x-b3-",)


def forwarded_headers(headers):
    """The subset of `headers` (an http.client/email Message or a dict) to send upstream."""
    out = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in FORWARDED or lower.startswith(FORWARDED_PREFIXES):
            out[lower] = value
    return out


def instance_name(service):
    """What a page shows as "served by": the workload's name when weftctl started us."""
    return os.environ.get("WEFT_WORKLOAD") or "%s@%s" % (service, socket.gethostname())


class UpstreamError(Exception):
    """An upstream call that did not produce an answer (refused, reset, timed out)."""


class _ConnectionPool:
    """Idle keep-alive connections per (host, port), shared by all request threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.idle = {}

    def take(self, key, timeout):
        with self.lock:
            conns = self.idle.get(key)
            if conns:
                conn = conns.pop()
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn, True
        return http.client.HTTPConnection(key[0], key[1], timeout=timeout), False

    def give_back(self, key, conn):
        with self.lock:
            conns = self.idle.setdefault(key, [])
            if len(conns) < 16:
                conns.append(conn)
                return
        conn.close()


_POOL = _ConnectionPool()


def get_json(url, headers, timeout):
    """GET `url` -> (status, decoded JSON or None). Raises UpstreamError when there is no answer
    within `timeout` seconds (the deadline covers the whole exchange, not each read)."""
    parts = urllib.parse.urlsplit(url)
    key = (parts.hostname, parts.port or 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamError("%s: timed out after %.1fs" % (url, timeout))
        conn, reused = _POOL.take(key, remaining)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            # A kept-alive connection the server closed meanwhile: one more try on a new one.
            if reused and not isinstance(e, (socket.timeout, TimeoutError)):
                continue
            raise UpstreamError("%s: %s" % (url, e or type(e).__name__)) from e
        if resp.will_close:
            conn.close()
        else:
            _POOL.give_back(key, conn)
        try:
            return resp.status, json.loads(body) if body else None
        except ValueError:
            return resp.status, None


class Handler(http.server.BaseHTTPRequestHandler):
    """Base of each service's handler: HTTP/1.1 keep-alive, /health, JSON and HTML answers."""
    protocol_version = "HTTP/1.1"
    service = "bookinfo"

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/health":
            self.send_json(200, {"status": "%s is healthy" % self.service})
            return
        self.route("GET", path)

    def do_POST(self):
        self.route("POST", urllib.parse.urlsplit(self.path).path)

    def route(self, method, path):
        self.send_json(404, {"error": "%s %s: not found" % (method, path)})

    def query(self):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def send_body(self, status, content_type, body, extra_headers=None):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, extra_headers=None):
        self.send_body(status, "application/json", json.dumps(obj).encode(), extra_headers)

    def send_html(self, status, text, extra_headers=None):
        self.send_body(status, "text/html; charset=utf-8", text.encode(), extra_headers)

    def log_message(self, fmt, *args):
        # One line per request on stderr (app.log under weftctl): client, request line, status.
        sys.stderr.write("%s %s %s\n" % (self.service, self.address_string(), fmt % args))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a burst of new connections from a sidecar is not refused

    def handle_error(self, request, client_address):
        # A client (or its sidecar) closing a connection mid-answer is not our error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(handler, description):
    """Parses --listen HOST:PORT (default 0.0.0.0:9080, Bookinfo's port; the host is
    $WEFT_LISTEN_ADDRESS when set, which `weftctl add-to-mesh --no-capture` sets to where its
    sidecar sends inbound traffic) and serves forever; SIGTERM stops it cleanly (weftctl
    remove-from-mesh sends it)."""
    parser = argparse.ArgumentParser(description=description)
    default_host = os.environ.get("WEFT_LISTEN_ADDRESS") or "0.0.0.0"
    parser.add_argument("--listen", default=default_host + ":9080", metavar="HOST:PORT")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    server = _Server((host or "0.0.0.0", int(port)), handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    sys.stderr.write("%s listening on %s:%d\n" % (handler.service, *server.server_address[:2]))
    sys.stderr.flush()
    server.serve_forever()
    server.server_close()
