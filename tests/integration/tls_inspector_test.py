"""envoy.filters.listener.tls_inspector end to end: one listener port whose filter chains are
chosen by what the ClientHello says (transport_protocol, server_names, application_protocols),
so a PERMISSIVE port serves plaintext (curl) and Istio-style mTLS (openssl s_client -alpn istio,
python ssl with a client certificate); STRICT closes plaintext; network RBAC decides after the
handshake on the peer's verified URI SAN; listener_filters_timeout on a silent client."""
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Proxy, Upstream, curl, free_port
from tls_test import CLIENT_ID, OTHER_ID, TlsTestBase, downstream_tls

ISTIO_ALPNS = ["istio", "istio-http/1.1"]  # what Istio's inbound mTLS chain matches on
NET_RBAC = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"


def hcm(stat_prefix, access_log, body=None):
    """An HTTP connection manager routing to cluster backend, or answering `body` directly."""
    route = {"match": {"prefix": "/"}}
    if body:
        route["direct_response"] = {"status": 200, "body": {"inline_string": body}}
    else:
        route["route"] = {"cluster": "backend"}
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat_prefix,
            "access_log": [{"name": "envoy.access_loggers.file", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": access_log,
                "log_format": {"text_format_source": {"inline_string":
                    "%RESPONSE_CODE% tls=%DOWNSTREAM_TLS_VERSION% san=%DOWNSTREAM_PEER_URI_SAN% "
                    "sni=%REQUESTED_SERVER_NAME% cipher=%DOWNSTREAM_TLS_CIPHER% "
                    "subject=%DOWNSTREAM_PEER_SUBJECT%\n"}}}}],
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"],
                                                "routes": [route]}]},
            "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}


def tcp_proxy(stat_prefix, access_log=None):
    config = {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
              "stat_prefix": stat_prefix, "cluster": "backend"}
    if access_log:
        config["access_log"] = [{"name": "envoy.access_loggers.file", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": access_log,
            "log_format": {"text_format_source": {"inline_string":
                "tcp tls=%DOWNSTREAM_TLS_VERSION% san=%DOWNSTREAM_PEER_URI_SAN% "
                "sni=%REQUESTED_SERVER_NAME% cipher=%DOWNSTREAM_TLS_CIPHER% "
                "subject=%DOWNSTREAM_PEER_SUBJECT%\n"}}}}]
    return {"name": "envoy.filters.network.tcp_proxy", "typed_config": config}


