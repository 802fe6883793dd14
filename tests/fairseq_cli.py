"""Helpers for tests that run the real fairseq command-line tools."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from evotrans.fairseq_args import command, options
from evotrans.fairseq_tools import find_tool
from evotrans.tasks import TaskConfig

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "fairseq_plugins"
_JSON_LOG = re.compile(r"\| (train_inner|train|valid) \| (\{.*\})\s*$")

#: The task flags of the product's tasks: a language model, German → English translation
#: (the demo corpora's languages).
LM_TASK = TaskConfig(kind="lm", data="-").task_flags()
MT_TASK = TaskConfig(kind="mt", data="-").task_flags()
#: Translation as the model tests train it: shared embeddings, dropout 0.2 / 0.1 / 0.1.
MT_DROPOUT = [
    *MT_TASK,
    *options(share_all_embeddings=True, dropout=0.2, attention_dropout=0.1, activation_dropout=0.1),
]
#: A tiny encoder-decoder: d = 32, 2 heads, FFN 128.
MT_TINY = [
    *options(encoder_embed_dim=32, decoder_embed_dim=32),
    *options(encoder_attention_heads=2, decoder_attention_heads=2),
    *options(encoder_ffn_embed_dim=128, decoder_ffn_embed_dim=128),
]
#: fairseq's own pre-norm ``transformer``, 2 + 2 layers of :data:`MT_TINY`.
NATIVE_PRE_NORM = [
    *options(arch="transformer", encoder_layers=2, decoder_layers=2),
    *options(encoder_normalize_before=True, decoder_normalize_before=True),
    *MT_TINY,
]


def tool(name: str) -> str:
    """Path of a console script of the running environment (fairseq-train, evotrans, …)."""
    found = find_tool(name)
    if found is None:
        raise FileNotFoundError(name)
    return found


def fairseq(
    name: str, data: Path | None, *argv: str, user_dir: Path | None = PLUGIN_DIR, **values: Any
) -> list[str]:
    """``fairseq-NAME DATA --user-dir PLUGIN *argv *options(**values)`` on the CPU
    (``cpu=False``: not; ``user_dir=None``: fairseq without the plugin)."""
    plugin = [] if user_dir is None else ["--user-dir", str(user_dir)]
    return command(tool(f"fairseq-{name}"), data, *plugin, *argv, **{"cpu": True, **values})


def train_args(data: Path | None, *argv: str, **values: Any) -> list[str]:
    """fairseq-train (:func:`fairseq`) with the tests' defaults: adam, data loaded
    in-process, no epoch checkpoints; a keyword overrides one (False leaves it out)."""
    defaults = {"optimizer": "adam", "no_epoch_checkpoints": True, "num_workers": 0}
    return fairseq("train", data, *argv, **{**defaults, **values})


def generate_args(data: Path, checkpoint: Path, **values: Any) -> list[str]:
    """fairseq-generate (:func:`fairseq`) of ``checkpoint`` on ``data``'s test set, scored
    by sacrebleu on detokenized text (the product's BLEU, :func:`evotrans.trial._evaluate`)."""
    defaults = {"max_tokens": 4000, "post_process": "sentencepiece", "scoring": "sacrebleu"}
    return fairseq("generate", data, path=checkpoint, **{**defaults, **values})


def train_log(data: Path, *argv: str, updates: int, **values: Any) -> str:
    """The output of a fairseq-train (:func:`train_args`) that logs every one of its
    ``updates`` as JSON: seed 7, lr 0.001, no validation."""
    every_update = options(disable_validation=True, log_format="json", log_interval=1)
    proc = run(
        train_args(data, *argv, *every_update, max_update=updates, lr=0.001, seed=7, **values)
    )
    return proc.stdout + proc.stderr


def losses(output: str, updates: int) -> list[str]:
    """The loss of each update of a :func:`train_log` output (all ``updates`` of them)."""
    records = json_log(output)
    assert len(records) == updates, f"expected {updates} train_inner records, got {len(records)}"
    return [r["loss"] for r in records]


def assert_same_training(a: str, b: str, updates: int) -> None:
    """Two :func:`train_log` outputs: the same parameter counts, the same loss at each update."""
    assert num_params(a) == num_params(b)
    assert losses(a, updates) == losses(b, updates)


def sorted_parameters(model) -> list:
    """Parameters in a registration-order-free order (genome cells put LayerNorms first)."""
    return sorted(
        (p.detach() for p in model.parameters()),
        key=lambda t: (tuple(t.shape), t.flatten()[:16].tolist()),
    )


def assert_same_parameters(a, b) -> None:
    """The same parameter values, in any registration order."""
    import torch

    pa, pb = sorted_parameters(a), sorted_parameters(b)
    assert [p.shape for p in pa] == [p.shape for p in pb]
    assert all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))


def assert_same_translation_model(a, b) -> None:
    """Two encoder-decoders with the same parameters (any order) and the same outputs, in
    eval and in train mode (the same dropout masks from the same seed)."""
    import torch

    assert_same_parameters(a, b)
    src, prev = torch.randint(4, 200, (2, 9)), torch.randint(4, 200, (2, 6))
    assert_same_outputs(a, b, src, torch.tensor([9, 9]), prev)


def assert_same_outputs(a, b, *inputs) -> None:
    """``a(*inputs)`` and ``b(*inputs)`` give equal outputs in eval and in train mode (the
    same dropout masks from the same seed)."""
    import torch

    for mode in ("eval", "train"):
        getattr(a, mode)(), getattr(b, mode)()
        torch.manual_seed(1)
        out_a = a(*inputs)[0]
        torch.manual_seed(1)
        assert torch.equal(out_a, b(*inputs)[0]), mode


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


def lm_trial(
    base: Path,
    name: str,
    data: Path,
    *,
    spec: str = "sfsf",
    steps: int = 4,
    seed: int = 1,
    final: bool = False,
    env: dict[str, str] | None = None,
    train: dict[str, Any] | None = None,
    **task: Any,
):
    """A first-stage trial (:class:`~evotrans.search.types.TrialRequest`) of order ``spec``
    of the default LM (``sublayer_lm_tiny``) on ``data``, on the CPU, in ``base / name``:
    one thread, a log line every 2 updates, 32-token samples in batches of 8 (``train``:
    more train_args; ``task``: more of the task table; ``final``: also tested)."""
    from evotrans.search.types import TrialRequest

    table = {
        "kind": "lm",
        "data": str(data),
        "threads": 1,
        "log_interval": 2,
        "train_args": {"tokens-per-sample": 32, "batch-size": 8, **(train or {})},
        **task,
    }
    return TrialRequest(
        experiment_dir=str(base),
        trial_id=1,
        individual_id=1,
        spec_kind="order",
        spec=spec,
        stage=0,
        steps=steps,
        resume_from_dir=None,
        trial_dir=str(base / name),
        seed=seed,
        task=table,
        env={"CUDA_VISIBLE_DEVICES": "", **(env or {})},
        final=final,
    )


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
