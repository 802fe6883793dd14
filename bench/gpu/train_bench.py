"""GPU training throughput and MFU: plugin vs native fairseq, ET vs Transformer (fp16).

fairseq 0.12 has no CUDA bf16 (``--bf16`` implies ``--tpu``): ``--precision fp16``
(the default) is ``--fp16``, the same tensor-core peak on Hopper. Build the offline
site folder first where PyPI is (``bash bench/gpu/make-site.sh``), carry
``.gpu-wheels`` to the GPU machine, then run there after ``source bench/gpu/setup.sh``:
``python3 bench/gpu/train_bench.py --data data/demo-bin --out OUT_DIR``.
Writes ``gpu_bench.json`` and ``gpu_bench.md`` into OUT_DIR. Each configuration
trains ``--updates`` updates; the figure is the median fairseq ``wps`` (target
tokens/s) over the logged intervals after the first (warm-up). MFU counts
6 FLOPs per parameter per token (forward + backward) for the non-embedding
parameters and the output projection, over ``--peak-tflops`` (H100 SXM dense
fp16/bf16: 989). It also times the ET's depthwise convolution both ways on the GPU
(``bench/depthwise.py``: grouped conv1d, which the layers use on GPU, vs the shifted
multiply-adds they use on CPU).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # evotrans and bench from this checkout (run as a script)

from evotrans.fairseq_args import options  # noqa: E402
from evotrans.tasks import TaskConfig  # noqa: E402

PLUGIN = str(REPO / "fairseq_plugins")

OPTIMIZATION = options(optimizer="adam", lr="5e-4", lr_scheduler="inverse_sqrt", warmup_updates=50)
MT = [
    *TaskConfig(kind="mt", data="-").task_flags(),
    *options(share_all_embeddings=True, max_tokens=16384),
    *OPTIMIZATION,
    *options(criterion="label_smoothed_cross_entropy", label_smoothing=0.1, dropout=0.1),
]
LM = [
    *TaskConfig(kind="lm", data="-").task_flags(),
    *options(tokens_per_sample=512, batch_size=32),
    *OPTIMIZATION,
    *options(dropout=0.1, decoder_embed_dim=512, decoder_ffn_embed_dim=2048),
    *options(decoder_attention_heads=8, decoder_normalize_before=True),
]

CONFIGS = [
    ("mt", "transformer_wmt_en_de (native)", ["--arch", "transformer_wmt_en_de"]),
    ("mt", "sublayer_transformer_base", ["--arch", "sublayer_transformer_base"]),
    (
        "mt",
        "transformer_wmt_en_de pre-norm (native)",
        [
            "--arch",
            "transformer_wmt_en_de",
            "--encoder-normalize-before",
            "--decoder-normalize-before",
        ],
    ),
    ("mt", "evolved_transformer_base", ["--arch", "evolved_transformer_base"]),
    (
        "lm",
        "transformer_lm 6 layers (native)",
        ["--arch", "transformer_lm", "--decoder-layers", "6"],
    ),
    (
        "lm",
        "sublayer_lm sf*6",
        ["--arch", "sublayer_lm", "--decoder-sublayer-order", "interleaved:6"],
    ),
    (
        "lm",
        "sublayer_lm sandwich:6:2",
        ["--arch", "sublayer_lm", "--decoder-sublayer-order", "sandwich:6:2"],
    ),
]


def run(data: Path, kind: str, arch: list[str], updates: int, precision: list[str]) -> dict:
    common = MT if kind == "mt" else LM
    train = [sys.executable, "-m", "fairseq_cli.train", str(data / kind), "--user-dir", PLUGIN]
    timed = options(max_update=updates, no_save=True, disable_validation=True, seed=1)
    logs = options(log_format="json", log_interval=20, num_workers=2)
    cmd = [*train, *common, *arch, *precision, *timed, *logs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        return {"error": out[-1500:]}
    records = [json.loads(m.group(1)) for m in re.finditer(r"\| train_inner \| (\{.*\})", out)]
    params = int(
        re.search(r"num\. (?:shared )?model params: ([\d,]+)", out).group(1).replace(",", "")
    )
    wps = statistics.median(float(r["wps"]) for r in records[1:]) if len(records) > 1 else None
    return {"wps": wps, "params": params, "loss": records[-1]["loss"] if records else None}


def embedding_params(out: dict, vocab: int, d: int) -> int:
    return vocab * d


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("data/demo-bin"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--precision", default="fp16", choices=["fp16", "fp32"])
    args = parser.parse_args()
    import torch

    precision = {"fp16": ["--fp16"], "fp32": []}[args.precision]
    vocab = {
        k: sum(1 for _ in open(args.data / k / ("dict.txt" if k == "lm" else "dict.en.txt"))) + 4
        for k in ("lm", "mt")
    }
    rows = []
    for kind, name, arch in CONFIGS:
        result = run(args.data, kind, arch, args.updates, precision)
        d = 512
        if "wps" in result and result["wps"]:
            dense = result["params"] - vocab[kind] * d  # shared embedding counted once
            flops_per_token = 6 * (dense + vocab[kind] * d)  # + output projection
            result["mfu"] = flops_per_token * result["wps"] / (args.peak_tflops * 1e12)
        rows.append({"kind": kind, "name": name, **result})
        print(json.dumps(rows[-1])[:300], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_bench.json").write_text(
        json.dumps(
            {
                "device": torch.cuda.get_device_name(0),
                "torch": torch.__version__,
                "precision": args.precision,
                "updates": args.updates,
                "rows": rows,
            },
            indent=1,
        )
    )
    lines = [
        f"Device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; "
        f"{args.precision}; {args.updates} updates per configuration; MFU against "
        f"{args.peak_tflops:g} TFLOP/s.",
        "",
        "| task | model | params | tokens/s | MFU | last loss |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['kind']} | {r['name']} | failed | | | |")
            continue
        lines.append(
            f"| {r['kind']} | {r['name']} | {r['params']:,} | {r['wps']:,.0f} | "
            f"{100 * r.get('mfu', 0):.1f} % | {r['loss']} |"
        )
    from bench.depthwise import depthwise_cases

    dtype = "float16" if args.precision == "fp16" else "float32"
    lines += [
        "",
        f"ET depthwise convolution on the GPU ({dtype}, forward + backward, median of 15):",
        "",
        "| convolution | T x B x C, k | conv1d ms | shifted ms | speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    for c in depthwise_cases(device="cuda", dtype=dtype):
        lines.append(
            f"| {c.name} | {c.steps} x {c.batch} x {c.channels}, {c.kernel} | "
            f"{c.conv1d_ms:.3f} | {c.shifted_ms:.3f} | {c.speedup:.2f}x |"
        )
    (args.out / "gpu_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
