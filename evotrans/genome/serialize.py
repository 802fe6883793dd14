"""Genome ⇄ JSON (stable, versioned) and ⇄ a one-line compact form; content hash.

Compact grammar (one line, no spaces)::

    genome := cell (";" cell)?          # "enc…;dec…", or "dec…" alone for an LM
    cell   := ("enc" | "dec") CELLS "[" block ("," block)* "]"
    block  := branch "+" branch "@" combiner
    branch := input ":" norm ":" layer ":" dim ":" activation     # norm: ln | none

e.g. ``dec6[0:ln:standard_attention:1:none+0:none:identity:1:none@add,…]``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError
from evotrans.genome import space
from evotrans.genome.types import Block, Branch, Cell, Genome

FORMAT = "evotrans-genome"
VERSION = 1
_NORM_SHORT = {"layer_norm": "ln", "none": "none"}
_NORM_LONG = {v: k for k, v in _NORM_SHORT.items()}
_CELL = re.compile(r"^(enc|dec)(\d+)\[(.*)\]$")


# -- JSON -------------------------------------------------------------------------------------


def _branch_dict(b: Branch) -> dict[str, Any]:
    return {
        "input": b.input,
        "norm": b.norm,
        "layer": b.layer,
        "output_dim": space.format_dim(b.output_dim),
        "activation": b.activation,
    }


def _cell_dict(cell: Cell) -> dict[str, Any]:
    return {
        "num_cells": cell.num_cells,
        "blocks": [
            {"left": _branch_dict(b.left), "right": _branch_dict(b.right), "combiner": b.combiner}
            for b in cell.blocks
        ],
    }


def to_dict(genome: Genome) -> dict[str, Any]:
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if genome.encoder is not None:
        out["encoder"] = _cell_dict(genome.encoder)
    out["decoder"] = _cell_dict(genome.decoder)
    return out


def to_json(genome: Genome, indent: int | None = 2) -> str:
    return json.dumps(to_dict(genome), indent=indent, sort_keys=False)


def _branch_from(data: Any, where: str) -> Branch:
    if not isinstance(data, dict):
        raise EvotransError(
            f"{where}: must be an object with input, norm, layer, output_dim, activation"
        )
    for key in ("input", "norm", "layer", "output_dim", "activation"):
        if key not in data:
            raise EvotransError(f"{where} {key.replace('_', ' ')}: missing")
    extra = set(data) - {"input", "norm", "layer", "output_dim", "activation"}
    if extra:
        raise EvotransError(f"{where}: unknown gene {sorted(extra)[0]!r}")
    try:
        dim = space.parse_dim(data["output_dim"])
    except (ValueError, ZeroDivisionError):
        raise EvotransError(
            f"{where} output dim: {data['output_dim']!r} is not one of 1/2, 1, 2, 4"
        ) from None
    return Branch(data["input"], data["norm"], data["layer"], dim, data["activation"])


def _cell_from(data: Any, role: str) -> Cell:
    if not isinstance(data, dict) or not isinstance(data.get("blocks"), list):
        raise EvotransError(f"{role} cell: must be an object with num_cells and blocks")
    blocks = []
    for i, block in enumerate(data["blocks"], start=1):
        if not isinstance(block, dict):
            raise EvotransError(f"{role} block {i}: must be an object with left, right, combiner")
        for key in ("left", "right", "combiner"):
            if key not in block:
                raise EvotransError(f"{role} block {i} {key}: missing")
        blocks.append(
            Block(
                _branch_from(block["left"], f"{role} block {i} left"),
                _branch_from(block["right"], f"{role} block {i} right"),
                block["combiner"],
            )
        )
    return Cell(tuple(blocks), data.get("num_cells", 1))


def from_dict(data: Any) -> Genome:
    from evotrans.genome.validate import validate

    if not isinstance(data, dict):
        raise EvotransError("genome JSON: the top level must be an object")
    if data.get("format", FORMAT) != FORMAT:
        raise EvotransError(f"genome JSON: format {data.get('format')!r} is not {FORMAT!r}")
    if data.get("version", VERSION) != VERSION:
        raise EvotransError(f"genome JSON: version {data.get('version')!r} is not {VERSION}")
    if "decoder" not in data:
        raise EvotransError("genome JSON: decoder cell missing")
    encoder = _cell_from(data["encoder"], "encoder") if "encoder" in data else None
    genome = Genome(decoder=_cell_from(data["decoder"], "decoder"), encoder=encoder)
    return validate(genome, lm=encoder is None)


def from_json(text: str) -> Genome:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise EvotransError(f"genome JSON: {err}") from None
    return from_dict(data)


# -- compact ----------------------------------------------------------------------------------


def _branch_compact(b: Branch) -> str:
    return ":".join(
        [
            str(b.input),
            _NORM_SHORT.get(b.norm, b.norm),
            b.layer,
            space.format_dim(b.output_dim),
            b.activation,
        ]
    )


def _cell_compact(prefix: str, cell: Cell) -> str:
    blocks = ",".join(
        f"{_branch_compact(b.left)}+{_branch_compact(b.right)}@{b.combiner}" for b in cell.blocks
    )
    return f"{prefix}{cell.num_cells}[{blocks}]"


def to_compact(genome: Genome) -> str:
    parts = [] if genome.encoder is None else [_cell_compact("enc", genome.encoder)]
    return ";".join([*parts, _cell_compact("dec", genome.decoder)])


def _branch_parse(text: str, where: str) -> Branch:
    fields = text.split(":")
    if len(fields) != 5:
        raise EvotransError(
            f"compact genome: {where}: expected 5 fields input:norm:layer:dim:activation, "
            f"got {len(fields)}"
        )
    raw_input, norm, layer, dim, activation = fields
    if not raw_input.isdigit():
        raise EvotransError(f"compact genome: {where} input: {raw_input!r} is not an integer")
    try:
        parsed_dim = space.parse_dim(dim)
    except (ValueError, ZeroDivisionError):
        raise EvotransError(
            f"compact genome: {where} output dim: {dim!r} is not one of 1/2, 1, 2, 4"
        ) from None
    return Branch(int(raw_input), _NORM_LONG.get(norm, norm), layer, parsed_dim, activation)


def _cell_parse(text: str) -> tuple[str, Cell]:
    match = _CELL.match(text)
    if not match:
        raise EvotransError(f"compact genome: cell {text[:30]!r} is not enc<N>[…] or dec<N>[…]")
    prefix, cells, body = match.groups()
    role = "encoder" if prefix == "enc" else "decoder"
    blocks = []
    for i, block in enumerate(body.split(",") if body else [], start=1):
        head, sep, combiner = block.rpartition("@")
        if not sep:
            raise EvotransError(f"compact genome: {role} block {i}: missing @combiner")
        sides = head.split("+")
        if len(sides) != 2:
            raise EvotransError(f"compact genome: {role} block {i}: expected LEFT+RIGHT")
        blocks.append(
            Block(
                _branch_parse(sides[0], f"{role} block {i} left"),
                _branch_parse(sides[1], f"{role} block {i} right"),
                combiner,
            )
        )
    return role, Cell(tuple(blocks), int(cells))


def from_compact(text: str) -> Genome:
    from evotrans.genome.validate import validate

    if not text or any(c.isspace() for c in text):
        raise EvotransError("compact genome: must be one non-empty line without spaces")
    cells = dict(_cell_parse(part) for part in text.split(";"))
    if "decoder" not in cells:
        raise EvotransError("compact genome: decoder cell (dec<N>[…]) missing")
    genome = Genome(decoder=cells["decoder"], encoder=cells.get("encoder"))
    return validate(genome, lm=genome.encoder is None)


# -- loading and hashing ----------------------------------------------------------------------


def load_genome(text: str) -> Genome:
    """A seed name, a JSON file path, a JSON string or a compact genome."""
    from evotrans.genome.seeds import SEEDS

    if text in SEEDS:
        return SEEDS[text]()
    stripped = text.strip()
    if stripped.startswith("{"):
        return from_json(stripped)
    if stripped.endswith(".json") or (len(stripped) < 4096 and "[" not in stripped):
        path = Path(stripped)
        if not path.is_file():
            raise EvotransError(
                f"genome {stripped!r}: not a seed ({', '.join(SEEDS)}), a file or a genome"
            )
        return from_json(path.read_text(encoding="utf-8"))
    return from_compact(stripped)


def canonical(genome: Genome) -> Genome:
    """Equal architectures → equal genomes: irrelevant genes normalized, commutative
    combiners' branches ordered."""

    def branch(b: Branch) -> Branch:
        if b.layer == "dead_branch":
            return Branch(0, "none", "dead_branch", Fraction(1), "none")
        if b.layer in space.WIDTH_PRESERVING:
            return replace(b, output_dim=Fraction(1))
        return b

    def cell(c: Cell | None) -> Cell | None:
        if c is None:
            return None
        blocks = []
        for b in c.blocks:
            left, right = branch(b.left), branch(b.right)
            if b.combiner in ("add", "multiply") and _key(right) < _key(left):
                left, right = right, left
            blocks.append(Block(left, right, b.combiner))
        return Cell(tuple(blocks), c.num_cells)

    return Genome(decoder=cell(genome.decoder), encoder=cell(genome.encoder))


def _key(b: Branch) -> tuple:
    return (b.input, b.norm, b.layer, b.output_dim, b.activation)


def genome_hash(genome: Genome) -> str:
    """Content hash (16 hex digits), equal for equal architectures."""
    text = json.dumps(to_dict(canonical(genome)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
