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

from harness import PROXY

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
