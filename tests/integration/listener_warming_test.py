"""Listener warming on SDS secrets (Envoy's "listener warming"): a TLS listener whose identity
agent has no certificate yet is not given to the workers. The identity agent reaches weftd's CA
through a gate the test opens (closed, it holds the agent's connection, so its request waits):

- a bootstrap TLS listener warms: /ready answers 503 INITIALIZING, server.state is 3,
  listener_manager.total_listeners_warming is 1 and /config_dump lists it under
  dynamic_warming_listeners; a client's TLS handshake started meanwhile is held (no
  ssl.connection_error, no connection accepted) and completes once the certificate arrives;
- with sds_config.initial_fetch_timeout 1s and no certificate, the listener goes active anyway
  after the timeout (its handshakes then fail, as Envoy's do);
- an LDS update turning a plaintext listener into TLS keeps the plaintext one serving until the
  certificate arrives, then TLS serves on the same port; a listener removed while warming is
  dropped (its port closes)."""
import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import unittest

import harness
from sds_mesh_test import ISTIO_SDS, server_bootstrap
from weftd_ca_test import WeftdCaTestBase
import xds_test


class CaGate:
    """A TCP forwarder to the CA on an ephemeral loopback port. Closed, it holds the connections
    it accepts (the agent's request waits, within its deadline), or with refuse=True closes them
    at once (a CA that is down); open() forwards them and every later one both ways."""

    def __init__(self, target, refuse=False):
        self.refuse = refuse
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.lock = threading.Lock()
        self.is_open = False
        self.held = []
        self.stopped = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def open(self):
        with self.lock:
            self.is_open = True
            held, self.held = self.held, []
        for conn in held:
            self._forward(conn)

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                if not self.is_open:
                    if self.refuse:
                        conn.close()
                    else:
                        self.held.append(conn)
                    continue
            self._forward(conn)

    def _forward(self, conn):
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            conn.close()
            return
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            src.settimeout(None)
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()
        for conn in self.held:
            conn.close()


def tls_get(sock_or_port, ctx, path="/"):
    """The status line of a GET over TLS (a new connection to a port, or a TLS socket)."""
    s = (ctx.wrap_socket(socket.create_connection(("127.0.0.1", sock_or_port), timeout=10))
         if isinstance(sock_or_port, int) else sock_or_port)
    try:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n")[0]
    finally:
        s.close()


