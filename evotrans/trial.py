"""Run one trial: a real ``fairseq-train`` in its own directory, then evaluation.

A trial trains an individual to a cumulative step target. A trial of a later
PDH stage continues from the previous stage's ``checkpoint_last.pt`` (the
update counter, optimizer and LR schedule continue; nothing restarts). A trial
that was interrupted (driver killed, Slurm preemption) resumes from its own
``checkpoint_last.pt``. The outcome is one of ok / failed / diverged / timeout /
oom, never an exception: a failed trial must not stop an experiment. The one
exception is a training or evaluation process killed by a signal from outside
(:data:`OUTSIDE_SIGNALS`: the scheduler's SIGTERM or SIGKILL, the out-of-memory
killer): that is no result of the trial, so :func:`run_trial` raises
:class:`~evotrans.launch.errors.TrialKilled` (a lost worker: retried within
``max_retries``; under Slurm the job requeues). A final-stage trial whose evaluation
fails otherwise is ``failed`` ("evaluation failed: ..."), never ok without its score.

Before training, the checkpoints a trial continues from are checked
(:mod:`evotrans.checkpoint_files`): its own ``checkpoint_last.pt`` cut short
(a kill or a full disk while fairseq copied it) is moved aside and the trial
starts again from where it started (the previous stage's checkpoint, or
scratch); a previous stage's checkpoint that is missing or damaged makes the
trial ``failed`` ("cannot continue from the previous stage: checkpoint ... is
truncated ..."), since retraining that stage would change the experiment's
budget. A trial whose log shows its checkpoint already saved at the target
(the driver died after fairseq finished) is not trained again: fairseq would
run one extra update past ``--max-update`` when restarted at it.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from evotrans import chaos, checkpoint_files, forkserver, metrics, processes
from evotrans.fairseq_tools import find_tool, plugin_dir, python_for
from evotrans.launch.errors import TrialKilled
from evotrans.search.types import TrialRequest, TrialResult, TrialStatus
from evotrans.tasks import TaskConfig, flags, spec_flags

LOG_TAIL_LINES = 20
LOW_DISK_BYTES = 1 << 20  # a failed trial with less free space than this: "disk full"
_SAVED = re.compile(r"Saved checkpoint \S+ \(epoch \d+ @ (\d+) updates")
_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")
#: Signals that come from outside the trial (a scheduler, an operator, the out-of-memory
#: killer, submitit's preemption signal), not from a fault of its own (SIGSEGV, SIGABRT, ...).
OUTSIDE_SIGNALS = frozenset(
    {
        signal.SIGTERM,
        signal.SIGKILL,
        signal.SIGINT,
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGXCPU,
    }
)


def fairseq_tool(name: str, bin_dir: str | None = None) -> str:
    """A fairseq console script of the running environment, or of ``bin_dir`` (``[task]
    fairseq_bin``: another environment's); a missing one fails the trial when it is run,
    with the name in its log."""
    if bin_dir is not None:
        return str(Path(bin_dir) / name)
    return find_tool(name) or name


def train_command(request: TrialRequest, task: TaskConfig, save_dir: Path) -> list[str]:
    """The fairseq-train argument list of a trial (resume logic included)."""
    cmd = [
        fairseq_tool("fairseq-train", task.fairseq_bin),
        task.data,
        "--user-dir",
        str(plugin_dir()),
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
    refused = _check_checkpoints(request, save_dir, log_path)
    if refused is not None:
        return _done(refused, trial_dir, start)
    offset = log_path.stat().st_size if log_path.exists() else 0
    if _already_trained(request, save_dir, log_path):
        status, returncode = "done", 0
    else:
        cmd = train_command(request, task, save_dir)
        (trial_dir / "command.json").write_text(json.dumps(cmd, indent=1))
        status, returncode = _run_logged(cmd, log_path, trial_dir, request, task)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    attempt_text = text[offset:]  # this attempt's output: what its failure is judged by
    log = metrics.parse_train_log(text.splitlines())
    result = TrialResult(
        status=TrialStatus.OK,
        params=log.params,
        steps_done=log.num_updates,
        tokens=log.tokens(start=request.start_steps),
        log_path=str(log_path),
    )
    valid_ppl = log.valid_ppl()
    if status == "timeout":
        result.status, result.error = TrialStatus.TIMEOUT, f"timed out after {task.timeout_s:g} s"
    elif (
        log.has_nonfinite_loss()
        or metrics.looks_diverged(attempt_text)
        or (valid_ppl is not None and valid_ppl != valid_ppl)
    ):
        result.status, result.error = TrialStatus.DIVERGED, "loss became NaN or inf"
    elif returncode != 0:
        killed = killed_from_outside(returncode, attempt_text)
        if killed is not None:
            _note(log_path, f"fairseq-train {killed}: not a result; the trial runs again")
            raise TrialKilled(f"fairseq-train {killed}")
        result.status, reason = classify_exit(returncode, attempt_text, _free_bytes(trial_dir))
        result.error = reason + "\n" + _tail(attempt_text)
    elif valid_ppl is None:
        result.status, result.error = (
            TrialStatus.FAILED,
            "no validation result in the log\n" + _tail(text),
        )
    if result.status == TrialStatus.OK:
        result.valid_ppl = valid_ppl
        result.fitness = metrics.fitness_from_ppl(valid_ppl)
        if request.final:
            _evaluate(request, task, save_dir / "checkpoint_last.pt", trial_dir, result)
    return _done(result, trial_dir, start)


def _done(result: TrialResult, trial_dir: Path, start: float) -> TrialResult:
    result.wall_time = time.monotonic() - start
    (trial_dir / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def killed_from_outside(returncode: int, text: str) -> str | None:
    """How a process that exited with ``returncode`` was killed from outside (one of
    :data:`OUTSIDE_SIGNALS`, its log ``text`` showing no out-of-memory error of its own),
    or None: it exited, or crashed by itself."""
    if returncode >= 0 or -returncode not in OUTSIDE_SIGNALS or metrics.looks_out_of_memory(text):
        return None
    how = f"killed by signal {_signal_name(-returncode)}"
    if returncode == -signal.SIGKILL:
        return f"{how} (by the scheduler, an operator or the kernel's out-of-memory killer)"
    return f"{how} (by the scheduler or an operator)"


def classify_exit(
    returncode: int, text: str, free_bytes: int | None = None
) -> tuple[TrialStatus, str]:
    """(status, reason) of a fairseq-train that exited with ``returncode`` (not 0); a
    full disk is seen in the log or, when not even the log could be written, in
    ``free_bytes`` (space left where the trial writes)."""
    how = f"exit code {returncode}"
    if returncode < 0:
        how = f"killed by signal {_signal_name(-returncode)}"
    if metrics.looks_out_of_memory(text):
        return TrialStatus.OOM, f"out of memory ({how})"
    full = next((m for m in _DISK_FULL if m in text), None)
    if full is None and free_bytes is not None and free_bytes < LOW_DISK_BYTES:
        full = f"{free_bytes // 1024} KiB left"
    if full is not None:
        return TrialStatus.FAILED, f"disk full while writing ({full}; {how})"
    if returncode == -signal.SIGKILL:
        return TrialStatus.OOM, f"{how} (most likely the kernel's out-of-memory killer)"
    if returncode < 0:
        return TrialStatus.FAILED, f"crashed: {how}"
    return TrialStatus.FAILED, how


def _free_bytes(path: Path) -> int | None:
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def _check_checkpoints(request: TrialRequest, save_dir: Path, log_path: Path) -> TrialResult | None:
    """Move a damaged own checkpoint aside (the trial starts again); a failed result
    when the previous stage's checkpoint, which this trial continues from, is unusable."""
    own = save_dir / "checkpoint_last.pt"
    if own.exists():
        problem = checkpoint_files.problem(own)
        if problem is None:
            return None
        aside = checkpoint_files.move_aside(own, f"attempt{request.attempt}")
        origin = "the previous stage's checkpoint" if request.resume_from_dir else "scratch"
        _note(log_path, f"{own} is {problem}: moved to {aside.name}; starting from {origin}")
    if not request.resume_from_dir:
        return None
    previous = Path(request.resume_from_dir) / "checkpoints" / "checkpoint_last.pt"
    problem = "missing" if not previous.exists() else checkpoint_files.problem(previous)
    if problem is None:
        return None
    error = f"cannot continue from the previous stage: checkpoint {previous} is {problem}"
    _note(log_path, error)
    return TrialResult(status=TrialStatus.FAILED, error=error, log_path=str(log_path))


def _already_trained(request: TrialRequest, save_dir: Path, log_path: Path) -> bool:
    """The last checkpoint this trial's log says it saved is at the target (and is there)."""
    if not (save_dir / "checkpoint_last.pt").exists() or not log_path.exists():
        return False
    with open(log_path, encoding="utf-8", errors="replace") as f:
        saved = _SAVED.findall(f.read())
    if not saved or int(saved[-1]) < request.steps:
        return False
    _note(log_path, f"checkpoint_last.pt is already at {saved[-1]} updates: not trained again")
    return True


def _note(log_path: Path, text: str) -> None:
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"# evotrans: {text}\n")


