"""X-Sigma-Shim says who made an answer: `local` on everything the shim answers by itself (its errors, its quota's
429, its /_shim/ endpoints), so that an operator can tell them from VirusTotal's; an upstream answer relayed keeps
the route's label (`passthrough`, `reconstructed`), errors included. (harness.Shim.request also checks that every
answer any e2e test gets carries a known label.)"""

import json
import socket
import unittest

from harness import ShimTestCase, decoded
from test_routes import F568

LOCAL = "local"


class AnswerLabel(ShimTestCase):

    def label_of(self, shim, method, path, headers=None, body=None):
        status, got, data = shim.request(method, path, headers=headers, body=body)
        return status, got.get("x-sigma-shim"), decoded(got, data)

    def assertLocal(self, shim, what, method, path, want_status, want_code=None, headers=None, body=None):
        with self.subTest(what):
            status, label, data = self.label_of(shim, method, path, headers, body)
            self.assertEqual(status, want_status, "%s: %r" % (what, data[:300]))
            self.assertEqual(label, LOCAL, what)
            if want_code:
                self.assertEqual(json.loads(data)["error"]["code"], want_code, what)

    def test_the_shims_own_answers_say_local(self):
        self.up.set_delay(5, "/api/v3/slow")
        shim = self.start_shim("--max-header-bytes", "8192", "--max-body-bytes", "1024", "--upstream-timeout", "1s",
                               "--upstream-retries", "0")
        self.assertLocal(shim, "400 outside /api/v3/", "GET", "/not/api", 400, "InvalidArgumentError")
        self.assertLocal(shim, "400 a bad legacy id", "GET", "/api/v3/sigma_analyses/not-a-hash", 400,
                         "InvalidArgumentError")
        self.assertLocal(shim, "400 a body on a legacy route", "GET", "/api/v3/sigma_analyses/" + F568, 400,
                         "InvalidArgumentError", body=b"x")
        self.assertLocal(shim, "403 a mode header not allowed", "GET", "/api/v3/sigma_analyses/" + F568, 403,
                         "ForbiddenError", headers={"X-Sigma-Shim-Mode": "passthrough"})
        self.assertLocal(shim, "404 an unknown /_shim/ endpoint", "GET", "/_shim/nothing-here", 404,
                         "NotFoundError")
        self.assertLocal(shim, "413 a body over --max-body-bytes", "POST", "/api/v3/echo/big", 413,
                         "PayloadTooLargeError", body=b"x" * 2048)
        self.assertLocal(shim, "431 a header over --max-header-bytes", "GET", "/api/v3/users/me", 431,
                         "RequestHeaderFieldsTooLargeError", headers={"X-Big": "a" * 16000})
        self.assertLocal(shim, "504 a pass-through the upstream is too slow for", "GET", "/api/v3/slow/1", 504,
                         "DeadlineExceededError")
        self.assertLocal(shim, "200 /_shim/livez", "GET", "/_shim/livez", 200)
        self.assertLocal(shim, "200 /_shim/metrics", "GET", "/_shim/metrics", 200)

    def test_401_without_a_key_says_local(self):
        shim = self.start_shim(key=None)
        self.assertLocal(shim, "401 no key", "GET", "/api/v3/users/me", 401, "AuthenticationRequiredError")
        self.assertLocal(shim, "401 no key, legacy", "GET", "/api/v3/sigma_analyses/" + F568, 401,
                         "AuthenticationRequiredError")

    def test_503_when_the_upstream_cannot_be_reached_says_local(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed when the shim starts: nothing listens there
        shim = self.start_shim("--upstream", "http://127.0.0.1:%d" % port, "--upstream-retries", "0")
        self.assertLocal(shim, "503 pass-through", "GET", "/api/v3/users/me", 503, "TransientError")
        self.assertLocal(shim, "503 legacy", "GET", "/api/v3/sigma_analyses/" + F568, 503, "TransientError")

    def test_the_local_quota_429_says_local_on_both_routes(self):
        shim = self.start_shim("--quota-per-minute", "1", "--upstream-retries", "0", "--cache-bytes", "0")
        status, label, data = self.label_of(shim, "GET", "/api/v3/echo/first")
        self.assertEqual((status, label), (201, "passthrough"), data[:300])
        self.assertLocal(shim, "429 pass-through", "GET", "/api/v3/echo/second", 429, "QuotaExceededError")
        self.assertLocal(shim, "429 legacy", "GET", "/api/v3/sigma_analyses/" + F568, 429, "QuotaExceededError")

    def test_the_upstreams_errors_relayed_are_not_labelled_local(self):
        shim = self.start_shim("--upstream-retries", "0", "--cache-bytes", "0")
        self.up.set_canned("/api/v3/canned/503", 503, {"error": {"code": "TransientError", "message": "VT's"}})
        got, label, data = self.label_of(shim, "GET", "/api/v3/canned/503")
        self.assertEqual((got, label), (503, "passthrough"), data[:300])
        self.up.set_html("/api/v3/html", 500)
        got, label, data = self.label_of(shim, "GET", "/api/v3/html")
        self.assertEqual((got, label), (500, "passthrough"))
        # A File VirusTotal does not know, on a legacy route: its 404, relayed by the reconstruction.
        got, label, data = self.label_of(shim, "GET", "/api/v3/sigma_analyses/" + "cd" * 32)
        self.assertEqual((got, label), (404, "reconstructed"), data[:300])
        self.assertIn("cd" * 32, json.loads(data)["error"]["message"])
        # Last, since it stops the key: VirusTotal's 429 is relayed as such; the next one is the shim's own.
        self.up.set_canned("/api/v3/canned/429", 429, {"error": {"code": "QuotaExceededError", "message": "VT's"}},
                           headers=[("Retry-After", "30")])
        got, label, data = self.label_of(shim, "GET", "/api/v3/canned/429")
        self.assertEqual((got, label), (429, "passthrough"), data[:300])
        self.assertEqual(json.loads(data)["error"]["message"], "VT's")
        self.assertIsNotNone(shim.wait_for_log(lambda line: line.get("status") == 429))
        self.assertLocal(shim, "429 after VirusTotal's", "GET", "/api/v3/canned/429", 429, "QuotaExceededError")

if __name__ == "__main__":
    unittest.main()
