"""TLS that is not the mesh's, through weftd's inbound chains (docs/user-guide/security-policy.md):
a real weftd (with its CA) and a real weft-proxy with the identity agent, registered as the
workload of a ServiceEntry with a TLS port. Behind it an application on 127.0.0.1 that speaks
TLS itself (its own self-signed certificate) or plaintext, whichever the client starts with, and
says which it got.

- PERMISSIVE (no policy): a TLS client offering no ALPN (the application's own TLS, as `curl
  https://pod:port` from outside the mesh) goes through to the application, which ends the TLS
  (the client sees the application's certificate); a plaintext client reaches it in plaintext;
  a mesh client (weftd-signed certificate, ALPN istio) is terminated by the sidecar.
- STRICT: plaintext and the TLS client without the mesh certificate never reach the
  application; the mesh client still does."""
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from weftd_ca_test import WeftdCaTestBase, make_csr

APP_CN = "weft-passthru-app"


class SniffingApp:
    """On 127.0.0.1:<port>: answers "tls:<data>" to a client that starts with a TLS record
    (handshake with its own self-signed certificate) and "plain:<data>" to anything else."""

    def __init__(self, directory, port):
        cert, key = os.path.join(directory, "app.pem"), os.path.join(directory, "app-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=" + APP_CN],
                       check=True, capture_output=True, timeout=30)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            first = conn.recv(1, socket.MSG_PEEK)
            kind = "plain"
            if first == b"\x16":
                conn = self.ctx.wrap_socket(conn, server_side=True)
                kind = "tls"
            data = conn.recv(1024)
            conn.sendall(kind.encode() + b":" + data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def stop(self):
        self.sock.close()


def bootstrap(node_id, xds_addr, metadata):
    host, port = xds_addr.rsplit(":", 1)
    return json.dumps({
        "node": {"id": node_id, "cluster": "secure.default", "metadata": metadata},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "dynamic_resources": {
            "ads_config": {"api_type": "GRPC", "transport_api_version": "V3",
                           "grpc_services": [{"envoy_grpc": {"cluster_name": "xds"}}]},
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"}},
        "static_resources": {"clusters": [{
            "name": "xds", "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": "xds", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {
                    "address": host, "port_value": int(port)}}}}]}]}}]}})


