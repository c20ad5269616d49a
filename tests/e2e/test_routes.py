"""The legacy routes of the contract (section 1), over HTTP and HTTPS, checked byte for byte against
`sigma-shim convert` run on exactly what the upstream double serves."""

import copy
import hashlib
import json
import os
import unittest
import urllib.parse

import harness
from harness import API_KEY, ShimTestCase, convert, decoded, rules_folder, upstream_inputs
from route_table import forms

F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"   # demo: file + behaviour page
F568_MD5 = "2a0ac716254c23667b8a223a6e5f6e13"
F568_SHA1 = "65a887256974b896d27fe41065be91e029dc389b"
PS1 = "020876e69dac4b2cb5b75a616dbdac8b913f3cc06fbabd8f8dd3277691ba48b6"    # 17 results, no behaviours
PS1_MD5 = "6a6761c9563359c6b446c03b946367b5"
STATS_ONLY = "03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b"  # stats only: partial
F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
DOCS_REL = "c8846914b9644d1bff54155ce4d14ef82548c64655c9431ae94d56448bfc7424"
DOCS_OBJ = "c885691ab568bd5bff581555e1d15ef82558c5a655c9c51ae5bd554b85fc7424"
RULE_5C3E = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b"

ALL_FILES = [F568, PS1, STATS_ONLY, F912, DOCS_REL, DOCS_OBJ]

NO_SIGMA_SHA256 = hashlib.sha256(b"sigma-shim e2e: a file without any Sigma data").hexdigest()


def no_sigma_file():
    return {"type": "file", "id": NO_SIGMA_SHA256,
            "links": {"self": "https://www.virustotal.com/api/v3/files/" + NO_SIGMA_SHA256},
            "attributes": {"sha256": NO_SIGMA_SHA256, "md5": hashlib.md5(b"no sigma").hexdigest(),
                           "sha1": hashlib.sha1(b"no sigma").hexdigest(), "last_analysis_date": 1700000000,
                           "last_modification_date": 1700000100, "type_description": "Text",
                           "last_analysis_stats": {"harmless": 0, "malicious": 0, "undetected": 60}}}


