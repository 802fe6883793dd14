"""``[task] fairseq_bin``: trials run another environment's fairseq tools (no torch here)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from evotrans import forkserver
from evotrans.errors import EvotransError
from evotrans.fairseq_tools import TRIAL_TOOLS, check_fairseq_bin, plugin_dir, python_for, tool
from evotrans.search.types import TrialRequest
from evotrans.tasks import TaskConfig
from evotrans.trial import train_command


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _bin(tmp_path: Path, tools: tuple[str, ...] = TRIAL_TOOLS) -> Path:
    """A fake environment's bin/ holding ``tools`` (scripts that exit 1)."""
    bin_dir = tmp_path / "env" / "bin"
    bin_dir.mkdir(parents=True)
    for name in tools:
        _script(bin_dir / name, "#!/bin/sh\nexit 1\n")
    return bin_dir


def test_a_bin_dir_with_the_tools_is_made_absolute_relative_to_the_config(tmp_path):
    bin_dir = _bin(tmp_path)
    task = TaskConfig.from_dict({"kind": "lm", "data": "d", "fairseq_bin": "env/bin"})
    resolved = task.resolved(tmp_path)
    assert resolved.fairseq_bin == str(bin_dir)
    default = TaskConfig.from_dict({"kind": "lm", "data": "d"}).resolved(tmp_path)
    assert default.fairseq_bin is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "task.fairseq_bin: must be a directory path (a string)"),
        ("", "task.fairseq_bin: must be a directory path (a string)"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_key(value, message):
    with pytest.raises(EvotransError) as err:
        TaskConfig.from_dict({"kind": "lm", "data": "d", "fairseq_bin": value})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_bin_dir_without_the_tools_is_a_one_line_error(tmp_path):
    _bin(tmp_path, tools=("fairseq-train",))
    task = TaskConfig.from_dict({"kind": "lm", "data": "d", "fairseq_bin": "env/bin"})
    with pytest.raises(EvotransError) as err:
        task.resolved(tmp_path)
    text = str(err.value)
    assert text.startswith("task.fairseq_bin: ") and "\n" not in text
    assert "has no fairseq-eval-lm, fairseq-generate" in text
    with pytest.raises(EvotransError, match="is not a directory"):
        check_fairseq_bin(tmp_path / "nowhere")


def test_trials_run_the_tools_of_that_environment_with_our_plugin_dir(tmp_path):
    bin_dir = _bin(tmp_path)
    task = TaskConfig.from_dict({"kind": "lm", "data": "d", "fairseq_bin": str(bin_dir)})
    request = TrialRequest(
        experiment_dir=str(tmp_path),
        trial_id=1,
        individual_id=1,
        spec_kind="order",
        spec="sfsf",
        stage=0,
        steps=4,
        resume_from_dir=None,
        trial_dir=str(tmp_path / "t"),
        seed=1,
    )
    cmd = train_command(request, task, tmp_path / "t" / "checkpoints")
    assert cmd[0] == str(bin_dir / "fairseq-train")
    assert cmd[cmd.index("--user-dir") + 1] == str(plugin_dir())
    assert tool("fairseq-generate", bin_dir) == str(bin_dir / "fairseq-generate")
    with pytest.raises(EvotransError, match=r"fairseq-preprocess not found in .*fairseq_bin"):
        tool("fairseq-preprocess", bin_dir)


def test_warm_starts_use_that_environments_python(tmp_path, monkeypatch):
    """The fork server is started with ``DIR/python``, which finds this evotrans on its
    ``PYTHONPATH`` (the plugin directory's parent, as ``--user-dir`` gives fairseq)."""
    bin_dir = _bin(tmp_path)
    record = tmp_path / "server"
    _script(
        bin_dir / "python",
        f'#!/bin/sh\necho "$@" > "{record}.args"\necho "$PYTHONPATH" > "{record}.path"\n'
        'echo \'{"ready": true}\'\nread line\necho \'{"error": "a stand-in server"}\'\n',
    )
    assert python_for(str(bin_dir)) == str(bin_dir / "python")
    monkeypatch.setattr(forkserver, "_SERVERS", {})
    with pytest.raises(forkserver.ForkServerError, match="a stand-in server"):
        forkserver.start_fairseq(
            [str(bin_dir / "fairseq-train")],
            {},
            tmp_path / "train.log",
            python=python_for(str(bin_dir)),
        )
    args = Path(f"{record}.args").read_text().split()
    assert args == ["-m", "evotrans.forkserver", str(plugin_dir())]
    first = Path(f"{record}.path").read_text().strip().split(":")[0]
    assert first == str(plugin_dir().parent)


def test_evolve_with_a_bin_dir_lacking_the_tools_exits_2_with_one_line(tmp_path, capsys):
    from evotrans.cli import main

    (tmp_path / "data").mkdir()
    (tmp_path / "empty").mkdir()
    config = tmp_path / "pdh.toml"
    config.write_text(
        '[search]\nalgorithm = "pdh"\nseed = 1\nsteps = [4, 4]\npopulation_size = 2\n'
        'tournament_size = 2\nmax_children = 2\n[space]\nkind = "order"\nn_pairs = 2\n'
        '[task]\nkind = "lm"\ndata = "data"\nfairseq_bin = "empty"\n'
    )
    assert main(["evolve", str(config), "--out", str(tmp_path / "exp")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "task.fairseq_bin" in err and "fairseq-train" in err
    assert not (tmp_path / "exp").exists()