class WeftdTlsPassthroughTest(WeftdCaTestBase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="weft-passthru-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        net = "127.%d.%d." % (random.randint(16, 250), random.randint(0, 250))
        self.ip = net + "11"  # the inbound listener: <ip>:<port> -> 127.0.0.1:<port>
        self.port = harness.free_port()
        self.app = SniffingApp(self.tmp, self.port)
        self.addCleanup(self.app.stop)
        self.post("/apis/networking.istio.io/v1/namespaces/default/serviceentries", {
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "secure", "namespace": "default"},
            "spec": {"hosts": ["secure"], "location": "MESH_INTERNAL", "resolution": "STATIC",
                     "ports": [{"number": self.port, "name": "tls", "protocol": "TLS"}],
                     "workloadSelector": {"labels": {"app": "secure"}}}})
        token_file = os.path.join(self.tmp, "istio-token")
        with open(token_file, "w") as f:
            f.write(self.token(sa="secure") + "\n")
        os.chmod(token_file, 0o600)
        metadata = {"NAME": "secure-v1", "NAMESPACE": "default", "SERVICE_ACCOUNT": "secure",
                    "LABELS": {"app": "secure"}, "INSTANCE_IPS": self.ip,
                    "POD_PORTS": json.dumps([{"name": "tls", "containerPort": self.port,
                                              "protocol": "TCP"}]),
                    "WEFT_OUTBOUND_ADDRESS": net + "12"}
        self.proxy = harness.Proxy(
            bootstrap("sidecar~%s~secure-v1.default~default.svc.cluster.local" % self.ip,
                      self.xds_addr, metadata),
            extra_args=["--ca-addr", self.tls_addr, "--ca-root-cert",
                        os.path.join(self.ca_dir, "root-cert.pem"), "--ca-token-file",
                        token_file])
        self.addCleanup(shutil.rmtree, self.proxy.dir, ignore_errors=True)
        self.addCleanup(self.proxy.stop)
        # A mesh client's certificate, signed by weftd's CA for another service account.
        chain = self.call(make_csr(self.tmp, "URI:spiffe://cluster.local/ns/default/sa/client"),
                          self.token(sa="client"))
        self.client_cert = os.path.join(self.tmp, "client.pem")
        with open(self.client_cert, "w") as f:
            f.write(chain[0])
        self.client_key = os.path.join(self.tmp, "csr-key.pem")
        self.wait(lambda: self.plaintext() == b"plain:hello", "the inbound listener")

    def post(self, path, body):
        status, got = self.weftd.request("POST", path, body)
        self.assertEqual(status, 201, got)

    def wait(self, pred, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.2)
        _, listeners = self.proxy.admin_get("/listeners")
        _, stats = self.proxy.admin_get("/stats")
        stats = "\n".join(line for line in stats.splitlines()
                          if not line.endswith(": 0") and ("listener" in line or "tls" in line
                                                           or "tcp" in line or "cx" in line))
        self.fail("timed out waiting for %s\nlisteners: %s\nstats:\n%s\nproxy log:\n%s" % (
            what, listeners, stats, self.proxy.output()))

    def exchange(self, ctx=None):
        """What the application answers to b"hello" (b"" if the connection is refused or
        closed first), and the certificate (DER) the client was shown."""
        got, cert = b"", None
        try:
            with socket.create_connection((self.ip, self.port), timeout=5) as raw:
                sock = ctx.wrap_socket(raw) if ctx else raw
                try:
                    cert = sock.getpeercert(binary_form=True) if ctx else None
                    sock.sendall(b"hello")
                    while True:  # the application answers, then closes
                        chunk = sock.recv(1024)
                        if not chunk:
                            break
                        got += chunk
                finally:
                    sock.close()
        except (OSError, ssl.SSLError):
            pass  # a reset after the answer keeps what was read
        return got, cert

    def plaintext(self):
        return self.exchange()[0]

    def foreign_tls(self):
        """A client doing its own TLS, offering no ALPN, trusting anything (as curl -k)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return self.exchange(ctx)

    def mesh_tls(self):
        """A sidecar's client: weftd-signed certificate, mesh root, Istio's TCP ALPN."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(self.ca_dir, "root-cert.pem"))
        ctx.load_cert_chain(self.client_cert, self.client_key)
        ctx.set_alpn_protocols(["istio-peer-exchange", "istio"])
        got, cert = self.exchange(ctx)
        # ALPN istio-peer-exchange: the sidecar first writes its metadata exchange frame (magic
        # 0x3D230467, size, payload; telemetry.md), which a sidecar client reads off; this one
        # sends none, so its own bytes reach the application as they are.
        if got[:4] == bytes.fromhex("3d230467") and len(got) >= 8:
            got = got[8 + int.from_bytes(got[4:8], "big"):]
        return got, cert

    def mesh_tls_with_metadata_exchange(self, workload):
        """A sidecar's client that speaks Istio's TCP metadata exchange: its frame (encoded here
        by hand, independently of weft-proxy's encoder) before b"hello". Returns the ALPN,
        the sidecar's frame and what the application answered."""
        def varint(n):
            out = b""
            while n >= 0x80:
                out += bytes([(n & 0x7F) | 0x80])
                n >>= 7
            return out + bytes([n])

        def ld(field, payload):  # a length-delimited protobuf field
            return bytes([field << 3 | 2]) + varint(len(payload)) + payload

        def entry(key, value):  # one Struct.fields map entry
            return ld(1, ld(1, key.encode()) + ld(2, value))

        metadata = b"".join(entry(k, ld(3, v.encode())) for k, v in (
            ("NAME", workload + "-abc"), ("NAMESPACE", "default"),
            ("WORKLOAD_NAME", workload), ("SERVICE_ACCOUNT", "client"))) + entry(
            "LABELS", ld(5, entry("app", ld(3, b"client"))))
        data = entry("x-envoy-peer-metadata", ld(5, metadata)) + entry(
            "x-envoy-peer-metadata-id", ld(3, b"sidecar~127.0.0.9~%s-abc.default~default.svc.cluster.local"
                                           % workload.encode()))
        any_ = ld(1, b"type.googleapis.com/google.protobuf.Struct") + ld(2, data)
        frame = bytes.fromhex("3d230467") + len(any_).to_bytes(4, "big") + any_

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(self.ca_dir, "root-cert.pem"))
        ctx.load_cert_chain(self.client_cert, self.client_key)
        ctx.set_alpn_protocols(["istio-peer-exchange", "istio"])
        got = b""
        with socket.create_connection((self.ip, self.port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as sock:
                alpn = sock.selected_alpn_protocol()
                sock.sendall(frame + b"hello")
                try:
                    while True:
                        chunk = sock.recv(1024)
                        if not chunk:
                            break
                        got += chunk
                except (OSError, ssl.SSLError):
                    pass
        size = int.from_bytes(got[4:8], "big") if len(got) >= 8 else 0
        return alpn, got[:8 + size], got[8 + size:]

    def test_metadata_exchange_labels_the_tcp_metrics(self):
        # weftd's inbound TCP chain: server ALPN istio-peer-exchange first, the exchange filter.
        alpn, frame, answer = self.mesh_tls_with_metadata_exchange("client-v9")
        self.assertEqual(alpn, "istio-peer-exchange")
        self.assertEqual(frame[:4], bytes.fromhex("3d230467"))
        self.assertIn(b"type.googleapis.com/google.protobuf.Struct", frame)
        self.assertIn(b"secure-v1", frame)  # the sidecar's NAME
        self.assertIn(b"sidecar~%s~secure-v1" % self.ip.encode(), frame)  # and its node id
        self.assertEqual(answer, b"plain:hello")  # our frame never reached the application
        labels = dict(reporter="destination", request_protocol="tcp",
                      source_workload="client-v9", source_app="client",
                      source_workload_namespace="default",
                      source_principal="spiffe://cluster.local/ns/default/sa/client",
                      connection_security_policy="mutual_tls")
        deadline = time.time() + 10
        while True:
            _, text = self.proxy.admin_get("/stats/prometheus")
            closed = [l for l in text.splitlines()
                      if l.startswith("istio_tcp_connections_closed_total{")
                      and all('%s="%s"' % kv in l for kv in labels.items())]
            if closed or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(closed), 1, text)
        self.assertTrue(closed[0].endswith(" 1"), closed[0])

    def subject(self, der):
        pem = ssl.DER_cert_to_PEM_cert(der)
        return subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext",
                               "subjectAltName"], input=pem, capture_output=True, text=True,
                              timeout=30).stdout

    def test_permissive_passes_foreign_tls_through_to_the_application(self):
        got, cert = self.foreign_tls()
        self.assertEqual(got, b"tls:hello", self.proxy.output())
        self.assertIn(APP_CN, self.subject(cert))  # the application's own TLS, end to end
        self.assertEqual(self.plaintext(), b"plain:hello")
        got, cert = self.mesh_tls()
        self.assertEqual(got, b"plain:hello", self.proxy.output())  # the sidecar terminated it
        self.assertIn("spiffe://cluster.local/ns/default/sa/secure", self.subject(cert))

    def test_strict_refuses_plaintext_and_foreign_tls(self):
        self.post("/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications", {
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"}}})
        self.wait(lambda: self.plaintext() == b"", "STRICT refusing plaintext")
        got, cert = self.foreign_tls()
        self.assertEqual(got, b"")  # no client certificate: the sidecar's handshake fails
        got, _ = self.mesh_tls()
        self.assertEqual(got, b"plain:hello", self.proxy.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
