"""TLS transport sockets in weft-proxy, end to end with real clients (curl, python ssl) and
certificates made by openssl for each test run."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import EchoServer, Proxy, _EchoHandler, curl, free_port, init_upstream_state

SERVER_ID = "spiffe://cluster.local/ns/default/sa/server"
CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client"
OTHER_ID = "spiffe://cluster.local/ns/default/sa/other"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_pki(directory):
    """A root CA and leaf certificates (EC P-256) signed by it: server (DNS localhost, IP
    127.0.0.1, URI SERVER_ID), client (URI CLIENT_ID), other (URI OTHER_ID)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=weft test root",
             cwd=directory)
    for name, san in (("server", f"DNS:localhost,IP:127.0.0.1,URI:{SERVER_ID}"),
                      ("client", f"URI:{CLIENT_ID}"), ("other", f"URI:{OTHER_ID}")):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                 cwd=directory)
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
                 cwd=directory)
    return {n: os.path.join(directory, n) for n in os.listdir(directory)}


def downstream_tls(pki, require_client=False, san=None, alpn=None):
    ctx = {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        "common_tls_context": {
            "tls_certificates": [{"certificate_chain": {"filename": pki["server.pem"]},
                                  "private_key": {"filename": pki["server.key"]}}],
        },
    }
    if require_client:
        ctx["require_client_certificate"] = True
        validation = {"trusted_ca": {"filename": pki["ca.pem"]}}
        if san:
            validation["match_typed_subject_alt_names"] = [{"san_type": "URI", "matcher": {"exact": san}}]
        ctx["common_tls_context"]["validation_context"] = validation
    if alpn:
        ctx["common_tls_context"]["alpn_protocols"] = alpn
    return {"name": "envoy.transport_sockets.tls", "typed_config": ctx}


def read_text(path):
    with open(path) as f:
        return f.read()


def upstream_tls(pki, san, sni="localhost", client_cert=False):
    ctx = {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "sni": sni,
        "common_tls_context": {
            "validation_context": {
                "trusted_ca": {"filename": pki["ca.pem"]},
                "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": san}}],
            },
        },
    }
    if client_cert:
        ctx["common_tls_context"]["tls_certificates"] = [
            {"certificate_chain": {"filename": pki["client.pem"]},
             "private_key": {"inline_string": read_text(pki["client.key"])}}]
    return {"name": "envoy.transport_sockets.tls", "typed_config": ctx}


def bootstrap(port, upstream_port, access_log, chain_transport=None, cluster_transport=None,
              tcp=False):
    if tcp:
        network_filter = {
            "name": "envoy.filters.network.tcp_proxy",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                "stat_prefix": "tcp", "cluster": "backend"}}
    else:
        network_filter = {
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "ingress_http",
                "access_log": [{"name": "envoy.access_loggers.file", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": access_log,
                    "log_format": {"text_format_source": {"inline_string":
                        "%PROTOCOL% %RESPONSE_CODE% %DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_PEER_URI_SAN%\n"}}}}],
                "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                    {"match": {"prefix": "/"}, "route": {"cluster": "backend"}}]}]},
                "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}
    chain = {"filters": [network_filter]}
    if chain_transport:
        chain["transport_socket"] = chain_transport
    cluster = {
        "name": "backend", "connect_timeout": "2s", "type": "STATIC",
        "load_assignment": {"cluster_name": "backend", "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1",
                                                         "port_value": upstream_port}}}}]}]}}
    if cluster_transport:
        cluster["transport_socket"] = cluster_transport
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{"name": "ingress", "address": {"socket_address": {
                "address": "127.0.0.1", "port_value": port}}, "filter_chains": [chain]}],
            "clusters": [cluster]}}
    return json.dumps(config)  # JSON is YAML


