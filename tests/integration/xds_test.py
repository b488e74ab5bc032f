"""weft-proxy's xDS client against weftd's ADS server (served by weft-xds-fixture from a directory
of Envoy resources): clusters, endpoints, listeners and routes arrive and change live, invalid
updates are NACKed while the last good config serves, and the proxy survives the server's death."""
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BUILD, Proxy, Upstream, curl, free_port

FIXTURE = os.path.join(BUILD, "bin", "weft-xds-fixture")
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
HCM = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
       "HttpConnectionManager")
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def socket_address(port):
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def eds_cluster(name):
    return {"@type": CLUSTER, "name": name, "type": "EDS", "connect_timeout": "1s",
            "eds_cluster_config": {"eds_config": {"ads": {}}}}


def static_cluster(name, port):
    return {"@type": CLUSTER, "name": name, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": name, "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": socket_address(port)}}]}]}}


def endpoints(name, *ports):
    # gRPC's xDS clients refuse endpoints without a locality and skip localities without a
    # weight; weft-proxy takes either.
    return {"@type": CLA, "cluster_name": name, "endpoints": [
        {"locality": {"region": "r1", "zone": "z1"}, "load_balancing_weight": 1,
         "lb_endpoints": [{"endpoint": {"address": socket_address(p)}} for p in ports]}]}


def listener(name, port, rds=None, cluster=None, stat_prefix="ingress"):
    hcm = {"@type": HCM, "http_filters": [{"name": "envoy.filters.http.router",
                                          "typed_config": {"@type": ROUTER}}]}
    if stat_prefix:
        hcm["stat_prefix"] = stat_prefix
    if rds:
        hcm["rds"] = {"route_config_name": rds, "config_source": {"ads": {}}}
    else:
        hcm["route_config"] = route_config("inline", cluster)
        del hcm["route_config"]["@type"]
    return {"@type": LISTENER, "name": name, "address": socket_address(port),
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                            "typed_config": hcm}]}]}


