"""Upstream economy (docs/economy.md) through the binary: what proves the layers are wired into the
chain and onto HTTP (coalescing, a hit, a stale copy, a retry, the quota spent by pass-through and by cold
legacy requests only, record and replay, `/_shim/cache`, the X-Sigma-Shim-Cache values). Each layer's own
rules are unit-tested with a scripted upstream and a hand-moved clock: tests/unit/*_upstream_test.cpp.

Every test counts what the upstream double saw, so "0 upstream calls" is a fact, not an inference."""

import datetime
import http.client
import json
import math
import os
import re
import threading
import time
import sys
import unittest

# Runnable as `python3 -m unittest tests/e2e/test_economy.py` from the source folder too.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import route_table
from harness import API_KEY, ShimTestCase, decoded, non_loopback_ipv4

F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"   # demo: file + behaviour page
F568_MD5 = "2a0ac716254c23667b8a223a6e5f6e13"
F568_SHA1 = "65a887256974b896d27fe41065be91e029dc389b"
PS1 = "020876e69dac4b2cb5b75a616dbdac8b913f3cc06fbabd8f8dd3277691ba48b6"    # 17 results, no behaviours
PS1_MD5 = "6a6761c9563359c6b446c03b946367b5"
F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
DOCS_REL = "c8846914b9644d1bff54155ce4d14ef82548c64655c9431ae94d56448bfc7424"
DOCS_OBJ = "c885691ab568bd5bff581555e1d15ef82558c5a655c9c51ae5bd554b85fc7424"  # rules incl. RULE_5C3E
RULE_5C3E = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b"
OTHER_KEY = "e2e-Other-ApiKey-0c1d2e3f4a"

CACHE_HEADER = "x-sigma-shim-cache"
TRANSIENT = {"error": {"code": "TransientError", "message": "try again later"}}
VT_QUOTA = {"error": {"code": "QuotaExceededError", "message": "Quota exceeded"}}

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def relationship(file_id):
    return "/api/v3/files/%s/sigma_analysis" % file_id


def legacy_routes(file_id):
    """Every legacy route for one id (the route table's), the list routes also with windows and a cursor."""
    paths = []
    for route in route_table.legacy_routes():
        path = route["path"].format(id=file_id)
        paths.append(path)
        if route["paged"]:
            paths += [path + "?limit=2", path + "?limit=2&cursor=2", path + "?limit=40"]
    return paths


def metric_samples(shim):
    status, headers, body = shim.request("GET", "/_shim/metrics")
    if status != 200:
        raise AssertionError("/_shim/metrics answered %d" % status)
    out = []
    for line in decoded(headers, body).decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        if m:
            out.append((m.group(1), dict(LABEL.findall(m.group(3) or "")), float(m.group(4))))
    return out


def metric(shim, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for n, l, v in metric_samples(shim)
               if n == name and all(l.get(k) == want for k, want in labels.items()))


class EconomyBase(ShimTestCase):

    def setUp(self):
        super().setUp()
        self.up.tcp_nodelay = True  # no delayed-ACK stalls in the double: timings are the shim's

    def get(self, shim, path, key=None, timeout=15.0):
        headers = {"x-apikey": key} if key else {}
        return shim.request("GET", path, headers=headers, timeout=timeout)

    def calls(self, path=None):
        """Upstream requests for exactly `path` (no query), or all of them."""
        reqs = self.up.requests()
        return len(reqs) if path is None else len([r for r in reqs if r.path == path])

    def cache_state(self, shim):
        status, headers, body = shim.request("GET", "/_shim/cache")
        self.assertEqual(status, 200, body[:300])
        return json.loads(decoded(headers, body))

    def assertCache(self, headers, want, what=""):
        self.assertEqual(headers.get(CACHE_HEADER), want, "%s: headers %r" % (what, headers))

    def assertLocalQuota429(self, status, headers, body, what=""):
        self.assertEqual(status, 429, "%s: %r" % (what, body[:300]))
        doc = json.loads(decoded(headers, body))
        self.assertEqual(doc.get("error", {}).get("code"), "QuotaExceededError", "%s: %r" % (what, doc))
        retry_after = headers.get("retry-after")
        self.assertIsNotNone(retry_after, "%s: a local 429 carries Retry-After: %r" % (what, headers))
        self.assertRegex(retry_after, r"^[1-9][0-9]*$", what)


