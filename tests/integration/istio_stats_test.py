"""Istio's standard metrics (istio.stats) between two weft-proxies: a client sidecar (outbound,
reporter="source") and a server sidecar (inbound, reporter="destination") over mTLS with file
certificates, and the peer metadata they exchange in x-envoy-peer-metadata headers."""
import json
import re
import shutil
import tempfile
import time
import unittest

from harness import Proxy, Upstream, curl, free_port
from tls_test import CLIENT_ID, SERVER_ID, downstream_tls, make_pki, upstream_tls

SERVICE = "server.default.svc.cluster.local"

ISTIO_STATS = {
    "name": "istio.stats",
    "typed_config": {
        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
        "type_url": "type.googleapis.com/stats.PluginConfig",
        "value": {}}}
ROUTER = {"name": "envoy.filters.http.router", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


def node(workload, app, sa):
    return {"id": f"sidecar~127.0.0.1~{workload}-abc.default~default.svc.cluster.local",
            "cluster": app,
            "metadata": {"NAME": f"{workload}-abc", "NAMESPACE": "default",
                         "WORKLOAD_NAME": workload, "SERVICE_ACCOUNT": sa,
                         "CLUSTER_ID": "Kubernetes",
                         "LABELS": {"app": app, "version": "v1"}}}


def listener(name, port, direction, cluster, transport=None):
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": name,
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "route": {"cluster": cluster}}]}]},
        "http_filters": [ISTIO_STATS, ROUTER]}
    chain = {"filters": [{"name": "envoy.filters.network.http_connection_manager",
                          "typed_config": hcm}]}
    if transport:
        chain["transport_socket"] = transport
    return {"name": name, "traffic_direction": direction,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [chain]}


def tcp_listener(name, port, direction, cluster, transport=None):
    chain = {"filters": [
        {"name": "istio.stats", "typed_config": ISTIO_STATS["typed_config"]},
        {"name": "envoy.filters.network.tcp_proxy", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "stat_prefix": name, "cluster": cluster}}]}
    if transport:
        chain["transport_socket"] = transport
    return {"name": name, "traffic_direction": direction,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [chain]}


def cluster(name, port, transport=None):
    c = {"name": name, "connect_timeout": "2s", "type": "STATIC",
         "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
             {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1",
                                                          "port_value": port}}}}]}]}}
    if transport:
        c["transport_socket"] = transport
    return c


def bootstrap(node_config, listeners, clusters):
    return json.dumps({
        "node": node_config,
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {"listeners": listeners, "clusters": clusters}})


def series(text, metric, **labels):
    """The values of `metric`'s series whose labels include `labels`."""
    values = []
    for line in text.splitlines():
        m = re.match(r'^' + metric + r'\{(.*)\} (\S+)$', line)
        if not m:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        if all(have.get(k) == v for k, v in labels.items()):
            values.append(float(m.group(2)))
    return values


class IstioStatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="weft-istio-stats-pki-")
        cls.pki = make_pki(cls.pki_dir)
        cls.app = Upstream("server-app")
        cls.server_mtls_port, cls.server_plain_port, cls.client_port, cls.server_tcp_port = (
            free_port(), free_port(), free_port(), free_port())
        inbound = f"inbound|{cls.app.port}||"
        cls.server = Proxy(bootstrap(
            node("server-v1", "server", "server"),
            [listener("inbound_mtls", cls.server_mtls_port, "INBOUND", inbound,
                      downstream_tls(cls.pki, require_client=True, san=CLIENT_ID)),
             listener("inbound_plain", cls.server_plain_port, "INBOUND", inbound),
             tcp_listener("inbound_tcp", cls.server_tcp_port, "INBOUND", inbound,
                          downstream_tls(cls.pki, require_client=True, san=CLIENT_ID))],
            [cluster(inbound, cls.app.port)]))
        outbound = f"outbound|9080||{SERVICE}"
        try:
            cls.client = Proxy(bootstrap(
                node("client-v1", "client", "client"),
                [listener("outbound", cls.client_port, "OUTBOUND", outbound)],
                [cluster(outbound, cls.server_mtls_port,
                         upstream_tls(cls.pki, SERVER_ID, client_cert=True))]))
        except Exception:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.client.stop()
        cls.server.stop()
        cls.app.stop()
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def prometheus(self, proxy):
        status, body = proxy.admin_get("/stats/prometheus")
        self.assertEqual(status, 200)
        return body

    def test_mutual_tls_request_is_reported_by_both_sidecars(self):
        seen_before = len(self.app.seen)
        rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                            "-H", f"host: {SERVICE}:9080",
                            f"http://127.0.0.1:{self.client_port}/mtls")
        self.assertEqual((rc, out), (0, "200"), err)
        # The application never sees the exchanged metadata.
        _, path, headers, _ = self.app.seen[seen_before]
        self.assertEqual(path, "/mtls")
        self.assertNotIn("x-envoy-peer-metadata", headers)
        self.assertNotIn("x-envoy-peer-metadata-id", headers)

        server_text = self.prometheus(self.server)
        self.assertIn("# TYPE istio_requests_total counter", server_text)
        inbound = series(server_text, "istio_requests_total", reporter="destination",
                         connection_security_policy="mutual_tls", source_principal=CLIENT_ID,
                         source_workload="client-v1", source_workload_namespace="default",
                         source_app="client", source_version="v1", source_cluster="Kubernetes",
                         destination_workload="server-v1", destination_app="server",
                         destination_principal="spiffe://cluster.local/ns/default/sa/server",
                         destination_service=SERVICE, destination_service_name="server",
                         destination_service_namespace="default", request_protocol="http",
                         response_code="200", response_flags="-")
        self.assertEqual(inbound, [1.0], server_text)
        self.assertEqual(series(server_text, "istio_request_duration_milliseconds_count",
                                reporter="destination", source_workload="client-v1"), [1.0])
        self.assertIn('le="0.5"', server_text)

        client_text = self.prometheus(self.client)
        # Outbound, both principals are the upstream connection's certificates: ours and the
        # server's verified URI SAN.
        outbound = series(client_text, "istio_requests_total", reporter="source",
                          source_workload="client-v1",
                          source_principal="spiffe://cluster.local/ns/default/sa/client",
                          destination_principal=SERVER_ID,
                          destination_workload="server-v1", destination_service=SERVICE,
                          connection_security_policy="unknown", response_code="200")
        self.assertEqual(outbound, [1.0], client_text)
        self.assertEqual(series(client_text, "istio_response_bytes_count", reporter="source",
                                destination_workload="server-v1"), [1.0])

    def test_plaintext_request_reports_none(self):
        rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{self.server_plain_port}/status/503")
        self.assertEqual((rc, out), (0, "503"), err)
        text = self.prometheus(self.server)
        plain = series(text, "istio_requests_total", reporter="destination",
                       connection_security_policy="none", source_principal="unknown",
                       source_workload="unknown", destination_principal="unknown",
                       response_code="503")
        self.assertEqual(plain, [1.0], text)

    def test_tcp_connection_over_mutual_tls(self):
        # curl speaks HTTP over TLS with the client certificate; tcp_proxy relays the plaintext.
        rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                            self.pki["ca.pem"], "--cert", self.pki["client.pem"], "--key",
                            self.pki["client.key"], f"https://localhost:{self.server_tcp_port}/tcp")
        self.assertEqual((rc, out), (0, "200"), err)
        labels = dict(reporter="destination", request_protocol="tcp",
                      connection_security_policy="mutual_tls", source_principal=CLIENT_ID,
                      destination_workload="server-v1")
        deadline = time.time() + 5
        while True:  # the proxy sees the close a moment after curl exits
            text = self.prometheus(self.server)
            closed = series(text, "istio_tcp_connections_closed_total", **labels)
            if closed or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(closed, [1.0], text)
        self.assertEqual(series(text, "istio_tcp_connections_opened_total", **labels), [1.0])
        received = series(text, "istio_tcp_received_bytes_total", **labels)
        sent = series(text, "istio_tcp_sent_bytes_total", **labels)
        self.assertEqual(len(received), 1)
        self.assertGreater(received[0], 50)  # at least the request line and headers
        self.assertGreater(sent[0], 50)
        self.assertNotIn("response_code", [l for l in text.splitlines()
                                           if l.startswith("istio_tcp_sent_bytes_total")][0])


METADATA_EXCHANGE = {
    "name": "istio.metadata_exchange",
    "typed_config": {
        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
        "type_url": "type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange",
        "value": {"protocol": "istio-peer-exchange", "enable_discovery": True}}}
# Istio's ALPNs for TCP over mTLS: the client's util.ALPNInMeshWithMxc, the server's
# util.ALPNDownstreamWithMxc.
CLIENT_TCP_ALPN = ["istio-peer-exchange", "istio"]
SERVER_TCP_ALPN = ["istio-peer-exchange", "h2", "http/1.1"]


