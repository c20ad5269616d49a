#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora from the fixtures, so that no copy of a fixture lives in git.

usage: make_seeds.py SOURCE_DIR OUTPUT_DIR

Makes OUTPUT_DIR/{transform_fuzz,route_fuzz,compare_fuzz}/, one file per seed, in each target's input layout
(see the comment at the top of each target). Every byte of JSON in a seed is a fixture's, copied; only the
targets' option bytes and separators are added.
"""
import hashlib
import json
import pathlib
import sys

SEP = b"\x1e"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    vt = source / "tests/fixtures/vt"
    rt = source / "tests/fixtures/roundtrip"
    seeds = {"transform_fuzz": [], "route_fuzz": [], "compare_fuzz": []}

    # transform: File object, behaviour page, rule objects; once plainly, once with a list window.
    rules = [p.read_bytes() for p in sorted((rt / "rules").glob("*.json"))]
    for file_path in sorted(rt.glob("*.file.json")):
        behaviours = file_path.with_name(file_path.name.replace(".file.json", ".behaviours.json"))
        parts = [file_path.read_bytes(), behaviours.read_bytes(), *rules]
        seeds["transform_fuzz"].append(b"\x00" + SEP.join(parts))
        seeds["transform_fuzz"].append(b"\x13" + SEP.join(parts))  # offset 1, limit 2
    real_behaviour = (vt / "file_behaviour.real.msticpy_ms_sysinternals.json").read_bytes()
    for file_path in sorted(vt.glob("file_object.real.*.json")):
        seeds["transform_fuzz"].append(b"\x00" + file_path.read_bytes() + SEP + real_behaviour)
    # The File objects of the search page that carry Sigma results, each as its own document.
    search = json.loads((vt / "intelligence_search.real.msticpy_vt3_search.json").read_bytes())
    # (The page maps each query to its list of File objects.)
    for found in search.values():
        for item in found:
            if "sigma_analysis_results" in item.get("attributes", {}):
                seeds["transform_fuzz"].append(b"\x00" + json.dumps(item, ensure_ascii=False).encode())

    # route: the paths of every link in the fixtures, as GETs; the first few also as other methods.
    paths = []
    for p in sorted(vt.glob("*.json")) + sorted(rt.glob("*.json")):
        for link in links(json.loads(p.read_bytes())):
            path = link.split("://", 1)[-1]
            path = path[path.find("/"):] if "/" in path else "/"
            if path not in paths:
                paths.append(path)
    for path in paths:
        seeds["route_fuzz"].append(b"GET " + path.encode())
    # Every legacy route with a fixture's file id, and the queries that change its File request.
    file_id = json.loads(next(iter(sorted(vt.glob("file_object.real.*.json")))).read_bytes())["data"]["id"]
    for route in ("/api/v3/sigma_analyses/{id}", "/api/v3/files/{id}/sigma_analysis",
                  "/api/v3/files/{id}/relationships/sigma_analysis",
                  "/api/v3/files/{id}?relationships=sigma_analysis,contacted_ips",
                  "/api/v3/files/{id}?relationships=sigma_analysis&relationship_counters=true",
                  "/api/v3/files/{id}?relationship_counters=true", "/api/v3/sigma_analyses/{id}/rules?limit=2",
                  "/api/v3/sigma_analyses/{id}/relationships/rules?cursor=&limit=1"):
        seeds["route_fuzz"].append(b"GET " + route.replace("{id}", file_id).encode())
    for method in (b"HEAD", b"POST", b"CONNECT"):
        for path in paths[:3]:
            seeds["route_fuzz"].append(method + b" " + path.encode())

    # compare: each legacy example against itself, against the others, and with its leaf paths ignored;
    # the match contexts they hold; the paths of their leaves as globs.
    legacy = [p.read_bytes() for p in sorted(vt.glob("legacy_*.json"))]
    for i, a in enumerate(legacy):
        seeds["compare_fuzz"].append(b"\x00" + a + SEP + a)
        seeds["compare_fuzz"].append(b"\x25" + a + SEP + a)  # statuses differ, tolerance 1 s
        for b in legacy[i + 1:]:
            seeds["compare_fuzz"].append(b"\x00" + a + SEP + b)
        leaves = leaf_paths(json.loads(a))
        globs = ["*." + ".".join(p[1:]) for p in leaves[:3] if len(p) > 1] + ["**." + leaves[0][-1]]
        seeds["compare_fuzz"].append(b"\x01" + a + SEP + legacy[(i + 1) % len(legacy)] + SEP +
                                     "\n".join(globs).encode())
        for context in strings_at(json.loads(a), "match_context") + strings_at(json.loads(a), "match"):
            seeds["compare_fuzz"].append(b"\x02" + context.encode())
        for p in leaves[:4]:
            seeds["compare_fuzz"].append(b"\x03" + ".".join(p).encode() + b"\n" + "\n".join(p).encode())
            seeds["compare_fuzz"].append(b"\x03**." + p[-1].encode() + b"\n" + "\n".join(p).encode())

    for target, items in seeds.items():
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        for item in items:
            (folder / hashlib.sha1(item).hexdigest()).write_bytes(item)
        print(f"{target}: {len(items)} seeds in {folder}")
    return 0


def links(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("self", "next", "related") and isinstance(x, str) and "/api/v3/" in x:
                yield x
            else:
                yield from links(x)
    elif isinstance(v, list):
        for x in v:
            yield from links(x)


def leaf_paths(v, prefix=()):
    if isinstance(v, dict) and v:
        return [p for k, x in v.items() for p in leaf_paths(x, prefix + (k,))]
    if isinstance(v, list) and v:
        return [p for i, x in enumerate(v) for p in leaf_paths(x, prefix + (str(i),))]
    return [prefix] if prefix else []


def strings_at(v, key):
    found = []
    if isinstance(v, dict):
        for k, x in v.items():
            if k == key and isinstance(x, str):
                found.append(x)
            else:
                found.extend(strings_at(x, key))
    elif isinstance(v, list):
        for x in v:
            found.extend(strings_at(x, key))
    return found


if __name__ == "__main__":
    sys.exit(main())
