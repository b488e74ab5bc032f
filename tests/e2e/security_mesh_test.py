"""Zero trust in a real mesh on this host, end to end: `weftctl install` (workload certificates
living TTL seconds), `weftctl add-to-mesh` puts an echo server and two clients in network
namespaces with capturing sidecars that get their identity from weftd's CA, and each test checks
what a user would: the certificates (admin /certs, `openssl s_client`), mutual TLS between the
sidecars in PERMISSIVE and STRICT mode, AuthorizationPolicy, RequestAuthentication with JWTs,
a proxy refused someone else's identity, rotation under load, and that no private key is on disk.

Workloads (Istio's namespaces and service accounts):
  server    ns secure, sa server,   echo_server.py on 8080 (service "server")
  client-a  ns secure, sa client-a  (service "client-a", an echo server too)
  client-b  ns other,  sa client-b  (service "client-b")

The mesh (WEFT_HOME, bridge, subnet, weftd on free ports) is the Mesh of bookinfo_mesh_test,
built once for the class and removed at the end (remove-from-mesh, uninstall --purge), failed or
not; what is left is reported. Root only (network namespaces); skipped with the reason otherwise.
Set WEFT_KEEP=1 to keep the WEFT_HOME of a run.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bookinfo_mesh_test import (MISSING as MESH_MISSING, PYTHON, WEFTCTL,  # noqa: E402
                                MeshTestCase, tail, wait_for)
import harness  # noqa: E402  (on the path through bookinfo_mesh_test)

ECHO = os.path.join(HERE, "echo_server.py")
LOAD = os.path.join(HERE, "load.py")
PROXY = os.path.join(harness.BUILD, "bin", "weft-proxy")
PORT = 8080
TTL = 20  # seconds: workload certificates (rotation at about half of it)
NS, OTHER_NS = "secure", "other"
TRUST_DOMAIN = "cluster.local"
ISSUER, AUDIENCE = "https://issuer.weft.test", "weft-e2e"
DENIED = "RBAC: access denied"
# The server's name as clients of both namespaces call it (the ServiceEntry's short host
# "server" in namespace secure, which weftd names server.secure.svc.cluster.local).
SERVER_HOST = "server.%s.svc.cluster.local" % NS


def _missing():
    if MESH_MISSING:
        return MESH_MISSING
    if not shutil.which("openssl"):
        return "needs openssl"
    return None


MISSING = _missing()


def read_text(path):
    with open(path) as f:
        return f.read()


def spiffe(ns, sa):
    return "spiffe://%s/ns/%s/sa/%s" % (TRUST_DOMAIN, ns, sa)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    p = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


class Jwts:
    """RS256 tokens for the RequestAuthentication tests, made with openssl. The keys live in a
    temporary directory only while the tokens are signed (the last test checks that no private
    key is left on disk)."""

    def __init__(self):
        work = tempfile.mkdtemp(prefix="weft-e2e-jwt-")
        try:
            key, other = (os.path.join(work, n) for n in ("key.pem", "other.pem"))
            for path in (key, other):
                openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", path)
            modulus = openssl("rsa", "-in", key, "-noout", "-modulus").decode()
            n = bytes.fromhex(modulus.strip().split("=", 1)[1])
            self.jwks = json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig",
                                              "kid": "e2e", "n": b64url(n), "e": "AQAB"}]})
            now = int(time.time())
            claims = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now,
                      "exp": now + 3600}
            self.valid = self._sign(key, work, claims)
            self.expired = self._sign(key, work, dict(claims, iat=now - 7200, exp=now - 3600))
            self.wrong_issuer = self._sign(key, work, dict(claims, iss="https://evil.test"))
            self.wrong_audience = self._sign(key, work, dict(claims, aud="someone-else"))
            self.bad_signature = self._sign(other, work, claims)  # same kid, another key
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _sign(key, work, claims):
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "e2e"}).encode())
        signing_input = header + "." + b64url(json.dumps(claims).encode())
        data = os.path.join(work, "input")
        with open(data, "w") as f:
            f.write(signing_input)
        signature = openssl("dgst", "-sha256", "-sign", key, data)
        return signing_input + "." + b64url(signature)


@unittest.skipIf(MISSING, MISSING)
class SecurityMeshTest(MeshTestCase):
    """One mesh for every case (unittest runs them by name). The cases that apply policies
    (f..i) come after those that need none (a..e: certificates, PERMISSIVE, rotation, the
    impersonator); each deletes what it applied and waits until plaintext and meshed clients are
    served again, so a case that fails to clean up says so instead of failing the next one."""

    @classmethod
    def build(cls, mesh):
        cls.tmp = tempfile.mkdtemp(prefix="weft-e2e-security-")
        os.chmod(cls.tmp, 0o755)  # openssl as the proxy uid reads the root from here
        cls.jwts = Jwts()
        mesh.install("security.workloadCertTTL=%ds" % TTL, "logLevel=debug")
        cls.server = cls.add(mesh, "server", NS, "server")
        cls.client_a = cls.add(mesh, "client-a", NS, "client-a")
        cls.client_b = cls.add(mesh, "client-b", OTHER_NS, "client-b")
        record = mesh.install_record()
        cls.api = "http://" + record["apiAddress"]
        cls.tls_address = record["xdsTlsAddress"]
        cls.root_path = os.path.join(mesh.home, "control-planes", "default", "data", "ca",
                                     "root-cert.pem")
        cls.root_copy = os.path.join(cls.tmp, "root-cert.pem")
        shutil.copyfile(cls.root_path, cls.root_copy)
        os.chmod(cls.root_copy, 0o644)
        for name in (cls.server, cls.client_a, cls.client_b):
            wait_for(lambda: cls.leaf(mesh, name), 60, "a workload certificate in " + name)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(getattr(cls, "tmp", "/nonexistent"), ignore_errors=True)

    @staticmethod
    def add(mesh, service, ns, sa):
        name = service + mesh.suffix
        mesh.workloads.append(name)
        mesh.weftctl("-n", ns, "add-to-mesh", name, "--service", service, "--port", str(PORT),
                     "--service-account", sa, "--", "env", "PYTHONUNBUFFERED=1", PYTHON, ECHO,
                     str(PORT), timeout=120)
        return name

    # ---- helpers ----

    @staticmethod
    def certs(mesh, name):
        try:
            return json.loads(mesh.admin(name, "/certs") or "{}")
        except ValueError:
            return {}

    @classmethod
    def leaf(cls, mesh, name):
        """The sidecar's workload certificate as /certs shows it ({} when it has none)."""
        for entry in cls.certs(mesh, name).get("certificates", []):
            for cert in entry.get("cert_chain", []):
                return cert
        return {}

    def call(self, client, path="/", method="GET", headers=(), host=None, port=PORT):
        """(status, body) of a request from `client`'s network namespace through its sidecar
        (curl as root: captured)."""
        args = ["curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", "-X", method]
        for h in headers:
            args += ["-H", h]
        p = self.mesh.exec(client, *args, "http://%s:%d%s" % (host or SERVER_HOST, port, path))
        body, _, status = p.stdout.rpartition("\n")
        return (int(status) if status.strip().isdigit() and status.strip() != "000" else None,
                body or p.stderr)

    def plain(self, path="/", method="GET", headers=None):
        """(status, body) of a plaintext request from the host (outside the mesh) straight to the
        server pod's address; status None when the connection failed or was closed."""
        conn = http.client.HTTPConnection(self.mesh.ip(self.server), PORT, timeout=5)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            return None, str(e)
        finally:
            conn.close()

    def handshakes(self, name):
        """Downstream TLS handshakes on the sidecar's inbound (Envoy's listener.<addr>.ssl.handshake)."""
        return self.mesh.stat(name, r"^listener\..*\.ssl\.handshake$")

    def apply(self, text):
        return self.mesh.apply_text(text)

    def delete(self, kind, ns, name):
        self.mesh.weftctl("-n", ns, "delete", kind, name, check=False)

    def metric(self, name):
        with_body = subprocess.run(["curl", "-sS", "--max-time", "5", self.api + "/metrics"],
                                   capture_output=True, text=True).stdout
        m = re.search(r"(?m)^%s (\d+)$" % re.escape(name), with_body)
        return int(m.group(1)) if m else None

    def back_to_permissive(self):
        wait_for(lambda: self.plain("/reset")[0] == 200, 30,
                 "plaintext to the server again (PERMISSIVE, no policy)")
        # Meshed clients too: their sidecars keep connections to the server's sidecar alive,
        # which must not keep the policy they were accepted under (Envoy drains a listener's
        # connections when its filter chains change).
        for client in (self.client_a, self.client_b):
            wait_for(lambda: self.call(client, "/reset")[0] == 200, 30,
                     "%s's requests allowed again once the policy is gone" % client)
        time.sleep(6)  # the stale pooled connections' drain_timeout (see test_h)

    # ---- the cases ----

    def test_a_workload_certificates_from_weftds_ca(self):
        root_serial = openssl("x509", "-in", self.root_path, "-noout", "-serial").decode()
        root_serial = root_serial.strip().split("=", 1)[1].lower().lstrip("0")
        for name, ns, sa in ((self.server, NS, "server"), (self.client_a, NS, "client-a"),
                             (self.client_b, OTHER_NS, "client-b")):
            with self.subTest(workload=name):
                page = self.certs(self.mesh, name)
                entry = page["certificates"][0]
                leaf = entry["cert_chain"][0]
                self.assertEqual([s.get("uri") for s in leaf["subject_alt_names"]],
                                 [spiffe(ns, sa)])
                self.assertEqual(entry["ca_cert"][0]["serial_number"].lower().lstrip("0"),
                                 root_serial, "the chain ends at weftd's root")
                ident = os.path.join(self.mesh.home, "workloads", name, "identity")
                st = os.stat(os.path.join(ident, "istio-token"))
                self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o400, 1337))
        table = self.mesh.weftctl("workloads").stdout
        self.assertRegex(table, r"(?m)^%s .*running +%s serial " % (
            re.escape(self.server), re.escape(spiffe(NS, "server"))))
        self.assertIn("✔ CA and xDS over TLS", self.mesh.weftctl("verify-install").stdout)

    def test_b_server_sidecar_presents_its_spiffe_certificate(self):
        """openssl s_client from client-a's namespace as the proxy uid (not captured) against the
        server's inbound port, offering Istio's mesh ALPN: the chain verifies against weftd's
        root and names the server's SPIFFE id."""
        p = subprocess.run(
            ["ip", "netns", "exec", "weft-" + self.client_a, "setpriv", "--reuid", "1337",
             "--regid", "1337", "--clear-groups", "--", "openssl", "s_client", "-connect",
             "%s:%d" % (self.mesh.ip(self.server), PORT), "-alpn", "istio-http/1.1",
             "-CAfile", self.root_copy, "-showcerts"],
            input="", capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
        self.assertTrue(pems, "the server sidecar presented no certificate:\n" + out)
        self.assertIn("Verify return code: 0 (ok)", out)
        san = openssl("x509", "-noout", "-ext", "subjectAltName", data=pems[0].encode()).decode()
        self.assertIn("URI:" + spiffe(NS, "server"), san)

    def test_c_permissive_plaintext_and_mtls_both_work(self):
        self.assertEqual(self.plain("/outside")[0], 200, "a client outside the mesh (plaintext)")
        status, body = self.call(self.client_a, "/inside")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["path"], "/inside")
        self.assertGreaterEqual(self.handshakes(self.server), 1,
                                "the meshed request did not arrive over TLS (no ssl.handshake on "
                                "the server sidecar's inbound)")

    def test_f_strict_refuses_plaintext_keeps_mtls(self):
        self.apply("""apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: %s}
spec: {mtls: {mode: STRICT}}
""" % NS)
        try:
            wait_for(lambda: self.plain("/strict")[0] is None, 30,
                     "plaintext from outside the mesh refused (STRICT)")
            status, body = self.call(self.client_a, "/strict")
            self.assertEqual(status, 200, "a meshed client under STRICT: " + body)
            status, body = self.call(self.client_b, "/strict")
            self.assertEqual(status, 200, "a meshed client of another namespace: " + body)
        finally:
            self.delete("peerauthentication", NS, "default")
            self.back_to_permissive()

    AUTHZ_HTTP = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-delete, namespace: %(ns)s}
