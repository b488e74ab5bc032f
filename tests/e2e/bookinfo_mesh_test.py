"""Bookinfo in a real mesh on this host, end to end: `weftctl install` starts weftd, `weftctl
add-to-mesh` puts each sample service (samples/bookinfo) in its own network namespace with a
capturing sidecar, and Istio's own Bookinfo files (../shared/conformance/istio-samples) are
applied UNCHANGED. The test drives traffic the way a user does (curl from the host to
productpage's address, or `weftctl exec` inside a workload) and checks it follows each file.

Each test class is one feature and builds its own mesh: its own WEFT_HOME (a temporary dir), bridge
and 10.2xx.0.0/16 subnet (unique to the run and the class), weftd on free ports; it removes all of
it at the end, failed or not, and then checks by name that no namespace, link, rule or process of
its own is left. On a failure the tails of weftd.log, each workload's proxy.log and app.log and
`weftctl proxy-status` are printed.

Root only (network namespaces, veths, iptables): skipped with the reason otherwise.
Set WEFT_KEEP=1 to keep the WEFT_HOME of a run (its logs) for a post-mortem.
"""
import http.client
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402  (the integration tests' helpers: BUILD, SHARED, EchoServer)

WEFTCTL = os.path.join(harness.BUILD, "bin", "weftctl")
ISTIO_SAMPLES = os.path.join(harness.SHARED, "conformance", "istio-samples")
BOOKINFO = os.path.join(harness.ROOT, "samples", "bookinfo")
LOAD = os.path.join(HERE, "load.py")
RUN = os.getpid()
PORT = 9080  # Bookinfo's port for every service
PYTHON = sys.executable

REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
DETAILS_UNAVAILABLE = "Sorry, product details are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"


def _missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces, veths, iptables); run as root or see the " \
               "no-capture mode in docs/user-guide/bookinfo.md"
    for tool in ("ip", "iptables", "curl"):
        if not shutil.which(tool):
            return "needs " + tool
    if not os.path.exists(WEFTCTL):
        return "weftctl not built: " + WEFTCTL
    return None


MISSING = _missing()


def wait_for(predicate, timeout=30, what="condition"):
    """predicate's first truthy value within `timeout` seconds, else an AssertionError that says
    what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(0.25)


def tail(path, lines=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(%s)\n" % e


def pid_of(workload, role):
    """The pid of a workload's supervisor, proxy or app from its workload.json (contract: "pids of
    supervisor/proxy/app"; either {"pids": {"app": N}} or "app_pid": N), 0 when absent."""
    pids = workload.get("pids")
    value = pids.get(role) if isinstance(pids, dict) else workload.get(role + "_pid")
    return int(value or 0)


def _used_subnet_octets():
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    return {int(m) for m in re.findall(r"\b10\.(\d+)\.", out)}


