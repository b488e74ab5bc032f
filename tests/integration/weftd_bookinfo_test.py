"""Bookinfo's reviews service through a real mesh: one weftd and three weft-proxies on one host.

- P is productpage's sidecar: only outbound listeners, bound on its own loopback address
  (node metadata WEFT_OUTBOUND_ADDRESS), so proxies do not fight over <addr>:9080.
- R1 and R2 are the sidecars of reviews-v1 and reviews-v2. Nothing in the store names them: they
  register themselves when their ADS stream opens (Istio's node metadata: LABELS app=reviews,
  version=v1|v2, INSTANCE_IPS, POD_PORTS), become endpoints of the `reviews` ServiceEntry (a
  workloadSelector, no inline endpoints) and get inbound listeners <their ip>:<pod port> in
  front of real HTTP servers on 127.0.0.1:<that port>.

A request goes client -> P's outbound listener -> R1 or R2's inbound listener -> the app. Istio's
own Bookinfo samples (../shared/conformance/istio-samples) are applied with weftctl, unchanged,
where they fit (destination-rule-reviews, virtual-service-all-v1, -reviews-test-v2,
-reviews-80-20); the fault samples (virtual-service-ratings-test-delay / -abort) are written for
`ratings` with a 7 s delay and the deprecated `percent`, so the test applies the same shape to
`reviews` with a 1 s delay and `percentage.value`. No port numbers were changed: P listens on
Bookinfo's 9080, on an address of its own.
"""
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Proxy, Upstream, free_port
from weftd_api_test import WEFTCTL, Weftd
from xds_test import wait_for

SAMPLES = os.path.join(harness.SHARED, "conformance", "istio-samples")
HOST = "reviews"  # the Host header Bookinfo's productpage sends; "reviews:9080" works too
FQDN = "reviews.default.svc.cluster.local"
PORT = 9080  # Bookinfo's port for every service
GRACE_S = 2  # --registration-grace for this test (weftd's default is Istio's 10s)

SERVICE_ENTRY = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
"""

# Istio's ratings-test-delay / ratings-test-abort samples, for reviews, delay 7s -> 1s.
FAULT_VS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {%s}
    route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews, subset: v1}}]
"""


def bootstrap(node_id, xds_port, metadata):
    """A weft-proxy bootstrap (JSON is YAML) whose only config source is ADS to weftd."""
    return json.dumps({
        "node": {"id": node_id, "cluster": metadata.get("NAME", node_id), "metadata": metadata},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "dynamic_resources": {
            "ads_config": {"api_type": "GRPC", "transport_api_version": "V3",
                           "grpc_services": [{"envoy_grpc": {"cluster_name": "xds"}}]},
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"}},
        "static_resources": {"clusters": [{
            "name": "xds", "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": "xds", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {
                    "address": "127.0.0.1", "port_value": xds_port}}}}]}]}}]}})