class Coalescing(EconomyBase):

    N = 50

    def burst(self, shim, path, n):
        """n requests for path at once, each on its own connection: [(status, headers, body)]."""
        conns = [shim.connection(timeout=20) for _ in range(n)]
        for c in conns:
            c.connect()
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            try:
                barrier.wait(10)
                conns[i].request("GET", path)
                resp = conns[i].getresponse()
                results[i] = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = (None, {}, repr(e).encode())
            finally:
                conns[i].close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return results

    def test_concurrent_cold_requests_share_two_upstream_calls_then_hit(self):
        shim = self.start_shim()
        self.up.set_delay(0.3)
        results = self.burst(shim, relationship(F568), self.N)
        self.up.clear_delay()

        statuses = [r[0] for r in results]
        self.assertEqual(statuses, [200] * self.N, [r[2][:200] for r in results if r[0] != 200][:3])
        self.assertEqual(len({r[2] for r in results}), 1, "all answers have the same body")
        marks = [r[1].get(CACHE_HEADER) for r in results]
        self.assertLessEqual(set(marks), {"miss", "coalesced"}, marks)
        self.assertIn("coalesced", marks)
        self.assertEqual(self.calls(), 2, "50 cold requests: one File call and one behaviour call, got %r"
                         % self.up.requests())
        self.assertEqual(self.calls("/api/v3/files/" + F568), 1)
        self.assertEqual(self.calls("/api/v3/files/%s/behaviours" % F568), 1)
        self.assertGreater(metric(shim, "sigma_shim_coalesced_requests_total"), 0)
        self.assertEqual(metric(shim, "sigma_shim_upstream_calls_saved_total"), 2 * self.N - 2,
                         "100 fetches, 2 upstream calls")
        body = results[0][2]

        # Within the TTL: a hit, no call.
        self.up.clear_requests()
        status, headers, again = self.get(shim, relationship(F568))
        self.assertEqual(status, 200)
        self.assertEqual(again, body)
        self.assertCache(headers, "hit")
        self.assertEqual(self.calls(), 0, self.up.requests())
        # The rendered answer was kept beside its objects: the hit is the answer's, and it saved both calls.
        self.assertEqual(metric(shim, "sigma_shim_cache_requests_total", kind="answer", result="hit"), 1)
        self.assertEqual(metric(shim, "sigma_shim_upstream_calls_saved_total"), 2 * self.N)

        # MD5 and SHA-1 of the file once its SHA-256 was fetched: the same entries.
        for alias in (F568_MD5, F568_SHA1, F568.upper()):
            with self.subTest(alias=alias):
                status, headers, data = self.get(shim, relationship(alias))
                self.assertEqual(status, 200, data[:300])
                self.assertCache(headers, "hit", alias)
                self.assertEqual(json.loads(data)["data"], json.loads(body)["data"])
        self.assertEqual(self.calls(), 0, "aliases of a cached file: %r" % self.up.requests())

        # Another key: entries are kept apart by key, so its own two calls.
        status, headers, data = self.get(shim, relationship(F568), key=OTHER_KEY)
        self.assertEqual(status, 200)
        self.assertEqual(data, body)
        self.assertCache(headers, "miss", "another key")
        self.assertEqual(self.calls(), 2, self.up.requests())
        self.assertEqual({r.header("x-apikey") for r in self.up.requests()}, {OTHER_KEY})
        status, headers, data = self.get(shim, relationship(F568), key=OTHER_KEY)
        self.assertCache(headers, "hit", "another key, again")
        self.assertEqual(self.calls(), 2)


