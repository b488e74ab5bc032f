"""weftd as a mesh end to end: a real weftd (store -> translator -> xDS) and a real weft-proxy
whose only config is ADS to weftd. Istio resources applied through weftd's HTTP API — a
ServiceEntry with two real upstreams (version v1 / v2), a DestinationRule with subsets, a
VirtualService — steer the proxy's outbound traffic, and changes to them move it live."""
import json
import os
import shutil
import tempfile
import unittest

from harness import Proxy, Upstream, curl, free_port
from weftd_api_test import Weftd, collection
from xds_test import wait_for

HOST = "reviews.default.svc.cluster.local"
# Istio's sidecar node id: <type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local.
NODE_ID = "sidecar~127.0.0.1~productpage-v1-abc.default~default.svc.cluster.local"


def bootstrap(xds_port, api_type="GRPC"):
    return """
node:
  id: %s
  cluster: productpage.default
  metadata: {NAMESPACE: default, LABELS: {app: productpage, version: v1}}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
dynamic_resources:
  ads_config:
    api_type: %s
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
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
""" % (NODE_ID, api_type, xds_port)


def obj(kind, name, spec):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


class WeftdMeshTest(unittest.TestCase):
    API_TYPE = "GRPC"  # the proxy's ADS protocol; WeftdMeshDeltaTest runs the same over Delta

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weft-mesh-")
        self.v1, self.v2 = Upstream("reviews-v1"), Upstream("reviews-v2")
        self.xds_port = free_port()
        self.service_port = free_port()  # the proxy's outbound listener 127.0.0.1_<port>
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:%d" % self.xds_port])
        self.weftd.start()
        self.proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()
        self.weftd.stop()
        self.v1.stop()
        self.v2.stop()
        if not os.environ.get("WEFT_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept", self.dir)

    def apply(self, o):
        """Creates or replaces an object, like `weftctl apply`."""
        plural = {"ServiceEntry": "serviceentries", "DestinationRule": "destinationrules",
                  "VirtualService": "virtualservices"}[o["kind"]]
        path = collection(plural)
        status, current = self.weftd.request("GET", path + "/" + o["metadata"]["name"])
        if status == 200:
            o = dict(o, metadata=dict(o["metadata"],
                                      resourceVersion=current["metadata"]["resourceVersion"]))
            status, body = self.weftd.request("PUT", path + "/" + o["metadata"]["name"], o)
        else:
            status, body = self.weftd.request("POST", path, o)
        self.assertIn(status, (200, 201), body)

    def route_to(self, subset, header_match=None):
        http = []
        if header_match:
            http.append({"match": [{"headers": {"end-user": {"exact": header_match[0]}}}],
                         "route": [{"destination": {"host": HOST, "subset": header_match[1]}}]})
        http.append({"route": [{"destination": {"host": HOST, "subset": subset}}]})
        self.apply(obj("VirtualService", "reviews", {"hosts": [HOST], "http": http}))

    def served(self, headers=()):
        """The upstream that answered one request through the proxy's outbound listener."""
        args = ["-H", "Host: " + HOST]
        for h in headers:
            args += ["-H", h]
        code, out, _ = curl(*args, "http://127.0.0.1:%d/reviews" % self.service_port, timeout=3)
        if code != 0:
            return None
        try:
            return json.loads(out).get("server")
        except ValueError:
            return None

    def all_served_by(self, tag, n=10, headers=()):
        return all(self.served(headers) == tag for _ in range(n))

    def test_bookinfo_style_routing_follows_applies(self):
        self.apply(obj("ServiceEntry", "reviews", {
            "hosts": [HOST], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": self.service_port, "name": "http", "protocol": "HTTP"}],
            "endpoints": [
                {"address": "127.0.0.1", "ports": {"http": self.v1.port},
                 "labels": {"app": "reviews", "version": "v1"}},
                {"address": "127.0.0.1", "ports": {"http": self.v2.port},
                 "labels": {"app": "reviews", "version": "v2"}}]}))
        self.apply(obj("DestinationRule", "reviews", {
            "host": HOST, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                      {"name": "v2", "labels": {"version": "v2"}}]}))
        self.route_to("v1")

        # The proxy starts with nothing but ADS to weftd and receives the mesh's config.
        self.proxy = Proxy(bootstrap(self.xds_port, self.API_TYPE))
        wait_for(lambda: self.served() == "reviews-v1", timeout=20,
                 what="outbound listener routing to v1\n" + self.proxy.output())
        self.assertTrue(self.all_served_by("reviews-v1", 20))

        # All to v2: traffic follows within a bound.
        self.route_to("v2")
        wait_for(lambda: self.served() == "reviews-v2", timeout=10, what="traffic to v2")
        self.assertTrue(self.all_served_by("reviews-v2", 20))

        # Bookinfo's header match: end-user jason -> v2, everyone else v1.
        self.route_to("v1", header_match=("jason", "v2"))
        wait_for(lambda: self.served() == "reviews-v1", timeout=10, what="default back to v1")
        self.assertTrue(self.all_served_by("reviews-v2", 10, headers=["end-user: jason"]))
        self.assertTrue(self.all_served_by("reviews-v1", 10, headers=["end-user: alice"]))
        self.assertTrue(self.all_served_by("reviews-v1", 10))

        # weftd saw the proxy's stream and the proxy ACKed: its config came over ADS.
        with open(os.path.join(self.dir, "weftd.log")) as f:
            log = f.read()
        self.assertIn("mesh: proxy '%s' connected (namespace default" % NODE_ID, log)
        self.assertEqual("xds: delta " in self.proxy.output(), self.API_TYPE == "DELTA_GRPC")


class WeftdMeshDeltaTest(WeftdMeshTest):
    """The same mesh, the proxy on DeltaAggregatedResources (api_type DELTA_GRPC)."""
    API_TYPE = "DELTA_GRPC"


if __name__ == "__main__":
    unittest.main()
