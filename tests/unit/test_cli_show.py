"""`evotrans show` as users run it: a real process, clean errors, no torch import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def evotrans(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evotrans", *args], cwd=REPO,
                          capture_output=True, text=True)


def test_show_prints_the_canonical_order_and_totals():
    proc = evotrans("show", "s.sfsf.f", "--d", "64", "--vocab", "1000")
    assert proc.returncode == 0, proc.stderr
    assert "ssfsff" in proc.stdout and "sandwich       k=1" in proc.stdout
    assert "total" in proc.stdout


def test_bad_order_is_one_line_exit_2():
    proc = evotrans("show", "ssxf")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "position 3 'x'" in lines[0]


def test_cli_does_not_import_torch():
    code = ("import sys; from evotrans.cli import main; main(['show', 'sfsf']); "
            "assert 'torch' not in sys.modules and 'fairseq' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
