"""Reports of stand-in experiments: the table's numbers against the store, the figures
(files and axis labels), partial reports; the drawings; the sweep command's options."""

from __future__ import annotations

import csv
import json
import math
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from matplotlib.collections import LineCollection, PathCollection

from evotrans.cli import main
from evotrans.drawing import draw_genome, draw_order, genome_figure, order_figure
from evotrans.errors import EvotransError
from evotrans.launch.local import LocalLauncher
from evotrans.report import (
    best_so_far,
    best_table,
    build_report,
    pareto_front,
    stage_table,
    write_report,
)
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner
from evotrans.search.sweeps import (
    file_specs,
    parse_int_list,
    random_specs,
    sandwich_specs,
    sweep_config,
)
from evotrans.search.types import TrialRequest, TrialResult
from evotrans.store import ExperimentStore
from tests.search_helpers import REPORT_CONFIG

REPO = Path(__file__).resolve().parents[2]
BASE = {"task": {"kind": "lm", "data": "unused"}, "launcher": {"kind": "local"}}
SEEDS = [1, 2, 3]
FAIL = ("sssfff", 3)  # this (order, seed) fails


@dataclass(frozen=True)
class SeededRunner:
    """The stand-in runner with seed-dependent perplexities; ``fail`` fails."""

    fail: tuple[str, int] | None = None

    def __call__(self, request: TrialRequest) -> TrialResult:
        if (request.spec, request.seed) == self.fail:
            return TrialResult(status="failed", error="exit code 1\nboom")
        result = StandinRunner()(request)
        scale = 1 + 0.05 * request.seed
        result.valid_ppl *= scale
        result.test_ppl *= scale
        result.fitness = -math.log(result.valid_ppl)
        return result


def run_store(path: Path, config: dict, runner, hook=None, workers: int = 2) -> Path:
    store = create_experiment(path, config)
    launcher = LocalLauncher(workers, run_trial=runner, gpus=[])
    try:
        run(store, make_algorithm(store), launcher, poll_interval=0.005, hook=hook)
    finally:
        store.close()
    return path


def sandwich_config() -> dict:
    specs = sandwich_specs(3, [0, 1, 2, 3])
    return sweep_config(BASE, specs, SEEDS, steps=100, pairs=3, name="t", description="t")


PDH = REPORT_CONFIG


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "sweep"
    return run_store(path, sandwich_config(), SeededRunner(fail=FAIL))


@pytest.fixture(scope="module")
def sweep_report(sweep_dir):
    return build_report(sweep_dir)


@pytest.fixture(scope="module")
def pdh_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "pdh"
    return run_store(path, PDH, StandinRunner(fail_quality_below=0.15))


def labels(png: Path) -> list[dict]:
    from PIL import Image

    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 100
        return json.loads(image.text["Description"])["axes"]


# -- the sweep table --------------------------------------------------------------------------


def test_sweep_table_matches_the_store(sweep_dir, sweep_report):
    with ExperimentStore.open(sweep_dir) as store:
        seeds = {i.id: (i.spec, i.seed) for i in store.individuals()}
        results: dict[str, dict[str, list[float]]] = {}
        for t in store.trials(status="ok"):
            spec, _ = seeds[t.individual_id]
            results.setdefault(spec, {"valid": [], "test": []})
            results[spec]["valid"].append(t.valid_ppl)
            results[spec]["test"].append(t.test_ppl)
    assert sorted(seeds.values()) == sorted(
        (s, n) for s in sandwich_specs(3, [0, 1, 2]) for n in SEEDS
    )
    table = sweep_report.sweep
    assert list(table["order"]) == sorted(
        results, key=lambda s: statistics.fmean(results[s]["test"])
    )  # best (lowest test ppl) first
    baseline = statistics.fmean(results["sfsfsf"]["test"])
    for row in table.to_dict("records"):
        mine = results[row["order"]]
        assert row["n"] == len(mine["valid"]) == (2 if row["order"] == FAIL[0] else 3)
        assert row["failed"] == (1 if row["order"] == FAIL[0] else 0)
        assert row["valid_ppl_mean"] == pytest.approx(statistics.fmean(mine["valid"]))
        assert row["valid_ppl_std"] == pytest.approx(statistics.stdev(mine["valid"]))
        assert row["test_ppl_std"] == pytest.approx(statistics.stdev(mine["test"]))
        assert row["test_ppl_delta"] == pytest.approx(statistics.fmean(mine["test"]) - baseline)
        assert row["params"] == 1_000_000 and row["k"] in (0, 1, 2)
    cells = sweep_report.tables[0].rows
    first = table.iloc[0]
    assert f"{first['test_ppl_mean']:.2f} ± {first['test_ppl_std']:.2f}" in cells[0]


