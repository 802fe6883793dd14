"""`evotrans show ORDER|GENOME [--diff OTHER]`: a sublayer order or a genome, or what differs.

:func:`run` dispatches on what the positional argument names: a genome
(:func:`show_genome`, its data from :mod:`evotrans.genome.show`) or a sublayer order
(:func:`show_order`); with ``--diff`` both arguments must be of one kind (:func:`show_diff`).
No torch or fairseq import here: ``show`` must stay instant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evotrans import sublayers
from evotrans.errors import EvotransError


def show_order(args: argparse.Namespace) -> int:
    """Print a sublayer order's canonical form, counts, equal-parameter verdict and totals."""
    order = sublayers.parse_order(args.spec, role=args.role, auto_cross=args.auto_cross)
    counts = sublayers.counts(order)
    sizes = dict(
        d=args.d,
        ffn=args.ffn,
        vocab=args.vocab,
        shared_output=args.shared_output,
        normalize_before=args.normalize_before,
        learned_positions=args.learned_positions,
        max_positions=args.max_positions,
    )
    report = sublayers.parameter_count(order, **sizes)
    n = counts["s"]
    baseline = sublayers.interleaved(n)
    if counts["c"]:  # a translation decoder's baseline has its cross attention too
        baseline = sublayers.with_auto_cross(baseline)
    equal = sublayers.is_equal_parameter(order, n)
    delta = report.total - sublayers.parameter_count(baseline, **sizes).total

    if args.json:
        print(
            json.dumps(
                {
                    "order": order,
                    "role": args.role,
                    "length": len(order),
                    "counts": counts,
                    "describe": sublayers.describe(order),
                    "sandwich_k": sublayers.sandwich_coefficient(order),
                    "baseline": baseline,
                    "equal_parameter": equal,
                    "parameter_delta": delta,
                    "sizes": sizes,
                    "params": report.as_dict(),
                }
            )
        )
        return 0

    print(f"order           {order}")
    print(f"role            {args.role}")
    print(
        f"sublayers       {len(order)}: s={counts['s']} f={counts['f']} c={counts['c']}"
        f"  ({sublayers.describe(order)})"
    )
    if equal:
        verdict = f"yes, same sublayers as {sublayers.describe(baseline)} ({baseline})"
    else:
        verdict = f"no, {delta:+,} parameters vs {sublayers.describe(baseline)} ({baseline})"
    print(f"equal-parameter {verdict}")
    print()
    print(_table(order, report, args))
    return 0


def _table(order: str, report: sublayers.ParamReport, args: argparse.Namespace) -> str:
    """Parameter totals as aligned plain-text rows: kind, count x each, total."""
    d, ffn = args.d, args.ffn
    rows = [
        ("self-attention", order.count("s"), sublayers.attention_params(d), report.self_attention),
        (
            "cross-attention",
            order.count("c"),
            sublayers.attention_params(d),
            report.cross_attention,
        ),
        ("feed-forward", order.count("f"), sublayers.ffn_params(d, ffn), report.feed_forward),
        ("final norm", None, None, report.final_norm),
        ("embeddings", None, None, report.embeddings),
        ("positions", None, None, report.positions),
        ("output proj.", None, None, report.output_projection),
    ]
    lines = [
        f"parameters (d={d} ffn={ffn} vocab={args.vocab}"
        f"{', shared output' if args.shared_output else ''}"
        f"{', pre-norm' if args.normalize_before else ''})"
    ]
    for name, number, each, total in rows:
        if not (number if number is not None else total):
            continue
        detail = f"{number:>4} x {each:>12,}" if number is not None else ""
        lines.append(f"  {name:<16}{detail:>19}  {total:>15,}")
    lines.append(f"  {'total':<16}{'':>19}  {report.total:>15,}")
    return "\n".join(lines)


def looks_like_genome(text: str) -> bool:
    """A seed name, a JSON genome (file or text), a compact genome ``enc…[…]``/``dec…[…]``
    or an existing file (orders are never files)."""
    from evotrans.genome import SEEDS

    stripped = text.strip()
    if (
        stripped in SEEDS
        or stripped.startswith("{")
        or stripped.endswith(".json")
        or stripped.startswith(("enc", "dec"))
        and "[" in stripped
    ):
        return True
    try:
        return len(stripped) < 4096 and Path(stripped).is_file()
    except (OSError, ValueError):
        return False


