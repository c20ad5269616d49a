"""Load and soak: the real binary at many keep-alive connections for a bounded time, over a mix of legacy
requests (cache hits and misses, every legacy route) and pass-through requests, against the VirusTotal test
double failing 5% of its requests (a 503 error, a 500 HTML page, a reset, a body cut short).

Checked: every answer is well formed and is the right one (legacy: the legacy object of the file asked for, or a
VirusTotal-shaped 5xx error; pass-through: the upstream's exact bytes, or exactly the failure the upstream was
told to make for that X-Request-Id); no answer takes longer than 30 s; no log line carries the API key; the shim
is alive and healthy at the end and exits 0 on SIGTERM; its RSS at the end is within 10% of its RSS after the
first 10 s (release builds: ASan keeps freed memory in quarantine); its descriptors come back to the baseline
(pooled upstream connections aside).

SIGMA_SHIM_LOAD_SECONDS (default 20) and SIGMA_SHIM_LOAD_CONNECTIONS (default 256) size the run; tests/load/soak
runs it for 10 minutes. The figures go to stderr and to artifacts/load-report.json in the build tree.
"""

import json
import os
import sys
import threading
import time
import unittest

from harness import API_KEY, SANITIZED, Shim, _parse, child_env

import loadgen
from route_table import legacy_routes
import upstream as vt