class Relay:
    """A TCP relay on 127.0.0.1:<free port> to `target_port`, which can hold new connections
    off (accept, then close) to choose the order in which proxies reach weftd."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.held = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return  # closed
            if self.held:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.sock.close()


class WeftdBookinfoTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weft-bookinfo-")
        self.weftd = self.relay = None
        self.v1, self.v2 = Upstream("reviews-v1"), Upstream("reviews-v2")
        self.addCleanup(self.cleanup)
        # Addresses of our own in 127.0.0.0/8 (all loopback on Linux), so that a parallel run
        # or anything else on 127.0.0.1:9080 is not in the way.
        net = "127.%d.%d." % (random.randint(16, 250), random.randint(0, 250))
        self.p_addr = net + "2"
        self.r_addr = {"v1": net + "11", "v2": net + "21"}
        self.r_outbound = {"v1": net + "12", "v2": net + "22"}
        self.xds_port = free_port()
        self.relay = Relay(self.xds_port)  # the reviews proxies reach weftd through it
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:%d" % self.xds_port,
                                      "--registration-grace", "%ds" % GRACE_S])
        self.weftd.start()
        self.apply_text(SERVICE_ENTRY)
        self.apply_sample("destination-rule-reviews.yaml")
        self.apply_sample("virtual-service-all-v1.yaml")
        self.p = self.start_proxy("productpage-v1.default", {
            "NAME": "productpage-v1", "NAMESPACE": "default",
            "LABELS": {"app": "productpage", "version": "v1"},
            "WEFT_OUTBOUND_ADDRESS": self.p_addr})
        self.r = {}
        for v in ("v1", "v2"):
            self.r[v] = self.start_reviews(v)
        # Both reviews proxies registered: P has an endpoint for each subset.
        wait_for(lambda: self.endpoints("v1") and self.endpoints("v2"), timeout=20,
                 what="P's reviews endpoints\n" + self.p.output() + self.weftd_log())
        wait_for(lambda: self.served() == "reviews-v1", timeout=20,
                 what="traffic through P\n" + self.p.output())

    def cleanup(self):
        """Registered first thing in setUp, so it also runs when setUp fails half-way."""
        for proxy in [getattr(self, "p", None), *getattr(self, "r", {}).values()]:  # started ones
            if proxy and not proxy.log.closed:
                proxy.stop()
        if self.weftd:
            self.weftd.stop()
        if self.relay:
            self.relay.close()
        self.v1.stop()
        self.v2.stop()
        if not os.environ.get("WEFT_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept", self.dir)

    # ---- the mesh ----

    def start_proxy(self, node_id, metadata, xds_port=None):
        return Proxy(bootstrap(node_id, xds_port or self.xds_port, metadata))

    def start_reviews(self, version):
        app = self.v1 if version == "v1" else self.v2
        ip = self.r_addr[version]
        # Istio's pilot-agent metadata; POD_PORTS is a JSON string, as Istio sends it.
        return self.start_proxy("sidecar~%s~reviews-%s.default~default.svc.cluster.local" % (
            ip, version), {
            "NAME": "reviews-" + version, "NAMESPACE": "default",
            "SERVICE_ACCOUNT": "bookinfo-reviews",
            "LABELS": {"app": "reviews", "version": version},
            "INSTANCE_IPS": ip,
            "POD_PORTS": json.dumps([{"name": "http", "containerPort": app.port,
                                      "protocol": "TCP"}]),
            "WEFT_OUTBOUND_ADDRESS": self.r_outbound[version]}, xds_port=self.relay.port)

    def weftctl(self, *args, stdin=None):
        env = dict(os.environ, WEFT_SERVER="http://%s:%d" % (self.weftd.host, self.weftd.port))
        p = subprocess.run([WEFTCTL, *args], input=stdin, capture_output=True, text=True,
                           env=env, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def apply_sample(self, name):
        self.weftctl("apply", "-f", os.path.join(SAMPLES, name))

    def apply_text(self, text):
        self.weftctl("apply", "-f", "-", stdin=text)

    def weftd_log(self):
        with open(os.path.join(self.dir, "weftd.log"), errors="replace") as f:
            return f.read()

    def endpoints(self, subset):
        """host:port of the hosts in P's `outbound|9080|<subset>|reviews...` host set.

        /clusters must list exactly the current hosts (membership_total): a host EDS removed
        must not linger there because it still has stats; a disagreement is returned as such."""
        cluster = "outbound|%d|%s|%s" % (PORT, subset, FQDN)
        _, stats = self.p.admin_get("/stats")
        total = 0
        for line in stats.splitlines():
            if line.startswith("cluster.%s.membership_total:" % cluster):
                total = int(line.rsplit(":", 1)[1])
        _, text = self.p.admin_get("/clusters")
        found = set()
        for line in text.splitlines():
            if line.startswith(cluster + "::") and line.endswith("::canary::false"):
                found.add(line[len(cluster) + 2:].split("::")[0])
        if len(found) != total:
            return ["/clusters lists %s but membership_total is %d" % (sorted(found), total)]
        return sorted(found)

    # ---- the client (what productpage would do) ----

    def request(self, headers=None, conn=None, timeout=5):
        """(status, server tag or None, seconds) of one GET through P's outbound listener."""
        own = conn is None
        conn = conn or http.client.HTTPConnection(self.p_addr, PORT, timeout=timeout)
        start = time.monotonic()
        try:
            conn.request("GET", "/reviews/0", headers={"Host": HOST, **(headers or {})})
            resp = conn.getresponse()
            body = resp.read()
            elapsed = time.monotonic() - start
            tag = None
            if resp.status == 200:
                try:
                    tag = json.loads(body).get("server")
                except ValueError:
                    pass
            return resp.status, tag, elapsed
        except OSError:
            return None, None, time.monotonic() - start
        finally:
            if own:
                conn.close()

    def served(self, headers=None):
        return self.request(headers)[1]

    def tally(self, n, headers=None):
        """How many of n requests each server answered (one keep-alive connection)."""
        counts = {}
        conn = http.client.HTTPConnection(self.p_addr, PORT, timeout=5)
        try:
            for _ in range(n):
                status, tag, _ = self.request(headers, conn=conn)
                key = tag if status == 200 else status
                counts[key] = counts.get(key, 0) + 1
                if status is None:  # a closed connection: carry on with a new one
                    conn.close()
                    conn = http.client.HTTPConnection(self.p_addr, PORT, timeout=5)
        finally:
            conn.close()
        return counts

    # ---- the tests ----

    def test_traffic_follows_bookinfo_routing(self):
        # virtual-service-all-v1.yaml: everything to v1.
        self.assertEqual(self.tally(30), {"reviews-v1": 30})
        self.assertEqual(self.tally(10, {"end-user": "jason"}), {"reviews-v1": 10})
        # The apps were reached through the reviews proxies' inbound listeners.
        self.assertTrue(self.v1.seen)
        self.assertEqual(self.v2.seen, [])
        log = self.weftd_log()
        self.assertIn("registry: workload default/reviews-v1 at %s registered" % self.r_addr["v1"],
                      log)
        _, listeners = self.r["v1"].admin_get("/config_dump")
        self.assertIn("%s_%d" % (self.r_addr["v1"], self.v1.port), listeners)

        # virtual-service-reviews-test-v2.yaml: end-user jason -> v2, the others v1.
        self.apply_sample("virtual-service-reviews-test-v2.yaml")
        wait_for(lambda: self.served({"end-user": "jason"}) == "reviews-v2", timeout=10,
                 what="jason to v2")
        self.assertEqual(self.tally(20, {"end-user": "jason"}), {"reviews-v2": 20})
        self.assertEqual(self.tally(20, {"end-user": "alice"}), {"reviews-v1": 20})
        self.assertEqual(self.tally(20), {"reviews-v1": 20})

        # virtual-service-reviews-80-20.yaml. With n = 400 requests, the count to v2 is
        # Binomial(400, 0.2): mean 80, sigma = sqrt(400 * 0.2 * 0.8) = 8; a 4-sigma bound (48..112)
        # fails a correct split with probability ~6e-5, and catches a 50/50 or all-to-one split.
        self.apply_sample("virtual-service-reviews-80-20.yaml")
        wait_for(lambda: self.served({"end-user": "jason"}) == "reviews-v1" and
                 "reviews-v2" in self.tally(40), timeout=10, what="the 80/20 split")
        n = 400
        counts = self.tally(n)
        self.assertEqual(sum(counts.get(k, 0) for k in ("reviews-v1", "reviews-v2")), n, counts)
        sigma = math.sqrt(n * 0.2 * 0.8)
        self.assertLessEqual(abs(counts["reviews-v2"] - n * 0.2), 4 * sigma, counts)

        # Delay: 100% of jason's requests wait 1 s (a lower bound only; the upper one is loose).
        self.apply_text(FAULT_VS % "delay: {percentage: {value: 100}, fixedDelay: 1s}")
        wait_for(lambda: self.request({"end-user": "jason"})[2] >= 0.9, timeout=10,
                 what="the delay fault")
        for _ in range(3):
            status, tag, elapsed = self.request({"end-user": "jason"})
            self.assertEqual((status, tag), (200, "reviews-v1"))
            self.assertGreaterEqual(elapsed, 0.95)
            self.assertLess(elapsed, 4)
        status, tag, elapsed = self.request()
        self.assertEqual((status, tag), (200, "reviews-v1"))
        self.assertLess(elapsed, 0.9)

        # Abort: jason gets 500 from P itself; the app never sees it; the others are fine.
        self.apply_text(FAULT_VS % "abort: {percentage: {value: 100}, httpStatus: 500}")
        wait_for(lambda: self.request({"end-user": "jason"})[0] == 500, timeout=10,
                 what="the abort fault")
        before = len(self.v1.seen)
        self.assertEqual(self.tally(10, {"end-user": "jason"}), {500: 10})
        self.assertEqual(len(self.v1.seen), before)
        self.assertEqual(self.tally(10), {"reviews-v1": 10})

    def test_stopped_reviews_proxy_leaves_after_the_grace(self):
        # No subset: both versions serve reviews.
        self.apply_text("""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
""")
        wait_for(lambda: "reviews-v2" in self.tally(20), timeout=10, what="both versions")
        v2_endpoint = "%s:%d" % (self.r_addr["v2"], self.v2.port)
        self.assertEqual(self.endpoints(""), sorted(["%s:%d" % (self.r_addr["v1"], self.v1.port),
                                                     v2_endpoint]))

        stopped_at = time.monotonic()
        self.r["v2"].stop()
        # Within the grace period the workload is still an endpoint (its proxy may come back).
        time.sleep(0.5)
        self.assertIn(v2_endpoint, self.endpoints(""))
        self.assertIn("registry: workload default/reviews-v2 disconnected", self.weftd_log())
        # After it, it leaves P's endpoint set and all traffic goes to v1.
        v1_endpoint = "%s:%d" % (self.r_addr["v1"], self.v1.port)
        wait_for(lambda: self.endpoints("") in ([v1_endpoint], ["1 host(s)"]),
                 timeout=GRACE_S + 10, what="v2 leaving the endpoint set")
        self.assertGreaterEqual(time.monotonic() - stopped_at, GRACE_S - 0.5)
        self.assertIn("registry: workload default/reviews-v2 (node", self.weftd_log())
        self.assertEqual(self.tally(50), {"reviews-v1": 50})
        self.assertIn(self.endpoints("v2"), ([], ["0 host(s)"]))

        # A reviews-v2 proxy that comes back registers again.
        self.r["v2"] = self.start_reviews("v2")
        wait_for(lambda: "reviews-v2" in self.tally(20), timeout=10, what="v2 back")

    def test_nack_keeps_the_last_good_config(self):
        # A TCP service whose port is already taken on P's outbound address: P cannot bind the
        # listener weftd sends, NACKs it, and keeps serving everything else.
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind((self.p_addr, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            self.apply_text("""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mysql, namespace: default}
spec:
  hosts: [mysql.example.com]
  addresses: [192.0.2.10]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: %d, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1}]
""" % port)
            listener = "%s_%d" % (self.p_addr, port)

            def rejected():
                _, stats = self.p.admin_get("/stats")
                for line in stats.splitlines():
                    if line.startswith("listener_manager.lds.update_rejected:"):
                        return int(line.split(":")[1]) > 0
                return False
            wait_for(rejected, timeout=10, what="P rejecting the listener\n" + self.p.output())
            self.assertRegex(self.p.output(), r"xds: rejected .*Listener version .*%s" % listener)
            # ... and its /config_dump shows the rejected version with the error.
            _, dump = self.p.admin_get("/config_dump")
            lds = json.loads(dump)["dynamic"]["types"][
                "type.googleapis.com/envoy.config.listener.v3.Listener"]
            self.assertIn(listener, lds["last_update_attempt"]["error_state"]["details"])
            self.assertNotIn(listener, lds["resource_names"])
            # weftd knows: the NACK is in its cache status and its log.
            wait_for(lambda: "NACKed type.googleapis.com/envoy.config.listener.v3.Listener" in
                     self.weftd_log(), timeout=10, what="weftd logging the NACK")
            self.assertRegex(self.weftd_log(), r"node 'productpage-v1.default' NACKed "
                             r"type.googleapis.com/envoy.config.listener.v3.Listener .*%s" %
                             listener)
            # The other proxies bound it on their own addresses; P's other listeners serve on.
            self.assertEqual(self.tally(20), {"reviews-v1": 20})
            _, dump = self.r["v1"].admin_get("/config_dump")
            self.assertIn("%s_%d" % (self.r_outbound["v1"], port), dump)
        finally:
            blocker.close()
        # Port free again and the service gone: P ACKs the next version, traffic as before.
        self.weftctl("delete", "serviceentry", "mysql")
        self.apply_sample("virtual-service-reviews-test-v2.yaml")
        wait_for(lambda: self.served({"end-user": "jason"}) == "reviews-v2", timeout=10,
                 what="a later change reaching P")

    def test_weftd_restart_while_proxies_keep_serving(self):
        self.weftd.stop(signal.SIGKILL)
        # The proxies keep their last config: traffic flows with weftd gone.
        self.assertEqual(self.tally(20), {"reviews-v1": 20})
        time.sleep(1.5)  # the proxies' streams fail and they back off
        self.assertEqual(self.tally(20), {"reviews-v1": 20})
        self.assertIn("xds: stream to", self.p.output())

        # Same data dir and xDS port, and the default grace (10s, longer than the proxies'
        # reconnect back-off after a short outage). The reviews proxies are held off until P
        # has reconnected: P's first view after the restart must still hold both reviews
        # workloads (weftd restores registrations from its data dir), or it would route to
        # nothing until they come back.
        self.relay.held = True
        self.weftd.extra_args = ["--xds-addr", "127.0.0.1:%d" % self.xds_port]
        self.weftd.start()
        failures = []

        def serving_until(condition, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                status, tag, _ = self.request()
                if (status, tag) != (200, "reviews-v1"):
                    failures.append((status, tag))
                if condition(self.weftd_log()):
                    return True
                time.sleep(0.05)
            return False

        self.assertTrue(serving_until(
            lambda log: log.count("mesh: proxy 'productpage-v1.default' connected") == 2, 20),
            self.weftd_log())
        self.assertIn("registry: restored 2 workload(s)", self.weftd_log())
        serving_until(lambda log: False, 1)  # P applies its new view
        self.assertEqual(self.endpoints(""), sorted(
            "%s:%d" % (self.r_addr[v], u.port) for v, u in (("v1", self.v1), ("v2", self.v2))))
        self.relay.held = False
        self.assertTrue(serving_until(
            lambda log: log.count("reconnected within its grace") >= 2, 20), self.weftd_log())
        self.assertEqual(failures, [])
        log = self.weftd_log()
        for v in ("v1", "v2"):
            self.assertIn("registry: workload default/reviews-%s at %s reconnected within its "
                          "grace" % (v, self.r_addr[v]), log)
        self.assertEqual(log.count("mesh: proxy 'productpage-v1.default' connected"), 2, log)

        # A change applied after the restart reaches P.
        self.apply_sample("virtual-service-reviews-test-v2.yaml")
        wait_for(lambda: self.served({"end-user": "jason"}) == "reviews-v2", timeout=10,
                 what="a change after the restart")
        self.assertEqual(self.tally(20, {"end-user": "jason"}), {"reviews-v2": 20})
        self.assertEqual(self.tally(20), {"reviews-v1": 20})


if __name__ == "__main__":
    unittest.main()
