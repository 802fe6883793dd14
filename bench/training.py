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
from evotrans.fairseq_args import command, options
from evotrans.fairseq_tools import plugin_dir
from evotrans.metrics import parse_train_log
from evotrans.tasks import TaskConfig

LM_TASK = TaskConfig(kind="lm", data="-").task_flags()
MT_TASK = TaskConfig(kind="mt", data="-").task_flags()


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


def fairseq(name: str, data: Path, *argv: str, **values) -> list[str]:
    """``fairseq-NAME DATA --user-dir PLUGIN *argv`` on the CPU, keywords as flags
    (:func:`evotrans.fairseq_args.options`)."""
    plugin = ["--user-dir", str(plugin_dir())]
    return command(tool(f"fairseq-{name}"), data, *plugin, *argv, **{"cpu": True, **values})


def train_args(data: Path, *argv: str, updates: int, **values) -> list[str]:
    """Every benchmark training run: ``updates`` updates, no validation, same seed, CPU,
    data in-process, the same optimizer."""
    same = {"seed": 1, "num_workers": 0, "optimizer": "adam", "lr": 0.001}
    return fairseq(
        "train", data, *argv, max_update=updates, disable_validation=True, **same, **values
    )


def _train(data: Path, common: list[str], arch: list[str], updates: int, save: Path):
    cmd = train_args(
        data,
        *common,
        *arch,
        updates=updates,
        no_save=True,
        save_dir=save,
        log_format="json",
        log_interval=5,
    )
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
    *LM_TASK,
    *options(tokens_per_sample=128, batch_size=16, decoder_embed_dim=128),
    *options(decoder_ffn_embed_dim=512, decoder_attention_heads=4, decoder_normalize_before=True),
]
MT_COMMON = [
    *MT_TASK,
    *options(max_tokens=3000, share_all_embeddings=True),
    *options(encoder_embed_dim=128, decoder_embed_dim=128),
    *options(encoder_ffn_embed_dim=512, decoder_ffn_embed_dim=512),
]


LM_NATIVE_4 = options(arch="transformer_lm", decoder_layers=4)
LM_SF_4 = options(arch="sublayer_lm", decoder_sublayer_order="sfsfsfsf")
LM_SANDWICH_4 = options(arch="sublayer_lm", decoder_sublayer_order="sandwich:4:2")
MT_NATIVE_6_PRE_NORM = [
    *options(arch="transformer", encoder_layers=6, decoder_layers=6),
    *options(encoder_normalize_before=True, decoder_normalize_before=True),
]
MT_ET_BASE = options(arch="evolved_transformer_base")
MT_NATIVE_3 = options(arch="transformer", encoder_layers=3, decoder_layers=3)
MT_PLUGIN_3 = options(arch="sublayer_transformer", encoder_layers=3, decoder_layers=3)


def training_comparisons(
    lm_data: Path, mt_data: Path, repeats: int, updates: int, work: Path
) -> list[Comparison]:
    lm, mt = (lm_data, LM_COMMON), (mt_data, MT_COMMON)
    short_mt = (mt_data, [*MT_COMMON, "--max-tokens", "1000"])  # the later flag wins: shorter
    cases = [
        ("LM sf*4 vs transformer_lm (4 layers)", lm, LM_NATIVE_4, LM_SF_4),
        ("LM sandwich:4:2 vs interleaved sf*4", lm, LM_SF_4, LM_SANDWICH_4),
        (
            "MT evolved_transformer (3+4 cells) vs transformer (6+6 layers), d=128",
            short_mt,
            MT_NATIVE_6_PRE_NORM,
            MT_ET_BASE,
        ),
        ("MT sublayer_transformer vs transformer (3+3 layers)", mt, MT_NATIVE_3, MT_PLUGIN_3),
    ]
    return [compare(name, *data, a, b, repeats, updates, work) for name, data, a, b in cases]
