"""Envoy's front-proxy example, unchanged, in a network namespace this test creates: its
STRICT_DNS clusters `service1` and `service2` resolve through the namespace's own /etc/hosts
(ip netns exec mounts /etc/netns/<ns>/hosts over it), to two upstreams on port 8000."""
import os
import shutil
import subprocess
import sys
import time
import unittest

from harness import PROXY, SHARED

NS = f"weft-fp-{os.getpid()}"


def netns(*cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", NS, *cmd], **kw)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip"), "needs root and iproute2")
class FrontProxyConformanceTest(unittest.TestCase):
    def setUp(self):
        self.config = os.path.join(SHARED, "conformance", "envoy-configs", "front-proxy_envoy.yaml")
        if not os.path.exists(self.config):
            self.skipTest(f"{self.config} not present")
        self.procs = []
        subprocess.run(["ip", "netns", "add", NS], check=True)
        os.makedirs(f"/etc/netns/{NS}", exist_ok=True)
        with open(f"/etc/netns/{NS}/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.2 service1\n127.0.0.3 service2\n")
        netns("ip", "link", "set", "lo", "up", check=True)
        here = os.path.dirname(os.path.abspath(__file__))
        for ip, tag in (("127.0.0.2", "service1"), ("127.0.0.3", "service2")):
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", NS, sys.executable, os.path.join(here, "harness.py"),
                 "serve", ip, "8000", tag]))
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, PROXY, "-c", self.config, "--concurrency", "1", "-l", "warning"]))

    def tearDown(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["ip", "netns", "del", NS])
        shutil.rmtree(f"/etc/netns/{NS}", ignore_errors=True)

    def curl(self, url):
        p = netns("curl", "-sS", "--max-time", "5", url, capture_output=True, text=True)
        return p.stdout

    def test_routes_by_prefix_to_dns_named_clusters(self):
        deadline = time.time() + 15
        out1 = ""
        while time.time() < deadline:
            out1 = self.curl("http://127.0.0.1:8080/service/1")
            if '"service1"' in out1:
                break
            time.sleep(0.2)
        self.assertIn('"server": "service1"', out1)
        self.assertIn('"server": "service2"', self.curl("http://127.0.0.1:8080/service/2"))
        clusters = self.curl("http://127.0.0.1:8001/clusters")
        self.assertIn("service1::127.0.0.2:8000::hostname::service1", clusters)


if __name__ == "__main__":
    unittest.main(verbosity=2)