class RoutesBase(ShimTestCase):
    """Shared checks; the HTTP and HTTPS classes below differ only in the upstream's transport."""

    tls = False

    def setUp(self):
        super().setUp()
        if self.tls:
            self.up = self.make_upstream(tls=True)

    def shim_args(self, *extra):
        args = []
        if self.tls:
            import certs
            args += ["--upstream-ca", certs.shared_certs().ca_cert]
        return args + list(extra)

    def oracle(self, sha256, form, file_id=None, match_context=None, public_base=None, limit=None, cursor=None,
               file_target=None, max_pages=None):
        """(exit code, bytes, stderr) of convert on what the upstream serves for sha256."""
        folder = os.path.join(self.tmp, "in-%s-%d" % (sha256[:8], len(os.listdir(self.tmp))))
        os.makedirs(folder)
        file_path, pages = upstream_inputs(self.up, sha256, folder, file_target=file_target, max_pages=max_pages)
        rules = rules_folder(self.up, folder)
        return convert(file_path, pages, form=form, file_id=file_id, public_base=public_base,
                       match_context=match_context, rules=rules, limit=limit, cursor=cursor)

    def check_reconstructed_headers(self, headers, sha256, base="https://www.virustotal.com", partial=None):
        self.assertEqual(headers.get("content-type"), "application/json; charset=utf-8")
        self.assertEqual(headers.get("x-sigma-shim"), "reconstructed")
        self.assertEqual(headers.get("deprecation"), "true")
        self.assertEqual(headers.get("link"), '<%s/api/v3/files/%s>; rel="successor-version"' % (base, sha256))
        self.assertIn(headers.get("x-sigma-shim-fidelity"), ("full", "partial"))
        if partial is not None:
            self.assertEqual(headers.get("x-sigma-shim-fidelity"), "partial" if partial else "full")
        self.assertTrue(headers.get("x-request-id"), "no X-Request-Id")

    def get(self, shim, path, **kw):
        status, headers, body = shim.request("GET", path, **kw)
        return status, headers, decoded(headers, body)

    # -- every route and form, byte for byte ------------------------------------------------------

    def run_all_forms(self, shim, files, id_variants=None, match_context=None, public_base=None):
        for sha256 in files:
            ids = (id_variants or {}).get(sha256, [sha256])
            for file_id in ids:
                for form, (template, is_list) in forms().items():
                    path = template.format(id=file_id)
                    limit = None
                    if is_list:
                        # VirusTotal collections answer 10 items unless asked; ask for 40 to have them all.
                        path += "?limit=40"
                        limit = 40
                    with self.subTest(file=sha256[:8], id=file_id, form=form):
                        code, want, err = self.oracle(sha256, form, file_id=file_id, limit=limit,
                                                      match_context=match_context, public_base=public_base)
                        self.up.clear_requests()
                        status, headers, body = self.get(shim, path)
                        if code == 4:
                            self.assertEqual(status, 200 if form in ("descriptor", "embedded") else 404, body)
                        else:
                            self.assertEqual(code, 0, err)
                            self.assertEqual(status, 200, body[:500])
                            self.check_reconstructed_headers(headers, sha256,
                                                             base=public_base or "https://www.virustotal.com",
                                                             partial="fidelity partial" in err)
                        self.assertEqual(body, want, "GET %s differs from convert --form %s" % (path, form))
                        self.assertEqual(self.up.tls_errors(), [])

    def test_every_form_matches_convert(self):
        shim = self.start_shim(*self.shim_args())
        self.run_all_forms(shim, ALL_FILES)

    def test_id_may_be_md5_sha1_or_any_case(self):
        shim = self.start_shim(*self.shim_args())
        self.run_all_forms(shim, [F568, PS1], id_variants={
            F568: [F568_MD5, F568_SHA1.upper(), F568.upper()],
            PS1: [PS1_MD5.upper()]})

    def test_public_base_is_used_in_links(self):
        base = "https://vt-proxy.example.org"
        shim = self.start_shim(*self.shim_args("--public-base", base))
        self.run_all_forms(shim, [F912], public_base=base)
        status, headers, body = self.get(shim, "/api/v3/sigma_analyses/" + F912)
        self.assertNotIn(("127.0.0.1:%d" % shim.port).encode(), body)

    # -- the embedded form's relationships parameter -------------------------------------------------

    def test_embedded_alone_drops_the_parameter_upstream(self):
        shim = self.start_shim(*self.shim_args())
        code, want, err = self.oracle(F568, "embedded", file_id=F568)
        self.up.clear_requests()
        status, headers, body = self.get(shim, "/api/v3/files/%s?relationships=sigma_analysis" % F568)
        self.assertEqual(status, 200, body)
        self.assertEqual(body, want)
        files = [r for r in self.up.requests("/api/v3/files/") if r.path == "/api/v3/files/" + F568]
        self.assertEqual(len(files), 1, self.up.requests())
        self.assertNotIn("relationships", files[0].query, files[0].target)
        self.assertEqual(files[0].target, "/api/v3/files/" + F568)

    def test_embedded_keeps_other_relationships(self):
        shim = self.start_shim(*self.shim_args())
        code, want, err = self.oracle(F568, "embedded", file_id=F568,
                                      file_target="/api/v3/files/%s?relationships=comments" % F568)
        self.assertEqual(code, 0, err)
        self.up.clear_requests()
        status, headers, body = self.get(shim, "/api/v3/files/%s?relationships=comments,sigma_analysis" % F568)
        files = [r for r in self.up.requests() if r.path == "/api/v3/files/" + F568]
        self.assertEqual(len(files), 1, self.up.requests())
        self.assertEqual(files[0].target, "/api/v3/files/%s?relationships=comments" % F568,
                         "the upstream was asked for something else")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, want)
        rels = json.loads(body)["data"]["relationships"]
        self.assertIn("comments", rels)
        self.assertEqual(rels["sigma_analysis"]["data"], {"id": F568, "type": "sigma_analysis"})

    def test_embedded_keeps_several_relationships_in_order(self):
        shim = self.start_shim(*self.shim_args())
        status, headers, body = self.get(
            shim, "/api/v3/files/%s?relationships=sigma_analysis,votes,comments&x=1" % F568_MD5)
        files = [r for r in self.up.requests() if r.path == "/api/v3/files/" + F568_MD5]
        self.assertEqual(len(files), 1, self.up.requests())
        self.assertEqual(files[0].query.get("relationships"), ["votes,comments"], files[0].target)
        self.assertEqual(files[0].query.get("x"), ["1"], files[0].target)
        self.assertEqual(status, 200, body)
        rels = json.loads(body)["data"]["relationships"]
        self.assertEqual(sorted(rels), ["comments", "sigma_analysis", "votes"])

    def test_file_without_relationship_param_is_passed_through(self):
        shim = self.start_shim(*self.shim_args())
        status, headers, body = self.get(shim, "/api/v3/files/%s?relationships=comments" % F568)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
        self.assertNotIn("sigma_analysis", json.loads(body)["data"].get("relationships", {}))

    # -- match-context modes ------------------------------------------------------------------------

    def test_match_context_all_and_rule_fields(self):
        # The wide round-trip input: contexts with extra Sysmon fields; rule-fields selects them back.
        data = harness.vt.Dataset().load_all(wide=True)
        up = self.make_upstream(tls=self.tls, data=data)
        self.up = up
        for mode in ("all", "rule-fields"):
            with self.subTest(mode=mode):
                shim = self.start_shim(*self.shim_args("--match-context", mode, "--cache-bytes", "0"), up=up)
                self.run_all_forms(shim, [DOCS_REL, F568], match_context=mode)
                status, headers, body = self.get(shim, "/api/v3/files/%s/sigma_analysis" % DOCS_REL)
                contexts = [m["match_context"] for m in json.loads(body)["data"]["attributes"]["rule_matches"]
                            if m["rule_id"] == RULE_5C3E]
                self.assertTrue(contexts)
                for c in contexts:
                    if mode == "rule-fields":
                        self.assertNotIn("$ProcessId", c)
                    self.assertIn("$CommandLine: ", c)
                # rule-fields fetches the rule objects (cached), "all" needs none for the object form.
                rule_calls = up.count("/api/v3/sigma_rules/")
                if mode == "rule-fields":
                    self.assertGreater(rule_calls, 0)
                shim.stop()
                up.clear_requests()

    # -- errors -------------------------------------------------------------------------------------

    def test_file_without_sigma_data(self):
        self.up.data.add_file(no_sigma_file())
        shim = self.start_shim(*self.shim_args())
        for form, (template, is_list) in forms().items():
            with self.subTest(form=form):
                code, want, err = self.oracle(NO_SIGMA_SHA256, form, file_id=NO_SIGMA_SHA256,
                                              limit=10 if is_list else None)
                self.assertEqual(code, 4, err)
                status, headers, body = self.get(shim, template.format(id=NO_SIGMA_SHA256))
                if form in ("descriptor", "embedded"):
                    self.assertEqual(status, 200, body)
                    self.assertEqual(body, want)
                    if form == "descriptor":
                        doc = json.loads(body)
                        self.assertIsNone(doc["data"])
                        self.assertEqual(doc["meta"], {"count": 0})
                    else:
                        rel = json.loads(body)["data"]["relationships"]["sigma_analysis"]
                        self.assertIsNone(rel["data"])
                else:
                    doc = self.assertVtError(status, body, 404, "NotFoundError")
                    self.assertEqual(doc["error"]["message"], 'Sigma analysis for "%s" not found' % NO_SIGMA_SHA256)
                    self.assertEqual(body, want)

    def test_bad_id_is_400_and_never_forwarded(self):
        shim = self.start_shim(*self.shim_args())
        bad_ids = ["not-a-hash", "zz" * 16, F568[:-1], F568 + "0", "0123", "%2F" + F568_MD5[3:], F568_MD5 + "%00",
                   "g" * 32, "%2e%2e"]
        for bad in bad_ids:
            for form, (template, is_list) in forms().items():
                path = template.format(id=bad)
                with self.subTest(id=bad, form=form):
                    self.up.clear_requests()
                    status, headers, body = self.get(shim, path)
                    self.assertVtError(status, body, 400, "InvalidArgumentError")
                    self.assertEqual(self.up.requests(), [], "GET %s was forwarded" % path)

    # -- list routes: limit and cursor ----------------------------------------------------------------

    def test_rules_routes_limit_and_cursor(self):
        shim = self.start_shim(*self.shim_args())
        for sha256, limit in ((DOCS_OBJ, 2), (PS1, 10)):
            for form in ("rules", "rules-descriptors"):
                template = forms()[form][0]
                code, everything, err = self.oracle(sha256, form, file_id=sha256)
                all_items = json.loads(everything)["data"]
                collected = []
                cursor = None
                pages = 0
                while True:
                    query = {"limit": str(limit)}
                    if cursor:
                        query["cursor"] = cursor
                    path = template.format(id=sha256) + "?" + urllib.parse.urlencode(query)
                    with self.subTest(file=sha256[:8], form=form, cursor=cursor):
                        code, want, err = self.oracle(sha256, form, file_id=sha256, limit=limit, cursor=cursor)
                        self.assertEqual(code, 0, err)
                        status, headers, body = self.get(shim, path)
                        self.assertEqual(status, 200, body)
                        self.assertEqual(body, want, "GET %s" % path)
                    doc = json.loads(body)
                    collected += doc["data"]
                    self.assertEqual(doc["meta"]["count"], len(all_items))
                    cursor = doc["meta"].get("cursor")
                    pages += 1
                    if not cursor or pages > 50:
                        break
                self.assertEqual(collected, all_items)
                self.assertEqual(pages, (len(all_items) + limit - 1) // limit)

class RoutesOverHttp(RoutesBase):
    tls = False


class RoutesOverHttps(RoutesBase):
    """The same, with the upstream at https://localhost:PORT and the test CA given as --upstream-ca."""
    tls = True

    def test_upstream_requests_were_tls(self):
        shim = self.start_shim(*self.shim_args())
        self.up.clear_requests()
        status, headers, body = self.get(shim, "/api/v3/sigma_analyses/" + F912)
        self.assertEqual(status, 200, body)
        reqs = self.up.requests()
        self.assertTrue(reqs)
        self.assertTrue(all(r.tls for r in reqs))
        self.assertEqual(reqs[0].header("Host"), "localhost:%d" % self.up.port)


del RoutesBase  # only the concrete classes run

if __name__ == "__main__":
    unittest.main()