class Retries(EconomyBase):

    def test_503_is_retried(self):
        shim = self.start_shim("--upstream-retries", "2")
        path = "/api/v3/files/" + F568
        self.up.set_canned(path, 503, TRANSIENT)
        t0 = time.monotonic()
        status, headers, body = self.get(shim, relationship(F568), timeout=30)
        elapsed = time.monotonic() - t0
        self.assertVtError(status, decoded(headers, body), 503, "TransientError")
        self.assertEqual(self.calls(path), 3, "one call and two retries: %r" % self.up.requests())
        self.assertEqual(metric(shim, "sigma_shim_upstream_retries_total"), 2)
        self.assertGreaterEqual(elapsed, 0.2, "retries back off from 200 ms")


class Stale(EconomyBase):

    def test_expired_copy_is_served_when_the_upstream_fails(self):
        shim = self.start_shim("--cache-ttl", "1s", "--stale-if-error", "1h", "--upstream-retries", "0")
        status, headers, body = self.get(shim, relationship(F568))
        self.assertEqual(status, 200)
        self.assertCache(headers, "miss")
        time.sleep(1.3)

        # The upstream answers 503.
        for path in ("/api/v3/files/" + F568, "/api/v3/files/%s/behaviours" % F568):
            self.up.set_canned(path, 503, TRANSIENT)
        self.up.clear_requests()
        status, headers, again = self.get(shim, relationship(F568))
        self.assertEqual(status, 200, again[:300])
        self.assertCache(headers, "stale", "503 upstream, expired copy")
        self.assertEqual(again, body)
        self.assertGreaterEqual(self.calls(), 1, "an expired entry is asked for again first")

        # The upstream is gone altogether.
        self.up.stop()
        status, headers, again = self.get(shim, relationship(F568))
        self.assertEqual(status, 200, again[:300])
        self.assertCache(headers, "stale", "unreachable upstream, expired copy")
        self.assertEqual(again, body)