def show_genome(args: argparse.Namespace) -> int:
    """Print a genome's blocks as tables with parameter counts (or one JSON object)."""
    from evotrans.genome.serialize import load_genome
    from evotrans.genome.show import TABLE_COLUMNS, genome_summary

    summary = genome_summary(
        load_genome(args.spec),
        d=args.d,
        heads=args.heads,
        vocab=args.vocab,
        shared_output=args.shared_output,
    )
    if args.json:
        print(json.dumps(summary.as_json()))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 140)
    console.print(
        f"genome {summary.hash}  d={args.d} heads={args.heads} "
        f"vocab={args.vocab}" + ("  (language model: decoder cell)" if summary.lm else "")
    )
    for title, rows in summary.tables():
        table = Table(title=title, title_justify="left")
        for column in TABLE_COLUMNS:
            table.add_column(column, justify="right" if column in ("block", "params") else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(
        f"total parameters (embeddings {'shared' if args.shared_output else 'separate'},"
        f" final LayerNorms included): {summary.total:,}"
    )
    if args.draw:
        from evotrans.drawing import draw_genome

        draw_genome(summary.genome, args.draw)
        console.print(f"drawing: {args.draw}")
    return 0


def show_genome_diff(args: argparse.Namespace) -> int:
    """`evotrans show A --diff B` for genomes: one line per differing gene, then a verdict."""
    from evotrans.genome.serialize import load_genome
    from evotrans.genome.show import compare_genomes

    comparison = compare_genomes(load_genome(args.spec), load_genome(args.diff))
    if args.json:
        print(json.dumps(comparison.as_json()))
        return 0
    for line in comparison.lines():
        print(line)
    return 0


def _order(args: argparse.Namespace, text: str) -> str:
    return sublayers.parse_order(text, role=args.role, auto_cross=args.auto_cross)


def show_diff(args: argparse.Namespace) -> int:
    """Print the genes (genomes) or positions (orders) in which ``spec`` and ``diff`` differ."""
    kinds = ["genome" if looks_like_genome(t) else "sublayer order" for t in (args.spec, args.diff)]
    if kinds[0] != kinds[1]:
        raise EvotransError(
            f"--diff: A is a {kinds[0]} and B is a {kinds[1]}; compare two genomes or two "
            "sublayer orders"
        )
    if args.draw:
        raise EvotransError("--draw: not with --diff (draw each one by itself)")
    if kinds[0] == "genome":
        return show_genome_diff(args)
    from evotrans.genome.diff import order_diff

    a, b = _order(args, args.spec), _order(args, args.diff)
    changed, notes = order_diff(a, b)
    lines = [f"position {i}: {x} -> {y}" for i, x, y in changed] + notes
    if args.json:
        print(
            json.dumps(
                {
                    "kind": "order",
                    "a": a,
                    "b": b,
                    "identical": a == b,
                    "length": {"a": len(a), "b": len(b)},
                    "differences": [{"position": i, "a": x, "b": y} for i, x, y in changed],
                    "lines": lines,
                }
            )
        )
        return 0
    print(f"A  {a}\nB  {b}")
    print("\n".join(lines) if lines else "no differences: identical orders")
    return 0


def run(args: argparse.Namespace) -> int:
    """Show whatever ``args.spec`` names: an ET genome or a sublayer order (or, with
    ``--diff``, how two of them differ)."""
    if getattr(args, "diff", None) is not None:
        return show_diff(args)
    if looks_like_genome(args.spec):
        return show_genome(args)
    status = show_order(args)
    if args.draw:
        from evotrans.drawing import draw_order

        draw_order(
            sublayers.parse_order(args.spec, role=args.role, auto_cross=args.auto_cross), args.draw
        )
        print(f"drawing: {args.draw}")
    return status


def _positive(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "show",
        help="validate a sublayer order or genome; print its form and parameter counts",
        description="ORDER: letters s (self-attention), f (feed-forward), c (cross attention, "
        "--role decoder only), dots ignored; or a generator sandwich:N:K, interleaved:N, "
        "random:N:SEED. GENOME: a JSON file, a compact genome or a seed name "
        "(transformer, evolved_transformer): its blocks as a table with parameters per block. "
        "--diff OTHER: the genes (or order positions) in which the two differ.",
    )
    p.add_argument("spec", metavar="ORDER|GENOME")
    p.add_argument(
        "--role",
        choices=sublayers.ROLES,
        default="lm",
        help="stack the order is for (default lm; decoder allows c)",
    )
    p.add_argument(
        "--auto-cross",
        action="store_true",
        help="decoder: put a c after every s when the order has none",
    )
    p.add_argument("--d", type=_positive, default=512, help="model dimension (default 512)")
    p.add_argument(
        "--ffn", type=_positive, default=None, help="FFN width (default 4*d, 2048 for d=512)"
    )
    p.add_argument(
        "--vocab",
        type=_non_negative,
        default=32000,
        help="vocabulary size (default 32000; 0 leaves embeddings out)",
    )
    p.add_argument(
        "--shared-output",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="output projection shared with the input embeddings (default yes)",
    )
    p.add_argument(
        "--normalize-before",
        action="store_true",
        help="pre-norm: count the stack's final LayerNorm",
    )
    p.add_argument(
        "--learned-positions",
        action="store_true",
        help="learned positional embeddings (default sinusoidal: no parameters)",
    )
    p.add_argument(
        "--max-positions",
        type=_positive,
        default=1024,
        help="positions of learned positional embeddings (default 1024)",
    )
    p.add_argument(
        "--heads", type=_positive, default=8, help="attention heads, for genomes (default 8)"
    )
    p.add_argument(
        "--diff",
        metavar="OTHER",
        help="print what differs from OTHER (a genome: gene by gene; an order: position by "
        "position)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("--draw", metavar="FILE", help="also draw it (.png or .svg)")
    p.set_defaults(func=_run_with_defaults)


def _run_with_defaults(args: argparse.Namespace) -> int:
    if args.ffn is None:
        args.ffn = 4 * args.d
    return run(args)
