"""weftd's CA end to end: a real weftd, tokens from its API, CSRs made by the openssl CLI and sent
with Debian's python3-grpcio over TLS (trusting only the mesh root) to
istio.v1.auth.IstioCertificateService/CreateCertificate on --xds-tls-addr. The messages are
encoded by hand (three fields; no protoc at test time). Checks Istio's chain order, the exact
SPIFFE SAN, the refusals (other identity, no token, forged token) and their counters, the key
files' modes, a plug-in intermediate (weftd --cacerts), and that the plaintext xDS port does not
serve the CA."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import grpc
except ImportError:  # python3-grpcio is Debian's: visible to /usr/bin/python3, maybe not to ours
    sys.path.append("/usr/lib/python3/dist-packages")
    import grpc

from weftd_api_test import Weftd

METHOD = "/istio.v1.auth.IstioCertificateService/CreateCertificate"
SPIFFE = "spiffe://cluster.local/ns/default/sa/productpage"


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_request(csr_pem, validity_s=0):
    """IstioCertificateRequest{csr = 1; validity_duration = 3}."""
    csr = csr_pem.encode()
    out = b"\x0a" + _varint(len(csr)) + csr
    if validity_s:
        out += b"\x18" + _varint(validity_s)
    return out


def decode_response(data):
    """IstioCertificateResponse{repeated string cert_chain = 1} -> [pem, ...]."""
    chain, i = [], 0
    while i < len(data):
        tag = data[i]
        i += 1
        length, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if tag == 0x0A:
            chain.append(data[i:i + length].decode())
        i += length
    return chain


def openssl(*args, stdin=None, check=True):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True,
                          check=check, timeout=30).stdout


def make_csr(directory, san):
    key = os.path.join(directory, "csr-key.pem")
    return openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-nodes", "-keyout", key, "-subj", "/O=test",
                   "-addext", "subjectAltName=" + san)


def split_pem(bundle):
    end = "-----END CERTIFICATE-----\n"
    return [c + end for c in bundle.split(end) if c.strip()]


class WeftdCaTestBase(unittest.TestCase):
    EXTRA = ()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weftd-ca-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.tls_file = os.path.join(self.dir, "xds-tls.addr")
        self.xds_file = os.path.join(self.dir, "xds.addr")
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:0", "--xds-address-path",
                                      self.xds_file, "--xds-tls-addr", "127.0.0.1:0",
                                      "--xds-tls-address-path", self.tls_file,
                                      *(() if "--workload-cert-ttl" in self.EXTRA
                                        else ("--workload-cert-ttl", "1h")), *self.EXTRA])
        self.weftd.start()
        self.addCleanup(self.weftd.stop)
        deadline = time.time() + 10
        while not os.path.exists(self.tls_file) and time.time() < deadline:
            time.sleep(0.02)
        with open(self.tls_file) as f:
            self.tls_addr = f.read().strip()
        with open(self.xds_file) as f:
            self.xds_addr = f.read().strip()
        self.ca_dir = os.path.join(self.dir, "store", "ca")
        root_dir = self.EXTRA[1] if self.EXTRA[:1] == ("--cacerts",) else self.ca_dir
        with open(os.path.join(root_dir, "root-cert.pem")) as f:
            self.root = f.read()

    def token(self, ns="default", sa="productpage", body=None):
        status, got = self.weftd.request(
            "POST", f"/apis/weft.io/v1/namespaces/{ns}/serviceaccounts/{sa}/token", body or {})
        self.assertEqual(status, 201, got)
        return got["token"]

    def call(self, csr, token=None, addr=None, root=None, validity_s=0):
        creds = grpc.ssl_channel_credentials(root_certificates=(root or self.root).encode())
        with (grpc.secure_channel(addr or self.tls_addr, creds) if addr is None or root
              else grpc.insecure_channel(addr)) as channel:
            stub = channel.unary_unary(METHOD, request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
            metadata = [("authorization", "Bearer " + token)] if token else []
            return decode_response(stub(encode_request(csr, validity_s), metadata=metadata,
                                        timeout=10))

    def leaf_text(self, pem):
        return openssl("x509", "-noout", "-text", stdin=pem)

    def metrics(self):
        import http.client
        conn = http.client.HTTPConnection(self.weftd.host, self.weftd.port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        return {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
                if line and not line.startswith("#")}


class WeftdCaTest(WeftdCaTestBase):
    def test_csr_for_token_identity_is_signed_with_istio_chain(self):
        chain = self.call(make_csr(self.dir, "URI:" + SPIFFE), self.token())
        self.assertEqual(len(chain), 2)  # leaf, root
        self.assertEqual(chain[1], self.root)
        text = self.leaf_text(chain[0])
        self.assertIn("URI:" + SPIFFE, text)
        self.assertNotIn("DNS:", text)
        self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication", text)
        self.assertIn("Digital Signature, Key Encipherment", text)
        leaf = os.path.join(self.dir, "leaf.pem")
        with open(leaf, "w") as f:
            f.write(chain[0])
        root = os.path.join(self.ca_dir, "root-cert.pem")
        self.assertIn("OK", openssl("verify", "-CAfile", root, leaf))
        # --workload-cert-ttl 1h: notAfter within an hour; a shorter validity_duration honoured.
        self.assertIn("will not expire",
                      openssl("x509", "-noout", "-checkend", "3500", "-in", leaf, check=False))
        self.assertIn("will expire",
                      openssl("x509", "-noout", "-checkend", "3601", "-in", leaf, check=False))
        short = self.call(make_csr(self.dir, "URI:" + SPIFFE), self.token(), validity_s=60)
        with open(leaf, "w") as f:
            f.write(short[0])
        self.assertIn("will expire",
                      openssl("x509", "-noout", "-checkend", "61", "-in", leaf, check=False))
        self.assertEqual(self.metrics()["citadel_server_success_cert_issuance_count"], 2)
        # The signing key never leaves the data dir.
        with open(os.path.join(self.ca_dir, "ca-key.pem")) as f:
            key = f.read()
        for pem in chain + short:
            self.assertNotIn(key.strip().splitlines()[1], pem)

    def test_refusals(self):
        csr = make_csr(self.dir, "URI:" + SPIFFE)
        cases = [
            ("other identity", make_csr(self.dir, "URI:spiffe://cluster.local/ns/default/sa/reviews"),
             self.token(), grpc.StatusCode.PERMISSION_DENIED),
            ("extra DNS SAN", make_csr(self.dir, "URI:" + SPIFFE + ",DNS:evil.example"),
             self.token(), grpc.StatusCode.PERMISSION_DENIED),
            ("no token", csr, None, grpc.StatusCode.UNAUTHENTICATED),
            ("forged token", csr, self.token()[:-4] + "AAAA", grpc.StatusCode.UNAUTHENTICATED),
            ("other sa's token", csr, self.token(sa="reviews"), grpc.StatusCode.PERMISSION_DENIED),
            ("garbage CSR", "not a csr", self.token(), grpc.StatusCode.INVALID_ARGUMENT),
        ]
        for name, request, token, code in cases:
            with self.subTest(name):
                with self.assertRaises(grpc.RpcError) as raised:
                    self.call(request, token)
                self.assertEqual(raised.exception.code(), code, raised.exception.details())
        # An expired token.
        expiring = self.token(body={"expirationSeconds": 1})
        time.sleep(2.1)
        with self.assertRaises(grpc.RpcError) as raised:
            self.call(csr, expiring)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("expired", raised.exception.details())
        m = self.metrics()
        self.assertEqual(m["citadel_server_authentication_failure_count"], 3)
        self.assertEqual(m["citadel_server_csr_sign_error_count"], 3)
        self.assertEqual(m["citadel_server_csr_parsing_err_count"], 1)
        self.assertEqual(m["citadel_server_success_cert_issuance_count"], 0)
        with open(os.path.join(self.dir, "weftd.log")) as f:
            self.assertIn("refused CreateCertificate", f.read())

    def test_key_files_are_private_and_plaintext_port_has_no_ca(self):
        for name in ("ca-key.pem", "token-key"):
            mode = stat.S_IMODE(os.stat(os.path.join(self.ca_dir, name)).st_mode)
            self.assertEqual(mode, 0o600, name)
        self.assertEqual(stat.S_IMODE(os.stat(self.ca_dir).st_mode) & 0o077, 0)
        with self.assertRaises(grpc.RpcError) as raised:
            self.call(make_csr(self.dir, "URI:" + SPIFFE), self.token(), addr=self.xds_addr)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        # A restart keeps the root and the token key: an old token still works.
        token = self.token()
        self.weftd.stop()
        self.weftd.start()
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(self.tls_file) as f:
                addr = f.read().strip()
            if addr and addr != self.tls_addr:
                break
            time.sleep(0.05)
        self.tls_addr = addr
        chain = self.call(make_csr(self.dir, "URI:" + SPIFFE), token)
        self.assertEqual(chain[-1], self.root)


class WeftdTlsAdsTest(WeftdCaTestBase):
    def test_ads_over_tls_port(self):
        """A sidecar's CDS request on the TLS port, trusting only the mesh root, is answered."""
        cds = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        node_id = b"sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local"
        node = b"\x0a" + _varint(len(node_id)) + node_id  # Node{id = 1}
        request = (b"\x12" + _varint(len(node)) + node  # DiscoveryRequest{node = 2
                   + b"\x22" + _varint(len(cds)) + cds.encode())  # type_url = 4}
        creds = grpc.ssl_channel_credentials(root_certificates=self.root.encode())
        with grpc.secure_channel(self.tls_addr, creds) as channel:
            stream = channel.stream_stream(
                "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
                request_serializer=lambda b: b, response_deserializer=lambda b: b)
            done = threading.Event()

            def requests():  # the stream stays open (a half-close ends it) until answered
                yield request
                done.wait(10)

            responses = stream(requests(), timeout=10)
            try:
                first = next(responses)
            finally:
                done.set()
                responses.cancel()
        self.assertIn(cds.encode(), first)  # DiscoveryResponse.type_url


