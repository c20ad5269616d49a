"""sigma-shim against nginx on loopback at equal cores, driven by wrk; prints one report. Not run by CI (see
README.md here).

For each core count N of --cores (1 and 2 by default) it starts a static upstream nginx with N workers, an nginx
proxy_pass in front of it with N workers, and the shim in front of it with --threads N, and measures:

(a) the upstream directly, nginx proxy_pass and the shim's pass-through, on the demo File object (req/s, p50,
    p99, p99 added over the upstream direct);
(b) nginx serving a legacy answer as a static file vs the shim serving the same answer from a warm cache;
then, once, at the largest N:
    the shim's and nginx's peak RSS after runs at 256 connections;
(c) the shim's cold reconstructions against an upstream that adds 50 ms to every answer.

The (a) and (b) runs of every core count are interleaved and repeated (--repeat), and the report shows medians.
Each run also reads the CPU time (utime + stime in /proc/PID/stat) of the process under test, of the upstream
and of wrk before and after, and divides it by the requests wrk reports: CPU microseconds per request.

The static upstream is nginx serving the bundled demo objects (shim/demo/) under the VirusTotal paths; (c) uses
the Python double of the end-to-end tests (tests/e2e/upstream.py) with a delay and 2,000 distinct files.

--perf-record FILE instead runs one pass-through run at the first core count under `perf record` attached to
the shim, and writes FILE (read it with `perf report -i FILE --no-children --sort symbol`).
"""

import argparse
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "e2e"))

DEMO = os.path.join(SOURCE_DIR, "shim", "demo")
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
KEY = "bench-key-not-a-real-one"
CLK_TCK = os.sysconf("SC_CLK_TCK")

GOAL_PASS_RPS = 0.9  # (a) shim / nginx proxy_pass, requests per second
GOAL_P99_ADDED_MS = 1.0  # (a) shim p99 minus the upstream direct's p99
GOAL_LEGACY_RPS = 1.0  # (b) shim warm cache / nginx static file, requests per second
GOAL_RSS_MB = 64

NGINX_CONF = """
worker_processes {workers};
pid {tmp}/nginx-{name}.pid;
error_log {tmp}/nginx-{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {tmp}/nginx-{name}-access.log;
    client_body_temp_path {tmp}/body-{name};
    proxy_temp_path {tmp}/proxy-{name};
    fastcgi_temp_path {tmp}/fastcgi-{name};
    uwsgi_temp_path {tmp}/uwsgi-{name};
    scgi_temp_path {tmp}/scgi-{name};
    keepalive_requests 1000000;
    {body}
}}
"""

STATIC = """
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location ~ ^/api/v3/files/([0-9a-f]+)/behaviours$ {{ root {demo}; try_files /behaviours/$1.json =404; }}
        location ~ ^/api/v3/files/([0-9a-f]+)$ {{ root {demo}; try_files /files/$1.json =404; }}
        location = /legacy/{sha} {{ alias {legacy}; }}
    }}
"""

PROXY = """
    upstream static {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://static;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""

FILE_PATH = "/api/v3/files/" + F568
LEGACY_PATH = "/api/v3/files/%s/sigma_analysis" % F568

# The interleaved rows: (key, label, which server wrk asks, path, whose CPU is "the tested side").
DIRECT, PROXY_A, SHIM_A, STATIC_B, SHIM_B = "direct", "nginx_a", "shim_a", "nginx_b", "shim_b"
ROWS = [
    (DIRECT, "(a) upstream direct (nginx static)", "up", FILE_PATH),
    (PROXY_A, "(a) nginx proxy_pass", "proxy", FILE_PATH),
    (SHIM_A, "(a) sigma-shim pass-through", "shim", FILE_PATH),
    (STATIC_B, "(b) nginx static legacy answer", "up", "/legacy/" + F568),
    (SHIM_B, "(b) sigma-shim legacy, warm cache", "shim", LEGACY_PATH),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def start_nginx(tmp, name, body, workers):
    conf = os.path.join(tmp, "nginx-%s.conf" % name)
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(workers=workers, tmp=tmp, name=name, body=body))
    subprocess.run(["nginx", "-c", conf, "-p", tmp, "-g", "daemon on;"], check=True, stderr=subprocess.PIPE)
    return conf


def stop_nginx(tmp, name):
    pid = nginx_master(tmp, name)
    if pid:
        try:
            os.kill(pid, signal.SIGQUIT)
        except OSError:
            pass


def nginx_master(tmp, name):
    try:
        with open(os.path.join(tmp, "nginx-%s.pid" % name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def nginx_pids(tmp, name):
    """nginx's master and its workers."""
    master = nginx_master(tmp, name)
    if not master:
        return []
    children = subprocess.run(["pgrep", "-P", str(master)], stdout=subprocess.PIPE).stdout.split()
    return [master] + [int(p) for p in children]