def test_written_report_files_and_figure_labels(sweep_dir, sweep_report):
    paths = write_report(sweep_dir, csv=True)
    assert paths[0] == sweep_dir / "report.html" and paths[1] == sweep_dir / "report.md"
    page = paths[0].read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page
    assert "3 failed" not in page and "1 failed: trial" in page
    markdown = paths[1].read_text()
    assert "![" in markdown and "(figures/sandwich.png)" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| sfsfsf"))
    assert "0 (baseline)" in row and "+0.00" in row
    for name in ("sandwich", "best_order"):
        assert (sweep_dir / "figures" / f"{name}.png").stat().st_size > 1000
        assert (sweep_dir / "figures" / f"{name}.svg").read_text().startswith("<?xml")
    [axes] = labels(sweep_dir / "figures" / "sandwich.png")
    assert axes["xlabel"] == "sandwich coefficient k" and axes["ylabel"] == "test perplexity"
    ax = sweep_report.figure("sandwich").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("sandwich coefficient k", "test perplexity")
    assert labels(sweep_dir / "figures" / "best_order.png")[0]["ylabel"] == "stack"
    table = (sweep_dir / "sweep.csv").read_text().splitlines()
    assert table[0].startswith("order,k,baseline,n,planned,failed,params,valid_ppl_mean")
    with open(sweep_dir / "trials.csv", newline="") as file:
        trials = list(csv.DictReader(file))
    assert len(table) == 4 and len(trials) == 9
    assert {t["error"] for t in trials} == {"", "exit code 1\nboom"}


def test_failed_trial_is_named_in_the_status(sweep_report):
    assert sweep_report.complete
    assert sweep_report.status.startswith("9 of 9 trials finished; 1 failed: trial ")
    assert "(sssfff, seed 3) failed — exit code 1" in sweep_report.status
    assert sweep_report.tables[-1].rows[0][1:5] == ["sssfff", "3", "0", "failed"]


def test_random_order_sweep_draws_the_distribution(tmp_path):
    specs = random_specs(3, 6)
    assert specs[0] == "sfsfsf" and len(set(specs)) == 7
    config = sweep_config(BASE, specs, [1, 2], steps=50, pairs=3, name="r", description="r")
    report = build_report(run_store(tmp_path / "r", config, SeededRunner()))
    ax = report.figure("orders").axes[0]
    assert ax.get_xlabel() == "test perplexity (mean over seeds)" and ax.get_ylabel() == "orders"
    assert [t for t, _ in report.skipped] == []
    baseline = report.sweep[report.sweep["baseline"]]
    assert baseline["n"].item() == 2 and baseline["test_ppl_delta"].item() == 0


# -- evolution ---------------------------------------------------------------------------------


