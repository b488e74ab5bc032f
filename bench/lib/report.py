#!/usr/bin/env python3
"""Turns the raw results of one bench/run.sh invocation into medians, ratios and goal checks.

Reads what run.sh recorded in its work directory:
  meta.tsv     KEY<TAB>VALUE                      (machine, versions, settings)
  targets.tsv  TARGET<TAB>KEY<TAB>VALUE           (status, RSS samples, notes)
  runs.tsv     REP CONNS TARGET CPU_BEFORE_S CPU_AFTER_S WRK_EXIT WRK_OUTPUT_FILE (tab separated)
writes the full result as JSON (--json FILE) and prints a markdown summary on stdout.

Python standard library only.
"""

import argparse
import json
import re
import statistics
import sys

TARGETS = ["direct", "weft", "nginx", "haproxy"]
PROXIES = ["weft", "nginx", "haproxy"]
DISPLAY = {"direct": "direct", "weft": "weft-proxy", "nginx": "nginx", "haproxy": "HAProxy"}

# The goals stated in the benchmark's issue (see bench/README.md).
GOAL_CPU_RATIO = 0.7  # weft CPU per request <= 0.7 x the better of nginx/HAProxy
GOAL_ADDED_P50_US = 25.0  # added p50 at 1 connection
GOAL_IDLE_RSS_KB = 8 * 1024  # idle RSS with one worker

# wrk prints durations with one of these suffixes (its format_time_us).
_MICROSECONDS_PER_UNIT = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
_PERCENTILE_LINE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$")
_REQUESTS_LINE = re.compile(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)")
_RPS_LINE = re.compile(r"^Requests/sec:\s+([0-9.]+)")
_SOCKET_ERRORS_LINE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX_LINE = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def to_microseconds(value, unit):
    return float(value) * _MICROSECONDS_PER_UNIT[unit]


def parse_wrk(text):
    """Parses `wrk --latency` output. Returns a dict, or None when the run produced no result."""
    result = {"errors": 0}
    for line in text.splitlines():
        if m := _PERCENTILE_LINE.match(line):
            result[f"p{m.group(1)}_us"] = to_microseconds(m.group(2), m.group(3))
        elif m := _REQUESTS_LINE.match(line):
            result["requests"] = int(m.group(1))
            result["elapsed_s"] = to_microseconds(m.group(2), m.group(3)) / 1e6
        elif m := _RPS_LINE.match(line):
            result["rps"] = float(m.group(1))
        elif m := _SOCKET_ERRORS_LINE.search(line):
            result["errors"] += sum(int(g) for g in m.groups())
        elif m := _NON_2XX_LINE.search(line):
            result["errors"] += int(m.group(1))
    needed = ("requests", "rps", "p50_us", "p99_us")
    if not all(k in result for k in needed) or result["requests"] == 0:
        return None
    return result