def vm_hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None


def cpu_seconds(pids):
    """utime + stime of the processes, in seconds (fields 14 and 15 of /proc/PID/stat, in clock ticks)."""
    ticks = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # fields[0] is field 3 (state)
    return ticks / CLK_TCK


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, connections, seconds, threads, script=None, cpu_of=None):
    """One wrk run. cpu_of: {name: callable returning the pids} whose CPU time per request to measure."""
    args = ["wrk", "-t%d" % min(threads, connections), "-c%d" % connections, "-d%ds" % seconds, "--latency", "-H",
            "x-apikey: " + KEY]
    if script:
        args += ["-s", script]
    cpu_of = cpu_of or {}
    pids = {name: f() for name, f in cpu_of.items()}
    before = {name: cpu_seconds(p) for name, p in pids.items()}
    wrk_before = children_cpu_seconds()
    out = subprocess.run(args + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True,
                         timeout=seconds + 60).stdout.decode()
    wrk_cpu = children_cpu_seconds() - wrk_before
    after = {name: cpu_seconds(p) for name, p in pids.items()}

    def latency(pct):
        m = re.search(r"^\s*%d%%\s+([\d.]+)(us|ms|s)\s*$" % pct, out, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    r = {"rps": rps, "p50": latency(50), "p99": latency(99), "requests": requests,
         "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else "", "raw": out}
    per_request = (lambda s: s * 1e6 / requests) if requests else (lambda s: float("nan"))
    for name in pids:
        r["cpu_" + name] = per_request(after[name] - before[name])
    r["cpu_wrk"] = per_request(wrk_cpu)
    return r


class Stack:
    """The servers of one core count: static upstream nginx, nginx proxy_pass and the shim, N each."""

    def __init__(self, n, tmp, binary, legacy, shim_log, env):
        self.n = n
        self.tmp = tmp
        self.up_name, self.proxy_name = "static%d" % n, "proxy%d" % n
        self.up_port, self.proxy_port, self.shim_port = free_port(), free_port(), free_port()
        start_nginx(tmp, self.up_name, STATIC.format(port=self.up_port, demo=DEMO, legacy=legacy, sha=F568), n)
        start_nginx(tmp, self.proxy_name, PROXY.format(port=self.proxy_port, upstream_port=self.up_port), n)
        wait_port(self.up_port)
        wait_port(self.proxy_port)
        self.shim = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:%d" % self.shim_port, "--upstream",
                                      "http://127.0.0.1:%d" % self.up_port, "--threads", str(n), "--api-key-env",
                                      "BENCH_KEY", "--upstream-connections", "256"], stderr=shim_log, env=env)
        wait_port(self.shim_port)

    def port(self, server):
        return {"up": self.up_port, "proxy": self.proxy_port, "shim": self.shim_port}[server]

    def cpu_of(self, server):
        """Whose CPU a run against `server` costs: the tested side and, for a proxy, the upstream behind it."""
        up = lambda: nginx_pids(self.tmp, self.up_name)  # noqa: E731
        if server == "up":
            return {"tested": up}
        if server == "proxy":
            return {"tested": lambda: nginx_pids(self.tmp, self.proxy_name), "upstream": up}
        return {"tested": lambda: [self.shim.pid], "upstream": up}

    def stop(self):
        stop_shim(self.shim)
        stop_nginx(self.tmp, self.up_name)
        stop_nginx(self.tmp, self.proxy_name)


