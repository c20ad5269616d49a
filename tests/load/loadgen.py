"""An asyncio HTTP/1.1 load generator for the load test: N keep-alive connections, each sending one request
after another from a weighted mix until a deadline (or a request count), reading every answer by its own
framing and handing it to a checker. Standard library only.
"""

import asyncio
import itertools
import random
import time

ANSWER_TIMEOUT = 30.0  # no answer may take longer: a hang is a failure, not a slow request
MAX_HEADER_BYTES = 64 * 1024


class Answer:
    """What came back for one request: status, headers (lower-case names), body, whether the body was
    complete by its own framing, and whether the server closed the connection after it."""

    __slots__ = ("status", "headers", "body", "complete", "closed", "error")

    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.complete = False
        self.closed = False
        self.error = None  # what went wrong reading it (None: a whole answer)


async def _read_answer(reader):
    a = Answer()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        a.closed = True
        a.error = "connection closed before a whole header (%d bytes)" % len(e.partial)
        return a
    except asyncio.LimitOverrunError:
        a.error = "header over %d bytes" % MAX_HEADER_BYTES
        a.closed = True
        return a
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        a.error = "bad status line %r" % lines[0][:100]
        a.closed = True
        return a
    a.status = int(parts[1])
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            a.error = "bad header line %r" % line[:100]
            a.closed = True
            return a
        name = name.strip().lower()
        a.headers[name] = a.headers[name] + ", " + value.strip() if name in a.headers else value.strip()
    try:
        if "chunked" in a.headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                body += (await reader.readexactly(size + 2))[:size]
            a.body = bytes(body)
        elif "content-length" in a.headers:
            a.body = await reader.readexactly(int(a.headers["content-length"]))
        else:
            a.body = await reader.read()
            a.closed = True
        a.complete = True
    except asyncio.IncompleteReadError as e:
        a.body = e.partial
        a.closed = True
    except ValueError as e:
        a.error = "bad chunked framing: %s" % e
        a.closed = True
    if "close" in a.headers.get("connection", "").lower():
        a.closed = True
    return a


class Stats:
    def __init__(self):
        self.requests = 0
        self.connections_opened = 0
        self.by_kind = {}      # (request kind, status, cache header) -> count
        self.problems = []     # (request, answer summary, why): at most MAX_PROBLEMS kept
        self.problem_count = 0
        self.started = None
        self.ended = None

    MAX_PROBLEMS = 20

    def problem(self, what):
        self.problem_count += 1
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(what)


async def _connection(host, port, deadline, counter, max_requests, pick, check, stats, rng, ids):
    reader = writer = None
    try:
        while time.monotonic() < deadline and next(counter) < max_requests:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES)
                stats.connections_opened += 1
            kind, target = pick(rng)
            request_id = "load-%d" % next(ids)
            writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nX-Request-Id: %s\r\nAccept: application/json\r\n\r\n"
                          % (target, host, port, request_id)).encode("latin-1"))
            try:
                answer = await asyncio.wait_for(_read_answer(reader), ANSWER_TIMEOUT)
            except asyncio.TimeoutError:
                answer = Answer()
                answer.error = "no whole answer within %.0f s" % ANSWER_TIMEOUT
                answer.closed = True
            stats.requests += 1
            key = (kind, answer.status, answer.headers.get("x-sigma-shim-cache", "-"))
            stats.by_kind[key] = stats.by_kind.get(key, 0) + 1
            why = check(kind, target, request_id, answer)
            if why:
                stats.problem("%s %s (%s): %s; status %r, complete %r, closed %r, error %r, body[:160] %r"
                              % (kind, target, request_id, why, answer.status, answer.complete, answer.closed,
                                 answer.error, answer.body[:160]))
            if answer.closed:
                writer.close()
                reader = writer = None
    except OSError as e:
        stats.problem("connection: %r" % e)
    finally:
        if writer is not None:
            writer.close()


def run(host, port, connections, seconds, pick, check, max_requests=10 ** 9, seed=1):
    """Runs `connections` clients for `seconds`; pick(rng) -> (kind, target); check(kind, target, request_id,
    answer) -> None or why the answer is wrong. Returns Stats."""
    stats = Stats()

    async def main():
        stats.started = time.monotonic()
        deadline = stats.started + seconds
        counter = itertools.count()
        ids = itertools.count()
        await asyncio.gather(*(_connection(host, port, deadline, counter, max_requests, pick, check, stats,
                                           random.Random(seed * 100003 + i), ids)
                               for i in range(connections)))
        stats.ended = time.monotonic()

    asyncio.run(main())
    return stats
