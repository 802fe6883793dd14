"""Fuzzing the ``evotrans`` command line: random argument lists for every sub-command.

Each run goes through ``evotrans.cli.main`` in this process (output captured, see
:func:`tests.fuzz_support.run_cli`), in a sandbox whose working directory is
``ROOT/a/b/cwd``; a few real ``evotrans`` processes check the same at the end.
Training is stubbed (``evotrans.search.driver.run`` returns at once, no data is
prepared), everything else is real: config validation, the store, the reports.

Checked for every run: exit 0, or exit 2 with exactly one printable error line
(argparse's usage errors are one line too: the parser prints no usage block); no
traceback; nothing reaches a shell (no ``os.system``/``os.popen``/``shell=True``,
and no ``pwned`` file appears, whatever ``$(…)``, backticks, ``;`` or ``|`` the
arguments hold); a rejected run writes nothing at all, an accepted one writes only
in its experiment / output directory. ``--out`` and ``DIR`` are plain paths: ``..``
and absolute paths are followed as given (they are the user's own paths), nothing
in them is expanded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_support import (
    ADVERSARIAL,
    CANARY,
    HUGE,
    SHELL,
    CliResult,
    FuzzStats,
    assert_clean,
    canaries,
    changed,
    reporting,
    run_cli,
    shell_trap,
    tree,
    within,
)

STATS = FuzzStats("fuzz-cli")
_report = reporting(STATS)
REPO = Path(__file__).resolve().parents[2]

GOOD_TOML = """
name = "fuzz"
[search]
algorithm = "pdh"
steps = [10, 10]
population_size = 4
tournament_size = 2
max_children = 6
[space]
kind = "order"
n_pairs = 2
[task]
kind = "lm"
data = "../data"
[launcher]
kind = "local"
workers = 1
"""
CONFIGS = {
    "good.toml": GOOD_TOML,
    "good.yaml": "search: {max_children: 3, steps: [5]}\nspace: {kind: order, n_pairs: 2}\n"
    "task: {kind: lm, data: ../data}\nlauncher:\n",
    "genome.toml": GOOD_TOML.replace('kind = "order"\nn_pairs = 2', 'kind = "genome"'),
    "slurm.toml": GOOD_TOML.replace('kind = "local"\nworkers = 1', 'kind = "slurm"\ncluster = "x"'),
    "mt.toml": GOOD_TOML.replace('kind = "lm"', 'kind = "mt"'),
    "bad.toml": GOOD_TOML.replace("tournament_size = 2", "tournament_size = 0"),
    "nodata.toml": GOOD_TOML.replace("../data", "../missing"),
    "shell.toml": GOOD_TOML.replace('"fuzz"', '"$(touch pwned); `touch pwned`"'),
    "garbage.toml": "[[[ not toml",
    "orders.txt": "ssff\nsfsf # baseline\n",
    "bad-orders.txt": "ssff\nsxff\n",
}


@dataclass
class Sandbox:
    root: Path
    cwd: Path
    started: list[Any]

    def rel(self, path: str) -> list[str]:
        """``path`` as the CLI uses it from ``cwd``, relative to ``root``, and the
        directories on the way (``mkdir -p a/../b`` creates ``a``); those inside the
        sandbox."""
        parts = Path(path).parts
        found = []
        for n in range(1, len(parts) + 1):
            rel = os.path.relpath(os.path.normpath(self.cwd.joinpath(*parts[:n])), self.root)
            if not rel.startswith(".."):
                found.append(rel)
        return found or ([] if parts else [os.path.relpath(self.cwd, self.root)])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cli")
    cwd = root / "a" / "b" / "cwd"
    cwd.mkdir(parents=True)
    (root / "data").mkdir()
    (root / "raw-empty").mkdir()
    (root / "raw-file").write_text("not a directory")
    (root / "cfg").mkdir()
    for name, text in CONFIGS.items():
        (root / "cfg" / name).write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setattr("evotrans.search.driver.run", lambda *args, **kwargs: None)
        mp.setattr("evotrans.config.prepare_task_data", lambda *args, **kwargs: None)
        mp.setattr("evotrans.launch.local.detect_gpus", lambda: [])
        with shell_trap() as started:
            yield Sandbox(root, cwd, started)
    assert not canaries(root)


# -- argument strategies ---------------------------------------------------------------------

# Output paths: every one resolves inside the sandbox (an accepted run writes there).
OUTPUTS = [f"runs/r{i}" for i in range(4)] + [
    *SHELL,
    "../../etc",
    "..",
    ".",
    "a/../../b",
    "x\x00y",
    "\udcff",
    "é€😀",
    "x" * 300,
    "exp.sqlite",
    "-",
    "",
]
WORDS = st.sampled_from(ADVERSARIAL) | st.text(max_size=6)
NUMBERS = st.integers(-3, 2**70).map(str) | st.sampled_from(["0", "1", "2", "1e3", "0x10", "nan"])
VALUES = NUMBERS | WORDS | st.sampled_from(["0..3", "1,2", "3..1", "0..99999999999", "N"])
VALUES = st.sampled_from(["1", "2", "0..2"]) | VALUES  # half the time a valid one
SETS = st.sampled_from(
    [
        *("search.seed=3", "launcher.workers=2", "task.train_args.lr=0.1", "search.steps=[1, 2]"),
        *("launcher.params.timeout_min=x", "task.data=../../etc", "launcher.kind=slurm"),
        *("a=b", "=", "search=1", "search.steps=[[[[", "x.y.z.w=1", "task.timeout_s=nan"),
        f"task.train_args.save-dir=$(touch {CANARY})",
        f"name=`touch {CANARY}`",
    ]
) | st.builds("{}={}".format, WORDS, WORDS)
LAUNCHER = st.sampled_from(["local", "slurm"]) | WORDS


def _config(root: Path) -> st.SearchStrategy[str]:
    names = [str(root / "cfg" / n) for n in CONFIGS if n.endswith((".toml", ".yaml"))]
    return st.sampled_from(names) | st.sampled_from(["missing.toml", "/", "../../cfg"]) | WORDS


def _output(root: Path) -> st.SearchStrategy[str]:
    return st.sampled_from(OUTPUTS + [str(root / "abs-out"), str(root / "raw-file")])


@st.composite
def _command(
    draw: st.DrawFn,
    words: list[str],
    positionals: list[st.SearchStrategy[str]],
    options: dict[str, st.SearchStrategy[str] | None],
    required: tuple[str, ...] = (),
) -> list[str]:
    """``words``, the positionals, then a random subset of ``options`` in random order
    (``required`` ones nearly always); sometimes one stray token."""
    chosen = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=4))
    chosen += [r for r in required if r not in chosen and draw(st.integers(0, 9))]
    groups = [[o] if options[o] is None else [o, draw(options[o])] for o in chosen]
    groups = draw(st.permutations(groups))
    argv = [*words, *(draw(p) for p in positionals), *(t for g in groups for t in g)]
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(VALUES))
    return argv


def commands(root: Path) -> st.SearchStrategy[list[str]]:
    config, output = _config(root), _output(root)
    experiment = output | st.sampled_from(["/", "//", "../../../../../../etc"]) | WORDS
    orders = st.sampled_from(["ssff", "sandwich:6:2", "sfcsf", "random:3:9", "x"]) | WORDS
    show_spec = orders | st.sampled_from(["transformer", "evolved_transformer", "dec1[", "{"])
    draw_file = st.sampled_from(["fig.svg", "figs/o.png", "o.txt", "../../o.png", "x" * 300])
    overrides = {"--set": SETS, "--launcher": LAUNCHER, "--data": experiment}
    sweep_common = {"--task": config, "--seeds": VALUES, "--out": output, "--steps": VALUES}
    sweep_common |= {"--workers": VALUES, **overrides}
    raw = st.sampled_from([str(root / "raw-empty"), str(root / "raw-file"), "missing"]) | WORDS
    return st.one_of(
        _command(
            ["show"],
            [show_spec],
            {
                "--role": st.sampled_from(["lm", "encoder", "decoder"]) | WORDS,
                "--auto-cross": None,
                "--d": VALUES,
                "--ffn": VALUES,
                "--vocab": VALUES,
                "--heads": VALUES,
                "--max-positions": VALUES,
                "--no-shared-output": None,
                "--json": None,
                "--draw": draw_file,
            },
        ),
        _command(
            ["evolve"],
            [config],
            {
                "--out": output,
                "--workers": VALUES,
                "--seed": VALUES,
                "--max-children": VALUES,
                **overrides,
            },
            required=("--out",),
        ),
        _command(
            ["resume"],
            [experiment],
            {"--workers": VALUES, "--set": SETS, "--launcher": LAUNCHER},
        ),
        _command(["status"], [experiment], {"--top": VALUES}),
        _command(["report"], [experiment], {"--compare": experiment, "--parquet": None}),
        _command(
            ["sweep", "sandwich"],
            [],
            {**sweep_common, "--pairs": VALUES, "--k": VALUES},
            required=("--task", "--out", "--pairs"),
        ),
        _command(
            ["sweep", "random-orders"],
            [],
            {**sweep_common, "--pairs": VALUES, "--count": VALUES, "--draw-seed": VALUES},
            required=("--task", "--out", "--pairs", "--count"),
        ),
        _command(
            ["sweep", "orders"],
            [
                st.sampled_from(
                    [str(root / "cfg" / "orders.txt"), str(root / "cfg" / "bad-orders.txt")]
                )
            ],
            sweep_common,
            required=("--task", "--out"),
        ),
        _command(
            ["prepare", "lm"],
            [raw, output],
            {"--vocab-size": VALUES, "--model-type": WORDS, "--workers": VALUES, "--force": None},
        ),
        _command(
            ["prepare", "mt"],
            [raw, output],
            {"--src": WORDS, "--tgt": WORDS, "--no-joint": None, "--vocab-size": VALUES},
        ),
        _command(["demo"], [], {"--out": output, "--config": config, "--no-report": None}),
        _command([], [], {"--version": None, "plugin-dir": None, "bogus": None}),
        st.lists(VALUES, max_size=4),
    )


def writes_allowed(sandbox: Sandbox, argv: list[str]) -> list[str]:
    """Where an accepted ``argv`` may write, relative to the sandbox root."""
    allowed = []
    for i, token in enumerate(argv[:-1]):
        if token in ("--out", "--draw"):
            allowed += sandbox.rel(argv[i + 1])
    if argv[:1] in (["report"], ["resume"], ["status"]) and len(argv) > 1:
        allowed += sandbox.rel(argv[1])
    if argv[:1] == ["demo"] and "--out" not in argv:
        allowed += sandbox.rel("runs/demo")
    return allowed


def check_run(sandbox: Sandbox, argv: list[str], what: str | None = None) -> CliResult:
    """Run ``argv`` in the sandbox and check every promise of the module docstring."""
    before = tree(sandbox.root)
    result = run_cli(argv)
    STATS.cli(what or (argv[0] if argv and argv[0] in KNOWN else "(random argv)"), result)
    assert_clean(result)
    diff = changed(before, tree(sandbox.root))
    if result.code != 0:
        assert not diff, (argv, sorted(diff)[:5])
    else:
        allowed = writes_allowed(sandbox, argv)
        assert all(within(path, allowed) for path in diff), (argv, sorted(diff)[:5])
    assert not canaries(sandbox.root), argv
    return result


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_command_is_valid_or_one_clean_line(sandbox: Sandbox, data: st.DataObject):
    if sandbox.root not in _COMMANDS:
        _COMMANDS[sandbox.root] = commands(sandbox.root)
    check_run(sandbox, data.draw(_COMMANDS[sandbox.root]))


_COMMANDS: dict[Path, st.SearchStrategy[list[str]]] = {}
KNOWN = ("show", "evolve", "resume", "status", "report", "sweep", "prepare", "demo")


# -- the promises, one by one ------------------------------------------------------------------


def test_rejected_configs_write_nothing(sandbox: Sandbox):
    for name in ("bad.toml", "nodata.toml", "slurm.toml", "garbage.toml"):
        for out in ("runs/rejected", str(sandbox.root / "rejected"), "../../rejected"):
            result = check_run(sandbox, ["evolve", str(sandbox.root / "cfg" / name), "--out", out])
            assert result.code == 2 and not (sandbox.cwd / out).exists(), (name, out)
    sweep = ["sweep", "sandwich", "--task", str(sandbox.root / "cfg" / "good.toml"), "--pairs"]
    for bad in (["2", "--k", "0..9"], ["2", "--seeds", "0..99999999999"], ["0"], ["2", "--k", "x"]):
        result = check_run(sandbox, [*sweep, *bad, "--out", "runs/rejected-sweep"])
        assert result.code == 2 and not (sandbox.cwd / "runs" / "rejected-sweep").exists()


def test_out_is_a_plain_path_never_a_shell_word(sandbox: Sandbox):
    config = str(sandbox.root / "cfg" / "shell.toml")
    for out in (f"plain/{name}" for name in SHELL):
        result = check_run(sandbox, ["evolve", config, "--out", out])
        assert result.code == 0, result.stderr
        assert (sandbox.cwd / out / "experiment.sqlite").is_file()  # the name, verbatim
        assert check_run(sandbox, ["status", out]).code == 0
    result = check_run(sandbox, ["evolve", config, "--out", "../../traversal"])
    assert result.code == 0 and (sandbox.root / "a" / "traversal" / "experiment.sqlite").exists()


def test_report_writes_in_its_directory_and_escapes_names(sandbox: Sandbox):
    text = CONFIGS["good.toml"].replace('"fuzz"', '"<script>alert(1)</script> $(touch pwned)"')
    config = sandbox.root / "cfg" / "xss.toml"
    config.write_text(text, encoding="utf-8")
    out = "runs/<b>report</b>"
    assert check_run(sandbox, ["evolve", str(config), "--out", out]).code == 0
    assert check_run(sandbox, ["report", out]).code == 0
    page = (sandbox.cwd / out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>report</b>" not in page


def test_huge_arguments_are_one_bounded_line(sandbox: Sandbox):
    assert check_run(sandbox, ["show", "s" * 50_000 + "f" * 50_000]).code == 0
    for argv in (["show", HUGE[1]], ["show", "ssff", "--d", HUGE[1]], ["status", HUGE[1]]):
        result = check_run(sandbox, argv)
        assert result.code == 2 and len(result.stderr) < 1200


def test_a_corrupt_store_is_one_clean_line(sandbox: Sandbox):
    bad = sandbox.root / "corrupt"
    bad.mkdir(exist_ok=True)
    (bad / "experiment.sqlite").write_bytes(b"not a database" * 100)
    for command in ("status", "resume", "report"):
        assert check_run(sandbox, [command, str(bad)]).code == 2


def test_an_empty_store_is_rejected_without_writing(sandbox: Sandbox):
    empty = sandbox.root / "empty-store"
    empty.mkdir(exist_ok=True)
    (empty / "experiment.sqlite").write_bytes(b"")
    for command in ("status", "resume", "report"):
        before = tree(empty)
        result = run_cli([command, str(empty)])
        assert_clean(result)
        diff = changed(before, tree(empty))
        assert result.code == 2 and not diff, command


def test_no_shell_and_no_canary(sandbox: Sandbox):
    """Runs last in the module: every subprocess started so far was an argument list."""
    assert all(isinstance(args, (list, tuple)) for args in sandbox.started)
    assert not canaries(sandbox.root) and not canaries(Path.cwd())


# -- real processes --------------------------------------------------------------------------


def _evotrans(args: list[str | bytes], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("evotrans")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, timeout=60)


def test_real_processes_exit_2_with_one_line(tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text(CONFIGS["bad.toml"], encoding="utf-8")
    (tmp_path / "data").mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cases: list[list[str | bytes]] = [
        ["show", f"$(touch {CANARY})"],
        ["show", b"ss\xff\xfeff"],  # bytes that are not UTF-8
        ["show", "ssff", "--d", "x\ny"],
        ["evolve", str(config), "--out", f"; touch {CANARY}"],
        ["sweep", "random-orders", "--task", str(config), "--pairs", "2", "--count", "9"],
        ["evolve"],
    ]
    before = tree(tmp_path)
    for args in cases:
        proc = _evotrans(args, cwd)
        stderr = proc.stderr.decode("utf-8", "replace")
        STATS.cli("subprocess", CliResult([str(a) for a in args], proc.returncode, "", stderr))
        assert proc.returncode == 2, (args, stderr)
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not changed(before, tree(tmp_path)) and not canaries(tmp_path)
    ok = _evotrans(["show", "sandwich:3:1", "--json"], cwd)
    assert ok.returncode == 0 and b'"order": "ssfsff"' in ok.stdout
