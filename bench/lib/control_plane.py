#!/usr/bin/env python3
"""The control-plane load test's driver (bench/control_plane.sh runs it; standard library only).

One weftd (fresh data dir, ephemeral ports), M ServiceEntries with K STATIC endpoints each, all on
port 9080 (HTTP) like Istio's load-test services, plus a DestinationRule (subsets v1/v2) and a
VirtualService for every 10th service. Then, per xDS variant (--modes), weft-xds-load opens N ADS
streams, waits until all are synced, and runs R rounds of "change one endpoint of one service"
plus one VirtualService change, measuring per stream the time from the PUT's start to the ACK of
the response carrying the change, and the bytes each stream received for it. weftd's RSS (VmRSS,
VmHWM), threads and CPU (utime+stime) are sampled every 100 ms.

Writes <out>/control-plane-<date>.json and .md (the .md also on stdout).
"""

import argparse
import datetime
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

GROUP = "/apis/networking.istio.io/v1/namespaces/default"
PORT = 9080
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Weftd:
    def __init__(self, binary, workdir):
        self.dir = workdir
        api_path, xds_path = os.path.join(workdir, "api.addr"), os.path.join(workdir, "xds.addr")
        self.log = open(os.path.join(workdir, "weftd.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", os.path.join(workdir, "store"), "--api-addr", "127.0.0.1:0",
             "--api-address-path", api_path, "--xds-addr", "127.0.0.1:0", "--xds-address-path",
             xds_path, "--log-level", os.environ.get("WEFTD_LOG_LEVEL", "warning")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (os.path.exists(api_path) and os.path.exists(xds_path)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("weftd did not start; see " + self.log.name)
            time.sleep(0.02)
        time.sleep(0.05)  # the files are written whole, but give the writer a moment
        self.api = open(api_path).read().strip()
        self.xds = open(xds_path).read().strip()
        host, port = self.api.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def request(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data,
                                  headers={"content-type": "application/json"} if data else {})
                resp = self.conn.getresponse()
                text = resp.read()
                return resp.status, json.loads(text) if text else None
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server may close an idle keep-alive connection
                if attempt:
                    raise

    def apply(self, plural, obj):
        path = f"{GROUP}/{plural}/{obj['metadata']['name']}"
        status, current = self.request("GET", path)
        if status == 200:
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            status, body = self.request("PUT", path, obj)
        else:
            status, body = self.request("POST", f"{GROUP}/{plural}", obj)
        if status not in (200, 201):
            raise RuntimeError(f"{plural}/{obj['metadata']['name']}: {status} {body}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Sampler(threading.Thread):
    """weftd's CPU seconds, VmRSS, VmHWM and threads every 100 ms, tagged with the phase."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples, self.stop_flag = pid, "start", [], False

    def sample(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
            status = {}
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    status[key] = value.split()[0] if value.split() else ""
            return {"t": time.monotonic(), "phase": self.phase, "cpu_s": cpu,
                    "rss_kb": int(status["VmRSS"]), "hwm_kb": int(status["VmHWM"]),
                    "threads": int(status["Threads"])}
        except (FileNotFoundError, ProcessLookupError, KeyError):
            return None

    def run(self):
        while not self.stop_flag:
            s = self.sample()
            if s:
                self.samples.append(s)
            time.sleep(0.1)

    def mark(self, phase):
        s = self.sample()
        if s:
            self.samples.append(s)
        self.phase = phase
        return s


def service_entry(i, endpoints, first_address=None):
    eps = [{"address": f"10.{1 + i // 250}.{i % 250}.{j + 1}", "ports": {"http": 8080},
            "labels": {"app": f"svc-{i}", "version": "v1" if j % 2 == 0 else "v2"}}
           for j in range(endpoints)]
    if first_address:
        eps[0]["address"] = first_address
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": f"svc-{i}", "namespace": "default"},
            "spec": {"hosts": [f"svc-{i}.default.svc.cluster.local"],
                     "location": "MESH_INTERNAL", "resolution": "STATIC",
                     "ports": [{"number": PORT, "name": "http", "protocol": "HTTP"}],
                     "endpoints": eps}}


def destination_rule(i):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": f"svc-{i}", "namespace": "default"},
            "spec": {"host": f"svc-{i}.default.svc.cluster.local",
                     "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                 {"name": "v2", "labels": {"version": "v2"}}]}}


def virtual_service(i, marker_prefix=None):
    host = f"svc-{i}.default.svc.cluster.local"
    http = [{"route": [{"destination": {"host": host, "subset": "v1"}, "weight": 90},
                       {"destination": {"host": host, "subset": "v2"}, "weight": 10}]}]
    if marker_prefix:
        http.insert(0, {"match": [{"uri": {"prefix": marker_prefix}}],
                        "route": [{"destination": {"host": host, "subset": "v2"}}]})
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": f"svc-{i}", "namespace": "default"},
            "spec": {"hosts": [host], "http": http}}


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def summarize(values):
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values), "mean": statistics.fmean(values)}


class LoadTool:
    def __init__(self, binary, xds, streams, mode, timeout_s, stderr_path):
        self.stderr = open(stderr_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--xds", xds, "--streams", str(streams), "--mode", mode, "--apps", "10",
             "--sync-timeout-ms", str(int(timeout_s * 1000)), "--round-timeout-ms", "30000"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True)

    def event(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("weft-xds-load exited")
        return json.loads(line)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("QUIT")
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def run_round(weftd, tool, round_id, kind, apply):
    """MARK, then the change; returns the round's event and the PUT's start."""
    tool.send(f"MARK {round_id} {kind}")
    ev = tool.event()
    assert ev["event"] == "marked", ev
    start_ns = time.monotonic_ns()
    apply()
    put_ms = (time.monotonic_ns() - start_ns) / 1e6
    ev = tool.event()
    assert ev["event"] == "round", ev
    ev["apply_ms"] = put_ms
    ev["latency_ms"] = [(a - start_ns) / 1e6 for a in ev["ack_ns"] if a >= 0]
    return ev


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", default="build")
    p.add_argument("--proxies", type=int, default=1000)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--endpoints", type=int, default=10)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--modes", default="delta,sotw")
    p.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "..", "results"))
    p.add_argument("--tag", default="")
    p.add_argument("--sync-timeout", type=float, default=180)
    args = p.parse_args()

    weftd_bin = os.path.join(args.build_dir, "bin", "weftd")
    load_bin = os.path.join(args.build_dir, "bin", "weft-xds-load")
    for b in (weftd_bin, load_bin):
        if not os.access(b, os.X_OK):
            sys.exit(f"not built: {b}")

    workdir = tempfile.mkdtemp(prefix="weft-cp-bench-")
    weftd = Weftd(weftd_bin, workdir)
    sampler = Sampler(weftd.proc.pid)
    sampler.start()
    result = {"settings": vars(args), "date": datetime.datetime.utcnow().isoformat() + "Z",
              "machine": {"cpus": os.cpu_count(), "nproc": len(os.sched_getaffinity(0))},
              "runs": {}}
    try:
        t = time.monotonic()
        sampler.mark("apply")
        for i in range(args.services):
            weftd.apply("serviceentries", service_entry(i, args.endpoints))
            if i % 10 == 0:
                weftd.apply("destinationrules", destination_rule(i))
                weftd.apply("virtualservices", virtual_service(i))
        result["apply_s"] = time.monotonic() - t
        marker = 0
        for mode in args.modes.split(","):
            run = {}
            start = sampler.mark(f"{mode}:connect")
            t = time.monotonic()
            tool = LoadTool(load_bin, weftd.xds, args.proxies, mode, args.sync_timeout,
                            os.path.join(workdir, f"xds-load-{mode}.log"))
            try:
                synced = tool.event()
                setup = tool.event()
                run["sync"] = dict(synced, wall_s=time.monotonic() - t,
                                   setup_bytes=setup["bytes"])
                end = sampler.mark(f"{mode}:rounds")
                run["sync"]["weftd_cpu_s"] = end["cpu_s"] - start["cpu_s"]
                run["sync"]["weftd_rss_kb"] = end["rss_kb"]
                time.sleep(1)  # let the connect burst's pushes settle
                rounds = []
                for r in range(args.rounds):
                    marker += 1
                    svc = marker % args.services
                    address = f"10.200.{marker // 250}.{marker % 250 + 1}"
                    ev = run_round(weftd, tool, marker, f"eds {address}",
                                   lambda: weftd.apply("serviceentries", service_entry(
                                       svc, args.endpoints, address)))
                    ev["what"] = f"endpoint of svc-{svc}"
                    rounds.append(ev)
                marker += 1
                prefix = f"/marker-{marker}/"
                ev = run_round(weftd, tool, marker, f"rds {prefix}",
                               lambda: weftd.apply("virtualservices", virtual_service(0, prefix)))
                ev["what"] = "VirtualService svc-0"
                vs_round = ev
                end2 = sampler.mark(f"{mode}:idle")
                run["rounds_cpu_s"] = end2["cpu_s"] - end["cpu_s"]
                run["rounds_wall_s"] = end2["t"] - end["t"]
            finally:
                tool.stop()
                tool.stderr.close()
                # Streams that ended early, by reason (weft-xds-load logs each on stderr).
                reasons = {}
                with open(tool.stderr.name) as f:
                    for line in f:
                        reason = line.split(" ended: ", 1)[-1].strip()
                        reasons[reason] = reasons.get(reason, 0) + 1
                run["streams_ended"] = reasons
            lat = [x for ev in rounds for x in ev["latency_ms"]]
            run["endpoint_change"] = {
                "rounds": len(rounds),
                "streams_seen": [ev["seen"] for ev in rounds],
                "complete": all(ev["complete"] for ev in rounds),
                "apply_to_ack_ms": summarize(lat),
                "per_round_p99_ms": [percentile(ev["latency_ms"], 99) for ev in rounds],
                "bytes_per_stream": summarize([b for ev in rounds for b in ev["bytes"]]),
                "put_ms": summarize([ev["apply_ms"] for ev in rounds]),
            }
            run["virtual_service_change"] = {
                "seen": vs_round["seen"], "complete": vs_round["complete"],
                "apply_to_ack_ms": summarize(vs_round["latency_ms"]),
                "bytes_per_stream": summarize(vs_round["bytes"]),
            }
            result["runs"][mode] = run
            time.sleep(1)
        sampler.mark("end")
    finally:
        sampler.stop_flag = True
        sampler.join()
        weftd.stop()
        if os.environ.get("WEFT_KEEP"):
            print("kept", workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    samples = sampler.samples
    result["weftd"] = {
        "peak_rss_kb": max(s["hwm_kb"] for s in samples),
        "max_threads": max(s["threads"] for s in samples),
        "cpu_s_total": samples[-1]["cpu_s"] - samples[0]["cpu_s"],
        "rss_kb_after_apply": next((s["rss_kb"] for s in samples
                                    if s["phase"] != "apply" and s["phase"] != "start"), None),
        # Per phase: the highest VmRSS sampled, and CPU seconds spent.
        "phases": {},
    }
    for s in samples:
        p = result["weftd"]["phases"].setdefault(s["phase"], {"max_rss_kb": 0, "cpu_s": 0.0,
                                                             "first_cpu_s": s["cpu_s"]})
        p["max_rss_kb"] = max(p["max_rss_kb"], s["rss_kb"])
        p["cpu_s"] = s["cpu_s"] - p["first_cpu_s"]
    date = datetime.datetime.utcnow().strftime("%Y-%m-%d-%H%M")
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, f"control-plane-{date}{args.tag}")
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=1)
    md = report_md(result)
    with open(base + ".md", "w") as f:
        f.write(md)
    print(md)
    print(f"written: {base}.json {base}.md")
    ok = all(r["endpoint_change"]["complete"] and r["virtual_service_change"]["complete"]
             for r in result["runs"].values())
    return 0 if ok else 1


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def report_md(r):
    s = r["settings"]
    w = r["weftd"]
    lines = [
        f"# Control-plane load test, {r['date']}",
        "",
        f"weftd with {s['services']} ServiceEntries x {s['endpoints']} STATIC endpoints (all on "
        f"port {PORT}/HTTP; a DestinationRule and a VirtualService for every 10th), "
        f"{s['proxies']} simulated proxies (weft-xds-load, one ADS stream and TCP connection "
        f"each, 10 distinct app labels), {s['rounds']} endpoint-change rounds + 1 VirtualService "
        f"change per variant. Machine: {r['machine']['nproc']} CPUs usable.",
        "",
        "| variant | proxies synced | sync s | endpoint change apply-to-ACK p50 / p99 / max ms "
        "| bytes per proxy (p50 / max) | VS change p50 / p99 ms | VS bytes per proxy p50 | "
        "weftd CPU s (sync / rounds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, run in r["runs"].items():
        e, v = run["endpoint_change"], run["virtual_service_change"]
        a, b = e["apply_to_ack_ms"], e["bytes_per_stream"]
        va = v["apply_to_ack_ms"]
        lines.append(
            f"| {mode} | {run['sync']['synced']}/{run['sync']['streams']} | "
            f"{fmt(run['sync']['wall_s'])} | {fmt(a.get('p50'))} / {fmt(a.get('p99'))} / "
            f"{fmt(a.get('max'))} | {b.get('p50')} / {b.get('max')} | {fmt(va.get('p50'))} / "
            f"{fmt(va.get('p99'))} | {v['bytes_per_stream'].get('p50')} | "
            f"{fmt(run['sync']['weftd_cpu_s'])} / {fmt(run['rounds_cpu_s'])} |")
    lines += [
        "",
        f"weftd: peak RSS (VmHWM) {w['peak_rss_kb'] / 1024:.0f} MB, at most {w['max_threads']} "
        f"threads, {w['cpu_s_total']:.1f} CPU s in all; applying the services took "
        f"{r['apply_s']:.1f} s.",
        "",
        "| phase | weftd max VmRSS MB | weftd CPU s |",
        "|---|---|---|",
    ]
    for phase, p in w["phases"].items():
        lines.append(f"| {phase} | {p['max_rss_kb'] / 1024:.0f} | {p['cpu_s']:.1f} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