class IstioTcpPeerExchangeTest(unittest.TestCase):
    """Istio's TCP metadata exchange between two weft-proxies: the client sidecar's cluster and
    the server sidecar's inbound chain carry istio.metadata_exchange, the mTLS handshake
    negotiates istio-peer-exchange, and both sides label istio_tcp_* with the other's workload.
    The application on each end sees only its own bytes (curl's HTTP request and the answer)."""

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="weft-istio-mx-pki-")
        cls.pki = make_pki(cls.pki_dir)
        cls.app = Upstream("tcp-app")
        cls.server_port, cls.client_port, cls.client_no_mx_port = (
            free_port(), free_port(), free_port())
        inbound = f"inbound|{cls.app.port}||"
        server_chain = tcp_listener("inbound_tcp", cls.server_port, "INBOUND", inbound,
                                    downstream_tls(cls.pki, require_client=True, san=CLIENT_ID,
                                                   alpn=SERVER_TCP_ALPN))
        server_chain["filter_chains"][0]["filters"].insert(0, METADATA_EXCHANGE)
        cls.server = Proxy(bootstrap(node("db-v1", "db", "server"), [server_chain],
                                     [cluster(inbound, cls.app.port)]))
        outbound = f"outbound|3306||db.default.svc.cluster.local"
        plain = "outbound|3307||db.default.svc.cluster.local"
        mtls = upstream_tls(cls.pki, SERVER_ID, client_cert=True)
        mtls["typed_config"]["common_tls_context"]["alpn_protocols"] = CLIENT_TCP_ALPN
        with_mx = cluster(outbound, cls.server_port, mtls)
        with_mx["filters"] = [METADATA_EXCHANGE]
        # The same server without the exchange on the client side: ALPN "istio" only.
        mtls_no_mx = upstream_tls(cls.pki, SERVER_ID, client_cert=True)
        mtls_no_mx["typed_config"]["common_tls_context"]["alpn_protocols"] = ["istio"]
        try:
            cls.client = Proxy(bootstrap(
                node("client-v1", "client", "client"),
                [tcp_listener("outbound_tcp", cls.client_port, "OUTBOUND", outbound),
                 tcp_listener("outbound_tcp_no_mx", cls.client_no_mx_port, "OUTBOUND", plain)],
                [with_mx, cluster(plain, cls.server_port, mtls_no_mx)]))
        except Exception:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.client.stop()
        cls.server.stop()
        cls.app.stop()
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def wait_for(self, proxy, metric, **labels):
        deadline = time.time() + 5
        while True:  # the proxies see the close a moment after curl exits
            _, text = proxy.admin_get("/stats/prometheus")
            found = series(text, metric, **labels)
            if found or time.time() > deadline:
                return found, text
            time.sleep(0.05)

    def test_both_sides_label_the_connection_with_the_peer_workload(self):
        seen_before = len(self.app.seen)
        rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{self.client_port}/mx")
        self.assertEqual((rc, out), (0, "200"), err)
        # The frames never reach the application: it parsed a clean HTTP request.
        self.assertEqual(self.app.seen[seen_before][1], "/mx")

        source = dict(reporter="source", request_protocol="tcp",
                      source_workload="client-v1", source_app="client",
                      source_principal=CLIENT_ID, destination_principal=SERVER_ID,
                      destination_workload="db-v1", destination_app="db",
                      destination_version="v1", destination_workload_namespace="default",
                      destination_canonical_service="db", destination_cluster="Kubernetes",
                      destination_service="db.default.svc.cluster.local")
        closed, text = self.wait_for(self.client, "istio_tcp_connections_closed_total", **source)
        self.assertEqual(closed, [1.0], text)
        self.assertEqual(series(text, "istio_tcp_connections_opened_total", **source), [1.0], text)

        destination = dict(reporter="destination", request_protocol="tcp",
                           connection_security_policy="mutual_tls",
                           source_workload="client-v1", source_app="client",
                           source_version="v1", source_workload_namespace="default",
                           source_canonical_service="client", source_cluster="Kubernetes",
                           source_principal=CLIENT_ID, destination_workload="db-v1",
                           destination_principal=SERVER_ID)
        closed, text = self.wait_for(self.server, "istio_tcp_connections_closed_total",
                                     **destination)
        self.assertEqual(closed, [1.0], text)
        self.assertEqual(series(text, "istio_tcp_connections_opened_total", **destination),
                         [1.0], text)

    def test_without_the_exchange_the_peer_stays_unknown(self):
        rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{self.client_no_mx_port}/no-mx")
        self.assertEqual((rc, out), (0, "200"), err)
        # mTLS still proves both principals; only the workload labels are unknown.
        labels = dict(reporter="source", request_protocol="tcp",
                      destination_service="db.default.svc.cluster.local",
                      source_principal=CLIENT_ID, destination_principal=SERVER_ID,
                      destination_workload="unknown", destination_app="unknown")
        closed, text = self.wait_for(self.client, "istio_tcp_connections_closed_total", **labels)
        self.assertEqual(closed, [1.0], text)
        labels = dict(reporter="destination", source_workload="unknown",
                      source_principal=CLIENT_ID, connection_security_policy="mutual_tls")
        closed, text = self.wait_for(self.server, "istio_tcp_connections_closed_total", **labels)
        self.assertEqual(closed, [1.0], text)


class IstioStatsConfigTest(unittest.TestCase):
    def test_unknown_plugin_config_field_is_refused_with_its_path(self):
        stats = json.loads(json.dumps(ISTIO_STATS))
        stats["typed_config"]["value"] = {"metrics": []}
        config = json.loads(bootstrap(node("a", "a", "a"),
                                      [listener("in", free_port(), "INBOUND", "c")],
                                      [cluster("c", free_port())]))
        hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        hcm["typed_config"]["http_filters"][0] = stats
        with self.assertRaises(RuntimeError) as ctx:
            Proxy(json.dumps(config))
        self.assertIn("http_filters[0].typed_config.value.metrics: not supported", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
