#!/usr/bin/env python3
"""Small process and socket helpers for bench/run.sh (Python standard library only).

Subcommands:
  free-ports N                 print N distinct free loopback TCP ports, space separated
  wait-http URL SECONDS [PID]  exit 0 once GET URL answers 200 with body "hello world";
                               exit 1 on timeout or as soon as PID (if given) has exited
  sample PID                   print "CPU_SECONDS RSS_KB PSS_KB NPROCS" for PID and its
                               child processes (an nginx master and its workers)
  children PID                 print the PIDs of PID's child processes, space separated
  cpus                         print the CPUs this process may run on, space separated

CPU time is utime+stime from /proc/PID/stat, which the kernel accumulates over all threads of a
process (including threads that already exited), in clock ticks of SC_CLK_TCK.
"""

import os
import socket
import sys
import time
import urllib.error
import urllib.request

EXPECTED_BODY = b"hello world\n"


def free_ports(count):
    # Keep every socket bound until all are chosen so the ports are distinct. Another process can
    # still grab one before our servers bind it; run.sh notices because the server fails to start.
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_http(url, timeout_s, pid=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pid is not None and not process_alive(pid):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200 and response.read() == EXPECTED_BODY:
                    return True
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    return False


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (which may contain spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _children(pid):
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            # Field 4 of stat (ppid) is index 1 once pid and comm are stripped.
            if int(_stat_fields(entry)[1]) == pid:
                children.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return children


def _status_kb(pid, file_name, key):
    try:
        with open(f"/proc/{pid}/{file_name}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def sample(pid):
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    cpu_ticks = rss_kb = pss_kb = 0
    processes = [pid] + _children(pid)
    for p in processes:
        try:
            fields = _stat_fields(p)
        except (FileNotFoundError, ProcessLookupError):
            continue
        # utime and stime are stat fields 14 and 15: indices 11 and 12 after pid and comm.
        cpu_ticks += int(fields[11]) + int(fields[12])
        rss_kb += _status_kb(p, "status", "VmRSS")
        pss_kb += _status_kb(p, "smaps_rollup", "Pss")
    return cpu_ticks / ticks_per_second, rss_kb, pss_kb, len(processes)


def main(argv):
    if len(argv) >= 2 and argv[0] == "free-ports":
        print(" ".join(str(p) for p in free_ports(int(argv[1]))))
        return 0
    if len(argv) in (3, 4) and argv[0] == "wait-http":
        pid = int(argv[3]) if len(argv) == 4 else None
        return 0 if wait_http(argv[1], float(argv[2]), pid) else 1
    if len(argv) == 2 and argv[0] == "children":
        print(" ".join(str(p) for p in _children(int(argv[1]))))
        return 0
    if len(argv) == 1 and argv[0] == "cpus":
        print(" ".join(str(c) for c in sorted(os.sched_getaffinity(0))))
        return 0
    if len(argv) == 2 and argv[0] == "sample":
        cpu_s, rss_kb, pss_kb, nprocs = sample(int(argv[1]))
        print(f"{cpu_s:.2f} {rss_kb} {pss_kb} {nprocs}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