def stop_shim(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def median(results, key):
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(SOURCE_DIR, "build-bench", "sigma-shim"))
    ap.add_argument("--cores", default="1,2",
                    help="core counts to compare, comma-separated: shim --threads = nginx workers (default 1,2)")
    ap.add_argument("--seconds", type=int, default=8, help="each wrk run (default 8)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections for the ratios (default 32)")
    ap.add_argument("--rss-connections", type=int, default=256, help="connections for the RSS runs (256)")
    ap.add_argument("--rss-seconds", type=int, default=5, help="each RSS run (default 5)")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each (a) and (b) row, interleaved; the report shows medians (default 3)")
    ap.add_argument("--light-connections", type=int, default=0,
                    help="also run the (a) rows at this many connections, interleaved with the rest, for the p99 "
                    "added when nothing is saturated (default 0: off)")
    ap.add_argument("--no-extras", action="store_true", help="skip the RSS runs at 256 connections and (c)")
    ap.add_argument("--perf-record", metavar="FILE",
                    help="only profile: one pass-through run at the first of --cores under perf record -p SHIM")
    ap.add_argument("--perf-args", default="-g", help="perf record's options for --perf-record (default -g)")
    ap.add_argument("--shim-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for the shims only (repeatable), for example "
                    "GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864")
    ap.add_argument("--verbose", action="store_true", help="print wrk's own output too")
    args = ap.parse_args()
    cores = [int(c) for c in args.cores.split(",") if c.strip()]

    started = time.monotonic()
    load_before = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="sigma-shim-bench-")
    os.chmod(tmp, 0o755)  # nginx's workers run as another user and must read the legacy answer in it
    stacks = []
    procs = []
    up = None
    try:
        legacy = os.path.join(tmp, "legacy-%s.json" % F568)
        with open(legacy, "wb") as f:
            f.write(subprocess.run([args.binary, "convert", "--file", os.path.join(DEMO, "files", F568 + ".json"),
                                    "--behaviours", os.path.join(DEMO, "behaviours", F568 + ".json"),
                                    "--form", "relationship"], stdout=subprocess.PIPE, check=True).stdout)
        # Both sides log each request to a file: nginx its access log, the shim its `info` line.
        shim_log = open(os.path.join(tmp, "shim.log"), "wb")
        env = dict(os.environ, BENCH_KEY=KEY)
        env.update(v.split("=", 1) for v in args.shim_env)
        for n in (cores[:1] if args.perf_record else cores):
            stacks.append(Stack(n, tmp, args.binary, legacy, shim_log, env))
        for s in stacks:  # the shim's legacy answer comes from its cache from now on
            subprocess.run(["curl", "-sf", "-o", "/dev/null", "-H", "x-apikey: " + KEY,
                            "http://127.0.0.1:%d%s" % (s.shim_port, LEGACY_PATH)], check=True)

        runs = {}  # (key, n, connections) -> [wrk result, ...]

        def run(key, label, url, n, connections=args.connections, seconds=args.seconds, script=None, cpu_of=None):
            r = wrk(url, connections, seconds, args.wrk_threads, script, cpu_of)
            if args.verbose:
                print(r["raw"])
            if r["non2xx"] or r["socket_errors"]:
                print("warning: %s at %d cores: %d non-2xx, socket errors: %s"
                      % (label, n, r["non2xx"], r["socket_errors"]), file=sys.stderr)
            runs.setdefault((key, n, connections), []).append(r)
            return r

        if args.perf_record:
            s = stacks[0]
            perf = subprocess.Popen(["perf", "record"] + args.perf_args.split() + ["-p", str(s.shim.pid), "-o",
                                                                                   args.perf_record])
            time.sleep(1)  # perf attaches
            r = run(SHIM_A, "(a) sigma-shim pass-through", "http://127.0.0.1:%d%s" % (s.shim_port, FILE_PATH), s.n,
                    cpu_of=s.cpu_of("shim"))
            perf.send_signal(signal.SIGINT)
            perf.wait()
            print("perf record %s -p SHIM during wrk -c%d -t%d -d%ds on the pass-through, shim --threads %d: "
                  "%.0f req/s, p50 %.3f ms, p99 %.3f ms, shim CPU %.1f us/req; written to %s"
                  % (args.perf_args, args.connections, args.wrk_threads, args.seconds, s.n, r["rps"], r["p50"],
                     r["p99"], r["cpu_tested"], args.perf_record))
            return

        # The comparisons, interleaved so that a noisy moment of a shared machine hits both sides alike.
        for _ in range(args.repeat):
            for s in stacks:
                for key, label, server, path in ROWS:
                    run(key, label, "http://127.0.0.1:%d%s" % (s.port(server), path), s.n, cpu_of=s.cpu_of(server))
                for key, label, server, path in ROWS[:3] if args.light_connections else []:
                    run(key, label, "http://127.0.0.1:%d%s" % (s.port(server), path), s.n,
                        connections=args.light_connections, cpu_of=s.cpu_of(server))

        extras = {}
        if not args.no_extras:
            s = stacks[-1]
            # Peak RSS at many connections.
            for key, label, server, path in ROWS:
                if key in (SHIM_A, SHIM_B, PROXY_A):
                    run(key, label, "http://127.0.0.1:%d%s" % (s.port(server), path), s.n,
                        connections=args.rss_connections, seconds=args.rss_seconds, cpu_of=s.cpu_of(server))
            extras["rss_n"] = s.n
            extras["shim_rss"] = vm_hwm(s.shim.pid)
            extras["proxy_rss"] = sum(vm_hwm(p) or 0 for p in nginx_pids(tmp, s.proxy_name))

            # (c) cold reconstructions, 50 ms upstream.
            import upstream as vt
            up = vt.Upstream(vt.Dataset().load_demo())
            up.tcp_nodelay = True
            ids = [up.data.add_clone(F568, "bench %d" % i)[0] for i in range(2000)]
            up.set_delay(0.05)
            up.start()
            cold_port = free_port()
            cold = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:%d" % cold_port, "--upstream",
                                     up.url("127.0.0.1"), "--threads", str(s.n), "--api-key-env", "BENCH_KEY",
                                     "--cache-bytes", "0", "--upstream-connections", "256"], stderr=shim_log, env=env)
            procs.append(cold)
            wait_port(cold_port)
            script = os.path.join(tmp, "cold.lua")
            with open(script, "w") as f:
                f.write("ids = {%s}\ni = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", "
                        "\"/api/v3/files/\" .. ids[(i %% #ids) + 1] .. \"/sigma_analysis\")\nend\n"
                        % ",".join('"%s"' % x for x in ids))
            run("cold", "(c) sigma-shim cold, upstream +50 ms", "http://127.0.0.1:%d" % cold_port, s.n, script=script,
                cpu_of={"tested": lambda: [cold.pid]})

        print_report(runs, cores, extras, args, load_before, time.monotonic() - started)
    finally:
        for p in procs:
            stop_shim(p)
        for s in stacks:
            s.stop()
        if up:
            up.stop()
        time.sleep(0.5)
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(v, spec):
    return "-" if v is None or v != v else spec % v


