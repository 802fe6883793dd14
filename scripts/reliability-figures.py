#!/usr/bin/env python3
"""Render the reliability suite's figures (``docs/reliability-figures/*.json``, written by
``make chaos``) as Markdown between the markers of ``docs/reliability.md``.

Usage: ``python scripts/reliability-figures.py [FIGURES_DIR [DOC]]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BEGIN = "<!-- reliability-figures:begin (make chaos writes this part) -->"
END = "<!-- reliability-figures:end -->"
CHAOS_ROWS = [
    ("kills", "driver kills (SIGKILL) survived"),
    ("kill_points", "where (named points; `time`: a random moment; `trial`: during a trial)"),
    ("sessions", "driver sessions (each resumed the previous)"),
    ("individuals", "individuals (specs, hashes, seq order equal to the uninterrupted run)"),
    ("trials_checked", "trials checked (results bit-identical, none lost or duplicated)"),
    ("hurdles", "hurdles (identical)"),
    ("retried_trials", "trials re-run after a kill (same row, attempts + 1)"),
    ("interrupted_attempts", "attempts interrupted by a kill"),
    ("trial_processes_outliving_a_killed_driver", "trial processes that outlived their driver"),
    ("fairseq_launches", "fairseq-train launches in all"),
    ("finished_trials_retrained", "finished trials retrained or their logs touched"),
    ("fitness_bit_identical", "fitness and perplexities bit-identical"),
    ("wall_s", "wall time, s (2 CPU cores, shared)"),
]


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(f"`{v}`" if isinstance(v, str) else str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("|", "\\|")


def render(figures: dict[str, dict]) -> str:
    out: list[str] = []
    chaos = {name: figures[name] for name in ("chaos", "chaos-ci") if name in figures}
    if chaos:
        out += ["### Chaos: the driver killed and resumed", ""]
        out.append("| | " + " | ".join(f"`{n}`" for n in chaos) + " |")
        out.append("|---|" + "---|" * len(chaos))
        for key, label in CHAOS_ROWS:
            cells = " | ".join(_cell(f.get(key, "")) for f in chaos.values())
            out.append(f"| {label} | {cells} |")
        out.append("")
    if "trial-faults" in figures:
        faults = figures["trial-faults"]
        out += ["### Trial faults (real fairseq)", "", "| fault | status | reason |"]
        out.append("|---|---|---|")
        for row in faults["faults"]:
            out.append(f"| {row['fault']} | {row['status']} | {_cell(row['reason'])} |")
        out += ["", f"Six trials, two at a time: {faults['seconds_for_six_trials']} s.", ""]
    if "retries" in figures:
        out += ["### Retries", "", "| case | status | attempts | how each attempt ended |"]
        out.append("|---|---|---|---|")
        for case, f in figures["retries"].items():
            out.append(f"| {case} | {f['status']} | {f['attempts']} | {_cell(f['outcomes'])} |")
        out.append("")
    if "store-faults" in figures:
        out += ["### Store faults", "", "| case | figures |", "|---|---|"]
        for case, f in figures["store-faults"].items():
            text = "; ".join(f"{k}: {_cell(v)}" for k, v in sorted(f.items()))
            out.append(f"| {case.replace('_', ' ')} | {text} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    folder = Path(argv[0]) if argv else root / "docs" / "reliability-figures"
    doc = Path(argv[1]) if len(argv) > 1 else root / "docs" / "reliability.md"
    figures = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    if not figures:
        print(f"{folder}: no figures (run make chaos)", file=sys.stderr)
        return 1
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        print(f"{doc}: the markers {BEGIN!r} ... {END!r} are missing", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n\n{render(figures)}\n{END}{tail}")
    print(f"{doc}: figures from {', '.join(sorted(figures))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
