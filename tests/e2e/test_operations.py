"""Operating the server: health endpoints, metrics, logs, request ids, gzip, shutdown, configuration."""

import gzip
import hashlib
import http.client
import json
import re
import signal
import subprocess
import threading
import time
import unittest

from harness import API_KEY, BINARY, Shim, ShimTestCase, child_env, decoded

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
F568_MD5 = "2a0ac716254c23667b8a223a6e5f6e13"
LEGACY = "/api/v3/sigma_analyses/" + F912

FLAGS = ["--listen", "--upstream", "--upstream-ca", "--public-base", "--threads", "--max-header-bytes",
         "--max-body-bytes", "--idle-timeout", "--request-timeout", "--drain-timeout", "--upstream-connections",
         "--upstream-timeout", "--upstream-max-body-bytes", "--behaviour-pages", "--rule-fetch-concurrency",
         "--match-context", "--api-key-env", "--log-level"]

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] from the Prometheus text format."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        if not m:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        labels = dict(LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def request_count(samples, route_class, status):
    """The value of the requests counter whose labels carry this route class and status."""
    total = 0.0
    for name, labels, value in samples:
        if not name.endswith("requests_total") or "upstream" in name:
            continue
        values = set(labels.values())
        if route_class in values and str(status) in values:
            total += value
    return total


class HealthAndMetrics(ShimTestCase):

    def test_livez_and_readyz(self):
        shim = self.start_shim()
        for path in ("/_shim/livez", "/_shim/readyz"):
            with self.subTest(path=path):
                status, headers, body = shim.request("GET", path)
                self.assertEqual(status, 200, body)
        self.assertEqual(self.up.requests(), [], "health checks must not call the upstream")

    def test_metrics_count_requests_by_route_class_and_status(self):
        shim = self.start_shim()
        status, headers, body = shim.request("GET", "/_shim/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        before = parse_metrics(decoded(headers, body).decode())
        calls = [(LEGACY, "legacy", 200), ("/api/v3/files/%s/sigma_analysis" % F568_MD5, "legacy", 200),
                 ("/api/v3/echo/x", "passthrough", 201), ("/api/v3/sigma_analyses/nothex", None, 400),
                 ("/elsewhere", "invalid", 400)]
        for path, _, want in calls:
            status, headers, body = shim.request("GET", path, headers={"x-apikey": API_KEY})
            self.assertEqual(status, want, path)
        # A request is counted once its answer has been written, so the client can see the answer a moment
        # before the counter moves (under ASan, often): scrape until every count asserted below has moved.
        def moved(after):
            return {"legacy 200": request_count(after, "legacy", 200) - request_count(before, "legacy", 200),
                    "passthrough 201": (request_count(after, "passthrough", 201) -
                                        request_count(before, "passthrough", 201)),
                    "400": (request_count(after, "invalid", 400) + request_count(after, "legacy", 400) -
                            request_count(before, "invalid", 400) - request_count(before, "legacy", 400))}
        wanted = {"legacy 200": 2, "passthrough 201": 1, "400": 2}
        deadline = time.monotonic() + 30
        while True:
            status, headers, body = shim.request("GET", "/_shim/metrics")
            text = decoded(headers, body).decode()
            after = parse_metrics(text)
            settled = all(moved(after)[name] >= n for name, n in wanted.items())
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertIn("# TYPE", text)
        self.assertEqual(moved(after), wanted, text)
        # No file ids and no key material in metrics (unbounded cardinality, and secrets).
        for needle in (F912, F568, F568_MD5, API_KEY, "nothex", "elsewhere"):
            self.assertNotIn(needle, text)


class Gzip(ShimTestCase):

    def test_gzip_toward_clients_that_ask(self):
        shim = self.start_shim()
        for path in (LEGACY, "/api/v3/files/%s/relationships/sigma_analysis" % F912,
                     "/api/v3/files/" + F568, "/api/v3/echo/gz"):
            with self.subTest(path=path):
                status, plain_h, plain = shim.request("GET", path)
                self.assertIn(status, (200, 201))
                self.assertNotEqual(plain_h.get("content-encoding", "identity").lower(), "gzip",
                                    "gzip sent to a client that did not ask (Accept-Encoding: identity)")
                self.assertEqual(plain[:1], b"{")
                status, gz_h, gz = shim.request("GET", path, headers={"Accept-Encoding": "gzip"})
                self.assertEqual(gz_h.get("content-encoding"), "gzip", gz_h)
                if not path.startswith("/api/v3/echo"):
                    self.assertEqual(gzip.decompress(gz), plain)
                else:
                    self.assertEqual(json.loads(gzip.decompress(gz))["target"], path)

    def test_no_accept_encoding_header_at_all_is_identity(self):
        shim = self.start_shim()
        conn = shim.connection()
        try:
            conn.putrequest("GET", LEGACY, skip_accept_encoding=True)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200)
        self.assertIsNone(resp.getheader("Content-Encoding"))
        json.loads(body)

    def test_upstream_requests_ask_for_gzip_and_answers_are_inflated(self):
        shim = self.start_shim()
        status, headers, body = shim.request("GET", LEGACY)
        self.assertEqual(status, 200, body)
        reqs = self.up.requests()
        self.assertTrue(reqs)
        for r in reqs:
            self.assertIn("gzip", (r.header("accept-encoding") or "").lower(), r)
            self.assertIn("gzip", (r.header("user-agent") or "").lower(), r)
        self.assertTrue(any(r.gzipped for r in reqs), "the double gzipped nothing")


