"""weftctl end to end, as a subprocess against a real weftd and a real weft-proxy whose only
config is ADS to weftd: kubectl's verbs over Istio's own samples (created / configured /
unchanged, -o yaml|json|wide, kubectl's error texts and exit codes), and istioctl's
proxy-status / proxy-config over weftd's debug API — SYNCED after the proxy's ACKs, the
translated clusters, listeners, routes and endpoints, and a NACK (a listener port the test
holds) shown with the proxy's error while the proxy keeps its last good config."""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import Proxy, Upstream, free_port
from weftd_api_test import SAMPLES, WEFTCTL, Weftd
from weftd_mesh_test import HOST, NODE_ID, bootstrap, obj
from xds_test import wait_for

# The samples' documents (every one of weftd's kinds): one "kind:" line each.
SAMPLE_DOCS = sum(len(re.findall(r"(?m)^kind: ", open(f).read()))
                  for f in glob.glob(os.path.join(SAMPLES, "*.yaml")))


class WeftctlTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weftctl-")
        self.xds_port = free_port()
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:%d" % self.xds_port])
        self.weftd.start()
        self.upstreams = []
        self.proxy = None
        self.held = None

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()
        self.weftd.stop()
        for u in self.upstreams:
            u.stop()
        if self.held:
            self.held.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def weftctl(self, *args, stdin=None, server=None):
        server = server or "http://%s:%d" % (self.weftd.host, self.weftd.port)
        return subprocess.run([WEFTCTL, *args], input=stdin, capture_output=True, text=True,
                              env=dict(os.environ, WEFT_SERVER=server), timeout=30)

    def ok(self, *args, stdin=None):
        out = self.weftctl(*args, stdin=stdin)
        self.assertEqual(out.returncode, 0, "weftctl %s: %s" % (" ".join(args), out.stderr))
        return out.stdout

    def apply_yaml(self, *objects):
        return self.ok("apply", "-f", "-", stdin="\n---\n".join(json.dumps(o) for o in objects))

    # --- kubectl's verbs -------------------------------------------------------------------

    def test_istio_samples_apply_get_delete_like_kubectl(self):
        # The whole directory: multi-document files, four kinds, three API versions; one line per
        # document (later files re-configure names earlier ones created).
        out = self.ok("apply", "-f", SAMPLES)
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), SAMPLE_DOCS, out)
        for line in lines:
            self.assertRegex(line, r"^(virtualservice|destinationrule|gateway|serviceentry)"
                                   r"\.networking\.istio\.io/[a-z0-9.-]+ "
                                   r"(created|configured|unchanged)$")
        self.assertIn("gateway.networking.istio.io/bookinfo-gateway created", lines)
        self.assertIn("serviceentry.networking.istio.io/googleapis created", lines)
        # Again: nothing is created twice.
        self.assertNotIn("created", self.ok("apply", "-f", SAMPLES))
        # One file twice: every document unchanged; then a change is "configured".
        drs = os.path.join(SAMPLES, "destination-rule-all.yaml")
        self.ok("apply", "-f", drs)
        again = self.ok("apply", "-f", drs).strip().splitlines()
        self.assertEqual(len(again), 4, again)
        self.assertTrue(all(l.endswith(" unchanged") for l in again), again)
        self.assertIn("destinationrule.networking.istio.io/productpage unchanged", again)
        out = self.ok("apply", "-f", os.path.join(SAMPLES, "virtual-service-reviews-80-20.yaml"))
        self.assertEqual(out, "virtualservice.networking.istio.io/reviews configured\n")
        status, vs = self.weftd.request(
            "GET", "/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews")
        self.assertEqual([r["weight"] for r in vs["spec"]["http"][0]["route"]], [80, 20])

        # get: Istio's printer columns, kubectl's alignment and AGE; -o wide adds Weft's.
        out = self.ok("get", "vs")
        self.assertRegex(out, r"^NAME +GATEWAYS +HOSTS +AGE\n")
        self.assertRegex(out, r'(?m)^reviews +<none> +\["reviews"\] +\d+s$')
        self.assertRegex(out, r'(?m)^bookinfo +\["bookinfo-gateway"\] +\["\*"\] +\d+s$')
        out = self.ok("get", "virtualservices", "-o", "wide")
        self.assertRegex(out, r"^NAME +GATEWAYS +HOSTS +DESTINATIONS +AGE\n")
        self.assertRegex(out, r"(?m)^reviews .* reviews/v1,reviews/v2 +\d+s$")
        out = self.ok("get", "dr", "-o", "wide")
        self.assertRegex(out, r"(?m)^reviews +reviews +v1,v2,v3 +\d+s$")
        out = self.ok("get", "se", "-A")
        self.assertRegex(out, r"^NAMESPACE +NAME +HOSTS +LOCATION +RESOLUTION +AGE\n")
        self.assertRegex(out, r'(?m)^default +googleapis +\["www.googleapis.com"\] +'
                              r'MESH_EXTERNAL +DNS +\d+s$')
        out = self.ok("get", "destinationrule", "reviews", "-o", "yaml")
        self.assertIn("kind: DestinationRule\n", out)
        self.assertIn("  host: reviews\n", out)
        self.assertRegex(out, r"(?m)^  resourceVersion: \"?\d+\"?$")
        listed = json.loads(self.ok("get", "gw", "-o", "json"))
        self.assertEqual(listed["kind"], "List")
        self.assertEqual([i["metadata"]["name"] for i in listed["items"]], ["bookinfo-gateway"])
        self.assertEqual(json.loads(self.ok("get", "gateway", "bookinfo-gateway", "-o", "json"))
                         ["spec"]["selector"], {"istio": "ingressgateway"})

        # delete -f and KIND NAME, then kubectl's NotFound.
        out = self.ok("delete", "-f", drs)
        self.assertIn('destinationrule.networking.istio.io "reviews" deleted', out)
        self.assertEqual(len(out.strip().splitlines()), 4)
        self.assertEqual(self.ok("delete", "vs", "reviews"),
                         'virtualservice.networking.istio.io "reviews" deleted\n')
        out = self.weftctl("delete", "vs", "reviews")
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stderr, 'Error from server (NotFound): '
                         'virtualservices.networking.istio.io "reviews" not found\n')
        out = self.weftctl("get", "dr")
        self.assertEqual(out.returncode, 0)
        self.assertEqual(out.stderr, "No resources found in default namespace.\n")
        # Global flags go anywhere, as kubectl's do.
        out = self.weftctl("get", "vs", "-n", "other")
        self.assertEqual((out.returncode, out.stderr), (0, "No resources found in other namespace.\n"))

    def test_errors_read_like_kubectl_and_exit_1(self):
        cases = [
            (["get", "pods"], 'error: the server doesn\'t have a resource type "pods"\n'),
            (["get", "vs", "nope"], 'Error from server (NotFound): '
                                    'virtualservices.networking.istio.io "nope" not found\n'),
            (["delete", "dr"], "error: resource(s) were provided, but no name was specified\n"),
            (["apply", "-f", "/nonexistent.yaml"],
             'error: the path "/nonexistent.yaml" does not exist\n'),
        ]
        for args, stderr in cases:
            out = self.weftctl(*args)
            self.assertEqual((out.returncode, out.stderr), (1, stderr), args)

        unknown = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        out = self.weftctl("apply", "-f", "-", stdin=unknown)
        self.assertEqual(out.returncode, 1)
        self.assertIn('error: resource mapping not found for name: "web" namespace: "" from '
                      '"STDIN": no matches for kind "Deployment" in version "apps/v1"', out.stderr)

        bad = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\n" \
              "spec: {hosts: [x], http: [{timeout: abc, route: [{destination: {host: x}}]}]}\n"
        out = self.weftctl("apply", "-f", "-", stdin=bad)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"^Error from server \(Invalid\): .*spec\.http\[0\]\.timeout")

        # Nothing listens: kubectl's words, for every command.
        dead = "http://127.0.0.1:%d" % free_port()
        for args in (["get", "vs"], ["apply", "-f", SAMPLES], ["proxy-status"],
                     ["proxy-config", "clusters", "x"]):
            out = self.weftctl(*args, server=dead)
            self.assertEqual(out.returncode, 1, args)
            self.assertEqual(out.stderr, "The connection to the server %s was refused - did you "
                             "specify the right host or port?\n" % dead[len("http://"):], args)
        # --server wins over WEFT_SERVER.
        out = subprocess.run([WEFTCTL, "--server", "%s:%d" % (self.weftd.host, self.weftd.port),
                              "get", "vs"], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, WEFT_SERVER=dead))
        self.assertEqual(out.returncode, 0, out.stderr)

    # --- istioctl's proxy-status / proxy-config ---------------------------------------------

    def reviews_mesh(self, service_port, tcp_ports=()):
        v1, v2 = Upstream("reviews-v1"), Upstream("reviews-v2")
        self.upstreams += [v1, v2]
        ports = [{"number": service_port, "name": "http", "protocol": "HTTP"}]
        ports += [{"number": p, "name": "tcp-%d" % p, "protocol": "TCP"} for p in tcp_ports]
        self.apply_yaml(
            obj("ServiceEntry", "reviews", {
                "hosts": [HOST], "location": "MESH_INTERNAL", "resolution": "STATIC",
                "ports": ports,
                "endpoints": [
                    {"address": "127.0.0.1", "ports": {"http": v1.port},
                     "labels": {"app": "reviews", "version": "v1"}},
                    {"address": "127.0.0.1", "ports": {"http": v2.port},
                     "labels": {"app": "reviews", "version": "v2"}}]}),
            obj("DestinationRule", "reviews", {
                "host": HOST, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                          {"name": "v2", "labels": {"version": "v2"}}]}),
            obj("VirtualService", "reviews", {
                "hosts": ["reviews"],
                "http": [{"route": [{"destination": {"host": HOST, "subset": "v1"}}]}]}))
        return v1, v2

    def status_row(self):
        """proxy-status's row for the test's proxy, as {column: value}."""
        out = self.weftctl("proxy-status")
        lines = out.stdout.splitlines()
        if out.returncode != 0 or len(lines) < 2:
            return None
        headers = re.split(r"\s{2,}", lines[0].strip())
        for line in lines[1:]:
            cells = re.split(r"\s{2,}", line.strip())
            if cells[0] == NODE_ID:
                return dict(zip(headers, cells))
        return None

    def synced(self):
        row = self.status_row()
        return row if row and all(row[t] == "SYNCED" for t in ("CDS", "LDS", "EDS", "RDS")) \
            else None

    def served(self, port):
        from harness import curl
        code, out, _ = curl("-H", "Host: " + HOST, "http://127.0.0.1:%d/" % port, timeout=3)
        try:
            return json.loads(out).get("server") if code == 0 else None
        except ValueError:
            return None

    def test_proxy_status_and_config_of_a_real_proxy(self):
        out = self.weftctl("proxy-status")
        self.assertEqual((out.returncode, out.stdout), (0, ""))
        self.assertIn("No proxies are connected", out.stderr)

        service_port = free_port()
        v1, v2 = self.reviews_mesh(service_port)
        self.proxy = Proxy(bootstrap(self.xds_port))
        wait_for(lambda: self.served(service_port) == "reviews-v1", timeout=20,
                 what="routing to v1\n" + self.proxy.output())
        row = wait_for(self.synced, timeout=10, what="proxy-status SYNCED")
        self.assertEqual(row["NAMESPACE"], "default")
        self.assertEqual(row["IP"], "127.0.0.1")
        self.assertRegex(row["WEFTD"], r"^\d+\.\d+\.\d+ \(revision \d+\)$")

        # Details, by the pod part of the node id (like istioctl's pod names).
        details = self.ok("proxy-status", "productpage-v1")
        self.assertIn("Proxy:      %s\n" % NODE_ID, details)
        self.assertRegex(details, r"(?m)^LDS +SYNCED +\S+ +\S+ +\d+ +\d+ +\d+ +0$")
        self.assertNotIn("NACKs", details)
        as_json = json.loads(self.ok("proxy-status", NODE_ID, "-o", "json"))
        self.assertEqual(as_json["types"]["CDS"]["sent_version"],
                         as_json["types"]["CDS"]["acked_version"])

        cluster = "outbound|%d|v1|%s" % (service_port, HOST)
        out = self.ok("proxy-config", "clusters", "sidecar~127.0.0.1~productpage")
        self.assertRegex(out, r"^SERVICE FQDN +PORT +SUBSET +DIRECTION +TYPE\n")
        self.assertRegex(out, r"(?m)^%s +%d +v1 +outbound +EDS$" % (re.escape(HOST),
                                                                     service_port))
        self.assertRegex(out, r"(?m)^%s +%d +- +outbound +EDS$" % (re.escape(HOST),
                                                                    service_port))
        clusters = json.loads(self.ok("pc", "cluster", NODE_ID, "-o", "json"))
        by_name = {c["name"]: c for c in clusters}
        self.assertIn(cluster, by_name)
        self.assertEqual(by_name[cluster]["@type"],
                         "type.googleapis.com/envoy.config.cluster.v3.Cluster")
        self.assertIn("connect_timeout", by_name[cluster])  # proto field names, not camelCase

        out = self.ok("proxy-config", "listeners", "productpage")
        self.assertRegex(out, r"(?m)^\S+ +%d +ALL +Route: %d$" % (service_port, service_port))
        out = self.ok("proxy-config", "routes", "productpage")
        self.assertRegex(out, r"(?m)^%d +%s:%d +%s.* +/\* +reviews\.default$"
                         % (service_port, re.escape(HOST), service_port, re.escape(HOST)))
        out = self.ok("proxy-config", "endpoints", "productpage")
        self.assertRegex(out, r"(?m)^127\.0\.0\.1:%d +HEALTHY +%s$" % (v1.port,
                                                                       re.escape(cluster)))
        out = self.ok("proxy-config", "endpoints", "productpage", "-o", "yaml")
        self.assertIn("cluster_name: %s" % cluster, out)

        for args, stderr in ((["proxy-config", "clusters", "nope"],
                              'error: proxy "nope" not found'),
                             (["proxy-status", "nope"], 'error: proxy "nope" not found')):
            out = self.weftctl(*args)
            self.assertEqual(out.returncode, 1, args)
            self.assertTrue(out.stderr.startswith(stderr), out.stderr)
        # The debug API itself: an unknown node is a Kubernetes 404.
        status, body = self.weftd.request("GET", "/debug/proxies/nope%7E1/config?type=clusters")
        self.assertEqual((status, body["reason"], body["message"]),
                         (404, "NotFound", 'proxies "nope~1" not found'))

    def test_a_nack_is_shown_and_the_proxy_keeps_its_last_good_config(self):
        service_port = free_port()
        self.reviews_mesh(service_port)
        self.proxy = Proxy(bootstrap(self.xds_port))
        wait_for(lambda: self.served(service_port) == "reviews-v1", timeout=20,
                 what="routing to v1\n" + self.proxy.output())
        wait_for(self.synced, timeout=10, what="proxy-status SYNCED")

        # A second service port the test already holds on loopback: the proxy cannot bind the
        # outbound listener weftd now sends, and NACKs the LDS response. (A TCP port: its
        # listener needs no routes, so it is bound when the LDS response is applied. An HTTP
        # port's listener warms until its routes arrive, and weft-proxy reports the bind failure
        # against that RDS response instead.)
        self.held = socket.socket()
        self.held.bind(("127.0.0.1", 0))
        self.held.listen(1)
        taken = self.held.getsockname()[1]
        self.reviews_mesh(service_port, tcp_ports=[taken])
        row = wait_for(lambda: (self.status_row() or {}).get("LDS") == "NACKED"
                       and self.status_row(), timeout=15,
                       what="LDS NACKED\n" + self.proxy.output())
        self.assertEqual(row["CDS"], "SYNCED")
        # The table is followed by the errors behind its NACKED cells.
        table = self.ok("proxy-status")
        self.assertRegex(table, r"\nNACK errors:\n%s LDS: listener '127\.0\.0\.1_%d': .*%d"
                         % (re.escape(NODE_ID), taken, taken))
        details = self.ok("proxy-status", "productpage")
        self.assertRegex(details, r"(?m)^LDS +NACKED ")
        nack = re.search(r"(?m)^LDS version \S+ was rejected: (.+)$", details)
        self.assertIsNotNone(nack, details)
        self.assertIn(str(taken), nack.group(1))
        # The proxy's own words reached weftd verbatim.
        status = json.loads(self.ok("proxy-status", NODE_ID, "-o", "json"))
        self.assertEqual(status["types"]["LDS"]["nack_error"], nack.group(1))
        self.assertGreaterEqual(status["types"]["LDS"]["nacks"], 1)
        # The last good config still serves.
        self.assertEqual(self.served(service_port), "reviews-v1")

        # Fixed: the port goes away, the next LDS version is ACKed.
        self.reviews_mesh(service_port)
        wait_for(self.synced, timeout=15, what="SYNCED again after the fix")
        self.assertNotIn("NACK errors", self.ok("proxy-status"))
        details = self.ok("proxy-status", "productpage")
        self.assertNotIn("\nNACKs", details)
        # The NACK stays in the details' history.
        self.assertIn("Earlier NACKs (a later response of the type was ACKed):\nLDS version %s "
                      "was rejected: %s\n" % (status["types"]["LDS"]["nack_version"],
                                               nack.group(1)), details)


if __name__ == "__main__":
    unittest.main()
