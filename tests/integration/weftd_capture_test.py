"""weftd's capture layout end to end (issue 5): a real weftd and a real weft-proxy that says
INTERCEPTION_MODE: REDIRECT in its node metadata, running (as uid/gid 1337, Istio's sidecar ids)
in a network namespace this test creates, since the layout binds Istio's fixed ports
0.0.0.0:15001, 0.0.0.0:15006 and 127.0.0.1:15053, which must not touch the host's. A veth pair
with a test-private /30 joins the namespace to weftd's xDS address.

What is checked: weftd sends Istio's listeners (virtualOutbound, virtualInbound, dns,
0.0.0.0_<port>, <VIP>_<port>) with the VIP it keeps in <data-dir>/vips.json, the same VIP after a
weftd restart; the proxy ACKs clusters and routes, and ACKs the listeners — its /listeners and
/config_dump show virtualOutbound and the rest.

WeftdUpstreamsTest (no root): a proxy without capture with WEFT_UPSTREAMS gets a listener per
entry, and traffic dialled to it follows the service's VirtualService.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from harness import PROXY, Proxy, Upstream, curl, free_port
from weftd_api_test import Weftd, collection

PID = os.getpid()
NS = f"weft-xl-{PID}"
VETH_HOST, VETH_POD = f"wxh{PID}", f"wxp{PID}"
# A /30 in 10.2xx.0.0/16 unique to this run.
NET = f"10.{200 + PID % 50}.{(PID // 50) % 256}"
HOST_IP, POD_IP = NET + ".1", NET + ".2"
NODE_ID = f"sidecar~{POD_IP}~productpage-v1.default~default.svc.cluster.local"
SIDECAR_UID = "1337"


def netns(*cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", NS, *cmd], **kw)


# A captured sidecar's node metadata, as weftctl add-to-mesh writes it.
CAPTURED_METADATA = {
    "NAMESPACE": "default", "INTERCEPTION_MODE": "REDIRECT", "INSTANCE_IPS": POD_IP,
    "NAME": "productpage-v1", "LABELS": {"app": "productpage", "version": "v1"},
    "POD_PORTS": json.dumps([{"name": "http", "containerPort": 9080, "protocol": "TCP"}]),
}


def bootstrap(xds_host, xds_port, node_id, metadata, admin_port):
    return """
node:
  id: %s
  cluster: productpage.default
  metadata: %s
