"""`evotrans show` as users run it: a real process, clean errors, no torch import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def evotrans(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evotrans", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_show_prints_the_canonical_order_and_totals():
    proc = evotrans("show", "s.sfsf.f", "--d", "64", "--ffn", "256", "--vocab", "1000")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "order           ssfsff" in out
    assert "s=3 f=3 c=0" in out and "sandwich:3:1" in out
    assert "equal-parameter yes" in out
    # 3 * (4*(64*64+64) + 128) + 3 * (64*256+256 + 256*64+64 + 128) + 1000*64
    assert "50,304" in out and "99,648" in out and "64,000" in out
    assert [line.split()[-1] for line in out.splitlines() if "total" in line] == ["213,952"]


def test_show_json_and_unequal_order():
    proc = evotrans("show", "sssf", "--d", "8", "--ffn", "32", "--vocab", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["order"] == "sssf" and data["counts"] == {"s": 3, "f": 1, "c": 0}
    assert data["equal_parameter"] is False and data["baseline"] == "sfsfsf"
    assert data["params"]["total"] == 3 * 304 + 568
    assert data["parameter_delta"] == -2 * 568


def test_show_decoder_auto_cross():
    proc = evotrans("show", "sandwich:2:1", "--role", "decoder", "--auto-cross", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["order"] == "scscff"


def test_bad_order_is_one_line_exit_2():
    proc = evotrans("show", "ssxf")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "position 3 'x'" in lines[0]
    assert lines[0].startswith("evotrans: error: ")


def test_bad_sizes_and_huge_inputs_are_one_line_exit_2():
    for args in (
        ["sfsf", "--d", "0"],
        ["sfsf", "--vocab", "many"],
        ["s" * 5000],
        ["random:2:" + "9" * 5000],
    ):
        proc = evotrans("show", *args)
        assert proc.returncode == (0 if args == ["s" * 5000] else 2), proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 1


def test_cli_does_not_import_torch():
    code = (
        "import sys; from evotrans.cli import main; rc = main(['show', 'sfsf']); "
        "assert rc == 0, rc; "
        "assert 'torch' not in sys.modules and 'fairseq' not in sys.modules, 'imported'"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
