"""Proxyless gRPC from weftd: two xDS clients written by others — @grpc/grpc-js-xds (npm, pinned
in api/package-lock.json) and Debian's grpc++ 1.51 `xds:` resolver (tests/tools/
weft_grpc_xds_client.cc) — resolve xds:///<host>:<port> through a real weftd (LDS api_listener,
RDS, CDS, EDS) and follow the VirtualService applied through weftd's API like a sidecar would:
subsets, header matches, weighted splits, fault aborts and delays, route timeouts, retries, and
changes while the client runs. The backends are Python gRPC servers (Debian's python3-grpcio)
whose replies name them."""
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from concurrent import futures

import harness
from grpc_test import grpc
from harness import free_port
import weftd_mesh_test
from weftd_mesh_test import obj
from weftd_api_test import Weftd
from xds_test import GRPC_JS_XDS, INTEROP, NODE

HOST = "reviews.default.svc.cluster.local"
PORT = 9080  # the service port: part of the listener name only (nothing binds it)
GRPCXX_CLIENT = os.path.join(harness.BUILD, "bin", "weft-grpc-xds-client")
# Istio's proxyless node: the sidecar id shape, and GENERATOR: grpc in the metadata.
NODE_ID = "sidecar~127.0.0.1~grpc-client-%d.default~default.svc.cluster.local"

# Within 80/20 over SPLIT_CALLS calls, v1 answers 160 on average with a standard deviation of
# sqrt(200 * 0.8 * 0.2) = 5.7: accepting 135..185 (4.4 deviations) fails a correct split about
# once in 100,000 runs and still fails a 50/50 or 100/0 split.
SPLIT_CALLS = 200
SPLIT_V1_RANGE = (135, 185)

# gRPC status codes the tests expect.
OK, DEADLINE_EXCEEDED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAVAILABLE = 0, 4, 7, 8, 14