class RequestIdsAndLogs(ShimTestCase):

    def test_client_request_id_is_propagated(self):
        shim = self.start_shim()
        rid = "e2e-rid-0042"
        for path in (LEGACY, "/api/v3/echo/rid"):
            with self.subTest(path=path):
                self.up.clear_requests()
                status, headers, body = shim.request("GET", path, headers={"X-Request-Id": rid})
                self.assertIn(status, (200, 201), body)
                self.assertEqual(headers.get("x-request-id"), rid)
                reqs = self.up.requests()
                self.assertTrue(reqs)
                for r in reqs:
                    self.assertEqual(r.header("x-request-id"), rid, r)

    def test_request_id_is_made_when_missing(self):
        shim = self.start_shim()
        ids = set()
        for _ in range(2):
            self.up.clear_requests()
            status, headers, body = shim.request("GET", LEGACY)
            self.assertEqual(status, 200)
            rid = headers.get("x-request-id")
            self.assertTrue(rid)
            ids.add(rid)
            for r in self.up.requests():
                self.assertEqual(r.header("x-request-id"), rid)
        self.assertEqual(len(ids), 2, "request ids repeat")

    def test_one_log_line_per_request(self):
        shim = self.start_shim()
        calls = [("GET", LEGACY, "e2e-log-1"), ("GET", "/api/v3/echo/log", "e2e-log-2"),
                 ("GET", "/api/v3/sigma_analyses/nothex", "e2e-log-3"), ("GET", "/_shim/livez", "e2e-log-4"),
                 ("POST", "/api/v3/echo/log", "e2e-log-5")]
        for method, path, rid in calls:
            shim.request(method, path, headers={"X-Request-Id": rid}, body=b"{}" if method == "POST" else None)
        shim.stop()
        lines = shim.log_lines()
        self.assertTrue(lines, shim.stderr_text())
        for d in lines:
            self.assertIn("time", d)
            self.assertIn("level", d)
            self.assertIn("msg", d)
        fp = hashlib.sha256(API_KEY.encode()).hexdigest()[:12]
        for method, path, rid in calls:
            with self.subTest(path=path):
                mine = [d for d in shim.request_log_lines() if d.get("request_id") == rid]
                self.assertEqual(len(mine), 1, "log lines for %s: %r" % (rid, mine))
                d = mine[0]
                for field in ("request_id", "method", "route", "status", "duration_ms", "upstream_calls", "key"):
                    self.assertIn(field, d)
                self.assertEqual(d["method"], method)
                self.assertIsInstance(d["status"], int)
                self.assertIsInstance(d["duration_ms"], (int, float))
                self.assertIsInstance(d["upstream_calls"], int)
                if path == LEGACY:
                    self.assertEqual(d["status"], 200)
                    self.assertGreaterEqual(d["upstream_calls"], 2)
                    self.assertEqual(d["key"], fp)
                if path == "/_shim/livez":
                    self.assertEqual(d["upstream_calls"], 0)
                if "nothex" in path:
                    self.assertEqual(d["status"], 400)
                    self.assertEqual(d["upstream_calls"], 0)
        self.assertNotIn(API_KEY, shim.stderr_text())


class Shutdown(ShimTestCase):

    def _drain(self, sig):
        shim = self.start_shim("--drain-timeout", "10s")
        self.up.set_delay(2, "/api/v3/files/" + F912)
        result = {}

        def slow():
            try:
                result["answer"] = shim.request("GET", LEGACY, timeout=20)
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = e

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        deadline = time.monotonic() + 5
        while not self.up.requests("/api/v3/files/" + F912) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(self.up.requests(), "the slow request never reached the upstream")
        shim.proc.send_signal(sig)
        time.sleep(0.3)
        readyz = []
        while t.is_alive() and shim.alive():
            try:
                readyz.append(shim.request("GET", "/_shim/readyz", timeout=2)[0])
            except (ConnectionError, OSError, http.client.HTTPException):
                readyz.append("refused")
            time.sleep(0.2)
            if len(readyz) > 100:
                break
        t.join(20)
        code = shim.wait(20)
        self.assertNotIn("error", result, result.get("error"))
        status, headers, body = result["answer"]
        self.assertEqual(status, 200, body)
        json.loads(decoded(headers, body))
        self.assertTrue(readyz, "no readyz probe happened while draining")
        self.assertNotIn(200, readyz, "readyz said ready while draining: %r" % readyz)
        for r in readyz:
            self.assertIn(r, (503, "refused"))
        self.assertEqual(code, 0, shim.stderr_text()[-2000:])

    def test_sigterm_drains_in_flight_requests(self):
        self._drain(signal.SIGTERM)

    def test_sigint_drains_in_flight_requests(self):
        self._drain(signal.SIGINT)

    def test_idle_sigterm_exits_0_quickly(self):
        shim = self.start_shim()
        t0 = time.monotonic()
        self.assertEqual(shim.stop(signal.SIGTERM, 10), 0, shim.stderr_text())
        self.assertLess(time.monotonic() - t0, 5)


