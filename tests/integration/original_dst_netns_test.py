"""ORIGINAL_DST end to end: in a network namespace this test creates, iptables redirects
connections meant for two "services" to weft-proxy (as a sidecar's capture rules do), and the
proxy forwards each to the destination the client asked for, recovered with SO_ORIGINAL_DST.
The proxy runs with its own group id, which the redirect rules exclude so its own upstream
connections are not captured again (Istio excludes the sidecar's uid the same way)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import BUILD, PROXY
from xds_test import CLUSTER, HCM, LISTENER, ROUTE, ROUTER, bootstrap

TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
# An xDS-fed proxy in the test's netns: admin on 15000, ADS from a fixture on 127.0.0.1:15010.
XDS_BOOTSTRAP = bootstrap(15010).replace("port_value: 0}", "port_value: 15000}")

NS = f"weft-od-{os.getpid()}"
PROXY_GID = "1337"

BOOTSTRAP = """
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
static_resources:
  listeners:
  - name: outbound_tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 15001}}
    use_original_dst: true
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: passthrough_tcp
          cluster: PassthroughCluster
  - name: outbound_http
    address: {socket_address: {address: 127.0.0.1, port_value: 15002}}
    use_original_dst: true
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: passthrough_http
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route: {cluster: PassthroughCluster}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: PassthroughCluster
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 1s
"""


def netns(*cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", NS, *cmd], **kw)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and shutil.which("iptables")
                     and shutil.which("setpriv"), "needs root, iproute2, iptables and setpriv")
class OriginalDstTest(unittest.TestCase):
    def setUp(self):
        self.procs = []
        subprocess.run(["ip", "netns", "add", NS], check=True)
        netns("ip", "link", "set", "lo", "up", check=True)
        here = os.path.dirname(os.path.abspath(__file__))
        for ip, port, tag in (("127.0.0.5", "9000", "svc-a"), ("127.0.0.6", "9001", "svc-b")):
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", NS, sys.executable, os.path.join(here, "harness.py"),
                 "serve", ip, port, tag]))
        # Capture: TCP to :9000 goes to the proxy's TCP listener, :9001 to its HTTP listener.
        for dport, to in (("9000", "15001"), ("9001", "15002")):
            netns("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", dport,
                  "-m", "owner", "!", "--gid-owner", PROXY_GID, "-j", "REDIRECT",
                  "--to-ports", to, check=True)
        self.dir = tempfile.mkdtemp(prefix="weft-od-")
        config = os.path.join(self.dir, "bootstrap.yaml")
        with open(config, "w") as f:
            f.write(BOOTSTRAP)
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, "setpriv", "--regid", PROXY_GID, "--clear-groups",
             PROXY, "-c", config, "--concurrency", "1", "-l", "warning"]))
        deadline = time.time() + 10
        while time.time() < deadline:
            if netns("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:15000/ready").returncode == 0:
                break
            time.sleep(0.1)
        # The echo servers answer (asked directly, as the proxy's group, which is not captured):
        # a test run right after another could otherwise beat their start.
        for url in ("http://127.0.0.5:9000/", "http://127.0.0.6:9001/"):
            while time.time() < deadline and netns(
                    "setpriv", "--regid", PROXY_GID, "--clear-groups", "curl", "-s", "-o",
                    "/dev/null", url).returncode != 0:
                time.sleep(0.1)

    def tearDown(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["ip", "netns", "del", NS])
        shutil.rmtree(self.dir, ignore_errors=True)

    def get(self, url):
        p = netns("curl", "-sS", "--max-time", "5", url, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_captured_connections_reach_their_original_destination(self):
        # Through tcp_proxy (port 9000) and through the HTTP connection manager (port 9001).
        self.assertEqual(self.get("http://127.0.0.5:9000/a")["server"], "svc-a")
        self.assertEqual(self.get("http://127.0.0.6:9001/b")["server"], "svc-b")
        stats = netns("curl", "-s", "http://127.0.0.1:15000/stats?filter=PassthroughCluster",
                      capture_output=True, text=True).stdout
        # Both went through the proxy: its cluster opened upstream connections.
        self.assertNotIn("cluster.PassthroughCluster.upstream_cx_total: 0\n", stats)
        self.assertIn("cluster.PassthroughCluster.upstream_cx_total:", stats)


# Istio's outbound layout (what weftd sends a captured sidecar): everything is captured to
# virtualOutbound 15001, which hands each connection to the listener of its original
# destination; those listeners open no socket (bind_to_port: false).
HANDOFF_BOOTSTRAP = """
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
static_resources:
  listeners:
  - name: virtualOutbound
    address: {socket_address: {address: 0.0.0.0, port_value: 15001}}
    use_original_dst: true
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: PassthroughCluster
          cluster: PassthroughCluster
  - name: 0.0.0.0_9001
    address: {socket_address: {address: 0.0.0.0, port_value: 9001}}
    bind_to_port: false
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound_0.0.0.0_9001
          route_config:
            name: "9001"
            virtual_hosts:
            - name: svc-b.default.svc.cluster.local:9001
              domains: ["svc-b", "svc-b:9001"]
              response_headers_to_add:
              - header: {key: x-served-by, value: "0.0.0.0_9001/svc-b"}
              routes:
              - match: {prefix: "/"}
                route: {cluster: svc-b}
            - name: allow_any
              domains: ["*"]
              response_headers_to_add:
              - header: {key: x-served-by, value: "0.0.0.0_9001/allow_any"}
              routes:
              - match: {prefix: "/"}
                route: {cluster: PassthroughCluster}
          http_filters:
          - name: envoy.filters.http.router
  - name: 127.0.0.6_9000
    address: {socket_address: {address: 127.0.0.6, port_value: 9000}}
    bind_to_port: false
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: outbound|9000||svc-a
          cluster: svc-a
  clusters:
  - name: PassthroughCluster
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 1s
  - name: svc-a
    connect_timeout: 1s
    load_assignment:
      cluster_name: svc-a
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.5, port_value: 9000}}}
  - name: svc-b
    connect_timeout: 1s
    load_assignment:
      cluster_name: svc-b
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.6, port_value: 9001}}}
"""


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and shutil.which("iptables")
                     and shutil.which("setpriv"), "needs root, iproute2, iptables and setpriv")
class ListenerHandoffTest(unittest.TestCase):
    """virtualOutbound (use_original_dst) hands connections to bind_to_port: false listeners."""

    NS = f"weft-ho-{os.getpid()}"

    def ns(self, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", self.NS, *cmd], **kw)

    def setUp(self):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="weft-ho-")
        subprocess.run(["ip", "netns", "add", self.NS], check=True)
        self.addCleanup(self.cleanup)
        self.ns("ip", "link", "set", "lo", "up", check=True)
        here = os.path.dirname(os.path.abspath(__file__))
        for ip, port, tag in (("127.0.0.5", "9000", "svc-a"), ("127.0.0.6", "9001", "svc-b"),
                              ("127.0.0.7", "9001", "other-9001"),
                              ("127.0.0.8", "9002", "no-listener")):
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", self.NS, sys.executable, os.path.join(here, "harness.py"),
                 "serve", ip, port, tag]))
        # Istio's capture: all TCP not to 127.0.0.1 and not from the proxy's group -> 15001.
        self.ns("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "!", "-d", "127.0.0.1/32",
                "-m", "owner", "!", "--gid-owner", PROXY_GID, "-j", "REDIRECT",
                "--to-ports", "15001", check=True)
        # The echo servers are up when they answer (directly, as the proxy's group would).
        deadline = time.time() + 10
        for url in ("http://127.0.0.5:9000/", "http://127.0.0.6:9001/", "http://127.0.0.7:9001/",
                    "http://127.0.0.8:9002/"):
            while time.time() < deadline and self.ns(
                    "setpriv", "--regid", PROXY_GID, "--clear-groups", "curl", "-s", "-o",
                    "/dev/null", url).returncode != 0:
                time.sleep(0.1)

    def start_proxy(self, bootstrap_text):
        config = os.path.join(self.dir, "bootstrap.yaml")
        with open(config, "w") as f:
            f.write(bootstrap_text)
        self.log = open(os.path.join(self.dir, "proxy.log"), "w")
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.NS, "setpriv", "--regid", PROXY_GID, "--clear-groups",
             PROXY, "-c", config, "--concurrency", "2", "-l", "info"],
            stdout=self.log, stderr=subprocess.STDOUT))
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.ns("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:15000/ready").returncode == 0:
                return
            time.sleep(0.1)
        self.fail("weft-proxy did not become ready")

    def cleanup(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", self.NS])
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def curl(self, *args):
        p = self.ns("curl", "-sS", "--max-time", "5", "-D", "-", *args,
                    capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Text mode turned CRLF into LF.
        head, _, body = p.stdout.partition("\n\n")
        headers = {}
        for line in head.split("\n")[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return headers, json.loads(body)

    def stats(self):
        out = self.ns("curl", "-s", "http://127.0.0.1:15000/stats", capture_output=True,
                      text=True).stdout
        values = {}
        for line in out.splitlines():
            k, _, v = line.partition(": ")
            if v.strip().lstrip("-").isdigit():
                values[k] = int(v)
        return values

    def test_each_connection_lands_on_the_listener_of_its_original_destination(self):
        self.start_proxy(HANDOFF_BOOTSTRAP)
        # 0.0.0.0_9001 (HCM): a known Host routes to svc-b, anything else to allow_any.
        headers, body = self.curl("-H", "Host: svc-b", "http://127.0.0.9:9001/x")
        self.assertEqual(headers.get("x-served-by"), "0.0.0.0_9001/svc-b")
        self.assertEqual(body["server"], "svc-b")
        headers, body = self.curl("http://127.0.0.7:9001/y")
        self.assertEqual(headers.get("x-served-by"), "0.0.0.0_9001/allow_any")
        self.assertEqual(body["server"], "other-9001")
        # 127.0.0.6_9000 (exact address, tcp_proxy to svc-a): no HCM, so no header.
        headers, body = self.curl("http://127.0.0.6:9000/z")
        self.assertNotIn("x-served-by", headers)
        self.assertEqual(body["server"], "svc-a")
        # Port 9002 has no listener: virtualOutbound's own chain passes it through.
        headers, body = self.curl("http://127.0.0.8:9002/w")
        self.assertNotIn("x-served-by", headers)
        self.assertEqual(body["server"], "no-listener")

        stats = self.stats()
        self.assertEqual(stats.get("listener.0.0.0.0_9001.downstream_cx_total"), 2, stats)
        self.assertEqual(stats.get("listener.127.0.0.6_9000.downstream_cx_total"), 1)
        self.assertEqual(stats.get("listener.0.0.0.0_15001.downstream_cx_total"), 1)
        self.assertEqual(stats.get("tcp.outbound|9000||svc-a.downstream_cx_total"), 1)
        self.assertEqual(stats.get("tcp.PassthroughCluster.downstream_cx_total"), 1)
        self.assertEqual(stats.get("http.outbound_0.0.0.0_9001.downstream_rq_total"), 2)
        # bind_to_port: false listeners opened no socket: nothing listens on 9001 or 9000.
        ss = self.ns("ss", "-ltnH", capture_output=True, text=True).stdout
        self.assertNotIn("0.0.0.0:9001", ss)
        self.assertNotIn("127.0.0.6:9000", ss)
        self.assertIn("0.0.0.0:15001", ss)

    def start_fixture(self):
        """weft-xds-fixture inside the netns (the proxy reaches it on 127.0.0.1, not captured)."""
        self.xds_dir = os.path.join(self.dir, "xds")
        os.mkdir(self.xds_dir)
        port_file = os.path.join(self.dir, "xds.port")
        self.procs.insert(0, subprocess.Popen(
            ["ip", "netns", "exec", self.NS, os.path.join(BUILD, "bin", "weft-xds-fixture"),
             "--dir", self.xds_dir, "--addr", "127.0.0.1:15010", "--port-file", port_file,
             "--status-file", os.path.join(self.dir, "xds.status"), "--poll-ms", "50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 10
        while not os.path.exists(port_file):
            self.assertLess(time.time(), deadline, "weft-xds-fixture did not start")
            time.sleep(0.05)

    def put(self, name, resource):
        tmp = os.path.join(self.xds_dir, "." + name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(resource, f)
        os.rename(tmp, os.path.join(self.xds_dir, name + ".json"))

    def served_by(self, url, *curl_args):
        """The x-served-by header of a GET, "" without one, None when the request fails."""
        p = self.ns("curl", "-sS", "--max-time", "3", "-D", "-", "-o", "/dev/null", *curl_args,
                    url, capture_output=True, text=True)
        if p.returncode != 0:
            return None
        for line in p.stdout.splitlines():
            k, _, v = line.partition(":")
            if k.strip().lower() == "x-served-by":
                return v.strip()
        return ""

    def wait_served_by(self, want, url, *curl_args):
        deadline = time.time() + 15
        while time.time() < deadline and self.served_by(url, *curl_args) != want:
            time.sleep(0.1)
        self.assertEqual(self.served_by(url, *curl_args), want, url)

    def test_lds_adds_updates_and_removes_bind_to_port_false_listeners(self):
        self.start_fixture()
        self.put("cluster-pass", {"@type": CLUSTER, "name": "PassthroughCluster",
                                  "type": "ORIGINAL_DST", "lb_policy": "CLUSTER_PROVIDED",
                                  "connect_timeout": "1s"})
        self.put("cluster-svc-b", {
            "@type": CLUSTER, "name": "svc-b", "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": "svc-b", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.6",
                                                             "port_value": 9001}}}}]}]}})
        self.put("listener-outbound", {
            "@type": LISTENER, "name": "virtualOutbound", "use_original_dst": True,
            "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15001}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {"@type": TCP_PROXY, "stat_prefix": "PassthroughCluster",
                                 "cluster": "PassthroughCluster"}}]}]})
        http_listener = {
            "@type": LISTENER, "name": "0.0.0.0_9001", "bind_to_port": False,
            "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9001}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": HCM, "stat_prefix": "outbound_0.0.0.0_9001",
                    "rds": {"route_config_name": "9001", "config_source": {"ads": {}}},
                    "http_filters": [{"name": "envoy.filters.http.router",
                                      "typed_config": {"@type": ROUTER}}]}}]}]}

        def routes(version):
            return {"@type": ROUTE, "name": "9001", "virtual_hosts": [{
                "name": "svc-b", "domains": ["*"],
                "response_headers_to_add": [{"header": {"key": "x-served-by",
                                                        "value": "0.0.0.0_9001/" + version}}],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "svc-b"}}]}]}

        self.start_proxy(XDS_BOOTSTRAP)
        url = "http://127.0.0.6:9001/"
        # Only virtualOutbound so far: port 9001 passes through it (no header).
        self.wait_served_by("", url)
        # LDS adds 0.0.0.0_9001: it warms until RDS brings "9001", and needs no socket.
        self.put("listener-9001", http_listener)
        self.put("route-9001", routes("v1"))
        self.wait_served_by("0.0.0.0_9001/v1", url)
        # An LDS update of the listener (new stat prefix) and an RDS update both take effect.
        http_listener["filter_chains"][0]["filters"][0]["typed_config"]["stat_prefix"] = "v2"
        self.put("listener-9001", http_listener)
        self.put("route-9001", routes("v2"))
        self.wait_served_by("0.0.0.0_9001/v2", url)
        self.assertIn("http.v2.downstream_rq_total", self.stats())
        # LDS removes it: back to the passthrough.
        os.unlink(os.path.join(self.xds_dir, "listener-9001.json"))
        self.wait_served_by("", url)
        ss = self.ns("ss", "-ltnH", capture_output=True, text=True).stdout
        self.assertNotIn("0.0.0.0:9001", ss)


if __name__ == "__main__":
    unittest.main(verbosity=2)