def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def decode_message(data):
    """EchoRequest.message (field 1, a string) from its protobuf bytes."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 != 2:  # echo.proto has only strings
            break
        size, i = _read_varint(data, i)
        if key >> 3 == 1:
            return data[i:i + size].decode()
        i += size
    return ""


def encode_reply(message, server):
    """EchoReply{message = 1, server = 2} as protobuf bytes."""
    out = b""
    for number, text in ((1, message), (2, server)):
        raw = text.encode()
        out += bytes([number << 3 | 2]) + _varint(len(raw)) + raw
    return out


class EchoBackend:
    """weft.interop.Echo/Say (tests/interop/echo.proto) on 127.0.0.1, replying with its tag.
    flaky: the first attempt of each distinct message fails UNAVAILABLE, a retry succeeds."""

    def __init__(self, tag, flaky=False):
        self.tag, self.flaky = tag, flaky
        self.lock = threading.Lock()
        self.seen = set()
        self.attempts = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handler = grpc.unary_unary_rpc_method_handler(self._say)  # raw bytes in and out
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("weft.interop.Echo", {"Say": handler}),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _say(self, request, context):
        message = decode_message(request)
        with self.lock:
            self.attempts += 1
            first = message not in self.seen
            self.seen.add(message)
        if self.flaky and first:
            context.abort(grpc.StatusCode.UNAVAILABLE, "first attempt fails")
        return encode_reply(message, self.tag)

    def stop(self):
        self.server.stop(0)


class Client:
    """One of the two third-party xDS clients; both take the same options and print one JSON
    line per call: {"call", "code", "status", "server" | "error"}."""

    def __init__(self, name, argv_prefix, target):
        self.name, self.argv_prefix, self.target = name, argv_prefix, target

    def argv(self, n, metadata=(), deadline_ms=10000, interval_ms=0, prefix="call"):
        argv = self.argv_prefix + [self.target, str(n), "--deadline-ms", str(deadline_ms),
                                   "--interval-ms", str(interval_ms), "--prefix", prefix]
        for m in metadata:
            argv += ["--metadata", m]
        return argv


def clients():
    out = []
    if os.path.exists(GRPCXX_CLIENT):
        # The FQDN, as a client outside the namespace would dial.
        out.append(Client("grpc++", [GRPCXX_CLIENT], "xds:///%s:%d" % (HOST, PORT)))
    if NODE and os.path.isdir(GRPC_JS_XDS):
        # The short name: weftd also answers "reviews:9080" within the client's namespace.
        out.append(Client("grpc-js-xds", [NODE, os.path.join(INTEROP, "grpc_js_xds_client.js"),
                                          "call"], "reviews:%d" % PORT))
    return out


@unittest.skipUnless(clients(), "neither weft-grpc-xds-client nor node + @grpc/grpc-js-xds")
class ProxylessGrpcTest(unittest.TestCase):
    apply = weftd_mesh_test.WeftdMeshTest.apply  # create or replace through weftd's API

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weft-proxyless-")
        self.backends = {"v1": EchoBackend("v1"), "v2": EchoBackend("v2"),
                         "flaky": EchoBackend("flaky", flaky=True)}
        self.xds_port = free_port()
        self.weftd = Weftd(self.dir, ["--xds-addr", "127.0.0.1:%d" % self.xds_port])
        self.weftd.start()
        self.clients_started = 0
        self.running = []
        self.apply(obj("ServiceEntry", "reviews", {
            "hosts": [HOST], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": PORT, "name": "grpc", "protocol": "GRPC"}],
            "endpoints": [{"address": "127.0.0.1", "ports": {"grpc": b.port},
                           "labels": {"app": "reviews", "version": tag}}
                          for tag, b in sorted(self.backends.items())]}))
        self.apply(obj("DestinationRule", "reviews", {
            "host": HOST, "subsets": [{"name": tag, "labels": {"version": tag}}
                                      for tag in sorted(self.backends)]}))

    def tearDown(self):
        for p in self.running:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            p.stdout.close()
        self.weftd.stop()
        for b in self.backends.values():
            b.stop()
        if not os.environ.get("WEFT_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept", self.dir)

    def assert_nothing_rejected(self):
        """Neither client NACKed anything weftd sent (weftd logs each NACK)."""
        with open(os.path.join(self.dir, "weftd.log"), errors="replace") as f:
            rejected = [line for line in f if "NACKed" in line]
        self.assertEqual(rejected, [])

    def env(self):
        """A bootstrap for one client process, with a node id of its own as every pod has: a
        new node's first snapshot is built after every write the API already acknowledged, so the
        client starts on the current config. (A process reusing the id of one whose stream weftd
        has not yet seen close could start on that node's previous snapshot and move on a push
        later: right for xDS, but a race for a test that checks its first calls.)"""
        self.clients_started += 1
        path = os.path.join(self.dir, "bootstrap-%d.json" % self.clients_started)
        with open(path, "w") as f:
            json.dump({"xds_servers": [{"server_uri": "127.0.0.1:%d" % self.xds_port,
                                        "channel_creds": [{"type": "insecure"}],
                                        "server_features": ["xds_v3"]}],
                       "node": {"id": NODE_ID % self.clients_started,
                                "cluster": "grpc-client.default",
                                "metadata": {"GENERATOR": "grpc", "NAMESPACE": "default"},
                                "locality": {}}}, f)
        return dict(os.environ, GRPC_XDS_BOOTSTRAP=path)

    def calls(self, client, n, **options):
        """Runs n calls with a fresh client process; their results, in order."""
        p = subprocess.run(client.argv(n, **options), capture_output=True, text=True,
                           timeout=90, env=self.env())
        lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        self.assertEqual(len(lines), n, "%s: %s%s" % (client.name, p.stdout, p.stderr[-3000:]))
        return lines

    def route(self, http):
        self.apply(obj("VirtualService", "reviews", {"hosts": [HOST], "http": http}))

    @staticmethod
    def to(subset, weight=None):
        d = {"destination": {"host": HOST, "subset": subset}}
        if weight is not None:
            d["weight"] = weight
        return d

    def servers(self, lines):
        return [line.get("server") if line["code"] == OK else line["status"] for line in lines]

    def test_subsets_header_match_and_weighted_split(self):
        for client in clients():
            with self.subTest(client=client.name):
                self.route([{"route": [self.to("v1")]}])
                self.assertEqual(set(self.servers(self.calls(client, 10))), {"v1"})

                self.route([{"match": [{"headers": {"end-user": {"exact": "jason"}}}],
                             "route": [self.to("v2")]},
                            {"route": [self.to("v1")]}])
                self.assertEqual(set(self.servers(self.calls(
                    client, 10, metadata=["end-user=jason"]))), {"v2"})
                self.assertEqual(set(self.servers(self.calls(
                    client, 10, metadata=["end-user=mallory"]))), {"v1"})

                self.route([{"route": [self.to("v1", 80), self.to("v2", 20)]}])
                answered = self.servers(self.calls(client, SPLIT_CALLS))
                self.assertEqual(set(answered), {"v1", "v2"}, answered)
                v1 = answered.count("v1")
                self.assertTrue(SPLIT_V1_RANGE[0] <= v1 <= SPLIT_V1_RANGE[1],
                                "%s: v1 answered %d of %d" % (client.name, v1, SPLIT_CALLS))
        self.assert_nothing_rejected()

    def test_fault_abort_and_delay_past_the_route_timeout(self):
        for client in clients():
            with self.subTest(client=client.name):
                # httpStatus 403 reaches a gRPC client as PERMISSION_DENIED (gRPC's HTTP to
                # gRPC status mapping, doc/http-grpc-status-mapping.md, used by gRFC A33).
                self.route([{"fault": {"abort": {"httpStatus": 403,
                                                 "percentage": {"value": 100}}},
                             "route": [self.to("v1")]}])
                self.assertEqual({line["code"] for line in self.calls(client, 5)},
                                 {PERMISSION_DENIED})
                self.route([{"fault": {"abort": {"grpcStatus": "RESOURCE_EXHAUSTED",
                                                 "percentage": {"value": 100}}},
                             "route": [self.to("v1")]}])
                self.assertEqual({line["code"] for line in self.calls(client, 5)},
                                 {RESOURCE_EXHAUSTED})
                # A 6 s delay against a 2 s route timeout (max_stream_duration for gRPC): the
                # route's deadline ends the call, well before the client's own 10 s. (gRPC counts
                # it from the call's start, name resolution included: a first call through a
                # new channel needs the margin on a loaded machine.)
                self.route([{"fault": {"delay": {"fixedDelay": "6s",
                                                 "percentage": {"value": 100}}},
                             "timeout": "2s", "route": [self.to("v1")]}])
                started = time.monotonic()
                self.assertEqual({line["code"] for line in self.calls(client, 2)},
                                 {DEADLINE_EXCEEDED})
                self.assertLess(time.monotonic() - started, 10)  # not the client's deadline
                # Without the fault the route answers. (Its timeout is 5 s: it counts from the
                # call's start, and a new client's first call includes its xDS fetch and connect,
                # which took over 2 s on a loaded CI machine.)
                self.route([{"timeout": "5s", "route": [self.to("v1")]}])
                self.assertEqual(set(self.servers(self.calls(client, 3))), {"v1"})
        self.assert_nothing_rejected()

    def test_retries_on_unavailable(self):
        flaky = self.backends["flaky"]
        for client in clients():
            with self.subTest(client=client.name):
                # No retries: every call meets the backend's first-attempt failure.
                self.route([{"retries": {"attempts": 0}, "route": [self.to("flaky")]}])
                before = flaky.attempts
                lines = self.calls(client, 5, prefix=client.name + "-noretry")
                self.assertEqual({line["code"] for line in lines}, {UNAVAILABLE}, lines)
                self.assertEqual(flaky.attempts - before, 5)
                # retryOn unavailable: the second attempt of each call succeeds.
                self.route([{"retries": {"attempts": 3, "retryOn": "unavailable"},
                             "route": [self.to("flaky")]}])
                before = flaky.attempts
                lines = self.calls(client, 5, prefix=client.name + "-retry")
                self.assertEqual(set(self.servers(lines)), {"flaky"}, lines)
                self.assertEqual(flaky.attempts - before, 10)
        self.assert_nothing_rejected()

    def test_running_client_follows_virtual_service_changes(self):
        for client in clients():
            with self.subTest(client=client.name):
                self.route([{"route": [self.to("v1")]}])
                p = subprocess.Popen(client.argv(2000, interval_ms=20), stdout=subprocess.PIPE,
                                     text=True, env=self.env())
                self.running.append(p)
                lines = queue.Queue()
                threading.Thread(target=lambda: [lines.put(json.loads(line))
                                                 for line in p.stdout], daemon=True).start()

                def next_server():
                    line = lines.get(timeout=15)
                    return line.get("server") if line["code"] == OK else line["status"]

                self.assertEqual({next_server() for _ in range(10)}, {"v1"})
                self.route([{"route": [self.to("v2")]}])
                deadline = time.monotonic() + 15
                seen = []
                while not seen or seen[-1] != "v2":
                    self.assertLess(time.monotonic(), deadline, "never moved to v2: %s" % seen)
                    seen.append(next_server())
                self.assertEqual(set(seen), {"v1", "v2"}, seen)  # no failed call in between
                self.assertEqual({next_server() for _ in range(10)}, {"v2"})
                p.kill()
                p.wait(10)
                p.stdout.close()
        self.assert_nothing_rejected()


if __name__ == "__main__":
    unittest.main()
