#!/usr/bin/env python3
"""Unit tests of bench/lib/report.py: wrk parsing, added latency, medians, ratios and goals.

Run: python3 bench/lib/report_test.py
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

# The shape of `wrk --latency` output (wrk 4.1), with a millisecond p99 to exercise conversion.
WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:36247/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   130.52us  300.10us   7.85ms   98.90%
    Req/Sec    23.60k     1.10k   25.00k    85.00%
  Latency Distribution
     50%  129.00us
     75%  135.00us
     90%  142.00us
     99%    1.25ms
  47192 requests in 2.00s, 7.56MB read
Requests/sec:  23596.00
Transfer/sec:      3.78MB
"""

WRK_OUTPUT_WITH_ERRORS = WRK_OUTPUT.replace(
    "Requests/sec:",
    "  Socket errors: connect 0, read 2, write 0, timeout 3\n"
    "  Non-2xx or 3xx responses: 7\nRequests/sec:")

WRK_CONNECTION_REFUSED = "unable to connect to 127.0.0.1:1 Connection refused\n"


class ParseWrkTest(unittest.TestCase):
    def test_reads_throughput_and_percentiles_in_microseconds(self):
        parsed = report.parse_wrk(WRK_OUTPUT)
        self.assertEqual(parsed["requests"], 47192)
        self.assertAlmostEqual(parsed["rps"], 23596.0)
        self.assertAlmostEqual(parsed["p50_us"], 129.0)
        self.assertAlmostEqual(parsed["p90_us"], 142.0)
        self.assertAlmostEqual(parsed["p99_us"], 1250.0)
        self.assertAlmostEqual(parsed["elapsed_s"], 2.0)
        self.assertEqual(parsed["errors"], 0)

    def test_thread_stats_latency_line_is_not_a_percentile(self):
        # "Latency 130.52us ..." must not be taken for p50 even though it precedes the table.
        parsed = report.parse_wrk(WRK_OUTPUT.replace("     50%  129.00us\n", ""))
        self.assertIsNone(parsed)

    def test_counts_socket_errors_and_bad_statuses(self):
        self.assertEqual(report.parse_wrk(WRK_OUTPUT_WITH_ERRORS)["errors"], 12)

    def test_failed_run_has_no_result(self):
        self.assertIsNone(report.parse_wrk(WRK_CONNECTION_REFUSED))
        self.assertIsNone(report.parse_wrk(""))

    def test_units(self):
        self.assertEqual(report.to_microseconds("2.5", "ms"), 2500.0)
        self.assertEqual(report.to_microseconds("1.5", "s"), 1.5e6)
        self.assertEqual(report.to_microseconds("1", "m"), 60e6)
        self.assertEqual(report.to_microseconds("80.00", "us"), 80.0)


def wrk_text(rps, p50_us, p99_us, requests):
    return (f"  Latency Distribution\n     50%  {p50_us:.2f}us\n     75%  {p50_us:.2f}us\n"
            f"     90%  {p50_us:.2f}us\n     99%  {p99_us:.2f}us\n"
            f"  {requests} requests in 5.00s, 1.00MB read\nRequests/sec:  {rps:.2f}\n")


H2LOAD_OUTPUT = """finished in 2.00s, 25000.50 req/s, 1.20MB/s
requests: 50010 total, 50010 started, 50001 done, 50000 succeeded, 10 failed, 1 errored, 0 timeout
status codes: 49998 2xx, 0 3xx, 0 4xx, 2 5xx
traffic: 1.20MB (1258000) total, 500.00KB (512000) headers (space savings 90.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:       48us      5.51ms       400us       50us    93.00%
"""


class ParseH2loadTest(unittest.TestCase):
    def test_parses_rate_requests_latency_and_errors(self):
        r = report.parse_h2load(H2LOAD_OUTPUT)
        self.assertEqual(r["requests"], 50000)
        self.assertAlmostEqual(r["rps"], 25000.5)
        self.assertAlmostEqual(r["p50_us"], 400.0)  # the mean
        self.assertAlmostEqual(r["p99_us"], 500.0)  # mean + 2 sd
        # 10 failed, 9 of them still in flight at the end of -D (started - done); plus two 5xx.
        self.assertEqual(r["errors"], 1 + 2)

    def test_no_result(self):
        self.assertIsNone(report.parse_h2load("connect: Connection refused\n"))


