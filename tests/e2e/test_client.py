"""Clients nobody here wrote, against the shim: Python's urllib.request always; `requests` and vt-py (the
API v3 client) only when they happen to be importable (nothing is installed for these tests). Clients of
API v2 (/vtapi/v2/, such as Debian's python3-virustotal-api) are not tried: the shim serves API v3 only."""

import gzip
import importlib
import importlib.util
import json
import unittest
import urllib.error
import urllib.request

from harness import API_KEY, ShimTestCase

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"


def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class Urllib(ShimTestCase):

    def open(self, shim, path, headers=None, data=None, method=None):
        req = urllib.request.Request(shim.url + path, headers=headers or {}, data=data, method=method)
        # No proxy from the environment: the shim is on loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return opener.open(req, timeout=15)

    def test_legacy_route(self):
        shim = self.start_shim()
        with self.open(shim, "/api/v3/files/%s/sigma_analysis" % F912, {"x-apikey": API_KEY}) as resp:
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.headers.get_content_type(), "application/json")
            self.assertEqual(resp.headers.get_content_charset(), "utf-8")
            self.assertEqual(resp.headers["X-Sigma-Shim"], "reconstructed")
            doc = json.loads(resp.read().decode("utf-8"))
        self.assertEqual(doc["data"]["type"], "sigma_analysis")
        self.assertEqual(doc["data"]["id"], F912)
        self.assertEqual(doc["meta"], {"count": 1})
        self.assertEqual(doc["links"]["self"], "https://www.virustotal.com/api/v3/files/%s/sigma_analysis" % F912)

    def test_legacy_route_gzip(self):
        shim = self.start_shim()
        with self.open(shim, "/api/v3/sigma_analyses/" + F912, {"Accept-Encoding": "gzip"}) as resp:
            self.assertEqual(resp.headers["Content-Encoding"], "gzip")
            doc = json.loads(gzip.decompress(resp.read()))
        self.assertEqual(doc["data"]["type"], "sigma_analysis")

    def test_legacy_error(self):
        shim = self.start_shim()
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.open(shim, "/api/v3/sigma_analyses/not-a-file-id")
        self.assertEqual(cm.exception.code, 400)
        doc = json.loads(cm.exception.read())
        cm.exception.close()
        self.assertEqual(doc["error"]["code"], "InvalidArgumentError")

    def test_passthrough_route(self):
        shim = self.start_shim()
        with self.open(shim, "/api/v3/files/" + F568) as resp:
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.headers["X-Sigma-Shim"], "passthrough")
            doc = json.loads(resp.read())
        self.assertEqual(doc["data"]["id"], F568)
        with self.open(shim, "/api/v3/echo/urllib", data=b'{"x": 1}', method="POST",
                       headers={"Content-Type": "application/json"}) as resp:
            self.assertEqual(resp.status, 201)
            doc = json.loads(resp.read())
        self.assertEqual(doc["body_bytes"], 8)


@unittest.skipUnless(importable("requests"), "the requests library is not importable here (not installed for "
                                             "these tests)")
class Requests(ShimTestCase):
    """`requests` decodes gzip itself and keeps connections alive: a different client from urllib."""

    def test_legacy_and_passthrough_on_one_session(self):
        requests = importlib.import_module("requests")
        shim = self.start_shim()
        with requests.Session() as s:
            s.trust_env = False
            s.headers["x-apikey"] = API_KEY
            r = s.get(shim.url + "/api/v3/files/%s/relationships/sigma_analysis" % F912, timeout=15)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(r.headers.get("Content-Encoding"), "gzip")  # requests asks for gzip by default
            self.assertEqual(r.json()["data"], {"id": F912, "type": "sigma_analysis"})
            r = s.get(shim.url + "/api/v3/sigma_analyses/%s/rules" % F912, params={"limit": 1}, timeout=15)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(len(r.json()["data"]), 1)
            r = s.get(shim.url + "/api/v3/files/" + F568, timeout=15)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(r.json()["data"]["id"], F568)
            r = s.get(shim.url + "/api/v3/files/" + "0" * 64, timeout=15)
            self.assertEqual(r.status_code, 404)
            self.assertEqual(r.json()["error"]["code"], "NotFoundError")


class VirusTotalClientLibrary(ShimTestCase):

    def test_vt_py(self):
        if not importable("vt"):
            self.skipTest("vt-py (`vt`) is not importable; it is not installed for these tests")
        vt = importlib.import_module("vt")
        if not hasattr(vt, "Client"):
            self.skipTest("the importable `vt` module is not vt-py")
        shim = self.start_shim()
        client = vt.Client(API_KEY, host=shim.url, trust_env=False) if _accepts(vt.Client, "trust_env") \
            else vt.Client(API_KEY, host=shim.url)
        try:
            analysis = client.get_object("/sigma_analyses/{}", F912)
            self.assertEqual(analysis.type, "sigma_analysis")
            self.assertEqual(analysis.id, F912)
            f = client.get_object("/files/{}", F568)
            self.assertEqual(f.id, F568)
        finally:
            client.close()


def _accepts(fn, name):
    import inspect
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


if __name__ == "__main__":
    unittest.main()
