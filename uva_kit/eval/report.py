"""A self-contained HTML report: text, tables, plots and animations embedded (base64), links to the MP4s.

    report = Report("Policy evaluation: pusht")
    report.paragraph("...")
    report.table(["agent", "score"], [["uva", "0.91"]])
    report.image(out / "scores.png")
    report.write(out / "report.html")
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}"
         "th{background:#eee}td:first-child,th:first-child{text-align:left}"
         "pre{white-space:pre-wrap;background:#f4f4f4;padding:6px}figure{display:inline-block;margin:0.5em}figcaption{font-size:0.85em;color:#555}img{image-rendering:pixelated}")
MIME = {".png": "image/png", ".gif": "image/gif"}


def _data_uri(path: Path) -> str:
    return f"data:{MIME[path.suffix.lower()]};base64,{base64.b64encode(path.read_bytes()).decode()}"


class Report:
    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def image(self, path: str | Path, caption: str = "", link: str | Path | None = None) -> None:
        """Embed a PNG or GIF; ``link`` (e.g. the MP4 next to the report) makes it clickable."""
        path = Path(path)
        tag = f'<img src="{_data_uri(path)}" alt="{html.escape(path.name)}">'
        if link is not None:
            tag = f'<a href="{html.escape(str(link))}">{tag}</a>'
        self.parts.append(f"<figure>{tag}<figcaption>{html.escape(caption)}</figcaption></figure>")

    def provenance(self, info: dict) -> None:
        """"How this was made": the command line and each option, where ``info`` (eval_info.json) records them."""
        if "options" not in info:
            return
        self.heading("How this was made")
        self.parts.append(f"<pre>{html.escape(info['command_line'])}</pre>")
        rows = [[name, " ".join(map(str, value)) or None if isinstance(value, list) else value]
                for name, value in info["options"].items()]
        self.table(["option", "value ('-': not given, the default)"], rows)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                        f"<style>{STYLE}</style></head><body>{''.join(self.parts)}</body></html>")
        return path


def _cell(value: object) -> str:
    """A table cell: floats to 3 decimals (no "-0.000"), "-" for a missing value (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{round(value, 3) + 0.0:.3f}"
    return str(value)


def percent(fraction: float) -> str:
    """A rate in [0, 1] as a table cell: 0.25 -> "25%"."""
    return f"{fraction:.0%}"
