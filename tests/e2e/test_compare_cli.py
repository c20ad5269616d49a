"""`sigma-shim compare` as a program: recorded legacy answers against reconstructions, exit statuses, the three
report formats (the JSON one checked against docs/compare-report.schema.json), pairing, --ignore, --redact, and
--upstream demo."""

import copy
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import child_env

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"   # the bundled demo file
LEGACY_FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "vt",
                              "legacy_files_sigma_analysis.real_f912398c.json")
SCHEMA = os.path.join(harness.SOURCE_DIR, "docs", "compare-report.schema.json")
RUN_TIMEOUT = 120 if harness.SANITIZED else 30
NOT_AVAILABLE = "not available yet"


def load_legacy():
    with open(LEGACY_FIXTURE, encoding="utf-8") as f:
        return json.load(f)


def compatible_variant(doc):
    """The reconstruction wrote one more field into a match context: a superset of the legacy pairs."""
    doc = copy.deepcopy(doc)
    match = doc["data"]["attributes"]["rule_matches"][0]
    match["match_context"] += ", $Image: 'C:\\ProgramData\\Microsoft\\Windows Defender\\MsMpEng.exe'"
    return doc


def different_variant(doc):
    doc = copy.deepcopy(doc)
    doc["data"]["attributes"]["rule_matches"][1]["rule_level"] = "critical"
    return doc


def write_json(path, doc, indent=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=indent, ensure_ascii=False)
    return path


def make_pairs(root, kinds=("exact", "compatible", "different")):
    """root/legacy/<kind>.json and root/reconstructed/<kind>.json for each kind; returns the two folders."""
    legacy = load_legacy()
    variants = {"exact": legacy, "compatible": compatible_variant(legacy), "different": different_variant(legacy)}
    for kind in kinds:
        # The legacy side as VirusTotal wrote it (indented), the reconstruction compact, as the shim writes it.
        write_json(os.path.join(root, "legacy", kind + ".json"), legacy, indent=4)
        write_json(os.path.join(root, "reconstructed", kind + ".json"), variants[kind])
    return os.path.join(root, "legacy"), os.path.join(root, "reconstructed")


def run(*args, timeout=RUN_TIMEOUT):
    proc = subprocess.run([harness.BINARY, "compare"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=child_env())
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", errors="replace")


# -- a small JSON Schema validator: the keywords docs/compare-report.schema.json uses ----------------------------

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}

_KNOWN = {"$schema", "title", "description", "type", "required", "properties", "items", "enum",
          "additionalProperties", "const", "minimum"}


