"""The legacy routes as `sigma-shim routes --json` lists them: the table the router matches against, asked of
the binary under test so that no test keeps a list of its own that could drift from it."""

import functools
import json
import subprocess

from harness import BINARY


@functools.lru_cache(maxsize=None)
def legacy_routes():
    """Each route: {"method", "path" (with an {id}), "form", "paged" (takes limit and cursor),
    "description"}."""
    out = subprocess.run([BINARY, "routes", "--json"], check=True, stdout=subprocess.PIPE, timeout=60).stdout
    return tuple(json.loads(out))


def forms():
    """form -> (path template, whether it is a list route), in the table's order."""
    return {r["form"]: (r["path"], r["paged"]) for r in legacy_routes()}


def paths(file_id, only=None):
    """The path of every legacy route (or of those whose form is in `only`) for one id, in table order."""
    return [r["path"].format(id=file_id) for r in legacy_routes() if only is None or r["form"] in only]
