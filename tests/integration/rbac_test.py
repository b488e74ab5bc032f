"""RBAC end to end: envoy.filters.http.rbac in an HTTP connection manager (a DENY filter before an
ALLOW filter, Istio's order) driven by curl, and envoy.filters.network.rbac before tcp_proxy
closing connections by source IP and destination port. Checks the 403 `RBAC: access denied`
body, the access log's response code details, what reached the upstream and Envoy's
rbac.allowed / denied / shadow_* counters. TLS principals need the TLS transport socket: they
are covered by the unit tests (translate_rbac_test.cc)."""
import os
import shutil
import socket
import tempfile
import time
import unittest

from harness import Proxy, Upstream, curl, free_port
from proxy_tcp_test import RawServer, recv_exactly
from resilience_test import stat

RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
RBAC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
NET_RBAC = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"

HTTP_BOOTSTRAP = """
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
                  inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\\n"
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: {{prefix: "/open/"}}
                route: {{cluster: app}}
                typed_per_filter_config:
                  envoy.filters.http.rbac: {{"@type": {per_route}}}
              - match: {{prefix: "/"}}
                route: {{cluster: app}}
          http_filters:
          # Istio's order: the DENY filter first, then the ALLOW filter.
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": {rbac}
              rules_stat_prefix: deny_
              rules:
                action: DENY
                policies:
                  deny-admin:
                    permissions: [{{url_path: {{path: {{prefix: /admin}}}}}}]
                    principals: [{{any: true}}]
                  deny-evil-header:
                    permissions: [{{any: true}}]
                    principals: [{{header: {{name: x-evil, present_match: true}}}}]
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": {rbac}
              rules:
                action: ALLOW
                policies:
                  reads:
                    permissions:
                    - or_rules:
                        rules:
                        - header: {{name: ":method", string_match: {{exact: GET}}}}
                        - header: {{name: ":method", string_match: {{exact: HEAD}}}}
                    principals: [{{any: true}}]
                  writes-from-loopback:
                    permissions:
                    - and_rules:
                        rules:
                        - header: {{name: ":method", string_match: {{exact: POST}}}}
                        - url_path: {{path: {{prefix: /items}}}}
                    principals: [{{direct_remote_ip: {{address_prefix: 127.0.0.0, prefix_len: 8}}}}]
                  deletes-from-elsewhere:
                    permissions: [{{header: {{name: ":method", string_match: {{exact: DELETE}}}}}}]
                    principals: [{{not_id: {{direct_remote_ip: {{address_prefix: 127.0.0.0, prefix_len: 8}}}}}}]
              shadow_rules:
                action: DENY
                policies:
                  would-deny-puts:
                    permissions: [{{header: {{name: ":method", string_match: {{exact: PUT}}}}}}]
                    principals: [{{any: true}}]
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: app
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: app
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
"""


class HttpRbacTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = Upstream("app")
        cls.port = free_port()
        cls.dir = tempfile.mkdtemp(prefix="weft-rbac-")
        cls.log = os.path.join(cls.dir, "access.log")
        cls.proxy = Proxy(HTTP_BOOTSTRAP.format(port=cls.port, log=cls.log, rbac=RBAC,
                                                per_route=RBAC_PER_ROUTE,
                                                upstream=cls.upstream.port))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.upstream.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def request(self, method, path, *headers):
        args = ["-o", "-", "-w", "\n%{http_code}", "-X", method]
        for h in headers:
            args += ["-H", h]
        rc, out, err = curl(*args, f"http://127.0.0.1:{self.port}{path}")
        self.assertEqual(rc, 0, err)
        body, _, code = out.rpartition("\n")
        return int(code), body

    def upstream_saw(self, path):
        return any(r[1] == path for r in self.upstream.seen)

    def log_line_for(self, method, path):
        deadline = time.time() + 10  # the access log is flushed periodically
        while time.time() < deadline:
            if os.path.exists(self.log):
                with open(self.log) as f:
                    for line in f:
                        if line.startswith(f"{method} {path} "):
                            return line.strip()
            time.sleep(0.1)
        self.fail(f"no access log line for {method} {path}")

    def assert_denied(self, method, path, policy, *headers):
        code, body = self.request(method, path, *headers)
        self.assertEqual(code, 403)
        self.assertEqual(body, "RBAC: access denied")
        self.assertFalse(self.upstream_saw(path))
        self.assertEqual(self.log_line_for(method, path),
                         f"{method} {path} 403 rbac_access_denied_matched_policy[{policy}]")

    def test_allow_policy_by_method(self):
        before = stat(self.proxy, "http.ingress.rbac.allowed")
        code, _ = self.request("GET", "/items/1")
        self.assertEqual(code, 200)
        self.assertTrue(self.upstream_saw("/items/1"))
        self.assertEqual(stat(self.proxy, "http.ingress.rbac.allowed"), before + 1)

    def test_allow_policy_by_path_method_and_source_ip(self):
        code, _ = self.request("POST", "/items/2")
        self.assertEqual(code, 200)  # POST /items from 127.0.0.0/8
        self.assert_denied("POST", "/other/2", "none")  # POST elsewhere: no ALLOW policy matched
        # DELETE is allowed only from outside 127.0.0.0/8: curl comes from loopback.
        self.assert_denied("DELETE", "/items/3", "none")

    def test_deny_filter_runs_before_allow_filter(self):
        before = stat(self.proxy, "http.ingress.rbac.deny_denied")
        # GET is allowed by the ALLOW filter, but the DENY filter refuses /admin first.
        self.assert_denied("GET", "/admin/users", "deny-admin")
        self.assert_denied("GET", "/items/evil", "deny-evil-header", "x-evil: 1")
        self.assertEqual(stat(self.proxy, "http.ingress.rbac.deny_denied"), before + 2)
        self.assertGreater(stat(self.proxy, "http.ingress.rbac.deny_allowed"), 0)

    def test_denied_counter_and_shadow_rules(self):
        denied = stat(self.proxy, "http.ingress.rbac.denied")
        shadow_denied = stat(self.proxy, "http.ingress.rbac.shadow_denied")
        shadow_allowed = stat(self.proxy, "http.ingress.rbac.shadow_allowed")
        self.assert_denied("PUT", "/items/4", "none")  # not allowed; the shadow DENY matched too
        self.assertEqual(stat(self.proxy, "http.ingress.rbac.denied"), denied + 1)
        self.assertEqual(stat(self.proxy, "http.ingress.rbac.shadow_denied"), shadow_denied + 1)
        code, _ = self.request("GET", "/items/5")  # shadow rules only count
        self.assertEqual(code, 200)
        self.assertEqual(stat(self.proxy, "http.ingress.rbac.shadow_allowed"), shadow_allowed + 1)

    def test_per_route_config_without_rules_disables_the_filter(self):
        code, _ = self.request("DELETE", "/open/6")
        self.assertEqual(code, 200)
        self.assertTrue(self.upstream_saw("/open/6"))