def test_pdh_report_figures(pdh_dir):
    report = build_report(pdh_dir)
    with ExperimentStore.open(pdh_dir) as store:
        hurdles = {s: (h.value, h.set_seq) for s, h in store.hurdles().items()}
        trials = sorted((t for t in store.trials() if t.finished), key=lambda t: t.finish_seq)
    fitness = report.figure("fitness").axes[0]
    assert fitness.get_xlabel() == "models trained (finish order)"
    assert fitness.get_ylabel() == "fitness (−ln validation perplexity)"
    # each hurdle: a level from just after the result that set it to the right (Figure 2)
    levels = {
        c.get_label(): c.get_segments()[0]
        for c in fitness.collections
        if isinstance(c, LineCollection)
    }
    assert hurdles and set(levels) == {f"hurdle h{s} = {v:.3f}" for s, (v, _) in hurdles.items()}
    for s, (value, at) in hurdles.items():
        (x0, y0), (x1, y1) = levels[f"hurdle h{s} = {value:.3f}"]
        assert y0 == y1 == value and x0 == at + 0.5 < x1
    starts = sorted(line.get_xdata()[0] for line in fitness.get_lines())
    assert starts == sorted(at + 0.5 for _, at in hurdles.values())
    points = sum(len(c.get_offsets()) for c in fitness.collections if isinstance(c, PathCollection))
    assert points == sum(t.status == "ok" for t in trials)
    best = report.figure("best_so_far").axes[0]
    assert best.get_xlabel() == "compute spent (training steps)"
    steps, running, expected = 0, -math.inf, []
    for t in trials:
        steps += t.trained_steps
        if t.status == "ok":
            running = max(running, t.fitness)
        expected.append((steps, running if running > -math.inf else math.nan))
    curve = best_so_far(report.trials)
    assert curve["steps"].tolist() == [s for s, _ in expected]
    assert curve["best"].tolist() == pytest.approx([b for _, b in expected], nan_ok=True)
    pareto = report.figure("pareto").axes[0]
    assert (pareto.get_xlabel(), pareto.get_ylabel()) == ("parameters", "validation perplexity")
    assert report.figure("best_order").axes[0].get_xlabel().startswith("sublayer position")
    titles = [t.title for t in report.tables]
    assert titles[:2] == ["Stages and hurdles", "Best models"]
    paths = write_report(pdh_dir)
    for name in ("fitness", "best_so_far", "pareto", "best_order"):
        png = next(p for p in paths if p.name == f"{name}.png")
        assert png.stat().st_size > 1000 and all(a["xlabel"] and a["ylabel"] for a in labels(png))


def test_pareto_front():
    points = [(10, 5.0), (10, 4.0), (20, 4.5), (30, 3.0), (40, 3.0), (5, 9.0)]
    assert pareto_front(points, higher_is_better=False) == [5, 1, 3]
    assert pareto_front(points, higher_is_better=True) == [5]


# -- the table model shared with `evotrans status` --------------------------------------------

STATUS_BEST = ["#", "origin", "order / genome", "stage", "steps", "params", "valid ppl"]
STATUS_BEST += ["test ppl", "BLEU", "fitness"]


def test_status_and_report_views_of_one_table_model(pdh_dir):
    from evotrans import display

    with ExperimentStore.open(pdh_dir) as store:
        best = {view: best_table(store, view, limit=5) for view in ("status", "report")}
        stages = {view: stage_table(store, view) for view in ("status", "report")}
        shown = display.best_table(store, 5), display.stage_table(store)
        ranked = [(i.id, t) for i, t in store.best(5)]
        summary = sorted(store.summary().values(), key=lambda s: s.stage)
        assert build_report(pdh_dir).tables[:2] == [stages["report"], best_table(store)]
    assert best["status"].columns == STATUS_BEST and best["status"].title == "best models"
    assert best["report"].columns == [*STATUS_BEST[:7], "test ppl", "fitness"]
    assert best["status"].left == best["report"].left == ("origin", "order / genome")
    for table in best.values():
        assert [int(row[0]) for row in table.rows] == [i for i, _ in ranked]
        assert [row[-1] for row in table.rows] == [f"{t.fitness:.4f}" for _, t in ranked]
    assert {row[8] for row in best["status"].rows} == {"-"}  # no BLEU in a language model
    assert stages["status"].columns == [
        *("stage", "steps", "ok", "failed", "other", "unfinished", "hurdle (n)", "best")
    ]
    assert stages["report"].columns == [
        *("stage", "steps", "ok", "not ok", "pending / running", "hurdle", "best fitness")
    ]
    assert [r[:3] for r in stages["status"].rows] == [r[:3] for r in stages["report"].rows]
    hurdled = summary[0]
    assert hurdled.hurdle is not None
    assert stages["status"].rows[0][6] == f"{hurdled.hurdle:.4f} ({hurdled.hurdle_models})"
    assert stages["report"].rows[0][5] == f"{hurdled.hurdle:.4f} (n={hurdled.hurdle_models})"
    assert stages["status"].rows[0][7].endswith(f" (#{hurdled.best_individual})")
    for rich, model in zip(shown, (best["status"], stages["status"]), strict=True):
        assert rich.title == model.title
        assert [c.header for c in rich.columns] == model.columns
        assert [list(c.cells) for c in rich.columns] == [
            [row[k] for row in model.rows] for k in range(len(model.columns))
        ]
        assert [c.justify == "left" for c in rich.columns] == [
            c in model.left for c in model.columns
        ]


