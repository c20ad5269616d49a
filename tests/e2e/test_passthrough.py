"""Requests that are not legacy Sigma routes go to the upstream unchanged, streamed both ways."""

import hashlib
import json
import socket
import time
import unittest

import upstream as vt
from harness import API_KEY, REQUEST_TIMEOUT, RSS_SKIP, SANITIZED, ShimTestCase, decoded

MB = 1 << 20
RSS_LIMIT_KB = 64 * 1024
BIG_MB = 30

REQUEST_HOP_BY_HOP = {
    "connection": "keep-alive, X-Client-Hop",
    "keep-alive": "timeout=5, max=100",
    "x-client-hop": "named in Connection",
    "te": "trailers",
    "proxy-authorization": "Basic cHJveHk6c2VjcmV0",
    "proxy-connection": "keep-alive",
}


def body_chunks(total, chunk=256 * 1024):
    """`total` bytes in chunks, and the SHA-256 the whole would have, without holding it all."""
    block = hashlib.sha256(b"upload block").digest() * (chunk // 32)
    h = hashlib.sha256()
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        h.update(piece)
        sent += len(piece)
    digest = h.hexdigest()

    def gen():
        n = 0
        while n < total:
            piece = block[: min(chunk, total - n)]
            n += len(piece)
            yield piece
    return gen, digest


class Passthrough(ShimTestCase):

    def echo(self, shim, method, path, headers=None, body=None):
        status, headers_out, raw = shim.request(method, path, headers=headers, body=body)
        return status, headers_out, decoded(headers_out, raw)

    def test_get_is_relayed_with_status_headers_and_body(self):
        shim = self.start_shim()
        target = "/api/v3/echo/some/thing?x=1&y=a%20b&relationships=comments"
        status, headers, body = self.echo(shim, "GET", target, headers={"x-apikey": "client-key",
                                                                       "X-Custom": "abc"})
        self.assertEqual(status, 201, body)
        self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
        self.assertEqual(headers.get("x-upstream-custom"), "kept")
        self.assertEqual(headers.get("cache-control"), "no-store")
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        doc = json.loads(body)
        self.assertEqual(doc["method"], "GET")
        self.assertEqual(doc["target"], target)
        sent = {k.lower(): v for k, v in doc["headers"]}
        self.assertEqual(sent.get("x-custom"), "abc")
        self.assertEqual(sent.get("x-apikey"), "client-key")
        reqs = self.up.requests("/api/v3/echo")
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0].target, target)

    def test_upstream_answer_bytes_are_relayed(self):
        shim = self.start_shim()
        for target in ("/api/v3/files/%s" % "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9",
                       "/api/v3/sigma_rules/5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b",
                       "/api/v3/urls/aHR0cDovL2V4YW1wbGUuY29tLw",
                       "/api/v3/files/f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9/behaviours"):
            with self.subTest(target=target):
                self.up.gzip_answers = False
                want_status, want = _direct(self.up, target)
                self.up.gzip_answers = True
                status, headers, body = self.echo(shim, "GET", target)
                self.assertEqual(status, want_status)
                self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
                self.assertEqual(body, want)

    def test_other_methods_and_bodies(self):
        shim = self.start_shim()
        for method in ("POST", "PUT", "PATCH", "DELETE", "GET"):
            with self.subTest(method=method):
                payload = json.dumps({"data": {"type": "comment", "attributes": {"text": method}}}).encode()
                self.up.clear_requests()
                status, headers, body = self.echo(shim, method, "/api/v3/echo/comments?m=" + method,
                                                  headers={"Content-Type": "application/json"}, body=payload)
                self.assertEqual(status, 201, body)
                doc = json.loads(body)
                self.assertEqual(doc["method"], method)
                self.assertEqual(doc["body_bytes"], len(payload))
                self.assertEqual(doc["body_sha256"], hashlib.sha256(payload).hexdigest())

    def test_post_to_legacy_path_is_passed_through(self):
        shim = self.start_shim()
        path = "/api/v3/sigma_analyses/f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
        status, headers, body = self.echo(shim, "POST", path, body=b"{}",
                                          headers={"Content-Type": "application/json"})
        self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
        self.assertEqual(status, 404, body)
        self.assertEqual([r.method for r in self.up.requests()], ["POST"])

    def test_expect_100_continue_is_answered_before_the_body(self):
        # A client that asks to be told to go on gets "100 Continue" once the upstream took the header, and
        # only then sends its body. Without it, such a client waits (curl: a second) before sending anyway.
        shim = self.start_shim()
        payload = b'{"data": "after continue"}'
        with socket.create_connection(("127.0.0.1", shim.port), timeout=REQUEST_TIMEOUT) as s:
            s.sendall(b"POST /api/v3/echo/continue HTTP/1.1\r\nHost: shim\r\nx-apikey: " + API_KEY.encode() +
                      b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                      str(len(payload)).encode() + b"\r\n\r\n")
            interim = b""
            while b"\r\n\r\n" not in interim:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "closed before 100 Continue: %r" % interim)
                interim += chunk
            head, _, rest = interim.partition(b"\r\n\r\n")
            self.assertEqual(head.split(b"\r\n")[0], b"HTTP/1.1 100 Continue")
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            answer = rest
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 201 "), answer[:200])
        doc = json.loads(answer.partition(b"\r\n\r\n")[2])
        self.assertEqual(doc["method"], "POST")
        self.assertEqual(doc["body_bytes"], len(payload))
        self.assertEqual(doc["body_sha256"], hashlib.sha256(payload).hexdigest())
        self.assertNotIn("expect", self.up.requests("/api/v3/echo")[0].header_names())

    def test_hop_by_hop_headers_are_not_forwarded(self):
        shim = self.start_shim()
        headers = dict(REQUEST_HOP_BY_HOP)
        headers["X-Client-End"] = "end-to-end"
        status, out_headers, body = self.echo(shim, "GET", "/api/v3/echo/hop", headers=headers)
        self.assertEqual(status, 201, body)
        rec = self.up.requests("/api/v3/echo")[0]
        names = rec.header_names()
        for name in REQUEST_HOP_BY_HOP:
            if name == "connection":
                value = rec.header("connection")
                if value is not None:
                    self.assertNotIn("x-client-hop", value.lower(), "Connection tokens forwarded")
                continue
            self.assertNotIn(name, names, "hop-by-hop request header %s forwarded upstream" % name)
        self.assertEqual(rec.header("x-client-end"), "end-to-end")
        # And on the way back: the upstream's Keep-Alive, Proxy-Authenticate and the header its Connection
        # names must not reach the client.
        self.assertNotIn("keep-alive", out_headers)
        self.assertNotIn("proxy-authenticate", out_headers)
        self.assertNotIn("x-upstream-hop", out_headers)
        self.assertEqual(out_headers.get("x-upstream-custom"), "kept")

    def test_host_is_the_upstreams(self):
        shim = self.start_shim()
        status, headers, body = self.echo(shim, "GET", "/api/v3/echo/host",
                                          headers={"Host": "shim.example:%d" % shim.port})
        self.assertEqual(status, 201, body)
        rec = self.up.requests("/api/v3/echo")[0]
        self.assertEqual(rec.header("host"), "127.0.0.1:%d" % self.up.port)

    def test_vt_error_is_relayed(self):
        shim = self.start_shim()
        self.up.set_canned("/api/v3/ip_addresses/10.0.0.1", 429,
                           vt.vt_error("QuotaExceededError", "Quota exceeded"), headers=[("Retry-After", "7")])
        status, headers, body = self.echo(shim, "GET", "/api/v3/ip_addresses/10.0.0.1")
        self.assertEqual(status, 429)
        self.assertEqual(json.loads(body)["error"]["code"], "QuotaExceededError")
        self.assertEqual(headers.get("retry-after"), "7")

    def test_the_shims_own_headers_are_not_taken_from_the_upstream(self):
        # The relay writes X-Sigma-Shim, X-Sigma-Shim-Cache and X-Request-Id itself: an upstream's are dropped,
        # so the client gets one of each (repeated headers would reach it joined with ", ").
        shim = self.start_shim()
        self.up.set_canned("/api/v3/domains/example.com", 200, b'{"data": {}}',
                           headers=[("X-Sigma-Shim", "upstream"), ("X-Sigma-Shim-Cache", "hit"),
                                    ("X-Request-Id", "from-upstream")])
        status, headers, _ = self.echo(shim, "GET", "/api/v3/domains/example.com",
                                       headers={"X-Request-Id": "from-client"})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-sigma-shim"), "passthrough")
        self.assertEqual(headers.get("x-sigma-shim-cache"), "bypass")
        self.assertEqual(headers.get("x-request-id"), "from-client")

    # -- 30 MB through the shim, with bounded memory ------------------------------------------------

    def _upload(self, chunked):
        shim = self.start_shim("--max-body-bytes", str(40 * MB))
        total = BIG_MB * MB
        gen, digest = body_chunks(total)
        headers = {"Content-Type": "application/octet-stream", "x-apikey": API_KEY}
        if not chunked:
            headers["Content-Length"] = str(total)
        conn = shim.connection(timeout=60)
        try:
            conn.request("POST", "/api/v3/files", body=gen(), headers=headers, encode_chunked=chunked)
            resp = conn.getresponse()
            body = decoded(dict((k.lower(), v) for k, v in resp.getheaders()), resp.read())
        finally:
            conn.close()
        self.assertEqual(resp.status, 200, body[:300])
        meta = json.loads(body)["data"]["meta"]
        self.assertEqual(meta["bytes"], total)
        self.assertEqual(meta["sha256"], digest)
        self.assertEqual(self.up.uploads(), [(total, digest)])
        rss = shim.peak_rss_kb()
        if SANITIZED:
            return rss
        self.assertIsNotNone(rss)
        self.assertLess(rss, RSS_LIMIT_KB, "peak RSS %d KiB for a %d MB upload: the body is not streamed"
                        % (rss, BIG_MB))
        return rss

    def test_upload_30mb_content_length(self):
        self._upload(chunked=False)
        if SANITIZED:
            self.skipTest(RSS_SKIP)

    def test_upload_30mb_chunked(self):
        self._upload(chunked=True)
        if SANITIZED:
            self.skipTest(RSS_SKIP)

    def test_download_30mb(self):
        shim = self.start_shim()
        conn = shim.connection(timeout=60)
        h = hashlib.sha256()
        n = 0
        try:
            conn.request("GET", "/api/v3/big?mb=%d" % BIG_MB)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("X-Sigma-Shim"), "passthrough")
            while True:
                piece = resp.read(256 * 1024)
                if not piece:
                    break
                h.update(piece)
                n += len(piece)
        finally:
            conn.close()
        self.assertEqual(n, BIG_MB * MB)
        self.assertEqual(h.hexdigest(), vt.big_sha256(BIG_MB))
        if SANITIZED:
            self.skipTest(RSS_SKIP)
        rss = shim.peak_rss_kb()
        self.assertLess(rss, RSS_LIMIT_KB, "peak RSS %d KiB for a %d MB download: the body is not streamed"
                        % (rss, BIG_MB))

    def test_slow_reader_download_is_streamed(self):
        # A client that reads slowly: the shim must apply back-pressure, not buffer the whole answer.
        shim = self.start_shim()
        conn = shim.connection(timeout=60)
        try:
            conn.request("GET", "/api/v3/big?mb=%d" % BIG_MB)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            resp.read(MB)
            time.sleep(1.5)
            rss_mid = shim.peak_rss_kb()
            h = hashlib.sha256()
            while True:
                piece = resp.read(256 * 1024)
                if not piece:
                    break
                h.update(piece)
        finally:
            conn.close()
        if SANITIZED:
            self.skipTest(RSS_SKIP)
        self.assertLess(rss_mid, RSS_LIMIT_KB, "peak RSS %d KiB while the client was slow" % rss_mid)


def _direct(up, target):
    import harness
    return harness.fetch_direct(up, target)


if __name__ == "__main__":
    unittest.main()