def stop_stale_trial(trial_dir: str | Path) -> None:
    """Stop the fairseq-train a dead driver left running for a trial (launchers' ``cleanup``)."""
    _kill_stale_process(Path(trial_dir))


def _apply_limits(pid: int, task: TaskConfig, env: Mapping[str, str]) -> None:
    """Resource limits of a started trial process (Linux ``prlimit``): ``task.memory_limit_mb``
    caps its memory (``RLIMIT_DATA``: heap and anonymous mappings, not shared libraries);
    ``EVOTRANS_CHAOS_TRIAL_FSIZE`` its file sizes (fault injection: a full disk)."""
    limits = []
    if task.memory_limit_mb:
        limits.append((resource.RLIMIT_DATA, task.memory_limit_mb * 2**20))
    fsize = chaos.trial_file_size_limit(dict(env))
    if fsize:
        limits.append((resource.RLIMIT_FSIZE, fsize))
    prlimit = getattr(resource, "prlimit", None)
    for kind, value in limits:
        if prlimit is None:
            return
        try:
            prlimit(pid, kind, (value, value))
        except (OSError, ValueError):  # the process is already gone
            pass


def _trial_env(request: TrialRequest, task: TaskConfig) -> dict[str, str]:
    """The environment of a trial's processes: ours, the launcher's (GPU), the thread count."""
    env = {**os.environ, **request.env}
    if task.threads:
        env["OMP_NUM_THREADS"] = str(task.threads)
    return env


