"""`evotrans show ORDER|GENOME`: validate, canonicalize and count parameters."""

from __future__ import annotations

import argparse
import json

from evotrans import sublayers
from evotrans.errors import EvotransError


def looks_like_genome(text: str) -> bool:
    """A genome is a JSON file/string, a compact genome or a seed name; an order is not."""
    from pathlib import Path

    if text in ("transformer", "evolved_transformer") or text.lstrip().startswith("{"):
        return True
    if text.endswith(".json") or (len(text) < 4096 and Path(text).is_file()):
        return True
    return any(ch in text for ch in "[];|=") and ":" in text and not text.startswith(
        sublayers.GENERATORS
    )


def show_order(args: argparse.Namespace) -> int:
    order = sublayers.parse_order(args.spec, role=args.role, auto_cross=args.auto_cross)
    counts = sublayers.counts(order)
    report = sublayers.parameter_count(
        order,
        d=args.d,
        ffn=args.ffn,
        vocab=args.vocab,
        shared_output=args.shared_output,
        normalize_before=args.normalize_before,
    )
    equal = counts["s"] == counts["f"]
    k = sublayers.sandwich_coefficient(order)
    if args.json:
        print(json.dumps({"order": order, "counts": counts, "equal_parameter": equal,
                          "sandwich_k": k, "params": {**report.__dict__, "total": report.total}}))
        return 0
    print(f"order          {order}")
    print(f"length         {len(order)}  (s={counts['s']} f={counts['f']} c={counts['c']})")
    if k is not None:
        print(f"sandwich       k={k} of n={counts['s']} pairs" + (" (interleaved)" if k == 0 else ""))
    verdict = (f"yes: same parameters as interleaved:{counts['s']}" if equal
               else f"no: {counts['s']} s vs {counts['f']} f")
    print(f"equal-param    {verdict}")
    print(f"parameters     d={args.d} ffn={args.ffn} vocab={args.vocab}")
    rows = [("self-attention", report.self_attention), ("cross-attention", report.cross_attention),
            ("feed-forward", report.feed_forward), ("final norm", report.final_norm),
            ("embeddings", report.embeddings), ("output proj.", report.output_projection)]
    for name, value in rows:
        if value:
            print(f"  {name:<16}{value:>14,}")
    print(f"  {'total':<16}{report.total:>14,}")
    if args.draw:
        from evotrans.drawing import draw_order

        draw_order(order, args.draw)
        print(f"drawing        {args.draw}")
    return 0


def show_genome(args: argparse.Namespace) -> int:
    from evotrans.genome.show import show_genome as show

    return show(args)


def run(args: argparse.Namespace) -> int:
    if looks_like_genome(args.spec):
        try:
            return show_genome(args)
        except ImportError:
            raise EvotransError("genome support is not installed") from None
    return show_order(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "show",
        help="validate an order or genome; print its canonical form and parameter counts",
        description="ORDER: letters s/f/c or sandwich:N:K, interleaved:N, random:N:SEED. "
        "GENOME: a JSON file, a compact genome or a seed name (transformer, evolved_transformer).",
    )
    p.add_argument("spec", metavar="ORDER|GENOME")
    p.add_argument("--role", choices=sublayers.ROLES, default="lm",
                   help="stack the order is for (default lm; decoder allows c)")
    p.add_argument("--auto-cross", action="store_true",
                   help="decoder: put a c after every s when the order has none")
    p.add_argument("--d", type=int, default=512, help="model dimension (default 512)")
    p.add_argument("--ffn", type=int, default=None, help="FFN width (default 4d)")
    p.add_argument("--heads", type=int, default=8, help="attention heads (genomes; default 8)")
    p.add_argument("--vocab", type=int, default=32000, help="vocabulary size (default 32000)")
    p.add_argument("--no-shared-output", dest="shared_output", action="store_false",
                   help="count a separate output projection")
    p.add_argument("--normalize-before", action="store_true", help="pre-norm: final LayerNorm")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--draw", metavar="FILE.png", help="also draw it (PNG or SVG)")
    p.set_defaults(func=_with_defaults)


def _with_defaults(args: argparse.Namespace) -> int:
    if args.ffn is None:
        args.ffn = 4 * args.d
    for name in ("d", "ffn", "vocab", "heads"):
        if getattr(args, name) < 0 or (name in ("d", "heads") and getattr(args, name) == 0):
            raise EvotransError(f"--{name} must be positive")
    return run(args)