# h2load (nghttp2-client) output. It reports min/max/mean/sd of request time, not percentiles, so
# an HTTP/2 row's "p50" is h2load's mean and its "p99" the mean + 2 sd (labelled so in markdown).
_H2_FINISHED_LINE = re.compile(r"^finished in ([0-9.]+)(us|ms|s|m|h), ([0-9.]+) req/s")
_H2_REQUESTS_LINE = re.compile(
    r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout")
_H2_STATUS_LINE = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_H2_TIME_LINE = re.compile(r"^time for request:\s+([0-9.]+)(us|ms|s)\s+([0-9.]+)(us|ms|s)\s+"
                           r"([0-9.]+)(us|ms|s)\s+([0-9.]+)(us|ms|s)")


def parse_h2load(text):
    """Parses h2load output. Returns a dict shaped like parse_wrk's, or None without a result.

    Errors are non-2xx answers plus requests that failed for another reason than the run's end:
    h2load counts the streams still in flight when -D expires as failed, at most one per stream
    slot, so `failed` beyond `started - done` is what counts."""
    result = {"errors": 0}
    for line in text.splitlines():
        if m := _H2_FINISHED_LINE.match(line):
            result["elapsed_s"] = to_microseconds(m.group(1), m.group(2)) / 1e6
            result["rps"] = float(m.group(3))
        elif m := _H2_REQUESTS_LINE.match(line):
            total, started, done, succeeded, failed, errored, timeout = map(int, m.groups())
            result["requests"] = succeeded
            result["errors"] += max(0, failed - (started - done)) + timeout
        elif m := _H2_STATUS_LINE.match(line):
            result["errors"] += sum(int(g) for g in m.groups()[1:])
        elif m := _H2_TIME_LINE.match(line):
            mean = to_microseconds(m.group(5), m.group(6))
            sd = to_microseconds(m.group(7), m.group(8))
            result["p50_us"] = mean
            result["p99_us"] = mean + 2 * sd
    needed = ("requests", "rps", "p50_us", "p99_us")
    if not all(k in result for k in needed) or result["requests"] == 0:
        return None
    return result


def load_key(conns):
    """A load as recorded: a connection count (wrk) or CLIENTSxSTREAMS (h2load)."""
    return int(conns) if conns.isdigit() else conns


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def load_runs(path, parse=parse_wrk):
    runs = []
    for rep, conns, target, cpu_before, cpu_after, wrk_exit, output_file in read_tsv(path):
        run = {"rep": int(rep), "conns": load_key(conns), "target": target,
               "wrk_exit": int(wrk_exit)}
        try:
            with open(output_file) as f:
                parsed = parse(f.read()) if run["wrk_exit"] == 0 else None
        except FileNotFoundError:
            parsed = None
        run["ok"] = parsed is not None
        if parsed:
            run.update(parsed)
            if target != "direct" and cpu_before and cpu_after:
                cpu_s = round(float(cpu_after) - float(cpu_before), 3)
                run["proxy_cpu_s"] = cpu_s
                run["cpu_us_per_request"] = cpu_s * 1e6 / parsed["requests"]
        runs.append(run)
    add_added_latency(runs)
    return runs


def add_added_latency(runs):
    """Added latency = proxied percentile - direct percentile of the same rep and connections."""
    direct = {(r["rep"], r["conns"]): r for r in runs if r["target"] == "direct" and r["ok"]}
    for run in runs:
        base = direct.get((run["rep"], run["conns"]))
        if run["target"] == "direct" or not run["ok"] or base is None:
            continue
        for p in ("p50", "p99"):
            run[f"added_{p}_us"] = run[f"{p}_us"] - base[f"{p}_us"]


def load_targets(path):
    targets = {t: {"status": "not run"} for t in TARGETS}
    for target, key, value in read_tsv(path):
        entry = targets.setdefault(target, {})
        entry[key] = int(value) if value.lstrip("-").isdigit() else value
    return targets


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


SUMMARY_METRICS = ["rps", "p50_us", "p99_us", "added_p50_us", "added_p99_us",
                   "cpu_us_per_request"]


def summarize(runs, conns_list):
    summary = {}
    for target in TARGETS:
        per_conns = {}
        for conns in conns_list:
            mine = [r for r in runs if r["target"] == target and r["conns"] == conns and r["ok"]]
            if not mine:
                continue
            entry = {m: spread([r.get(m) for r in mine]) for m in SUMMARY_METRICS}
            entry = {m: s for m, s in entry.items() if s is not None}
            entry["errors"] = sum(r["errors"] for r in mine)
            entry["failed_runs"] = sum(1 for r in runs if r["target"] == target
                                       and r["conns"] == conns and not r["ok"])
            per_conns[str(conns)] = entry
        if per_conns:
            summary[target] = per_conns
    return summary


def median_of(summary, target, conns, metric):
    s = summary.get(target, {}).get(str(conns), {}).get(metric)
    return s["median"] if s else None


# For throughput the better competitor is the faster one; for every cost, the cheaper one.
HIGHER_IS_BETTER = {"rps": True}


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def best_of(values, metric):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return max(values) if HIGHER_IS_BETTER.get(metric) else min(values)


def compute_ratios(summary, targets, conns_list):
    ratios = []
    for metric in ("rps", "added_p50_us", "added_p99_us", "cpu_us_per_request"):
        for conns in conns_list:
            weft = median_of(summary, "weft", conns, metric)
            nginx = median_of(summary, "nginx", conns, metric)
            haproxy = median_of(summary, "haproxy", conns, metric)
            ratios.append({"metric": metric, "conns": conns,
                           "weft_over_nginx": ratio(weft, nginx),
                           "weft_over_haproxy": ratio(weft, haproxy),
                           "weft_over_best": ratio(weft, best_of([nginx, haproxy], metric))})
    for metric in ("idle_rss_kb", "after_rss_kb"):
        weft, nginx, haproxy = (targets[t].get(metric) for t in PROXIES)
        ratios.append({"metric": metric, "conns": None,
                       "weft_over_nginx": ratio(weft, nginx),
                       "weft_over_haproxy": ratio(weft, haproxy),
                       "weft_over_best": ratio(weft, best_of([nginx, haproxy], metric))})
    return ratios


def check_goals(summary, targets, conns_list):
    """Each goal: what was measured against what was promised; passed is None when unmeasured."""
    goals = []
    for conns in conns_list:
        weft = median_of(summary, "weft", conns, "cpu_us_per_request")
        best = best_of([median_of(summary, t, conns, "cpu_us_per_request")
                        for t in ("nginx", "haproxy")], "cpu_us_per_request")
        limit = best * GOAL_CPU_RATIO if best is not None else None
        goals.append({"id": f"cpu_per_request_{conns}_conns",
                      "goal": f"CPU/request at {conns} conns <= {GOAL_CPU_RATIO}x best of "
                              "nginx/HAProxy", "measured": weft, "limit": limit, "unit": "us",
                      "passed": None if weft is None or limit is None else weft <= limit})
    added = median_of(summary, "weft", conns_list[0], "added_p50_us")  # 1 conn, or 1x1
    goals.append({"id": "added_p50_1_conn", "goal": "added p50 at 1 conn", "measured": added,
                  "limit": GOAL_ADDED_P50_US, "unit": "us",
                  "passed": None if added is None else added <= GOAL_ADDED_P50_US})
    rss = targets["weft"].get("idle_rss_kb")
    goals.append({"id": "idle_rss", "goal": "idle RSS, 1 worker", "measured": rss,
                  "limit": GOAL_IDLE_RSS_KB, "unit": "kB",
                  "passed": None if rss is None else rss <= GOAL_IDLE_RSS_KB})
    return goals


# ---- markdown ---------------------------------------------------------------------------------

def fmt(value, digits=1):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}×"


