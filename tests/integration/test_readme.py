"""The README's quick-start commands, run verbatim on the demo corpora."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fairseq_cli import REPO

pytestmark = pytest.mark.integration


def quickstart_block() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Train a sandwich language model", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "README quick-start block not found"
    return match.group(1)


def test_readme_quickstart_runs_verbatim(tmp_path: Path):
    (tmp_path / "data").symlink_to(REPO / "data")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    script = "set -euo pipefail\n" + quickstart_block()
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    ppl = re.search(r"Loss \(base 2\): [\d.]+, Perplexity: ([\d.]+)", out)
    assert ppl and 1.0 < float(ppl.group(1)) < 2000, out[-2000:]
    bleu = re.search(r"BLEU = ([\d.]+)", out)
    assert bleu, out[-2000:]
    assert (tmp_path / "checkpoints/sandwich-lm/checkpoint_last.pt").exists()
