"""Upstream economy benchmark for `sigma-shim serve` (not run by CI; prints one table).

    tests/bench/run_economy [--binary build-bench/sigma-shim] [--connections 64] [--workers 4] ...

It builds nothing: it runs the bench preset's binary (build-bench/sigma-shim) in front of the Python VirusTotal double
(tests/e2e/upstream.py, in its own process) serving 100 distinct files (copies of a fixture File object and its
behaviour page, each with its own SHA-256, SHA-1 and MD5), every upstream request delayed by --latency
(50 ms). The clients are Python threads with keep-alive connections, spread over several processes.

  (a) cold legacy requests: each (key, file) pair requested once, for the first time: req/s, p50, p99
  (b) warm legacy requests, all cache hits: req/s, p50, p99
  (c) one cold request at a time: its latency over the upstream's round trip (target <= 1.2: the File and
      behaviour fetches overlap, so a cold answer costs one upstream round trip, not two)
  (d) upstream calls per 1,000 legacy requests over a mix of 100 files, on a cold cache (target 200: two per
      file) and on a warm one (target 0)
"""

import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "e2e"))

import upstream as vt  # noqa: E402  (the test double, from tests/e2e)

BASE_FILE = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"  # File + one behaviour page
FORMS = ("/api/v3/sigma_analyses/{id}", "/api/v3/files/{id}/sigma_analysis",
         "/api/v3/files/{id}/relationships/sigma_analysis", "/api/v3/files/{id}?relationships=sigma_analysis")


# -- the upstream, in its own process ----------------------------------------------------------------------

def dataset(n_files):
    data = vt.Dataset()
    data.load_demo()
    ids = [data.add_clone(BASE_FILE, "bench-%d" % i)[0] for i in range(n_files)]
    data.remove_file(BASE_FILE)
    return data, ids


def upstream_main(conn, n_files, latency):
    """Runs the double; answers commands on `conn`: "count" (requests seen), "reset", "stop"."""
    vt._Server.request_queue_size = 512
    data, ids = dataset(n_files)
    up = vt.Upstream(data, page_size=10)
    up.tcp_nodelay = True
    up.set_delay(latency)
    up.start()
    conn.send((up.port, ids))
    while True:
        cmd = conn.recv()
        if cmd == "count":
            conn.send(up.count())
        elif cmd == "reset":
            up.clear_requests()
            conn.send(True)
        elif cmd == "stop":
            up.stop()
            conn.send(True)
            return


class UpstreamProcess:
    def __init__(self, ctx, n_files, latency):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=upstream_main, args=(child, n_files, latency), daemon=True)
        self.proc.start()
        self.port, self.ids = self.conn.recv()

    def ask(self, cmd):
        self.conn.send(cmd)
        return self.conn.recv()

    def stop(self):
        try:
            self.ask("stop")
        except (EOFError, OSError):
            pass
        self.proc.join(10)


# -- the shim ------------------------------------------------------------------------------------------------

class ShimProcess:
    def __init__(self, binary, args, env):
        self.log = tempfile.NamedTemporaryFile(prefix="economy-bench-shim-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"] + args, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        deadline = time.monotonic() + 15
        while self.port is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("sigma-shim did not start: %s" % open(self.log.name).read()[-2000:])
            with open(self.log.name) as f:
                for line in f:
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        continue
                    if doc.get("msg") == "listening":
                        self.port = int(str(doc["address"]).rpartition(":")[2])
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        os.unlink(self.log.name)


# -- the clients ---------------------------------------------------------------------------------------------

