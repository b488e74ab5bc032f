"""samples/bookinfo without a mesh: the four services on loopback, pointed at each other (or at
test doubles) with DETAILS_URL / REVIEWS_URL / RATINGS_URL, checked for what Istio's Bookinfo
tasks rely on: which reviews version answered and in which star colour, the end-user and tracing
headers forwarded on every hop (never the cookie), and productpage's and reviews' own timeouts and
error messages."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

from harness import ROOT, Upstream, free_port

SAMPLES = os.path.join(ROOT, "samples", "bookinfo")
TRACE_HEADERS = {
    "x-request-id": "7d6b1d5e-0f0e-4b8e-9e53-6f7d6c1a2b3c",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "tracestate": "weft=1",
    "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
    "x-b3-spanid": "e457b5a2e4d86bd1",
    "x-b3-sampled": "1",
    "b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
    "user-agent": "bookinfo-test/1.0",
}


class Service:
    """One sample service as its own process on 127.0.0.1:<free port>."""

    def __init__(self, name, **env):
        self.port = free_port()
        self.log = open(os.devnull, "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(SAMPLES, name + ".py"),
             "--listen", "127.0.0.1:%d" % self.port],
            env=dict(os.environ, **env), stdout=self.log, stderr=self.log)
        self.url = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if get(self.port, "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(name + " did not come up")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def get(port, path, headers=None, method="GET", body=None, timeout=20):
    """(status, headers, body text) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


