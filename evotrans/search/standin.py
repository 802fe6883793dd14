"""A fast, deterministic stand-in for the fairseq trial runner.

``StandinRunner()(request)`` "trains" instantly (or sleeping ``sleep``
seconds): its fitness is a deterministic function of the spec and the steps,
increasing with steps, so searches, hurdles and resumes can be tested and
demonstrated without fairseq. It honours the runner contract: it writes
``checkpoints/checkpoint_last.json`` in the trial directory and, for a
promoted trial, fails unless the previous stage's checkpoint exists.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from evotrans.search.types import TrialRequest, TrialResult, TrialStatus


def quality(spec: str) -> float:
    """A pseudo-random architecture quality in [0, 1) from the spec text."""
    digest = hashlib.sha256(spec.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def standin_ppl(spec: str, steps: int) -> float:
    """Validation perplexity: falls with steps, lower for higher-quality specs."""
    q = quality(spec)
    return 20.0 * (1.5 - q) * (1.0 + 5000.0 / (steps + 500.0))


def standin_fitness(spec: str, steps: int) -> float:
    """``-ln(ppl)``: strictly increasing in ``steps``."""
    return -math.log(standin_ppl(spec, steps))


@dataclass(frozen=True)
class StandinRunner:
    """Picklable stand-in runner.

    ``fail_quality_below``: specs whose :func:`quality` is below it fail
    (status ``failed``); ``tokens_per_step`` tokens are counted per trained
    step; ``params`` is reported as the parameter count.
    """

    sleep: float = 0.0
    fail_quality_below: float = 0.0
    tokens_per_step: int = 1000
    params: int = 1_000_000
    write_files: bool = True

    def __call__(self, request: TrialRequest) -> TrialResult:
        start = time.monotonic()
        trial_dir = Path(request.trial_dir)
        checkpoint = trial_dir / "checkpoints" / "checkpoint_last.json"
        log_path = trial_dir / "train.log"
        if self.write_files:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if request.resume_from_dir and not checkpoint.exists() and self.write_files:
            previous = Path(request.resume_from_dir) / "checkpoints" / "checkpoint_last.json"
            if not previous.exists():
                return TrialResult(
                    status=TrialStatus.FAILED, error=f"no checkpoint to resume: {previous}"
                )
            if json.loads(previous.read_text())["steps"] != request.start_steps:
                return TrialResult(
                    status=TrialStatus.FAILED, error="previous checkpoint has other steps"
                )
        if self.sleep:
            time.sleep(self.sleep)
        trained = request.steps - request.start_steps
        if quality(request.spec) < self.fail_quality_below:
            result = TrialResult(
                status=TrialStatus.FAILED,
                error="stand-in failure",
                steps_done=request.start_steps,
                tokens=0,
                log_path=str(log_path),
            )
        else:
            ppl = standin_ppl(request.spec, request.steps)
            result = TrialResult(
                status=TrialStatus.OK,
                fitness=-math.log(ppl),
                valid_ppl=ppl,
                test_ppl=ppl * 1.05 if request.final else None,
                params=self.params,
                steps_done=request.steps,
                tokens=trained * self.tokens_per_step,
                log_path=str(log_path),
            )
        result.wall_time = time.monotonic() - start
        if self.write_files:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"attempt": request.attempt, **asdict(result)}) + "\n")
            if result.status == TrialStatus.OK:
                checkpoint.write_text(json.dumps({"steps": request.steps}))
        return result
