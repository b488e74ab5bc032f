"""weftd's resource API end to end: a real weftd process on loopback, driven over HTTP/1.1 with
Python's http.client — every verb, Kubernetes Status errors (404, 405, 409, 422 with field
paths), watches from a resourceVersion, and durability across kill -9. weftctl over Istio's
own samples is weftctl_test.py."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness

WEFTD = os.path.join(harness.BUILD, "bin", "weftd")
# Shared with weftctl_test.py.
WEFTCTL = os.path.join(harness.BUILD, "bin", "weftctl")
SAMPLES = os.path.join(harness.SHARED, "conformance", "istio-samples")
GROUP = "/apis/networking.istio.io"


class Weftd:
    """A weftd on an ephemeral loopback port with its own data directory (kept across
    restarts, removed by cleanup)."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.host = self.port = None

    def start(self):
        addr_file = os.path.join(self.data_dir, "api.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        self.log = open(os.path.join(self.data_dir, "weftd.log"), "ab")
        self.proc = subprocess.Popen(
            [WEFTD, "--data-dir", os.path.join(self.data_dir, "store"), "--api-addr",
             "127.0.0.1:0", "--api-address-path", addr_file, *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(addr_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("weftd did not start")
            time.sleep(0.02)
        with open(addr_file) as f:
            self.host, port = f.read().strip().rsplit(":", 1)
        self.port = int(port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None
        if not self.log.closed:
            self.log.close()

    def request(self, method, path, body=None, timeout=10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = json.dumps(body) if isinstance(body, (dict, list)) else body
            conn.request(method, path, body=data,
                         headers={"content-type": "application/json"} if data else {})
            resp = conn.getresponse()
            text = resp.read()
            return resp.status, json.loads(text) if text else None
        finally:
            conn.close()


def collection(plural, ns="default", version="v1"):
    return f"{GROUP}/{version}/namespaces/{ns}/{plural}"


def virtual_service(name, host="reviews", weight_split=None, rv=None):
    route = [{"destination": {"host": host, "subset": "v1"}}]
    if weight_split:
        route = [{"destination": {"host": host, "subset": f"v{i + 1}"}, "weight": w}
                 for i, w in enumerate(weight_split)]
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": name}, "spec": {"hosts": [host], "http": [{"route": route}]}}
    if rv is not None:
        obj["metadata"]["resourceVersion"] = rv
    return obj


class WeftdTestBase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weftd-test-")
        self.weftd = Weftd(self.dir)
        self.weftd.start()

    def tearDown(self):
        self.weftd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class WeftdApiTest(WeftdTestBase):
    def test_every_verb(self):
        vs = collection("virtualservices")
        status, created = self.weftd.request("POST", vs, virtual_service("reviews"))
        self.assertEqual(status, 201, created)
        meta = created["metadata"]
        self.assertEqual(meta["namespace"], "default")
        self.assertEqual(meta["generation"], 1)
        self.assertRegex(meta["uid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-")
        self.assertRegex(meta["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        rv = meta["resourceVersion"]

        status, got = self.weftd.request("GET", vs + "/reviews")
        self.assertEqual((status, got["spec"]), (200, created["spec"]))
        # Every served version shows the same object, in that version.
        status, got = self.weftd.request("GET", collection("virtualservices", version="v1alpha3")
                                         + "/reviews")
        self.assertEqual((status, got["apiVersion"]), (200, "networking.istio.io/v1alpha3"))

        status, listed = self.weftd.request("GET", vs)
        self.assertEqual(status, 200)
        self.assertEqual(listed["kind"], "VirtualServiceList")
        self.assertEqual([i["metadata"]["name"] for i in listed["items"]], ["reviews"])
        status, listed = self.weftd.request("GET", f"{GROUP}/v1/virtualservices")
        self.assertEqual(len(listed["items"]), 1)
        status, listed = self.weftd.request("GET", collection("virtualservices", ns="other"))
        self.assertEqual(listed["items"], [])

        # A metadata-only change keeps the generation; a spec change bumps it.
        changed = virtual_service("reviews", rv=rv)
        changed["metadata"]["labels"] = {"team": "a"}
        status, updated = self.weftd.request("PUT", vs + "/reviews", changed)
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["metadata"]["generation"], 1)
        self.assertEqual(updated["metadata"]["uid"], meta["uid"])
        self.assertGreater(int(updated["metadata"]["resourceVersion"]), int(rv))
        status, updated = self.weftd.request(
            "PUT", vs + "/reviews", virtual_service("reviews", weight_split=[50, 50]))
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["metadata"]["generation"], 2)
        self.assertEqual(updated["metadata"]["creationTimestamp"], meta["creationTimestamp"])

        status, deleted = self.weftd.request("DELETE", vs + "/reviews")
        self.assertEqual((status, deleted["metadata"]["name"]), (200, "reviews"))
        status, err = self.weftd.request("GET", vs + "/reviews")
        self.assertEqual((status, err["kind"], err["reason"]), (404, "Status", "NotFound"))
        self.assertEqual(err["message"], 'virtualservices.networking.istio.io "reviews" not found')
        status, err = self.weftd.request("DELETE", vs + "/reviews")
        self.assertEqual(status, 404)

    def test_conflicts(self):
        vs = collection("virtualservices")
        status, created = self.weftd.request("POST", vs, virtual_service("reviews"))
        self.assertEqual(status, 201)
        status, err = self.weftd.request("POST", vs, virtual_service("reviews"))
        self.assertEqual((status, err["reason"], err["code"]), (409, "AlreadyExists", 409))
        rv = created["metadata"]["resourceVersion"]
        status, _ = self.weftd.request("PUT", vs + "/reviews",
                                       virtual_service("reviews", weight_split=[80, 20], rv=rv))
        self.assertEqual(status, 200)
        # A second writer still holding the first resourceVersion loses, and nothing changes.
        status, err = self.weftd.request("PUT", vs + "/reviews",
                                         virtual_service("reviews", weight_split=[20, 80], rv=rv))
        self.assertEqual((status, err["reason"]), (409, "Conflict"), err)
        self.assertIn("the object has been modified", err["message"])
        status, err = self.weftd.request("DELETE", vs + "/reviews",
                                         {"preconditions": {"resourceVersion": rv}})
        self.assertEqual((status, err["reason"]), (409, "Conflict"))
        _, got = self.weftd.request("GET", vs + "/reviews")
        self.assertEqual(got["spec"]["http"][0]["route"][0]["weight"], 80)

    def test_invalid_objects_get_422_with_every_field_path(self):
        vs = collection("virtualservices")
        bad = virtual_service("reviews", weight_split=[80, 30])
        bad["spec"]["http"][0]["timeout"] = "abc"
        bad["spec"]["http"][0]["retries"] = {"attempts": -1}
        bad["spec"]["http"][0]["match"] = [{"uri": {"regex": "(unclosed"}}]
        bad["spec"]["gatways"] = ["x"]
        status, err = self.weftd.request("POST", vs, bad)
        self.assertEqual((status, err["reason"]), (422, "Invalid"), err)
        fields = sorted(c["field"] for c in err["details"]["causes"])
        self.assertEqual(fields, ["spec.gatways", "spec.http[0].match[0].uri.regex",
                                  "spec.http[0].retries.attempts", "spec.http[0].route",
                                  "spec.http[0].timeout"])
        self.assertTrue(err["message"].startswith(
            'VirtualService.networking.istio.io "reviews" is invalid: ['), err["message"])
        # Nothing was stored.
        self.assertEqual(self.weftd.request("GET", vs)[1]["items"], [])

        dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
              "metadata": {"name": "reviews"},
              "spec": {"host": "reviews", "subsets": [{"name": "v1"}, {"name": "v1"}]}}
        status, err = self.weftd.request("POST", collection("destinationrules"), dr)
        self.assertEqual(status, 422)
        self.assertEqual([(c["field"], c["reason"]) for c in err["details"]["causes"]],
                         [("spec.subsets[1].name", "FieldValueDuplicate")])

    def test_bad_requests_and_methods(self):
        vs = collection("virtualservices")
        status, err = self.weftd.request("POST", vs, "{not json")
        self.assertEqual((status, err["reason"]), (400, "BadRequest"))
        status, err = self.weftd.request("POST", collection("destinationrules"),
                                         virtual_service("x"))
        self.assertEqual(status, 400)
        self.assertIn("does not match the expected kind", err["message"])
        other_ns = virtual_service("x")
        other_ns["metadata"]["namespace"] = "other"
        self.assertEqual(self.weftd.request("POST", vs, other_ns)[0], 400)
        self.weftd.request("POST", vs, virtual_service("x"))
        self.assertEqual(self.weftd.request("PUT", vs + "/y", virtual_service("x"))[0], 400)
        for method, path in [("PATCH", vs + "/x"), ("POST", vs + "/x"), ("DELETE", vs),
                             ("PUT", vs)]:
            status, err = self.weftd.request(method, path, virtual_service("x"))
            self.assertEqual((status, err["reason"]), (405, "MethodNotAllowed"), (method, path))
        for path in [f"{GROUP}/v2/namespaces/default/virtualservices",
                     f"{GROUP}/v1/namespaces/default/ingresses", "/apis/apps/v1/deployments"]:
            self.assertEqual(self.weftd.request("GET", path)[0], 404, path)

    def test_watch_from_a_resource_version_sees_later_changes_in_order(self):
        vs = collection("virtualservices")
        _, first = self.weftd.request("POST", vs, virtual_service("a"))
        start_rv = first["metadata"]["resourceVersion"]
        self.weftd.request("POST", vs, virtual_service("b"))
        self.weftd.request("POST", collection("virtualservices", ns="other"),
                           virtual_service("c"))
        conn = http.client.HTTPConnection(self.weftd.host, self.weftd.port, timeout=10)
        conn.request("GET", f"{vs}?watch=true&resourceVersion={start_rv}")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("transfer-encoding"), "chunked")
        # Changes made while the watch is open, from another connection.
        self.weftd.request("PUT", vs + "/a", virtual_service("a", weight_split=[50, 50]))
        self.weftd.request("DELETE", vs + "/b")
        self.weftd.request("POST", vs, virtual_service("d"))
        events = []
        while len(events) < 4:
            line = resp.fp.readline()  # chunk size
            size = int(line.strip(), 16)
            self.assertGreater(size, 0)
            chunk = resp.fp.read(size)
            resp.fp.readline()
            for text in chunk.decode().splitlines():
                event = json.loads(text)
                events.append((event["type"], event["object"]["metadata"]["name"],
                               int(event["object"]["metadata"]["resourceVersion"])))
        conn.close()
        self.assertEqual([e[:2] for e in events],
                         [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "d")])
        revisions = [e[2] for e in events]
        self.assertEqual(revisions, sorted(revisions))
        self.assertGreater(revisions[0], int(start_rv))
        # The server noticed the client leaving: further writes still work, and a new watch
        # without a resourceVersion starts with the current objects.
        self.assertEqual(self.weftd.request("POST", vs, virtual_service("e"))[0], 201)
        conn = http.client.HTTPConnection(self.weftd.host, self.weftd.port, timeout=10)
        conn.request("GET", f"{vs}?watch=1")
        resp = conn.getresponse()
        names = set()
        while len(names) < 3:
            size = int(resp.fp.readline().strip(), 16)
            for text in resp.fp.read(size).decode().splitlines():
                event = json.loads(text)
                self.assertEqual(event["type"], "ADDED")
                names.add(event["object"]["metadata"]["name"])
            resp.fp.readline()
        conn.close()
        self.assertEqual(names, {"a", "d", "e"})


class WeftdDurabilityTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="weftd-durability-")
        self.weftd = Weftd(self.dir)
        self.weftd.start()

    def tearDown(self):
        self.weftd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_every_acknowledged_write_survives_kill_9(self):
        acknowledged, stop = [], threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                name = f"vs-{i}"
                try:
                    status, body = self.weftd.request(
                        "POST", collection("virtualservices"), virtual_service(name), timeout=5)
                except (OSError, http.client.HTTPException):
                    return  # weftd is gone
                if status == 201:
                    acknowledged.append((name, body["metadata"]["resourceVersion"]))
                i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.time() + 10
        while len(acknowledged) < 50 and time.time() < deadline:
            time.sleep(0.05)
        self.weftd.proc.kill()  # SIGKILL, mid-stream
        self.weftd.proc.wait(timeout=10)
        self.weftd.log.close()
        stop.set()
        thread.join(timeout=10)
        self.assertGreaterEqual(len(acknowledged), 50)

        self.weftd.start()
        status, listed = self.weftd.request("GET", collection("virtualservices"))
        self.assertEqual(status, 200)
        stored = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in listed["items"]}
        for name, rv in acknowledged:
            self.assertEqual(stored.get(name), rv, f"acknowledged {name} at {rv} was lost")
        # At most the one write in flight at the kill is there without an acknowledgement.
        self.assertLessEqual(len(stored) - len(acknowledged), 1)
        # The revision carries on after the last durable write.
        _, created = self.weftd.request("POST", collection("virtualservices"),
                                        virtual_service("after-restart"))
        self.assertGreater(int(created["metadata"]["resourceVersion"]),
                           max(int(rv) for rv in stored.values()))


if __name__ == "__main__":
    unittest.main()
