"""What ``evotrans show`` prints for genomes, as data: a genome's cells and parameter
counts (:func:`genome_summary`) and how two genomes differ (:func:`compare_genomes`).
Pure functions; the command itself is :mod:`evotrans.commands.show`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evotrans.genome.diff import GeneDiff, cell_notes, genome_diff, padded_pair
from evotrans.genome.hashing import genome_hash
from evotrans.genome.lm import without_encoder_attention
from evotrans.genome.params import cell_rows, genome_params
from evotrans.genome.serialize import to_compact
from evotrans.genome.types import Cell, Genome
from evotrans.genome.validate import validate, validate_for_size

TABLE_COLUMNS = ("block", "left", "right", "combine", "width", "params")


@dataclass(frozen=True)
class GenomeSummary:
    """A validated genome at model width ``d``: its cells (a language model's decoder cell
    only), hash and total parameters."""

    genome: Genome
    d: int
    heads: int
    vocab: int
    shared_output: bool
    lm: bool  # a language model (no encoder): its decoder cell without encoder attention
    hash: str
    total: int

    @property
    def cells(self) -> list[tuple[str, Cell]]:
        """(role, cell) as the genome holds them: the encoder's first, unless an LM."""
        cells = [] if self.lm else [("encoder", self.genome.encoder)]
        return [*cells, ("decoder", self.genome.decoder)]

    def as_json(self) -> dict[str, Any]:
        """``evotrans show GENOME --json``."""
        return {
            "hash": self.hash,
            "compact": to_compact(self.genome),
            "d": self.d,
            "vocab": self.vocab,
            "total_params": self.total,
            "cells": {
                role: {
                    "num_cells": cell.num_cells,
                    "blocks": [row.__dict__ for row in cell_rows(cell, role, self.d)],
                }
                for role, cell in self.cells
            },
        }

    def tables(self) -> list[tuple[str, list[tuple[str, ...]]]]:
        """Per cell as the model builds it: the table's title and rows (one per block, in
        :data:`TABLE_COLUMNS`, then the per-cell total)."""
        out = []
        for role, cell in self.cells:
            if self.lm and role == "decoder":
                cell = without_encoder_attention(cell)
            rows = cell_rows(cell, role, self.d)
            lines = [
                (str(r.index), r.left, r.right, r.combiner, r.width, f"{r.params:,}") for r in rows
            ]
            lines.append(("", "", "", "", "per cell", f"{sum(r.params for r in rows):,}"))
            out.append((f"{role} cell × {cell.num_cells}", lines))
        return out


def genome_summary(
    genome: Genome, *, d: int, heads: int, vocab: int, shared_output: bool
) -> GenomeSummary:
    """Validate ``genome`` (for ``d`` and ``heads``) and count its parameters."""
    lm = genome.encoder is None
    validate(genome, lm=lm)
    validate_for_size(genome, d, heads)
    total = genome_params(genome, d=d, vocab=vocab, lm=lm, shared_output=shared_output)
    return GenomeSummary(genome, d, heads, vocab, shared_output, lm, genome_hash(genome), total)


@dataclass(frozen=True)
class GenomeComparison:
    """Two genomes gene by gene, and whether they are one architecture."""

    a: Genome
    b: Genome
    changes: list[GeneDiff]
    notes: list[str]
    hashes: tuple[str, str]
    padded: tuple[str, str]  # the hashes with both padded to the same block counts

    @property
    def same_architecture(self) -> bool:
        return self.padded[0] == self.padded[1]

    @property
    def verdict(self) -> str:
        hashes = self.hashes
        if self.same_architecture and hashes[0] == hashes[1]:
            return f"identical architectures (hashes match: {hashes[0]})"
        if self.same_architecture:
            return (
                f"the same architecture with other block counts (hashes {hashes[0]} and "
                f"{hashes[1]}; padded, both {self.padded[0]})"
            )
        return f"different architectures (hashes {hashes[0]} and {hashes[1]})"

    def as_json(self) -> dict[str, Any]:
        """``evotrans show A --diff B --json`` for genomes."""
        return {
            "kind": "genome",
            "a": {"hash": self.hashes[0], "compact": to_compact(self.a)},
            "b": {"hash": self.hashes[1], "compact": to_compact(self.b)},
            "differences": [c.as_dict() for c in self.changes],
            "notes": self.notes,
            "same_architecture": self.same_architecture,
            "hashes_match": self.hashes[0] == self.hashes[1],
            "padded_hashes": list(self.padded),
            "verdict": self.verdict,
        }

    def lines(self) -> list[str]:
        """The notes, one line per differing gene, a count, then the verdict."""
        out = [*self.notes, *(str(c) for c in self.changes)]
        if not self.changes:
            out.append("no differences in the genes")
        else:
            n = len(self.changes)
            out.append(f"{n} gene{'s' if n != 1 else ''} differ")
        return [*out, self.verdict]


def compare_genomes(a: Genome, b: Genome) -> GenomeComparison:
    """The genes in which ``a`` and ``b`` differ; their hashes, also with both padded to the
    same block counts when the cells' counts differ."""
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
    return GenomeComparison(a, b, changes, notes, hashes, padded)