spec:
  selector: {matchLabels: {app: server}}
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-some, namespace: %(ns)s}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules:
  - to: [{operation: {paths: ["/public/*"], methods: [GET, DELETE]}}]
  - to: [{operation: {paths: ["/tagged"]}}]
    when: [{key: "request.headers[x-team]", values: [blue]}]
  - from: [{source: {principals: ["%(a)s"]}}]
    to: [{operation: {paths: ["/a/*"]}}]
  - from: [{source: {namespaces: ["%(other)s"]}}]
    to: [{operation: {paths: ["/b/*"]}}]
"""

    def authz_policies(self):
        self.apply(self.AUTHZ_HTTP % {"ns": NS, "other": OTHER_NS,
                                      "a": "%s/ns/%s/sa/client-a" % (TRUST_DOMAIN, NS)})
        wait_for(lambda: self.plain("/private")[0] == 403, 30, "the AuthorizationPolicy applied")

    def drop_authz(self):
        self.delete("authorizationpolicy", NS, "deny-delete")
        self.delete("authorizationpolicy", NS, "allow-some")
        self.back_to_permissive()

    def test_g_authorization_by_path_method_and_header(self):
        self.authz_policies()
        try:
            for (what, method, path, headers, want) in (
                    ("allowed path", "GET", "/public/x", {}, 200),
                    ("path not allowed", "GET", "/private", {}, 403),
                    ("DENY on the method wins", "DELETE", "/public/x", {}, 403),
                    ("header matches", "GET", "/tagged", {"x-team": "blue"}, 200),
                    ("header differs", "GET", "/tagged", {"x-team": "red"}, 403),
                    ("header missing", "GET", "/tagged", {}, 403)):
                with self.subTest(what):
                    status, body = self.plain(path, method, headers)
                    self.assertEqual(status, want, body)
                    if want == 403:
                        self.assertEqual(body, DENIED)
        finally:
            self.drop_authz()

    def test_h_authorization_by_principal_and_namespace(self):
        self.authz_policies()
        try:
            # A sidecar's pooled connection to the server's sidecar keeps the chain it was
            # accepted under for at most one more request, or the HCM's drain_timeout (5 s,
            # Envoy's default) when idle: as Envoy drains an updated listener. Wait for both
            # clients to see the policy, then for that grace to pass.
            wait_for(lambda: self.call(self.client_b, "/a/1")[0] == 403, 30,
                     "client-b's sidecar connections under the policy")
            wait_for(lambda: self.call(self.client_a, "/b/1")[0] == 403, 30,
                     "client-a's sidecar connections under the policy")
            time.sleep(6)
            for (what, client, path, want) in (
                    ("client-a's principal", self.client_a, "/a/1", 200),
                    ("client-b is not client-a", self.client_b, "/a/1", 403),
                    ("client-b's namespace", self.client_b, "/b/1", 200),
                    ("client-a's namespace is not other", self.client_a, "/b/1", 403),
                    ("plaintext has no principal", None, "/a/1", 403)):
                with self.subTest(what):
                    status, body = (self.plain(path) if client is None
                                    else self.call(client, path))
                    self.assertEqual(status, want, body)
                    if want == 403:
                        self.assertEqual(body.strip(), DENIED)
        finally:
            self.drop_authz()

    def test_i_request_authentication_with_jwts(self):
        self.apply("""apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: %s}