class WorkdirFixture:
    """Writes what run.sh would record: meta, targets and runs with their wrk outputs."""

    def __init__(self, directory, conns=(1,)):
        self.dir = directory
        self.conns = conns
        self.runs = []
        self.targets = []

    def add_run(self, rep, conns, target, rps, p50_us, p99_us, requests=1000, cpu_s=None,
                wrk_exit=0):
        path = os.path.join(self.dir, f"rep{rep}-c{conns}-{target}.txt")
        with open(path, "w") as f:
            f.write(wrk_text(rps, p50_us, p99_us, requests))
        before, after = ("", "") if cpu_s is None else ("10.00", f"{10 + cpu_s:.2f}")
        self.runs.append([rep, conns, target, before, after, wrk_exit, path])

    def add_target(self, target, key, value):
        self.targets.append([target, key, value])

    def write(self):
        meta = {"date": "2026-01-01T00:00:00Z", "reps": "3", "duration_s": "5",
                "conns": " ".join(str(c) for c in self.conns), "server_cpu": "0",
                "client_cpu": "1", "quick": "0"}
        for name, rows in (("meta", meta.items()), ("targets", self.targets),
                           ("runs", self.runs)):
            with open(os.path.join(self.dir, f"{name}.tsv"), "w") as f:
                for row in rows:
                    f.write("\t".join(str(v) for v in row) + "\n")


class SummaryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.fixture = WorkdirFixture(self.tmp.name)
        for target in ("direct", "weft", "nginx", "haproxy"):
            self.fixture.add_target(target, "status", "ok")

    def tearDown(self):
        self.tmp.cleanup()

    def load(self):
        self.fixture.write()
        runs = report.load_runs(os.path.join(self.tmp.name, "runs.tsv"))
        targets = report.load_targets(os.path.join(self.tmp.name, "targets.tsv"))
        return runs, targets, report.summarize(runs, [1])

    def test_added_latency_subtracts_direct_of_the_same_repetition(self):
        # Direct drifts from 50 to 80 us between reps; weft always adds exactly 10 us. Comparing
        # against any other repetition's direct run would not give 10.
        self.fixture.add_run(1, 1, "direct", 10000, 50, 100)
        self.fixture.add_run(1, 1, "weft", 9000, 60, 130)
        self.fixture.add_run(2, 1, "direct", 10000, 80, 100)
        self.fixture.add_run(2, 1, "weft", 9000, 90, 130)
        runs, _, summary = self.load()
        self.assertEqual([r["added_p50_us"] for r in runs if r["target"] == "weft"], [10, 10])
        self.assertEqual(summary["weft"]["1"]["added_p99_us"]["median"], 30)

    def test_cpu_per_request_and_medians(self):
        for rep, cpu_s in ((1, 0.5), (2, 0.1), (3, 0.3)):
            self.fixture.add_run(rep, 1, "direct", 10000, 50, 100)
            self.fixture.add_run(rep, 1, "nginx", 8000 + rep, 70, 150, requests=10000,
                                 cpu_s=cpu_s)
        _, _, summary = self.load()
        cpu = summary["nginx"]["1"]["cpu_us_per_request"]
        self.assertAlmostEqual(cpu["median"], 30.0)  # 0.3 s / 10000 requests
        self.assertAlmostEqual(cpu["min"], 10.0)
        self.assertAlmostEqual(cpu["max"], 50.0)
        self.assertEqual(summary["nginx"]["1"]["rps"]["median"], 8002)
        self.assertNotIn("cpu_us_per_request", summary["direct"]["1"])

    def test_failed_runs_are_counted_not_averaged(self):
        self.fixture.add_run(1, 1, "direct", 10000, 50, 100)
        self.fixture.add_run(1, 1, "haproxy", 9000, 60, 110)
        self.fixture.add_run(2, 1, "direct", 10000, 50, 100)
        self.fixture.add_run(2, 1, "haproxy", 1, 9999, 9999, wrk_exit=1)
        _, _, summary = self.load()
        self.assertEqual(summary["haproxy"]["1"]["failed_runs"], 1)
        self.assertEqual(summary["haproxy"]["1"]["rps"]["n"], 1)
        self.assertEqual(summary["haproxy"]["1"]["rps"]["median"], 9000)

    def test_ratios_compare_against_the_better_competitor_per_metric(self):
        self.fixture.add_run(1, 1, "direct", 20000, 50, 100)
        self.fixture.add_run(1, 1, "weft", 12000, 60, 120, requests=10000, cpu_s=0.1)
        self.fixture.add_run(1, 1, "nginx", 10000, 80, 140, requests=10000, cpu_s=0.2)
        self.fixture.add_run(1, 1, "haproxy", 8000, 70, 160, requests=10000, cpu_s=0.4)
        runs, targets, summary = self.load()
        ratios = {r["metric"]: r for r in report.compute_ratios(summary, targets, [1])}
        # Throughput: best is the faster (nginx, 10000).
        self.assertAlmostEqual(ratios["rps"]["weft_over_best"], 1.2)
        self.assertAlmostEqual(ratios["rps"]["weft_over_haproxy"], 1.5)
        # Added p50: weft 10, nginx 30, haproxy 20 -> best is the lower (haproxy).
        self.assertAlmostEqual(ratios["added_p50_us"]["weft_over_best"], 0.5)
        # CPU: weft 10 us, nginx 20 us, haproxy 40 us -> best is nginx.
        self.assertAlmostEqual(ratios["cpu_us_per_request"]["weft_over_best"], 0.5)

    def test_goals(self):
        self.fixture.add_run(1, 1, "direct", 20000, 50, 100)
        self.fixture.add_run(1, 1, "weft", 12000, 80, 120, requests=10000, cpu_s=0.1)
        self.fixture.add_run(1, 1, "nginx", 10000, 80, 140, requests=10000, cpu_s=0.2)
        self.fixture.add_target("weft", "idle_rss_kb", "4096")
        _, targets, summary = self.load()
        goals = report.check_goals(summary, targets, [1])
        passed = {g["id"]: g["passed"] for g in goals}
        self.assertTrue(passed["cpu_per_request_1_conns"])  # 10 us <= 0.7 x 20 us
        self.assertFalse(passed["added_p50_1_conn"])  # 30 us > 25 us
        self.assertTrue(passed["idle_rss"])  # 4 MB <= 8 MB

    def test_goals_unmeasured_without_weft(self):
        self.fixture.add_run(1, 1, "direct", 20000, 50, 100)
        _, targets, summary = self.load()
        self.assertTrue(all(g["passed"] is None
                            for g in report.check_goals(summary, targets, [1])))


class CommandLineTest(unittest.TestCase):
    def test_writes_json_and_prints_markdown(self):
        with tempfile.TemporaryDirectory() as tmp:
            fixture = WorkdirFixture(tmp)
            fixture.add_target("direct", "status", "ok")
            fixture.add_target("weft", "status", "not built")
            fixture.add_target("nginx", "status", "ok")
            fixture.add_target("haproxy", "status", "failed to start")
            fixture.add_run(1, 1, "direct", 20000, 50, 100)
            fixture.add_run(1, 1, "nginx", 10000, 80, 140, requests=10000, cpu_s=0.2)
            fixture.write()
            json_path = os.path.join(tmp, "result.json")
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.py")
            markdown = subprocess.run(
                [sys.executable, script, "--workdir", tmp, "--json", json_path],
                check=True, capture_output=True, text=True, timeout=30).stdout
            with open(json_path) as f:
                result = json.load(f)
        self.assertEqual(result["settings"]["conns"], [1])
        self.assertEqual(result["summary"]["nginx"]["1"]["added_p50_us"]["median"], 30)
        self.assertIn("| 1 | nginx | 10,000 | 80.0 | 140.0 | 30.0 | 40.0 | 20.00 | 0 |", markdown)
        self.assertIn("**weft-proxy: not built**", markdown)
        self.assertIn("**HAProxy: failed to start**", markdown)
        self.assertIn("Ratios and goals need weft-proxy", markdown)


if __name__ == "__main__":
    unittest.main()