def _run_logged(cmd, log_path: Path, trial_dir: Path, request: TrialRequest, task: TaskConfig):
    env = _trial_env(request, task)
    pid_file = trial_dir / "pid"
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"# evotrans trial {request.trial_id}: {' '.join(cmd)}\n")
        log.flush()
        proc = _start(cmd, env, log, log_path, task=task, pid_file=pid_file)
        try:
            return _wait(proc, task.timeout_s)
        finally:
            pid_file.unlink(missing_ok=True)


def _wait(proc, timeout: float) -> tuple[str, int]:
    """("done", exit code), or ("timeout", code) after killing the process group."""
    try:
        return "done", proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        processes.kill_group(proc.pid)
        proc.wait()
        return "timeout", proc.returncode


def _start(cmd: list[str], env: dict[str, str], log, log_path: Path, *, task, pid_file: Path):
    """fairseq-train in its own session, its pid file written and its limits
    (``memory_limit_mb``) set before it runs: forked from the warm fork server (which
    writes the pid file before it answers), or cold. GPU trials start cold: a process
    forked after CUDA was touched cannot use it, and the fork server's imports have not
    been checked on a GPU machine yet."""
    if task.warm_start and "--cpu" in cmd:
        try:
            proc = forkserver.start_fairseq(
                cmd, env, log_path, pid_file, python=python_for(task.fairseq_bin)
            )
        except forkserver.ForkServerError as err:
            log.write(f"# evotrans: warm start unavailable ({err}); starting cold\n")
            log.flush()
        else:
            _apply_limits(proc.pid, task, env)
            return proc
    return _start_cold(cmd, env, log, task=task, pid_file=pid_file)


def _start_cold(cmd: list[str], env: dict[str, str], log, *, task, pid_file: Path):
    """A new process behind a gate: its pid file and limits are in place before it
    executes ``cmd`` (the gate opens only after both)."""

    def before_run(pid: int) -> None:
        chaos.point("spawned")
        pid_file.write_text(processes.pid_record(pid))
        _apply_limits(pid, task, env)  # memory_limit_mb (and fault injection)

    return processes.start_gated(cmd, env, log, before_run)


def _kill_stale_process(trial_dir: Path) -> None:
    """A driver killed with SIGKILL leaves its fairseq-train running: stop it
    before this trial is started again (it resumes from its checkpoint)."""
    processes.kill_recorded(trial_dir / "pid", marker=str(trial_dir))


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


