"""A torch-free driver on Python 3.12 whose trials run this environment's fairseq.

The driver is ``.venv-core-3.12`` (the core alone, built by
``scripts/test-core-pythons.sh --build 3.12`` when missing); ``[task] fairseq_bin`` is
the ``bin/`` of the Python running this test (the project's 3.11 ``.venv``): real
``fairseq-train`` and ``fairseq-eval-lm`` there, warm starts from that ``bin/python``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fairseq_cli import REPO
from tests.search_helpers import lm_task, write_toml

pytestmark = pytest.mark.integration
VERSION = "3.12"


def core_python(version: str) -> Path:
    """The core-only venv's Python for ``version`` (built once), or a skip saying why."""
    script = REPO / "scripts" / "test-core-pythons.sh"
    proc = subprocess.run(
        ["bash", str(script), "--build", version],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    skipped = [line for line in proc.stdout.splitlines() if "skipped:" in line]
    if skipped:
        pytest.skip(skipped[0].lstrip("= "))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return REPO / f".venv-core-{version}" / "bin" / "python"


def test_a_core_only_driver_runs_real_trials_in_another_environment(tmp_path, demo_lm_bin):
    python = core_python(VERSION)
    probe = (
        "import sys, importlib.util as u; print(sys.version_info[:2], bool(u.find_spec('torch')))"
    )
    assert (
        subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
        == f"({VERSION.replace('.', ', ')}) False"
    )
    fairseq_bin = Path(sys.executable).parent
    config = write_toml(
        tmp_path / "pdh.toml",
        {
            "search": {
                "algorithm": "pdh",
                "seed": 3,
                "steps": [4],
                "population_size": 1,
                "tournament_size": 1,
                "max_children": 1,
            },
            "space": {"kind": "order", "n_pairs": 2},
            "task": lm_task(demo_lm_bin, fairseq_bin=str(fairseq_bin)),
            "launcher": {"kind": "local", "workers": 1},
        },
    )
    out = tmp_path / "exp"
    proc = subprocess.run(
        [str(python), "-m", "evotrans", "evolve", str(config), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    status = subprocess.run(
        [str(python), "-m", "evotrans", "status", str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(status.stdout)
    assert data["compute"]["trials_finished"] >= 1
    commands = sorted(out.rglob("command.json"))
    assert commands, "no trial ran"
    for command in commands:
        cmd = json.loads(command.read_text())
        assert cmd[0] == str(fairseq_bin / "fairseq-train")
        log = (command.parent / "train.log").read_text()
        assert "warm start unavailable" not in log  # forked from fairseq_bin/python
        assert "valid" in log
    results = [json.loads(p.read_text()) for p in out.rglob("result.json")]
    assert all(r["status"] == "ok" for r in results), results
    assert any(r.get("test_ppl") for r in results), "fairseq-eval-lm gave no perplexity"