def schema_errors(schema, value, where="$"):
    """Every way `value` breaks `schema`, as 'path: why' strings (empty when it conforms)."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise AssertionError("%s: the test's validator does not know %s" % (where, sorted(unknown)))
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return ["%s: %r is not of type %s" % (where, value, "/".join(types))]
    if "const" in schema and value != schema["const"]:
        errors.append("%s: %r is not %r" % (where, value, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %r" % (where, value, schema["enum"]))
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        errors.append("%s: %r is less than %r" % (where, value, schema["minimum"]))
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append("%s: %r is required" % (where, key))
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(properties[key], item, "%s.%s" % (where, key))
            elif extra is False:
                errors.append("%s: %r is not allowed" % (where, key))
            elif isinstance(extra, dict):
                errors += schema_errors(extra, item, "%s.%s" % (where, key))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(schema["items"], item, "%s[%d]" % (where, i))
    return errors


class SchemaValidatorTest(unittest.TestCase):
    """The validator itself must catch what it is there to catch, or the schema checks below prove nothing."""

    def test_it_rejects_what_the_schema_forbids(self):
        with open(SCHEMA, encoding="utf-8") as f:
            schema = json.load(f)
        good = {"schema": "sigma-shim/compare-report/1",
                "summary": {"total": 0, "exact": 0, "compatible": 0, "different": 0}, "fields": [], "results": []}
        self.assertEqual(schema_errors(schema, good), [])
        for broken in ({**good, "schema": "other"}, {**good, "extra": 1}, {k: good[k] for k in good if k != "fields"},
                       {**good, "summary": {**good["summary"], "total": True}},
                       {**good, "fields": [{"path": "a", "count": "1"}]}):
            self.assertNotEqual(schema_errors(schema, broken), [], broken)


# -- the command -----------------------------------------------------------------------------------------------

class CompareCliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(harness.BINARY, os.X_OK):
            raise unittest.SkipTest("no sigma-shim binary at %s (set SIGMA_SHIM_BINARY)" % harness.BINARY)
        with open(SCHEMA, encoding="utf-8") as f:
            cls.schema = json.load(f)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-compare-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def folder(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def json_report(self, *args, want_code=None):
        code, out, err = run(*args, "--format", "json")
        if want_code is not None:
            self.assertEqual(code, want_code, err)
        report = json.loads(out)
        self.assertEqual(schema_errors(self.schema, report), [], out[:2000])
        return code, report, err

    # -- each class, each format ----------------------------------------------------------------------------

    def check_one_pair(self, kind, want_code):
        legacy, rebuilt = make_pairs(self.folder(kind), kinds=(kind,))
        code, out, err = run("--legacy", legacy, "--reconstructed", rebuilt)
        self.assertEqual(code, want_code, out + err)
        self.assertRegex(out, r"(?m)^%s\s+1$" % kind)
        self.assertRegex(out, r"(?m)^total\s+1$")

        code, report, err = self.json_report("--legacy", legacy, "--reconstructed", rebuilt, want_code=want_code)
        self.assertEqual(report["summary"], {"total": 1, "exact": int(kind == "exact"),
                                             "compatible": int(kind == "compatible"),
                                             "different": int(kind == "different")})
        [result] = report["results"]
        self.assertEqual(result["class"], kind)
        self.assertEqual(result["name"], kind + ".json")
        self.assertEqual(result["sha256"], F912)
        self.assertEqual(result["target"], "/api/v3/files/%s/sigma_analysis" % F912)
        self.assertEqual(result["legacy"]["status"], 200)
        self.assertEqual(result["reconstructed"]["status"], 200)
        self.assertEqual(result["time"], 0)

        code, html, err = run("--legacy", legacy, "--reconstructed", rebuilt, "--format", "html")
        self.assertEqual(code, want_code, err)
        self.assertTrue(html.startswith("<!DOCTYPE html>"), html[:100])
        self.assertIn("1 answer compared", html)
        return result

    def test_exact_pair_exits_0(self):
        result = self.check_one_pair("exact", 0)
        self.assertEqual(result["findings"], [])

    def test_compatible_pair_exits_0(self):
        result = self.check_one_pair("compatible", 0)
        [finding] = result["findings"]
        self.assertEqual(finding["kind"], "match_context_subset")
        self.assertEqual(finding["class"], "compatible")
        self.assertEqual(finding["path"], "data.attributes.rule_matches.0.match_context")

    def test_different_pair_exits_1(self):
        result = self.check_one_pair("different", 1)
        [finding] = result["findings"]
        self.assertEqual((finding["path"], finding["kind"], finding["class"], finding["legacy"],
                          finding["reconstructed"]),
                         ("data.attributes.rule_matches.1.rule_level", "value", "different", "low", "critical"))

    def test_a_folder_of_all_three(self):
        legacy, rebuilt = make_pairs(self.tmp)
        code, report, _ = self.json_report("--legacy", legacy, "--reconstructed", rebuilt, want_code=1)
        self.assertEqual(report["summary"], {"total": 3, "exact": 1, "compatible": 1, "different": 1})
        self.assertEqual([r["name"] for r in report["results"]], ["compatible.json", "different.json", "exact.json"])
        self.assertEqual([r["class"] for r in report["results"]], ["compatible", "different", "exact"])
        self.assertEqual(report["fields"], [{"path": "data.attributes.rule_matches.*.match_context", "count": 1},
                                            {"path": "data.attributes.rule_matches.*.rule_level", "count": 1}])
        # The same inputs give the same bytes.
        self.assertEqual(run("--legacy", legacy, "--reconstructed", rebuilt, "--format", "json")[1],
                         run("--legacy", legacy, "--reconstructed", rebuilt, "--format", "json")[1])

        code, text, _ = run("--legacy", legacy, "--reconstructed", rebuilt)
        self.assertEqual(code, 1)
        self.assertRegex(text, r"(?m)^total\s+3$")
        self.assertRegex(text, r"(?m)^data\.attributes\.rule_matches\.\*\.rule_level\s+1$")
        self.assertRegex(text, r"(?m)^different\.json\s+different\s+1\s+0\s+data\.attributes\.rule_matches\.1\."
                               r"rule_level: value \(\"low\" -> \"critical\"\)$")
        text.encode("ascii")  # plain ASCII, though the bodies hold "Ján Trenčanský"

    def test_output_file(self):
        legacy, rebuilt = make_pairs(self.tmp, kinds=("exact",))
        target = os.path.join(self.tmp, "report.html")
        code, out, err = run("--legacy", legacy, "--reconstructed", rebuilt, "--format", "html", "--output", target)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        self.assertIn("1 exact", err)
        with open(target, encoding="utf-8") as f:
            self.assertIn("sigma-shim compare report", f.read())
        code, _, err = run("--legacy", legacy, "--reconstructed", rebuilt, "--output",
                           os.path.join(self.tmp, "no", "such", "dir", "r.txt"))
        self.assertEqual(code, 3, err)

    # -- pairing ---------------------------------------------------------------------------------------------

    def test_pairs_by_sha256_and_route_whatever_the_names(self):
        legacy = load_legacy()
        write_json(os.path.join(self.tmp, "l", "recorded-2022.json"), legacy, indent=2)
        write_json(os.path.join(self.tmp, "r", "rebuilt-%s.json" % F912[:8]), legacy)
        # Another route of the same file, and an error recording named by its id, on both sides.
        missing = {"error": {"code": "NotFoundError", "message": "Sigma analysis for \"%s\" not found" % ("a" * 64)}}
        write_json(os.path.join(self.tmp, "l", "nf-%s.json" % ("a" * 64)), missing)
        write_json(os.path.join(self.tmp, "r", "zz-%s.json" % ("a" * 64)), missing)
        code, report, err = self.json_report("--legacy", os.path.join(self.tmp, "l"), "--reconstructed",
                                             os.path.join(self.tmp, "r"), want_code=0)
        self.assertEqual([r["class"] for r in report["results"]], ["exact", "exact"], err)
        self.assertEqual(report["results"][0]["legacy"]["status"], 404)
        self.assertEqual(report["results"][0]["target"], "/api/v3/sigma_analyses/" + "a" * 64)
        self.assertNotIn("warning", err)

    def test_unpaired_legacy_is_different_and_unpaired_reconstruction_a_warning(self):
        legacy = load_legacy()
        write_json(os.path.join(self.tmp, "l", "one.json"), legacy)
        other = copy.deepcopy(legacy)
        other["data"]["id"] = "b" * 64
        other["links"]["self"] = "https://www.virustotal.com/api/v3/files/%s/sigma_analysis" % ("b" * 64)
        write_json(os.path.join(self.tmp, "r", "two.json"), other)
        code, report, err = self.json_report("--legacy", os.path.join(self.tmp, "l"), "--reconstructed",
                                             os.path.join(self.tmp, "r"), want_code=1)
        [result] = report["results"]
        self.assertEqual(result["class"], "different")
        self.assertEqual(result["findings"], [{"path": "@file", "kind": "unpaired", "class": "different",
                                               "legacy": None, "reconstructed": None}])
        self.assertEqual(result["reconstructed"], {"status": 0, "body": None})
        self.assertIn("two.json", err)
        self.assertIn("warning", err)

    def test_two_single_files_are_compared_whatever_they_are(self):
        a = write_json(os.path.join(self.tmp, "a.json"), load_legacy())
        b = write_json(os.path.join(self.tmp, "b.json"), different_variant(load_legacy()))
        code, report, err = self.json_report("--legacy", a, "--reconstructed", b, want_code=1)
        self.assertEqual(report["results"][0]["findings"][0]["kind"], "value")

    def test_status_comes_from_the_error_code(self):
        a = write_json(os.path.join(self.tmp, "a.json"), {"error": {"code": "QuotaExceededError", "message": "x"}})
        b = write_json(os.path.join(self.tmp, "b.json"), {"error": {"code": "QuotaExceededError", "message": "y"}})
        code, report, _ = self.json_report("--legacy", a, "--reconstructed", b, want_code=0)
        result = report["results"][0]
        self.assertEqual((result["legacy"]["status"], result["reconstructed"]["status"]), (429, 429))
        self.assertEqual([f["kind"] for f in result["findings"]], ["error_message"])

        c = write_json(os.path.join(self.tmp, "c.json"), load_legacy())
        code, report, _ = self.json_report("--legacy", c, "--reconstructed", a, want_code=1)
        result = report["results"][0]
        self.assertEqual((result["legacy"]["status"], result["reconstructed"]["status"]), (200, 429))
        self.assertEqual(result["findings"][0], {"path": "@status", "kind": "status", "class": "different",
                                                 "legacy": 200, "reconstructed": 429})

    # -- options ---------------------------------------------------------------------------------------------

    def test_ignore_turns_the_difference_into_exact(self):
        legacy, rebuilt = make_pairs(self.tmp, kinds=("different",))
        code, report, err = self.json_report("--legacy", legacy, "--reconstructed", rebuilt, "--ignore",
                                             "data.attributes.rule_matches.*.rule_level", want_code=0)
        self.assertEqual(report["results"][0]["class"], "exact", err)
        self.assertEqual(report["summary"]["exact"], 1)
        code, report, err = self.json_report("--legacy", legacy, "--reconstructed", rebuilt, "--ignore=**.rule_level",
                                             want_code=0)
        self.assertEqual(report["results"][0]["class"], "exact", err)

    def test_date_tolerance(self):
        late = load_legacy()
        late["data"]["attributes"]["analysis_date"] += 30
        a = write_json(os.path.join(self.tmp, "a.json"), load_legacy())
        b = write_json(os.path.join(self.tmp, "b.json"), late)
        self.assertEqual(run("--legacy", a, "--reconstructed", b)[0], 1)
        code, report, _ = self.json_report("--legacy", a, "--reconstructed", b, "--date-tolerance", "60",
                                           want_code=0)
        self.assertEqual(report["results"][0]["findings"][0]["kind"], "date")

    def test_redact_masks_bodies_and_findings(self):
        legacy, rebuilt = make_pairs(self.tmp, kinds=("different",))
        code, report, err = self.json_report("--legacy", legacy, "--reconstructed", rebuilt, "--redact",
                                             "data.attributes.rule_matches.*.rule_level", "--redact",
                                             "data.attributes.rule_matches.*.rule_author", want_code=1)
        result = report["results"][0]
        self.assertEqual(result["class"], "different")  # masked after comparing
        [finding] = result["findings"]
        self.assertEqual((finding["legacy"], finding["reconstructed"]), ("[REDACTED]", "[REDACTED]"))
        for side in ("legacy", "reconstructed"):
            for match in result[side]["body"]["data"]["attributes"]["rule_matches"]:
                self.assertEqual(match["rule_level"], "[REDACTED]")
                self.assertEqual(match["rule_author"], "[REDACTED]")
        code, text, _ = run("--legacy", legacy, "--reconstructed", rebuilt, "--redact", "**.rule_level")
        self.assertNotIn("critical\"", text)
        code, html, _ = run("--legacy", legacy, "--reconstructed", rebuilt, "--redact", "**.rule_level",
                            "--format", "html")
        self.assertNotIn("&quot;rule_level&quot;: &quot;critical&quot;", html)
        self.assertNotIn("&quot;rule_level&quot;: &quot;low&quot;", html)
        self.assertIn("&quot;rule_level&quot;: &quot;[REDACTED]&quot;", html)

    # -- usage and input errors ------------------------------------------------------------------------------

    def test_help_lists_every_option(self):
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        for option in ("--legacy", "--reconstructed", "--upstream", "--format", "--output", "--date-tolerance",
                       "--ignore", "--redact", "--help", "text", "json", "html"):
            self.assertIn(option, out)
        top = subprocess.run([harness.BINARY, "--help"], stdout=subprocess.PIPE, timeout=RUN_TIMEOUT).stdout
        self.assertIn(b"compare", top)

    def test_usage_errors_exit_2(self):
        legacy, rebuilt = make_pairs(self.tmp, kinds=("exact",))
        cases = [
            [],
            ["--legacy", legacy],
            ["--reconstructed", rebuilt],
            ["--legacy", legacy, "--reconstructed", rebuilt, "--bogus"],
            ["--legacy", legacy, "--reconstructed", rebuilt, "stray"],
            ["--legacy", legacy, "--reconstructed", rebuilt, "--upstream", "demo"],
            ["--legacy", legacy, "--reconstructed", rebuilt, "--format", "xml"],
            ["--legacy", legacy, "--reconstructed", rebuilt, "--date-tolerance", "soon"],
            ["--legacy", legacy, "--reconstructed", rebuilt, "--date-tolerance", "-1"],
            ["--legacy", legacy, "--reconstructed"],
        ]
        for args in cases:
            code, out, err = run(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertIn("usage: sigma-shim compare", err, args)
            self.assertEqual(out, "", args)

    def test_unreadable_inputs_exit_3(self):
        legacy, rebuilt = make_pairs(self.tmp, kinds=("exact",))
        missing = os.path.join(self.tmp, "nowhere")
        code, out, err = run("--legacy", missing, "--reconstructed", rebuilt)
        self.assertEqual(code, 3, err)
        self.assertIn("sigma-shim compare: " + missing, err)
        self.assertEqual(out, "")

        broken = os.path.join(legacy, "zz-broken.json")
        with open(broken, "w") as f:
            f.write('{\n  "data": {\n    "id": nope\n  }\n}\n')
        code, out, err = run("--legacy", legacy, "--reconstructed", rebuilt)
        self.assertEqual(code, 3, err)
        self.assertRegex(err, r"sigma-shim compare: %s: .*\(line 3, column \d+\)" % broken.replace(".", r"\."))
        os.remove(broken)

        empty = self.folder("empty")
        code, _, err = run("--legacy", empty, "--reconstructed", rebuilt)
        self.assertEqual(code, 3, err)
        code, _, err = run("--legacy", legacy, "--reconstructed", empty)
        self.assertEqual(code, 3, err)
        self.assertEqual(run("--legacy", legacy, "--reconstructed", rebuilt)[0], 0)


class CompareUpstreamTest(unittest.TestCase):
    """--upstream demo: the recorded answer of the bundled demo file, reconstructed again through the serve
    chain."""

    @classmethod
    def setUpClass(cls):
        if not os.access(harness.BINARY, os.X_OK):
            raise unittest.SkipTest("no sigma-shim binary at %s (set SIGMA_SHIM_BINARY)" % harness.BINARY)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-compare-up-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def recorded_demo_answer(self, form="relationship", name=None):
        demo = os.path.join(harness.SOURCE_DIR, "shim", "demo")
        code, body, err = harness.convert(os.path.join(demo, "files", F568 + ".json"),
                                          [os.path.join(demo, "behaviours", F568 + ".json")], form=form)
        self.assertEqual(code, 0, err)
        folder = os.path.join(self.tmp, "legacy")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name or ("demo-%s.json" % form))
        with open(path, "wb") as f:
            f.write(body)
        return folder

    def run_upstream(self, *args):
        code, out, err = run(*args)
        if code == 3 and NOT_AVAILABLE in err:
            self.skipTest("the --upstream side (serve/compare_reconstructor.cpp) is still a stub: " + err.strip())
        return code, out, err

    def test_demo_answer_reconstructs_exactly(self):
        legacy = self.recorded_demo_answer()
        self.recorded_demo_answer(form="object")
        code, out, err = self.run_upstream("--legacy", legacy, "--upstream", "demo", "--format", "json")
        self.assertEqual(code, 0, out[:2000] + err)
        report = json.loads(out)
        self.assertEqual(report["summary"], {"total": 2, "exact": 2, "compatible": 0, "different": 0})
        self.assertEqual(sorted(r["target"] for r in report["results"]),
                         sorted(["/api/v3/files/%s/sigma_analysis" % F568, "/api/v3/sigma_analyses/%s" % F568]))

    def test_serve_flags_pass_through_and_a_changed_answer_differs(self):
        legacy = self.recorded_demo_answer()
        path = os.path.join(legacy, "demo-relationship.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        doc["data"]["attributes"]["rule_matches"][0]["rule_level"] = "critical"
        write_json(path, doc)
        code, out, err = self.run_upstream("--legacy", legacy, "--upstream", "demo", "--quota-per-minute", "100",
                                           "--match-context", "all")
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^different\s+1$")

    def test_a_bad_serve_flag_exits_3(self):
        legacy = self.recorded_demo_answer()
        code, out, err = self.run_upstream("--legacy", legacy, "--upstream", "demo", "--no-such-serve-flag")
        self.assertEqual(code, 3, out + err)
        self.assertIn("sigma-shim compare: ", err)


if __name__ == "__main__":
    unittest.main()
