"""JWT authentication end to end: weft-proxy's envoy.filters.http.jwt_authn with inline JWKS for
RS256, ES256 and EdDSA providers, driven by curl. Keys and tokens are made here (python3
cryptography); the echo upstream shows what was forwarded. Checks Envoy's 401/403 bodies and
www-authenticate challenge, token locations (Authorization, a custom header, a query parameter),
forward / forward_payload_header / claim_to_headers, rules by prefix and path, Istio's
allow_missing requirement, and the jwt_authn.allowed / denied counters."""
import base64
import http.server
import json
import threading
import time
import unittest

from harness import Proxy, Upstream, curl, free_port
from resilience_test import stat

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:  # pragma: no cover - the test skips, saying why
    rsa = None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_int(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    """A key pair of one JOSE algorithm: its public JWK and the tokens it signs."""

    def __init__(self, alg, kid):
        self.alg, self.kid = alg, kid
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pub = self.private.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "n": b64url_int(pub.n), "e": b64url_int(pub.e)}
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            pub = self.private.public_key().public_numbers()
            self.jwk = {"kty": "EC", "crv": "P-256", "x": b64url(pub.x.to_bytes(32, "big")),
                        "y": b64url(pub.y.to_bytes(32, "big"))}
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            from cryptography.hazmat.primitives import serialization
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                         serialization.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        self.jwk.update({"kid": kid, "alg": alg})

    def jwks(self):
        return json.dumps({"keys": [self.jwk]})

    def sign(self, claims, alg=None):
        header = {"alg": alg or self.alg, "kid": self.kid, "typ": "JWT"}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        if self.alg == "RS256":
            sig = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(signing_input,
                                                          ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JOSE's r||s
        else:
            sig = self.private.sign(signing_input)
        return signing_input.decode() + "." + b64url(sig)


BOOTSTRAP = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: ingress
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes: [{{match: {{prefix: "/"}}, route: {{cluster: app}}}}]
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                rsa:
                  issuer: https://rsa.test
                  audiences: [bookinfo]
                  local_jwks: {{inline_string: '{rsa_jwks}'}}
                  forward_payload_header: x-jwt-payload
                  claim_to_headers: [{{header_name: x-sub, claim_name: sub}}]
                ec:
                  issuer: https://ec.test
                  local_jwks: {{inline_string: '{ec_jwks}'}}
                  from_headers: [{{name: x-ec-token, value_prefix: "Token "}}]
                ed:
                  issuer: https://ed.test
                  local_jwks: {{inline_string: '{ed_jwks}'}}
                  from_params: [token]
                  forward: true
              rules:
              - match: {{prefix: /public}}
              - match: {{path: /ec}}
                requires: {{provider_name: ec}}
              - match: {{prefix: /ed}}
                requires: {{provider_name: ed}}
              - match: {{prefix: /optional}}
                requires: {{requires_any: {{requirements: [{{provider_name: rsa}}, {{allow_missing: {{}}}}]}}}}
              - match: {{prefix: /}}
                requires: {{provider_name: rsa}}
          - name: envoy.filters.http.router
  clusters:
  - name: app
    load_assignment:
      cluster_name: app
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
"""


@unittest.skipIf(rsa is None, "python3 cryptography is not installed")
class JwtAuthnTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rsa, cls.ec, cls.ed = Key("RS256", "r1"), Key("ES256", "e1"), Key("EdDSA", "d1")
        cls.upstream = Upstream("app")
        cls.port = free_port()
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, upstream=cls.upstream.port,
                                           rsa_jwks=cls.rsa.jwks(), ec_jwks=cls.ec.jwks(),
                                           ed_jwks=cls.ed.jwks()))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.upstream.stop()

    def claims(self, iss="https://rsa.test", **extra):
        c = {"iss": iss, "sub": "alice", "aud": "bookinfo", "exp": int(time.time()) + 600}
        c.update(extra)
        return c

    def request(self, path, *headers):
        """(status, lower-cased response headers, body, requests the upstream saw)."""
        before = len(self.upstream.seen)
        args = ["-D", "-"]
        for h in headers:
            args += ["-H", h]
        code, out, err = curl(*args, "http://127.0.0.1:%d%s" % (self.port, path))
        self.assertEqual(code, 0, err)
        head, _, body = out.partition("\n\n")
        lines = head.split("\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), fields, body, self.upstream.seen[before:]

    def bearer(self, token):
        return "authorization: Bearer " + token

    def test_valid_rs256_token_reaches_the_upstream_with_its_claims(self):
        allowed = stat(self.proxy, "http.ingress.jwt_authn.allowed")
        status, _, _, seen = self.request("/api", self.bearer(self.rsa.sign(self.claims())))
        self.assertEqual(status, 200)
        headers = seen[0][2]
        self.assertNotIn("authorization", headers)  # forward: false strips it
        self.assertEqual(headers["x-sub"], "alice")
        payload = json.loads(base64.urlsafe_b64decode(headers["x-jwt-payload"] + "=="))
        self.assertEqual(payload["iss"], "https://rsa.test")
        self.assertEqual(stat(self.proxy, "http.ingress.jwt_authn.allowed"), allowed + 1)

    def test_missing_token_is_401_with_a_challenge(self):
        denied = stat(self.proxy, "http.ingress.jwt_authn.denied")
        status, fields, body, seen = self.request("/api")
        self.assertEqual((status, body, seen), (401, "Jwt is missing", []))
        self.assertEqual(fields["www-authenticate"],
                         'Bearer realm="http://127.0.0.1:%d/api"' % self.port)
        self.assertEqual(stat(self.proxy, "http.ingress.jwt_authn.denied"), denied + 1)

    def test_invalid_tokens_are_refused_with_envoys_reasons(self):
        now = int(time.time())
        other = Key("RS256", "r1")
        cases = [
            ("expired", self.rsa.sign(self.claims(exp=now - 120)), 401, "Jwt is expired"),
            ("not yet valid", self.rsa.sign(self.claims(nbf=now + 600)), 401,
             "Jwt not yet valid"),
            ("wrong issuer", self.rsa.sign(self.claims(iss="https://evil.test")), 401,
             "Jwt issuer is not configured"),
            ("wrong audience", self.rsa.sign(self.claims(aud="reviews")), 403,
             "Audiences in Jwt are not allowed"),
            ("bad signature", other.sign(self.claims()), 401, "Jwt verification fails"),
            ("alg none", self.rsa.sign(self.claims()).rsplit(".", 2)[0].replace(
                self.rsa.sign(self.claims()).split(".")[0],
                b64url(b'{"alg":"none"}')) + "." + self.rsa.sign(self.claims()).split(".")[1]
             + ".", 401, "Jwt header [alg] is not supported"),
            ("malformed", "abc.def", 401,
             "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
        ]
        for name, token, code, reason in cases:
            with self.subTest(name):
                status, fields, body, seen = self.request("/api", self.bearer(token))
                self.assertEqual((status, body, seen), (code, reason, []))
                self.assertIn('error="invalid_token"', fields["www-authenticate"])

    def test_es256_from_a_custom_header_on_an_exact_path(self):
        token = self.ec.sign(self.claims(iss="https://ec.test"))
        status, _, _, seen = self.request("/ec", "x-ec-token: Token " + token)
        self.assertEqual(status, 200)
        self.assertNotIn("x-ec-token", seen[0][2])
        # Only that path: /ec/more falls to the catch-all rule, which wants an RS256 token.
        self.assertEqual(self.request("/ec/more", "x-ec-token: Token " + token)[0], 401)

    def test_eddsa_from_a_query_parameter_is_forwarded(self):
        token = self.ed.sign(self.claims(iss="https://ed.test"))
        status, _, _, seen = self.request("/ed?token=" + token)
        self.assertEqual(status, 200)
        self.assertIn("token=" + token, seen[0][1])
        self.assertEqual(self.request("/ed?token=" + token[:-4] + "AAAA")[2],
                         "Jwt verification fails")

    def test_allow_missing_passes_no_token_but_not_a_bad_one(self):
        self.assertEqual(self.request("/optional")[0], 200)
        self.assertEqual(self.request("/optional", self.bearer(self.rsa.sign(self.claims())))[0],
                         200)
        expired = self.rsa.sign(self.claims(exp=int(time.time()) - 3600))
        self.assertEqual(self.request("/optional", self.bearer(expired))[:3:2],
                         (401, "Jwt is expired"))

    def test_rule_without_requirement_is_not_checked(self):
        self.assertEqual(self.request("/public/x", self.bearer("garbage"))[0], 200)


REMOTE_BOOTSTRAP = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: ingress
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes: [{{match: {{prefix: "/"}}, route: {{cluster: app}}}}]
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                remote:
                  issuer: https://remote.test
                  remote_jwks:
                    http_uri: {{uri: "http://jwks.test/keys.json", cluster: jwks, timeout: 2s}}
                    cache_duration: 1s
                broken:
                  issuer: https://broken.test
                  from_headers: [{{name: x-broken}}]
                  remote_jwks:
                    http_uri: {{uri: "http://jwks.test/missing", cluster: jwks, timeout: 2s}}
              rules:
              - match: {{prefix: /broken}}
                requires: {{provider_name: broken}}
              - match: {{prefix: /}}
                requires: {{provider_name: remote}}
          - name: envoy.filters.http.router
  clusters:
  - name: app
    load_assignment:
      cluster_name: app
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
  - name: jwks
    load_assignment:
      cluster_name: jwks
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {jwks}}}}}}}}}]}}]
"""


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.fetches.append((self.path, self.headers.get("host")))
        body = self.server.jwks.encode() if self.path == "/keys.json" else b"no"
        self.send_response(200 if self.path == "/keys.json" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@unittest.skipIf(rsa is None, "python3 cryptography is not installed")
class JwtRemoteJwksTest(unittest.TestCase):
    """remote_jwks: the set is fetched through the `jwks` cluster from a python server, cached
    cache_duration (1 s here) and fetched again after; a failed fetch refuses the token."""

    @classmethod
    def setUpClass(cls):
        cls.key = Key("ES256", "e1")
        cls.jwks_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
        cls.jwks_server.fetches = []
        cls.jwks_server.jwks = cls.key.jwks()
        threading.Thread(target=cls.jwks_server.serve_forever, daemon=True).start()
        cls.upstream = Upstream("app")
        cls.port = free_port()
        cls.proxy = Proxy(REMOTE_BOOTSTRAP.format(port=cls.port, upstream=cls.upstream.port,
                                                  jwks=cls.jwks_server.server_address[1]))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.upstream.stop()
        cls.jwks_server.shutdown()
        cls.jwks_server.server_close()

    request = JwtAuthnTest.request

    def token(self, key):
        return key.sign({"iss": "https://remote.test", "sub": "bob",
                         "exp": int(time.time()) + 600})

    def test_fetched_cached_and_refreshed(self):
        fetches = self.jwks_server.fetches
        before = len(fetches)
        status, _, _, seen = self.request("/a", "authorization: Bearer " + self.token(self.key))
        self.assertEqual(status, 200)
        self.assertEqual(fetches[before:], [("/keys.json", "jwks.test")])
        # Cached: more requests fetch nothing.
        for _ in range(3):
            self.assertEqual(self.request("/a", "authorization: Bearer " +
                                          self.token(self.key))[0], 200)
        self.assertEqual(len(fetches), before + 1)
        self.assertGreaterEqual(stat(self.proxy, "http.ingress.jwt_authn.jwks_fetch_success"), 1)
        # A request without a token needs no keys: nothing is fetched for it.
        self.assertEqual(self.request("/a")[2], "Jwt is missing")
        # The issuer rotates its key; after cache_duration the proxy fetches the new set.
        new_key = Key("ES256", "e2")
        self.jwks_server.jwks = new_key.jwks()
        deadline = time.time() + 10
        while time.time() < deadline:
            status = self.request("/a", "authorization: Bearer " + self.token(new_key))[0]
            if status == 200:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200)
        self.assertGreater(len(fetches), before + 1)
        self.assertEqual(self.request("/a", "authorization: Bearer " + self.token(self.key))[2],
                         "Jwks doesn't have key to match kid or alg from Jwt")
        self.jwks_server.jwks = self.key.jwks()

    def test_failed_fetch_refuses_the_token(self):
        failed = stat(self.proxy, "http.ingress.jwt_authn.jwks_fetch_failed")
        token = self.key.sign({"iss": "https://broken.test", "sub": "bob",
                               "exp": int(time.time()) + 600})
        status, _, body, seen = self.request("/broken", "x-broken: " + token)
        self.assertEqual((status, body, seen), (401, "Jwks remote fetch is failed", []))
        self.assertEqual(stat(self.proxy, "http.ingress.jwt_authn.jwks_fetch_failed"), failed + 1)


if __name__ == "__main__":
    unittest.main()
