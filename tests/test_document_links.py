"""Every relative link of README.md, docs/*.md and benchmarks/RESULTS.md names an existing file, and its #anchor a
heading of that file (GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, -1, -2, ... for
repeats). Links inside code blocks and inline code are not links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from documents import DOCUMENTS, ROOT, code_blocks

LINKED = [*DOCUMENTS, ROOT / "benchmarks" / "RESULTS.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"#{1,6}\s+(.*?)\s*#*\s*$")


def prose(document: Path) -> list[tuple[int, str]]:
    """(line number, text) of the document's lines outside code blocks."""
    in_code = {line for block in code_blocks(document) for line in range(block.line - 1, block.line + len(block.lines) + 1)}
    return [(number, line) for number, line in enumerate(document.read_text().splitlines(), 1) if number not in in_code]


def anchors(document: Path) -> set[str]:
    seen: dict[str, int] = {}
    for _, line in prose(document):
        heading = HEADING.fullmatch(line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            seen[slug] = seen.get(slug, -1) + 1
            if seen[slug]:
                seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def broken_links(document: Path) -> list[str]:
    broken = []
    for number, line in prose(document):
        for target in LINK.findall(re.sub(r"`+[^`]*`+", "", line)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:, ...
                continue
            path, _, anchor = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            if not linked.exists():
                broken.append(f"{document.name}:{number}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{document.name}:{number}: {target}: no heading #{anchor} in {linked.name}")
    return broken


@pytest.mark.parametrize("document", LINKED, ids=[str(d.relative_to(ROOT)) for d in LINKED])
def test_relative_links_and_anchors_resolve(document):
    assert not broken_links(document)


def test_broken_links_are_found(tmp_path):
    (tmp_path / "other.md").write_text("# A title, with `code`!\n\n## Same\n\n## Same\n")
    document = tmp_path / "doc.md"
    document.write_text("# Here\n[ok](other.md#a-title-with-code) [ok](other.md#same-1) [ok](#here)\n"
                        "[gone](missing.md) [bad](other.md#nowhere) [bad](#there) [web](https://x.org/y)\n"
                        "```\n[in code](missing.md)\n```\n`[inline](missing.md)`\n")
    assert [line.split(": ")[1] for line in broken_links(document)] == ["missing.md", "other.md#nowhere", "#there"]
