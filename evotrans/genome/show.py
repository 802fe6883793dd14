"""`evotrans show GENOME`: the genome's blocks as a table with parameter counts."""

from __future__ import annotations

import argparse
import json

from evotrans.genome.hashing import genome_hash
from evotrans.genome.params import cell_rows, genome_params
from evotrans.genome.serialize import load_genome, to_compact
from evotrans.genome.validate import validate, validate_for_size


def show_genome(args: argparse.Namespace) -> int:
    genome = load_genome(args.spec)
    lm = genome.encoder is None
    validate(genome, lm=lm)
    validate_for_size(genome, args.d, args.heads)
    cells = [] if lm else [("encoder", genome.encoder)]
    cells.append(("decoder", genome.decoder))
    total = genome_params(
        genome, d=args.d, vocab=args.vocab, lm=lm, shared_output=args.shared_output
    )
    if args.json:
        print(
            json.dumps(
                {
                    "hash": genome_hash(genome),
                    "compact": to_compact(genome),
                    "d": args.d,
                    "vocab": args.vocab,
                    "total_params": total,
                    "cells": {
                        role: {
                            "num_cells": cell.num_cells,
                            "blocks": [row.__dict__ for row in cell_rows(cell, role, args.d)],
                        }
                        for role, cell in cells
                    },
                }
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 140)
    console.print(
        f"genome {genome_hash(genome)}  d={args.d} heads={args.heads} "
        f"vocab={args.vocab}" + ("  (language model: decoder cell)" if lm else "")
    )
    for role, cell in cells:
        if lm and role == "decoder":
            from evotrans.genome.lm import without_encoder_attention

            cell = without_encoder_attention(cell)
        table = Table(title=f"{role} cell × {cell.num_cells}", title_justify="left")
        for column in ("block", "left", "right", "combine", "width", "params"):
            table.add_column(column, justify="right" if column in ("block", "params") else "left")
        rows = cell_rows(cell, role, args.d)
        for row in rows:
            table.add_row(
                str(row.index), row.left, row.right, row.combiner, row.width, f"{row.params:,}"
            )
        table.add_row("", "", "", "", "per cell", f"{sum(r.params for r in rows):,}")
        console.print(table)
    console.print(
        f"total parameters (embeddings {'shared' if args.shared_output else 'separate'},"
        f" final LayerNorms included): {total:,}"
    )
    if args.draw:
        from evotrans.drawing import draw_genome

        draw_genome(genome, args.draw)
        console.print(f"drawing: {args.draw}")
    return 0


def show_genome_diff(args: argparse.Namespace) -> int:
    """`evotrans show A --diff B` for genomes: one line per differing gene, then a verdict."""
    from evotrans.genome.diff import cell_notes, genome_diff, padded_pair
    from evotrans.genome.types import Genome

    a, b = load_genome(args.spec), load_genome(args.diff)
    changes = genome_diff(a, b)
    notes = cell_notes(a, b)
    hashes = genome_hash(a), genome_hash(b)
    padded = hashes
    if any("padded" in note for note in notes):
        cells = {}
        for role in ("encoder", "decoder"):
            x, y = getattr(a, role), getattr(b, role)
            cells[role] = (x, y) if x is None or y is None else padded_pair(x, y, role)
        pa = Genome(decoder=cells["decoder"][0], encoder=cells["encoder"][0])
        pb = Genome(decoder=cells["decoder"][1], encoder=cells["encoder"][1])
        padded = genome_hash(pa), genome_hash(pb)
    same_model = padded[0] == padded[1]
    if same_model and hashes[0] == hashes[1]:
        verdict = f"identical architectures (hashes match: {hashes[0]})"
    elif same_model:
        verdict = (
            f"the same architecture with other block counts (hashes {hashes[0]} and "
            f"{hashes[1]}; padded, both {padded[0]})"
        )
    else:
        verdict = f"different architectures (hashes {hashes[0]} and {hashes[1]})"
    if args.json:
        print(
            json.dumps(
                {
                    "kind": "genome",
                    "a": {"hash": hashes[0], "compact": to_compact(a)},
                    "b": {"hash": hashes[1], "compact": to_compact(b)},
                    "differences": [c.as_dict() for c in changes],
                    "notes": notes,
                    "same_architecture": same_model,
                    "hashes_match": hashes[0] == hashes[1],
                    "padded_hashes": list(padded),
                    "verdict": verdict,
                }
            )
        )
        return 0
    for line in [*notes, *(str(c) for c in changes)]:
        print(line)
    if not changes:
        print("no differences in the genes")
    else:
        print(f"{len(changes)} gene{'s' if len(changes) != 1 else ''} differ")
    print(verdict)
    return 0
