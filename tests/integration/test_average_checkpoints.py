"""`evotrans average-checkpoints` on real fairseq checkpoints.

One tiny translation training (``sublayer_transformer_tiny`` on the demo corpus, 6 updates,
an update checkpoint every 2: ``checkpoint_1_2.pt``, ``_1_4``, ``_1_6``), then: every averaged
tensor is the mean of the inputs', the rest of the dict is the first (newest) checkpoint's,
tied embeddings stay tied, fairseq-generate translates with the result; epoch checkpoints
(``checkpointE.pt``) are picked by number, not by name; bad inputs are one line, exit 2,
and leave nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from evotrans.fairseq_args import options
from tests.fairseq_cli import MT_TASK, fairseq, run, tool, train_args

pytestmark = pytest.mark.integration

UPDATES = (2, 4, 6)


class Payload:
    """Unpickling this runs ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


@pytest.fixture(scope="module")
def save_dir(demo_mt_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    save = tmp_path_factory.mktemp("avg") / "ck"
    model = options(arch="sublayer_transformer_tiny", share_all_embeddings=True)
    batches = options(max_tokens=1000, max_update=UPDATES[-1], lr=0.003, disable_validation=True)
    every_2 = options(save_interval_updates=2, keep_interval_updates=5, no_epoch_checkpoints=False)
    argv = train_args(demo_mt_bin, *MT_TASK, *model, *batches, *every_2, save_dir=save)
    train = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    import fairseq_plugins.average  # noqa: F401  (the slow imports, while fairseq-train runs)

    log, _ = train.communicate()
    assert train.returncode == 0, log[-3000:]
    names = {p.name for p in save.iterdir()}
    assert {f"checkpoint_1_{u}.pt" for u in UPDATES} <= names, names
    return save


def _load(path: Path) -> dict[str, Any]:
    from fairseq_plugins.checkpoints import load_checkpoint_safely

    return load_checkpoint_safely(path)


def _assert_mean(avg: dict[str, Any], inputs: list[Path]) -> None:
    """Every tensor of avg["model"] is the mean of the inputs' (in their dtype)."""
    import torch

    states = [_load(p)["model"] for p in inputs]
    model = avg["model"]
    assert list(model) == list(states[0])
    for key, value in model.items():
        assert value.dtype == states[0][key].dtype, key
        assert value.shape == states[0][key].shape, key
        mean = sum(s[key].double() for s in states) / len(states)
        assert torch.allclose(value.double(), mean, rtol=1e-6, atol=1e-7), key
    # the inputs differ (training moved them): the average is none of them
    key = "decoder.layers.0.self_attn.k_proj.weight"
    assert not torch.equal(states[0][key], states[-1][key])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from evotrans.cli import main

    code = main(["average-checkpoints", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("evotrans: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_last_update_checkpoints_average_to_the_mean_and_translate(
    save_dir: Path, demo_mt_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avg_path = tmp_path / "avg.pt"
    code, stdout, err = _cli(
        capsys,
        "--inputs",
        str(save_dir),
        "--num-update-checkpoints",
        "2",
        "--output",
        str(avg_path),
    )
    assert code == 0, err
    newest = [save_dir / "checkpoint_1_6.pt", save_dir / "checkpoint_1_4.pt"]
    assert stdout.splitlines() == [
        "averaged 2 checkpoints:",
        *(f"  {p}" for p in newest),
        f"wrote {avg_path}",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["avg.pt"]  # no temporary left

    generate = subprocess.Popen(  # runs while the averaged tensors are checked
        fairseq(
            "generate",
            demo_mt_bin,
            *MT_TASK,
            # generate's shards: the first batch of 4 of the 1000 test sentences
            *options(distributed_world_size=250, distributed_rank=0, batch_size=4),
            *options(beam=2, max_len_a=0, max_len_b=8),
            path=avg_path,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    try:
        avg = _load(avg_path)
        _assert_mean(avg, newest)
        first = _load(newest[0])
        assert set(avg) == set(first)
        for key in ("cfg", "extra_state", "optimizer_history"):
            assert avg[key] == first[key], key  # the rest: the first (newest) checkpoint's
        model = avg["model"]  # --share-all-embeddings: one tensor, three names, as trained
        tied = {
            model[k].data_ptr()
            for k in (
                "encoder.embed_tokens.weight",
                "decoder.embed_tokens.weight",
                "decoder.output_projection.weight",
            )
        }
        assert len(tied) == 1
    finally:
        stdout, stderr = generate.communicate()
    assert generate.returncode == 0, stderr[-3000:]
    hyps = [line for line in stdout.splitlines() if line.startswith("H-")]
    assert 0 < len(hyps) <= 4, stdout[-2000:]
    assert re.search(r"BLEU4? = [\d.]+", stdout + stderr)


def test_explicit_files_and_epoch_checkpoints_by_number(
    save_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [save_dir / f"checkpoint_1_{u}.pt" for u in UPDATES]
    out = tmp_path / "avg3.pt"
    code, _, err = _cli(capsys, "--inputs", *map(str, files), "--output", str(out))
    assert code == 0, err
    _assert_mean(_load(out), files)

    # epoch checkpoints: checkpoint10.pt is newer than checkpoint9.pt (numbers, not names);
    # checkpoint_best/_last and the update checkpoints are no epoch checkpoints
    epochs = tmp_path / "epochs"
    epochs.mkdir()
    for number, source in zip((2, 9, 10), files, strict=True):
        os.link(source, epochs / f"checkpoint{number}.pt")
    os.link(files[0], epochs / "checkpoint_last.pt")
    os.link(files[0], epochs / "checkpoint_best.pt")
    os.link(files[0], epochs / "checkpoint_1_99.pt")
    out = tmp_path / "epochs2.pt"
    code, stdout, err = _cli(
        capsys, "--inputs", str(epochs), "--num-epoch-checkpoints", "2", "--output", str(out)
    )
    assert code == 0, err
    assert [line.strip() for line in stdout.splitlines()[1:3]] == [
        str(epochs / "checkpoint10.pt"),
        str(epochs / "checkpoint9.pt"),
    ]
    _assert_mean(_load(out), [files[2], files[1]])

    code, stdout, err = _cli(
        capsys,
        "--inputs",
        str(epochs),
        "--num-epoch-checkpoints",
        "2",
        "--checkpoint-upper-bound",
        "9",
        "--output",
        str(out),  # replaced in place
    )
    assert code == 0, err
    _assert_mean(_load(out), [files[1], files[0]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["avg3.pt", "epochs", "epochs2.pt"]


def test_bad_inputs_are_one_line_and_write_nothing(
    save_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    out = tmp_path / "avg.pt"
    a, b = save_dir / "checkpoint_1_4.pt", save_dir / "checkpoint_1_6.pt"

    # a real process: the path checks answer before torch is imported
    proc = run(
        [
            tool("evotrans"),
            "average-checkpoints",
            "--inputs",
            str(save_dir),
            "--num-update-checkpoints",
            "5",
            "--output",
            str(out),
        ],
        check=False,
    )
    _one_line_error(proc.returncode, proc.stderr, "found 3 update checkpoints", "need 5")
    assert proc.stdout == ""

    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _cli(
        capsys, "--inputs", str(empty), "--num-epoch-checkpoints", "1", "--output", str(out)
    )
    _one_line_error(code, err, "no epoch checkpoints (checkpointE.pt)", str(empty))
    code, _, err = _cli(
        capsys,
        "--inputs",
        str(save_dir),
        "--num-update-checkpoints",
        "2",
        "--checkpoint-upper-bound",
        "3",
        "--output",
        str(out),
    )
    _one_line_error(code, err, "found 1 update checkpoint ", "at most 3", "need 2")
    code, _, err = _cli(capsys, "--inputs", str(save_dir), "--output", str(out))
    _one_line_error(code, err, "is a directory", "--num-update-checkpoints")
    code, _, err = _cli(capsys, "--inputs", str(a), str(tmp_path / "nope.pt"), "--output", str(out))
    _one_line_error(code, err, "nope.pt: not found")
    code, _, err = _cli(
        capsys, "--inputs", str(a), "--checkpoint-upper-bound", "4", "--output", str(out)
    )
    _one_line_error(code, err, "--checkpoint-upper-bound needs")
    code, _, err = _cli(
        capsys, "--inputs", str(a), str(b), "--output", str(tmp_path / "missing" / "avg.pt")
    )
    _one_line_error(code, err, "output directory", "missing", "does not exist")
    with pytest.raises(SystemExit) as exit_info:  # argparse's own: one line, status 2
        _cli(capsys, "--inputs", str(save_dir), "--num-update-checkpoints", "0", "--output", "x")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--num-update-checkpoints: must be a positive integer, got '0'" in err

    # checkpoints of different models: the parameter and both files are named
    state = _load(b)
    model = state["model"]
    renamed = dict(model)
    renamed["decoder.layers.0.self_attn.k9_proj.weight"] = renamed.pop(
        "decoder.layers.0.self_attn.k_proj.weight"
    )
    torch.save({**state, "model": renamed}, tmp_path / "renamed.pt")
    code, _, err = _cli(
        capsys, "--inputs", str(a), str(tmp_path / "renamed.pt"), "--output", str(out)
    )
    _one_line_error(code, err, "decoder.layers.0.self_attn.k_proj.weight", str(a), "renamed.pt")
    narrow = dict(model)
    narrow["decoder.layers.0.self_attn.k_proj.weight"] = model[
        "decoder.layers.0.self_attn.k_proj.weight"
    ][:, :3].clone()
    torch.save({**state, "model": narrow}, tmp_path / "narrow.pt")
    code, _, err = _cli(
        capsys, "--inputs", str(a), str(tmp_path / "narrow.pt"), "--output", str(out)
    )
    _one_line_error(
        code, err, "decoder.layers.0.self_attn.k_proj.weight", "shape", str(a), "narrow.pt"
    )

    # unsafe and damaged checkpoints: the safe loader's line, and the payload never runs
    canary = tmp_path / "canary"
    torch.save({**state, "extra": Payload(f"touch {canary}")}, tmp_path / "evil.pt")
    code, _, err = _cli(capsys, "--inputs", str(a), str(tmp_path / "evil.pt"), "--output", str(out))
    _one_line_error(code, err, "evil.pt", "system", "not allow-listed")
    assert not canary.exists()
    data = b.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    code, _, err = _cli(capsys, "--inputs", str(a), str(tmp_path / "cut.pt"), "--output", str(out))
    _one_line_error(code, err, "cut.pt", "cannot be read")
    (tmp_path / "plain.pt").unlink(missing_ok=True)
    torch.save(
        {"weights": model["decoder.layers.0.self_attn.k_proj.weight"]}, tmp_path / "plain.pt"
    )
    code, _, err = _cli(
        capsys, "--inputs", str(a), str(tmp_path / "plain.pt"), "--output", str(out)
    )
    _one_line_error(code, err, "plain.pt", "no 'model' state dict")

    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cut.pt",
        "empty",
        "evil.pt",
        "narrow.pt",
        "plain.pt",
        "renamed.pt",
    ]
    shutil.rmtree(empty)
