"""Helpers for tests that run the real fairseq command-line tools."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from evotrans.fairseq_tools import find_tool

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "fairseq_plugins"
_JSON_LOG = re.compile(r"\| (train_inner|train|valid) \| (\{.*\})\s*$")


def tool(name: str) -> str:
    """Path of a console script of the running environment (fairseq-train, evotrans, …)."""
    found = find_tool(name)
    if found is None:
        raise FileNotFoundError(name)
    return found


def run(
    args: list[str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a command (argument list, never a shell string) and capture its output."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args[:3])} … exited {proc.returncode}\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    return proc


def json_log(output: str, kind: str = "train_inner") -> list[dict]:
    """fairseq's --log-format json records of one kind, in order."""
    records = []
    for line in output.splitlines():
        match = _JSON_LOG.search(line)
        if match and match.group(1) == kind:
            records.append(json.loads(match.group(2)))
    return records


def num_params(output: str) -> tuple[int, int]:
    """(total, trained) parameter counts from fairseq-train's start-up log."""
    match = re.search(
        r"num\. (?:shared )?model params: ([\d,]+) \(num\. trained: ([\d,]+)\)", output
    )
    if match is None:
        raise AssertionError("no parameter count in fairseq-train output")
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def build_model(data: Path, argv: list[str], seed: int = 3):
    """(task, model) built in-process the way fairseq-train builds them, seeded."""
    import torch
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser, [str(data), "--user-dir", str(PLUGIN_DIR), "--cpu", *argv]
    )
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    torch.manual_seed(seed)
    return task, task.build_model(cfg.model)


def store_count(experiment: Path, sql: str) -> int:
    """A COUNT from an experiment's store, read-only, while a driver may be writing it
    (0 when the store does not exist yet or is busy)."""
    import sqlite3

    db = experiment / "experiment.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0