def route_config(name, cluster):
    return {"@type": ROUTE, "name": name, "virtual_hosts": [
        {"name": "all", "domains": ["*"],
         "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster}}]}]}


class Fixture:
    """weft-xds-fixture serving `self.dir`; stopped (or killed) by PID."""

    def __init__(self, port=None, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="weft-xds-")
        self.port = port or free_port()
        self.status_path = os.path.join(self.dir, "..", os.path.basename(self.dir) + ".status")
        self.start()

    def start(self):
        port_file = self.dir + ".port"
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(self.dir + ".log", "a")
        self.proc = subprocess.Popen(
            [FIXTURE, "--dir", self.dir, "--addr", "127.0.0.1:%d" % self.port,
             "--port-file", port_file, "--status-file", self.status_path, "--poll-ms", "50"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("weft-xds-fixture did not start: " + self.output())
            time.sleep(0.05)

    def put(self, filename, resource):
        tmp = os.path.join(self.dir, "." + filename + ".tmp")
        with open(tmp, "w") as f:
            json.dump(resource, f)
        os.rename(tmp, os.path.join(self.dir, filename + ".json"))

    def remove(self, filename):
        os.unlink(os.path.join(self.dir, filename + ".json"))

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def bootstrap(xds_port, node_id="proxy-1", api_type="GRPC"):
    return """
node: {id: %s, cluster: test, metadata: {NAMESPACE: default}}
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
""" % (node_id, api_type, xds_port)


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def served_by(port, path="/"):
    """The upstream tag that answered a GET through the proxy, or None."""
    code, out, _ = curl("http://127.0.0.1:%d%s" % (port, path), timeout=3)
    if code != 0:
        return None
    try:
        return json.loads(out)["server"]
    except ValueError:
        return None


def refuses(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def listening_socket():
    """A socket listening on an ephemeral loopback port (a port a listener cannot bind)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def stat(proxy, name):
    _, body = proxy.admin_get("/stats?filter=" + name)
    for line in body.splitlines():
        key, _, value = line.partition(": ")
        if key == name:
            return int(value)
    return None


class H2Connection:
    """One prior-knowledge h2c connection, frames built by hand (RFC 9113 §4; request headers as
    HPACK literals without indexing, RFC 7541 §6.2.2), so a test can send streams on the SAME
    connection before and after a config change. Response headers are not decoded: the body
    (the echo upstream's JSON) says who answered. A GOAWAY or a closed socket raises."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(4, 0, 0))
        self.next_stream = 1
        self.buf = b""

    @staticmethod
    def frame(ftype, flags, stream, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", stream) + payload

    @staticmethod
    def literal(name, value):
        name, value = name.encode(), value.encode()
        return bytes([0, len(name)]) + name + bytes([len(value)]) + value

    def read_frame(self):
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the proxy closed the HTTP/2 connection")
            self.buf += data
        length = int.from_bytes(self.buf[:3], "big")
        ftype, flags = self.buf[3], self.buf[4]
        stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
        payload = self.buf[9:9 + length]
        self.buf = self.buf[9 + length:]
        return ftype, flags, stream, payload

    def get(self, path="/"):
        """GET on a new stream of this connection: the response body."""
        stream = self.next_stream
        self.next_stream += 2
        block = b"".join(self.literal(n, v) for n, v in (
            (":method", "GET"), (":scheme", "http"), (":path", path),
            (":authority", "127.0.0.1:%d" % self.port)))
        self.sock.sendall(self.frame(1, 0x5, stream, block))  # END_STREAM | END_HEADERS
        body = b""
        while True:
            ftype, flags, sid, payload = self.read_frame()
            if ftype == 7:
                raise ConnectionError("GOAWAY from the proxy")
            if ftype == 4 and not flags & 1:
                self.sock.sendall(self.frame(4, 1, 0))  # SETTINGS ACK
            elif ftype == 6 and not flags & 1:
                self.sock.sendall(self.frame(6, 1, 0, payload))  # PING ACK
            elif sid == stream and ftype == 3:
                raise ConnectionError("stream reset by the proxy")
            elif sid == stream and ftype == 0:
                pad = payload[0] if flags & 0x8 else 0
                body += payload[1:len(payload) - pad] if flags & 0x8 else payload
                if payload and not flags & 1:
                    # Give the flow-control window back so long bodies are not stalled.
                    inc = struct.pack(">I", len(payload))
                    self.sock.sendall(self.frame(8, 0, 0, inc) + self.frame(8, 0, stream, inc))
            if sid == stream and ftype in (0, 1) and flags & 1:
                return body

    def close(self):
        self.sock.close()


class XdsClientTest(unittest.TestCase):
    """The client's scenarios over state of the world; XdsDeltaClientTest runs them over Delta."""
    API_TYPE = "GRPC"

    def server_nack_error(self, type_url):
        """The error of the last NACK of `type_url` the fixture saw from proxy-1, or None."""
        return self.fixture.status().get("proxy-1", {}).get("types", {}).get(type_url, {}) \
            .get("nack_error")

    def setUp(self):
        self.up1, self.up2 = Upstream("up1"), Upstream("up2")
        self.fixture = Fixture()
        self.port = free_port()
        self.proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()
        self.fixture.stop()
        self.up1.stop()
        self.up2.stop()
        shutil.rmtree(self.fixture.dir, ignore_errors=True)

    def start_with_eds_and_rds(self, concurrency=1):
        self.fixture.put("cluster-web", eds_cluster("web"))
        self.fixture.put("eds-web", endpoints("web", self.up1.port))
        self.fixture.put("listener-http", listener("http", self.port, rds="web-routes"))
        self.fixture.put("route-web", route_config("web-routes", "web"))
        self.proxy = Proxy(bootstrap(self.fixture.port, api_type=self.API_TYPE),
                           concurrency=concurrency)
        wait_for(lambda: served_by(self.port) == "up1", what="traffic through the xDS listener")

    def test_cluster_listener_and_routes_arrive_and_eds_moves_traffic(self):
        self.start_with_eds_and_rds()
        _, clusters = self.proxy.admin_get("/clusters")
        self.assertIn("web::added_via_api::true", clusters)
        self.assertIn("web::127.0.0.1:%d::" % self.up1.port, clusters)
        self.assertEqual(stat(self.proxy, "control_plane.connected_state"), 1)
        self.assertGreaterEqual(stat(self.proxy, "cluster_manager.cds.update_success"), 1)
        dynamic = json.loads(self.proxy.admin_get("/config_dump")[1])["dynamic"]
        self.assertEqual(dynamic["api_type"], self.API_TYPE)
        # The server's bookkeeping (written every 50 ms): every type ACKed at the version sent.
        def in_sync():
            types = self.fixture.status().get("proxy-1", {}).get("types", {})
            if all(t in types and types[t]["acked_version"] == types[t]["sent_version"]
                   for t in (CLUSTER, CLA, LISTENER, ROUTE)):
                return types
            return None
        status = wait_for(in_sync, what="every type ACKed at the server")
        for type_url in (CLUSTER, CLA, LISTENER, ROUTE):
            self.assertEqual(status[type_url]["nacks"], 0)

        # EDS: the endpoint moves to up2; traffic follows, and only up2 answers afterwards.
        self.fixture.put("eds-web", endpoints("web", self.up2.port))
        wait_for(lambda: served_by(self.port) == "up2", what="traffic on the new endpoint")
        self.assertEqual({served_by(self.port) for _ in range(5)}, {"up2"})

        # RDS: the route now sends to a new static cluster pointing at up1.
        self.fixture.put("cluster-other", static_cluster("other", self.up1.port))
        self.fixture.put("route-web", route_config("web-routes", "other"))
        wait_for(lambda: served_by(self.port) == "up1", what="traffic on the new route")

    def test_clusters_updated_removed_and_invalid_ones_nacked(self):
        self.start_with_eds_and_rds()
        # An updated EDS cluster keeps the endpoints it had: traffic does not stop.
        updated = eds_cluster("web")
        updated["connect_timeout"] = "2s"
        self.fixture.put("cluster-web", updated)
        wait_for(lambda: stat(self.proxy, "cluster_manager.cds.update_success") >= 2,
                 what="the cluster update")
        self.assertEqual({served_by(self.port) for _ in range(3)}, {"up1"})

        # An invalid cluster: the CDS update is NACKed with its path; nothing changes.
        bad = static_cluster("bad", self.up2.port)
        bad["connect_timeout"] = "0s"
        self.fixture.put("cluster-bad", bad)
        status = wait_for(lambda: self.server_nack_error(CLUSTER),
                          what="the CDS NACK at the server")
        self.assertEqual(status, "cluster 'bad': connect_timeout: must be greater than 0")
        _, clusters = self.proxy.admin_get("/clusters")
        self.assertNotIn("bad::", clusters)
        self.assertEqual(served_by(self.port), "up1")

        # A removed cluster leaves /clusters; routes to it answer 503.
        self.fixture.remove("cluster-bad")
        self.fixture.put("cluster-extra", static_cluster("extra", self.up2.port))
        wait_for(lambda: "extra::" in self.proxy.admin_get("/clusters")[1], what="extra cluster")
        self.fixture.remove("cluster-extra")
        self.fixture.remove("cluster-web")
        wait_for(lambda: "web::" not in self.proxy.admin_get("/clusters")[1]
                 and "extra::" not in self.proxy.admin_get("/clusters")[1],
                 what="the removed clusters to go")
        code, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}",
                            "http://127.0.0.1:%d/" % self.port)
        self.assertEqual(out, "503")

    def test_listener_on_a_busy_port_is_nacked_and_retried(self):
        self.start_with_eds_and_rds()
        busy, busy_port = listening_socket()
        self.fixture.put("listener-busy", listener("busy", busy_port, cluster="web"))
        error = wait_for(lambda: self.server_nack_error(LISTENER),
                         what="the NACK of the listener on a busy port")
        self.assertIn("listener 'busy'", error)
        self.assertEqual(served_by(self.port), "up1", "the other listener serves on")
        # The port is freed; the next LDS update retries the listener that failed.
        busy.close()
        self.fixture.put("listener-busy", listener("busy", busy_port, cluster="web",
                                                   stat_prefix="busy"))
        wait_for(lambda: served_by(busy_port) == "up1", what="the retried listener")

    def test_rds_listener_on_a_busy_port_is_an_lds_nack(self):
        # A listener that waits for its routes binds when LDS delivers it (as Envoy does), so a
        # taken port is the LDS update's NACK — not an RDS error later, which would leave LDS
        # ACKed for a listener that never opened.
        self.start_with_eds_and_rds()
        busy, busy_port = listening_socket()
        self.fixture.put("listener-busy", listener("busy", busy_port, rds="busy-routes"))
        error = wait_for(lambda: self.server_nack_error(LISTENER),
                         what="the LDS NACK of the rds listener on a busy port")
        self.assertIn("listener 'busy'", error)
        self.assertIn("in use", error)
        # Its routes arriving later do not turn the failure into an RDS NACK.
        self.fixture.put("route-busy", route_config("busy-routes", "web"))
        time.sleep(1)
        self.assertFalse(self.server_nack_error(ROUTE))
        self.assertEqual(served_by(self.port), "up1", "the other listener serves on")
        busy.close()
        self.fixture.put("listener-busy", listener("busy", busy_port, rds="busy-routes",
                                                   stat_prefix="busy"))
        wait_for(lambda: served_by(busy_port) == "up1", what="the retried listener")

    def test_listener_applied_next_to_a_failed_one_stays_through_later_updates(self):
        self.start_with_eds_and_rds()
        busy, busy_port = listening_socket()
        port_a, port_c = free_port(), free_port()
        # Both new listeners reach the proxy in one response: the fixture is down meanwhile.
        self.fixture.stop()
        wait_for(lambda: stat(self.proxy, "control_plane.connected_state") == 0,
                 what="the proxy to notice the server is gone")
        self.fixture.put("listener-a", listener("a", port_a, cluster="web", stat_prefix="a"))
        self.fixture.put("listener-busy", listener("busy", busy_port, cluster="web",
                                                   stat_prefix="busy"))
        self.fixture.start()
        wait_for(lambda: served_by(port_a) == "up1", timeout=20, what="listener a")
        wait_for(lambda: self.server_nack_error(LISTENER), what="the NACK of the busy listener")
        # A later LDS change (still NACKed: the port is still busy) adds c and keeps a.
        self.fixture.put("listener-c", listener("c", port_c, cluster="web", stat_prefix="c"))
        wait_for(lambda: served_by(port_c) == "up1", what="listener c")
        self.assertEqual(served_by(port_a), "up1")
        self.assertEqual(served_by(self.port), "up1")
        busy.close()

    def test_invalid_listener_is_nacked_and_old_config_serves(self):
        self.start_with_eds_and_rds()
        good = stat(self.proxy, "listener_manager.lds.update_success")
        # An HCM without stat_prefix is invalid: the whole LDS update is refused.
        other_port = free_port()
        self.fixture.put("listener-bad", listener("bad", other_port, cluster="web", stat_prefix=None))

        def nacked():
            _, body = self.proxy.admin_get("/config_dump")
            entry = json.loads(body)["dynamic"]["types"].get(LISTENER, {})
            return entry.get("last_update_attempt", {}).get("error_state", {}).get("details")
        error = wait_for(nacked, what="the NACK in /config_dump")
        self.assertIn("listener 'bad'", error)
        self.assertIn("stat_prefix: is required", error)
        self.assertGreaterEqual(stat(self.proxy, "listener_manager.lds.update_rejected"), 1)
        self.assertEqual(stat(self.proxy, "listener_manager.lds.update_success"), good)
        # The server saw the NACK with the proxy's error.
        status = wait_for(
            lambda: self.server_nack_error(LISTENER), what="the NACK at the server")
        self.assertIn("stat_prefix: is required", status)
        # The last good config keeps serving; the bad listener never opened.
        self.assertEqual(served_by(self.port), "up1")
        self.assertTrue(refuses(other_port))

        # Fixing it: ACKed, the error clears, the listener opens.
        self.fixture.put("listener-bad", listener("bad", other_port, cluster="web"))
        wait_for(lambda: served_by(other_port) == "up1", what="the fixed listener")
        wait_for(lambda: not nacked(), what="the error to clear")

    def test_server_killed_and_restarted_while_proxy_serves(self):
        self.start_with_eds_and_rds()
        self.fixture.stop(signal.SIGKILL)
        wait_for(lambda: stat(self.proxy, "control_plane.connected_state") == 0,
                 what="the proxy to notice the server is gone")
        # The last config keeps serving.
        self.assertEqual({served_by(self.port) for _ in range(5)}, {"up1"})
        # Changed while the server was down, then the server comes back on the same port.
        self.fixture.put("eds-web", endpoints("web", self.up2.port))
        self.fixture.start()
        wait_for(lambda: served_by(self.port) == "up2", timeout=20,
                 what="the proxy to reconnect and follow the new endpoints")
        self.assertEqual(stat(self.proxy, "control_plane.connected_state"), 1)

    def test_removed_listener_stops_accepting_without_cutting_requests(self):
        self.start_with_eds_and_rds()
        result = {}

        def slow_request():
            result["tag"] = served_by(self.port, "/slow/2")
        # An idle keep-alive connection on the listener, besides the request in flight.
        idle = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        idle.request("GET", "/")
        self.assertEqual(json.loads(idle.getresponse().read())["server"], "up1")
        t = threading.Thread(target=slow_request)
        t.start()
        time.sleep(0.5)  # the request is in flight
        self.fixture.remove("listener-http")
        wait_for(lambda: refuses(self.port), what="the removed listener to stop accepting")
        t.join(10)
        self.assertEqual(result.get("tag"), "up1", "the in-flight request completed")
        # The removed listener's idle connection was drained (closed by the proxy).
        idle.sock.settimeout(5)
        self.assertEqual(idle.sock.recv(1), b"")
        idle.close()

    def test_updated_listener_replaces_the_old(self):
        self.start_with_eds_and_rds()
        old = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        old.request("GET", "/")
        self.assertEqual(json.loads(old.getresponse().read())["server"], "up1")
        self.fixture.put("cluster-other", static_cluster("other", self.up2.port))
        # Same name and address, inline routes to another cluster now.
        self.fixture.put("listener-http", listener("http", self.port, cluster="other"))
        wait_for(lambda: served_by(self.port) == "up2", what="the updated listener")
        # The connection opened before the update finishes on the old config: one more request,
        # answered with "connection: close" (Envoy drains an updated listener's connections).
        old.request("GET", "/")
        response = old.getresponse()
        self.assertEqual(json.loads(response.read())["server"], "up1")
        self.assertEqual(response.getheader("connection"), "close")
        old.close()
        # The RDS subscription is gone with the rds listener.
        self.assertEqual({served_by(self.port) for _ in range(3)}, {"up2"})

    def test_route_update_reaches_streams_on_open_connections(self):
        # Two workers: each swaps its own copy of the route table.
        self.start_with_eds_and_rds(concurrency=2)
        self.fixture.put("cluster-other", static_cluster("other", self.up2.port))
        wait_for(lambda: "other::" in self.proxy.admin_get("/clusters")[1], what="cluster other")
        # HTTP/1.1 keep-alive connections and HTTP/2 connections (several, so that both workers
        # have some), all routed to up1.
        h1s = [http.client.HTTPConnection("127.0.0.1", self.port, timeout=5) for _ in range(4)]
        h2s = [H2Connection(self.port) for _ in range(2)]
        for h1 in h1s:
            h1.request("GET", "/")
            self.assertEqual(json.loads(h1.getresponse().read())["server"], "up1")
        for h2 in h2s:
            self.assertEqual(json.loads(h2.get("/"))["server"], "up1")
        sockets = [h1.sock for h1 in h1s]
        listener_stats = {name: stat(self.proxy, "listener_manager." + name)
                          for name in ("listener_added", "listener_modified", "listener_removed")}
        reloads = stat(self.proxy, "http.ingress.rds.web-routes.config_reload") or 0

        # RDS only: the route now sends to the static cluster on up2.
        self.fixture.put("route-web", route_config("web-routes", "other"))
        wait_for(lambda: served_by(self.port) == "up2", what="new connections on the new route")

        # The next request on each open connection follows the new route...
        for _ in range(2):
            for h1 in h1s:
                h1.request("GET", "/")
                self.assertEqual(json.loads(h1.getresponse().read())["server"], "up2")
            for h2 in h2s:
                self.assertEqual(json.loads(h2.get("/"))["server"], "up2")
        # ...on the same connections: none was closed (http.client would have reconnected, and
        # H2Connection raises on a GOAWAY or a close).
        self.assertEqual([h1.sock for h1 in h1s], sockets)
        for c in h1s + h2s:
            c.close()
        # The listener was neither replaced nor drained; the HCM counted one route reload.
        self.assertEqual({name: stat(self.proxy, "listener_manager." + name)
                          for name in listener_stats}, listener_stats)
        self.assertEqual(stat(self.proxy, "http.ingress.rds.web-routes.config_reload"),
                         reloads + 1)

    def test_invalid_route_update_is_nacked_and_open_connections_keep_the_old_routes(self):
        self.start_with_eds_and_rds()
        h1 = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        h1.request("GET", "/")
        self.assertEqual(json.loads(h1.getresponse().read())["server"], "up1")
        bad = route_config("web-routes", "web")
        bad["virtual_hosts"][0]["routes"][0]["match"] = {"safe_regex": {"regex": "(unclosed"}}
        self.fixture.put("route-web", bad)
        error = wait_for(
            lambda: self.server_nack_error(ROUTE), what="the RDS NACK at the server")
        self.assertIn("route_configuration 'web-routes'", error)
        h1.request("GET", "/")
        self.assertEqual(json.loads(h1.getresponse().read())["server"], "up1")
        h1.close()
        self.assertEqual(served_by(self.port), "up1")


class XdsDeltaClientTest(XdsClientTest):
    """Every XdsClientTest scenario over DeltaAggregatedResources (api_type DELTA_GRPC), and
    what only Delta does."""
    API_TYPE = "DELTA_GRPC"

    def delta_log(self, text):
        """(type short name, resources changed, removed) per delta response logged in `text`."""
        found = []
        for line in text.splitlines():
            marker = "xds: delta type.googleapis.com/"
            if marker in line:
                rest = line.split(marker, 1)[1].split()
                # "<type> <version>: <n> resource(s) changed, <m> removed"
                found.append((rest[0].rsplit(".", 1)[1], int(rest[2]), int(rest[5])))
        return found

    def test_reconnect_sends_initial_versions_and_gets_only_what_changed(self):
        self.start_with_eds_and_rds()
        first = self.delta_log(self.proxy.output())
        self.assertIn(("Cluster", 1, 0), first)
        self.fixture.stop(signal.SIGKILL)
        wait_for(lambda: stat(self.proxy, "control_plane.connected_state") == 0,
                 what="the proxy to notice the server is gone")
        mark = len(self.proxy.output())
        self.fixture.put("eds-web", endpoints("web", self.up2.port))
        self.fixture.start()
        wait_for(lambda: served_by(self.port) == "up2", timeout=20,
                 what="the proxy to reconnect and follow the new endpoints")
        wait_for(lambda: len(self.delta_log(self.proxy.output()[mark:])) >= 4,
                 what="a response per type after the reconnect")
        after = {t: (changed, removed)
                 for t, changed, removed in self.delta_log(self.proxy.output()[mark:])}
        # The server knew what the proxy held: unchanged resources were not sent again.
        self.assertEqual(after, {"Cluster": (0, 0), "Listener": (0, 0),
                                 "RouteConfiguration": (0, 0), "ClusterLoadAssignment": (1, 0)})

    def test_removed_while_disconnected_is_removed_on_reconnect(self):
        self.start_with_eds_and_rds()
        self.fixture.put("cluster-extra", static_cluster("extra", self.up2.port))
        wait_for(lambda: "extra::" in self.proxy.admin_get("/clusters")[1], what="extra cluster")
        self.fixture.stop(signal.SIGKILL)
        wait_for(lambda: stat(self.proxy, "control_plane.connected_state") == 0,
                 what="the proxy to notice the server is gone")
        mark = len(self.proxy.output())
        self.fixture.remove("cluster-extra")
        self.fixture.start()
        wait_for(lambda: "extra::" not in self.proxy.admin_get("/clusters")[1], timeout=20,
                 what="the cluster removed meanwhile to go")
        self.assertIn(("Cluster", 0, 1), self.delta_log(self.proxy.output()[mark:]))
        self.assertEqual(served_by(self.port), "up1")


INTEROP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "interop")
NODE = shutil.which("node")
GRPC_JS_XDS = os.path.join(os.path.dirname(INTEROP), "..", "api", "node_modules", "@grpc",
                           "grpc-js-xds")


@unittest.skipUnless(NODE and os.path.isdir(GRPC_JS_XDS), "node and @grpc/grpc-js-xds needed")
class XdsInteropTest(unittest.TestCase):
    """@grpc/grpc-js-xds, a proxyless gRPC client written by others, resolves xds:///echo through
    the ADS server: LDS api_listener -> RDS -> CDS -> EDS, and calls the endpoint it was given.
    Hand-written resources on the fixture, to test the ADS server's protocol side (the client's
    ACKs in the server's bookkeeping, an EDS-only change); proxyless_test.py runs the same client
    (and grpc++) against weftd's translated config."""

    def setUp(self):
        self.fixture = Fixture()
        self.servers = []
        self.dir = tempfile.mkdtemp(prefix="weft-xds-interop-")

    def tearDown(self):
        for p in self.servers:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        self.fixture.stop()
        shutil.rmtree(self.fixture.dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def echo_server(self, tag):
        port = free_port()
        p = subprocess.Popen([NODE, os.path.join(INTEROP, "grpc_js_xds_client.js"), "serve",
                              str(port), tag], stdout=subprocess.PIPE, text=True)
        self.servers.append(p)
        self.assertEqual(p.stdout.readline().strip(), "listening")
        return port

    def call(self, n):
        bootstrap_path = os.path.join(self.dir, "bootstrap.json")
        with open(bootstrap_path, "w") as f:
            json.dump({"xds_servers": [{"server_uri": "127.0.0.1:%d" % self.fixture.port,
                                        "channel_creds": [{"type": "insecure"}],
                                        "server_features": ["xds_v3"]}],
                       "node": {"id": "grpc-client-1", "cluster": "interop", "locality": {}}}, f)
        env = dict(os.environ, GRPC_XDS_BOOTSTRAP=bootstrap_path)
        p = subprocess.run([NODE, os.path.join(INTEROP, "grpc_js_xds_client.js"), "call", "echo",
                            str(n)], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return [json.loads(line)["server"] for line in p.stdout.splitlines()]

    def test_grpc_js_xds_follows_the_served_config(self):
        port_a = self.echo_server("a")
        hcm = {"@type": HCM, "http_filters": [{"name": "envoy.filters.http.router",
                                              "typed_config": {"@type": ROUTER}}],
               "rds": {"route_config_name": "echo-routes", "config_source": {"ads": {}}}}
        self.fixture.put("listener", {"@type": LISTENER, "name": "echo",
                                      "api_listener": {"api_listener": hcm}})
        self.fixture.put("routes", route_config("echo-routes", "echo-cluster"))
        cluster = eds_cluster("echo-cluster")
        self.fixture.put("cluster", cluster)
        self.fixture.put("endpoints", endpoints("echo-cluster", port_a))
        self.assertEqual(set(self.call(3)), {"a"})

        # The fixture writes its bookkeeping every 50 ms: wait for the client's ACKs to show.
        def acked_all():
            types = self.fixture.status().get("grpc-client-1", {}).get("types", {})
            if all(types.get(t, {}).get("acks", 0) >= 1 for t in (LISTENER, ROUTE, CLUSTER, CLA)):
                return types
            return None
        status = wait_for(acked_all, what="grpc-js-xds's ACKs at the server")
        for type_url in (LISTENER, ROUTE, CLUSTER, CLA):
            self.assertEqual(status[type_url]["nacks"], 0, type_url)

        # The endpoints move to another server: a new client follows.
        port_b = self.echo_server("b")
        self.fixture.put("endpoints", endpoints("echo-cluster", port_b))
        time.sleep(0.5)
        self.assertEqual(set(self.call(3)), {"b"})


if __name__ == "__main__":
    unittest.main()