class ListenerWarmingTestBase(WeftdCaTestBase):
    def setUp(self):
        super().setUp()
        self.gate = CaGate(self.tls_addr)
        self.addCleanup(self.gate.stop)
        self.app = harness.Upstream("app")
        self.addCleanup(self.app.stop)
        self.tmp = tempfile.mkdtemp(prefix="weft-warming-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.ca_dir, "root-cert.pem"))
        self.ctx.check_hostname = False

    def start_proxy(self, bootstrap, sa="reviews", wait_ready=False):
        token_file = os.path.join(self.tmp, "istio-token")
        with open(token_file, "w") as f:
            f.write(self.token(sa=sa) + "\n")
        os.chmod(token_file, 0o600)
        proxy = harness.Proxy(bootstrap, wait_ready=wait_ready, extra_args=[
            "--ca-addr", self.gate.addr, "--ca-root-cert",
            os.path.join(self.ca_dir, "root-cert.pem"), "--ca-token-file", token_file])
        self.addCleanup(shutil.rmtree, proxy.dir, ignore_errors=True)
        self.addCleanup(proxy.stop)
        return proxy

    def wait(self, pred, what, proxy, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = pred()
            if value:
                return value
            time.sleep(0.1)
        self.fail("timed out waiting for %s\nproxy log:\n%s" % (what, proxy.output()))

    def stat(self, proxy, name):
        return xds_test.stat(proxy, name) or 0

    def held_handshake(self, port, path):
        """A thread that connects to `port`, handshakes TLS and GETs `path`; its result dict
        gets "status" (the status line) or "error"."""
        result = {}

        def run():
            try:
                s = self.ctx.wrap_socket(
                    socket.create_connection(("127.0.0.1", port), timeout=30))
                result["status"] = tls_get(s, self.ctx, path)
            except (OSError, ssl.SSLError) as e:
                result["error"] = repr(e)

        client = threading.Thread(target=run, daemon=True)
        client.start()
        return client, result

    def warming(self, proxy):
        """{name: waiting_for} of /config_dump's dynamic_warming_listeners."""
        _, body = proxy.admin_get("/config_dump")
        return {l["name"]: l["warming_state"]["waiting_for"]
                for l in json.loads(body).get("dynamic_warming_listeners", [])}


class BootstrapListenerWarmingTest(ListenerWarmingTestBase):
    def test_tls_listener_warms_until_its_certificate_and_holds_clients(self):
        port = harness.free_port()
        proxy = self.start_proxy(server_bootstrap(port, self.app.port,
                                                  os.path.join(self.tmp, "access.log")))
        prefix = "listener.127.0.0.1_%d." % port
        # Warming: not ready, the listener is not serving, the admin says why.
        self.wait(lambda: proxy.admin_get("/ready") == (503, "INITIALIZING\n"), "INITIALIZING",
                  proxy)
        self.assertEqual(self.stat(proxy, "server.state"), 3)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_warming"), 1)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_active"), 0)
        self.assertEqual(self.warming(proxy), {"inbound": ["secrets"]})
        self.assertNotIn("inbound::", proxy.admin_get("/listeners")[1])

        # A client's handshake now is held in the socket's backlog, not failed.
        client, result = self.held_handshake(port, "/held")
        time.sleep(1.5)
        self.assertTrue(client.is_alive(), "the handshake ended while warming: %s" % result)
        self.assertEqual(self.stat(proxy, prefix + "downstream_cx_total"), 0)
        self.assertEqual(self.stat(proxy, prefix + "ssl.connection_error"), 0)
        self.assertEqual(proxy.admin_get("/ready")[0], 503)

        # The certificate arrives (the agent's next retry): the listener becomes active, the
        # held handshake completes with it, new ones too, and the server is LIVE.
        self.gate.open()
        client.join(30)
        self.assertFalse(client.is_alive())
        self.assertEqual(result, {"status": b"HTTP/1.1 200 OK"}, proxy.output())
        self.assertEqual(tls_get(port, self.ctx, "/after"), b"HTTP/1.1 200 OK")
        self.assertEqual(proxy.admin_get("/ready"), (200, "LIVE\n"))
        self.assertEqual(self.stat(proxy, "server.state"), 0)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_warming"), 0)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_active"), 1)
        self.assertGreaterEqual(self.stat(proxy, "listener_manager.listener_create_success"), 1)
        self.assertEqual(self.warming(proxy), {})
        self.assertIn("inbound::", proxy.admin_get("/listeners")[1])
        self.assertGreaterEqual(self.stat(proxy, prefix + "ssl.handshake"), 2)
        self.assertEqual(self.stat(proxy, prefix + "ssl.connection_error"), 0)
        self.assertIn("/held", [s[1] for s in self.app.seen])

    def test_initial_fetch_timeout_ends_warming_without_the_certificate(self):
        port = harness.free_port()
        sds = "sds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: 1s}"
        bootstrap = server_bootstrap(port, self.app.port, os.path.join(self.tmp, "a.log"))
        bootstrap = bootstrap.replace(ISTIO_SDS, sds)
        self.assertIn("initial_fetch_timeout: 1s", bootstrap)
        start = time.time()
        proxy = self.start_proxy(bootstrap)
        self.wait(lambda: proxy.admin_get("/ready")[0] == 200, "LIVE after the timeout", proxy)
        self.assertGreaterEqual(time.time() - start, 0.9)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_warming"), 0)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_active"), 1)
        self.assertIn("initial_fetch_timeout", proxy.output())
        # Active without a certificate (the gate stays closed): handshakes fail, as in Envoy.
        with self.assertRaises((ssl.SSLError, OSError)):
            tls_get(port, self.ctx)
        self.wait(lambda: self.stat(proxy, "listener.127.0.0.1_%d.ssl.connection_error" % port),
                  "ssl.connection_error", proxy)


def ads_bootstrap(xds_port, sa="reviews"):
    """weft-proxy on ADS (the xds_test fixture), with the node metadata the agent needs."""
    text = xds_test.bootstrap(xds_port)
    return text.replace("metadata: {NAMESPACE: default}",
                        "metadata: {NAMESPACE: default, SERVICE_ACCOUNT: %s}" % sa)


