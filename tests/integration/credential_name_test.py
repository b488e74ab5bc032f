"""DestinationRule tls.credentialName end to end (issue 6): a Secret stored in weftd (Kubernetes'
core v1 shape, applied with weftctl and the REST API) becomes SDS resources weftd serves over ADS,
and weft-proxy originates mutual TLS with it to a real TLS upstream (Python's ssl server) that
demands a client certificate from the test's CA. Updating the Secret rotates the client
certificate; a Secret of another namespace is not served to the proxy (and weftd logs the ask).

Secrets go only over an authenticated stream: the proxy reaches weftd's TLS xDS port (the ADS
cluster's UpstreamTlsContext with the mesh root and SNI istiod.istio-system.svc) with its token
(--ca-token-file) as `authorization: Bearer`. The same proxy on the plaintext port gets no Secret;
a proxy whose token is of another namespace than its node claims is refused (PERMISSION_DENIED,
pilot_xds_auth_failures{reason="authorization"}), a bad token too (reason="authentication")."""
import http.server
import json
import os
import shutil
import socketserver
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Proxy, curl, free_port
from weftd_api_test import WEFTCTL, Weftd, WeftdTestBase, collection
from weftd_mesh_test import NODE_ID, bootstrap
from xds_test import wait_for

HOST = "api.secure.test"
SECRETS = "/api/v1/namespaces/%s/secrets"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_pki(d):
    """A CA, a server certificate for HOST and two client certificates (client-a, client-b),
    all signed by the CA; PEM files in `d`."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca", cwd=d)
    for name, san in (("server", "DNS:" + HOST), ("client-a", "DNS:client-a"),
                      ("client-b", "DNS:client-b")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "1", "-extfile", name + ".ext",
                cwd=d)


def tls_bootstrap(tls_port, api_type, root_file):
    """weftd_mesh_test's bootstrap with its ADS cluster over TLS to weftd's TLS port, verified
    against the mesh root for istiod.istio-system.svc, as Istio's sidecars reach istiod:15012."""
    return bootstrap(tls_port, api_type) + """    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: istiod.istio-system.svc
        common_tls_context:
          validation_context: {trusted_ca: {filename: %s}}
""" % root_file


def proxy_stat(proxy, name):
    _, body = proxy.admin_get("/stats")
    for line in body.splitlines():
        if line.startswith(name + ": "):
            return int(line.split(": ")[1])
    return 0


def read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read()