class TlsUpstream:
    """The harness's echo HTTP server behind TLS (python ssl), optionally requiring a client
    certificate."""

    def __init__(self, pki, require_client=False):
        self.server = EchoServer(("127.0.0.1", 0), _EchoHandler)
        init_upstream_state(self.server, "tls-upstream")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki["server.pem"], pki["server.key"])
        if require_client:
            context.load_verify_locations(pki["ca.pem"])
            context.verify_mode = ssl.CERT_REQUIRED
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TlsTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="weft-tls-pki-")
        cls.pki = make_pki(cls.pki_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def setUp(self):
        self.proxy = None
        self.cleanups = []

    def tearDown(self):
        if self.proxy is not None:
            self.proxy.stop()
        for c in self.cleanups:
            c()

    def start(self, upstream_port, **kwargs):
        self.port = free_port()
        self.access_log = os.path.join(tempfile.mkdtemp(prefix="weft-tls-log-"), "access.log")
        self.proxy = Proxy(bootstrap(self.port, upstream_port, self.access_log, **kwargs))

    def stat(self, name):
        status, body = self.proxy.admin_get("/stats")
        self.assertEqual(status, 200)
        for line in body.splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        return None

    def access_log_text(self, expect):
        """The access log once it holds `expect` (the proxy writes it from a background flush)."""
        deadline = time.time() + 10
        text = ""
        while time.time() < deadline:
            if os.path.exists(self.access_log):
                with open(self.access_log) as f:
                    text = f.read()
                if expect in text:
                    break
            time.sleep(0.1)
        return text

    def plain_upstream(self):
        from harness import Upstream
        upstream = Upstream()
        self.cleanups.append(upstream.stop)
        return upstream

    def url(self):
        return f"https://localhost:{self.port}/hello"

    def resolve(self):
        return ["--resolve", f"localhost:{self.port}:127.0.0.1"]


class DownstreamTlsTest(TlsTestBase):
    def test_https_with_curl(self):
        self.start(self.plain_upstream().port, chain_transport=downstream_tls(self.pki))
        rc, out, err = curl("--cacert", self.pki["ca.pem"], *self.resolve(), self.url())
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["path"], "/hello")
        prefix = f"listener.127.0.0.1_{self.port}."
        self.assertEqual(self.stat(prefix + "ssl.handshake"), 1)
        # Plaintext to a TLS port is a handshake error, not a request.
        rc, _, _ = curl(f"http://127.0.0.1:{self.port}/hello")
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.stat(prefix + "ssl.connection_error"), 1)
        self.assertIn("HTTP/1.1 200 TLSv1.3", self.access_log_text("TLSv1.3"))

    def test_h2_by_alpn(self):
        self.start(self.plain_upstream().port,
                   chain_transport=downstream_tls(self.pki, alpn=["h2", "http/1.1"]))
        rc, out, err = curl("--http2", "--cacert", self.pki["ca.pem"], *self.resolve(),
                            "-o", "/dev/null", "-w", "%{http_version} %{http_code}", self.url())
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "2 200")
        rc, out, err = curl("--http1.1", "--cacert", self.pki["ca.pem"], *self.resolve(),
                            "-o", "/dev/null", "-w", "%{http_version} %{http_code}", self.url())
        self.assertEqual(out, "1.1 200", err)

    def test_mtls(self):
        self.start(self.plain_upstream().port,
                   chain_transport=downstream_tls(self.pki, require_client=True, san=CLIENT_ID))
        prefix = f"listener.127.0.0.1_{self.port}."
        base = ["--cacert", self.pki["ca.pem"], *self.resolve()]
        rc, out, err = curl(*base, "--cert", self.pki["client.pem"], "--key", self.pki["client.key"],
                            self.url())
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["path"], "/hello")
        self.assertIn(f"TLSv1.3 {CLIENT_ID}", self.access_log_text(CLIENT_ID))
        # No client certificate: the handshake fails.
        rc, out, err = curl(*base, self.url())
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.stat(prefix + "ssl.no_certificate"), 1)
        # A certificate of the right CA with the wrong identity.
        rc, out, err = curl(*base, "--cert", self.pki["other.pem"], "--key", self.pki["other.key"],
                            self.url())
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.stat(prefix + "ssl.fail_verify_san"), 1)
        self.assertEqual(self.stat(prefix + "ssl.handshake"), 1)

    def test_session_resumption_is_counted(self):
        self.start(self.plain_upstream().port, chain_transport=downstream_tls(self.pki))
        prefix = f"listener.127.0.0.1_{self.port}."
        context = ssl.create_default_context(cafile=self.pki["ca.pem"])
        session = None
        for attempt in range(2):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="localhost",
                                         session=session) as s:
                    s.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n"
                              b"Connection: close\r\n\r\n")
                    reply = b""
                    while chunk := s.recv(65536):
                        reply += chunk
                    self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:100])
                    # TLS 1.3 tickets arrive after the handshake: the session is known now.
                    self.assertEqual(s.session_reused, attempt == 1)
                    session = s.session
        self.assertEqual(self.stat(prefix + "ssl.handshake"), 2)
        self.assertEqual(self.stat(prefix + "ssl.session_reused"), 1)

    def test_tcp_proxy_over_tls(self):
        echo = socket.socket()
        echo.bind(("127.0.0.1", 0))
        echo.listen(4)
        self.cleanups.append(echo.close)

        def serve():
            conn, _ = echo.accept()
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        conn.sendall(b"bye")
                        return
                    conn.sendall(data)
        threading.Thread(target=serve, daemon=True).start()
        self.start(echo.getsockname()[1], chain_transport=downstream_tls(self.pki), tcp=True)
        context = ssl.create_default_context(cafile=self.pki["ca.pem"])
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as s:
                payload = b"x" * 200000
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    got += s.recv(65536)
                self.assertEqual(got, payload)


