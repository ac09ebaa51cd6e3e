"""The code blocks of README.md and docs/*.md, for the tests that hold the documents to the code."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOTE = re.compile(r"<!--\s*(.*?)\s*-->")


@dataclass
class CodeBlock:
    document: Path
    line: int  # the document's line number of the block's first line
    language: str  # what follows the opening fence; "" for an indented block
    note: str = ""  # the HTML comment on the line just before the opening fence, if any
    lines: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.document.name}:{self.line}"


def code_blocks(document: Path) -> list[CodeBlock]:
    """The fenced (```) and indented (four spaces) code blocks of ``document``, in order."""
    blocks, fenced, indented, previous = [], None, None, ""
    for number, line in enumerate([*document.read_text().splitlines(), ""], 1):
        is_fence = line.lstrip().startswith("```")
        if indented and not fenced and (is_fence or not line.startswith("    ")):
            blocks.append(indented)
            indented = None
        if fenced:
            if is_fence:
                blocks.append(fenced)
                fenced = None
            else:
                fenced.lines.append(line)
        elif is_fence:
            note = NOTE.fullmatch(previous.strip())
            fenced = CodeBlock(document, number + 1, line.strip()[3:].strip(), note.group(1) if note else "")
        elif line.startswith("    "):
            indented = indented or CodeBlock(document, number, "")
            indented.lines.append(line)
        previous = line
    return blocks