class Quota(EconomyBase):
    """The quota as VirusTotal counts it (docs/economy.md, "Quota"): at most N upstream requests of a key in any 60 s (a
    sliding minute), per UTC day and per UTC calendar month. The exact arithmetic is unit-tested with a
    hand-moved clock (tests/unit/economy_test.cpp); here, real time, so every bound on a Retry-After or a wait is
    derived from times this test read before and after (no assumption on how fast the shim is)."""

    def retry_after(self, headers):
        return int(headers["retry-after"])

    def test_fifth_passthrough_request_in_a_minute_is_refused_locally(self):
        shim = self.start_shim("--quota-per-minute", "4", "--upstream-retries", "0")
        first_sent = time.monotonic()
        for i in range(4):
            status, headers, body = self.get(shim, "/api/v3/echo/q%d" % i)
            self.assertEqual(status, 201, "request %d" % (i + 1))
            self.assertCache(headers, "bypass")
        status, headers, body = self.get(shim, "/api/v3/echo/q4")
        refused_seen = time.monotonic()
        self.assertLocalQuota429(status, headers, body, "5th pass-through request")
        self.assertIn("the minute quota", json.loads(decoded(headers, body))["error"]["message"])
        # Exact: until the first request leaves the window, 60 s after it was admitted (which was after
        # first_sent), rounded up; the refusal came before refused_seen.
        self.assertLessEqual(self.retry_after(headers), 60)
        self.assertGreaterEqual(self.retry_after(headers), 60 - (refused_seen - first_sent))
        self.assertEqual(self.calls(), 4, self.up.requests())
        self.assertEqual(metric(shim, "sigma_shim_quota_rejections_total", window="minute"), 1)
        samples = metric_samples(shim)
        keys = {l.get("key") for n, l, v in samples if n.startswith("sigma_shim_quota_")}
        self.assertTrue(keys and all(re.fullmatch(r"[0-9a-f]{12}", k or "") for k in keys), keys)
        remaining = [v for n, l, v in samples if n == "sigma_shim_quota_remaining" and l.get("window") == "minute"]
        self.assertEqual(remaining, [0], samples)

    def test_legacy_cold_files_cost_two_requests_and_hits_cost_none(self):
        shim = self.start_shim("--quota-per-minute", "4", "--upstream-retries", "0")
        first = None
        for sha256 in (F568, F912):
            status, headers, body = self.get(shim, relationship(sha256))
            self.assertEqual(status, 200, body[:300])
            first = first or body
        self.assertEqual(self.calls(), 4)
        status, headers, body = self.get(shim, relationship(PS1))
        self.assertLocalQuota429(status, headers, body, "3rd cold file with the minute's 4 requests spent")
        self.assertEqual(self.calls(), 4, "the upstream is not asked: %r" % self.up.requests())
        status, headers, body = self.get(shim, relationship(F568))
        self.assertEqual(status, 200, "a cache hit at zero quota: %r" % body[:300])
        self.assertCache(headers, "hit")
        self.assertEqual(body, first)
        self.assertEqual(self.calls(), 4)

    def test_the_month_quota_refuses_until_the_first_of_next_month_utc(self):
        shim = self.start_shim("--quota-per-month", "2", "--upstream-retries", "0")
        for i in range(2):
            status, headers, body = self.get(shim, "/api/v3/echo/m%d" % i)
            self.assertEqual(status, 201, "request %d" % (i + 1))
        before = time.time()
        status, headers, body = self.get(shim, "/api/v3/echo/m2")
        after = time.time()
        self.assertLocalQuota429(status, headers, body, "3rd request of the month")
        self.assertIn("the month quota", json.loads(decoded(headers, body))["error"]["message"])
        now = datetime.datetime.fromtimestamp(before, datetime.timezone.utc)
        if datetime.datetime.fromtimestamp(after, datetime.timezone.utc).month != now.month:
            self.skipTest("the month turned during the test")
        next_month = datetime.datetime(now.year + now.month // 12, now.month % 12 + 1, 1,
                                       tzinfo=datetime.timezone.utc).timestamp()
        # The refusal was read between `before` and `after`; the wait is rounded up to whole seconds.
        self.assertGreaterEqual(self.retry_after(headers), math.ceil(next_month - after))
        self.assertLessEqual(self.retry_after(headers), math.ceil(next_month - before))
        self.assertEqual(self.calls(), 2)
        self.assertEqual(metric(shim, "sigma_shim_quota_rejections_total", window="month"), 1)
        remaining = [v for n, l, v in metric_samples(shim)
                     if n == "sigma_shim_quota_remaining" and l.get("window") == "month"]
        self.assertEqual(remaining, [0])

    def test_quota_wait_holds_a_request_until_the_oldest_leaves_the_minute(self):
        # Takes a minute of real time: the one end-to-end proof that a waiting request goes when the first
        # request of the window leaves it, 60 s after it, and not earlier (a bucket refilled over the minute
        # would have let it go after 30 s).
        shim = self.start_shim("--quota-per-minute", "2", "--quota-wait", "70s", "--upstream-retries", "0")
        conn = shim.connection(timeout=90)
        self.addCleanup(conn.close)
        first_sent = time.monotonic()
        for i in range(2):
            conn.request("GET", "/api/v3/echo/w%d" % i)
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 201, "request %d" % (i + 1))
        conn.request("GET", "/api/v3/echo/w2")
        resp = conn.getresponse()
        resp.read()
        answered = time.monotonic()
        self.assertEqual(resp.status, 201, "the third request waits for the minute and succeeds")
        third = self.up.requests("/api/v3/echo/w2")
        self.assertEqual(len(third), 1)
        # The first request was admitted after first_sent; the third not before 60 s after that.
        self.assertGreaterEqual(third[0].time - first_sent, 60)
        self.assertGreaterEqual(answered - first_sent, 60)
        self.assertEqual(self.calls(), 3)
        self.assertEqual(metric(shim, "sigma_shim_quota_rejections_total"), 0)

    def test_quota_wait_holds_a_request_until_an_upstream_retry_after(self):
        shim = self.start_shim("--quota-wait", "3s", "--upstream-retries", "0")
        self.up.set_canned("/api/v3/users/limited", 429, VT_QUOTA, headers=[("Retry-After", "1")])
        sent = time.monotonic()
        status, headers, body = self.get(shim, "/api/v3/users/limited")
        self.assertEqual(status, 429)
        # Marked until 1 s after the upstream's answer, which came after `sent`: the next request waits for
        # it, within --quota-wait, and goes.
        status, headers, body = self.get(shim, "/api/v3/echo/x")
        answered = time.monotonic()
        self.assertEqual(status, 201, body[:300])
        self.assertGreaterEqual(answered - sent, 1)
        x = self.up.requests("/api/v3/echo/x")
        self.assertEqual(len(x), 1)
        self.assertGreaterEqual(x[0].time - sent, 1)
        self.assertEqual(metric(shim, "sigma_shim_quota_rejections_total"), 0)

    def test_upstream_429_without_quota_flags(self):
        # The quota is off by default, but an upstream 429 still marks the key exhausted (docs/economy.md: "An
        # upstream 429 marks the key exhausted until its Retry-After (or for a minute)").
        shim = self.start_shim("--upstream-retries", "0")
        self.up.set_canned("/api/v3/files/" + F568, 429, VT_QUOTA, headers=[("Retry-After", "2")])
        status, headers, body = self.get(shim, relationship(F568))
        self.assertEqual(status, 429)
        seen = self.calls()
        status, headers, body = self.get(shim, "/api/v3/echo/x")
        self.assertLocalQuota429(status, headers, body, "pass-through right after an upstream 429")
        self.assertIn(self.retry_after(headers), (1, 2))
        self.assertEqual(self.calls(), seen)


