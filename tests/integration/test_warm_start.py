"""Warm trial starts (the fork server) train exactly what a cold fairseq-train trains."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from evotrans import forkserver
from evotrans.search.types import TrialRequest
from evotrans.trial import run_trial
from tests.fairseq_cli import lm_trial, tool

pytestmark = pytest.mark.integration


def _request(tmp: Path, data: Path, name: str, *, warm: bool, final: bool) -> TrialRequest:
    return lm_trial(tmp, name, data, spec="ssffsf", steps=8, seed=4, warm_start=warm, final=final)


def _losses(log: Path) -> list[str]:
    lines = [line.split("| train_inner | ", 1)[-1] for line in log.read_text().splitlines()]
    return [json.loads(line)["loss"] for line in lines if line.startswith('{"epoch"')]


def test_warm_trial_equals_cold_trial(tmp_path, demo_lm_bin):
    cold = run_trial(_request(tmp_path, demo_lm_bin, "cold", warm=False, final=True))
    warm = run_trial(_request(tmp_path, demo_lm_bin, "warm", warm=True, final=True))
    assert cold.status == warm.status == "ok", (cold.error, warm.error)
    assert (warm.fitness, warm.valid_ppl, warm.test_ppl, warm.steps_done, warm.params) == (
        cold.fitness,
        cold.valid_ppl,
        cold.test_ppl,
        cold.steps_done,
        cold.params,
    )
    losses = _losses(tmp_path / "warm" / "train.log")
    assert len(losses) == 4 and losses == _losses(tmp_path / "cold" / "train.log")
    log = (tmp_path / "warm" / "train.log").read_text()
    assert "warm start unavailable" not in log
    assert (tmp_path / "warm" / "train.log.exit").read_text() == "0"


def test_fork_server_reports_exit_codes_and_refuses_other_programs(tmp_path):
    argv = [tool("fairseq-train"), str(tmp_path / "no-data"), "--arch", "no_such_arch"]
    cold = subprocess.run(argv, capture_output=True, text=True)
    warm = forkserver.start_fairseq(argv, {}, tmp_path / "bad.log")
    assert warm.wait(timeout=120) == cold.returncode != 0
    assert "no_such_arch" in (tmp_path / "bad.log").read_text()
    with pytest.raises(forkserver.ForkServerError, match="not a fairseq tool"):
        forkserver.start_fairseq(["/bin/sh", "-c", "touch pwned"], {}, tmp_path / "x.log")
    assert not (tmp_path / "pwned").exists()
