"""A real Redis for the end-to-end tests: Debian's redis-server, run in the foreground on a free 127.0.0.1 port
with its own folder, configuration and log, persistence off unless asked, and stopped by its PID; with a tiny
RESP client so that no redis-py is needed.

    redis = RedisServer(maxmemory="2mb", policy="allkeys-lru").start()
    ...  sigma-shim serve --redis redis.url() ...
    redis.command("SET", "k", "v")      # b"OK"; errors raise RedisError
    redis.kill(); redis.restart()       # SIGKILL, then the same port again, empty
    redis.pause(3000)                   # CLIENT PAUSE 3000 ALL
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from local_program import free_port, required_program

PACKAGE = "redis-server"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class RedisError(Exception):
    """An error reply ("-ERR ..."): Redis answered, with an error."""


def executable():
    return required_program("redis-server", PACKAGE, "the replica tests")


# -- RESP2, just enough for tests ------------------------------------------------------------------------------

def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8")
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exactly(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        """bytes (status or bulk), int, None (nil), list, or a RedisError instance (returned, not raised)."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RedisError(rest.decode("utf-8", errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError("not RESP: %r" % line[:50])


def call(port, *commands, timeout=10.0):
    """Sends `commands` (each a tuple of arguments) on one new connection; their replies, in order."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(encode(c) for c in commands))
        reader = _Reader(sock)
        return [reader.reply() for _ in commands]


class RedisServer:
    """One redis-server. `maxmemory` ("2mb") and `policy` ("allkeys-lru") set its memory limit; `persist`
    keeps Redis's defaults for RDB and AOF instead of turning them off; `extra` adds arguments."""

    def __init__(self, maxmemory=None, policy=None, persist=False, extra=()):
        self.exe = executable()
        self.maxmemory = maxmemory
        self.policy = policy
        self.persist = persist
        self.extra = list(extra)
        self.folder = tempfile.mkdtemp(prefix="sigma-shim-redis-")
        self.conf_path = os.path.join(self.folder, "redis.conf")
        self.log_path = os.path.join(self.folder, "redis.log")
        self.port = None
        self.proc = None
        self.pids = []

    # -- life -------------------------------------------------------------------------------------

    def _write_conf(self):
        lines = ["port %d" % self.port, "bind 127.0.0.1", "dir %s" % self.folder,
                 "logfile %s" % self.log_path, "daemonize no"]
        if not self.persist:
            lines += ['save ""', "appendonly no"]
        if self.maxmemory:
            lines.append("maxmemory %s" % self.maxmemory)
        if self.policy:
            lines.append("maxmemory-policy %s" % self.policy)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        """Starts it (on its first port again after a stop) and returns once it answers PING."""
        if self.alive():
            raise AssertionError("redis-server is already running (pid %d)" % self.proc.pid)
        choose = self.port is None
        for _ in range(5 if choose else 1):  # a free port may be taken before redis-server binds it
            if choose:
                self.port = free_port()
            self._write_conf()
            self.proc = subprocess.Popen([self.exe, self.conf_path] + self.extra, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            self.pids.append(self.proc.pid)
            deadline = time.monotonic() + START_TIMEOUT
            while self.proc.poll() is None and time.monotonic() < deadline:
                if self._answers():
                    return self
                time.sleep(0.01)  # the poll's pace
            if self.proc.poll() is None:
                self._signal(signal.SIGKILL)
                raise AssertionError("redis-server did not answer PING on port %d within %.0f s\n%s"
                                     % (self.port, START_TIMEOUT, self.log_text()[-2000:]))
        raise AssertionError("redis-server exited at start (status %r) on port %d\n%s"
                             % (self.proc.returncode, self.port, self.log_text()[-2000:]))

    def _answers(self):
        try:
            reply = call(self.port, ("PING",), timeout=1.0)[0]
        except OSError:
            return False
        return reply == b"PONG" or isinstance(reply, RedisError)  # LOADING or NOAUTH: it answered

    def _signal(self, sig, timeout=STOP_TIMEOUT):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)

    def stop(self):
        """SIGTERM to its PID and waits (SIGKILL when it does not exit in time)."""
        return self._signal(signal.SIGTERM)

    def kill(self):
        """SIGKILL: as a crash looks to its clients."""
        return self._signal(signal.SIGKILL)

    def restart(self):
        """Stops it if it runs, then starts it again on the same port, empty (nothing is persisted)."""
        self.stop()
        return self.start()

    def close(self):
        """Stops it and removes its folder (for addCleanup)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- talking to it ----------------------------------------------------------------------------

    def url(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (self.port, db)

    def command(self, *args):
        reply = call(self.port, args)[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def pause(self, ms, mode="ALL"):
        """CLIENT PAUSE: Redis holds its clients' commands (every one, or writes only) for `ms`. This client
        too: send nothing more until the pause is over."""
        return self.command("CLIENT", "PAUSE", str(ms), mode)

    def keys(self, pattern="*"):
        """Every key, by SCAN (never KEYS)."""
        out, cursor = [], b"0"
        while True:
            cursor, batch = self.command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
            out.extend(batch)
            if cursor == b"0":
                return out

    def dump_value(self, key):
        """The key's value as bytes, whatever its type (the members of a hash, list, set, zset or stream
        joined), for checks that a text is absent."""
        kind = self.command("TYPE", key)
        if kind == b"none":
            return b""
        if kind == b"string":
            return self.command("GET", key) or b""
        reads = {b"hash": ("HGETALL", key), b"list": ("LRANGE", key, "0", "-1"),
                 b"set": ("SMEMBERS", key), b"zset": ("ZRANGE", key, "0", "-1", "WITHSCORES"),
                 b"stream": ("XRANGE", key, "-", "+")}
        return _flatten(self.command(*reads[kind]))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""


def _flatten(value):
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return str(value).encode()
    return b"\n".join(_flatten(v) for v in value)
