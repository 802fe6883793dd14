"""`evotrans average-checkpoints`: fairseq's scripts/average_checkpoints.py, loading safely.

fairseq's script is not in its pip package, and its plain ``torch.load`` refuses fairseq
translation checkpoints on torch >= 2.6; this command averages the same way with the
plugin's allow-listed ``weights_only`` loader (:mod:`fairseq_plugins.average`).
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    import logging

    from evotrans.averaging import check_output, resolve_inputs

    # the paths first (no torch yet): a bad one is a one-line error at once
    check_output(args.output)
    paths = resolve_inputs(
        args.inputs,
        num_epoch_checkpoints=args.num_epoch_checkpoints,
        num_update_checkpoints=args.num_update_checkpoints,
        upper_bound=args.checkpoint_upper_bound,
    )
    # importing fairseq runs logging.basicConfig(level=DEBUG) (wav2vec2_classification) and
    # logs at INFO; a root handler set up first makes that a no-op: warnings only, on stderr
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    from fairseq_plugins.average import average_checkpoints, save_atomically  # torch: only here

    save_atomically(average_checkpoints(paths), args.output)
    print(f"averaged {len(paths)} checkpoint{'s' if len(paths) != 1 else ''}:")
    for path in paths:
        print(f"  {path}")
    print(f"wrote {args.output}")
    return 0


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _bound(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "average-checkpoints",
        help="average the parameters of fairseq checkpoints (fairseq's average_checkpoints.py)",
        description="Average the model parameters of fairseq checkpoints into a new checkpoint, "
        "like fairseq's scripts/average_checkpoints.py (not shipped in its pip package), loading "
        "them with torch's weights_only protection and the plugin's allow-list. Parameters are "
        "summed in 64 bits and divided by the count, then stored in the first checkpoint's "
        "dtypes; everything else (cfg, extra state) is the first checkpoint's (with a directory: "
        "the newest one's). The output is written atomically.",
    )
    p.add_argument(
        "--inputs",
        required=True,
        nargs="+",
        metavar="PATH",
        help="checkpoint files, or one directory with --num-epoch-checkpoints or "
        "--num-update-checkpoints",
    )
    p.add_argument(
        "--output", required=True, metavar="FILE", help="the averaged checkpoint to write"
    )
    count = p.add_mutually_exclusive_group()
    count.add_argument(
        "--num-epoch-checkpoints",
        type=_count,
        metavar="N",
        help="average the last N epoch checkpoints (checkpointE.pt) of the --inputs directory",
    )
    count.add_argument(
        "--num-update-checkpoints",
        type=_count,
        metavar="N",
        help="average the last N update checkpoints (checkpoint_E_U.pt, written with "
        "--save-interval-updates) of the --inputs directory",
    )
    p.add_argument(
        "--checkpoint-upper-bound",
        type=_bound,
        metavar="NUM",
        help="with a count: only checkpoints whose epoch (or update) number is at most NUM, "
        "e.g. --num-epoch-checkpoints 10 --checkpoint-upper-bound 50 averages epochs 41-50",
    )
    p.set_defaults(func=run)
