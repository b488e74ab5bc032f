"""Secrets from the identity agent in every TLS context, and upstream auto mTLS, between two
real weft-proxies and a real weftd (a short --workload-cert-ttl, so certificates rotate during
the test):

- proxy B (service account reviews) has a listener whose DownstreamTlsContext names the SDS
  secrets `default` and `ROOTCA` in Istio's form (api_config_source to sds-grpc): `openssl
  s_client` sees a chain to weftd's root and B's SPIFFE URI SAN;
- proxy A (productpage) has a cluster with Istio's auto mTLS transport_socket_matches: its
  endpoint marked {tlsMode: istio} (B) is reached with mTLS (B logs A's SPIFFE id), the other
  one (a plain HTTP server) in plaintext;
- with a connection per request, A's handshakes to B resume (ssl.session_reused);
- after a rotation, new handshakes present the new serial while a keep-alive connection opened
  before it keeps working;
- without --ca-addr, a config naming an SDS secret is refused with the field path."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import harness
from weftd_ca_test import WeftdCaTestBase, openssl

SPIFFE_A = "spiffe://cluster.local/ns/default/sa/productpage"
SPIFFE_B = "spiffe://cluster.local/ns/default/sa/reviews"

# Istio's SDS config (pilot/pkg/security/model/authentication.go ConstructSdsSecretConfig).
ISTIO_SDS = ("sds_config: {api_config_source: {api_type: GRPC, grpc_services: [{envoy_grpc: "
             "{cluster_name: sds-grpc}}], set_node_on_first_message_only: true, "
             "transport_api_version: V3}, initial_fetch_timeout: 0s, resource_api_version: V3}")

HCM = """
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {prefix}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {log}
              log_format: {{text_format_source: {{inline_string: "peer=%DOWNSTREAM_PEER_URI_SAN% upstream=%UPSTREAM_HOST% upstream_peer=%UPSTREAM_PEER_URI_SAN%\\n"}}}}
          http_filters: [{{name: envoy.filters.http.router}}]
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{{match: {{prefix: /}}, route: {{cluster: {cluster}}}}}]"""


def node(sa):
    return f"""
node:
  id: sidecar~127.0.0.1~{sa}-v1.default~default.svc.cluster.local
  cluster: {sa}.default
  metadata: {{NAMESPACE: default, SERVICE_ACCOUNT: {sa}}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
"""


def server_bootstrap(port, app_port, log):
    """Proxy B: an mTLS-capable inbound listener (SDS default + ROOTCA) in front of `app`."""
    return node("reviews") + f"""
static_resources:
  listeners:
  - name: inbound
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:{HCM.format(prefix="inbound", log=log, cluster="app")}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: [http/1.1]
            tls_certificate_sds_secret_configs:
            - {{name: default, {ISTIO_SDS}}}
            combined_validation_context:
              default_validation_context: {{}}
              validation_context_sds_secret_config: {{name: ROOTCA, {ISTIO_SDS}}}
  clusters:
  - name: app
    load_assignment:
      cluster_name: app
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {app_port}}}}}}}}}]}}]
"""


def client_bootstrap(port, mtls_port, plain_port, log):
    """Proxy A: an outbound listener to cluster `b`, auto mTLS as weftd writes it."""
    return node("productpage") + f"""
static_resources:
  listeners:
  - name: outbound
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:{HCM.format(prefix="outbound", log=log, cluster="b")}
  clusters:
  - name: b
    max_requests_per_connection: 1  # a connection per request: TLS sessions resume
    load_assignment:
      cluster_name: b
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {mtls_port}}}}}}}
          metadata:
            filter_metadata:
              envoy.transport_socket_match: {{tlsMode: istio}}
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {plain_port}}}}}}}
    transport_socket_matches:
    - name: tlsMode-istio
      match: {{tlsMode: istio}}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          sni: outbound_.9080_._.reviews.default.svc.cluster.local
          common_tls_context:
            alpn_protocols: [http/1.1]
            tls_certificate_sds_secret_configs:
            - {{name: default, sds_config: {{ads: {{}}, resource_api_version: V3}}}}
            combined_validation_context:
              default_validation_context:
                match_subject_alt_names: [{{exact: "{SPIFFE_B}"}}]
              validation_context_sds_secret_config:
                {{name: ROOTCA, sds_config: {{ads: {{}}, resource_api_version: V3}}}}