class _MtlsHandler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so each request is a new handshake (a rotated
    # certificate shows on the next request).
    def do_GET(self):
        cert = self.connection.getpeercert()
        cn = dict(x[0] for x in cert["subject"])["commonName"] if cert else None
        body = json.dumps({"client": cn}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _MtlsServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # failed handshakes (a proxy without the client certificate) are expected


def mtls_upstream(pki):
    """An HTTPS server on loopback that requires a client certificate signed by the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(pki, "server.crt"), os.path.join(pki, "server.key"))
    context.load_verify_locations(os.path.join(pki, "ca.crt"))
    context.verify_mode = ssl.CERT_REQUIRED
    server = _MtlsServer(("127.0.0.1", 0), _MtlsHandler, bind_and_activate=False)
    server.allow_reuse_address = True
    server.server_bind()
    server.server_activate()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def tls_secret(name, ns, pki, client, ca=True):
    data = {"tls.crt": read(pki, client + ".crt"), "tls.key": read(pki, client + ".key")}
    if ca:
        data["ca.crt"] = read(pki, "ca.crt")
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "kubernetes.io/tls", "stringData": data}


class CredentialNameTest(unittest.TestCase):
    API_TYPE = "GRPC"  # the proxy's ADS protocol; CredentialNameDeltaTest runs it over Delta

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weft-credname-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.pki = os.path.join(self.dir, "pki")
        os.mkdir(self.pki)
        make_pki(self.pki)
        self.upstream = mtls_upstream(self.pki)
        self.addCleanup(self.upstream.server_close)
        self.addCleanup(self.upstream.shutdown)
        self.xds_port = free_port()
        self.service_port = free_port()
        tls_file = os.path.join(self.dir, "xds-tls.addr")
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:%d" % self.xds_port,
                                      "--xds-tls-addr", "127.0.0.1:0",
                                      "--xds-tls-address-path", tls_file])
        self.weftd.start()
        self.addCleanup(self.weftd.stop)
        wait_for(lambda: os.path.exists(tls_file) and os.path.getsize(tls_file) > 0, timeout=10,
                 what="weftd's TLS xDS address")
        with open(tls_file) as f:
            self.tls_port = int(f.read().strip().rsplit(":", 1)[1])
        self.root = os.path.join(self.dir, "store", "ca", "root-cert.pem")

    def token_file(self, ns, sa="productpage", token=None):
        """A file holding a weftd token for ns/sa (or `token` as given)."""
        if token is None:
            status, got = self.weftd.request(
                "POST", "/apis/weft.io/v1/namespaces/%s/serviceaccounts/%s/token" % (ns, sa), {})
            self.assertEqual(status, 201, got)
            token = got["token"]
        path = os.path.join(self.dir, "token-%s-%s-%d" % (ns, sa, time.monotonic_ns()))
        with open(path, "w") as f:
            f.write(token + "\n")
        os.chmod(path, 0o600)
        return path

    def authenticated_proxy(self, ns="default", **kwargs):
        """weft-proxy over the TLS xDS port with a token of `ns` (its node claims default)."""
        proxy = Proxy(tls_bootstrap(self.tls_port, self.API_TYPE, self.root),
                      extra_args=["--ca-token-file", self.token_file(ns, **kwargs)],
                      wait_ready=ns == "default" and not kwargs)
        self.addCleanup(proxy.stop)
        return proxy

    def metric(self, name):
        import http.client
        conn = http.client.HTTPConnection(self.weftd.host, self.weftd.port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        return None

    def put(self, path, o):
        """Creates or replaces `o` at collection `path`, like `weftctl apply`."""
        name = o["metadata"]["name"]
        status, current = self.weftd.request("GET", path + "/" + name)
        if status == 200:
            o = dict(o, metadata=dict(o["metadata"],
                                      resourceVersion=current["metadata"]["resourceVersion"]))
            status, body = self.weftd.request("PUT", path + "/" + name, o)
        else:
            status, body = self.weftd.request("POST", path, o)
        self.assertIn(status, (200, 201), body)
        return body

    def service_entry(self):
        """The TLS upstream as a mesh-external service of namespace default."""
        self.put(collection("serviceentries"), {
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {"hosts": [HOST], "location": "MESH_EXTERNAL", "resolution": "STATIC",
                     "ports": [{"number": self.service_port, "name": "http", "protocol": "HTTP"}],
                     "endpoints": [{"address": "127.0.0.1",
                                    "ports": {"http": self.upstream.server_address[1]}}]}})

    def destination_rule(self, credential):
        self.put(collection("destinationrules"), {
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {"host": HOST, "trafficPolicy": {"tls": {
                "mode": "MUTUAL", "credentialName": credential, "subjectAltNames": [HOST]}}}})

    def client_seen(self):
        """The client certificate's CN the upstream saw for one request through the proxy."""
        code, out, _ = curl("-H", "Host: " + HOST, "http://127.0.0.1:%d/" % self.service_port,
                            timeout=3)
        if code != 0:
            return None
        try:
            return json.loads(out).get("client")
        except ValueError:
            return None

    def weftd_log(self):
        with open(os.path.join(self.dir, "weftd.log")) as f:
            return f.read()

    def test_credential_name_mtls_rotation_and_namespace_scope(self):
        # The Secret through weftctl apply (stringData, as users write it), then GET shows it
        # as Kubernetes does: data in base64, no stringData.
        secret_file = os.path.join(self.dir, "secret.yaml")
        with open(secret_file, "w") as f:
            json.dump(tls_secret("client-cred", "default", self.pki, "client-a"), f)
        out = subprocess.run([WEFTCTL, "--server", "%s:%d" % (self.weftd.host, self.weftd.port),
                              "apply", "-f", secret_file], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertIn("secret/client-cred created", out.stdout)
        status, got = self.weftd.request("GET", SECRETS % "default" + "/client-cred")
        self.assertEqual(status, 200, got)
        self.assertEqual(got["apiVersion"], "v1")
        self.assertNotIn("stringData", got)
        self.assertEqual(sorted(got["data"]), ["ca.crt", "tls.crt", "tls.key"])
        # The store holds keys: owner-only.
        mode = stat.S_IMODE(os.stat(os.path.join(self.dir, "store", "weft.db")).st_mode)
        self.assertEqual(mode, 0o600)

        # Another namespace's Secret of a name the proxy will ask for.
        self.put(SECRETS % "prod", tls_secret("prod-cred", "prod", self.pki, "client-b"))

        self.service_entry()
        self.destination_rule("client-cred")

        proxy = self.authenticated_proxy()
        wait_for(lambda: self.client_seen() == "client-a", timeout=20,
                 what="mTLS with client-a's certificate\n" + proxy.output())
        self.assertEqual([self.client_seen() for _ in range(5)], ["client-a"] * 5)

        # Rotation: the Secret now holds client-b's certificate; new connections present it.
        self.put(SECRETS % "default", tls_secret("client-cred", "default", self.pki, "client-b"))
        wait_for(lambda: self.client_seen() == "client-b", timeout=15,
                 what="rotation to client-b\n" + proxy.output())
        self.assertEqual([self.client_seen() for _ in range(5)], ["client-b"] * 5)
        # Envoy's per-secret SDS counters: the certificate arrived twice, the CA (unchanged) once.
        self.assertEqual(proxy_stat(proxy, "sds.kubernetes://client-cred.update_success"), 2)
        self.assertEqual(proxy_stat(proxy, "sds.kubernetes://client-cred-cacert.update_success"), 1)

        # A credential that exists only in prod: the default proxy gets nothing, so its
        # handshakes have no certificate and no request reaches the upstream.
        self.destination_rule("prod-cred")
        wait_for(lambda: "asked for secret 'kubernetes://prod-cred', which is not served to it"
                 in self.weftd_log(), timeout=15, what="weftd logging the refused secret")
        wait_for(lambda: self.client_seen() is None, timeout=15, what="requests failing")
        self.assertEqual([self.client_seen() for _ in range(3)], [None] * 3)
        self.assertIn("no Secret default/prod-cred", self.weftd_log())

        # Secrets never reach a log: neither weftd's nor the proxy's.
        key_line = read(self.pki, "client-b.key").splitlines()[1]
        self.assertNotIn(key_line, self.weftd_log())
        self.assertNotIn(key_line, proxy.output())

    def test_secrets_only_over_an_authenticated_stream_of_the_namespace(self):
        self.put(SECRETS % "default", tls_secret("client-cred", "default", self.pki, "client-a"))
        self.service_entry()
        self.destination_rule("client-cred")

        # The plaintext port: the rest of the config, no Secret, and weftd says why.
        plain = Proxy(bootstrap(self.xds_port, self.API_TYPE), wait_ready=False)
        self.addCleanup(plain.stop)
        wait_for(lambda: "secret kubernetes://client-cred not served: the stream is not "
                 "authenticated (use the TLS xDS port with a token)" in self.weftd_log(),
                 timeout=15, what="weftd refusing the secret on the plaintext port")
        wait_for(lambda: proxy_stat(plain, "cluster_manager.cds.update_success") >= 1,
                 timeout=15, what="CDS still served on the plaintext port\n" + plain.output())
        self.assertEqual([self.client_seen() for _ in range(3)], [None] * 3)
        self.assertEqual(proxy_stat(plain, "sds.kubernetes://client-cred.update_success"), 0)
        plain.stop()

        # A token of prod on a node that claims default: refused, logged, counted.
        self.assertEqual(self.metric('pilot_xds_auth_failures{reason="authorization"}'), 0)
        other = self.authenticated_proxy(ns="prod")
        wait_for(lambda: (self.metric('pilot_xds_auth_failures{reason="authorization"}') or 0)
                 >= 1, timeout=15, what="the prod token refused\n" + self.weftd_log())
        self.assertIn("authorization failed: the token is of prod/productpage, the node claims "
                      "default/*", self.weftd_log())
        self.assertEqual([self.client_seen() for _ in range(3)], [None] * 3)
        self.assertEqual(proxy_stat(other, "sds.kubernetes://client-cred.update_success"), 0)
        other.stop()

        # A token that does not verify: refused as unauthenticated.
        forged = self.authenticated_proxy(token="eyJhbGciOiJIUzI1NiJ9.e30.AAAA")
        wait_for(lambda: (self.metric('pilot_xds_auth_failures{reason="authentication"}') or 0)
                 >= 1, timeout=15, what="the forged token refused\n" + self.weftd_log())
        self.assertEqual(proxy_stat(forged, "sds.kubernetes://client-cred.update_success"), 0)
        forged.stop()

        # The namespace's own token over TLS: the Secret, and mTLS with it.
        proxy = self.authenticated_proxy()
        wait_for(lambda: self.client_seen() == "client-a", timeout=20,
                 what="mTLS with client-a's certificate\n" + proxy.output())
        self.assertIn("authenticated in namespace default", self.weftd_log())


class CredentialNameDeltaTest(CredentialNameTest):
    API_TYPE = "DELTA_GRPC"


class SecretValidationApiTest(WeftdTestBase):
    def test_invalid_secrets_are_refused_with_the_field_path(self):
        pki = tempfile.mkdtemp(prefix="weft-pki-")
        self.addCleanup(shutil.rmtree, pki, ignore_errors=True)
        make_pki(pki)
        bad = tls_secret("bad", "default", pki, "client-a")
        bad["stringData"]["tls.key"] = read(pki, "client-b.key")
        status, body = self.weftd.request("POST", SECRETS % "default", bad)
        self.assertEqual(status, 422, body)
        self.assertEqual([c["field"] for c in body["details"]["causes"]], ["stringData[tls.key]"])
        self.assertIn("does not match the certificate", body["details"]["causes"][0]["message"])
        status, body = self.weftd.request("POST", SECRETS % "default", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b64"},
            "type": "Opaque", "data": {"cacert": "%%%"}})
        self.assertEqual(status, 422, body)
        self.assertEqual([c["field"] for c in body["details"]["causes"]], ["data[cacert]"])
        # immutable: true, as Kubernetes: the data cannot change any more.
        frozen = tls_secret("frozen", "default", pki, "client-a")
        frozen["immutable"] = True
        status, body = self.weftd.request("POST", SECRETS % "default", frozen)
        self.assertEqual(status, 201, body)
        changed = tls_secret("frozen", "default", pki, "client-b")
        changed["immutable"] = True
        status, body = self.weftd.request("PUT", SECRETS % "default" + "/frozen", changed)
        self.assertEqual(status, 422, body)
        self.assertEqual([c["field"] for c in body["details"]["causes"]], ["data"])
        status, body = self.weftd.request("PUT", SECRETS % "default" + "/frozen", frozen)
        self.assertEqual(status, 200, body)  # the same data: allowed


if __name__ == "__main__":
    unittest.main()