def fmt_mb(kb):
    return "–" if not isinstance(kb, int) else f"{kb / 1024:.1f}"


METRIC_LABEL = {"rps": "requests/s", "added_p50_us": "added p50", "added_p99_us": "added p99",
                "cpu_us_per_request": "CPU µs/request", "idle_rss_kb": "RSS idle",
                "after_rss_kb": "RSS after load"}


PROTOCOL_TITLE = {"h1": "HTTP/1.1 (wrk)", "h2": "HTTP/2 h2c (h2load)",
                  "grpc": "gRPC unary over h2c (h2load)"}


def markdown(meta, settings, targets, summary, ratios, goals):
    out = []
    protocol = settings.get("protocol", "h1")
    h2 = protocol != "h1"
    out.append(f"### weft-proxy vs nginx vs HAProxy, {PROTOCOL_TITLE[protocol]} — "
               f"{meta.get('date', '')}")
    out.append("")
    repetitions = "repetition" if settings["reps"] == 1 else "interleaved repetitions"
    if h2:
        out.append(f"{settings['reps']} {repetitions} × {settings['duration_s']} s per run, "
                   f"h2load -t1 on CPU {settings['client_cpu']}, proxies and upstream on CPU "
                   f"{settings['server_cpu']}, loopback, h2c prior knowledge; load = clients × "
                   f"streams per client (-c × -m); upstream nginx h2c `return 200`. h2load gives "
                   f"no percentiles: the p50 column is its mean, the p99 column mean + 2 sd. "
                   f"Medians over repetitions; added latency is proxied minus direct in the same "
                   f"repetition.")
    else:
        out.append(f"{settings['reps']} {repetitions} × {settings['duration_s']} s per run, "
                   f"wrk -t1 on CPU {settings['client_cpu']}, proxies and upstream on CPU "
                   f"{settings['server_cpu']}, loopback, HTTP/1.1 keep-alive, upstream nginx "
                   f"`return 200`. Medians shown; added latency is proxied minus direct in the "
                   f"same repetition.")
    out.append("")
    out.append(f"Machine: {meta.get('cpu_model', '?')}, {meta.get('cpus', '?')} CPUs, "
               f"kernel {meta.get('kernel', '?')}. Versions: weft {meta.get('weft_version', '?')}"
               f", nginx {meta.get('nginx_version', '?')}, HAProxy "
               f"{meta.get('haproxy_version', '?')}, "
               + (f"h2load {meta.get('h2load_version', '?')}." if h2
                  else f"wrk {meta.get('wrk_version', '?')}."))
    out.append("")
    for target in TARGETS:
        status = targets[target].get("status", "not run")
        if status != "ok":
            note = targets[target].get("note", "")
            out.append(f"- **{DISPLAY[target]}: {status}**" + (f" ({note})" if note else ""))
    if any(targets[t].get("status") != "ok" for t in TARGETS):
        out.append("")

    if h2:
        out.append("| clients×streams | target | requests/s | mean µs | mean+2sd µs "
                   "| added mean µs | added mean+2sd µs | CPU µs/req | errors |")
    else:
        out.append("| conns | target | requests/s | p50 µs | p99 µs | added p50 µs "
                   "| added p99 µs | CPU µs/req | errors |")
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for conns in settings["conns"]:
        for target in TARGETS:
            row = summary.get(target, {}).get(str(conns))
            if not row:
                continue
            m = lambda k: row[k]["median"] if k in row else None  # noqa: E731
            errors = row["errors"] + row["failed_runs"]
            out.append(f"| {conns} | {DISPLAY[target]} | {fmt(m('rps'), 0)} | {fmt(m('p50_us'))} "
                       f"| {fmt(m('p99_us'))} | {fmt(m('added_p50_us'))} "
                       f"| {fmt(m('added_p99_us'))} | {fmt(m('cpu_us_per_request'), 2)} "
                       f"| {errors} |")
    out.append("")

    out.append("| target | RSS idle MB | RSS after load MB | PSS idle MB | processes |")
    out.append("|---|---:|---:|---:|---:|")
    for target in PROXIES:
        t = targets[target]
        if t.get("status") != "ok":
            continue
        out.append(f"| {DISPLAY[target]} | {fmt_mb(t.get('idle_rss_kb'))} "
                   f"| {fmt_mb(t.get('after_rss_kb'))} | {fmt_mb(t.get('idle_pss_kb'))} "
                   f"| {t.get('processes', '–')} |")
    out.append("")

    if targets["weft"].get("status") == "ok":
        out.append("Ratios (weft-proxy ÷ other; below 1 is better except for requests/s; "
                   "best = the faster or cheaper of nginx and HAProxy):")
        out.append("")
        out.append("| metric | conns | weft/nginx | weft/HAProxy | weft/best |")
        out.append("|---|---:|---:|---:|---:|")
        for r in ratios:
            conns = "–" if r["conns"] is None else r["conns"]
            out.append(f"| {METRIC_LABEL[r['metric']]} | {conns} "
                       f"| {fmt_ratio(r['weft_over_nginx'])} "
                       f"| {fmt_ratio(r['weft_over_haproxy'])} "
                       f"| {fmt_ratio(r['weft_over_best'])} |")
        out.append("")
        out.append("Goals:")
        out.append("")
        for g in goals:
            verdict = {True: "PASS", False: "FAIL", None: "not measured"}[g["passed"]]
            scale = 1024 if g["unit"] == "kB" else 1
            unit = "MB" if g["unit"] == "kB" else "µs"
            measured = None if g["measured"] is None else g["measured"] / scale
            limit = None if g["limit"] is None else g["limit"] / scale
            out.append(f"- {g['goal']}: {fmt(measured, 2)} {unit} (limit {fmt(limit, 2)} {unit})"
                       f" — **{verdict}**")
        out.append("")
    else:
        out.append("Ratios and goals need weft-proxy; it was not measured in this run.")
        out.append("")

    noisy = [f"{DISPLAY[t]} at {c} conns" for t, per in summary.items() for c, row in per.items()
             if row["errors"] or row["failed_runs"]]
    if noisy:
        out.append("**Warning:** errors or failed runs for " + ", ".join(noisy) +
                   "; their numbers are suspect.")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="run.sh's work directory")
    parser.add_argument("--json", required=True, help="where to write the full result")
    args = parser.parse_args()

    meta = dict(read_tsv(f"{args.workdir}/meta.tsv"))
    settings = {"reps": int(meta.pop("reps")), "duration_s": int(meta.pop("duration_s")),
                "conns": [load_key(c) for c in meta.pop("conns").split()],
                "protocol": meta.pop("protocol", "h1"),
                "server_cpu": meta.pop("server_cpu"), "client_cpu": meta.pop("client_cpu"),
                "quick": meta.pop("quick") == "1"}
    targets = load_targets(f"{args.workdir}/targets.tsv")
    runs = load_runs(f"{args.workdir}/runs.tsv",
                     parse_wrk if settings["protocol"] == "h1" else parse_h2load)
    summary = summarize(runs, settings["conns"])
    ratios = compute_ratios(summary, targets, settings["conns"])
    goals = check_goals(summary, targets, settings["conns"])

    with open(args.json, "w") as f:
        json.dump({"meta": meta, "settings": settings, "targets": targets, "summary": summary,
                   "ratios": ratios, "goals": goals, "runs": runs}, f, indent=2)
        f.write("\n")
    print(markdown(meta, settings, targets, summary, ratios, goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