class Configuration(ShimTestCase):

    def run_serve(self, args, env=None, timeout=10):
        proc = subprocess.run([BINARY, "serve"] + args, env=env or child_env(VT_API_KEY=API_KEY),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=timeout)
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    def test_bad_config_exits_2_with_one_line(self):
        up = self.up.url()
        cases = [
            ["--listen", "nonsense", "--upstream", up],
            ["--listen", "127.0.0.1:0", "--upstream", up, "--upstream-ca", "/nonexistent/ca.pem"],
            ["--listen", "127.0.0.1:0", "--upstream", up, "--match-context", "bogus"],
            ["--listen", "127.0.0.1:0", "--upstream", up, "--idle-timeout", "soon"],
            ["--listen", "127.0.0.1:0", "--upstream", "ftp://example.com"],
            ["--listen", "127.0.0.1:0", "--upstream", up, "--log-level", "loud"],
        ]
        for args in cases:
            with self.subTest(args=" ".join(args)):
                try:
                    code, out, err = self.run_serve(args)
                except subprocess.TimeoutExpired:
                    self.fail("serve %s kept running" % " ".join(args))
                self.assertEqual(code, 2, err)
                lines = [l for l in err.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, "stderr: %r" % err)

    def test_bad_config_from_environment(self):
        env = child_env(VT_API_KEY=API_KEY, SIGMA_SHIM_MATCH_CONTEXT="bogus", SIGMA_SHIM_UPSTREAM=self.up.url(),
                        SIGMA_SHIM_LISTEN="127.0.0.1:0")
        code, out, err = self.run_serve([], env=env)
        self.assertEqual(code, 2, err)
        self.assertEqual(len([l for l in err.splitlines() if l.strip()]), 1, err)

    def test_config_from_environment(self):
        env = child_env(VT_API_KEY=API_KEY, SIGMA_SHIM_PUBLIC_BASE="https://env-base.example",
                        SIGMA_SHIM_UPSTREAM=self.up.url())
        shim = Shim([], env=env)  # no --upstream flag: SIGMA_SHIM_UPSTREAM gives it
        shim.start()
        self.addCleanup(shim.__exit__, None, None, None)
        status, headers, body = shim.request("GET", LEGACY)
        self.assertEqual(status, 200, body)
        self.assertIn(b"https://env-base.example/api/v3/sigma_analyses/", decoded(headers, body))
        self.assertTrue(self.up.requests(), "SIGMA_SHIM_UPSTREAM was not used")

    def test_flag_wins_over_environment(self):
        env = child_env(VT_API_KEY=API_KEY, SIGMA_SHIM_PUBLIC_BASE="https://env-base.example")
        shim = self.start_shim("--public-base", "https://flag-base.example", env=env)
        status, headers, body = shim.request("GET", LEGACY)
        self.assertEqual(status, 200, body)
        self.assertIn(b"https://flag-base.example/", decoded(headers, body))

    def test_help_lists_every_flag(self):
        code, out, err = self.run_serve(["--help"])
        self.assertEqual(code, 0, err)
        text = out + err
        for flag in FLAGS:
            self.assertRegex(text, r"(?m)(^|\s)%s(\s|=|,|$)" % re.escape(flag), "serve --help does not list %s" % flag)

    def test_demo_upstream(self):
        import os
        from harness import SOURCE_DIR, convert
        demo = os.path.join(SOURCE_DIR, "shim", "demo")
        code, want, err = convert(os.path.join(demo, "files", F568 + ".json"),
                                  [os.path.join(demo, "behaviours", F568 + ".json")], form="relationship")
        self.assertEqual(code, 0, err)
        # The demo upstream needs no key: the client sends none and none is configured.
        shim = Shim(["--upstream", "demo"], env=child_env())
        shim.start()
        self.addCleanup(shim.__exit__, None, None, None)
        status, headers, body = shim.request("GET", "/api/v3/files/%s/sigma_analysis" % F568)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-sigma-shim"), "reconstructed")
        self.assertEqual(decoded(headers, body), want)

    def test_listening_line(self):
        shim = self.start_shim()
        line = shim.wait_for_log(lambda d: d.get("msg") == "listening")
        self.assertEqual(line["level"], "info")
        self.assertEqual(line["address"], "127.0.0.1:%d" % shim.port)
        self.assertIn("time", line)


if __name__ == "__main__":
    unittest.main()