def _evaluate(
    request: TrialRequest, task: TaskConfig, checkpoint: Path, trial_dir: Path, result: TrialResult
) -> None:
    """Test-set perplexity (LM) or detokenized sacreBLEU (MT) of the final model. An
    evaluation killed from outside raises :class:`TrialKilled`; one that fails otherwise
    makes the trial ``failed`` with the reason (its validation result kept)."""
    common = [task.data, "--user-dir", str(plugin_dir()), "--path", str(checkpoint)]
    if not os.environ.get("CUDA_VISIBLE_DEVICES") and not request.env.get("CUDA_VISIBLE_DEVICES"):
        common.append("--cpu")
    if task.kind == "lm":
        tokens = str(task.train_args.get("tokens-per-sample", 64))
        cmd = [
            fairseq_tool("fairseq-eval-lm", task.fairseq_bin),
            *common,
            "--gen-subset",
            "test",
            "--tokens-per-sample",
            tokens,
            "--max-sentences",
            "16",
            *flags(task.eval_args),
        ]
        out = _capture_checked(cmd, trial_dir / "eval.log", request, task, result)
        if out is None:
            return
        result.test_ppl = metrics.parse_eval_lm(out)
        if result.test_ppl is None:
            _eval_failed(result, "fairseq-eval-lm gave no perplexity (see eval.log)", out)
        return
    cmd = [
        fairseq_tool("fairseq-generate", task.fairseq_bin),
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
    out = _capture_checked(cmd, trial_dir / "generate.log", request, task, result)
    if out is None:
        return
    hyps, refs = metrics.parse_generate(out)
    if not refs:
        _eval_failed(result, "fairseq-generate gave no translations (see generate.log)", out)
        return
    result.bleu, result.bleu_signature = metrics.sacrebleu_score(hyps, refs)


def _eval_failed(result: TrialResult, reason: str, output: str) -> None:
    """A final-stage trial without its test score: ``failed``, never ok without it."""
    result.status = TrialStatus.FAILED
    result.error = f"evaluation failed: {reason}\n{_tail(output)}".rstrip()


def _capture_checked(
    cmd: list[str], log_path: Path, request: TrialRequest, task: TaskConfig, result: TrialResult
) -> str | None:
    """An evaluation tool's output; None (and ``result`` failed) when it failed by itself;
    :class:`TrialKilled` when it was killed from outside."""
    tool = Path(cmd[0]).name
    status, code, out = _capture(cmd, log_path, request, task)
    if status == "timeout":
        _eval_failed(result, f"{tool} timed out after {task.timeout_s:g} s", out)
        return None
    if code == 0:
        return out
    killed = killed_from_outside(code, out)
    if killed is not None:
        _note(log_path.with_name("train.log"), f"{tool} {killed}: not a result; evaluated again")
        raise TrialKilled(f"{tool} {killed}")
    how = f"killed by signal {_signal_name(-code)}" if code < 0 else f"exit code {code}"
    _eval_failed(result, f"{tool} failed ({how}; see {log_path.name})", out)
    return None


def _capture(
    cmd: list[str], log_path: Path, request: TrialRequest, task: TaskConfig
) -> tuple[str, int, str]:
    """Run an evaluation tool: ("done" or "timeout", its exit code, its output, also kept in
    ``log_path``). Cold runs keep stdout and stderr apart (a block-buffered stdout could be
    cut mid-line by stderr in one file); a warm child writes both line by line to ``log_path``."""
    env = _trial_env(request, task)
    if task.warm_start and "--cpu" in cmd:
        log_path.unlink(missing_ok=True)
        try:
            proc = forkserver.start_fairseq(cmd, env, log_path, python=python_for(task.fairseq_bin))
        except forkserver.ForkServerError:
            pass
        else:
            status, code = _wait(proc, task.timeout_s)
            out = log_path.read_text(errors="replace") if log_path.exists() else ""
            return status, code, out
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=task.timeout_s, env=env)
    except subprocess.TimeoutExpired:
        log_path.write_text("timed out\n")
        return "timeout", -signal.SIGKILL, "timed out"
    log_path.write_text(proc.stdout + proc.stderr)
    return "done", proc.returncode, proc.stdout + proc.stderr
