"""GET /api/v3/files/{id}?relationship_counters=true, as msticpy's VirusTotal pivots send it before asking a
relationship (they read data.relationships.<name>.meta.count, and ask nothing when it is 0): the upstream's File
object as it came, asked for with the query as sent, with relationships.sigma_analysis = {"meta": {"count": N}}
added (1 when the legacy routes have an analysis for the file, else 0); and with ?relationships=sigma_analysis
too, the descriptor with "meta": {"count": N}."""

import json
import unittest

from harness import ShimTestCase, decoded, fetch_direct
from test_routes import F568, F912, NO_SIGMA_SHA256, STATS_ONLY, no_sigma_file
from upstream import COUNTED_RELATIONSHIPS


def ordered(body):
    """The JSON document with every object as its list of [key, value] pairs: member order counts. Numbers that
    are not whole are compared to 12 digits: Boost.JSON 1.81 may read the last digit of a double one unit off,
    as it does for the embedded form (the shim writes the double it read)."""
    return json.loads(body, object_pairs_hook=lambda pairs: [list(p) for p in pairs],
                      parse_float=lambda text: float("%.12g" % float(text)))


class RelationshipCounters(ShimTestCase):

    def setUp(self):
        super().setUp()
        self.up.data.add_file(no_sigma_file())
        self.shim = self.start_shim()

    def get(self, path):
        status, headers, body = self.shim.request("GET", path)
        return status, headers, decoded(headers, body)

    def file_requests(self, sha256):
        return [r.target for r in self.up.requests() if r.path.startswith("/api/v3/files/" + sha256)]

    def expected(self, target, count):
        """What the upstream answers to `target`, with the sigma_analysis counter put last in relationships."""
        status, body = fetch_direct(self.up, target)
        self.assertEqual(status, 200, body[:300])
        doc = ordered(body)
        data = dict(doc)["data"]
        relationships = dict(data)["relationships"]
        relationships.append(["sigma_analysis", [["meta", [["count", count]]]]])
        return doc

    def check_counter(self, sha256, count, query="relationship_counters=true"):
        target = "/api/v3/files/%s?%s" % (sha256, query)
        want = self.expected(target, count)
        self.up.clear_requests()
        status, headers, body = self.get(target)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(ordered(body), want, "the upstream's File object with the counter added, nothing else")
        self.assertEqual(headers.get("x-sigma-shim"), "reconstructed")
        self.assertEqual(headers.get("content-type"), "application/json; charset=utf-8")
        self.assertIsNone(headers.get("deprecation"), "the File object is no deprecated route")
        self.assertEqual(self.file_requests(sha256)[0], target, "the query goes upstream as sent")
        rels = json.loads(body)["data"]["relationships"]
        for name, n in COUNTED_RELATIONSHIPS.items():
            self.assertEqual(rels[name]["meta"], {"count": n}, "the upstream's own counters are kept")
        return headers

    def test_a_file_with_sigma_results_counts_one_from_the_file_object_alone(self):
        self.check_counter(F568, 1)
        self.assertEqual(self.file_requests(F568), ["/api/v3/files/%s?relationship_counters=true" % F568],
                         "the File object settles it: no behaviours asked")

    def test_a_stats_only_file_counts_one(self):
        self.check_counter(STATS_ONLY, 1)

    def test_a_file_without_sigma_data_counts_zero(self):
        self.check_counter(NO_SIGMA_SHA256, 0)
        self.assertIn("/api/v3/files/%s/behaviours" % NO_SIGMA_SHA256, self.file_requests(NO_SIGMA_SHA256),
                      "behaviours may carry what the File object lacks")
        # The legacy routes agree: no analysis.
        status, headers, body = self.get("/api/v3/sigma_analyses/" + NO_SIGMA_SHA256)
        self.assertEqual(status, 404, body[:300])

    def test_sigma_results_only_in_a_behaviour_count_one(self):
        sha256, obj = self.up.data.file(F568)
        stripped = json.loads(json.dumps(obj))
        for key in ("sigma_analysis_results", "sigma_analysis_stats", "sigma_analysis_summary"):
            stripped["attributes"].pop(key, None)
        self.up.data.add_file(stripped)
        self.check_counter(F568, 1)

    def test_other_parameters_and_relationships_are_kept(self):
        query = "relationships=comments&relationship_counters=true&x=1"
        self.check_counter(F912, 1, query)

    def test_with_the_embedded_form_the_descriptor_is_counted(self):
        for sha256, count in ((F568, 1), (NO_SIGMA_SHA256, 0)):
            with self.subTest(file=sha256[:8]):
                self.up.clear_requests()
                status, headers, body = self.get(
                    "/api/v3/files/%s?relationships=comments,sigma_analysis&relationship_counters=true" % sha256)
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(headers.get("x-sigma-shim"), "reconstructed")
                self.assertEqual(headers.get("deprecation"), "true")
                # The File object and the first behaviour page are asked for at once: in either order.
                self.assertIn("/api/v3/files/%s?relationships=comments&relationship_counters=true" % sha256,
                              self.file_requests(sha256))
                rels = json.loads(body)["data"]["relationships"]
                sigma = rels["sigma_analysis"]
                self.assertEqual(sigma["meta"], {"count": count})
                self.assertEqual(sigma["data"], {"id": sha256, "type": "sigma_analysis"} if count else None)
                self.assertEqual(set(sigma["links"]), {"related", "self"})
                self.assertEqual(rels["comments"]["meta"], {"count": COUNTED_RELATIONSHIPS["comments"]})
                self.assertIn("links", rels["comments"], "the upstream's relationship as it gave it")

    def test_without_counters_true_the_request_passes_through_unchanged(self):
        for query in ("relationship_counters=false", "relationships=comments", ""):
            with self.subTest(query=query):
                target = "/api/v3/files/%s%s" % (F568, "?" + query if query else "")
                status_direct, direct = fetch_direct(self.up, target)
                self.up.clear_requests()
                status, headers, body = self.get(target)
                self.assertEqual((status, body), (status_direct, direct))
                self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
                self.assertEqual(self.file_requests(F568), [target])
                self.assertNotIn("sigma_analysis", json.loads(body)["data"].get("relationships", {}))

    def test_a_file_the_upstream_does_not_know_gives_its_404(self):
        unknown = "ab" * 32
        target = "/api/v3/files/%s?relationship_counters=true" % unknown
        status_direct, direct = fetch_direct(self.up, target)
        self.assertEqual(status_direct, 404)
        status, headers, body = self.get(target)
        self.assertEqual((status, body), (404, direct))
        self.assertNotEqual(headers.get("x-sigma-shim"), "local", "VirusTotal's answer, not the shim's")

    def test_a_second_request_is_answered_from_the_cache(self):
        target = "/api/v3/files/%s?relationship_counters=true" % NO_SIGMA_SHA256
        first = self.get(target)
        self.up.clear_requests()
        second = self.get(target)
        self.assertEqual(second[2], first[2])
        self.assertEqual(second[1].get("x-sigma-shim-cache"), "hit")
        self.assertEqual(self.up.requests(), [])


if __name__ == "__main__":
    unittest.main()