class WeftdPluginCaTest(WeftdCaTestBase):
    """weftd --cacerts: the user's root and an intermediate it signed, Istio's file names."""

    def setUp(self):
        self.cacerts = tempfile.mkdtemp(prefix="weftd-cacerts-")
        self.addCleanup(shutil.rmtree, self.cacerts, ignore_errors=True)
        p = lambda name: os.path.join(self.cacerts, name)
        ext = p("ext.cnf")
        with open(ext, "w") as f:
            f.write("[v3_ca]\nbasicConstraints=critical,CA:TRUE\n"
                    "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p("root-key.pem"), "-out", p("root-cert.pem"), "-days", "30",
                "-subj", "/O=Example Corp/CN=Example Root")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p("ca-key.pem"), "-out", p("ca.csr"), "-subj", "/O=Example Corp/CN=mesh")
        openssl("x509", "-req", "-in", p("ca.csr"), "-CA", p("root-cert.pem"), "-CAkey",
                p("root-key.pem"), "-CAcreateserial", "-days", "10", "-extfile", ext,
                "-extensions", "v3_ca", "-out", p("ca-cert.pem"))
        with open(p("cert-chain.pem"), "w") as out:
            for name in ("ca-cert.pem", "root-cert.pem"):
                with open(p(name)) as f:
                    out.write(f.read())
        os.chmod(p("ca-key.pem"), 0o600)
        self.EXTRA = ("--cacerts", self.cacerts)
        super().setUp()

    def test_chain_is_leaf_intermediate_user_root(self):
        with open(os.path.join(self.cacerts, "root-cert.pem")) as f:
            user_root = f.read()
        with open(os.path.join(self.cacerts, "ca-cert.pem")) as f:
            intermediate = f.read()
        self.assertEqual(self.root, user_root)  # weftd's TLS port: a certificate it issued
        chain = self.call(make_csr(self.dir, "URI:" + SPIFFE), self.token())
        self.assertEqual(len(chain), 3)
        self.assertEqual(chain[1].strip(), intermediate.strip())
        self.assertEqual(chain[2].strip(), user_root.strip())
        leaf = os.path.join(self.dir, "leaf.pem")
        with open(leaf, "w") as f:
            f.write(chain[0])
        self.assertIn("OK", openssl("verify", "-CAfile", os.path.join(self.cacerts, "root-cert.pem"),
                                    "-untrusted", os.path.join(self.cacerts, "ca-cert.pem"), leaf))
        # Nothing of weftd's own CA was made.
        self.assertFalse(os.path.exists(os.path.join(self.ca_dir, "ca-key.pem")))


if __name__ == "__main__":
    unittest.main()
