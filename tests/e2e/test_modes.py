"""Gradual migration in the server: --mode reconstruct | passthrough | shadow | compare, --rollout-percent,
--shadow-percent, --baseline, the X-Sigma-Shim-Mode header, and what /_shim/comparisons keeps."""

import hashlib
import http.client
import json
import os
import time
import unittest

from harness import API_KEY, ShimTestCase, decoded, non_loopback_ipv4

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY_F912 = os.path.join(HERE, "..", "fixtures", "vt", "legacy_files_sigma_analysis.real_f912398c.json")
RELATIONSHIP = "/api/v3/files/%s/sigma_analysis"
OBJECT = "/api/v3/sigma_analyses/%s"


def legacy_f912():
    with open(LEGACY_F912, "rb") as f:
        return json.load(f)


def in_rollout(sha256, percent, purpose="rollout"):
    """docs/migration.md: the first 8 hex digits of SHA-256("rollout:" + sha256) modulo 10000, below percent * 100."""
    digest = hashlib.sha256(("%s:%s" % (purpose, sha256.lower())).encode()).hexdigest()
    return int(digest[:8], 16) % 10000 < percent * 100


class ModeTestCase(ShimTestCase):

    def setUp(self):
        super().setUp()
        self.up.tcp_nodelay = True  # the rollout tests send thousands of requests through the double

    def get(self, shim, path, headers=None):
        h = {"x-apikey": API_KEY}
        h.update(headers or {})
        status, headers, body = shim.request("GET", path, headers=h)
        return status, headers, decoded(headers, body)

    def comparisons(self, shim, want_total, timeout=20):
        """/_shim/comparisons once it has counted `want_total` comparisons (they run in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            status, headers, body = shim.request("GET", "/_shim/comparisons")
            self.assertEqual(status, 200, body[:300])
            report = json.loads(decoded(headers, body))
            if report["summary"]["total"] >= want_total or time.monotonic() > deadline:
                self.assertEqual(report["summary"]["total"], want_total, report["summary"])
                return report
            time.sleep(0.05)


class Modes(ModeTestCase):

    def test_passthrough_mode_relays_legacy_routes_unchanged(self):
        canned = json.dumps(legacy_f912()).encode()
        self.up.set_canned(RELATIONSHIP % F912, 200, canned, headers=[("X-Upstream", "yes")])
        shim = self.start_shim("--mode", "passthrough")
        status, headers, body = self.get(shim, RELATIONSHIP % F912)
        self.assertEqual(status, 200)
        self.assertEqual(body, canned)
        self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
        self.assertEqual(headers.get("x-upstream"), "yes")
        self.assertEqual([r.path for r in self.up.requests()], [RELATIONSHIP % F912])
        # The upstream's errors too, as they came.
        status, headers, body = self.get(shim, OBJECT % ("ab" * 32))
        self.assertVtError(status, body, 404, "NotFoundError")
        # A bad id is still refused locally, whatever the mode.
        status, headers, body = self.get(shim, OBJECT % "nothex")
        self.assertVtError(status, body, 400, "InvalidArgumentError")
        self.assertEqual(len(self.up.requests()), 2)

class Shadow(ModeTestCase):

    def test_a_difference_is_kept_counted_and_shown(self):
        legacy = legacy_f912()
        legacy["data"]["attributes"]["rule_matches"][1]["rule_level"] = "medium"
        self.up.set_canned(RELATIONSHIP % F912, 200, legacy)
        shim = self.start_shim("--mode", "shadow", "--redact", "**.rule_author")
        status, _, _ = self.get(shim, RELATIONSHIP % F912)
        self.assertEqual(status, 200)
        report = self.comparisons(shim, 1)
        self.assertEqual(report["summary"]["different"], 1)
        (result,) = report["results"]
        self.assertEqual(result["class"], "different")
        paths = {f["path"] for f in result["findings"] if f["class"] == "different"}
        self.assertIn("data.attributes.rule_matches.1.rule_level", paths)
        # --redact masks the values it names in what is kept.
        self.assertNotIn("frack113", json.dumps(result))
        self.assertIn("[REDACTED]", json.dumps(result))
        self.assertNotIn(API_KEY, json.dumps(report))
        status, headers, metrics = shim.request("GET", "/_shim/metrics")
        text = decoded(headers, metrics).decode()
        self.assertIn('sigma_shim_comparisons_total{class="different"} 1', text)
        self.assertIn('path="data.attributes.rule_matches.*.rule_level"', text)
        status, headers, html = shim.request("GET", "/_shim/comparisons.html")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        html = decoded(headers, html).decode()
        self.assertIn("rule_level", html)
        self.assertNotIn(API_KEY, html)

class Rollout(ModeTestCase):

    def test_one_file_always_gets_the_same_side(self):
        self.up.data.add_clone(F912, "seed")
        on = off = None
        i = 0
        while on is None or off is None:
            sha256, _, _ = self.up.data.add_clone(F912, "rollout %d" % i)
            i += 1
            if in_rollout(sha256, 50):
                on = on or sha256
            else:
                off = off or sha256
        self.up.set_canned(RELATIONSHIP % off, 200, {"data": "the upstream's own answer"})
        shim = self.start_shim("--rollout-percent", "50")
        conn = http.client.HTTPConnection(shim.host, shim.port, timeout=30)
        try:
            for n in range(1000):
                sha256 = on if n % 2 == 0 else off
                conn.request("GET", RELATIONSHIP % sha256, headers={"x-apikey": API_KEY})
                resp = conn.getresponse()
                resp.read()
                want = "reconstructed" if sha256 == on else "passthrough"
                self.assertEqual((resp.status, resp.getheader("X-Sigma-Shim")), (200, want), n)
        finally:
            conn.close()

class ModeHeader(ModeTestCase):

    def test_picks_the_mode_of_one_request_when_allowed(self):
        self.up.set_canned(RELATIONSHIP % F912, 200, legacy_f912())
        shim = self.start_shim("--allow-mode-header", "--rollout-percent", "0")
        for mode, want in (("passthrough", "passthrough"), ("reconstruct", "reconstructed"),
                           ("shadow", "shadow"), ("compare", "compare")):
            with self.subTest(mode=mode):
                status, headers, body = self.get(shim, RELATIONSHIP % F912, {"X-Sigma-Shim-Mode": mode})
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(headers.get("x-sigma-shim"), want)
        # Without the header, the configured rollout (0%: everything passes through).
        status, headers, _ = self.get(shim, RELATIONSHIP % F912)
        self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
        status, headers, body = self.get(shim, RELATIONSHIP % F912, {"X-Sigma-Shim-Mode": "fastest"})
        self.assertVtError(status, body, 400, "InvalidArgumentError")


class ComparisonsEndpoint(ModeTestCase):

    def test_loopback_only(self):
        shim = self.start_shim("--listen", "0.0.0.0:0", "--allow-remote-clients")
        ip = non_loopback_ipv4()
        if ip is None:
            self.skipTest("this machine has no non-loopback IPv4 address: the 403 for other peers is untested")
        for path in ("/_shim/comparisons", "/_shim/comparisons.html"):
            with self.subTest(path=path):
                conn = http.client.HTTPConnection(ip, shim.port, timeout=10)
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    body = resp.read()
                finally:
                    conn.close()
                self.assertVtError(resp.status, body, 403, "ForbiddenError")
                conn = http.client.HTTPConnection("127.0.0.1", shim.port, timeout=10)
                try:
                    conn.request("GET", path)
                    self.assertEqual(conn.getresponse().status, 200)
                finally:
                    conn.close()


if __name__ == "__main__":
    unittest.main()
