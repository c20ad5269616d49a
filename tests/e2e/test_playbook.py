"""The migration playbook (docs/migration.md), rehearsed offline on tests/fixtures/migration/ as written there."""

import json
import os
import subprocess
import time
import unittest

from harness import BINARY, SOURCE_DIR, Shim, child_env, decoded

UPSTREAM = "dir:tests/fixtures/migration/objects"
LEGACY = "tests/fixtures/migration/legacy"
F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"


class Playbook(unittest.TestCase):

    def setUp(self):
        import tempfile
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-playbook-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp])

    def run_shim(self, *args):
        return subprocess.run([BINARY] + list(args), cwd=SOURCE_DIR, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=120, env=child_env())

    def test_record_compare_offline_shadow_roll_out_roll_back(self):
        recorded = os.path.join(self.tmp, "recorded")
        # 1. Record. Six upstream requests at 4 in any 60 s: the last two wait until the first ones leave the minute.
        started = time.monotonic()
        r = self.run_shim("compare", "--legacy", LEGACY, "--upstream", UPSTREAM, "--record", recorded,
                          "--quota-per-minute", "4", "--quota-wait", "60s", "--format", "text")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"exact", r.stdout)
        self.assertGreater(time.monotonic() - started, 25, "the quota flags did not pace the upstream requests")
        self.assertEqual(sorted(os.listdir(os.path.join(recorded, "files"))), sorted(
            os.listdir(os.path.join(SOURCE_DIR, "tests", "fixtures", "migration", "objects", "files"))))
        # 2. Calibrate on the recordings.
        fields = os.path.join(self.tmp, "FIELDS.json")
        calibrated = "calibrated:" + fields
        r = self.run_shim("calibrate", "--legacy", LEGACY, "--objects", recorded, "--output", fields)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"4 rules learnt", r.stdout)
        # 3. Compare offline, with no upstream but the recording: without the calibration, then with it.
        report_json = os.path.join(self.tmp, "report.json")
        report_html = os.path.join(self.tmp, "report.html")
        r = self.run_shim("compare", "--legacy", LEGACY, "--upstream", "dir:" + recorded, "--format", "text")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertRegex(r.stdout.decode(), r"exact\s+2\n\s*compatible\s+1\n")
        r = self.run_shim("compare", "--legacy", LEGACY, "--upstream", "dir:" + recorded, "--match-context",
                          calibrated, "--format", "html", "--output", report_html)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        r = self.run_shim("compare", "--legacy", LEGACY, "--upstream", "dir:" + recorded, "--match-context",
                          calibrated, "--format", "json", "--output", report_json)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        with open(report_json) as f:
            summary = json.load(f)["summary"]
        self.assertEqual(summary, {"total": 3, "exact": 3, "compatible": 0, "different": 0})
        # 4. Shadow against the recorded baseline.
        path = "/api/v3/files/%s/sigma_analysis" % F912
        with Shim(["--upstream", "dir:" + os.path.join(SOURCE_DIR, UPSTREAM[4:]), "--match-context", calibrated,
                   "--mode", "shadow",
                   "--baseline", "dir:" + os.path.join(SOURCE_DIR, LEGACY)], env=child_env()) as shim:
            status, headers, body = shim.request("GET", path)
            self.assertEqual((status, headers.get("x-sigma-shim")), (200, "shadow"))
            with open(os.path.join(SOURCE_DIR, LEGACY, "f912398c.files_sigma_analysis.json"), "rb") as f:
                self.assertEqual(json.loads(decoded(headers, body)), json.load(f))
            self.assertIsNotNone(shim.wait_for_log(lambda d: d.get("msg") == "comparison", timeout=20))
            status, headers, body = shim.request("GET", "/_shim/comparisons")
            self.assertEqual(json.loads(decoded(headers, body))["summary"]["exact"], 1)
        # 5. Roll out 10%: this file is outside it, so it passes through (the recording upstream has no legacy
        # routes: 404); at 100% it is reconstructed.
        for percent, side in (("10", "passthrough"), ("100", "reconstructed")):
            with Shim(["--upstream", "dir:" + recorded, "--match-context", calibrated, "--rollout-percent", percent],
                      env=child_env()) as shim:
                status, headers, _ = shim.request("GET", path)
                self.assertEqual(headers.get("x-sigma-shim"), side, percent)
        # 6. Roll back, and try one request on the other side.
        with Shim(["--upstream", "dir:" + recorded, "--mode", "passthrough", "--allow-mode-header"],
                  env=child_env()) as shim:
            status, headers, _ = shim.request("GET", path)
            self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
            status, headers, _ = shim.request("GET", path, headers={"X-Sigma-Shim-Mode": "reconstruct"})
            self.assertEqual((status, headers.get("x-sigma-shim")), (200, "reconstructed"))


if __name__ == "__main__":
    unittest.main()
