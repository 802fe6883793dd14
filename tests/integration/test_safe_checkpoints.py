"""Safe checkpoint loading: a checkpoint carrying a pickled payload is refused, by
evotrans' loader and by fairseq's own tools, and the payload never runs.

Crafted checkpoints are a genuine fairseq checkpoint (a few updates of
``sublayer_lm_tiny`` on the demo corpus) with one extra object: an ``os.system``
reduce payload that would create a canary file, an ``OrderedDict`` subclass, a
plain custom class, ``builtins.eval``, ``subprocess.check_call``. Each must be
refused with the one line ``checkpoint X carries a pickled global Y that is not
allow-listed; refusing to load it``; fairseq-train ``--restore-file`` and
fairseq-generate ``--path`` must fail with that line last, and no canary may exist.
"""

from __future__ import annotations

import builtins
import collections
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evotrans.fairseq_args import options
from tests.fairseq_cli import LM_TASK, REPO, fairseq, train_args
from tests.fuzz_support import report

pytestmark = pytest.mark.integration

FORCE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
FIGURES: dict[str, Any] = {"name": "safe-loading", "refused": {}, "canaries": []}


class Payload:
    """Unpickling this runs ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class Call:
    """Unpickling this calls ``function(*args)``."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.function, self.args)


class SneakyDict(collections.OrderedDict):
    """An ``OrderedDict`` subclass: not ``collections.OrderedDict`` itself."""


class Plain:
    def __init__(self) -> None:
        self.x = 1


def _fairseq_like(extra: Any) -> dict[str, Any]:
    """What a fairseq checkpoint holds (cfg, model state, optimizer history), plus ``extra``."""
    import torch

    return {
        "args": None,
        "cfg": {"model": {"_name": "sublayer_lm_tiny"}, "task": {"_name": "language_modeling"}},
        "model": collections.OrderedDict(w=torch.zeros(2)),
        "optimizer_history": [],
        "extra_state": {"evotrans": extra},
        "last_optimizer_state": None,
    }


@dataclass
class Runs:
    """The module's fairseq processes, run in parallel: a genuine training and the two
    tools given a crafted checkpoint."""

    root: Path
    canary: Path
    genuine: Path
    results: dict[str, tuple[int, str, str, float]]  # exit, stdout, stderr, seconds


