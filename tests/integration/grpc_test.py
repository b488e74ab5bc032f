"""gRPC through weft-proxy, HTTP/2 to HTTP/2: a real Python gRPC server and client (Debian's
python3-grpcio) with generic handlers and identity serializers (no protoc). Unary, server-,
client- and bidi-streaming calls, errors carried in trailers, and trailers-only responses."""
import os
import sys
import tempfile
import shutil
import time
import unittest
from concurrent import futures

try:
    import grpc
except ImportError:  # python3-grpcio is Debian's: visible to /usr/bin/python3, maybe not to ours
    sys.path.append("/usr/lib/python3/dist-packages")
    import grpc

from harness import Proxy, free_port
from proxy_http2_test import bootstrap, h2_cluster

SERVICE = "weft.test.Echo"
BIG = 3 * 1024 * 1024  # under gRPC's default 4 MiB message limit, many HTTP/2 frames


def _echo(request, context):
    context.set_trailing_metadata((("x-served-by", "python-grpc"),))
    return request + b"!"


def _split(request, context):
    for i in range(5):
        yield request + str(i).encode()


def _concat(request_iterator, context):
    return b"|".join(request_iterator)


def _chat(request_iterator, context):
    for message in request_iterator:
        yield message.upper()


def _unavailable(request, context):
    # No message before the error: gRPC answers with a trailers-only response (one HEADERS frame
    # with END_STREAM carrying grpc-status and grpc-message).
    context.abort(grpc.StatusCode.UNAVAILABLE, "backend is resting")


def _fail_after_one(request, context):
    yield b"first"
    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota gone")


def _big(request, context):
    return request[::-1]


def start_grpc_server():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Split": grpc.unary_stream_rpc_method_handler(_split),
        "Concat": grpc.stream_unary_rpc_method_handler(_concat),
        "Chat": grpc.stream_stream_rpc_method_handler(_chat),
        "Unavailable": grpc.unary_unary_rpc_method_handler(_unavailable),
        "FailAfterOne": grpc.unary_stream_rpc_method_handler(_fail_after_one),
        "Big": grpc.unary_unary_rpc_method_handler(_big),
    }
    # No serializers: messages are the raw bytes.
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


class GrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weft-grpc-")
        cls.server, cls.upstream_port = start_grpc_server()
        cls.port = free_port()
        cls.access_log = os.path.join(cls.tmp, "access.log")
        # Envoy's gRPC examples still use the deprecated cluster-level http2_protocol_options.
        cls.proxy = Proxy(bootstrap(cls.port, cls.access_log, [("/", "grpc_backend")],
                                    [h2_cluster("grpc_backend", cls.upstream_port,
                                                style="legacy")]),
                          concurrency=2)
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.port}")
        grpc.channel_ready_future(cls.channel).result(timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.proxy.stop()
        cls.server.stop(grace=None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def method(self, kind, name):
        return getattr(self.channel, kind)(f"/{SERVICE}/{name}")

    def test_unary_with_trailing_metadata(self):
        response, call = self.method("unary_unary", "Echo").with_call(b"hello", timeout=10)
        self.assertEqual(response, b"hello!")
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        self.assertIn(("x-served-by", "python-grpc"), tuple(call.trailing_metadata()))

    def test_server_streaming(self):
        replies = list(self.method("unary_stream", "Split")(b"part", timeout=10))
        self.assertEqual(replies, [b"part0", b"part1", b"part2", b"part3", b"part4"])

    def test_client_streaming(self):
        reply = self.method("stream_unary", "Concat")(iter([b"a", b"b", b"c"]), timeout=10)
        self.assertEqual(reply, b"a|b|c")

    def test_bidi_streaming(self):
        replies = list(self.method("stream_stream", "Chat")(iter([b"x", b"yz", b"w"] * 20),
                                                           timeout=10))
        self.assertEqual(replies, [b"X", b"YZ", b"W"] * 20)

    def test_error_status_and_message_pass_through_trailers_only(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.method("unary_unary", "Unavailable")(b"x", timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(caught.exception.details(), "backend is resting")

    def test_error_after_messages_in_trailers(self):
        call = self.method("unary_stream", "FailAfterOne")(b"x", timeout=10)
        received = []
        with self.assertRaises(grpc.RpcError) as caught:
            for message in call:
                received.append(message)
        self.assertEqual(received, [b"first"])
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(caught.exception.details(), "quota gone")

    def test_large_messages_both_ways(self):
        payload = bytes(range(256)) * (BIG // 256)
        reply = self.method("unary_unary", "Big")(payload, timeout=30)
        self.assertEqual(reply, payload[::-1])

    def test_many_concurrent_calls_share_upstream_connections(self):
        calls = [self.method("unary_unary", "Echo").future(str(i).encode(), timeout=20)
                 for i in range(200)]
        self.assertEqual([c.result() for c in calls], [f"{i}!".encode() for i in range(200)])
        # Two workers, each with its own pool: HTTP/2 multiplexes, so very few connections.
        status, body = self.proxy.admin_get("/stats")
        opened = [int(line.split(": ")[1]) for line in body.splitlines()
                  if line.startswith("cluster.grpc_backend.upstream_cx_http2_total:")]
        self.assertEqual(len(opened), 1)
        self.assertLessEqual(opened[0], 4)
        deadline = time.time() + 5
        while time.time() < deadline:
            with open(self.access_log) as f:
                log = f.read()
            if log.count("HTTP/2 POST /weft.test.Echo/Echo 200") >= 200:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(log.count("HTTP/2 POST /weft.test.Echo/Echo 200"), 200)


if __name__ == "__main__":
    unittest.main()