def print_report(runs, cores, extras, args, load_before, elapsed):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    load_after = os.getloadavg()
    print("sigma-shim proxy benchmark, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print("machine: %s, %s, %d cores (%s); load average before %.2f, after %.2f; took %.0f s"
          % (platform.node(), platform.platform(), os.cpu_count(), cpu, load_before[0], load_after[0], elapsed))
    print("wrk: %d threads on the same cores as the servers, %d connections, %d s per run; each (a)/(b) row run %d "
          "times, interleaved over the core counts; both sides log each request to a file"
          % (args.wrk_threads, args.connections, args.seconds, args.repeat))
    if args.shim_env:
        print("the shims' extra environment: %s" % " ".join(args.shim_env))
    print("N cores = shim --threads N = nginx worker_processes N (upstream and proxy); CPU us/req = utime+stime "
          "from /proc/PID/stat over wrk's requests")
    print()
    head = "%-36s %3s %5s %4s %8s %6s %8s %8s %9s %9s %9s %8s"
    line = "%-36s %3d %5d %4d %8.0f %6s %8.3f %8.3f %9s %9s %9s %8.1f"
    print(head % ("run (medians)", "N", "conns", "runs", "req/s", "range", "p50 ms", "p99 ms", "p99 +ms",
                  "CPU us/r", "up us/r", "wrk us/r"))
    print(head % ("", "", "", "", "", "%", "", "", "vs direct", "tested", "upstream", ""))
    medians = {}
    for key, n, conns in sorted(runs, key=lambda k: (k[2], k[1], [r[0] for r in ROWS + [("cold",)]].index(k[0]))):
        results = runs[(key, n, conns)]
        m = {k: median(results, k) for k in ("rps", "p50", "p99", "cpu_tested", "cpu_upstream", "cpu_wrk")}
        medians[(key, n, conns)] = m
        direct = medians.get((DIRECT, n, conns))
        added = m["p99"] - direct["p99"] if direct and key in (PROXY_A, SHIM_A) else None
        label = dict((r[0], r[1]) for r in ROWS).get(key, "(c) sigma-shim cold, upstream +50 ms")
        rps = [r["rps"] for r in results]
        spread = (max(rps) - min(rps)) / m["rps"] * 100 if len(rps) > 1 and m["rps"] else None
        print(line % (label, n, conns, len(results), m["rps"], fmt(spread, "%.0f"), m["p50"], m["p99"],
                      fmt(added, "%.3f"), fmt(m["cpu_tested"], "%.1f"), fmt(m["cpu_upstream"], "%.1f"),
                      m["cpu_wrk"]))
    print()

    c = args.connections
    print("%-66s %9s %8s %s" % ("goal (issue 15), at %d connections" % c, "measured", "goal", "result"))
    for n in cores:
        direct, nginx_a, shim_a = (medians[(k, n, c)] for k in (DIRECT, PROXY_A, SHIM_A))
        nginx_b, shim_b = medians[(STATIC_B, n, c)], medians[(SHIM_B, n, c)]
        a_ratio = shim_a["rps"] / nginx_a["rps"]
        added = shim_a["p99"] - direct["p99"]
        b_ratio = shim_b["rps"] / nginx_b["rps"]
        checks = [
            ("N=%d (a) pass-through req/s, shim / nginx proxy_pass" % n, "%.2f" % a_ratio, ">= %.1f" % GOAL_PASS_RPS,
             a_ratio >= GOAL_PASS_RPS),
            ("N=%d (a) shim p99 added over the upstream direct, ms" % n, "%.3f" % added,
             "<= %g" % GOAL_P99_ADDED_MS, added <= GOAL_P99_ADDED_MS),
            ("N=%d (b) legacy req/s, shim warm cache / nginx static file" % n, "%.2f" % b_ratio,
             ">= %.1f" % GOAL_LEGACY_RPS, b_ratio >= GOAL_LEGACY_RPS),
        ]
        light = args.light_connections
        if light:
            light_added = medians[(SHIM_A, n, light)]["p99"] - medians[(DIRECT, n, light)]["p99"]
            checks.append(("N=%d (a) shim p99 added over the upstream direct at %d connections, ms" % (n, light),
                           "%.3f" % light_added, "<= %g" % GOAL_P99_ADDED_MS, light_added <= GOAL_P99_ADDED_MS))
        for name, measured, goal, ok in checks:
            print("%-66s %9s %8s %s" % (name, measured, goal, "PASS" if ok else "MISS"))
        print("%-66s %9s" % ("N=%d   for reference: nginx proxy_pass p99 added over direct, ms" % n,
                             "%.3f" % (nginx_a["p99"] - direct["p99"])))
        print("%-66s %9s" % ("N=%d   for reference: (a) CPU us/req, shim / nginx proxy_pass" % n,
                             "%.2f" % (shim_a["cpu_tested"] / nginx_a["cpu_tested"])))
        print("%-66s %9s" % ("N=%d   for reference: (b) CPU us/req, shim / nginx static" % n,
                             "%.2f" % (shim_b["cpu_tested"] / nginx_b["cpu_tested"])))
    if "shim_rss" in extras:
        rss_mb = (extras["shim_rss"] or 0) / 1024
        name = "N=%d shim peak RSS after %d connections, MB" % (extras["rss_n"], args.rss_connections)
        print("%-66s %9s %8s %s" % (name, "%.1f" % rss_mb, "<= %d" % GOAL_RSS_MB,
                                    "PASS" if rss_mb <= GOAL_RSS_MB else "MISS"))
        print("%-66s %9s" % ("N=%d   for reference: nginx proxy master+workers peak RSS, MB" % extras["rss_n"],
                             "%.1f" % ((extras["proxy_rss"] or 0) / 1024)))
    print()

    if len(cores) > 1:
        lo, hi = cores[0], cores[-1]
        print("scaling with cores, req/s at %d connections (medians)" % c)
        print("%-36s %10s %10s %8s" % ("run", "N=%d" % lo, "N=%d" % hi, "%d/%d" % (hi, lo)))
        for key, label, _, _ in ROWS:
            a, b = medians[(key, lo, c)]["rps"], medians[(key, hi, c)]["rps"]
            print("%-36s %10.0f %10.0f %8.2f" % (label, a, b, b / a))
        print()


if __name__ == "__main__":
    main()
