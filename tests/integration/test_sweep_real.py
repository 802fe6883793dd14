"""A real tiny sandwich sweep (fairseq training on the demo corpus) through the CLI:
killed with SIGKILL while a trial runs, resumed with `evotrans resume`, then reported —
every (order, seed) trained exactly once, and the report's numbers are the store's."""

from __future__ import annotations

import csv
import json
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from evotrans.store import ExperimentStore
from evotrans.sublayers import sandwich
from tests.fairseq_cli import run, store_count, tool
from tests.search_helpers import lm_task, write_toml

pytestmark = pytest.mark.integration

PAIRS, KS, SEEDS = 3, (0, 1, 2), (1, 2)


def write_task(path: Path, data: Path) -> Path:
    """A task config; its [search] and [space] must be ignored by `evotrans sweep`."""
    config = {
        "search": {"algorithm": "pdh", "steps": [500, 500], "max_children": 3},
        "space": {"kind": "order", "n_pairs": 7},
        "task": lm_task(data, log_interval=5, timeout_s=300),
        "launcher": {"kind": "local", "workers": 1},
    }
    return write_toml(path, config)


def _started(out: Path) -> bool:
    """Two trials finished and every running one has its fairseq-train (a pid file)."""
    finished = store_count(
        out, "SELECT COUNT(*) FROM trials WHERE status NOT IN ('pending','running')"
    )
    running = store_count(out, "SELECT COUNT(*) FROM trials WHERE status = 'running'")
    pids = len(list((out / "trials").glob("*/pid"))) if (out / "trials").is_dir() else 0
    return finished >= 2 and running >= 1 and pids >= running


@pytest.fixture(scope="module")
def sweep_dir(demo_lm_bin: Path, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sweep")
    task = write_task(base / "task.toml", demo_lm_bin)
    out = base / "run"
    args = [
        tool("evotrans"),
        "sweep",
        "sandwich",
        "--task",
        str(task),
        "--pairs",
        str(PAIRS),
        "--k",
        "0..2",
        "--seeds",
        ",".join(map(str, SEEDS)),
        "--steps",
        "10",
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    log = open(base / "sweep.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        if _started(out):
            proc.send_signal(signal.SIGKILL)  # mid-trial: a fairseq-train is running
            killed = True
            break
        time.sleep(0.1)
    proc.wait()
    log.close()
    tail = (base / "sweep.log").read_text()[-2000:]
    assert killed, f"the sweep ended (exit {proc.returncode}) before it was killed:\n{tail}"
    run([tool("evotrans"), "resume", str(out)])
    return out


def test_resumed_sweep_trains_every_order_and_seed_once(sweep_dir: Path):
    with ExperimentStore.open(sweep_dir) as store:
        individuals = store.individuals()
        trials = store.trials()
        config = store.config
    expected = {(sandwich(PAIRS, k), seed) for k in KS for seed in SEEDS}
    assert sorted((i.spec, i.seed) for i in individuals) == sorted(expected)  # no duplicates
    assert len(trials) == len(expected)
    assert all(t.status == "ok" for t in trials), [(t.id, t.status, t.error) for t in trials]
    assert all(t.steps_done == 10 and t.valid_ppl > 1 and t.test_ppl > 1 for t in trials)
    assert any(t.attempts > 1 for t in trials), "the kill should have interrupted a trial"
    assert config["space"] == {"kind": "order", "n_pairs": PAIRS, "role": "lm"}
    assert config["search"]["steps"] == [10] and config["search"]["seeds"] == list(SEEDS)


def test_report_numbers_are_the_stores(sweep_dir: Path):
    proc = run([tool("evotrans"), "report", str(sweep_dir), "--csv"])
    assert "6 of 6 trials finished" in proc.stdout
    with ExperimentStore.open(sweep_dir) as store:
        spec_of = {i.id: i.spec for i in store.individuals()}
        test: dict[str, list[float]] = {}
        valid: dict[str, list[float]] = {}
        for t in store.trials():
            test.setdefault(spec_of[t.individual_id], []).append(t.test_ppl)
            valid.setdefault(spec_of[t.individual_id], []).append(t.valid_ppl)
    with open(sweep_dir / "sweep.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["order"] for r in rows] == sorted(test, key=lambda s: statistics.fmean(test[s]))
    baseline = statistics.fmean(test[sandwich(PAIRS, 0)])
    markdown = (sweep_dir / "report.md").read_text()
    for row in rows:
        spec = row["order"]
        assert int(row["n"]) == len(SEEDS) and int(row["k"]) in KS
        assert float(row["test_ppl_mean"]) == pytest.approx(statistics.fmean(test[spec]))
        assert float(row["test_ppl_std"]) == pytest.approx(statistics.stdev(test[spec]))
        assert float(row["valid_ppl_std"]) == pytest.approx(statistics.stdev(valid[spec]))
        delta = statistics.fmean(test[spec]) - baseline
        assert float(row["test_ppl_delta"]) == pytest.approx(delta)
        shown = f"{statistics.fmean(test[spec]):.2f} ± {statistics.stdev(test[spec]):.2f}"
        line = next(x for x in markdown.splitlines() if x.startswith(f"| {spec} |"))
        assert shown in line and f"{delta:+.2f}" in line
    from PIL import Image

    expected = {
        "sandwich": ("sandwich coefficient k", "test perplexity"),
        "best_order": ("sublayer position (input → output)", "stack"),
    }
    for name, (xlabel, ylabel) in expected.items():
        png = sweep_dir / "figures" / f"{name}.png"
        with Image.open(png) as image:
            assert image.format == "PNG" and image.size[0] > 100
            [axes] = json.loads(image.text["Description"])["axes"]
        assert (axes["xlabel"], axes["ylabel"]) == (xlabel, ylabel)
        assert (sweep_dir / "figures" / f"{name}.svg").stat().st_size > 1000
    page = (sweep_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "Partial report" not in page
