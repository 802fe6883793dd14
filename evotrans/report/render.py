"""A report as text: Markdown (figures linked) and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evotrans.report.build import Report


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Report, figure_dir: str = "figures") -> str:
    """Markdown: tables, figures linked as ``figures/NAME.png`` (and ``.svg``)."""
    out = [f"# {report.title}", ""]
    out += [("**Partial report:** " if not report.complete else "") + report.status, ""]
    out += [f"- {line}" for line in report.lines] + [""]
    for table in report.tables:
        out += [f"## {table.title}", ""]
        if table.rows:
            out.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
            out.append("|" + "|".join("---" for _ in table.columns) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
            out.append("")
        if table.note:
            out += [f"*{table.note}*", ""]
    out += ["## Figures", ""]
    for item in report.figures:
        out += [
            f"### {item.title}",
            "",
            f"![{item.title}]({figure_dir}/{item.name}.png)",
            "",
            f"{item.caption} ([SVG]({figure_dir}/{item.name}.svg))",
            "",
        ]
    for title, why in report.skipped:
        out += [f"- *no figure: {title} — {why}*"]
    return "\n".join(out).rstrip() + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left;font-family:monospace}
.partial{background:#fff3cd;padding:.5em;border-left:4px solid #e0a800}
.note{color:#666;font-size:13px}img{max-width:100%}figure{margin:1.5em 0}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:12px}"""


def render_html(report: Report, images: Mapping[str, bytes]) -> str:
    """One self-contained page; ``images``: PNG bytes by figure name (embedded as base64)."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
    ]
    status = e(report.status)
    out.append(
        f'<p class="partial"><b>Partial report:</b> {status}</p>'
        if not report.complete
        else f"<p>{status}</p>"
    )
    out.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in report.lines) + "</ul>")
    for table in report.tables:
        out.append(f"<h2>{e(table.title)}</h2>")
        if table.rows:
            out.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in table.columns) + "</tr>")
            out += [
                "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table.rows
            ]
            out.append("</table>")
        if table.note:
            out.append(f'<p class="note">{e(table.note)}</p>')
    out.append("<h2>Figures</h2>")
    for item in report.figures:
        data = base64.b64encode(images[item.name]).decode("ascii")
        out.append(
            f'<figure id="{e(item.name)}"><img alt="{e(item.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{e(item.title)}.</b> '
            f"{e(item.caption)}</figcaption></figure>"
        )
    if report.skipped:
        out.append(
            '<ul class="note">'
            + "".join(f"<li>no figure: {e(title)} — {e(why)}</li>" for title, why in report.skipped)
            + "</ul>"
        )
    config = json.dumps(report.config, indent=2, sort_keys=True, default=str)
    out.append(f"<details><summary>config</summary><pre>{e(config)}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
