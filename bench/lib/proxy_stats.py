#!/usr/bin/env python3
"""Connection and TLS handshake counters of the server-side proxy of a pair (bench/mtls.sh).

Subcommands, each printing "CONNECTIONS HANDSHAKES RESUMED" (cumulative since start):
  weft ADMIN_PORT     weft-proxy's admin /stats: the sum over its listeners of
                      listener.<address>.downstream_cx_total, .ssl.handshake and
                      .ssl.session_reused (Envoy's stat names)
  haproxy SOCKET      HAProxy's stats socket: the `bench` frontend's conn_tot (`show stat`),
                      the process's CumSslConns (`show info`; only the frontend does TLS on the
                      server side) and the frontend's ssl_reused_sess (the SSL stats module)

A counter the proxy does not have (weft-proxy without ssl.session_reused, say) prints as "-".
Python standard library only.
"""

import re
import socket
import sys
import urllib.request

_WEFT_LISTENER_STAT = re.compile(
    r"^listener\.[^ ]+?\.(downstream_cx_total|ssl\.handshake|ssl\.session_reused): (\d+)$")


def weft(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats", timeout=5) as response:
        text = response.read().decode()
    totals = {}
    for line in text.splitlines():
        if m := _WEFT_LISTENER_STAT.match(line):
            totals[m.group(1)] = totals.get(m.group(1), 0) + int(m.group(2))
    return [totals.get(k) for k in ("downstream_cx_total", "ssl.handshake", "ssl.session_reused")]


def _haproxy_command(path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def haproxy(path):
    info = dict(line.split(": ", 1) for line in _haproxy_command(path, "show info").splitlines()
                if ": " in line)
    lines = _haproxy_command(path, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    frontend = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "bench" and row.get("svname") == "FRONTEND":
            frontend = row
    def number(value):
        return int(value) if value not in (None, "") else None
    return [number(frontend.get("conn_tot")), number(info.get("CumSslConns")),
            number(frontend.get("ssl_reused_sess"))]


def main(argv):
    if len(argv) == 2 and argv[0] == "weft":
        values = weft(int(argv[1]))
    elif len(argv) == 2 and argv[0] == "haproxy":
        values = haproxy(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(" ".join("-" if v is None else str(v) for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