spec:
  selector: {matchLabels: {app: server}}
  jwtRules:
  - issuer: "%s"
    audiences: ["%s"]
    jwks: '%s'
""" % (NS, ISSUER, AUDIENCE, self.jwts.jwks))
        bearer = lambda t: {"authorization": "Bearer " + t}
        # client-a's sidecar may hold a pooled connection accepted under the old chain, which
        # serves one more request (or drain_timeout) before it closes, as in test_h.
        expired_through_a = lambda: self.call(
            self.client_a, "/jwt", headers=["authorization: Bearer " + self.jwts.expired])[0]
        try:
            wait_for(lambda: self.plain("/jwt", headers=bearer(self.jwts.expired))[0] == 401, 30,
                     "the RequestAuthentication applied")
            wait_for(lambda: expired_through_a() == 401, 30,
                     "client-a's sidecar connections under the RequestAuthentication")
            # Each of client-a's sidecar workers pools its own connection to the server: let the
            # stale ones' drain_timeout pass (see test_h) before asserting on every request.
            time.sleep(6)
            for (what, headers, want) in (
                    ("valid", bearer(self.jwts.valid), 200),
                    ("expired", bearer(self.jwts.expired), 401),
                    ("wrong issuer", bearer(self.jwts.wrong_issuer), 401),
                    # Envoy's jwt_authn answers 403 when only the audience is wrong
                    # (docs/user-guide/jwt.md), 401 for every other invalid token.
                    ("wrong audience", bearer(self.jwts.wrong_audience), 403),
                    ("bad signature", bearer(self.jwts.bad_signature), 401),
                    ("missing", {}, 200)):
                with self.subTest(what):
                    status, body = self.plain("/jwt", headers=headers)
                    self.assertEqual(status, want, body)
            # Through the mesh too (client-a's sidecar forwards the header).
            for _ in range(3):  # every pooled connection now under the new chain
                status, body = self.call(self.client_a, "/jwt",
                                         headers=["authorization: Bearer " + self.jwts.expired])
                self.assertEqual(status, 401, body)
            # A token becomes required once an ALLOW policy asks for a request principal.
            self.apply("""apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: %s}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules: [{from: [{source: {requestPrincipals: ["%s/alice"]}}]}]