admin: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{envoy_grpc: {cluster_name: xds}}]
  cds_config: {ads: {}, resource_api_version: V3}
  lds_config: {ads: {}, resource_api_version: V3}
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: xds
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: %s, port_value: %d}}}}]}]
""" % (node_id, json.dumps(metadata), admin_port, xds_host, xds_port)


def service_entry(name, spec):
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def wait_until(fn, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and shutil.which("setpriv")
                     and shutil.which("curl"), "needs root (a network namespace), iproute2, "
                     "setpriv and curl")
class WeftdCaptureTest(unittest.TestCase):
    def setUp(self):
        self.proxy = None
        self.dir = tempfile.mkdtemp(prefix="weft-capture-")
        os.chmod(self.dir, 0o755)  # the proxy runs as uid 1337 and reads its bootstrap here
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        subprocess.run(["ip", "netns", "add", NS], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", NS])
        subprocess.run(["ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name",
                        VETH_POD], check=True)
        # Deleting the host end removes the pair (also when the namespace went first).
        self.addCleanup(subprocess.run, ["ip", "link", "del", VETH_HOST],
                        stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "link", "set", VETH_POD, "netns", NS], check=True)
        subprocess.run(["ip", "addr", "add", HOST_IP + "/30", "dev", VETH_HOST], check=True)
        subprocess.run(["ip", "link", "set", VETH_HOST, "up"], check=True)
        netns("ip", "addr", "add", POD_IP + "/30", "dev", VETH_POD, check=True)
        netns("ip", "link", "set", VETH_POD, "up", check=True)
        netns("ip", "link", "set", "lo", "up", check=True)

        self.xds_port = free_port()
        self.weftd = Weftd(self.dir, ["--xds-addr", "%s:%d" % (HOST_IP, self.xds_port)])
        self.weftd.start()
        self.addCleanup(self.weftd.stop)
        self.apply(service_entry("reviews", {
            "hosts": ["reviews"], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": 9080, "name": "http", "protocol": "HTTP"}],
            "endpoints": [{"address": HOST_IP, "labels": {"app": "reviews"}}]}))
        self.apply(service_entry("productpage", {
            "hosts": ["productpage"], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": 9080, "name": "http", "protocol": "HTTP"}],
            "workloadSelector": {"labels": {"app": "productpage"}}}))
        self.apply(service_entry("mongodb", {
            "hosts": ["mongodb"], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": 27017, "name": "mongo", "protocol": "TCP"}],
            "endpoints": [{"address": HOST_IP}]}))

    def tearDown(self):
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate()
            try:
                self.proxy.wait(10)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
                self.proxy.wait()
        if self.proxy is not None:
            self.proxy_log.close()

    def apply(self, o):
        status, body = self.weftd.request("POST", collection("serviceentries"), o)
        self.assertEqual(status, 201, body)

    def start_proxy(self):
        config = os.path.join(self.dir, "bootstrap.yaml")
        with open(config, "w") as f:
            # Admin on 15000 inside the namespace, as a captured sidecar's.
            f.write(bootstrap(HOST_IP, self.xds_port, NODE_ID, CAPTURED_METADATA, 15000))
        os.chmod(config, 0o644)
        self.proxy_log = open(os.path.join(self.dir, "proxy.log"), "w")
        self.proxy = subprocess.Popen(
            ["ip", "netns", "exec", NS, "setpriv", "--reuid", SIDECAR_UID, "--regid",
             SIDECAR_UID, "--clear-groups", PROXY, "-c", config, "--concurrency", "1",
             "-l", "info"], stdout=self.proxy_log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.admin("/ready")[0] == 200, 20, "the proxy's admin /ready")

    def admin(self, path):
        p = netns("curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}",
                  "http://127.0.0.1:15000" + path, capture_output=True, text=True)
        if p.returncode != 0:
            return 0, p.stderr
        body, _, code = p.stdout.rpartition("\n")
        return int(code), body

    def proxy_status(self):
        status, body = self.weftd.request(
            "GET", "/debug/proxies/" + urllib.parse.quote(NODE_ID, safe=""))
        if status != 200:
            return None
        return body if isinstance(body, dict) else json.loads(body)

    def type_status(self, short):
        """The sync state weftd records for one xDS type of the proxy ("" until it answered)."""
        proxy = self.proxy_status() or {}
        for name, t in proxy.get("types", {}).items():
            if short in t.get("type_url", name):
                if t.get("acks", 0) > 0 and t.get("acked_version") == t.get("sent_version"):
                    return "ACKED"
                if t.get("nacks", 0) > 0:
                    return "NACKED: " + (t.get("nack_error") or t.get("last_nack_error") or "")
        return ""

    def sent_listeners(self):
        status, body = self.weftd.request(
            "GET", "/debug/proxies/%s/config?type=listeners" % urllib.parse.quote(NODE_ID, safe=""))
        self.assertEqual(status, 200, body)
        body = body if isinstance(body, (dict, list)) else json.loads(body)
        items = body.get("resources", body) if isinstance(body, dict) else body
        return {l["name"]: l for l in items}

    def vips(self):
        with open(os.path.join(self.dir, "store", "vips.json")) as f:
            return json.load(f)["vips"]

    def test_weftd_sends_istios_capture_layout_with_persisted_vips(self):
        self.start_proxy()
        wait_until(lambda: self.type_status("Cluster") != "", 20, "the proxy's CDS answer")
        listeners = self.sent_listeners()
        vips = self.vips()
        mongo_vip = vips["mongodb.default.svc.cluster.local"]
        self.assertTrue(mongo_vip.startswith("240.240."), vips)
        self.assertEqual(len(set(vips.values())), len(vips), vips)
        for name in ("virtualOutbound", "virtualInbound", "dns", "0.0.0.0_9080",
                     mongo_vip + "_27017"):
            self.assertIn(name, listeners)
        self.assertTrue(listeners["virtualOutbound"]["use_original_dst"])
        self.assertEqual(listeners["virtualOutbound"]["address"]["socket_address"]["port_value"],
                         15001)
        self.assertFalse(listeners["0.0.0.0_9080"]["bind_to_port"])
        table = listeners["dns"]["listener_filters"][0]["typed_config"]["server_config"][
            "inline_dns_table"]
        names = {d["name"]: d["endpoint"]["address_list"]["address"]
                 for d in table["virtual_domains"]}
        self.assertEqual(names["reviews"], [vips["reviews.default.svc.cluster.local"]])
        self.assertEqual(names["mongodb.default.svc.cluster.local"], [mongo_vip])

        # A weftd restart keeps every VIP (the proxy reconnects to the same data dir's weftd).
        self.weftd.stop()
        self.weftd.start()
        wait_until(lambda: self.proxy_status() is not None, 40, "the proxy's reconnect")
        wait_until(lambda: (mongo_vip + "_27017") in self.sent_listeners(), 20,
                   "the listeners after the restart")
        self.assertEqual(self.vips(), vips)

        # A deleted host releases its VIP.
        status, body = self.weftd.request("DELETE", collection("serviceentries") + "/mongodb")
        self.assertEqual(status, 200, body)
        wait_until(lambda: "mongodb.default.svc.cluster.local" not in self.vips(), 10,
                   "mongodb's VIP released")

    def test_proxy_acks_the_capture_layout(self):
        self.start_proxy()
        wait_until(lambda: self.type_status("Cluster").startswith("ACKED"), 20,
                   "CDS ACKed: " + self.type_status("Cluster"))
        lds = wait_until(lambda: self.type_status("Listener"), 20, "the proxy's LDS answer")
        self.assertTrue(lds.startswith("ACKED"), "LDS: " + lds)
        wait_until(lambda: self.type_status("RouteConfiguration").startswith("ACKED"), 20,
                   "RDS ACKed")
        code, listeners = self.admin("/listeners")
        self.assertEqual(code, 200)
        for name in ("virtualOutbound", "virtualInbound", "dns", "0.0.0.0_9080"):
            self.assertIn(name, listeners)
        code, dump = self.admin("/config_dump")
        self.assertEqual(code, 200)
        # weft-proxy's /config_dump names resources (the route configuration's virtual hosts,
        # allow_any among them, are checked on weftd's side by the golden tests).
        for name in ("virtualOutbound", "virtualInbound", "InboundPassthroughCluster",
                     "PassthroughCluster", "BlackHoleCluster", '"9080"'):
            self.assertIn(name, dump)


class WeftdUpstreamsTest(unittest.TestCase):
    """WEFT_UPSTREAMS without capture (no root): the application dials 127.0.0.1:<bind port>
    for reviews, with no Host header naming reviews, and the service's VirtualService rules
    still decide which version answers."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weft-upstreams-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.v1, self.v2 = Upstream("reviews-v1"), Upstream("reviews-v2")
        self.addCleanup(self.v1.stop)
        self.addCleanup(self.v2.stop)
        self.xds_port = free_port()
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:%d" % self.xds_port])
        self.weftd.start()
        self.addCleanup(self.weftd.stop)
        self.service_port, self.bind_port = free_port(), free_port()

    def apply(self, kind, plural, name, spec):
        status, body = self.weftd.request("POST", collection(plural), {
            "apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "default"}, "spec": spec})
        self.assertEqual(status, 201, body)

    def served(self, headers=()):
        args = []
        for h in headers:
            args += ["-H", h]
        code, out, _ = curl(*args, "http://127.0.0.1:%d/reviews" % self.bind_port, timeout=3)
        try:
            return json.loads(out).get("server") if code == 0 else None
        except ValueError:
            return None

    def test_upstream_listener_routes_by_the_services_virtual_service(self):
        self.apply("ServiceEntry", "serviceentries", "reviews", {
            "hosts": ["reviews"], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": self.service_port, "name": "http", "protocol": "HTTP"}],
            "endpoints": [
                {"address": "127.0.0.1", "ports": {"http": self.v1.port},
                 "labels": {"version": "v1"}},
                {"address": "127.0.0.1", "ports": {"http": self.v2.port},
                 "labels": {"version": "v2"}}]})
        self.apply("DestinationRule", "destinationrules", "reviews", {
            "host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                           {"name": "v2", "labels": {"version": "v2"}}]})
        self.apply("VirtualService", "virtualservices", "reviews", {
            "hosts": ["reviews"], "http": [
                {"match": [{"headers": {"end-user": {"exact": "jason"}}}],
                 "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
                {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]})
        metadata = {"NAMESPACE": "default",
                    "WEFT_UPSTREAMS": "reviews:%d=127.0.0.1:%d" % (self.service_port,
                                                                   self.bind_port)}
        proxy = Proxy(bootstrap("127.0.0.1", self.xds_port, "productpage-upstreams", metadata,
                                0))
        self.addCleanup(proxy.stop)
        wait_until(lambda: self.served() == "reviews-v1", 20,
                   "the WEFT_UPSTREAMS listener routing to v1\n" + proxy.output())
        self.assertTrue(all(self.served() == "reviews-v1" for _ in range(10)))
        self.assertTrue(all(self.served(["end-user: jason"]) == "reviews-v2" for _ in range(10)))
        status, listeners = proxy.admin_get("/listeners")
        self.assertIn("127.0.0.1_%d" % self.bind_port, listeners)


if __name__ == "__main__":
    unittest.main(verbosity=2)