SECONDS = int(os.environ.get("SIGMA_SHIM_LOAD_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("SIGMA_SHIM_LOAD_CONNECTIONS", "256"))
MAX_REQUESTS = 5_000_000  # a bound on the count as well as the time
FAILURE_RATE = 0.05
RSS_AFTER = 10.0          # the RSS reference is taken this long into the run
RSS_GROWTH = 0.10
SETTLE = 15.0 if SANITIZED else 10.0
HOT_FILES = 8             # asked again and again: cache hits
COLD_FILES = 400          # more than the cache holds: misses throughout the run
CACHE_BYTES = 4 << 20

SOURCE = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
# What a 200 of each legacy form must be; the routes themselves come from the binary's own table.
SHAPE_OF_FORM = {"object": "object", "relationship": "object", "descriptor": "relationship", "rules": "list",
                 "rules-descriptors": "list", "embedded": "file"}
LEGACY_ROUTES = tuple((r["path"].replace("{id}", "%s"), SHAPE_OF_FORM[r["form"]]) for r in legacy_routes())
# The mix: (kind, weight).
MIX = (("legacy-hot", 40), ("legacy-cold", 20), ("passthrough-file", 30), ("passthrough-404", 10))
MISSING_URL = "/api/v3/urls/bG9hZC10ZXN0"


class LoadShim(Shim):
    """A shim whose per-request log lines are checked and counted as they come, not kept (a 10-minute run
    writes hundreds of thousands)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.request_lines = 0
        self.bad_lines = []
        self.key_leaks = 0

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if API_KEY in line:
                self.key_leaks += 1
            doc = _parse(line) if sink is self._lines else None
            if isinstance(doc, dict) and "request_id" in doc and "status" in doc:
                self.request_lines += 1
                continue
            if sink is self._lines and doc is None and len(self.bad_lines) < 20:
                self.bad_lines.append(line)
            with self._lock:
                sink.append(line)
            if sink is self._lines and not self._listening.is_set() and isinstance(doc, dict) \
                    and doc.get("msg") == "listening" and "address" in doc:
                self.port = int(str(doc["address"]).rpartition(":")[2])
                self._listening.set()
        stream.close()


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


def sockets_to_port(port):
    """Inodes of the TCP sockets on this machine whose remote port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for row in f:
                    cols = row.split()
                    if int(cols[2].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            pass
    return inodes


def shim_fds(pid, upstream_port):
    """The shim's open descriptors, less its connections to the upstream (the pool keeps those)."""
    upstream = sockets_to_port(upstream_port)
    out = {}
    folder = "/proc/%d/fd" % pid
    for fd in os.listdir(folder):
        try:
            target = os.readlink(os.path.join(folder, fd))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in upstream:
            continue
        out[int(fd)] = target
    return out


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (seconds since start, KiB)
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self):
        while not self.stop.wait(0.5):
            kb = vm_rss_kb(self.pid)
            if kb is not None:
                self.samples.append((time.monotonic() - self.started, kb))

    def at(self, seconds):
        return next((kb for t, kb in self.samples if t >= seconds), None)


class LoadTest(unittest.TestCase):
    def test_load_with_a_failing_upstream(self):
        data = vt.Dataset()
        data.load_demo()
        hot = [data.add_clone(SOURCE, "load hot %d" % i)[0] for i in range(HOT_FILES)]
        cold = [data.add_clone(SOURCE, "load cold %d" % i)[0] for i in range(COLD_FILES)]
        up = vt.Upstream(data)
        up.tcp_nodelay = True
        up.gzip_answers = False     # the double's CPU is the test's bottleneck on two cores
        up.record_requests = False  # millions of requests in a long run
        up.set_failure_rate(FAILURE_RATE, seed=6)
        up.start()
        self.addCleanup(up.stop)
        file_bytes = {}

        def expected_file(sha256):
            if sha256 not in file_bytes:
                file_bytes[sha256] = json.dumps({"data": data.file(sha256)[1]}).encode("utf-8")
            return file_bytes[sha256]

        missing_body = json.dumps(vt.vt_error("NotFoundError", 'Resource "%s"' % MISSING_URL + " not found")) \
            .encode("utf-8")
        injected_503 = json.dumps(vt.INJECTED_ERROR).encode("utf-8")

        shim = LoadShim(["--upstream", up.url(), "--cache-bytes", str(CACHE_BYTES), "--upstream-connections",
                         "32", "--upstream-timeout", "10s"], env=child_env(VT_API_KEY=API_KEY))
        shim.start()
        self.addCleanup(shim.__exit__, None, None, None)
        pid = shim.proc.pid
        time.sleep(0.5)
        baseline = shim_fds(pid, up.port)

        def pick(rng):
            kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
            if kind == "passthrough-404":
                return kind, MISSING_URL
            sha256 = rng.choice(hot if kind in ("legacy-hot", "passthrough-file") else cold)
            if kind == "passthrough-file":
                return kind, "/api/v3/files/" + sha256
            pattern, _ = rng.choice(LEGACY_ROUTES)
            return kind, pattern % sha256

        def check(kind, target, request_id, a):
            if a.error:
                return a.error
            if kind.startswith("legacy"):
                return check_legacy(target, a)
            failures = up.failures_for(request_id)
            last = failures[-1] if failures else None
            normal = (expected_file(target.rsplit("/", 1)[1]), 200) if kind == "passthrough-file" \
                else (missing_body, 404)
            if a.complete and (a.body, a.status) == normal and all(f == "reset" for f in failures):
                return None  # the answer, perhaps after a retry on a fresh connection
            if last == "503" and a.complete and (a.status, a.body) == (503, injected_503):
                return None
            if last == "500-html" and a.complete and (a.status, a.body) == (500, vt.HTML_ERROR):
                return None
            if last == "truncated" and a.status == 200 and not a.complete and a.closed \
                    and a.headers.get("content-length") == str(vt.TRUNCATED_LENGTH):
                return None
            if last == "reset" and a.complete and a.status in (502, 503):
                return vt_error_problem(a)
            return "not the upstream's answer (injected: %s)" % (failures or "none")

        def check_legacy(target, a):
            if not a.complete:
                return "incomplete"
            if a.status != 200:
                return vt_error_problem(a) if a.status >= 500 else "status %d" % a.status
            try:
                doc = json.loads(a.body)
            except ValueError as e:
                return "not JSON: %s" % e
            sha256 = target.split("/")[4].split("?")[0]
            form = next(f for p, f in LEGACY_ROUTES if target == p % sha256)
            data = doc.get("data") if isinstance(doc, dict) else None
            if form == "list":
                return None if isinstance(data, list) and data else "no rules list"
            if not isinstance(data, dict) or data.get("id") != sha256:
                return "not the answer for %s" % sha256
            if form == "object" and data.get("type") != "sigma_analysis":
                return "not a sigma_analysis object"
            if form == "file" and "sigma_analysis" not in (data.get("relationships") or {}):
                return "no sigma_analysis relationship"
            return None

        rss = RssSampler(pid)
        rss.start()
        stats = loadgen.run("127.0.0.1", shim.port, CONNECTIONS, SECONDS, pick, check, MAX_REQUESTS)
        rss.stop.set()
        rss.join()
        rss_ref = rss.at(RSS_AFTER)
        rss_end = rss.samples[-1][1] if rss.samples else None

        # Health after the run: answers, then descriptors back to the baseline.
        alive = shim.alive()
        status, _, _ = shim.request("GET", "/_shim/livez") if alive else (None, None, None)
        fds_end = self.settle_fds(pid, up.port, baseline)

        report = {
            "seconds": SECONDS, "connections": CONNECTIONS, "sanitized": SANITIZED,
            "requests": stats.requests, "requests_per_second": round(stats.requests / (stats.ended - stats.started)),
            "client_connections_opened": stats.connections_opened,
            "answers": {"%s %s %s" % k: n for k, n in sorted(stats.by_kind.items(), key=str)},
            "upstream_requests": up.total_requests(), "upstream_failures_injected": up.failure_counts(),
            "problems": stats.problem_count,
            "rss_kb": {"after_%ds" % RSS_AFTER: rss_ref, "end": rss_end,
                       "peak_during_run": max((kb for _, kb in rss.samples), default=None)},
            "fds": {"baseline": len(baseline), "end": len(fds_end)},
            "request_log_lines": shim.request_lines, "key_in_output": shim.key_leaks,
        }
        print("\nload report: " + json.dumps(report, indent=1), file=sys.stderr)
        artifacts = os.environ.get("SIGMA_SHIM_ARTIFACTS_DIR")
        if artifacts:
            os.makedirs(artifacts, exist_ok=True)
            with open(os.path.join(artifacts, "load-report.json"), "w") as f:
                json.dump(report, f, indent=1)

        self.assertTrue(alive, "the shim died under load:\n" + shim.stderr_text()[-3000:])
        self.assertEqual(status, 200)
        self.assertEqual(stats.problem_count, 0, "\n".join(stats.problems))
        self.assertGreater(stats.requests, CONNECTIONS)
        self.assertTrue(all(up.failure_counts().values()), "every kind of failure was injected")
        self.assertEqual(shim.key_leaks, 0)
        self.assertEqual(shim.bad_lines, [], "log lines that are not JSON")
        self.assertEqual(sorted(fds_end.values()), sorted(baseline.values()))
        if not SANITIZED:
            self.assertLessEqual(rss_end, rss_ref * (1 + RSS_GROWTH),
                                 "RSS grew from %d KiB after %.0f s to %d KiB" % (rss_ref, RSS_AFTER, rss_end))
        self.assertEqual(shim.stop(), 0, shim.stderr_text()[-3000:])
        self.assertNotIn("runtime error", shim.stderr_text())
        self.assertNotIn("AddressSanitizer", shim.stderr_text())

    def settle_fds(self, pid, upstream_port, baseline):
        deadline = time.monotonic() + SETTLE
        while True:
            fds = shim_fds(pid, upstream_port)
            if sorted(fds.values()) == sorted(baseline.values()) or time.monotonic() > deadline:
                return fds
            time.sleep(0.2)


def vt_error_problem(a):
    try:
        doc = json.loads(a.body)
        error = doc["error"]
        if isinstance(error["code"], str) and isinstance(error["message"], str):
            return None
    except (ValueError, KeyError, TypeError):
        pass
    return "not a VirusTotal-shaped error"


if __name__ == "__main__":
    unittest.main()