class Mesh:
    """One mesh for one test class: WEFT_HOME, bridge, subnet, the weftd(s) `weftctl install`
    started and the workloads `weftctl add-to-mesh` added, all named after this run."""

    _count = 0

    def __init__(self, tag):
        Mesh._count += 1
        self.tag = tag
        self.home = tempfile.mkdtemp(prefix="weft-e2e-%s-" % tag)
        self.bridge = "wb%d%d" % (RUN % 100000, Mesh._count)  # <= 15 characters
        self.suffix = "-%d-%d" % (RUN, Mesh._count)  # of workload names (netns weft-<name>)
        used = _used_subnet_octets()
        octet = next(o for o in [200 + (RUN + Mesh._count * 7 + i) % 50 for i in range(50)]
                     if o not in used and o != 250)  # 10.250/16 is the default (make demo's)
        self.subnet = "10.%d.0.0/16" % octet
        self.gateway = "10.%d.0.1" % octet
        self.workloads = []  # names added (removed at the end)
        self.revisions = set()

    # ---- weftctl ----

    def env(self):
        env = dict(os.environ, WEFT_HOME=self.home)
        env.pop("WEFT_SERVER", None)
        return env

    def weftctl(self, *args, check=True, timeout=90, stdin=None):
        # stdin is never the terminal: install/upgrade would ask "Proceed?" on one.
        p = subprocess.run([WEFTCTL, *args], input=stdin or "", capture_output=True, text=True,
                           env=self.env(), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("weftctl %s: exit %d\n%s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def values(self, *extra_sets):
        """--set flags for this run: free ports (a later install with the same values keeps the
        ports weftd took the first time: the sidecars' bootstraps name the xDS port), this
        class's bridge and subnet."""
        sets = ["apiAddress=127.0.0.1:0", "xdsAddress=0.0.0.0:0", "network.bridge=" + self.bridge,
                "network.subnet=" + self.subnet, *extra_sets]
        return [a for s in sets for a in ("--set", s)]

    def install(self, *extra_sets, revision=None):
        args = ["install", "-y", *self.values(*extra_sets)]
        if revision:
            args += ["--revision", revision]
        self.revisions.add(revision or "default")
        return self.weftctl(*args, timeout=120).stdout

    def install_record(self, revision=None):
        path = os.path.join(self.home, "control-planes", revision or "default", "install.json")
        with open(path) as f:
            return json.load(f)

    def weftd_pid(self, revision=None):
        return int(self.install_record(revision)["pid"])

    def add(self, name, service, version, script, *env, check=True):
        """add-to-mesh NAME running samples/bookinfo/<script>.py with env K=V settings."""
        name += self.suffix
        if name not in self.workloads:
            self.workloads.append(name)
        p = self.weftctl("add-to-mesh", name, "--service", service, "--port", str(PORT),
                         "--label", "version=" + version, "--",
                         "env", "PYTHONUNBUFFERED=1", *env, PYTHON,
                         os.path.join(BOOKINFO, script + ".py"), check=check, timeout=120)
        return name, p

    def add_bookinfo(self, reviews=("v1", "v2", "v3"), extra=()):
        """Bookinfo's six workloads (Istio's labels: app=<service>, version=v1|v2|v3)."""
        names = {}
        for key, service, version, script, env in (
                ("productpage", "productpage", "v1", "productpage", ()),
                ("details", "details", "v1", "details", ()),
                ("ratings", "ratings", "v1", "ratings", ()),
                *[("reviews-" + v, "reviews", v, "reviews", ("SERVICE_VERSION=" + v,))
                  for v in reviews],
                *extra):
            names[key], _ = self.add(key, service, version, script, *env)
        return names

    def workload(self, name):
        with open(os.path.join(self.home, "workloads", name, "workload.json")) as f:
            return json.load(f)

    def ip(self, name):
        return self.workload(name)["ip"]

    def exec(self, name, *cmd, timeout=60):
        return subprocess.run([WEFTCTL, "exec", name, "--", *cmd], capture_output=True,
                              text=True, env=self.env(), timeout=timeout)

    def admin(self, name, path):
        """GET on the sidecar's admin endpoint (127.0.0.1:15000 inside the workload)."""
        p = self.exec(name, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:15000" + path)
        return p.stdout

    def stat(self, name, pattern):
        """Sum of the sidecar's counters whose name matches `pattern` (a regex)."""
        total = 0
        for line in self.admin(name, "/stats").splitlines():
            key, _, value = line.partition(": ")
            if re.search(pattern, key) and value.strip().isdigit():
                total += int(value)
        return total

    def apply(self, *files, revision=None):
        """weftctl apply -f on each of Istio's files, in order."""
        extra = ["--revision", revision] if revision else []
        return "".join(self.weftctl("apply", *extra, "-f", os.path.join(ISTIO_SAMPLES, f)).stdout
                       for f in files)

    def apply_text(self, text):
        return self.weftctl("apply", "-f", "-", stdin=text).stdout

    def proxy_status(self, revision=None):
        extra = ["--revision", revision] if revision else []
        return self.weftctl("proxy-status", *extra, check=False, timeout=20).stdout

    # ---- what a user sees ----

    def page(self, name, path="/productpage", user=None, timeout=20):
        """(status, body) of a GET from the host to the productpage workload's address."""
        if user:
            path += ("&" if "?" in path else "?") + "u=" + user
        conn = http.client.HTTPConnection(self.ip(name), PORT, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        except OSError as e:
            return None, str(e)
        finally:
            conn.close()

    def reviews_version(self, name, user=None):
        """The reviews version behind productpage's /api/v1/products/0/reviews (None: failed)."""
        status, body = self.page(name, "/api/v1/products/0/reviews", user)
        if status != 200:
            return None
        try:
            return json.loads(body).get("version")
        except ValueError:
            return None

    def tally(self, name, n, user=None):
        counts = {}
        for _ in range(n):
            v = self.reviews_version(name, user)
            counts[v] = counts.get(v, 0) + 1
        return counts

    # ---- debugging and cleanup ----

    def diagnostics(self):
        out = ["==== mesh %s: WEFT_HOME %s, bridge %s, subnet %s" % (
            self.tag, self.home, self.bridge, self.subnet)]
        planes = os.path.join(self.home, "control-planes")
        for revision in sorted(os.listdir(planes)) if os.path.isdir(planes) else []:
            out.append("---- weftd.log (%s), last lines\n%s" % (
                revision, tail(os.path.join(planes, revision, "weftd.log"), 40)))
        for name in self.workloads:
            d = os.path.join(self.home, "workloads", name)
            if not os.path.isdir(d):
                out.append("---- %s: no workload directory" % name)
                continue
            for log in ("proxy.log", "app.log"):
                out.append("---- %s/%s, last lines\n%s" % (name, log,
                                                           tail(os.path.join(d, log))))
        commands = [["workloads"]] + [["proxy-status", "--revision", r]
                                      for r in sorted(self.revisions)]
        for args in commands:
            try:
                p = subprocess.run([WEFTCTL, *args], capture_output=True, text=True,
                                   env=self.env(), timeout=20)
                out.append("---- weftctl %s\n%s%s" % (" ".join(args), p.stdout, p.stderr))
            except subprocess.TimeoutExpired:
                out.append("---- weftctl %s: timed out" % " ".join(args))
        return "\n".join(out)

    def leftovers(self, workloads_only=False):
        """What of this mesh still exists on the host: namespaces, links, rules, processes.
        workloads_only: only what belongs to workloads (not the bridge, its rules, weftd)."""
        found = []
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                               text=True).stdout
        for name in self.workloads:
            if re.search(r"^weft-%s(\s|$)" % re.escape(name), netns, re.M):
                found.append("netns weft-" + name)
            if os.path.exists("/etc/netns/weft-" + name):
                found.append("/etc/netns/weft-" + name)
        if workloads_only:
            pass
        elif re.search(r"^\d+: %s[:@]" % re.escape(self.bridge), links, re.M):
            found.append("bridge " + self.bridge)
        for line in links.splitlines():
            if "master %s " % self.bridge in line:
                found.append("link " + line.split(":")[1].strip())
        for table in () if workloads_only else ("filter", "nat"):
            rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True,
                                   text=True).stdout
            for rule in rules.splitlines():
                if re.search(r"\b%s\b" % re.escape(self.bridge), rule) or self.subnet in rule:
                    found.append("iptables -t %s %s" % (table, rule))
        for pid in self._pids(with_weftd=not workloads_only):
            if _alive(pid):
                found.append("process %d" % pid)
        return found

    def _pids(self, with_weftd=True):
        pids = set()
        for name in self.workloads:
            try:
                w = self.workload(name)
            except (OSError, ValueError):
                continue
            pids.update(pid_of(w, role) for role in ("supervisor", "proxy", "app"))
        pids.discard(0)
        for revision in self.revisions if with_weftd else ():
            try:
                pids.add(self.weftd_pid(None if revision == "default" else revision))
            except (OSError, ValueError, KeyError):
                pass
        return pids

    def destroy(self):
        """Removes everything the normal way, then by force whatever is left (only our names)."""
        pids = self._pids()  # read before the records go away
        for name in reversed(self.workloads):
            subprocess.run([WEFTCTL, "remove-from-mesh", name], capture_output=True,
                           env=self.env(), timeout=60)
        for revision in sorted(self.revisions, reverse=True):  # "default" last
            subprocess.run([WEFTCTL, "uninstall", "--purge", "--force", "--revision", revision],
                           capture_output=True, env=self.env(), timeout=60)
        left = self.leftovers()
        for pid in pids:
            if _alive(pid) and _ours(pid):
                os.kill(pid, signal.SIGKILL)
        for name in self.workloads:
            subprocess.run(["ip", "netns", "del", "weft-" + name], capture_output=True)
            shutil.rmtree("/etc/netns/weft-" + name, ignore_errors=True)
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                               text=True).stdout
        for line in links.splitlines():
            if "master %s " % self.bridge in line:
                subprocess.run(["ip", "link", "del", line.split(":")[1].strip().split("@")[0]],
                               capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        for table in ("filter", "nat"):
            rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True,
                                   text=True).stdout
            for rule in rules.splitlines():
                if rule.startswith("-A ") and (re.search(r"\b%s\b" % re.escape(self.bridge),
                                                         rule) or self.subnet in rule):
                    subprocess.run(["iptables", "-t", table, "-D", *shlex.split(rule)[1:]],
                                   capture_output=True)
        if os.environ.get("WEFT_KEEP"):
            print("kept", self.home, file=sys.stderr)
        else:
            shutil.rmtree(self.home, ignore_errors=True)
        return left


def _ours(pid):
    """Whether `pid` still runs one of our programs (a pid read from a record may be reused)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode(errors="replace")
    except OSError:
        return False
    return "weft" in cmdline or "bookinfo" in cmdline


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours is not alive
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@unittest.skipIf(MISSING, MISSING)
class MeshTestCase(unittest.TestCase):
    """A class's mesh is built in setUpClass by build(mesh) and destroyed in tearDownClass; a
    failing test prints the mesh's diagnostics."""
    maxDiff = None
    mesh = None

    @classmethod
    def setUpClass(cls):
        cls.mesh = Mesh(cls.__name__)
        try:
            cls.build(cls.mesh)
        except BaseException:
            print(cls.mesh.diagnostics(), file=sys.stderr)
            cls.mesh.destroy()
            raise

    @classmethod
    def build(cls, mesh):
        mesh.install()

    @classmethod
    def tearDownClass(cls):
        left = cls.mesh.destroy()
        if left:  # after the normal removal (remove-from-mesh, uninstall --purge)
            raise AssertionError("left behind by remove-from-mesh/uninstall: %s" % left)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        super().run(result)
        if result and len(result.failures) + len(result.errors) > before and self.mesh:
            print("\n" + self.mesh.diagnostics(), file=sys.stderr)


class BookinfoRoutingTest(MeshTestCase):
    """Istio's request-routing and fault-injection tasks with Istio's files."""

    @classmethod
    def build(cls, mesh):
        mesh.install()
        cls.names = mesh.add_bookinfo()
        mesh.apply("destination-rule-all.yaml", "virtual-service-all-v1.yaml")

    def setUp(self):
        self.page = self.names["productpage"]
        self.mesh.apply("destination-rule-all.yaml", "virtual-service-all-v1.yaml")
        wait_for(lambda: self.mesh.tally(self.page, 10) == {"v1": 10}, 40,
                 "all of reviews' traffic on v1 (virtual-service-all-v1.yaml)")

    def test_all_v1(self):
        for user in (None, "jason"):
            self.assertEqual(self.mesh.tally(self.page, 30, user), {"v1": 30})
        status, body = self.mesh.page(self.page)
        self.assertEqual(status, 200)
        self.assertIn("William Shakespeare", body)  # details, through the mesh
        self.assertIn('data-reviews-version="v1"', body)
        self.assertNotIn("data-stars", body)  # v1 shows no stars
        # The traffic went through the sidecars: productpage's outbound reviews subset v1.
        self.assertGreater(self.mesh.stat(self.page, r"^cluster\.outbound\|9080\|v1\|reviews\..*"
                                          r"\.upstream_rq_2xx$"), 0)

    def test_jason_to_v2(self):
        self.mesh.apply("virtual-service-reviews-test-v2.yaml")
        wait_for(lambda: self.mesh.reviews_version(self.page, "jason") == "v2", 30,
                 "jason's reviews from v2")
        self.assertEqual(self.mesh.tally(self.page, 20, "jason"), {"v2": 20})
        self.assertEqual(self.mesh.tally(self.page, 20, "alice"), {"v1": 20})
        self.assertEqual(self.mesh.tally(self.page, 20), {"v1": 20})
        status, body = self.mesh.page(self.page, user="jason")
        self.assertEqual(status, 200)
        self.assertIn('data-stars="5" style="color: black"', body)  # v2: black stars

    def test_80_20(self):
        self.mesh.apply("virtual-service-reviews-80-20.yaml")
        wait_for(lambda: "v2" in self.mesh.tally(self.page, 30), 30, "some traffic on v2")
        # The count on v2 is Binomial(n, 0.2): a 4-sigma band fails a correct split with
        # probability ~6e-5 and catches 50/50 or all on one side.
        n = 400
        counts = self.mesh.tally(self.page, n)
        self.assertEqual(counts.get("v1", 0) + counts.get("v2", 0), n, counts)
        sigma = math.sqrt(n * 0.2 * 0.8)
        self.assertLessEqual(abs(counts.get("v2", 0) - n * 0.2), 4 * sigma, counts)

    def test_inbound_traffic_reaches_the_app_not_the_outbound_routes(self):
        # A request that productpage's sidecar sent to a reviews pod must reach that pod's app
        # (virtualInbound -> inbound|9080||), never be routed again by the reviews sidecar's own
        # outbound 0.0.0.0_9080 listener: neither reviews app calls reviews, so the reviews
        # sidecars' outbound reviews clusters must stay unused. (Istio's virtualInbound restores
        # the destination for filter-chain matching; it does not hand connections to the
        # outbound listener of the destination port.)
        self.mesh.apply("virtual-service-reviews-80-20.yaml")
        wait_for(lambda: "v2" in self.mesh.tally(self.page, 30), 30, "some traffic on v2")
        self.mesh.tally(self.page, 50)
        rerouted = {}
        for v in ("v1", "v2", "v3"):
            name = self.names["reviews-" + v]
            n = self.mesh.stat(name, r"^cluster\.outbound\|9080\|[^|]*\|reviews\..*"
                                     r"\.upstream_rq_total$")
            if n:
                rerouted[name] = n
        self.assertEqual(rerouted, {}, "inbound requests went through these reviews sidecars' "
                         "OUTBOUND reviews clusters (inbound connections handed to the outbound "
                         "listener of their port?)")

    def test_ratings_delay_for_jason(self):
        # Istio's fault-injection task: jason -> reviews v2, whose ratings calls get a 7 s delay;
        # productpage's own 3 s timeout (with one retry) gives up first.
        self.mesh.apply("virtual-service-reviews-test-v2.yaml",
                        "virtual-service-ratings-test-delay.yaml")
        wait_for(lambda: REVIEWS_UNAVAILABLE in self.mesh.page(self.page, user="jason")[1],
                 60, "productpage's reviews timeout for jason")
        start = time.monotonic()
        status, body = self.mesh.page(self.page, user="jason")
        elapsed = time.monotonic() - start
        self.assertEqual(status, 200)
        self.assertIn(REVIEWS_UNAVAILABLE, body)
        self.assertGreaterEqual(elapsed, 5.5)  # two 3 s attempts
        self.assertIn("William Shakespeare", body)  # the rest of the page is there
        # Everyone else: reviews v1 at once.
        start = time.monotonic()
        self.assertEqual(self.mesh.reviews_version(self.page, "alice"), "v1")
        self.assertLess(time.monotonic() - start, 5)

    def test_ratings_abort_for_jason(self):
        self.mesh.apply("virtual-service-reviews-test-v2.yaml",
                        "virtual-service-ratings-test-abort.yaml")
        wait_for(lambda: RATINGS_UNAVAILABLE in self.mesh.page(self.page, user="jason")[1],
                 30, "the ratings abort for jason")
        status, body = self.mesh.page(self.page, user="jason")
        self.assertEqual(status, 200)
        self.assertIn('data-reviews-version="v2"', body)
        self.assertNotIn("data-stars", body)
        # reviews-v2's sidecar answered the ratings call itself: 500 from its fault filter.
        reviews_v2 = self.names["reviews-v2"]
        self.assertGreater(self.mesh.stat(reviews_v2, r"ratings.*upstream_rq_5xx$|"
                                          r"http\..*\.fault\.aborts_injected$"), 0)

    def test_details_abort_555(self):
        self.mesh.apply("fault-injection-details-v1.yaml")
        wait_for(lambda: DETAILS_UNAVAILABLE in self.mesh.page(self.page)[1], 30,
                 "the details 555 abort")
        status, body = self.mesh.page(self.page, "/api/v1/products/0")
        self.assertEqual(status, 555, body)
        self.assertIn(DETAILS_UNAVAILABLE, body)


# Ours (samples/bookinfo/networking/): Istio's circuit-breaking task's connection pool on details,
# and outlier detection on ratings.
CIRCUIT_BREAKER = os.path.join(BOOKINFO, "networking",
                               "destination-rule-details-circuit-breaker.yaml")
OUTLIER_DETECTION = os.path.join(BOOKINFO, "networking",
                                 "destination-rule-ratings-outlier-detection.yaml")


class BookinfoResilienceTest(MeshTestCase):
    """Istio's circuit-breaking task (its DestinationRule's connectionPool) and outlier
    detection, with productpage's workload as the client (`weftctl exec`, like fortio)."""

    @classmethod
    def build(cls, mesh):
        mesh.install()
        cls.page, _ = mesh.add("productpage", "productpage", "v1", "productpage")
        cls.details, _ = mesh.add("details", "details", "v1", "details")
        cls.ratings, _ = mesh.add("ratings", "ratings", "v1", "ratings")
        # A second ratings endpoint that answers 503 to everything.
        cls.faulty, _ = mesh.add("ratings-faulty", "ratings", "v1", "ratings",
                                 "SERVICE_VERSION=v-faulty")

    def load(self, url, requests, concurrency):
        p = self.mesh.exec(self.page, PYTHON, LOAD, url, "--requests", str(requests),
                           "--concurrency", str(concurrency), timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def test_circuit_breaking(self):
        url = "http://details:%d/details/0" % PORT
        wait_for(lambda: self.load(url, 5, 1) == {"200": 5}, 40, "details from productpage")
        self.mesh.weftctl("apply", "-f", CIRCUIT_BREAKER)
        overflow = r"^cluster\.outbound\|9080\|\|details\..*\.upstream_rq_pending_overflow$"

        def tripped():
            counts = self.load(url, 10, 20)
            return counts.get("503") and self.mesh.stat(self.page, overflow) > 0 and counts
        counts = wait_for(tripped, 60, "503s from the circuit breaker under concurrency")
        self.assertGreater(counts.get("200", 0), 0, counts)  # one at a time gets through
        # One client at a time stays within the limits.
        self.assertEqual(self.load(url, 10, 1), {"200": 10})

    def test_outlier_detection(self):
        url = "http://ratings:%d/ratings/0" % PORT
        # Both endpoints are in the load balancer: the faulty one answers some requests.
        wait_for(lambda: self.load(url, 4, 1).get("200") and self.faulty_requests() > 0,
                 60, "both ratings endpoints serving")
        self.mesh.weftctl("apply", "-f", OUTLIER_DETECTION)
        ejected = r"^cluster\.outbound\|9080\|\|ratings\..*\.outlier_detection\." \
                  r"ejections_enforced_total$"
        wait_for(lambda: self.load(url, 5, 1) and self.mesh.stat(self.page, ejected) > 0,
                 60, "the faulty ratings endpoint ejected")
        # Ejected for 3 minutes: everything goes to the healthy one, the faulty one sees none.
        before = self.faulty_requests()
        self.assertEqual(self.load(url, 30, 1), {"200": 30})
        self.assertEqual(self.faulty_requests(), before)

    def faulty_requests(self):
        log = os.path.join(self.mesh.home, "workloads", self.faulty, "app.log")
        try:
            with open(log, errors="replace") as f:
                return f.read().count("GET /ratings/0")
        except OSError:
            return 0


class BookinfoEgressTest(MeshTestCase):
    """outboundTrafficPolicy: a service on the host, outside the mesh, reached from a workload
    under ALLOW_ANY; blocked under REGISTRY_ONLY; allowed again by a ServiceEntry."""

    @classmethod
    def build(cls, mesh):
        mesh.install()
        cls.client, _ = mesh.add("ratings", "ratings", "v1", "ratings")
        # The bridge exists now; the host service listens on its address (the pods' gateway).
        cls.outside = harness.EchoServer((mesh.gateway, 0), harness._EchoHandler)
        harness.init_upstream_state(cls.outside, "outside")
        cls.outside_port = cls.outside.server_address[1]
        threading.Thread(target=cls.outside.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.outside.shutdown()
        cls.outside.server_close()
        super().tearDownClass()

    def curl(self, url):
        """(curl exit code, HTTP status) of a GET from inside the client workload."""
        p = self.mesh.exec(self.client, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                           "--max-time", "5", url)
        return p.returncode, p.stdout.strip()

    def test_registry_only_and_service_entry(self):
        url = "http://%s:%d/outside" % (self.mesh.gateway, self.outside_port)
        # ALLOW_ANY (the default): passed through to the original destination.
        wait_for(lambda: self.curl(url) == (0, "200"), 30, "ALLOW_ANY passthrough")
        self.assertTrue(self.outside.seen)

        self.mesh.install("meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY")
        wait_for(lambda: self.curl(url) != (0, "200"), 60, "REGISTRY_ONLY blocking")
        seen = len(self.outside.seen)
        for _ in range(3):
            code, status = self.curl(url)
            self.assertNotEqual((code, status), (0, "200"))
        self.assertEqual(len(self.outside.seen), seen)  # it never got there

        self.mesh.apply_text("""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: outside}
spec:
  hosts: [outside.example.internal]
  addresses: [%s]
  ports: [{number: %d, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: %s}]
""" % (self.mesh.gateway, self.outside_port, self.mesh.gateway))
        wait_for(lambda: self.curl(url) == (0, "200"), 30, "the ServiceEntry allowing it")
        # Its host name resolves in the workload (the sidecar's DNS) and works too.
        self.assertEqual(self.curl("http://outside.example.internal:%d/byname" %
                                   self.outside_port), (0, "200"))
        self.assertIn("/byname", [s[1] for s in self.outside.seen])


class BookinfoControlPlaneTest(MeshTestCase):
    """weftd stopped and started again under traffic; upgrade; a canary revision."""

    @classmethod
    def build(cls, mesh):
        mesh.install()
        cls.names = mesh.add_bookinfo(reviews=("v1",))
        mesh.apply("destination-rule-all.yaml", "virtual-service-all-v1.yaml")

    def setUp(self):
        self.page = self.names["productpage"]
        wait_for(lambda: self.mesh.tally(self.page, 5) == {"v1": 5}, 40, "traffic on v1")

    def traffic_during(self, action):
        """Runs action() while a thread loads the page; returns the failed requests."""
        failures, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                status, body = self.mesh.page(self.page, timeout=10)
                if status != 200 or 'data-reviews-version="v1"' not in body:
                    failures.append((status, body[-200:]))
                time.sleep(0.05)
        t = threading.Thread(target=load)
        t.start()
        try:
            action()
        finally:
            stop.set()
            t.join()
        return failures

    def all_synced(self, revision=None, count=None):
        rows = [line for line in self.mesh.proxy_status(revision).splitlines()
                if line.startswith("sidecar~")]
        return (count is None or len(rows) == count) and rows and \
            all("NACKED" not in r and "STALE" not in r for r in rows)

    def test_weftd_restart_under_traffic(self):
        def restart():
            pid = self.mesh.weftd_pid()
            os.kill(pid, signal.SIGTERM)  # the weftd this class installed
            wait_for(lambda: not _alive(pid), 20, "weftd to stop")
            time.sleep(3)  # the proxies' streams fail; they keep their last config
            self.mesh.install()  # idempotent: starts it again on the same ports and data
            wait_for(lambda: self.all_synced(count=4), 60,
                     "the 4 sidecars back on weftd")
        self.assertEqual(self.traffic_during(restart), [])
        # A change applied after the restart reaches the sidecars.
        self.mesh.apply("fault-injection-details-v1.yaml")
        wait_for(lambda: DETAILS_UNAVAILABLE in self.mesh.page(self.page)[1], 30,
                 "a change after the restart")
        self.mesh.apply("destination-rule-all.yaml", "virtual-service-all-v1.yaml")

    def test_upgrade_keeps_resources_and_traffic(self):
        def names():
            return sorted(line.split()[0] for line in
                          self.mesh.weftctl("get", "vs").stdout.splitlines()[1:])
        before = names()
        self.assertEqual(before, ["details", "productpage", "ratings", "reviews"])
        out = self.traffic_during(lambda: self.mesh.weftctl("upgrade", "-y", timeout=180))
        self.assertEqual(out, [])
        self.assertEqual(names(), before)  # the store was kept
        wait_for(lambda: self.all_synced(count=4), 60, "the sidecars on the upgraded weftd")
        version = self.mesh.weftctl("version").stdout
        self.assertIn("0.5.0", version)

    def test_canary_revision(self):
        self.mesh.install(revision="canary")
        reviews = self.names["reviews-v1"]
        app_pid = pid_of(self.mesh.workload(reviews), "app")
        self.mesh.weftctl("restart-proxy", reviews, "--revision", "canary", timeout=120)
        node = "~%s." % reviews
        wait_for(lambda: node in self.mesh.proxy_status("canary"), 60,
                 "reviews' sidecar on the canary control plane")
        wait_for(lambda: node not in self.mesh.proxy_status(), 60,
                 "reviews' sidecar gone from the default control plane")
        self.assertEqual(self.mesh.workload(reviews).get("revision"), "canary")
        self.assertEqual(pid_of(self.mesh.workload(reviews), "app"), app_pid)  # app kept
        # And back: the workload on the default revision serves the page again.
        self.mesh.weftctl("restart-proxy", reviews, "--revision", "default", timeout=120)
        wait_for(lambda: node in self.mesh.proxy_status(), 60, "reviews back on default")
        wait_for(lambda: self.mesh.tally(self.page, 5) == {"v1": 5}, 60,
                 "traffic to reviews v1 again")
        self.mesh.weftctl("uninstall", "--revision", "canary", "--purge")


class BookinfoDemoTest(MeshTestCase):
    """scripts/demo.sh (`make demo`) twice: the second run reuses what the first started. In
    this class's own home, bridge, subnet and workload names (the script's test hooks)."""

    DEMO_WORKLOADS = ("details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3",
                      "productpage-v1")

    @classmethod
    def build(cls, mesh):
        mesh.revisions.add("default")
        mesh.workloads.extend(w + mesh.suffix for w in cls.DEMO_WORKLOADS)

    def demo(self):
        env = dict(self.mesh.env(), WEFT_DEMO_INSTALL_ARGS=" ".join(self.mesh.values()),
                   WEFT_DEMO_SUFFIX=self.mesh.suffix)
        p = subprocess.run([os.path.join(harness.ROOT, "scripts", "demo.sh"), harness.BUILD],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def test_demo_twice(self):
        out = self.demo()
        # All of the page views were answered by reviews v1 (virtual-service-all-v1.yaml).
        self.assertRegex(out, r"(?m)^\s+20 v1$")
        self.assertRegex(out, r"(?m)^\s+10 v1$")
        self.assertIn("virtual-service-reviews-test-v2.yaml", out)  # what to try next
        self.assertIn("uninstall --purge", out)  # how to tear it down
        # reviews-v1's sidecar saw productpage's calls over mutual TLS, with its SPIFFE id.
        self.assertRegex(out, r"productpage-v1\S* -> reviews-v1\S*\s+mutual_tls\s+"
                              r"spiffe://cluster\.local/ns/"
                              r"default/sa/bookinfo-productpage\s+code 200: [1-9]")
        weftd = self.mesh.weftd_pid()
        apps = {w: pid_of(self.mesh.workload(w), "app") for w in self.mesh.workloads}
        again = self.demo()
        self.assertEqual(again.count("already in the mesh"), len(self.DEMO_WORKLOADS), again)
        self.assertRegex(again, r"(?m)^\s+20 v1$")
        self.assertEqual({w: pid_of(self.mesh.workload(w), "app") for w in self.mesh.workloads},
                         apps)  # nothing was restarted
        self.assertEqual(self.mesh.weftd_pid(), weftd)


class BookinfoAddRemoveTest(MeshTestCase):
    """add-to-mesh and remove-from-mesh leave nothing behind; bad input is refused clearly."""

    def test_add_then_remove_leaves_nothing(self):
        name, out = self.mesh.add("details", "details", "v1", "details")
        w = self.mesh.workload(name)
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        self.assertIn("weft-" + name, netns)
        rules = subprocess.run(["ip", "netns", "exec", "weft-" + name, "iptables", "-t", "nat",
                                "-S"], capture_output=True, text=True).stdout
        self.assertIn("15001", rules)
        self.assertIn("15006", rules)
        self.assertIn("1337", rules)
        status, body = self.mesh.page(name, "/details/0")
        self.assertEqual(status, 200, body)  # from the host, through its inbound capture
        self.mesh.weftctl("remove-from-mesh", name)
        # The logs stay for a post-mortem; the record goes.
        self.assertFalse(os.path.exists(os.path.join(self.mesh.home, "workloads", name,
                                                     "workload.json")))
        self.assertEqual(self.mesh.leftovers(workloads_only=True), [])
        for role in ("supervisor", "proxy", "app"):
            self.assertGreater(pid_of(w, role), 0, role)
            self.assertFalse(_alive(pid_of(w, role)), role)
        ipam = os.path.join(self.mesh.home, "network", "ipam.json")
        if os.path.exists(ipam):
            with open(ipam) as f:
                self.assertNotIn(name, f.read())

    def test_name_taken_and_command_exiting_at_once(self):
        name, _ = self.mesh.add("ratings", "ratings", "v1", "ratings")
        _, p = self.mesh.add("ratings", "ratings", "v1", "ratings", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr + p.stdout, r"(?i)already|taken|exists")
        self.assertEqual(self.mesh.page(name, "/ratings/0")[0], 200)  # the first one is fine
        self.mesh.weftctl("remove-from-mesh", name)

        bad = "quits" + self.mesh.suffix
        self.mesh.workloads.append(bad)
        p = self.mesh.weftctl("add-to-mesh", bad, "--service", "quits", "--port", "9080", "--",
                              "sh", "-c", "echo bye; exit 3", check=False, timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("exited at once", p.stderr + p.stdout)
        self.assertEqual(self.mesh.leftovers(workloads_only=True), [])


if __name__ == "__main__":
    unittest.main()