def with_tls(listener):
    """`listener` (xds_test.listener) with a DownstreamTlsContext naming the agent's secrets."""
    sds = {"ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": "0s"}
    listener["filter_chains"][0]["transport_socket"] = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                     "DownstreamTlsContext",
            "common_tls_context": {
                "tls_certificate_sds_secret_configs": [{"name": "default", "sds_config": sds}],
                "combined_validation_context": {
                    "default_validation_context": {},
                    "validation_context_sds_secret_config": {"name": "ROOTCA",
                                                             "sds_config": sds}}}}}
    return listener


class LdsListenerWarmingTest(ListenerWarmingTestBase):
    def test_update_keeps_the_old_listener_serving_until_the_new_is_warm(self):
        fixture = xds_test.Fixture()
        self.addCleanup(shutil.rmtree, fixture.dir, ignore_errors=True)
        self.addCleanup(fixture.stop)
        port, other, fresh = harness.free_port(), harness.free_port(), harness.free_port()
        fixture.put("cluster-app", xds_test.static_cluster("app", self.app.port))
        fixture.put("listener-web", xds_test.listener("web", port, cluster="app"))
        proxy = self.start_proxy(ads_bootstrap(fixture.port), wait_ready=True)
        self.wait(lambda: xds_test.served_by(port) == "app", "the plaintext listener", proxy)
        modified = self.stat(proxy, "listener_manager.listener_modified")

        # The same listener, now TLS: it warms; the plaintext version keeps serving.
        fixture.put("listener-web", with_tls(xds_test.listener("web", port, cluster="app")))
        # And a new TLS listener, removed while it warms: just dropped.
        fixture.put("listener-late", with_tls(xds_test.listener("late", other, cluster="app")))
        self.wait(lambda: self.warming(proxy) == {"web": ["secrets"], "late": ["secrets"]},
                  "two warming listeners", proxy)
        self.assertEqual(self.stat(proxy, "listener_manager.total_listeners_warming"), 2)
        self.assertEqual(proxy.admin_get("/ready")[0], 200)  # LIVE: not initial listeners
        for _ in range(5):
            self.assertEqual(xds_test.served_by(port), "app")
            time.sleep(0.2)
        fixture.remove("listener-late")
        self.wait(lambda: self.warming(proxy) == {"web": ["secrets"]}, "late dropped", proxy)
        self.assertTrue(xds_test.refuses(other), "the dropped listener's port still accepts")
        self.assertEqual(xds_test.served_by(port), "app")
        self.assertEqual(self.stat(proxy, "listener_manager.listener_modified"), modified)

        # A new TLS listener with a client held in its backlog, updated while it warms: the new
        # version takes over the same sockets, so the held client is served once it is active.
        fixture.put("listener-fresh", with_tls(xds_test.listener("fresh", fresh, cluster="app")))
        self.wait(lambda: "fresh" in self.warming(proxy), "fresh warming", proxy)
        client, result = self.held_handshake(fresh, "/fresh-held")
        time.sleep(0.5)
        updates = self.stat(proxy, "listener_manager.lds.update_success")
        fixture.put("listener-fresh", with_tls(xds_test.listener("fresh", fresh, cluster="app",
                                                                 stat_prefix="fresh_v2")))
        self.wait(lambda: self.stat(proxy, "listener_manager.lds.update_success") > updates,
                  "the fresh update applied", proxy)
        self.assertEqual(self.warming(proxy), {"web": ["secrets"], "fresh": ["secrets"]})
        self.assertTrue(client.is_alive(), "the held handshake ended while warming: %s" % result)

        # The certificate arrives: TLS replaces plaintext on the same port.
        self.gate.open()
        client.join(30)
        self.assertEqual(result, {"status": b"HTTP/1.1 200 OK"}, proxy.output())
        self.wait(lambda: self.stat(proxy, "listener_manager.total_listeners_warming") == 0,
                  "the TLS listener to become active", proxy)
        self.assertEqual(tls_get(port, self.ctx, "/tls"), b"HTTP/1.1 200 OK")
        self.assertIsNone(xds_test.served_by(port))  # plaintext no longer served
        self.assertEqual(self.stat(proxy, "listener_manager.listener_modified"), modified + 1)
        self.assertEqual(self.warming(proxy), {})


if __name__ == "__main__":
    unittest.main()
