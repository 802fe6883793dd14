"""Run one trial: a real ``fairseq-train`` in its own directory, then evaluation.

A trial trains an individual to a cumulative step target. A trial of a later
PDH stage continues from the previous stage's ``checkpoint_last.pt`` (the
update counter, optimizer and LR schedule continue; nothing restarts). A trial
that was interrupted (driver killed, Slurm preemption) resumes from its own
``checkpoint_last.pt``. The outcome is one of ok / failed / diverged / timeout /
oom, never an exception: a failed trial must not stop an experiment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from evotrans import metrics
from evotrans.search.types import TrialRequest, TrialResult
from evotrans.tasks import TaskConfig, flags, spec_flags

LOG_TAIL_LINES = 20


def fairseq_tool(name: str) -> str:
    """A fairseq console script of the running environment (next to this Python)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def plugin_dir() -> str:
    return str(Path(__file__).resolve().parents[1] / "fairseq_plugins")


def train_command(request: TrialRequest, task: TaskConfig, save_dir: Path) -> list[str]:
    """The fairseq-train argument list of a trial (resume logic included)."""
    cmd = [
        fairseq_tool("fairseq-train"),
        task.data,
        "--user-dir",
        plugin_dir(),
        *task.task_flags(),
        "--arch",
        task.arch_for(request.spec_kind),
        *spec_flags(task.kind, request.spec_kind, request.spec),
        *task.train_flags(),
        "--max-update",
        str(request.steps),
        "--seed",
        str(request.seed),
        "--save-dir",
        str(save_dir),
        "--no-epoch-checkpoints",
        "--log-format",
        "json",
        "--log-interval",
        str(task.log_interval),
        "--num-workers",
        "0",
    ]
    if not os.environ.get("CUDA_VISIBLE_DEVICES") and not request.env.get("CUDA_VISIBLE_DEVICES"):
        cmd.append("--cpu")
    own_last = save_dir / "checkpoint_last.pt"
    if not own_last.exists() and request.resume_from_dir:
        previous = Path(request.resume_from_dir) / "checkpoints" / "checkpoint_last.pt"
        cmd += ["--restore-file", str(previous)]
    return cmd


def run_trial(request: TrialRequest) -> TrialResult:
    """Train (and, at the last stage, test) one individual; never raises for trial failures."""
    start = time.monotonic()
    trial_dir = Path(request.trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    task = TaskConfig.from_dict(request.task)
    save_dir = trial_dir / "checkpoints"
    log_path = trial_dir / "train.log"
    (trial_dir / "request.json").write_text(json.dumps(asdict(request), indent=2, default=str))
    _kill_stale_process(trial_dir)
    cmd = train_command(request, task, save_dir)
    (trial_dir / "command.json").write_text(json.dumps(cmd, indent=1))
    status, returncode = _run_logged(cmd, log_path, trial_dir, request, task)
    text = log_path.read_text(errors="replace")
    log = metrics.parse_train_log(text.splitlines())
    result = TrialResult(
        status="ok",
        params=log.params,
        steps_done=log.num_updates,
        tokens=log.tokens(),
        log_path=str(log_path),
    )
    valid_ppl = log.valid_ppl()
    if status == "timeout":
        result.status, result.error = "timeout", f"timed out after {task.timeout_s:g} s"
    elif (
        log.has_nonfinite_loss()
        or metrics.looks_diverged(text)
        or (valid_ppl is not None and valid_ppl != valid_ppl)
    ):
        result.status, result.error = "diverged", "loss became NaN or inf"
    elif returncode != 0:
        oom = metrics.looks_out_of_memory(text) or returncode == -signal.SIGKILL
        result.status = "oom" if oom else "failed"
        result.error = f"exit code {returncode}\n" + _tail(text)
    elif valid_ppl is None:
        result.status, result.error = "failed", "no validation result in the log\n" + _tail(text)
    if result.status == "ok":
        result.valid_ppl = valid_ppl
        result.fitness = metrics.fitness_from_ppl(valid_ppl)
        if request.final:
            _evaluate(request, task, save_dir / "checkpoint_last.pt", trial_dir, result)
    result.wall_time = time.monotonic() - start
    (trial_dir / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def _run_logged(cmd, log_path: Path, trial_dir: Path, request: TrialRequest, task: TaskConfig):
    env = dict(os.environ)
    env.update(request.env)
    if task.threads:
        env["OMP_NUM_THREADS"] = str(task.threads)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"# evotrans trial {request.trial_id}: {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        (trial_dir / "pid").write_text(str(proc.pid))
        try:
            return "done", proc.wait(timeout=task.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            return "timeout", proc.returncode
        finally:
            (trial_dir / "pid").unlink(missing_ok=True)


def _kill_stale_process(trial_dir: Path) -> None:
    """A driver killed with SIGKILL leaves its fairseq-train running: stop it
    before this trial is started again (it resumes from its checkpoint)."""
    pid_file = trial_dir / "pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (ValueError, OSError):
        pid_file.unlink(missing_ok=True)
        return
    if str(trial_dir) in cmdline:
        _kill_group(pid)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


def _evaluate(
    request: TrialRequest, task: TaskConfig, checkpoint: Path, trial_dir: Path, result: TrialResult
) -> None:
    """Test-set perplexity (LM) or detokenized sacreBLEU (MT) of the final model."""
    common = [task.data, "--user-dir", plugin_dir(), "--path", str(checkpoint)]
    if not os.environ.get("CUDA_VISIBLE_DEVICES") and not request.env.get("CUDA_VISIBLE_DEVICES"):
        common.append("--cpu")
    if task.kind == "lm":
        tokens = str(task.train_args.get("tokens-per-sample", 64))
        cmd = [
            fairseq_tool("fairseq-eval-lm"),
            *common,
            "--gen-subset",
            "test",
            "--tokens-per-sample",
            tokens,
            "--max-sentences",
            "16",
            *flags(task.eval_args),
        ]
        out = _capture(cmd, trial_dir / "eval.log", task.timeout_s)
        result.test_ppl = metrics.parse_eval_lm(out) if out is not None else None
        if result.test_ppl is None:
            result.error = "fairseq-eval-lm gave no perplexity (see eval.log)"
        return
    cmd = [
        fairseq_tool("fairseq-generate"),
        *common,
        "--gen-subset",
        "test",
        "--source-lang",
        task.source_lang,
        "--target-lang",
        task.target_lang,
        "--beam",
        str(task.beam),
        "--max-tokens",
        "4000",
        "--post-process",
        "sentencepiece",
        *flags(task.eval_args),
    ]
    out = _capture(cmd, trial_dir / "generate.log", task.timeout_s)
    if out is None:
        result.error = "fairseq-generate failed (see generate.log)"
        return
    hyps, refs = metrics.parse_generate(out)
    if refs:
        result.bleu, result.bleu_signature = metrics.sacrebleu_score(hyps, refs)


def _capture(cmd: list[str], log_path: Path, timeout: float) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log_path.write_text("timed out\n")
        return None
    log_path.write_text(proc.stdout + proc.stderr)
    return proc.stdout + proc.stderr if proc.returncode == 0 else None