TCP_BOOTSTRAP = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
{listeners}
  clusters:
  - name: echo
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: echo
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {echo}}}}}}}}}]}}]
"""

TCP_LISTENER = """
  - name: tcp_{port}
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.rbac
        typed_config:
          "@type": {net_rbac}
          stat_prefix: tcp
          rules:
            action: ALLOW
            policies:
              from-127-0-0-1-to-the-open-port:
                permissions: [{{destination_port: {open_port}}}]
                principals: [{{direct_remote_ip: {{address_prefix: 127.0.0.1, prefix_len: 32}}}}]
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: echo
          cluster: echo
"""


class NetworkRbacTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.connections = 0

        def echo(conn):
            cls.connections += 1
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

        cls.echo = RawServer(echo)
        cls.open_port = free_port()
        cls.closed_port = free_port()
        listeners = "".join(
            TCP_LISTENER.format(port=p, open_port=cls.open_port, net_rbac=NET_RBAC)
            for p in (cls.open_port, cls.closed_port))
        cls.proxy = Proxy(TCP_BOOTSTRAP.format(listeners=listeners, echo=cls.echo.port))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.echo.stop()

    def connect(self, port, source="127.0.0.1"):
        s = socket.socket()
        s.settimeout(5)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        return s

    def assert_closed(self, s):
        """The proxy closes a denied connection without answering or forwarding a byte."""
        try:
            s.sendall(b"hello")
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass  # the close can overtake our bytes: a reset is a close too
        finally:
            s.close()

    def test_allowed_connection_flows(self):
        before = stat(self.proxy, "tcp.rbac.allowed")
        with self.connect(self.open_port) as s:
            s.sendall(b"ping")
            self.assertEqual(recv_exactly(s, 4), b"ping")
        self.assertEqual(stat(self.proxy, "tcp.rbac.allowed"), before + 1)

    def test_denied_by_destination_port(self):
        before = stat(self.proxy, "tcp.rbac.denied")
        seen = self.connections
        self.assert_closed(self.connect(self.closed_port))
        self.assertEqual(stat(self.proxy, "tcp.rbac.denied"), before + 1)
        time.sleep(0.2)
        self.assertEqual(self.connections, seen)  # never reached the upstream

    def test_denied_by_source_ip(self):
        before = stat(self.proxy, "tcp.rbac.denied")
        seen = self.connections
        self.assert_closed(self.connect(self.open_port, source="127.0.0.2"))
        self.assertEqual(stat(self.proxy, "tcp.rbac.denied"), before + 1)
        time.sleep(0.2)
        self.assertEqual(self.connections, seen)


class RbacConfigTest(unittest.TestCase):
    def test_unsupported_field_is_refused_with_its_path(self):
        bad = HTTP_BOOTSTRAP.format(port=free_port(), log="/dev/null", rbac=RBAC,
                                    per_route=RBAC_PER_ROUTE, upstream=1).replace(
            "rules_stat_prefix: deny_", "track_per_rule_stats: true")
        with self.assertRaises(RuntimeError) as e:
            Proxy(bad).stop()
        self.assertIn("http_filters[0].typed_config.track_per_rule_stats", str(e.exception))


if __name__ == "__main__":
    unittest.main()
