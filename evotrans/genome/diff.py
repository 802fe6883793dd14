"""Gene-by-gene differences between two genomes (``evotrans show A --diff B``).

A gene is one of a branch's five genes, a block's combiner or a cell's ``num_cells``.
Cells with different block counts are compared after padding the shorter one with
inert blocks (:func:`evotrans.genome.blockspace.pad_cell`: the same model). Genes are
compared as written, not canonically: two genomes can differ in genes that do not change
the model (a dead branch's layer inputs), which their hashes then show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import Any

from evotrans.genome import space
from evotrans.genome.blockspace import pad_cell
from evotrans.genome.types import Block, Cell, Genome

BRANCH_GENES = ("input", "norm", "layer", "output_dim", "activation")


@dataclass(frozen=True)
class GeneDiff:
    """One gene that differs: ``block`` and ``branch`` are None for ``num_cells``, ``branch``
    is None for a combiner."""

    cell: str
    block: int | None
    branch: str | None
    gene: str
    a: Any
    b: Any

    def where(self) -> str:
        parts = [self.cell]
        if self.block is not None:
            parts.append(f"block {self.block}")
        if self.branch is not None:
            parts.append(self.branch)
        parts.append(self.gene if self.gene == "num_cells" else self.gene.replace("_", " "))
        return " ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {_text(self.a)} -> {_text(self.b)}"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["a"], out["b"], out["text"] = _json(self.a), _json(self.b), str(self)
        return out


def _text(value: Any) -> str:
    return space.format_dim(value) if isinstance(value, Fraction) else str(value)


def _json(value: Any) -> Any:
    return space.format_dim(value) if isinstance(value, Fraction) else value


def _cell_diff(role: str, a: Cell, b: Cell) -> list[GeneDiff]:
    out = []
    if a.num_cells != b.num_cells:
        out.append(GeneDiff(role, None, None, "num_cells", a.num_cells, b.num_cells))
    for index, (x, y) in enumerate(zip(a.blocks, b.blocks, strict=True), start=1):
        for (side, bx), (_, by) in zip(x.branches(), y.branches(), strict=True):
            for gene in BRANCH_GENES:
                va, vb = getattr(bx, gene), getattr(by, gene)
                if va != vb:
                    out.append(GeneDiff(role, index, side, gene, va, vb))
        if x.combiner != y.combiner:
            out.append(GeneDiff(role, index, None, "combiner", x.combiner, y.combiner))
    return out


def padded_pair(a: Cell, b: Cell, role: str) -> tuple[Cell, Cell]:
    """Both cells with the larger block count (the shorter one padded)."""
    blocks = max(len(a.blocks), len(b.blocks))
    return pad_cell(a, blocks, role), pad_cell(b, blocks, role)


def genome_diff(a: Genome, b: Genome) -> list[GeneDiff]:
    """The genes in which ``a`` and ``b`` differ, cell by cell (encoder first), block by
    block; the shorter of two cells is padded first. A cell only one genome has (a
    language-model genome has no encoder) is not compared: see :func:`cell_notes`."""
    out: list[GeneDiff] = []
    for role in ("encoder", "decoder"):
        x, y = getattr(a, role), getattr(b, role)
        if x is None or y is None:
            continue
        out.extend(_cell_diff(role, *padded_pair(x, y, role)))
    return out


def cell_notes(a: Genome, b: Genome) -> list[str]:
    """One line per cell that differs in shape: blocks per cell, or present in one genome."""
    notes = []
    for role in ("encoder", "decoder"):
        x, y = getattr(a, role), getattr(b, role)
        if x is None and y is None:
            continue
        if x is None or y is None:
            which = "A" if y is None else "B"
            notes.append(f"{role} cell: only {which} has one (the other is a language model's)")
        elif len(x.blocks) != len(y.blocks):
            short = "A" if len(x.blocks) < len(y.blocks) else "B"
            notes.append(
                f"{role} cell: A has {len(x.blocks)} blocks, B has {len(y.blocks)}; "
                f"{short} compared padded with inert blocks (the same model)"
            )
    return notes


def set_gene(genome: Genome, change: GeneDiff, value: Any | None = None) -> Genome:
    """``genome`` with the gene ``change`` names set to ``value`` (default ``change.b``)."""
    value = change.b if value is None else value
    cell: Cell = getattr(genome, change.cell)
    if change.block is None:
        return replace(genome, **{change.cell: Cell(cell.blocks, value)})
    blocks = list(cell.blocks)
    block: Block = blocks[change.block - 1]
    if change.branch is None:
        block = replace(block, combiner=value)
    else:
        branch = replace(getattr(block, change.branch), **{change.gene: value})
        block = replace(block, **{change.branch: branch})
    blocks[change.block - 1] = block
    return replace(genome, **{change.cell: Cell(tuple(blocks), cell.num_cells)})


def order_diff(a: str, b: str) -> tuple[list[tuple[int, str, str]], list[str]]:
    """Sublayer orders: ``(position, a's letter, b's letter)`` for each differing position
    (1-based) of the common length, and a line for a length difference."""
    changed = [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=False), start=1) if x != y]
    notes = []
    if len(a) != len(b):
        longer, name = (a, "A") if len(a) > len(b) else (b, "B")
        short = min(len(a), len(b))
        extra = longer[short:]
        span = f"{short + 1}" if len(extra) == 1 else f"{short + 1}-{len(longer)}"
        notes.append(f"length: {len(a)} -> {len(b)} (only {name} has positions {span}: {extra})")
    return changed, notes