class UpstreamTlsTest(TlsTestBase):
    def test_http_to_tls_upstream(self):
        upstream = TlsUpstream(self.pki)
        self.cleanups.append(upstream.stop)
        self.start(upstream.port, cluster_transport=upstream_tls(self.pki, SERVER_ID))
        rc, out, err = curl(f"http://127.0.0.1:{self.port}/up")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["path"], "/up")
        self.assertEqual(self.stat("cluster.backend.ssl.handshake"), 1)

    def test_mutual_tls_upstream(self):
        upstream = TlsUpstream(self.pki, require_client=True)
        self.cleanups.append(upstream.stop)
        self.start(upstream.port,
                   cluster_transport=upstream_tls(self.pki, SERVER_ID, client_cert=True))
        rc, out, err = curl(f"http://127.0.0.1:{self.port}/mutual")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["path"], "/mutual")

    def test_wrong_upstream_identity_is_refused(self):
        upstream = TlsUpstream(self.pki)
        self.cleanups.append(upstream.stop)
        self.start(upstream.port, cluster_transport=upstream_tls(self.pki, OTHER_ID))
        rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{self.port}/up")
        self.assertEqual(out, "503")
        self.assertGreaterEqual(self.stat("cluster.backend.ssl.fail_verify_san"), 1)
        self.assertEqual(self.stat("cluster.backend.ssl.handshake") or 0, 0)


class TlsConfigTest(TlsTestBase):
    def test_missing_key_file_is_refused_with_its_path(self):
        chain = downstream_tls(self.pki)
        chain["typed_config"]["common_tls_context"]["tls_certificates"][0]["private_key"] = {
            "filename": "/nonexistent/key.pem"}
        with self.assertRaises(RuntimeError) as ctx:
            self.start(9, chain_transport=chain)
        self.assertIn("transport_socket.typed_config.common_tls_context.tls_certificates[0]"
                      ".private_key.filename", str(ctx.exception))

    def test_unsupported_field_is_refused(self):
        chain = downstream_tls(self.pki)
        chain["typed_config"]["ocsp_staple_policy"] = "MUST_STAPLE"
        with self.assertRaises(RuntimeError) as ctx:
            self.start(9, chain_transport=chain)
        self.assertIn("ocsp_staple_policy", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
