#!/usr/bin/env python3
"""Turns the raw results of one bench/mtls.sh invocation into medians, ratios and goal checks.

Reads from mtls.sh's work directory:
  meta.tsv     KEY<TAB>VALUE
  targets.tsv  MODE<TAB>TARGET<TAB>KEY<TAB>VALUE
  runs.tsv     MODE REP CONNS TARGET CLIENT_CPU_BEFORE CLIENT_CPU_AFTER SERVER_CPU_BEFORE
               SERVER_CPU_AFTER SERVER_COUNTERS_BEFORE SERVER_COUNTERS_AFTER WRK_EXIT WRK_OUTPUT
               (tab separated; counters are "CONNECTIONS HANDSHAKES RESUMED", "-" if unknown)
writes the full result as JSON (--json FILE) and prints a markdown summary on stdout. The wrk
parsing, statistics and formatting are report.py's (bench/run.sh's report).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt, fmt_ratio, load_key, parse_wrk, ratio, read_tsv, spread  # noqa: E402

TARGETS = ["direct", "weft", "weft-mtls", "haproxy", "haproxy-mtls", "haproxy-mtls-full"]
PAIRS = TARGETS[1:]
DISPLAY = {"direct": "direct", "weft": "weft-proxy pair, plaintext",
           "weft-mtls": "weft-proxy pair, mTLS", "haproxy": "HAProxy pair, plaintext",
           "haproxy-mtls": "HAProxy pair, mTLS",
           "haproxy-mtls-full": "HAProxy pair, mTLS, no resumption"}
MODE_TITLE = {"keepalive": "keep-alive between the proxies",
              "newconn": "new connection (and TLS handshake) per request between the proxies"}

# The targets stated in issue 6 (see bench/README.md).
GOAL_KEEPALIVE_CPU_RATIO = 1.15  # weft mTLS pair CPU/request <= 1.15 x weft plaintext pair
# and: weft's server-side handshakes per CPU-second >= HAProxy's (new connection per request).

METRICS = ["rps", "p50_us", "p99_us", "added_p50_us", "added_p99_us",
           "client_cpu_us_per_request", "server_cpu_us_per_request", "pair_cpu_us_per_request",
           "server_connections_per_request", "handshakes_per_request", "handshakes_per_cpu_s"]
COUNTS = ["server_connections", "handshakes", "resumed"]


def _counters(text):
    values = text.split()
    return [None if v == "-" else int(v) for v in values] if len(values) == 3 else [None] * 3


def _delta(before, after):
    return None if before is None or after is None else after - before


def _cpu_s(before, after):
    if not before or not after:
        return None
    return round(float(after) - float(before), 3)


def load_runs(path):
    runs = []
    for (mode, rep, conns, target, cc0, cc1, sc0, sc1, st0, st1, wrk_exit,
         output_file) in read_tsv(path):
        run = {"mode": mode, "rep": int(rep), "conns": load_key(conns), "target": target,
               "wrk_exit": int(wrk_exit)}
        try:
            with open(output_file) as f:
                parsed = parse_wrk(f.read()) if run["wrk_exit"] == 0 else None
        except FileNotFoundError:
            parsed = None
        run["ok"] = parsed is not None
        if parsed:
            run.update(parsed)
            requests = parsed["requests"]
            client_s, server_s = _cpu_s(cc0, cc1), _cpu_s(sc0, sc1)
            if target != "direct" and client_s is not None and server_s is not None:
                run["client_cpu_s"], run["server_cpu_s"] = client_s, server_s
                run["client_cpu_us_per_request"] = client_s * 1e6 / requests
                run["server_cpu_us_per_request"] = server_s * 1e6 / requests
                run["pair_cpu_us_per_request"] = (client_s + server_s) * 1e6 / requests
            for name, before, after in zip(COUNTS, _counters(st0), _counters(st1)):
                run[name] = _delta(before, after)
            if run.get("server_connections") is not None:
                run["server_connections_per_request"] = run["server_connections"] / requests
            if run.get("handshakes") is not None and "-mtls" in target:
                run["handshakes_per_request"] = run["handshakes"] / requests
                if run["handshakes"] > 0 and run.get("server_cpu_s"):
                    run["handshakes_per_cpu_s"] = run["handshakes"] / run["server_cpu_s"]
        runs.append(run)
    direct = {(r["mode"], r["rep"], r["conns"]): r for r in runs
              if r["target"] == "direct" and r["ok"]}
    for run in runs:
        base = direct.get((run["mode"], run["rep"], run["conns"]))
        if run["target"] != "direct" and run["ok"] and base is not None:
            for p in ("p50", "p99"):
                run[f"added_{p}_us"] = run[f"{p}_us"] - base[f"{p}_us"]
    return runs


def summarize(runs, modes, conns_list):
    summary = {}
    for mode in modes:
        for target in TARGETS:
            for conns in conns_list:
                mine = [r for r in runs if (r["mode"], r["target"], r["conns"]) ==
                        (mode, target, conns) and r["ok"]]
                if not mine:
                    continue
                entry = {m: spread([r.get(m) for r in mine]) for m in METRICS}
                entry = {m: s for m, s in entry.items() if s is not None}
                for name in COUNTS:
                    values = [r.get(name) for r in mine]
                    entry[name] = None if None in values else sum(values)
                entry["requests"] = sum(r["requests"] for r in mine)
                entry["errors"] = sum(r["errors"] for r in mine)
                entry["failed_runs"] = sum(
                    1 for r in runs if (r["mode"], r["target"], r["conns"]) ==
                    (mode, target, conns) and not r["ok"])
                summary.setdefault(mode, {}).setdefault(target, {})[str(conns)] = entry
    return summary


def median_of(summary, mode, target, conns, metric):
    s = summary.get(mode, {}).get(target, {}).get(str(conns), {}).get(metric)
    return s["median"] if isinstance(s, dict) else None


RATIOS = [  # (id, label, numerator target, denominator target, metric)
    ("weft_mtls_over_plaintext", "weft-proxy mTLS ÷ plaintext, pair CPU/request", "weft-mtls",
     "weft", "pair_cpu_us_per_request"),
    ("haproxy_mtls_over_plaintext", "HAProxy mTLS ÷ plaintext, pair CPU/request",
     "haproxy-mtls", "haproxy", "pair_cpu_us_per_request"),
    ("weft_over_haproxy_mtls", "weft-proxy ÷ HAProxy, mTLS pair CPU/request", "weft-mtls",
     "haproxy-mtls", "pair_cpu_us_per_request"),
    ("weft_over_haproxy_plaintext", "weft-proxy ÷ HAProxy, plaintext pair CPU/request", "weft",
     "haproxy", "pair_cpu_us_per_request"),
    ("weft_over_haproxy_mtls_rps", "weft-proxy ÷ HAProxy, mTLS requests/s", "weft-mtls",
     "haproxy-mtls", "rps"),
    ("weft_over_haproxy_handshakes_per_cpu_s",
     "weft-proxy ÷ HAProxy, server-side handshakes per CPU-second", "weft-mtls", "haproxy-mtls",
     "handshakes_per_cpu_s"),
    ("weft_over_haproxy_full_handshakes_per_cpu_s",
     "weft-proxy ÷ HAProxy without resumption, server-side handshakes per CPU-second",
     "weft-mtls", "haproxy-mtls-full", "handshakes_per_cpu_s"),
]


def compute_ratios(summary, modes, conns_list):
    out = []
    for mode in modes:
        for conns in conns_list:
            for rid, label, num, den, metric in RATIOS:
                if (metric == "handshakes_per_cpu_s" or den.endswith("-full")) and \
                        mode != "newconn":
                    continue
                out.append({"id": rid, "label": label, "mode": mode, "conns": conns,
                            "value": ratio(median_of(summary, mode, num, conns, metric),
                                           median_of(summary, mode, den, conns, metric))})
    return out


def check_goals(summary, modes, conns_list):
    goals = []
    for conns in conns_list:
        if "keepalive" in modes:
            mtls = median_of(summary, "keepalive", "weft-mtls", conns, "pair_cpu_us_per_request")
            plain = median_of(summary, "keepalive", "weft", conns, "pair_cpu_us_per_request")
            value = ratio(mtls, plain)
            goals.append({"id": f"keepalive_mtls_cpu_ratio_{conns}_conns",
                          "goal": f"keep-alive, {conns} conns: weft-proxy mTLS pair CPU/request "
                                  f"≤ {GOAL_KEEPALIVE_CPU_RATIO}× plaintext",
                          "measured": value, "limit": GOAL_KEEPALIVE_CPU_RATIO, "unit": "×",
                          "passed": None if value is None
                          else value <= GOAL_KEEPALIVE_CPU_RATIO})
        if "newconn" in modes:
            weft = median_of(summary, "newconn", "weft-mtls", conns, "handshakes_per_cpu_s")
            haproxy = median_of(summary, "newconn", "haproxy-mtls", conns,
                                "handshakes_per_cpu_s")
            goals.append({"id": f"handshakes_per_cpu_s_{conns}_conns",
                          "goal": f"new connection per request, {conns} conns: weft-proxy "
                                  f"server-side handshakes per CPU-second ≥ HAProxy's",
                          "measured": weft, "limit": haproxy, "unit": "/CPU-s",
                          "passed": None if weft is None or haproxy is None
                          else weft >= haproxy})
            # Not the target, but the like-for-like comparison while weft-proxy's
            # upstream side does not resume sessions: HAProxy doing full handshakes too.
            full = median_of(summary, "newconn", "haproxy-mtls-full", conns,
                             "handshakes_per_cpu_s")
            goals.append({"id": f"full_handshakes_per_cpu_s_{conns}_conns",
                          "goal": f"(like for like) new connection per request, {conns} conns: "
                                  f"weft-proxy server-side handshakes per CPU-second ≥ HAProxy's "
                                  f"without resumption",
                          "measured": weft, "limit": full, "unit": "/CPU-s",
                          "passed": None if weft is None or full is None else weft >= full})
    return goals


def _count(value):
    return "–" if value is None else f"{value:,}"


def markdown(meta, settings, targets, summary, ratios, goals):
    out = [f"### Mutual TLS between two proxies: weft-proxy vs HAProxy — {meta.get('date', '')}",
           ""]
    reps = "repetition" if settings["reps"] == 1 else "interleaved repetitions"
    out.append(f"{settings['reps']} {reps} × {settings['duration_s']} s per run, wrk -t1 on CPU "
               f"{settings['client_cpu']}, both proxies of a pair and the upstream on CPU "
               f"{settings['server_cpu']}, loopback. wrk → client-side proxy (plaintext, "
               f"keep-alive) → mTLS (EC P-256, SPIFFE URI SANs, client certificate required) or "
               f"plaintext → server-side proxy → nginx `return 200`. CPU is both proxies' "
               f"utime+stime from /proc per request; connections, handshakes and resumed "
               f"sessions are the server side's counters (weft-proxy: listener "
               f"downstream_cx_total, ssl.handshake, ssl.session_reused; HAProxy: frontend "
               f"conn_tot, CumSslConns, ssl_reused_sess). Medians over repetitions; counts "
               f"are sums.")
    out.append("")
    out.append(f"Machine: {meta.get('cpu_model', '?')}, {meta.get('cpus', '?')} CPUs, kernel "
               f"{meta.get('kernel', '?')}. Versions: weft {meta.get('weft_version', '?')}, "
               f"HAProxy {meta.get('haproxy_version', '?')}, OpenSSL "
               f"{meta.get('openssl_version', '?')}, nginx {meta.get('nginx_version', '?')}, wrk "
               f"{meta.get('wrk_version', '?')}.")
    out.append("")
    for mode in settings["modes"]:
        out.append(f"#### {MODE_TITLE[mode]}")
        out.append("")
        for target in TARGETS:
            t = targets.get(mode, {}).get(target, {})
            if target.endswith("-full") and mode != "newconn":
                continue
            if t.get("status", "not run") != "ok":
                note = t.get("note", "")
                out.append(f"- **{DISPLAY[target]}: {t.get('status', 'not run')}**"
                           + (f" ({note})" if note else ""))
        if out[-1]:
            out.append("")
        out.append("| conns | target | requests/s | p50 µs | p99 µs | added p50 µs | CPU µs/req "
                   "client | server | pair | server conns/req | handshakes | resumed "
                   "| handshakes/CPU-s | errors |")
        out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for conns in settings["conns"]:
            for target in TARGETS:
                row = summary.get(mode, {}).get(target, {}).get(str(conns))
                if not row:
                    continue
                m = lambda k: row[k]["median"] if k in row else None  # noqa: E731
                out.append(
                    f"| {conns} | {DISPLAY[target]} | {fmt(m('rps'), 0)} | {fmt(m('p50_us'))} "
                    f"| {fmt(m('p99_us'))} | {fmt(m('added_p50_us'))} "
                    f"| {fmt(m('client_cpu_us_per_request'), 2)} "
                    f"| {fmt(m('server_cpu_us_per_request'), 2)} "
                    f"| {fmt(m('pair_cpu_us_per_request'), 2)} "
                    f"| {fmt(m('server_connections_per_request'), 3)} "
                    f"| {_count(row.get('handshakes'))} | {_count(row.get('resumed'))} "
                    f"| {fmt(m('handshakes_per_cpu_s'), 0)} "
                    f"| {row['errors'] + row['failed_runs']} |")
        out.append("")
    out.append("Ratios (medians):")
    out.append("")
    out.append("| ratio | mode | conns | value |")
    out.append("|---|---|---:|---:|")
    for r in ratios:
        out.append(f"| {r['label']} | {r['mode']} | {r['conns']} | {fmt_ratio(r['value'])} |")
    out.append("")
    out.append("Targets (issue 6):")
    out.append("")
    for g in goals:
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[g["passed"]]
        if g["unit"] == "×":
            text = f"{fmt_ratio(g['measured'])} (limit {fmt_ratio(g['limit'])})"
        else:
            text = f"{fmt(g['measured'], 0)} vs HAProxy {fmt(g['limit'], 0)} handshakes/CPU-s"
        out.append(f"- {g['goal']}: {text} — **{verdict}**")
    out.append("")
    noisy = [f"{DISPLAY[t]} ({mode}, {c} conns)" for mode, per in summary.items()
             for t, rows in per.items() for c, row in rows.items()
             if row["errors"] or row["failed_runs"]]
    if noisy:
        out.append("**Warning:** errors or failed runs for " + ", ".join(noisy) +
                   "; their numbers are suspect.")
        out.append("")
    return "\n".join(out)


def load_targets(path):
    targets = {}
    for mode, target, key, value in read_tsv(path):
        entry = targets.setdefault(mode, {}).setdefault(target, {})
        entry[key] = int(value) if value.lstrip("-").isdigit() else value
    return targets


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="mtls.sh's work directory")
    parser.add_argument("--json", required=True, help="where to write the full result")
    args = parser.parse_args()

    meta = dict(read_tsv(f"{args.workdir}/meta.tsv"))
    settings = {"reps": int(meta.pop("reps")), "duration_s": int(meta.pop("duration_s")),
                "conns": [load_key(c) for c in meta.pop("conns").split()],
                "modes": meta.pop("modes").split(),
                "server_cpu": meta.pop("server_cpu"), "client_cpu": meta.pop("client_cpu"),
                "quick": meta.pop("quick") == "1"}
    targets = load_targets(f"{args.workdir}/targets.tsv")
    runs = load_runs(f"{args.workdir}/runs.tsv")
    summary = summarize(runs, settings["modes"], settings["conns"])
    ratios = compute_ratios(summary, settings["modes"], settings["conns"])
    goals = check_goals(summary, settings["modes"], settings["conns"])
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "settings": settings, "targets": targets, "summary": summary,
                   "ratios": ratios, "goals": goals, "runs": runs}, f, indent=2)
        f.write("\n")
    print(markdown(meta, settings, targets, summary, ratios, goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