"""


class SdsMeshTest(WeftdCaTestBase):
    EXTRA = ("--workload-cert-ttl", "6s")

    def start_proxy(self, bootstrap, sa):
        secrets = tempfile.mkdtemp(prefix="weft-sds-secrets-")
        self.addCleanup(shutil.rmtree, secrets, ignore_errors=True)
        token_file = os.path.join(secrets, "istio-token")
        with open(token_file, "w") as f:
            f.write(self.token(sa=sa) + "\n")
        os.chmod(token_file, 0o600)
        proxy = harness.Proxy(bootstrap, extra_args=[
            "--ca-addr", self.tls_addr, "--ca-root-cert",
            os.path.join(self.ca_dir, "root-cert.pem"), "--ca-token-file", token_file])
        self.addCleanup(shutil.rmtree, proxy.dir, ignore_errors=True)
        self.addCleanup(proxy.stop)
        return proxy

    def serial(self, proxy):
        status, body = proxy.admin_get("/certs")
        certs = json.loads(body)["certificates"]
        return certs[0]["cert_chain"][0]["serial_number"] if certs else None

    def wait(self, pred, what, proxy, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = pred()
            if value:
                return value
            time.sleep(0.1)
        self.fail("timed out waiting for %s\nproxy log:\n%s" % (what, proxy.output()))

    def stats(self, proxy):
        status, body = proxy.admin_get("/stats")
        out = {}
        for line in body.splitlines():
            key, _, value = line.partition(": ")
            if value.isdigit():
                out[key] = int(value)
        return out

    def s_client(self, port):
        """(leaf serial in lower-case hex, s_client's output) of a handshake with B."""
        p = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
             os.path.join(self.ca_dir, "root-cert.pem"), "-showcerts", "-verify_return_error"],
            input="", capture_output=True, text=True, timeout=20)
        pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                          p.stdout, re.S)
        self.assertTrue(pems, p.stdout + p.stderr)
        serial = openssl("x509", "-noout", "-serial", stdin=pems[0]).strip().split("=")[1]
        return serial.lower().lstrip("0"), p.stdout + p.stderr, pems[0]

    def test_sds_listener_auto_mtls_cluster_and_rotation(self):
        app = harness.Upstream("behind-b")
        self.addCleanup(app.stop)
        direct = harness.Upstream("direct")
        self.addCleanup(direct.stop)
        logs = tempfile.mkdtemp(prefix="weft-sds-logs-")
        self.addCleanup(shutil.rmtree, logs, ignore_errors=True)
        b_port, a_port = harness.free_port(), harness.free_port()
        b = self.start_proxy(server_bootstrap(b_port, app.port, os.path.join(logs, "b.log")),
                             "reviews")
        a = self.start_proxy(client_bootstrap(a_port, b_port, direct.port,
                                              os.path.join(logs, "a.log")), "productpage")
        self.wait(lambda: self.serial(b), "B's certificate", b)
        self.wait(lambda: self.serial(a), "A's certificate", a)

        # openssl s_client: the chain verifies against weftd's root; B's SPIFFE id.
        first_serial, text, leaf = self.s_client(b_port)
        self.assertIn("Verify return code: 0 (ok)", text)
        self.assertIn("URI:" + SPIFFE_B, openssl("x509", "-noout", "-text", stdin=leaf))

        # A keep-alive connection to B's listener, opened before the rotation.
        ctx = ssl.create_default_context(cafile=os.path.join(self.ca_dir, "root-cert.pem"))
        ctx.check_hostname = False
        keep = ctx.wrap_socket(socket.create_connection(("127.0.0.1", b_port), timeout=10))
        self.addCleanup(keep.close)

        def keep_alive_request():
            keep.sendall(b"GET /keep HTTP/1.1\r\nHost: b\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += keep.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
            while len(body) < length:
                body += keep.recv(65536)
            return head.split(b"\r\n")[0]

        self.assertEqual(keep_alive_request(), b"HTTP/1.1 200 OK")

        # Auto mTLS through A: B's endpoint with mTLS, the other in plaintext; both answer.
        for _ in range(10):
            code, out, err = harness.curl("-o", "/dev/null", "-w", "%{http_code}",
                                          f"http://127.0.0.1:{a_port}/via-a")
            self.assertEqual((code, out), (0, "200"), err + a.output())
        self.assertTrue(any(s[1] == "/via-a" for s in app.seen), "B's app saw nothing")
        self.assertTrue(any(s[1] == "/via-a" for s in direct.seen), "plain endpoint saw nothing")
        def b_log():  # the access log is written by a background flush
            path = os.path.join(logs, "b.log")
            if os.path.exists(path):
                with open(path) as f:
                    return "peer=" + SPIFFE_A in f.read()
            return False
        self.wait(b_log, "B's access log naming A's identity", b)  # A's workload cert

        def a_log():  # A logs the verified identity of the sidecar it reached with mTLS
            path = os.path.join(logs, "a.log")
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read()
                return (f"upstream=127.0.0.1:{b_port} upstream_peer={SPIFFE_B}" in text and
                        f"upstream=127.0.0.1:{direct.port} upstream_peer=-" in text)
            return False
        self.wait(a_log, "A's access log with %UPSTREAM_PEER_URI_SAN%", a)
        a_stats = self.stats(a)
        self.assertGreaterEqual(a_stats.get("cluster.b.ssl.handshake", 0), 1)
        self.assertGreaterEqual(a_stats.get("cluster.b.tlsMode-istio.total_match_count", 0), 1)
        self.assertGreaterEqual(a_stats.get("cluster.b.default.total_match_count", 0), 1)
        # A connection per request to B: after the first full handshake, A offers the session
        # B's ticket gave it, and the handshakes resume.
        handshakes = a_stats.get("cluster.b.ssl.handshake", 0)
        reused = a_stats.get("cluster.b.ssl.session_reused", 0)
        print("\nA -> B: %d TLS handshakes, %d resumed" % (handshakes, reused))
        self.assertGreaterEqual(handshakes, 3)
        self.assertGreaterEqual(reused, handshakes - 2)

        # Rotation (half of 6 s): new handshakes present the new serial; the keep-alive
        # connection opened before still works.
        before = self.serial(b)
        self.wait(lambda: self.serial(b) not in (None, before), "B's rotation", b)
        new_serial = self.wait(
            lambda: (lambda s: s if s != first_serial else None)(self.s_client(b_port)[0]),
            "a handshake with the new certificate", b)
        self.assertNotEqual(new_serial, first_serial)
        self.assertEqual(keep_alive_request(), b"HTTP/1.1 200 OK")
        code, out, err = harness.curl("-o", "/dev/null", "-w", "%{http_code}",
                                      f"http://127.0.0.1:{a_port}/after-rotation")
        self.assertEqual((code, out), (0, "200"), err)


class _AdsRecorder:
    """A gRPC ADS endpoint that records the raw bytes of each DiscoveryRequest and answers
    nothing (the proxy's xDS client just waits)."""

    def __init__(self):
        import grpc
        from concurrent import futures
        self.requests = []

        def stream(request_iterator, context):
            for request in request_iterator:
                self.requests.append(request)
            return iter(())

        handler = grpc.method_handlers_generic_handler(
            "envoy.service.discovery.v3.AggregatedDiscoveryService",
            {"StreamAggregatedResources": grpc.stream_stream_rpc_method_handler(
                stream, request_deserializer=lambda b: b, response_serializer=lambda b: b)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self):
        self.server.stop(0)


def ads_bootstrap(ads_port):
    return node("productpage") + f"""
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{{envoy_grpc: {{cluster_name: xds}}}}]
  cds_config: {{ads: {{}}, resource_api_version: V3}}
  lds_config: {{ads: {{}}, resource_api_version: V3}}
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: xds
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {ads_port}}}}}}}}}]}}]
"""


class WeftMtlsMetadataTest(SdsMeshTest):
    test_sds_listener_auto_mtls_cluster_and_rotation = None

    def first_request(self, ads, proxy):
        deadline = time.time() + 15
        while not ads.requests and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(ads.requests, proxy.output())
        return ads.requests[0]

    def test_agent_announces_weft_mtls_in_the_first_xds_request(self):
        ads = _AdsRecorder()
        self.addCleanup(ads.stop)
        proxy = self.start_proxy(ads_bootstrap(ads.port), "productpage")
        first = self.first_request(ads, proxy)
        # node.metadata is a Struct: the key and the string value appear as such on the wire.
        self.assertIn(b"WEFT_MTLS", first)
        self.assertIn(b"SERVICE_ACCOUNT", first)  # the bootstrap's metadata is kept
        plain_ads = _AdsRecorder()
        self.addCleanup(plain_ads.stop)
        plain = harness.Proxy(ads_bootstrap(plain_ads.port))
        self.addCleanup(shutil.rmtree, plain.dir, ignore_errors=True)
        self.addCleanup(plain.stop)
        without = self.first_request(plain_ads, plain)
        self.assertNotIn(b"WEFT_MTLS", without)
        self.assertIn(b"SERVICE_ACCOUNT", without)


class SdsWithoutAgentTest(unittest.TestCase):
    def test_sds_secret_without_agent_is_refused_with_its_path(self):
        d = tempfile.mkdtemp(prefix="weft-sds-noagent-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        config = os.path.join(d, "bootstrap.yaml")
        with open(config, "w") as f:
            f.write(server_bootstrap(harness.free_port(), 1, os.path.join(d, "log")))
        p = subprocess.run([harness.PROXY, "-c", config], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("listener 'inbound': ", p.stderr)
        self.assertIn("tls_certificate_sds_secret_configs[0]: SDS secret 'default' is the "
                      "identity agent's (start weft-proxy with --ca-addr)", p.stderr)


if __name__ == "__main__":
    unittest.main()