def config(port, upstream_port, chains, listener_extra=None):
    listener = {"name": "inbound", "address": {"socket_address": {
        "address": "127.0.0.1", "port_value": port}},
        "listener_filters": [{"name": "envoy.filters.listener.tls_inspector", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}}],
        "filter_chains": chains}
    listener.update(listener_extra or {})
    return json.dumps({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [listener],
            "clusters": [{"name": "backend", "connect_timeout": "2s", "type": "STATIC",
                          "load_assignment": {"cluster_name": "backend", "endpoints": [{
                              "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                                  "address": "127.0.0.1", "port_value": upstream_port}}}}]}]}}]}})


class TlsInspectorTestBase(TlsTestBase):
    def start_chains(self, upstream_port, chains, **listener_extra):
        self.port = free_port()
        log_dir = tempfile.mkdtemp(prefix="weft-tlsi-log-")
        self.access_log = os.path.join(log_dir, "access.log")
        built = [c(self.access_log) if callable(c) else c for c in chains]
        self.proxy = Proxy(config(self.port, upstream_port, built, listener_extra))

    def mtls_chain(self, filter_factory=None, network_filters=(), san=None, **chain_extra):
        def build(access_log):
            terminal = filter_factory(access_log) if filter_factory else hcm("mtls", access_log)
            chain = {"name": "mtls",
                     "filter_chain_match": {"transport_protocol": "tls",
                                            "application_protocols": ISTIO_ALPNS},
                     "filters": [*network_filters, terminal],
                     "transport_socket": downstream_tls(self.pki, require_client=True, san=san,
                                                        alpn=["istio-http/1.1", "istio"])}
            chain.update(chain_extra)
            return chain
        return build

    def plaintext_chain(self):
        return lambda access_log: {"name": "plaintext",
                                   "filter_chain_match": {"transport_protocol": "raw_buffer"},
                                   "filters": [hcm("plain", access_log)]}

    def client_context(self, cert="client", alpn=ISTIO_ALPNS):
        context = ssl.create_default_context(cafile=self.pki["ca.pem"])
        context.check_hostname = False  # the server certificate names localhost
        if cert:
            context.load_cert_chain(self.pki[f"{cert}.pem"], self.pki[f"{cert}.key"])
        if alpn:
            context.set_alpn_protocols(alpn)
        return context

    def https_get(self, context, sni="localhost", path="/hello"):
        """One HTTP/1.1 request over TLS; returns (status line, body) or raises on a closed
        connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0].decode(), body.decode()

    def counter(self, name):
        value = self.stat(name)
        return 0 if value is None else value


class PermissiveTest(TlsInspectorTestBase):
    def test_one_port_serves_plaintext_and_mtls(self):
        upstream = self.plain_upstream()
        self.start_chains(upstream.port, [self.mtls_chain(), self.plaintext_chain()])
        # Plaintext HTTP (the http request's first byte is not a ClientHello).
        rc, out, err = curl(f"http://127.0.0.1:{self.port}/plain")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["path"], "/plain")
        # mTLS with Istio's ALPN, python ssl with a client certificate.
        status, body = self.https_get(self.client_context())
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(json.loads(body)["path"], "/hello")
        # openssl s_client offering only "istio", as a sidecar's tcp mTLS does.
        request = b"GET /openssl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        p = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}", "-alpn", "istio",
             "-CAfile", self.pki["ca.pem"], "-cert", self.pki["client.pem"],
             "-key", self.pki["client.key"], "-quiet", "-ign_eof"],
            input=request, capture_output=True, timeout=20)
        self.assertIn(b"HTTP/1.1 200", p.stdout, p.stderr)
        self.assertIn(b'"/openssl"', p.stdout)
        self.assertEqual(self.counter("tls_inspector.tls_found"), 2)
        self.assertEqual(self.counter("tls_inspector.tls_not_found"), 1)
        self.assertEqual(self.counter("tls_inspector.alpn_found"), 2)
        self.assertEqual(self.counter("http.mtls.downstream_rq_2xx"), 2)
        self.assertEqual(self.counter("http.plain.downstream_rq_2xx"), 1)
        log = self.access_log_text(CLIENT_ID)
        self.assertIn(f"200 tls=TLSv1.3 san={CLIENT_ID} sni=localhost cipher=TLS_", log)
        self.assertIn("subject=CN=client", log)
        self.assertIn("200 tls=- san=- sni=- cipher=- subject=-", log)

    def test_tls_without_the_mesh_alpn_matches_no_chain(self):
        self.start_chains(self.plain_upstream().port, [self.mtls_chain(), self.plaintext_chain()])
        prefix = f"listener.127.0.0.1_{self.port}."
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.https_get(self.client_context(alpn=["h2", "http/1.1"]))
        self.assertEqual(self.counter(prefix + "no_filter_chain_match"), 1)
        # Plain curl https (ALPN h2/http1.1) likewise.
        rc, _, _ = curl("-k", f"https://127.0.0.1:{self.port}/")
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.counter(prefix + "no_filter_chain_match"), 2)


    def test_with_the_http_inspector_a_slow_plaintext_request(self):
        """Both listener filters: a request line that arrives in pieces is waited for, counted
        once as not TLS, and chosen by the http_inspector's protocol."""
        http_chain = lambda log: {
            "name": "plaintext-http",
            "filter_chain_match": {"transport_protocol": "raw_buffer",
                                   "application_protocols": ["http/1.1", "h2c"]},
            "filters": [hcm("plainhttp", log)]}
        self.start_chains(self.plain_upstream().port, [self.mtls_chain(), http_chain],
                          listener_filters=[
                              {"name": "envoy.filters.listener.tls_inspector", "typed_config": {
                                  "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}},
                              {"name": "envoy.filters.listener.http_inspector", "typed_config": {
                                  "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"}}])
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GE")
            time.sleep(0.3)
            s.sendall(b"T /pieces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertEqual(self.counter("tls_inspector.tls_not_found"), 1)
        self.assertEqual(self.counter("http.plainhttp.downstream_rq_2xx"), 1)
        status, _ = self.https_get(self.client_context())
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(self.counter("tls_inspector.tls_found"), 1)


class StrictTest(TlsInspectorTestBase):
    def test_only_the_tls_chain_closes_plaintext(self):
        self.start_chains(self.plain_upstream().port, [self.mtls_chain()])
        prefix = f"listener.127.0.0.1_{self.port}."
        rc, _, _ = curl(f"http://127.0.0.1:{self.port}/plain")
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.counter(prefix + "no_filter_chain_match"), 1)
        status, _ = self.https_get(self.client_context())
        self.assertEqual(status, "HTTP/1.1 200 OK")
        # Without a client certificate the chain matches but the handshake fails.
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.https_get(self.client_context(cert=None))
        self.assertEqual(self.counter(prefix + "ssl.handshake"), 1)


class ServerNamesTest(TlsInspectorTestBase):
    def test_sni_chooses_the_chain(self):
        def sni_chain(name, names):
            return lambda log: {
                "name": name, "filter_chain_match": {"server_names": names},
                "filters": [hcm(name, log, body=f"chain {name}")],
                "transport_socket": downstream_tls(self.pki)}
        self.start_chains(self.plain_upstream().port, [
            sni_chain("exact", ["api.example.com"]), sni_chain("wild", ["*.example.com"]),
            lambda log: {"name": "no-sni", "filters": [hcm("nosni", log, body="chain no-sni")],
                         "transport_socket": downstream_tls(self.pki)}])
        ctx = self.client_context(cert=None, alpn=None)
        self.assertEqual(self.https_get(ctx, sni="api.example.com")[1], "chain exact")
        self.assertEqual(self.https_get(ctx, sni="API.Example.com")[1], "chain exact")
        self.assertEqual(self.https_get(ctx, sni="a.b.example.com")[1], "chain wild")
        self.assertEqual(self.https_get(ctx, sni="example.org")[1], "chain no-sni")
        self.assertEqual(self.counter("tls_inspector.sni_found"), 4)


class NetworkRbacAfterHandshakeTest(TlsInspectorTestBase):
    def test_allows_one_principal_and_closes_another(self):
        echo = socket.socket()
        echo.bind(("127.0.0.1", 0))
        echo.listen(8)
        self.cleanups.append(echo.close)
        accepted = []

        def serve():
            while True:
                try:
                    conn, _ = echo.accept()
                except OSError:
                    return
                accepted.append(1)
                with conn:
                    data = conn.recv(65536)
                    if data:
                        conn.sendall(b"echo:" + data)
        threading.Thread(target=serve, daemon=True).start()
        rbac = {"name": "envoy.filters.network.rbac", "typed_config": {
            "@type": NET_RBAC, "stat_prefix": "tcp",
            "rules": {"action": "ALLOW", "policies": {"client-only": {
                "permissions": [{"any": True}],
                "principals": [{"authenticated": {"principal_name": {"exact": CLIENT_ID}}}]}}}}}
        self.start_chains(echo.getsockname()[1], [
            self.mtls_chain(filter_factory=lambda log: tcp_proxy("inbound_tcp", log),
                            network_filters=[rbac])])

        def talk(cert):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
                with self.client_context(cert=cert).wrap_socket(raw) as s:
                    s.sendall(b"ping")
                    try:
                        return s.recv(100)
                    except (ssl.SSLError, ConnectionError):
                        return b""
        self.assertEqual(talk("client"), b"echo:ping")
        self.assertEqual(talk("other"), b"")  # the handshake succeeds, then the proxy closes
        self.assertEqual(self.counter("tcp.rbac.allowed"), 1)
        self.assertEqual(self.counter("tcp.rbac.denied"), 1)
        self.assertEqual(len(accepted), 1)  # the denied peer never reached the upstream
        self.assertEqual(self.counter(f"listener.127.0.0.1_{self.port}.ssl.handshake"), 2)
        log = self.access_log_text(CLIENT_ID)
        self.assertIn(f"tcp tls=TLSv1.3 san={CLIENT_ID} sni=- cipher=TLS_", log)
        self.assertIn("subject=CN=client", log)


class ListenerFiltersTimeoutTest(TlsInspectorTestBase):
    def test_silent_client_is_closed_after_the_timeout(self):
        self.start_chains(self.plain_upstream().port, [self.mtls_chain(), self.plaintext_chain()],
                          listener_filters_timeout="0.5s")
        prefix = f"listener.127.0.0.1_{self.port}."
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            started = time.time()
            self.assertEqual(s.recv(10), b"")  # closed by the proxy, not by our timeout
            self.assertLess(time.time() - started, 8)
        self.assertEqual(self.counter(prefix + "downstream_pre_cx_timeout"), 1)

    def test_continue_on_timeout_serves_a_server_first_protocol(self):
        banner = socket.socket()
        banner.bind(("127.0.0.1", 0))
        banner.listen(4)
        self.cleanups.append(banner.close)

        def serve():
            try:
                conn, _ = banner.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"220 hello\r\n")
                conn.recv(100)
        threading.Thread(target=serve, daemon=True).start()
        plain_tcp = {"name": "plaintext", "filter_chain_match": {"transport_protocol": "raw_buffer"},
                     "filters": [tcp_proxy("banner")]}
        self.start_chains(banner.getsockname()[1], [self.mtls_chain(), plain_tcp],
                          listener_filters_timeout="0.3s",
                          continue_on_listener_filters_timeout=True)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            self.assertEqual(s.recv(100), b"220 hello\r\n")


class TransportSocketConnectTimeoutTest(TlsInspectorTestBase):
    def test_stalled_handshake_is_closed_and_counted(self):
        """A client that sends a complete ClientHello (so the tls_inspector is done and the mTLS
        chain is chosen) and then never answers the server's flight is closed by the chain's
        transport_socket_connect_timeout; a normal client on the same port still gets through."""
        self.start_chains(self.plain_upstream().port,
                          [self.mtls_chain(transport_socket_connect_timeout="0.5s")])
        prefix = f"listener.127.0.0.1_{self.port}."
        # The ClientHello of a real TLS client, produced in memory and sent by hand.
        outgoing = ssl.MemoryBIO()
        client = self.client_context().wrap_bio(ssl.MemoryBIO(), outgoing,
                                                server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            client.do_handshake()
        client_hello = outgoing.read()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(client_hello)
            started = time.time()
            while s.recv(65536):  # the server's flight, then the proxy's close
                pass
            self.assertLess(time.time() - started, 8)  # closed by the proxy, not our timeout
        self.assertEqual(self.counter(prefix + "downstream_cx_transport_socket_connect_timeout"), 1)
        self.assertEqual(self.counter("tls_inspector.tls_found"), 1)
        status, _ = self.https_get(self.client_context())
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(self.counter(prefix + "downstream_cx_transport_socket_connect_timeout"), 1)


if __name__ == "__main__":
    unittest.main()
