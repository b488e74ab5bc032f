#!/usr/bin/env python3
"""What istio.stats costs a request: weft-proxy with one worker answering a direct_response
route, measured by wrk with and without the filter, on loopback.

Usage: bench/istio_stats_cost.py [BUILD_DIR] [--reps N] [--duration S] [--conns C]
                                 [--proxy BINARY] [--modes none,outbound,...] [--perf DIR]
Modes (interleaved per repetition so slow drift of the machine hits each alike):
  none      HCM -> router, no istio.stats
  none_peer the same, wrk sending the peer headers: the baseline for "inbound" (those ~400
            header bytes cost parsing whether or not a filter reads them)
  outbound  istio.stats on an OUTBOUND listener (reporter="source"; adds our peer headers)
  inbound   istio.stats on an INBOUND listener, and wrk sends a client sidecar's
            x-envoy-peer-metadata headers (reporter="destination"; decodes them)
Pinning as bench/run.sh: the proxy on CPU 0 (taskset -c 0), wrk -t1 on CPU 1.
Prints requests/s per mode (median of the repetitions) and the ratio to its baseline.
"""
import argparse
import base64
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def struct_bytes(fields):
    """google.protobuf.Struct in protobuf's binary form: fields = {key: str | dict}."""
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    def ld(field, payload):  # length-delimited field
        return varint(field << 3 | 2) + varint(len(payload)) + payload

    out = b""
    for key, value in fields.items():
        if isinstance(value, dict):
            val = ld(5, struct_bytes(value))  # Value.struct_value
        else:
            val = ld(3, value.encode())  # Value.string_value
        out += ld(1, ld(1, key.encode()) + ld(2, val))  # Struct.fields map entry
    return out


CLIENT = {"NAME": "client-abc", "NAMESPACE": "default", "WORKLOAD_NAME": "client",
          "SERVICE_ACCOUNT": "client", "CLUSTER_ID": "Kubernetes",
          "LABELS": {"app": "client", "version": "v1"}}
NODE = {"id": "sidecar~127.0.0.1~server-abc.default~default.svc.cluster.local",
        "cluster": "server",
        "metadata": {"NAME": "server-abc", "NAMESPACE": "default", "WORKLOAD_NAME": "server",
                     "SERVICE_ACCOUNT": "server", "CLUSTER_ID": "Kubernetes",
                     "LABELS": {"app": "server", "version": "v1"}}}


def bootstrap(port, admin_port, mode):
    filters = []
    if not mode.startswith("none"):
        filters.append({"name": "istio.stats", "typed_config": {
            "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
            "type_url": "type.googleapis.com/stats.PluginConfig", "value": {}}})
    filters.append({"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}})
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network."
                    "http_connection_manager.v3.HttpConnectionManager",
           "stat_prefix": "bench",
           "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
               {"match": {"prefix": "/"},
                "direct_response": {"status": 200, "body": {"inline_string": "hello world\n"}}}]}]},
           "http_filters": filters}
    listener = {"name": "bench",
                "traffic_direction": "INBOUND" if mode == "inbound" else "OUTBOUND",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}]}
    return {"node": NODE,
            "admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                     "port_value": admin_port}}},
            "static_resources": {"listeners": [listener]}}


def wait_port(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("weft-proxy exited")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("weft-proxy did not listen")


def run(args, build, work, mode):
    port, admin_port = free_port(), free_port()
    path = os.path.join(work, f"{mode}.json")
    with open(path, "w") as f:
        json.dump(bootstrap(port, admin_port, mode), f)
    proxy = subprocess.Popen(["taskset", "-c", args.server_cpu,
                              args.proxy or os.path.join(build, "bin", "weft-proxy"), "-c", path,
                              "--concurrency", "1", "-l", "warning"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proxy)
        cmd = ["taskset", "-c", args.client_cpu, "wrk", "-t1", f"-c{args.conns}",
               f"-d{args.duration}", f"http://127.0.0.1:{port}/"]
        if mode in ("inbound", "none_peer"):
            peer = base64.b64encode(struct_bytes(CLIENT)).decode()
            cmd[4:4] = ["-H", f"x-envoy-peer-metadata: {peer}",
                        "-H", "x-envoy-peer-metadata-id: sidecar~127.0.0.2~client-abc.default"]
        perf = None
        if args.perf and not mode.startswith("none"):
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-p",
                                     str(proxy.pid), "-o",
                                     os.path.join(args.perf, f"perf-{mode}.data")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        if perf:
            perf.send_signal(2)
            perf.wait(timeout=30)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if "Non-2xx" in out or "Socket errors" in out:
            print(f"  {mode}: errors:\n{out}", file=sys.stderr)
        return float(m.group(1))
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build", nargs="?", default="build")
    p.add_argument("--proxy", help="the weft-proxy binary (default BUILD_DIR/bin/weft-proxy)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--conns", type=int, default=8)
    p.add_argument("--modes", default="none,outbound,none_peer,inbound")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--perf", help="directory: perf record -e cpu-clock -g the proxy there")
    args = p.parse_args()
    build = os.path.abspath(args.build)
    modes = args.modes.split(",")
    results = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="weft-istio-cost-") as work:
        for rep in range(args.reps):
            for mode in modes:
                rps = run(args, build, work, mode)
                results[mode].append(rps)
                print(f"rep {rep + 1} {mode}: {rps:.0f} req/s", file=sys.stderr)
    for mode in modes:
        med = statistics.median(results[mode])
        base_mode = "none_peer" if mode == "inbound" else "none"
        ratio = ""
        if base_mode in results and mode != base_mode:
            ratio = f"  ratio to {base_mode} {med / statistics.median(results[base_mode]):.3f}"
        print(f"{mode:9s} median {med:8.0f} req/s  (runs: "
              f"{', '.join(f'{r:.0f}' for r in results[mode])}){ratio}")


if __name__ == "__main__":
    main()
