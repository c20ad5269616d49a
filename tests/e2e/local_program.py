"""What the fixtures that run a real program of their own (tinyproxy.py, redis_server.py) share: finding the
program, with a clear failure (never a skip) when its Debian package is missing, and a free port for it."""

import os
import shutil
import socket


class ProgramMissing(AssertionError):
    pass


def required_program(name, package, needed_by):
    """The path of `name`, looked up on PATH and in /usr/bin and /usr/sbin."""
    for candidate in (shutil.which(name), "/usr/bin/" + name, "/usr/sbin/" + name):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ProgramMissing("%s is not installed: %s need the Debian package `%s` (script/test installs it; or: "
                         "apt-get install -y %s)" % (name, needed_by, package, package))


def free_port():
    """A port of 127.0.0.1 that was free a moment ago (a fixture retries if another process took it since)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
