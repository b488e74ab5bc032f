"""CORS end to end: envoy.filters.http.cors in weft-proxy, driven by curl the way a browser would
(preflight OPTIONS with Origin and Access-Control-Request-Method, then the actual request), with
policies from typed_per_filter_config on a virtual host and its routes and from the deprecated
virtual-host `cors` field. Checks what reaches the upstream, the headers the client gets back,
the access log's response code details and the cors.origin_valid / origin_invalid counters."""
import json
import os
import shutil
import tempfile
import unittest

from harness import Proxy, Upstream, curl, free_port
# Modules, not their TestCase classes: a class imported here would run as part of this module.
import resilience_test
import weftd_mesh_test
from resilience_test import stat
from weftd_mesh_test import HOST, bootstrap, obj
from xds_test import wait_for

CORS_POLICY = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"

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
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {log}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\\n"
          route_config:
            virtual_hosts:
            - name: legacy
              domains: ["legacy.test"]
              cors:
                allow_origin_string_match: [{{exact: "https://old.example.com"}}]
                allow_methods: "GET"
                expose_headers: "x-legacy"
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: app}}
            - name: app
              domains: ["*"]
              typed_per_filter_config:
                envoy.filters.http.cors:
                  "@type": {policy}
                  allow_origin_string_match:
                  - exact: "https://app.example.com"
                  - safe_regex: {{regex: "https://[a-z]+\\\\.trusted\\\\.test"}}
                  allow_methods: "GET, POST"
                  allow_headers: "content-type, x-custom"
                  expose_headers: "x-trace"
                  max_age: "600"
                  allow_credentials: true
              routes:
              - match: {{prefix: "/nofwd/"}}
                route: {{cluster: app}}
                typed_per_filter_config:
                  envoy.filters.http.cors:
                    "@type": {policy}
                    forward_not_matching_preflights: false
              - match: {{prefix: "/star/"}}
                route: {{cluster: app}}
                typed_per_filter_config:
                  envoy.filters.http.cors:
                    "@type": {policy}
                    allow_origin_string_match: [{{exact: "*"}}]
                    allow_methods: "*"
                    allow_headers: "*"
                    allow_credentials: false
              - match: {{prefix: "/shadow/"}}
                route: {{cluster: app}}
                typed_per_filter_config:
                  envoy.filters.http.cors:
                    "@type": {policy}
                    filter_enabled: {{default_value: {{numerator: 0}}}}
                    shadow_enabled: {{default_value: {{numerator: 100}}}}
              - match: {{prefix: "/direct"}}
                direct_response: {{status: 200, body: {{inline_string: "direct"}}}}
              - match: {{prefix: "/"}}
                route: {{cluster: app}}
          http_filters:
          - name: envoy.filters.http.cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: app
    load_assignment:
      cluster_name: app
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
"""

ALLOWED = "https://app.example.com"
DENIED = "https://evil.example.com"


class CorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = Upstream("app")
        cls.port = free_port()
        cls.tmp = tempfile.mkdtemp(prefix="weft-cors-")
        cls.log_path = os.path.join(cls.tmp, "access.log")
        cls.proxy = Proxy(BOOTSTRAP.format(port=cls.port, upstream=cls.upstream.port,
                                           policy=CORS_POLICY, log=cls.log_path))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.upstream.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def request(self, path, *headers, method="GET", host=None):
        """(status, response headers as a lower-cased dict, body, requests the upstream saw)."""
        before = len(self.upstream.seen)
        args = ["-D", "-", "-X", method]
        for h in headers:
            args += ["-H", h]
        if host:
            args += ["-H", "host: " + host]
        code, out, err = curl(*args, "http://127.0.0.1:%d%s" % (self.port, path))
        self.assertEqual(code, 0, err)
        # curl's output is read as text: its CRLFs arrive as "\n".
        head, _, body = out.partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return status, fields, body, self.upstream.seen[before:]

    log_line = resilience_test.ResilienceTest.log_line  # reads self.log_path

    def cors_headers(self, fields):
        return {k: v for k, v in fields.items() if k.startswith("access-control-")}

    def preflight(self, path, origin, *extra, host=None):
        return self.request(path, "origin: " + origin, "access-control-request-method: POST",
                            *extra, method="OPTIONS", host=host)

    def test_no_origin_passes_untouched(self):
        valid = stat(self.proxy, "http.ingress.cors.origin_valid")
        invalid = stat(self.proxy, "http.ingress.cors.origin_invalid")
        status, fields, _, seen = self.request("/plain")
        self.assertEqual(status, 200)
        self.assertEqual(len(seen), 1)
        self.assertEqual(self.cors_headers(fields), {})
        # A preflight-looking OPTIONS without Origin is not a CORS request: it goes upstream.
        status, fields, _, seen = self.request("/plain", "access-control-request-method: POST",
                                               method="OPTIONS")
        self.assertEqual(status, 200)
        self.assertEqual([s[0] for s in seen], ["OPTIONS"])
        self.assertEqual(self.cors_headers(fields), {})
        # Requests without Origin are left out of the stats (Envoy's documented behaviour).
        self.assertEqual(stat(self.proxy, "http.ingress.cors.origin_valid"), valid)
        self.assertEqual(stat(self.proxy, "http.ingress.cors.origin_invalid"), invalid)

    def test_simple_request_from_allowed_origin_gets_the_headers(self):
        valid = stat(self.proxy, "http.ingress.cors.origin_valid")
        status, fields, body, seen = self.request("/api", "origin: " + ALLOWED)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["server"], "app")
        self.assertEqual(seen[0][2]["origin"], ALLOWED)  # the request itself is not changed
        self.assertEqual(self.cors_headers(fields), {
            "access-control-allow-origin": ALLOWED,
            "access-control-allow-credentials": "true",
            "access-control-expose-headers": "x-trace",
        })
        self.assertEqual(stat(self.proxy, "http.ingress.cors.origin_valid"), valid + 1)

    def test_simple_request_from_other_origin_is_forwarded_without_headers(self):
        invalid = stat(self.proxy, "http.ingress.cors.origin_invalid")
        status, fields, _, seen = self.request("/api", "origin: " + DENIED)
        self.assertEqual(status, 200)
        self.assertEqual(len(seen), 1)
        self.assertEqual(self.cors_headers(fields), {})
        self.assertEqual(stat(self.proxy, "http.ingress.cors.origin_invalid"), invalid + 1)

    def test_preflight_from_allowed_origin_is_answered_by_the_proxy(self):
        status, fields, body, seen = self.preflight("/api/preflight", ALLOWED,
                                                    "access-control-request-headers: x-custom")
        self.assertEqual(status, 200)
        self.assertEqual(seen, [])
        self.assertEqual(body, "")
        self.assertEqual(self.cors_headers(fields), {
            "access-control-allow-origin": ALLOWED,
            "access-control-allow-credentials": "true",
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": "content-type, x-custom",
            "access-control-max-age": "600",
        })
        self.assertEqual(self.log_line("/api/preflight"), "/api/preflight 200 cors_response")

    def test_preflight_from_other_origin_is_forwarded_by_default(self):
        status, fields, _, seen = self.preflight("/api", DENIED)
        self.assertEqual(status, 200)  # the echo upstream's answer
        self.assertEqual([s[0] for s in seen], ["OPTIONS"])
        self.assertNotIn("access-control-allow-origin", fields)

    def test_preflight_from_other_origin_not_forwarded_when_configured(self):
        # The route's policy sets only forward_not_matching_preflights; the rest comes from the
        # virtual host's policy.
        status, fields, _, seen = self.preflight("/nofwd/x", DENIED)
        self.assertEqual(status, 200)
        self.assertEqual(seen, [])
        self.assertNotIn("access-control-allow-origin", fields)
        self.assertEqual(fields["access-control-allow-methods"], "GET, POST")
        status, fields, _, seen = self.preflight("/nofwd/x", ALLOWED)
        self.assertEqual(fields["access-control-allow-origin"], ALLOWED)
        self.assertEqual(fields["access-control-max-age"], "600")

    def test_regex_origin(self):
        _, fields, _, _ = self.request("/api", "origin: https://shop.trusted.test")
        self.assertEqual(fields.get("access-control-allow-origin"), "https://shop.trusted.test")
        # The regex must match the whole origin.
        _, fields, _, _ = self.request("/api", "origin: https://shop.trusted.test.evil.com")
        self.assertNotIn("access-control-allow-origin", fields)

    def test_route_policy_with_wildcards_echoes_the_request(self):
        status, fields, _, seen = self.preflight("/star/x", "https://anyone.test",
                                                 "access-control-request-headers: x-a, x-b")
        self.assertEqual(seen, [])
        self.assertEqual(fields["access-control-allow-origin"], "https://anyone.test")
        self.assertEqual(fields["access-control-allow-methods"], "POST")
        self.assertEqual(fields["access-control-allow-headers"], "x-a, x-b")
        # allow_credentials: false on the route overrides the virtual host's true.
        self.assertNotIn("access-control-allow-credentials", fields)
        # Unset on the route: max_age comes from the virtual host.
        self.assertEqual(fields["access-control-max-age"], "600")

    def test_shadow_mode_counts_but_does_not_enforce(self):
        valid = stat(self.proxy, "http.ingress.cors.origin_valid")
        status, fields, _, seen = self.preflight("/shadow/x", ALLOWED)
        self.assertEqual([s[0] for s in seen], ["OPTIONS"])
        self.assertEqual(self.cors_headers(fields), {})
        self.assertEqual(stat(self.proxy, "http.ingress.cors.origin_valid"), valid + 1)

    def test_direct_response_route_bypasses_the_filter(self):
        status, fields, body, _ = self.preflight("/direct", ALLOWED)
        self.assertEqual((status, body), (200, "direct"))
        self.assertEqual(self.cors_headers(fields), {})

    def test_deprecated_virtual_host_cors_field(self):
        status, fields, _, seen = self.preflight("/x", "https://old.example.com",
                                                 host="legacy.test")
        self.assertEqual(seen, [])
        self.assertEqual(fields["access-control-allow-origin"], "https://old.example.com")
        self.assertEqual(fields["access-control-allow-methods"], "GET")
        _, fields, _, seen = self.request("/x", "origin: https://old.example.com",
                                          host="legacy.test")
        self.assertEqual(len(seen), 1)
        self.assertEqual(fields["access-control-expose-headers"], "x-legacy")
        self.assertNotIn("access-control-allow-credentials", fields)


class CorsConfigTest(unittest.TestCase):
    def test_bad_origin_regex_is_refused_with_its_path(self):
        bad = BOOTSTRAP.format(port=free_port(), upstream=free_port(), policy=CORS_POLICY,
                               log="/dev/null").replace("[a-z]+", "[a-z")
        with self.assertRaises(RuntimeError) as ctx:
            Proxy(bad).stop()
        self.assertIn("allow_origin_string_match[1]", str(ctx.exception))

    def test_unsupported_policy_field_is_refused(self):
        bad = BOOTSTRAP.format(port=free_port(), upstream=free_port(), policy=CORS_POLICY,
                               log="/dev/null").replace('max_age: "600"',
                                                        'max_age: "600"\n                  bogus: 1')
        with self.assertRaises(RuntimeError) as ctx:
            Proxy(bad).stop()
        self.assertIn("bogus", str(ctx.exception))


class WeftdCorsTest(unittest.TestCase):
    """A VirtualService corsPolicy applied to weftd reaches a proxy whose only config is ADS to
    weftd, and the proxy enforces it. Reuses WeftdMeshTest's weftd, upstreams and apply()."""
    setUp = weftd_mesh_test.WeftdMeshTest.setUp
    tearDown = weftd_mesh_test.WeftdMeshTest.tearDown
    apply = weftd_mesh_test.WeftdMeshTest.apply

    def preflight(self, origin):
        code, out, err = curl("-D", "-", "-o", "/dev/null", "-X", "OPTIONS", "-H", "host: " + HOST,
                              "-H", "origin: " + origin,
                              "-H", "access-control-request-method: PUT",
                              "http://127.0.0.1:%d/reviews" % self.service_port, timeout=3)
        if code != 0:
            return None
        return {k.strip().lower(): v.strip() for k, _, v in
                (line.partition(":") for line in out.split("\n")[1:] if ":" in line)}

    def test_cors_policy_from_a_virtual_service(self):
        self.apply(obj("ServiceEntry", "reviews", {
            "hosts": [HOST], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": self.service_port, "name": "http", "protocol": "HTTP"}],
            "endpoints": [{"address": "127.0.0.1", "ports": {"http": self.v1.port},
                           "labels": {"app": "reviews", "version": "v1"}}]}))
        self.apply(obj("VirtualService", "reviews", {"hosts": [HOST], "http": [{
            "route": [{"destination": {"host": HOST}}],
            "corsPolicy": {"allowOrigins": [{"regex": "https://[a-z]+\\.bookinfo\\.test"}],
                           "allowMethods": ["GET", "PUT"], "maxAge": "1h",
                           "allowCredentials": True, "unmatchedPreflights": "IGNORE"}}]}))
        self.proxy = Proxy(bootstrap(self.xds_port))
        origin = "https://shop.bookinfo.test"
        wait_for(lambda: (self.preflight(origin) or {}).get("access-control-allow-origin")
                 == origin, timeout=20, what="the CORS policy on the proxy")
        fields = self.preflight(origin)
        self.assertEqual(fields["access-control-allow-methods"], "GET,PUT")
        self.assertEqual(fields["access-control-max-age"], "3600")
        self.assertEqual(fields["access-control-allow-credentials"], "true")
        # unmatchedPreflights: IGNORE -> answered by the proxy, no allow-origin, upstream untouched.
        seen = len(self.v1.seen)
        fields = self.preflight("https://evil.test")
        self.assertNotIn("access-control-allow-origin", fields)
        self.assertEqual(len(self.v1.seen), seen)
        # An actual request goes upstream and comes back with the headers.
        code, out, _ = curl("-D", "-", "-H", "host: " + HOST, "-H", "origin: " + origin,
                            "http://127.0.0.1:%d/reviews" % self.service_port)
        self.assertEqual(code, 0)
        self.assertIn("access-control-allow-origin: " + origin, out.lower())
        self.assertEqual(len(self.v1.seen), seen + 1)


if __name__ == "__main__":
    unittest.main()
