"""Training throughput of plugin models vs native fairseq, interleaved in one run.

Each pair of runs (native, plugin) trains the same configuration with the same
seed on the same data, alternating which goes first, and the figure reported is
the median over repeats of tokens/s measured by fairseq itself (``wps`` of the
``train_inner`` records after the first, which includes warm-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.runner import measure, median, tool
from evotrans.metrics import parse_train_log

PLUGIN_DIR = str(Path(__file__).resolve().parents[1] / "fairseq_plugins")


@dataclass
class Comparison:
    name: str
    baseline: str
    candidate: str
    baseline_wps: float
    candidate_wps: float
    baseline_rss_mb: float
    candidate_rss_mb: float
    baseline_params: int | None = None
    candidate_params: int | None = None

    @property
    def ratio(self) -> float:
        return self.candidate_wps / self.baseline_wps


def _wps(output: str) -> float:
    records = parse_train_log(output.splitlines()).train[1:]
    if not records:
        raise RuntimeError("no train_inner records:\n" + output[-2000:])
    return median([float(r["wps"]) for r in records])


# Every benchmark training run: same seed, CPU, data in-process, the same optimizer.
TRAIN_FLAGS = ["--seed", "1", "--cpu", "--num-workers", "0", "--optimizer", "adam", "--lr", "0.001"]


def _train(data: Path, common: list[str], arch: list[str], updates: int, save: Path):
    cmd = [
        tool("fairseq-train"),
        str(data),
        "--user-dir",
        PLUGIN_DIR,
        *common,
        *arch,
        "--max-update",
        str(updates),
        "--no-save",
        "--save-dir",
        str(save),
        "--disable-validation",
        "--log-format",
        "json",
        "--log-interval",
        "5",
        *TRAIN_FLAGS,
    ]
    result = measure(cmd)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arch)} failed:\n{result.output[-3000:]}")
    params = parse_train_log(result.output.splitlines()).params
    return _wps(result.output), result.peak_rss_mb, params


def compare(
    name: str,
    data: Path,
    common: list[str],
    baseline: list[str],
    candidate: list[str],
    repeats: int,
    updates: int,
    work: Path,
) -> Comparison:
    base_wps, cand_wps, base_rss, cand_rss = [], [], [], []
    params: dict[int, int | None] = {}
    for r in range(repeats):
        order = [(0, baseline, base_wps, base_rss), (1, candidate, cand_wps, cand_rss)]
        for side, arch, wps_list, rss_list in order if r % 2 == 0 else reversed(order):
            wps, rss, params[side] = _train(data, common, arch, updates, work / "save")
            wps_list.append(wps)
            rss_list.append(rss)
    return Comparison(
        name,
        " ".join(baseline),
        " ".join(candidate),
        median(base_wps),
        median(cand_wps),
        median(base_rss),
        median(cand_rss),
        params.get(0),
        params.get(1),
    )


LM_COMMON = [
    "--task",
    "language_modeling",
    "--tokens-per-sample",
    "128",
    "--batch-size",
    "16",
    "--decoder-embed-dim",
    "128",
    "--decoder-ffn-embed-dim",
    "512",
    "--decoder-attention-heads",
    "4",
    "--decoder-normalize-before",
]
MT_COMMON = [
    "--task",
    "translation",
    "--source-lang",
    "de",
    "--target-lang",
    "en",
    "--max-tokens",
    "3000",
    "--share-all-embeddings",
    "--encoder-embed-dim",
    "128",
    "--decoder-embed-dim",
    "128",
    "--encoder-ffn-embed-dim",
    "512",
    "--decoder-ffn-embed-dim",
    "512",
]


def training_comparisons(
    lm_data: Path, mt_data: Path, repeats: int, updates: int, work: Path
) -> list[Comparison]:
    return [
        compare(
            "LM sf*4 vs transformer_lm (4 layers)",
            lm_data,
            LM_COMMON,
            ["--arch", "transformer_lm", "--decoder-layers", "4"],
            ["--arch", "sublayer_lm", "--decoder-sublayer-order", "sfsfsfsf"],
            repeats,
            updates,
            work,
        ),
        compare(
            "LM sandwich:4:2 vs interleaved sf*4",
            lm_data,
            LM_COMMON,
            ["--arch", "sublayer_lm", "--decoder-sublayer-order", "sfsfsfsf"],
            ["--arch", "sublayer_lm", "--decoder-sublayer-order", "sandwich:4:2"],
            repeats,
            updates,
            work,
        ),
        compare(
            "MT evolved_transformer (3+4 cells) vs transformer (6+6 layers), d=128",
            mt_data,
            [*MT_COMMON, "--max-tokens", "1000"],  # the later flag wins: shorter runs
            [
                "--arch",
                "transformer",
                "--encoder-layers",
                "6",
                "--decoder-layers",
                "6",
                "--encoder-normalize-before",
                "--decoder-normalize-before",
            ],
            ["--arch", "evolved_transformer_base"],
            repeats,
            updates,
            work,
        ),
        compare(
            "MT sublayer_transformer vs transformer (3+3 layers)",
            mt_data,
            MT_COMMON,
            ["--arch", "transformer", "--encoder-layers", "3", "--decoder-layers", "3"],
            ["--arch", "sublayer_transformer", "--encoder-layers", "3", "--decoder-layers", "3"],
            repeats,
            updates,
            work,
        ),
    ]