@pytest.fixture(scope="module")
def runs(demo_lm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    import torch

    root = tmp_path_factory.mktemp("safe")
    canary = root / "pwned"
    FIGURES["canaries"].append(str(canary))
    crafted = root / "crafted.pt"
    torch.save(_fairseq_like(Payload(f"touch {canary}")), crafted)
    train = [*LM_TASK, *options(arch="sublayer_lm_tiny", tokens_per_sample=32, batch_size=4)]
    genuine = options(decoder_sublayer_order="sandwich:2:1", save_dir=root / "genuine")
    restored = options(save_dir=root / "restored", restore_file=crafted)
    commands = {
        "training": train_args(
            demo_lm_bin, *train, *genuine, lr=0.001, max_update=3, disable_validation=True
        ),
        "fairseq-train --restore-file": train_args(
            demo_lm_bin, *train, *restored, lr=0.001, max_update=5
        ),
        "fairseq-generate --path": fairseq(
            "generate", demo_lm_bin, *LM_TASK, path=crafted, batch_size=2, max_len_b=5
        ),
    }
    env = {k: v for k, v in os.environ.items() if k != FORCE}
    started = time.monotonic()
    procs = {
        what: subprocess.Popen(
            args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for what, args in commands.items()
    }
    results = {}
    for what, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[what] = (proc.returncode, stdout, stderr, time.monotonic() - started)
    code, stdout, stderr, _ = results["training"]
    assert code == 0, stderr[-3000:]
    return Runs(root, canary, root / "genuine" / "checkpoint_last.pt", results)


@pytest.fixture(scope="module")
def genuine(runs: Runs) -> Path:
    """A real checkpoint: 3 updates of the tiny sublayer LM, on the CPU."""
    assert runs.genuine.is_file()
    return runs.genuine


def _craft(genuine: Path, where: Path, name: str, extra: Any) -> Path:
    """The genuine checkpoint with ``extra`` stored under ``extra_state["evotrans"]``."""
    import torch

    from fairseq_plugins.checkpoints import load_checkpoint_safely

    state = load_checkpoint_safely(genuine)
    state.setdefault("extra_state", {})["evotrans"] = extra
    path = where / f"{name}.pt"
    torch.save(state, path)
    return path


def _payloads(canary: Path) -> dict[str, tuple[Any, str]]:
    """name -> (object to smuggle in, the global the refusal must name)."""
    FIGURES["canaries"].append(str(canary))
    return {
        "os-system": (Payload(f"touch {canary}"), "posix.system"),
        "eval": (Call(builtins.eval, f"open({str(canary)!r}, 'w')"), "builtins.eval"),
        "check-call": (
            Call(subprocess.check_call, ["touch", str(canary)]),
            "commands.check_call",  # pickle protocol 2 writes Python 2's module name
        ),
        "ordered-dict-subclass": (SneakyDict(w=1), f"{__name__}.SneakyDict"),
        "custom-class": (Plain(), f"{__name__}.Plain"),
    }


def _one_line_refusal(message: str, path: Path, name: str) -> None:
    assert "\n" not in message, message
    assert message == (
        f"checkpoint {path} carries a pickled global {name} that is not allow-listed; "
        "refusing to load it"
    ), message


def test_genuine_checkpoint_loads_with_the_allow_list(genuine: Path):
    from fairseq_plugins.checkpoints import load_checkpoint_safely, unsafe_globals

    assert unsafe_globals(genuine) == []
    state = load_checkpoint_safely(genuine)
    assert state["cfg"]["model"]["_name"] == "sublayer_lm_tiny"
    assert state["cfg"]["model"]["decoder_sublayer_order"] == "ssff"
    FIGURES["genuine_tensors"] = len(state["model"])


def test_crafted_checkpoints_are_refused_in_one_line(genuine: Path, tmp_path: Path):
    from evotrans.errors import EvotransError
    from fairseq_plugins.checkpoints import UnsafeCheckpointError, load_checkpoint_safely

    canary = tmp_path / "pwned"
    for name, (extra, global_name) in _payloads(canary).items():
        path = _craft(genuine, tmp_path, name, extra)
        with pytest.raises(UnsafeCheckpointError) as err:
            load_checkpoint_safely(path)
        assert isinstance(err.value, EvotransError)
        _one_line_refusal(str(err.value), path, global_name)
        FIGURES["refused"][name] = global_name
    assert not canary.exists()


def test_fairseq_loader_refuses_even_when_torch_is_told_not_to(
    genuine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """fairseq's ``load_checkpoint_to_cpu`` calls ``torch.load`` without ``weights_only``:
    with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` set that would unpickle anything. The
    plugin's static check refuses first."""
    from fairseq import checkpoint_utils

    import fairseq_plugins  # noqa: F401  (installs the check)
    from fairseq_plugins.checkpoints import UnsafeCheckpointError

    canary = tmp_path / "pwned"
    FIGURES["canaries"].append(str(canary))
    path = _craft(genuine, tmp_path, "forced", Payload(f"touch {canary}"))
    monkeypatch.setenv(FORCE, "1")
    with pytest.raises(UnsafeCheckpointError) as err:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    _one_line_refusal(str(err.value), path, "posix.system")
    assert not canary.exists()
    monkeypatch.delenv(FORCE)
    assert checkpoint_utils.load_checkpoint_to_cpu(str(genuine))["cfg"] is not None


def test_fairseq_tools_refuse_a_crafted_checkpoint(runs: Runs):
    for what in ("fairseq-train --restore-file", "fairseq-generate --path"):
        code, stdout, stderr, seconds = runs.results[what]
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        assert code != 0, (what, stdout[-2000:])
        assert "posix.system" in last and "refusing to load it" in last, (what, last)
        FIGURES.setdefault("fairseq_tools", {})[what] = {
            "exit": code,
            "last_line": re.sub(r"/\S+/", ".../", last),
            "seconds": round(seconds, 1),
        }
    assert not runs.canary.exists()
    assert not (runs.root / "restored" / "checkpoint_last.pt").exists()


def test_nothing_switches_weights_only_off():
    """No code or config file of the repository sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
    (docs may name it, code may check that it is unset); this module sets it on purpose,
    in-process, to show the plugin refuses even then."""
    setting = re.compile(
        r"""(export\s+|env\s+|\[\s*['"]|setenv\(\s*['"]|['"]\s*)?"""
        + FORCE
        + r"""(['"]?\s*\]?\s*[:=,])"""
    )
    skip = {".venv", ".git", "data", "runs", ".pytest_cache", ".hypothesis", "node_modules"}
    code = {".py", ".sh", ".bash", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".json", ".txt"}
    offenders = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        for name in files:
            path = Path(root, name)
            is_code = path.suffix in code or name in ("Makefile", "Dockerfile", ".envrc")
            if path == Path(__file__) or not (is_code or name.startswith(".env")):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            offenders += [f"{path}:{m.group(0)}" for m in setting.finditer(text)]
    assert not offenders, offenders
    assert FORCE not in os.environ


@pytest.fixture(scope="module", autouse=True)
def _figures(request: pytest.FixtureRequest):
    yield
    FIGURES["payloads_run"] = sum(Path(c).exists() for c in FIGURES.pop("canaries"))
    refused = FIGURES["refused"]
    tools = FIGURES.get("fairseq_tools", {})
    line = (
        f"safe-loading: {len(refused)} crafted checkpoints refused in-process "
        f"({', '.join(sorted(set(refused.values())))}), {len(tools)} fairseq tools refused "
        f"the os.system payload (exit {', '.join(str(t['exit']) for t in tools.values())}), "
        f"{FIGURES['payloads_run']} payloads run; genuine checkpoint: "
        f"{FIGURES.get('genuine_tensors', '?')} tensors loaded with weights_only"
    )
    report(FIGURES, request.config, line)
