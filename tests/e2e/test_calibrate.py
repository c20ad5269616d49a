"""`sigma-shim calibrate` and `--match-context calibrated:FIELDS.json` as programs, on the bundled migration
fixtures (tests/fixtures/migration/): what is learnt, that it is stable, that serve, convert and compare use it,
and that a FIELDS.json that cannot be used stops start-up with one line."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import BINARY, SOURCE_DIR, Shim, child_env, decoded

MIGRATION = os.path.join(SOURCE_DIR, "tests", "fixtures", "migration")
LEGACY = os.path.join(MIGRATION, "legacy")
OBJECTS = os.path.join(MIGRATION, "objects")
C884 = "c8846914b9644d1bff54155ce4d14ef82548c64655c9431ae94d56448bfc7424"
ATTRIB_RULE = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b"
RUN_TIMEOUT = 120 if harness.SANITIZED else 30


def run(*args):
    p = subprocess.run([BINARY] + list(args), cwd=SOURCE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT, env=child_env())
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Calibrate(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest("no sigma-shim binary at %s (set SIGMA_SHIM_BINARY)" % BINARY)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-calibrate-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.fields = os.path.join(self.tmp, "FIELDS.json")

    def calibrate(self, *extra, legacy=LEGACY, output=None):
        return run("calibrate", "--legacy", legacy, "--objects", OBJECTS, "--output", output or self.fields,
                   *extra)

    def learnt(self):
        code, out, err = self.calibrate()
        self.assertEqual(code, 0, err)
        with open(self.fields, encoding="utf-8") as f:
            return json.load(f)

    def test_learns_the_legacy_selection_of_each_rule(self):
        rules = self.learnt()["rules"]
        self.assertEqual(rules[ATTRIB_RULE]["fields"], ["CommandLine", "EventID", "Image", "ParentCommandLine"])
        # Every rule of the three recordings, each with the fields its legacy strings show.
        for rule_id, rule in rules.items():
            self.assertGreaterEqual(rule["support"], 1, rule_id)
            self.assertIn("EventID", rule["fields"], rule_id)

    def test_the_same_input_gives_the_same_bytes(self):
        self.assertEqual(self.calibrate()[0], 0)
        with open(self.fields, "rb") as f:
            first = f.read()
        again = os.path.join(self.tmp, "again.json")
        self.assertEqual(self.calibrate(output=again)[0], 0)
        with open(again, "rb") as f:
            self.assertEqual(f.read(), first)
        self.assertTrue(first.endswith(b"\n"))

    def test_json_report_lists_rules_and_what_could_not_be_used(self):
        # One recording whose strings today's objects cannot explain: a value changed since.
        legacy = os.path.join(self.tmp, "legacy")
        shutil.copytree(LEGACY, legacy)
        path = os.path.join(legacy, "c8846914.files_sigma_analysis.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        doc["data"]["attributes"]["rule_matches"][0]["match_context"] = "$EventID: '999'"
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        # And one that names no file: nothing to pair it with.
        with open(os.path.join(legacy, "mystery.json"), "w", encoding="utf-8") as f:
            json.dump({"data": {"attributes": doc["data"]["attributes"]}}, f)
        code, out, err = self.calibrate("--format", "json", legacy=legacy)
        self.assertEqual(code, 0, err)
        report = json.loads(out)
        self.assertEqual(report["schema"], "sigma-shim/calibrate-report/1")
        self.assertEqual(len(report["unexplained"]), 1, report["unexplained"])
        self.assertEqual(report["unexplained"][0]["recording"], "c8846914.files_sigma_analysis.json")
        self.assertIn(ATTRIB_RULE, [r["rule_id"] for r in report["rules"]])
        self.assertEqual([u["recording"] for u in report["unreadable"]], ["mystery.json"])

    def test_usage_and_unreadable_inputs(self):
        for args in (["--legacy", LEGACY, "--output", self.fields],
                     ["--legacy", LEGACY, "--objects", OBJECTS],
                     ["--legacy", LEGACY, "--objects", OBJECTS, "--upstream", "demo", "--output", self.fields],
                     ["--legacy", LEGACY, "--objects", OBJECTS, "--output", self.fields, "--format", "xml"]):
            with self.subTest(args=args):
                code, _, err = run("calibrate", *args)
                self.assertEqual(code, 2, err)
        code, _, err = run("calibrate", "--legacy", os.path.join(self.tmp, "none"), "--objects", OBJECTS,
                           "--output", self.fields)
        self.assertEqual(code, 3, err)
        self.assertFalse(os.path.exists(self.fields))

    def compare_summary(self, *mode):
        report = os.path.join(self.tmp, "report.json")
        code, _, err = run("compare", "--legacy", LEGACY, "--upstream", "dir:" + OBJECTS, *mode,
                           "--format", "json", "--output", report)
        self.assertEqual(code, 0, err)
        with open(report, encoding="utf-8") as f:
            return json.load(f)["summary"]

    def test_compare_before_and_after_calibration(self):
        self.assertEqual(self.calibrate()[0], 0)
        self.assertEqual(self.compare_summary(), {"total": 3, "exact": 2, "compatible": 1, "different": 0})
        self.assertEqual(self.compare_summary("--match-context", "calibrated:" + self.fields),
                         {"total": 3, "exact": 3, "compatible": 0, "different": 0})

    def test_compare_shows_both_modes_side_by_side(self):
        self.assertEqual(self.calibrate()[0], 0)
        calibrated = "calibrated:" + self.fields
        code, out, err = run("compare", "--legacy", LEGACY, "--upstream", "dir:" + OBJECTS,
                             "--match-context", "all", "--match-context", calibrated, "--format", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["schema"], "sigma-shim/compare-modes/1")
        self.assertEqual([m["match_context"] for m in doc["modes"]], ["all", calibrated])
        self.assertEqual([m["report"]["summary"]["exact"] for m in doc["modes"]], [2, 3])
        code, out, err = run("compare", "--legacy", LEGACY, "--upstream", "dir:" + OBJECTS,
                             "--match-context", "all", "--match-context", calibrated)
        self.assertEqual(code, 0, err)
        self.assertIn("files whose class depends on the mode (1)", out)
        self.assertIn("c8846914.files_sigma_analysis.json", out)

    def test_serve_writes_the_legacy_answer_and_counts_it(self):
        self.assertEqual(self.calibrate()[0], 0)
        with Shim(["--upstream", "dir:" + OBJECTS, "--match-context", "calibrated:" + self.fields],
                  env=child_env()) as shim:
            status, headers, body = shim.request("GET", "/api/v3/files/%s/sigma_analysis" % C884)
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(headers.get("x-sigma-shim-fidelity"), "full")
            with open(os.path.join(LEGACY, "c8846914.files_sigma_analysis.json"), encoding="utf-8") as f:
                self.assertEqual(json.loads(decoded(headers, body)), json.load(f))
            status, headers, body = shim.request("GET", "/_shim/metrics")
            self.assertIn('sigma_shim_calibrated_contexts_total{source="calibrated"} 4', decoded(headers, body).decode())

    def test_a_rule_not_calibrated_falls_back_and_says_so(self):
        doc = self.learnt()
        del doc["rules"][ATTRIB_RULE]
        with open(self.fields, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        with Shim(["--upstream", "dir:" + OBJECTS, "--match-context", "calibrated:" + self.fields,
                   "--match-context-fallback", "all"], env=child_env()) as shim:
            status, headers, body = shim.request("GET", "/api/v3/files/%s/sigma_analysis" % C884)
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(headers.get("x-sigma-shim-fidelity"), "partial")
            self.assertEqual(headers.get("x-sigma-shim-fidelity-reason"), "uncalibrated_rules=1")
            status, headers, body = shim.request("GET", "/_shim/metrics")
            metrics = decoded(headers, body).decode()
            self.assertIn('sigma_shim_calibrated_contexts_total{source="fallback"} 3', metrics)
            self.assertIn('sigma_shim_calibrated_contexts_total{source="calibrated"} 1', metrics)

    def test_a_fields_file_that_cannot_be_used_stops_start_up_with_one_line(self):
        cases = {"not-json.json": "{", "version.json": '{"version": 2, "rules": {}}',
                 "types.json": '{"version": 1, "rules": {"r": {"fields": [1], "support": 1}}}'}
        for name, text in cases.items():
            path = os.path.join(self.tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            for command in (["serve", "--listen", "127.0.0.1:0", "--upstream", "dir:" + OBJECTS],
                            ["convert", "--file", os.path.join(OBJECTS, "files", C884 + ".json")]):
                with self.subTest(file=name, command=command[0]):
                    code, out, err = run(*command, "--match-context", "calibrated:" + path)
                    self.assertEqual(code, 2, err)
                    lines = [line for line in err.splitlines() if line.strip()]
                    self.assertEqual(len(lines), 1, err)
                    self.assertIn(name, lines[0])

    def test_convert_uses_the_calibration(self):
        self.assertEqual(self.calibrate()[0], 0)
        code, out, err = run("convert", "--form", "relationship", "--file",
                             os.path.join(OBJECTS, "files", C884 + ".json"), "--behaviours",
                             os.path.join(OBJECTS, "behaviours", C884 + ".json"),
                             "--match-context", "calibrated:" + self.fields)
        self.assertEqual(code, 0, err)
        with open(os.path.join(LEGACY, "c8846914.files_sigma_analysis.json"), encoding="utf-8") as f:
            self.assertEqual(json.loads(out), json.load(f))
        self.assertEqual(err, "")


if __name__ == "__main__":
    unittest.main()
