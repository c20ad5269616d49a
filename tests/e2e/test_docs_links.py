"""Every relative link in README.md and docs/*.md leads to a file of the repository, and every #anchor to a heading
of that file, as GitHub renders it: the reference was split over several pages, and a moved section must not leave
a dead link behind. Reads files only: no build, no network."""

import glob
import os
import re
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def pages():
    return [os.path.join(SOURCE_DIR, "README.md")] + sorted(glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md")))


def prose_lines(path):
    """The lines outside fenced code blocks, with their numbers."""
    fenced = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if not fenced:
                yield number, line.rstrip("\n")


def slug(heading):
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path):
    seen = {}
    for _, line in prose_lines(path):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        yield base if n == 0 else "%s-%d" % (base, n)


def links(path):
    for number, line in prose_lines(path):
        # A link's text may be code (`[`x`](y)`); code spans elsewhere may hold "](" that is no link.
        for m in LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, m.group(1)


class DocsLinks(unittest.TestCase):

    def test_slug_follows_github(self):
        self.assertEqual(slug("`sigma-shim serve`"), "sigma-shim-serve")
        self.assertEqual(slug("Quick start (Debian 12)"), "quick-start-debian-12")
        self.assertEqual(slug("3.1 Results: File object first, then behaviours"),
                         "31-results-file-object-first-then-behaviours")
        self.assertEqual(slug("Upstream economy: cache, coalescing, quota, record and replay"),
                         "upstream-economy-cache-coalescing-quota-record-and-replay")

    def test_the_pages_exist(self):
        names = [os.path.relpath(p, SOURCE_DIR) for p in pages()]
        for name in ("README.md", "docs/contract.md", "docs/serve.md", "docs/economy.md", "docs/compare.md",
                     "docs/migration.md", "docs/development.md"):
            self.assertIn(name, names)

    def test_every_relative_link_resolves(self):
        checked = 0
        for page in pages():
            for number, target in links(page):
                where = "%s:%d: %s" % (os.path.relpath(page, SOURCE_DIR), number, target)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
                    continue
                path, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                with self.subTest(link=where):
                    self.assertTrue(resolved == SOURCE_DIR or resolved.startswith(SOURCE_DIR + os.sep),
                                    "leads out of the repository")
                    self.assertTrue(os.path.exists(resolved), "no such file")
                    if anchor:
                        self.assertTrue(resolved.endswith(".md"), "an anchor into a file that is not Markdown")
                        self.assertIn(anchor, set(anchors(resolved)), "no such heading")
                checked += 1
        self.assertGreater(checked, 50, "the link pattern no longer finds the links")

    def test_no_page_names_the_workspace_outside_the_repository(self):
        for page in pages():
            with open(page, encoding="utf-8") as f:
                text = f.read()
            # Spelled in two parts, so that a search of the repository for these paths does not find this test.
            for outside in ("shared" + "/contract", ".." + "/shared", ".." + "/fixtures"):
                self.assertNotIn(outside, text, os.path.relpath(page, SOURCE_DIR))


if __name__ == "__main__":
    unittest.main()