class Silent:
    """A TCP listener that accepts connections and never answers; counts them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        for c in self.accepted:
            c.close()
        self.sock.close()


class BookinfoSampleTest(unittest.TestCase):
    def setUp(self):
        self.services = []
        self.addCleanup(lambda: [s.stop() for s in self.services])

    def start(self, name, **env):
        service = Service(name, **env)
        self.services.append(service)
        return service

    def bookinfo(self, reviews_version):
        """The whole app: productpage -> details, reviews (vN) -> ratings."""
        ratings = self.start("ratings")
        details = self.start("details")
        reviews = self.start("reviews", SERVICE_VERSION=reviews_version, RATINGS_URL=ratings.url)
        return self.start("productpage", DETAILS_URL=details.url, REVIEWS_URL=reviews.url,
                          RATINGS_URL=ratings.url)

    def test_each_service_answers_health_and_json(self):
        ratings = self.start("ratings")
        details = self.start("details")
        for service in (ratings, details):
            status, _, body = get(service.port, "/health")
            self.assertEqual(status, 200, body)
        status, _, body = get(ratings.port, "/ratings/0")
        self.assertEqual((status, json.loads(body)),
                         (200, {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}))
        status, _, body = get(details.port, "/details/0")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["author"], "William Shakespeare")
        self.assertEqual(get(details.port, "/nope")[0], 404)
        faulty = self.start("ratings", SERVICE_VERSION="v-faulty")
        self.assertEqual(get(faulty.port, "/ratings/0")[0], 503)
        self.assertEqual(get(faulty.port, "/health")[0], 200)

    def test_reviews_versions_and_star_colours(self):
        for version, color in (("v1", None), ("v2", "black"), ("v3", "red")):
            page = self.bookinfo(version)
            status, _, body = get(page.port, "/productpage")
            self.assertEqual(status, 200)
            self.assertIn("The Comedy of Errors", body)
            self.assertIn("William Shakespeare", body)
            self.assertIn('data-reviews-version="%s"' % version, body)
            self.assertIn("Reviews served by: <b>reviews-%s@" % version, body)
            if color:
                self.assertIn('data-stars="5" style="color: %s"' % color, body)
                self.assertIn('data-stars="4" style="color: %s"' % color, body)
            else:
                self.assertNotIn("data-stars", body)
            status, _, body = get(page.port, "/api/v1/products/0/reviews")
            reviews = json.loads(body)
            self.assertEqual((status, reviews["version"]), (200, version))
            status, _, body = get(page.port, "/api/v1/products/0")
            self.assertEqual((status, json.loads(body)["ISBN-10"]), (200, "1234567890"))
            status, _, body = get(page.port, "/api/v1/products/0/ratings")
            self.assertEqual((status, json.loads(body)["ratings"]["Reviewer1"]), (200, 5))
            self.assertEqual(json.loads(get(page.port, "/api/v1/products")[2])[0]["id"], 0)

    def test_user_and_trace_headers_are_forwarded_but_not_the_cookie(self):
        reviews_double = Upstream("reviews-double")
        ratings_double = Upstream("ratings-double")
        self.addCleanup(reviews_double.stop)
        self.addCleanup(ratings_double.stop)
        details = self.start("details")
        page = self.start("productpage", DETAILS_URL=details.url,
                          REVIEWS_URL="http://127.0.0.1:%d" % reviews_double.port)
        # Log in as jason: the cookie becomes end-user on the reviews call.
        status, headers, _ = get(page.port, "/login", method="POST", body="user=jason&passwd=x",
                                 headers={"content-type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 302)
        cookie = headers["set-cookie"].split(";")[0]
        self.assertEqual(cookie, "session=jason")
        status, _, body = get(page.port, "/productpage", headers={"cookie": cookie,
                                                                  **TRACE_HEADERS})
        self.assertEqual(status, 200)
        self.assertIn("signed in as <b>jason</b>", body)
        _, path, seen, _ = reviews_double.seen[-1]
        self.assertEqual(path, "/reviews/0")
        self.assertEqual(seen["end-user"], "jason")
        for name, value in TRACE_HEADERS.items():
            self.assertEqual(seen.get(name), value, name)
        self.assertNotIn("cookie", seen)
        # ?u= works too, and logout clears the session.
        get(page.port, "/productpage?u=alice")
        self.assertEqual(reviews_double.seen[-1][2]["end-user"], "alice")
        status, headers, _ = get(page.port, "/logout", headers={"cookie": cookie})
        self.assertEqual(status, 302)
        self.assertIn("Max-Age=0", headers["set-cookie"])
        get(page.port, "/productpage")
        self.assertNotIn("end-user", reviews_double.seen[-1][2])

        # reviews v2 forwards the same headers to ratings (which the double answers without
        # ratings: the reviews then carry no stars, and no error either).
        reviews = self.start("reviews", SERVICE_VERSION="v2",
                             RATINGS_URL="http://127.0.0.1:%d" % ratings_double.port)
        status, _, _ = get(reviews.port, "/reviews/0", headers={"end-user": "jason",
                                                                "cookie": "session=jason",
                                                                **TRACE_HEADERS})
        self.assertEqual(status, 200)
        _, path, seen, _ = ratings_double.seen[-1]
        self.assertEqual(path, "/ratings/0")
        self.assertEqual(seen["end-user"], "jason")
        for name, value in TRACE_HEADERS.items():
            self.assertEqual(seen.get(name), value, name)
        self.assertNotIn("cookie", seen)

    def test_ratings_unavailable(self):
        # Nothing listens on RATINGS_URL, then ratings answers 500 (Istio's abort sample).
        for ratings_url in ("http://127.0.0.1:%d" % free_port(), None):
            if ratings_url is None:
                failing = Upstream("ratings-500")
                failing.set_fixed_status(500)
                self.addCleanup(failing.stop)
                ratings_url = "http://127.0.0.1:%d" % failing.port
            reviews = self.start("reviews", SERVICE_VERSION="v2", RATINGS_URL=ratings_url)
            status, headers, body = get(reviews.port, "/reviews/0")
            self.assertEqual((status, headers["x-reviews-version"]), (200, "v2"))
            for review in json.loads(body)["reviews"]:
                self.assertEqual(review["rating"], {"error": "Ratings service is currently "
                                                             "unavailable"})
            page = self.start("productpage", DETAILS_URL="http://127.0.0.1:%d" % free_port(),
                              REVIEWS_URL=reviews.url)
            _, _, body = get(page.port, "/productpage")
            self.assertIn("Ratings service is currently unavailable", body)
            self.assertIn("Sorry, product details are currently unavailable for this book.", body)

    def test_productpage_gives_up_on_reviews_after_two_3s_attempts(self):
        silent = Silent()
        self.addCleanup(silent.close)
        details = self.start("details")
        page = self.start("productpage", DETAILS_URL=details.url,
                          REVIEWS_URL="http://127.0.0.1:%d" % silent.port)
        start = time.monotonic()
        status, _, body = get(page.port, "/productpage")
        elapsed = time.monotonic() - start
        self.assertEqual(status, 200)
        self.assertIn("Sorry, product reviews are currently unavailable for this book.", body)
        self.assertEqual(len(silent.accepted), 2)  # one retry
        self.assertGreaterEqual(elapsed, 5.9)
        self.assertLess(elapsed, 15)
        status, _, body = get(page.port, "/api/v1/products/0/reviews")
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(body)["error"],
                         "Sorry, product reviews are currently unavailable for this book.")

    def test_keep_alive(self):
        details = self.start("details")
        conn = http.client.HTTPConnection("127.0.0.1", details.port, timeout=5)
        self.addCleanup(conn.close)
        for _ in range(3):
            conn.request("GET", "/details/0")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            resp.read()
            self.assertFalse(resp.will_close)


if __name__ == "__main__":
    unittest.main()