class RecordReplay(EconomyBase):

    def routes(self):
        return (legacy_routes(F568) + legacy_routes(F568_MD5) + legacy_routes(F568_SHA1)
                + legacy_routes(DOCS_OBJ) + ["/api/v3/files/%s/sigma_analysis" % F568.upper()])

    def test_record_then_replay_offline(self):
        folder = os.path.join(self.tmp, "recorded")
        routes = self.routes()
        recorder = self.start_shim("--record", folder)
        recorded = {}
        for path in routes:
            status, headers, body = self.get(recorder, path)
            recorded[path] = (status, decoded(headers, body))
        self.assertEqual(recorded["/api/v3/sigma_analyses/%s/rules" % DOCS_OBJ][0], 200)
        self.assertIn("/api/v3/sigma_rules/" + RULE_5C3E, {r.path for r in self.up.requests()})
        self.assertTrue(all(s == 200 for s, _ in recorded.values()),
                        {p: s for p, (s, _) in recorded.items() if s != 200})
        recorder.stop()
        self.up.stop()

        # The folder: complete JSON files, no temporaries, the key nowhere.
        names = []
        for root, dirs, fnames in os.walk(folder):
            for name in dirs + fnames:
                names.append(os.path.relpath(os.path.join(root, name), folder))
        self.assertTrue(names, "nothing was recorded")
        for sub in ("files", "behaviours", "sigma_rules"):
            self.assertTrue(os.path.isdir(os.path.join(folder, sub)), "%s/ missing: %r" % (sub, names))
        self.assertTrue(os.path.exists(os.path.join(folder, "sigma_rules", RULE_5C3E + ".json")), names)
        for rel in names:
            with self.subTest(recorded=rel):
                self.assertNotIn(".tmp", rel)
                self.assertNotIn(API_KEY.lower(), rel.lower())
                path = os.path.join(folder, rel)
                if os.path.isdir(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                self.assertNotIn(API_KEY.encode(), data)
                self.assertNotIn(API_KEY.lower().encode(), data.lower())
                json.loads(data.decode("utf-8"))

        # Replay: no network, the same answers byte for byte.
        replayer = self.start_shim("--upstream", "dir:" + folder)
        for path in routes:
            with self.subTest(replay=path):
                status, headers, body = self.get(replayer, path)
                self.assertEqual(status, recorded[path][0], body[:300])
                self.assertEqual(decoded(headers, body), recorded[path][1])
        self.assertNotIn(API_KEY, replayer.stderr_text())
        self.assertNotIn(API_KEY, recorder.stderr_text())

    def test_recorded_by_md5_replays_by_every_id(self):
        ids = (F568_MD5, F568, F568_SHA1)
        live = self.start_shim()
        want = {i: self.get(live, relationship(i)) for i in ids}
        folder = os.path.join(self.tmp, "recorded")
        recorder = self.start_shim("--record", folder)
        self.assertEqual(self.get(recorder, relationship(F568_MD5))[0], 200)
        recorder.stop()
        self.up.stop()
        replayer = self.start_shim("--upstream", "dir:" + folder)
        for i in ids:
            with self.subTest(file_id=i):
                status, headers, body = self.get(replayer, relationship(i))
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(body, want[i][2])

    def test_replay_of_a_file_not_recorded_is_not_found(self):
        folder = os.path.join(self.tmp, "recorded")
        recorder = self.start_shim("--record", folder)
        self.assertEqual(self.get(recorder, relationship(F568))[0], 200)
        recorder.stop()
        replayer = self.start_shim("--upstream", "dir:" + folder)
        status, headers, body = self.get(replayer, relationship(F912))
        self.assertVtError(status, decoded(headers, body), 404, "NotFoundError")


class ShimCacheEndpoint(EconomyBase):

    def test_loopback_only(self):
        shim = self.start_shim("--listen", "0.0.0.0:0", "--allow-remote-clients")
        conn = http.client.HTTPConnection("127.0.0.1", shim.port, timeout=10)
        conn.request("GET", "/_shim/cache")
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        conn.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("X-Sigma-Shim-Cache"), "bypass")
        for name in ("budget_bytes", "bytes", "entries", "kinds"):
            self.assertIn(name, doc)

        ip = non_loopback_ipv4()
        if ip is None:
            self.skipTest("this machine has no non-loopback IPv4 address: the 403 for other peers is untested")
        try:
            conn = http.client.HTTPConnection(ip, shim.port, timeout=10)
            conn.request("GET", "/_shim/cache")
        except OSError as e:
            self.skipTest("cannot reach the shim on %s (%s)" % (ip, e))
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 403, "/_shim/cache from %s: %r" % (ip, body[:300]))
        self.assertNotIn(b'"budget_bytes"', body)
        self.assertEqual(self.calls(), 0)

    def test_passthrough_and_own_answers_say_bypass(self):
        shim = self.start_shim()
        for path, want in (("/api/v3/echo/x", 201), ("/api/v3/files/" + F568, 200),
                           ("/api/v3/files/%s/behaviours" % F568, 200), ("/_shim/livez", 200),
                           ("/_shim/metrics", 200)):
            with self.subTest(path=path):
                status, headers, body = self.get(shim, path)
                self.assertEqual(status, want)
                self.assertCache(headers, "bypass", path)
        # Pass-through is never served from the cache: the same GET twice is two calls.
        self.up.clear_requests()
        self.get(shim, "/api/v3/files/" + F568)
        self.get(shim, "/api/v3/files/" + F568)
        self.assertEqual(self.calls("/api/v3/files/" + F568), 2)


if __name__ == "__main__":
    unittest.main()