def client_thread(port, jobs, out, go):
    """jobs: [(path, key)]; appends (latency s, status, cache mark) to out; keep-alive, one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    go.wait()
    for path, key in jobs:
        t0 = time.monotonic()
        try:
            conn.request("GET", path, headers={"x-apikey": key})
            resp = conn.getresponse()
            resp.read()
            out.append((time.monotonic() - t0, resp.status, resp.getheader("X-Sigma-Shim-Cache")))
        except (OSError, http.client.HTTPException):
            out.append((time.monotonic() - t0, 0, None))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.close()


def client_process(port, per_thread_jobs, start, results):
    """One worker process: a thread per job list; all start at the shared `start` event."""
    outs = [[] for _ in per_thread_jobs]
    go = threading.Event()
    threads = [threading.Thread(target=client_thread, args=(port, jobs, out, go))
               for jobs, out in zip(per_thread_jobs, outs)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join()
    results.put((t0, time.monotonic(), [x for out in outs for x in out]))


def run_load(ctx, port, jobs, connections, workers):
    """Spreads jobs round-robin over `connections` connections in `workers` processes; returns
    (wall seconds, [latency], {status: n}, {cache mark: n})."""
    per_conn = [jobs[i::connections] for i in range(connections)]
    workers = max(1, min(workers, connections))
    start = ctx.Event()
    results = ctx.Queue()
    procs = []
    for w in range(workers):
        mine = per_conn[w::workers]
        p = ctx.Process(target=client_process, args=(port, mine, start, results), daemon=True)
        p.start()
        procs.append(p)
    time.sleep(0.5 + 0.05 * connections / workers)  # let every connection open before the start
    start.set()
    firsts, lasts, samples = [], [], []
    for _ in procs:
        t0, t1, s = results.get(timeout=600)
        firsts.append(t0)
        lasts.append(t1)
        samples.extend(s)
    for p in procs:
        p.join(10)
    statuses, marks = {}, {}
    for _, status, mark in samples:
        statuses[status] = statuses.get(status, 0) + 1
        marks[mark] = marks.get(mark, 0) + 1
    return max(lasts) - min(firsts), [s[0] for s in samples], statuses, marks


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


# -- the machine ---------------------------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def binary_is_release(binary):
    cache = os.path.join(os.path.dirname(os.path.abspath(binary)), "CMakeCache.txt")
    try:
        with open(cache) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(\w*)", f.read(), re.M)
        return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def shim_env(key):
    env = {k: v for k, v in os.environ.items() if k != "VT_API_KEY" and not k.startswith("SIGMA_SHIM_")}
    env["VT_API_KEY"] = key
    return env


def main(argv=None):
    p = argparse.ArgumentParser(description="sigma-shim upstream economy benchmark")
    p.add_argument("--binary", default=os.path.join(SOURCE_DIR, "build-bench", "sigma-shim"))
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--latency", type=float, default=0.050, help="seconds added to every upstream request")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=max(2, min(8, os.cpu_count() or 2)),
                   help="client processes (Python threads share one core per process)")
    p.add_argument("--cold-keys", type=int, default=5, help="API keys for (a): files x keys cold requests")
    p.add_argument("--warm-requests", type=int, default=20000)
    p.add_argument("--single", type=int, default=20, help="sequential cold requests for (c)")
    p.add_argument("--mix", type=int, default=1000, help="requests for (d)")
    p.add_argument("--threads", type=int, default=0, help="--threads for the shim (0: its default, cores)")
    p.add_argument("--upstream-connections", type=int, default=128)
    args = p.parse_args(argv)

    if not os.access(args.binary, os.X_OK):
        raise SystemExit("no sigma-shim at %s: build it first (cmake --preset bench && "
                         "cmake --build --preset bench -j --target sigma-shim)" % args.binary)
    ctx = multiprocessing.get_context("spawn")
    up = UpstreamProcess(ctx, args.files, args.latency)
    ids = up.ids
    shim_args = ["--upstream", "http://127.0.0.1:%d" % up.port, "--upstream-connections",
                 str(args.upstream_connections), "--log-level", "info"]
    if args.threads:
        shim_args += ["--threads", str(args.threads)]
    rows = []
    notes = []
    try:
        # The upstream's own round trip, one request at a time, keep-alive (the base of (c)).
        direct = http.client.HTTPConnection("127.0.0.1", up.port, timeout=30)
        rtts = []
        for i in range(args.single):
            t0 = time.monotonic()
            direct.request("GET", "/api/v3/files/" + ids[i % len(ids)],
                           headers={"x-apikey": "direct", "Accept-Encoding": "gzip"})
            direct.getresponse().read()
            rtts.append(time.monotonic() - t0)
        direct.close()
        upstream_rtt = statistics.median(rtts)

        shim = ShimProcess(args.binary, shim_args, shim_env("bench-key"))
        try:
            # (c) one cold request at a time, each a new (key, file) pair.
            conn = http.client.HTTPConnection("127.0.0.1", shim.port, timeout=30)
            single = []
            for i in range(args.single):
                t0 = time.monotonic()
                conn.request("GET", FORMS[1].format(id=ids[i % len(ids)]), headers={"x-apikey": "single-%d" % i})
                resp = conn.getresponse()
                resp.read()
                single.append(time.monotonic() - t0)
                if resp.status != 200:
                    notes.append("(c) request %d answered %d" % (i, resp.status))
            conn.close()
            cold_single = statistics.median(single)

            # (a) cold: every (key, file) pair once, for the first time, 64 connections.
            jobs = [(FORMS[1].format(id=f), "cold-%d" % k) for k in range(args.cold_keys) for f in ids]
            random.Random(1).shuffle(jobs)
            wall, lat, statuses, marks = run_load(ctx, shim.port, jobs, args.connections, args.workers)
            cold = (len(lat) / wall, pct(lat, 50), pct(lat, 99), statuses, marks)

            # (b) warm: the pairs of (a) again, all hits.
            jobs = [random.Random(i).choice(FORMS).format(id=ids[i % len(ids)]) for i in range(args.warm_requests)]
            jobs = [(path, "cold-%d" % (i % args.cold_keys)) for i, path in enumerate(jobs)]
            wall, lat, statuses, marks = run_load(ctx, shim.port, jobs, args.connections, args.workers)
            warm = (len(lat) / wall, pct(lat, 50), pct(lat, 99), statuses, marks)
        finally:
            shim.stop()

        # (d) upstream calls per `mix` requests over the 100 files: a fresh shim (cold), then again (warm).
        shim = ShimProcess(args.binary, shim_args, shim_env("bench-key"))
        try:
            rng = random.Random(7)
            mix = [(rng.choice(FORMS).format(id=ids[i % len(ids)]), "mix") for i in range(args.mix)]
            rng.shuffle(mix)
            up.ask("reset")
            _, _, statuses_d1, marks_d1 = run_load(ctx, shim.port, mix, args.connections, args.workers)
            calls_cold = up.ask("count")
            up.ask("reset")
            rng.shuffle(mix)
            _, _, statuses_d2, marks_d2 = run_load(ctx, shim.port, mix, args.connections, args.workers)
            calls_warm = up.ask("count")
        finally:
            shim.stop()
    finally:
        up.stop()

    per_1000 = 1000.0 / args.mix
    ratio = cold_single / upstream_rtt

    def ms(s):
        return "%.1f ms" % (s * 1000)

    rows = [
        ("(a) cold legacy, %d conns: req/s" % args.connections, "%.0f" % cold[0], "-", "info"),
        ("(a) cold legacy: p50 / p99", "%s / %s" % (ms(cold[1]), ms(cold[2])), "-", "info"),
        ("(b) warm (hit) legacy, %d conns: req/s" % args.connections, "%.0f" % warm[0], "-", "info"),
        ("(b) warm (hit) legacy: p50 / p99", "%s / %s" % (ms(warm[1]), ms(warm[2])), "-", "info"),
        ("(c) single cold / upstream round trip", "%.2f (%s / %s)" % (ratio, ms(cold_single), ms(upstream_rtt)),
         "<= 1.2", "PASS" if ratio <= 1.2 else "MISS"),
        ("(d) upstream calls / 1000 legacy, cold", "%.0f" % (calls_cold * per_1000), "200",
         "PASS" if round(calls_cold * per_1000) == 200 else "MISS"),
        ("(d) upstream calls / 1000 legacy, warm", "%.0f" % (calls_warm * per_1000), "0",
         "PASS" if calls_warm == 0 else "MISS"),
    ]
    for name, (st, mk) in (("(a)", cold[3:5]), ("(b)", warm[3:5]), ("(d) cold", (statuses_d1, marks_d1)),
                           ("(d) warm", (statuses_d2, marks_d2))):
        if set(st) != {200}:
            notes.append("%s statuses: %r" % (name, st))
        notes.append("%s X-Sigma-Shim-Cache: %s" % (name, ", ".join("%s=%d" % (k, v) for k, v in sorted(
            mk.items(), key=lambda kv: str(kv[0])))))

    print("sigma-shim upstream economy benchmark")
    print("date:     %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    print("machine:  %d cores (nproc), %s, %s %s" % (os.cpu_count() or 0, cpu_model(), platform.system(),
                                                      platform.release()))
    print("binary:   %s (CMAKE_BUILD_TYPE=%s)" % (args.binary, binary_is_release(args.binary)))
    print("shim:     serve %s" % " ".join(a if not a.startswith("http://") else "http://127.0.0.1:PORT"
                                          for a in shim_args))
    print("upstream: Python double (tests/e2e/upstream.py), own process, %d files (copies of %s...), +%s per "
          "request, gzip, TCP_NODELAY" % (args.files, BASE_FILE[:8], ms(args.latency)))
    print("clients:  %d keep-alive connections in %d Python processes; (a) %d cold requests (%d files x %d keys), "
          "(b) %d, (c) %d sequential, (d) %d + %d" % (args.connections, args.workers, args.files * args.cold_keys,
                                                       args.files, args.cold_keys, args.warm_requests, args.single,
                                                       args.mix, args.mix))
    print("note:     the clients and the upstream are Python on the same machine as the shim: on few cores they,")
    print("          not the shim, are likely the bottleneck, so req/s are lower bounds and p99 includes their")
    print("          scheduling delays.")
    print()
    widths = [max(len(r[i]) for r in rows + [("measure", "value", "target", "result")]) for i in range(4)]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, ("measure", "value", "target", "result")))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, r)))
    print()
    for n in notes:
        print("  " + n)
    return 0 if all(r[3] != "MISS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