""" % (NS, ISSUER))
            wait_for(lambda: self.plain("/jwt")[0] == 403, 30, "requestPrincipals required")
            status, body = self.plain("/jwt")
            self.assertEqual((status, body), (403, DENIED))
            self.assertEqual(self.plain("/jwt", headers=bearer(self.jwts.valid))[0], 200)
            self.assertEqual(self.plain("/jwt", headers=bearer(self.jwts.expired))[0], 401)
        finally:
            self.delete("authorizationpolicy", NS, "require-jwt")
            self.delete("requestauthentication", NS, "jwt")
            wait_for(lambda: self.plain("/jwt", headers=bearer(self.jwts.expired))[0] == 200, 30,
                     "the RequestAuthentication removed")
            wait_for(lambda: expired_through_a() == 200, 30,
                     "client-a's requests without the RequestAuthentication")
            time.sleep(6)  # the stale pooled connections' drain_timeout (see test_h)

    def test_e_a_proxy_is_refused_someone_elses_identity(self):
        """A token for client-a, a node claiming SERVICE_ACCOUNT server: weftd's CA refuses the
        CSR (its SAN is not the token's identity), logs why and counts it; the proxy holds no
        certificate."""
        token = subprocess.run(
            ["curl", "-sS", "--max-time", "5", "-X", "POST", "-d", "{}",
             "%s/apis/weft.io/v1/namespaces/%s/serviceaccounts/client-a/token" % (self.api, NS)],
            capture_output=True, text=True).stdout
        token_path = os.path.join(self.tmp, "stolen-token")
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, json.loads(token)["token"].encode())
        os.close(fd)
        bootstrap = {"node": {"id": "sidecar~127.0.0.1~impostor.%s~%s.svc.cluster.local" % (NS, NS),
                              "cluster": "impostor.%s" % NS,
                              "metadata": {"NAMESPACE": NS, "SERVICE_ACCOUNT": "server"}},
                     "admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                              "port_value": 0}}}}
        admin_path = os.path.join(self.tmp, "impostor-admin")
        log_path = os.path.join(self.tmp, "impostor.log")
        before = self.metric("citadel_server_csr_sign_error_count") or 0
        tls_port = self.tls_address.rsplit(":", 1)[1]
        with open(log_path, "wb") as log:
            proxy = subprocess.Popen(
                [PROXY, "--config-yaml", json.dumps(bootstrap), "--admin-address-path",
                 admin_path, "--ca-addr", "127.0.0.1:" + tls_port, "--ca-root-cert",
                 self.root_path, "--ca-token-file", token_path],
                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: (self.metric("citadel_server_csr_sign_error_count") or 0) > before,
                     30, "weftd's citadel_server_csr_sign_error_count to grow")
            weftd_log = os.path.join(self.mesh.home, "control-planes", "default", "weftd.log")
            with open(weftd_log, errors="replace") as f:
                refusals = [line for line in f if "refused CreateCertificate" in line]
            self.assertTrue(any(spiffe(NS, "server") in line for line in refusals),
                            "weftd's log names the refused identity:\n" + "".join(refusals[-5:]))
            admin = wait_for(lambda: os.path.exists(admin_path) and read_text(admin_path).strip(),
                             10, "the impostor's admin address")
            certs = subprocess.run(["curl", "-sS", "--max-time", "5",
                                    "http://%s/certs" % admin], capture_output=True,
                                   text=True).stdout
            self.assertEqual(json.loads(certs)["certificates"], [],
                             "the impostor got a certificate")
            self.assertIn("failed", tail(log_path, 20))
        finally:
            proxy.send_signal(signal.SIGTERM)
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
            os.remove(token_path)

    def test_d_rotation_under_load(self):
        """Requests from client-a to the server through both sidecars for more than two
        certificate lifetimes: none fails while both sidecars' certificates are replaced."""
        duration = 2 * TTL + 5
        serials = {self.server: set(), self.client_a: set()}
        loop = subprocess.Popen(
            [WEFTCTL, "exec", self.client_a, "--", PYTHON, LOAD,
             "http://%s:%d/rotation" % (SERVER_HOST, PORT), "--duration", str(duration), "--concurrency",
             "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.mesh.env())
        handshakes_before = self.handshakes(self.server)
        try:
            deadline = time.monotonic() + duration + 30
            while loop.poll() is None and time.monotonic() < deadline:
                for name in serials:
                    serial = self.leaf(self.mesh, name).get("serial_number")
                    if serial:
                        serials[name].add(serial)
                time.sleep(1)
            out, err = loop.communicate(timeout=max(1, deadline - time.monotonic()))
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.wait()
        counts = json.loads(out or "{}")
        self.assertEqual(set(counts), {"200"}, "requests that failed during rotation: %s %s"
                         % (counts, err))
        self.assertGreater(counts["200"], duration)  # well more than one a second
        for name, seen in serials.items():
            self.assertGreaterEqual(len(seen), 3, "%s's certificate was not rotated: %s"
                                    % (name, seen))
        self.assertGreater(self.handshakes(self.server), 0,
                           "the requests did not use mTLS (no ssl.handshake on the server); "
                           "%d before the loop" % handshakes_before)

    def test_z_no_private_key_on_disk(self):
        """After everything above: the only private keys under WEFT_HOME (workload dirs included)
        and the test's temporary files are weftd's CA key and token key, both 0600."""
        ca_dir = os.path.join(self.mesh.home, "control-planes", "default", "data", "ca")
        allowed = {os.path.join(ca_dir, "ca-key.pem")}
        found = []
        for top in (self.mesh.home, self.tmp):
            for dirpath, _, files in os.walk(top):
                for f in files:
                    path = os.path.join(dirpath, f)
                    try:
                        with open(path, "rb") as fh:
                            if b"PRIVATE KEY" in fh.read():
                                found.append(path)
                    except OSError:
                        pass
        self.assertEqual(set(found), allowed, "files holding a private key")
        for key in (os.path.join(ca_dir, "ca-key.pem"), os.path.join(ca_dir, "token-key")):
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600, key)


if __name__ == "__main__":
    unittest.main()
