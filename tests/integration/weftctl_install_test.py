"""weftctl's control-plane lifecycle end to end, as a user runs it: `weftctl install` starts a
real weftd in the background (its own WEFT_HOME per test, ports 0), verify-install and version
(with a real weft-proxy connected over ADS) report on it, install is idempotent and applies
changed values by restarting weftd on the same data and ports, upgrade replaces the process
(warning about a v1alpha3 resource), a canary revision imports the default's resources and
apply writes to both, and uninstall --purge leaves nothing. Bad input is refused with the key
path and leaves nothing running. Every weftd a test saw is killed by pid in tearDown."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import Proxy
from weftd_api_test import WEFTCTL
from weftd_mesh_test import NODE_ID, bootstrap
from xds_test import wait_for

LOOPBACK_PORTS = ["--set", "apiAddress=127.0.0.1:0", "--set", "xdsAddress=127.0.0.1:0"]


def vs(name, version="v1"):
    return {"apiVersion": "networking.istio.io/" + version, "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"hosts": ["reviews"],
                     "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}


def try_bind(sock, host, port):
    try:
        sock.bind((host, port))
        return True
    except OSError:
        return False


def is_weftd(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0]
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return os.path.basename(argv0) == b"weftd" and state not in ("Z", "X")


class InstallTestBase(unittest.TestCase):
    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="weft-home-")
        self.seen_pids = set()

    def tearDown(self):
        # Whatever a failed assertion left running: every pid a record named, and the records'.
        for path in glob.glob(os.path.join(self.home, "control-planes", "*", "install.json")):
            with open(path) as f:
                self.seen_pids.add(json.load(f).get("pid", 0))
        for pid in self.seen_pids:
            if pid and is_weftd(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.home, ignore_errors=True)

    def weftctl(self, *args, stdin=None):
        env = dict(os.environ, WEFT_HOME=self.home)
        env.pop("WEFT_SERVER", None)
        return subprocess.run([WEFTCTL, *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=60)

    def ok(self, *args, stdin=None):
        out = self.weftctl(*args, stdin=stdin)
        self.assertEqual(out.returncode, 0, "weftctl %s:\n%s%s" % (" ".join(args), out.stdout,
                                                                   out.stderr))
        return out.stdout

    def record(self, revision="default"):
        path = os.path.join(self.home, "control-planes", revision, "install.json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            r = json.load(f)
        self.seen_pids.add(r["pid"])
        return r

    def names(self, *args):
        out = json.loads(self.ok("get", "vs", "-o", "json", *args))
        return sorted(i["metadata"]["name"] for i in out["items"])


class WeftctlInstallTest(InstallTestBase):
    def check_ca_probe_refuses_a_foreign_root(self):
        """verify-install's CA check is a verified handshake: against a root that did not sign
        weftd's serving certificate it fails and says why."""
        root = os.path.join(self.home, "control-planes", "default", "data", "ca", "root-cert.pem")
        with open(root, "rb") as f:
            saved = f.read()
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=foreign",
                            "-days", "1", "-keyout", os.path.join(tmp, "k.pem"),
                            "-out", os.path.join(tmp, "c.pem")], check=True,
                           capture_output=True, timeout=30)
            try:
                shutil.copyfile(os.path.join(tmp, "c.pem"), root)
                out = self.weftctl("verify-install")
            finally:
                with open(root, "wb") as f:
                    f.write(saved)
        self.assertNotEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"✘ CA and xDS over TLS \S+: certificate not verified "
                                     r"against the mesh root: ")

    def test_lifecycle(self):
        out = self.ok("install", "-y", *LOOPBACK_PORTS)
        self.assertIn("Weft control plane 0.5.0 installed", out)
        first = self.record()
        self.assertTrue(is_weftd(first["pid"]))
        self.assertIn("pid:         %d" % first["pid"], out)
        self.assertIn("API:         http://" + first["apiAddress"], out)
        self.assertEqual(first["values"]["meshConfig"]["outboundTrafficPolicy"]["mode"],
                         "ALLOW_ANY")
        with open(os.path.join(self.home, "control-planes", "default", "weftd.pid")) as f:
            self.assertEqual(int(f.read()), first["pid"])

        out = self.ok("verify-install")
        self.assertIn("✔ weftd process %d is running" % first["pid"], out)
        self.assertIn("✔ weftd version 0.5.0 matches", out)
        self.assertIn("accepts connections", out)
        self.assertRegex(out, r"✔ CA and xDS over TLS \S+: TLSv1\.3, certificate for "
                              r"istiod\.istio-system\.svc valid until ")
        self.assertNotIn("✘", out)
        self.check_ca_probe_refuses_a_foreign_root()

        # A resource under the deprecated v1alpha3 and one under v1, then a real proxy.
        self.ok("apply", "-f", "-", stdin=json.dumps(vs("old-style", "v1alpha3")))
        self.ok("apply", "-f", "-", stdin=json.dumps(vs("reviews")))
        xds_port = int(first["xdsAddress"].rsplit(":", 1)[1])
        proxy = Proxy(bootstrap(xds_port))
        try:
            wait_for(lambda: "0.5.0 (1 proxies)" in self.ok("version"), what="proxy in version")
            out = self.ok("version")
            self.assertIn("client version: 0.5.0", out)
            self.assertIn("control plane version: 0.5.0 (revision default)", out)
            row = [l for l in out.splitlines() if l.startswith(NODE_ID)]
            self.assertEqual(len(row), 1, out)
            self.assertEqual(row[0].split()[1:], ["default", "weft-proxy", "0.5.0"])
            j = json.loads(self.ok("version", "-o", "json"))
            self.assertEqual(j["dataPlaneVersions"][0]["userAgent"], "weft-proxy")
            self.assertEqual(j["controlPlaneVersions"][0]["revision"], "default")
            self.assertNotIn(NODE_ID, self.ok("version", "--short"))
            # A weftd named by --server rather than found by its install record.
            out = self.ok("version", "--short", "--server", first["apiAddress"])
            self.assertIn("control plane version: 0.5.0 (revision default)", out)
            self.assertIn("data plane version: 0.5.0 (1 proxies)", out)

            # Idempotent: the same values leave the same process.
            out = self.ok("install", "-y", *LOOPBACK_PORTS)
            self.assertIn("already installed", out)
            self.assertEqual(self.record()["pid"], first["pid"])

            # Changed values: weftd restarted on the same data dir and ports.
            out = self.ok("install", "-y", *LOOPBACK_PORTS, "--set", "registrationGrace=3s")
            self.assertIn("Applied changed values (registrationGrace)", out)
            second = self.record()
            self.assertNotEqual(second["pid"], first["pid"])
            self.assertFalse(is_weftd(first["pid"]))
            self.assertEqual(second["apiAddress"], first["apiAddress"])
            self.assertEqual(second["xdsAddress"], first["xdsAddress"])
            self.assertEqual(second["values"]["registrationGrace"], "3s")
            self.assertEqual(self.names(), ["old-style", "reviews"])

            # Upgrade: a new process, the v1alpha3 resource warned about, resources kept, and
            # the proxy reconnects to the new weftd.
            out = self.ok("upgrade", "-y")
            self.assertIn("Warning: VirtualService default/old-style is stored as "
                          "networking.istio.io/v1alpha3", out)
            self.assertNotIn("default/reviews", out)
            third = self.record()
            self.assertNotEqual(third["pid"], second["pid"])
            self.assertFalse(is_weftd(second["pid"]))
            self.assertEqual(third["values"]["registrationGrace"], "3s")
            self.assertEqual(self.names(), ["old-style", "reviews"])
            wait_for(lambda: "0.5.0 (1 proxies)" in self.ok("version"), timeout=40,
                     what="proxy reconnected after the upgrade")

            # Canary: its own process, data and free ports, with the default's resources.
            out = self.ok("install", "-y", "--revision", "canary")
            self.assertIn("Imported 2 resource(s) from revision default", out)
            canary = self.record("canary")
            self.assertTrue(is_weftd(canary["pid"]))
            self.assertNotEqual(canary["apiAddress"], third["apiAddress"])
            self.assertEqual(self.names("--revision", "canary"), ["old-style", "reviews"])
            # apply without --server goes to both revisions, and they agree.
            out = self.ok("apply", "-f", "-", stdin=json.dumps(vs("ratings")))
            self.assertEqual(out.strip(), "virtualservice.networking.istio.io/ratings created")
            self.assertEqual(self.names("-r", "canary"), ["old-style", "ratings", "reviews"])
            self.assertEqual(self.names("-r", "default"), ["old-style", "ratings", "reviews"])
            versions = json.loads(self.ok("version", "-o", "json"))["controlPlaneVersions"]
            self.assertEqual([v["revision"] for v in versions], ["default", "canary"])
            # A disagreement is reported per revision.
            self.ok("delete", "vs", "ratings", "-r", "canary")
            out = self.ok("delete", "vs", "reviews")
            self.assertEqual(out.count('"reviews" deleted'), 1, out)
            out = self.weftctl("delete", "vs", "ratings")
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("revision canary (differs from revision default)", out.stdout)
            self.assertIn('revision canary: Error from server (NotFound)', out.stderr)

            out = self.ok("uninstall", "--revision", "canary")
            self.assertIn("Stopped weftd (revision canary, pid %d)" % canary["pid"], out)
            self.assertFalse(is_weftd(canary["pid"]))
            self.assertIsNone(self.record("canary"))
        finally:
            proxy.stop()

        out = self.ok("uninstall", "--purge")
        self.assertFalse(is_weftd(third["pid"]))
        self.assertFalse(os.path.exists(os.path.join(self.home, "control-planes", "default")))
        self.ok("uninstall", "--revision", "canary", "--purge")
        self.assertEqual(os.listdir(self.home), [])
        out = self.weftctl("verify-install")
        self.assertEqual(out.returncode, 1)
        self.assertIn("no control plane installed", out.stdout)

    def test_uninstall_refuses_while_workloads_use_the_revision(self):
        self.ok("install", "-y", *LOOPBACK_PORTS)
        pid = self.record()["pid"]
        wl = os.path.join(self.home, "workloads", "reviews-v1")
        os.makedirs(wl)
        with open(os.path.join(wl, "workload.json"), "w") as f:
            json.dump({"name": "reviews-v1", "revision": "default"}, f)
        out = self.weftctl("uninstall")
        self.assertEqual(out.returncode, 1)
        self.assertIn("still used by 1 workload(s): reviews-v1", out.stderr)
        self.assertTrue(is_weftd(pid))
        self.ok("uninstall", "--force", "--purge")
        self.assertFalse(is_weftd(pid))

    def test_two_installs_at_once_start_one_weftd(self):
        env = dict(os.environ, WEFT_HOME=self.home)
        env.pop("WEFT_SERVER", None)
        procs = [subprocess.Popen([WEFTCTL, "install", "-y", *LOOPBACK_PORTS], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        self.record()  # tearDown kills it even if an assertion below fails
        self.assertEqual([p.returncode for p in procs], [0, 0], outs)
        joined = "".join(o for o, _ in outs)
        self.assertEqual(joined.count("Weft control plane 0.5.0 installed"), 1, joined)
        self.assertEqual(joined.count("already installed"), 1, joined)

    def test_upgrade_refuses_a_downgrade_without_force(self):
        self.ok("install", "-y", *LOOPBACK_PORTS)
        r = self.record()
        # A record of a newer weftd that is no longer running (the version then comes from it).
        os.kill(r["pid"], signal.SIGKILL)
        wait_for(lambda: not is_weftd(r["pid"]), what="weftd killed")
        r["version"] = "0.9.0"
        with open(os.path.join(self.home, "control-planes", "default", "install.json"), "w") as f:
            json.dump(r, f)
        out = self.weftctl("upgrade", "-y")
        self.assertEqual(out.returncode, 1)
        self.assertIn("runs weftd 0.9.0, newer than this weftctl's 0.5.0: that is a downgrade",
                      out.stderr)
        self.assertEqual(self.record()["pid"], r["pid"])
        out = self.ok("upgrade", "-y", "--force")
        self.assertIn("Upgrading revision default: weftd 0.9.0 -> 0.5.0", out)
        self.assertTrue(is_weftd(self.record()["pid"]))
        self.assertEqual(self.record()["apiAddress"], r["apiAddress"])

    def test_a_stale_pid_is_not_signalled(self):
        self.ok("install", "-y", *LOOPBACK_PORTS)
        r = self.record()
        os.kill(r["pid"], signal.SIGKILL)
        wait_for(lambda: not is_weftd(r["pid"]), what="weftd killed")
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            r["pid"] = sleeper.pid  # a recycled pid: now somebody else's process
            with open(os.path.join(self.home, "control-planes", "default", "install.json"),
                      "w") as f:
                json.dump(r, f)
            out = self.weftctl("verify-install")
            self.assertEqual(out.returncode, 1)
            self.assertIn("✘ weftd process %d is not running" % sleeper.pid, out.stdout)
            self.ok("uninstall")
            self.assertIsNone(sleeper.poll())  # untouched
        finally:
            sleeper.kill()
            sleeper.wait()


class WeftctlPrecheckTest(InstallTestBase):
    def test_reports_each_check_and_a_port_taken_by_another_program(self):
        self.ok("install", "-y", *LOOPBACK_PORTS)
        r = self.record()
        out = self.ok("precheck")
        self.assertIn("✔ API port %s is weftd's (revision default, pid %d)"
                      % (r["apiAddress"], r["pid"]), out)
        self.assertIn("✔ weftd found: ", out)
        self.assertIn("✔ weft-proxy found: ", out)
        self.assertIn("✔ state directory %s is writable" % self.home, out)
        self.assertIn("root" if os.geteuid() == 0 else "not root: ", out)
        # weftd stopped, and another program on its API port: installing again would fail.
        os.kill(r["pid"], signal.SIGKILL)
        wait_for(lambda: not is_weftd(r["pid"]), what="weftd killed")
        host, port = r["apiAddress"].rsplit(":", 1)
        with socket.socket() as held:
            held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # A killed multi-threaded process shows as a zombie before its last thread has
            # closed its sockets: the port frees a moment later.
            wait_for(lambda: try_bind(held, host, int(port)), what="weftd's API port freed")
            held.listen()
            out = self.weftctl("precheck")
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertIn("✘ API port %s is in use by another program" % r["apiAddress"],
                          out.stdout)
            self.assertIn("1 problem(s) would stop an install or add-to-mesh", out.stdout)
            # And install says so instead of starting a weftd that cannot bind.
            out = self.weftctl("install", "-y", *LOOPBACK_PORTS)
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertIn("apiAddress %s: the port is already in use" % r["apiAddress"],
                          out.stderr)


class WeftctlInstallBadInputTest(InstallTestBase):
    def assertRefused(self, args, message):
        out = self.weftctl("install", "-y", *args)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn(message, out.stderr)
        self.assertIsNone(self.record())
        self.assertEqual(glob.glob(os.path.join(self.home, "control-planes", "*", "weftd.pid")),
                         [])

    def test_unknown_set_key(self):
        self.assertRefused(["--set", "meshConfig.bogus=1"],
                           "--set meshConfig.bogus: meshConfig.bogus: unknown key")
        self.assertRefused(["--set", "nope=1"], "nope: unknown key (known: ")
        self.assertRefused(["--set", "meshConfig.outboundTrafficPolicy.mode=OPEN"],
                           "meshConfig.outboundTrafficPolicy.mode: must be ALLOW_ANY or "
                           "REGISTRY_ONLY")
        self.assertRefused(["--set", "registrationGrace=soon"], "registrationGrace: ")

    def test_bad_profile(self):
        self.assertRefused(["--profile", "huge"],
                           'unknown profile "huge" (known: default, minimal, demo)')

    def test_malformed_values_file(self):
        path = os.path.join(self.home, "values.yaml")
        with open(path, "w") as f:
            f.write("meshConfig: [unclosed\n")
        self.assertRefused(["-f", path], path + ": ")
        with open(path, "w") as f:
            f.write("meshConfig:\n  outboundTrafficPolicy:\n    mood: ALLOW_ANY\n")
        self.assertRefused(["-f", path],
                           path + ": meshConfig.outboundTrafficPolicy.mood: unknown key")
        with open(path, "w") as f:
            f.write("network: 5\n")
        self.assertRefused(["-f", path], path + ": network: must be a mapping")

    def test_values_file_and_profile_apply(self):
        path = os.path.join(self.home, "values.yaml")
        with open(path, "w") as f:
            f.write("meshConfig:\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n")
        self.ok("install", "-y", "--profile", "demo", "-f", path, *LOOPBACK_PORTS)
        r = self.record()
        self.assertEqual(r["profile"], "demo")
        self.assertEqual(r["values"]["registrationGrace"], "5s")
        with open(os.path.join(self.home, "control-planes", "default", "mesh-config.yaml")) as f:
            self.assertIn("mode: REGISTRY_ONLY", f.read())
        self.ok("uninstall", "--purge")

    def test_port_in_use(self):
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            port = held.getsockname()[1]
            self.assertRefused(["--set", "apiAddress=127.0.0.1:%d" % port,
                                "--set", "xdsAddress=127.0.0.1:0"],
                               "apiAddress 127.0.0.1:%d: the port is already in use" % port)


if __name__ == "__main__":
    unittest.main()