def test_empty_tables_and_status_imports(tmp_path):
    create_experiment(tmp_path / "pdh", PDH).close()
    with ExperimentStore.open(tmp_path / "pdh") as store:
        for view in ("status", "report"):
            assert best_table(store, view).rows == stage_table(store, view).rows == []
        assert best_table(store, "status").note == stage_table(store, "status").note == ""
        assert best_table(store).note == "no model has finished yet"
        assert stage_table(store).note == "no trials yet"
    code = (
        "import sys, evotrans.display, evotrans.commands.experiment\n"
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


# -- partial reports -----------------------------------------------------------------------------


def test_empty_experiments_give_partial_reports(tmp_path):
    create_experiment(tmp_path / "sweep", sandwich_config()).close()
    create_experiment(tmp_path / "pdh", PDH).close()
    for name, skipped in (("sweep", 2), ("pdh", 4)):
        paths = write_report(tmp_path / name)
        report = build_report(tmp_path / name)
        assert not report.complete and report.figures == [] and len(report.skipped) == skipped
        page = paths[0].read_text()
        assert "Partial report" in page and "no figure:" in page
        assert not list((tmp_path / name / "figures").iterdir())
    assert build_report(tmp_path / "sweep").status == "0 of 9 trials finished (9 not started)"
    assert build_report(tmp_path / "pdh").status == "no trials yet"


class Stop(Exception):
    pass


def test_half_finished_sweep(tmp_path):
    recorded = []

    def hook(event: str, trial_id: int) -> None:
        if event == "recorded":
            recorded.append(trial_id)
        if event == "started" and len(recorded) == 3:
            raise Stop  # the driver dies with the fourth trial running

    with pytest.raises(Stop):
        run_store(tmp_path / "half", sandwich_config(), SeededRunner(), hook=hook, workers=1)
    report = build_report(tmp_path / "half")
    assert not report.complete
    assert report.status == "3 of 9 trials finished (1 running, 5 not started)"
    assert report.sweep["n"].tolist() == [3, 0, 0]  # the baseline's three seeds
    assert [f.name for f in report.figures] == ["best_order"]
    assert report.skipped == [
        (
            "test perplexity against the sandwich coefficient",
            "no sandwich order with k > 0 has a result yet",
        )
    ]
    paths = write_report(tmp_path / "half")
    markdown = paths[1].read_text()
    assert "**Partial report:** 3 of 9" in markdown and "| ssfsff | 1 | 0/3 |" in markdown


def test_stopped_search_is_partial(tmp_path):
    def hook(event: str, trial_id: int) -> None:
        if event == "synced" and trial_id == 5:
            raise Stop  # killed between trials: nothing running, children left to propose

    with pytest.raises(Stop):
        run_store(tmp_path / "pdh", PDH, StandinRunner(), hook=hook, workers=1)
    report = build_report(tmp_path / "pdh")
    assert not report.complete
    assert report.status.startswith("5 of 6 trials finished (1 pending); the search has not")
    assert [f.name for f in report.figures] == ["fitness", "pareto", "best_so_far", "best_order"]


def test_missing_experiment_and_parquet(tmp_path, sweep_dir, capsys):
    with pytest.raises(EvotransError, match="no experiment here"):
        build_report(tmp_path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(EvotransError, match="--parquet needs pyarrow"):
            write_report(sweep_dir, parquet=True)
        assert main(["report", str(sweep_dir), "--parquet"]) == 2
        assert "pyarrow" in capsys.readouterr().err


# -- drawings ------------------------------------------------------------------------------------


def test_draw_order_png_svg_and_bad_suffix(tmp_path):
    assert draw_order("sandwich:4:1", tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in draw_order("ssff|scscff", tmp_path / "o.svg").read_text()
    ax = order_figure("ssff|sfsf").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["encoder", "decoder"]
    with pytest.raises(EvotransError, match="use .png or .svg"):
        draw_order("sfsf", tmp_path / "o.gif")


def test_show_draw_cli(tmp_path):
    out = tmp_path / "order.svg"
    proc = subprocess.run(
        [sys.executable, "-m", "evotrans", "show", "sandwich:3:1", "--draw", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sublayer position" in out.read_text()


def branch(input: int, layer: str = "identity", norm: str = "none") -> SimpleNamespace:
    return SimpleNamespace(input=input, norm=norm, layer=layer, output_dim=1, activation="none")


def test_draw_genome_duck_typed_and_real(tmp_path):
    cell = SimpleNamespace(
        num_cells=2,
        blocks=[
            SimpleNamespace(
                left=branch(0, "standard_attention", "layer_norm"), right=branch(0), combiner="add"
            ),
            SimpleNamespace(
                left=branch(1, "standard_conv_1x1"), right=branch(0, "dead_branch"), combiner="add"
            ),
        ],
    )
    figure = genome_figure(SimpleNamespace(encoder=None, decoder=cell))
    [ax] = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("left branch · combiner · right branch", "block")
    assert ax.get_title() == "decoder cell × 2"
    texts = [t.get_text() for t in ax.texts]
    assert "standard_attention\nLN · ×1 · —" in texts and "dead" in texts and "output" in texts
    path = draw_genome("transformer", tmp_path / "t.png")
    assert [a["title"] for a in labels(path)] == ["encoder cell × 6", "decoder cell × 6"]


# -- the sweep command's options ---------------------------------------------------------------


def test_int_lists():
    assert parse_int_list("0..3", "--k") == [0, 1, 2, 3]
    assert parse_int_list("3,1,2..4,1", "--k") == [3, 1, 2, 4]
    for bad, message in (
        ("0..9", r"--k: 0\.\.9 is out of range \(0\.\.4\)"),
        ("a", "--k: 'a' is not"),
        ("3..1", "--k: range 3..1 is empty"),
        ("-1", "--k: -1 is out"),
    ):
        with pytest.raises(EvotransError, match=message):
            parse_int_list(bad, "--k", 0, 4)


def test_orders():
    assert sandwich_specs(2, [0, 1, 2]) == ["sfsf", "ssff"]  # k = N is k = N - 1
    assert random_specs(2, 5)[0] == "sfsf" and len(set(random_specs(2, 5))) == 6
    with pytest.raises(EvotransError, match="--count: only 5 orders"):
        random_specs(2, 6)


def test_orders_file(tmp_path):
    good = tmp_path / "orders.txt"
    good.write_text("# three orders\nsfsf\nssff  # sandwich\n\nsandwich:2:0x\n")
    with pytest.raises(EvotransError, match=r"orders.txt:5: .*sandwich:2:0x"):
        file_specs(good, "lm")
    good.write_text("sfsf\nssff  # sandwich\nfssf\n")
    assert file_specs(good, "lm") == (["sfsf", "ssff", "fssf"], 2)
    good.write_text("sfsf\ninterleaved:2\n")
    with pytest.raises(EvotransError, match="orders.txt:2: order sfsf repeats line 1"):
        file_specs(good, "lm")
    good.write_text("ssff|sfsf\n")
    assert file_specs(good, "mt") == (["ssff|sfsf"], 2)


def write_task(path: Path, data: Path, kind: str = "lm") -> Path:
    data.mkdir(exist_ok=True)
    path.write_text(
        f'[search]\nsteps = [7, 8]\n[space]\nkind = "order"\nn_pairs = 9\n'
        f'[task]\nkind = "{kind}"\ndata = "{data.name}"\n'
    )
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pairs", "2", "--k", "0..3"], "--k: 0..3 is out of range (0..2)"),
        (["--pairs", "0"], "--pairs: must be at least 1"),
        (["--pairs", "2", "--seeds", "1,x"], "--seeds: 'x' is not an integer"),
        (["--pairs", "2", "--steps", "0"], "--steps: must be at least 1"),
        (["--pairs", "2", "--workers", "0"], "--workers: must be at least 1"),
    ],
)
def test_bad_sweep_options_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    task = write_task(tmp_path / "task.toml", tmp_path / "bin")
    out = tmp_path / "out"
    assert main(["sweep", "sandwich", "--task", str(task), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_sweep_rejects_mt_orders_and_missing_data(tmp_path, capsys):
    task = write_task(tmp_path / "task.toml", tmp_path / "bin", kind="mt")
    out = str(tmp_path / "out")
    assert (
        main(
            [
                "sweep",
                "random-orders",
                "--task",
                str(task),
                "--pairs",
                "2",
                "--count",
                "2",
                "--out",
                out,
            ]
        )
        == 2
    )
    assert "task.kind is 'mt'" in capsys.readouterr().err
    (tmp_path / "bin").rmdir()
    assert main(["sweep", "sandwich", "--task", str(task), "--pairs", "2", "--out", out]) == 2
    assert "task.data" in capsys.readouterr().err and not Path(out).exists()
