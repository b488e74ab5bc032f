"""weft-proxy's identity agent against a real weftd: the proxy (flags --ca-addr, --ca-root-cert,
--ca-token-file) makes its key in memory, gets a certificate for
spiffe://cluster.local/ns/default/sa/productpage from weftd's CA over TLS, shows it on Envoy's
admin /certs, renews it at half-life (a 4 s --workload-cert-ttl: the serial changes), and no
private key is written anywhere in the proxy's directories. A token for another service account
gets nothing: the agent keeps retrying with back-off and /certs stays empty. A CA down at the
proxy's start delays its certificate only until the agent's next retry after the CA is back."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import harness
from listener_warming_test import CaGate
from weftd_ca_test import WeftdCaTestBase, SPIFFE, openssl

BOOTSTRAP = """
node:
  id: sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local
  cluster: productpage.default
  metadata: {NAMESPACE: default, SERVICE_ACCOUNT: productpage}
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 0}}
static_resources: {}
"""


class IdentityAgentTest(WeftdCaTestBase):
    EXTRA = ("--workload-cert-ttl", "4s")

    def start_proxy(self, token, ca_addr=None):
        secrets = tempfile.mkdtemp(prefix="weft-agent-secrets-")
        self.addCleanup(shutil.rmtree, secrets, ignore_errors=True)
        token_file = os.path.join(secrets, "istio-token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        os.chmod(token_file, 0o600)
        self.secrets = secrets
        proxy = harness.Proxy(BOOTSTRAP, extra_args=[
            "--ca-addr", ca_addr or self.tls_addr, "--ca-root-cert",
            os.path.join(self.ca_dir, "root-cert.pem"), "--ca-token-file", token_file])
        self.addCleanup(proxy.stop)
        self.addCleanup(shutil.rmtree, proxy.dir, ignore_errors=True)
        return proxy

    def certs(self, proxy):
        status, body = proxy.admin_get("/certs")
        self.assertEqual(status, 200, body)
        return json.loads(body)["certificates"]

    def wait_certs(self, proxy, pred, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            certs = self.certs(proxy)
            if pred(certs):
                return certs
            time.sleep(0.1)
        self.fail("timed out; /certs = %s\nproxy log:\n%s" % (certs, proxy.output()))

    def test_certificate_from_mesh_root_rotates_and_key_stays_in_memory(self):
        proxy = self.start_proxy(self.token())
        certs = self.wait_certs(proxy, lambda c: bool(c))
        self.assertEqual(len(certs), 1)
        leaf, = certs[0]["cert_chain"]
        root, = certs[0]["ca_cert"]
        self.assertEqual(leaf["subject_alt_names"], [{"uri": SPIFFE}])
        self.assertEqual(leaf["days_until_expiration"], "0")
        self.assertRegex(leaf["valid_from"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        root_serial = openssl("x509", "-noout", "-serial", "-in",
                              os.path.join(self.ca_dir, "root-cert.pem")).strip().split("=")[1]
        self.assertEqual(root["serial_number"], root_serial.lower())
        # Half of 4 s (±10 %): a new certificate, a new serial.
        first = leaf["serial_number"]
        rotated = self.wait_certs(
            proxy, lambda c: c and c[0]["cert_chain"][0]["serial_number"] != first, timeout=10)
        self.assertEqual(rotated[0]["cert_chain"][0]["subject_alt_names"], [{"uri": SPIFFE}])
        status, stats = proxy.admin_get("/stats")
        self.assertIn("server.days_until_first_cert_expiring: 0", stats)
        self.assertGreaterEqual(self.metrics()["citadel_server_success_cert_issuance_count"], 2)
        # The key never touches the disk: nothing in the proxy's directories holds one.
        proxy.log.flush()
        for top in (proxy.dir, self.secrets):
            for dirpath, _, files in os.walk(top):
                for name in files:
                    with open(os.path.join(dirpath, name), errors="replace") as f:
                        self.assertNotIn("PRIVATE KEY", f.read(), name)

    def test_refused_identity_retries_and_serves_nothing(self):
        proxy = self.start_proxy(self.token(sa="reviews"))
        deadline = time.time() + 10
        while "retrying in" not in proxy.output() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("but the caller is spiffe://cluster.local/ns/default/sa/reviews",
                      proxy.output())
        self.assertIn("retrying in", proxy.output())
        self.assertEqual(self.certs(proxy), [])
        self.assertGreaterEqual(self.metrics()["citadel_server_csr_sign_error_count"], 1)

    def test_recovers_soon_after_the_ca_comes_back(self):
        """The CA is down (connections closed at once) for the proxy's first 4 s: once it is
        back, the agent's pending request gets through when the channel reconnects (back-off
        bounded to 2 s) instead of failing fast until gRPC's own reconnect back-off, which
        grows to 120 s, lets the channel try again."""
        gate = CaGate(self.tls_addr, refuse=True)
        self.addCleanup(gate.stop)
        proxy = self.start_proxy(self.token(), ca_addr=gate.addr)
        time.sleep(4)
        self.assertEqual(self.certs(proxy), [])
        gate.open()
        certs = self.wait_certs(proxy, lambda c: bool(c), timeout=10)
        self.assertEqual(certs[0]["cert_chain"][0]["subject_alt_names"], [{"uri": SPIFFE}])


if __name__ == "__main__":
    unittest.main()
