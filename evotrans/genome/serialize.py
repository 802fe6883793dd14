"""Genome <-> JSON (stable, versioned) and <-> a one-line compact form; :func:`load_genome`.

JSON::

    {"format": "evotrans-genome", "version": 1, ["name": "..."],
     ["encoder": CELL], "decoder": CELL}
    CELL   = {"num_cells": N, "blocks": [{"left": BRANCH, "right": BRANCH, "combiner": "add"}]}
    BRANCH = {"input": 0, "norm": "layer_norm", "layer": "standard_attention",
              "output_dim": "1", "activation": "none"}

Compact grammar (one line, no spaces; the encoder cell is absent for an LM genome)::

    genome := cell [";" cell]              # "enc6[...];dec6[...]" or "dec6[...]"
    cell   := ("enc" | "dec") NUM_CELLS "[" block ("," block)* "]"
    block  := branch "+" branch "@" combiner          # left + right @ combiner
    branch := input ":" norm ":" layer ":" dim ":" activation
    norm   := "ln" | "none"                           # ("layer_norm" is read too)
    dim    := "1/2" | "1" | "2" | "4"

e.g. ``enc6[0:ln:standard_attention:1:none+0:none:identity:1:none@add,…];dec6[…]``.
Both forms are validated when read (:func:`evotrans.genome.validate.validate`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError
from evotrans.genome import space
from evotrans.genome.types import Block, Branch, Cell, Genome
from evotrans.genome.validate import not_one_of, validate

__all__ = [
    "FORMAT",
    "VERSION",
    "from_compact",
    "from_dict",
    "from_json",
    "load_genome",
    "looks_compact",
    "to_compact",
    "to_dict",
    "to_json",
]

FORMAT = "evotrans-genome"
VERSION = 1
GENES = ("input", "norm", "layer", "output_dim", "activation")
_DIMS = [space.format_dim(d) for d in space.OUTPUT_DIMS]
_NORM_SHORT = {"layer_norm": "ln", "none": "none"}
_NORM_LONG = {"ln": "layer_norm", "none": "none"}
_CELL = re.compile(r"^(enc|dec)([0-9]+)\[(.*)\]$")
_COMPACT_START = re.compile(r"^(enc|dec)[0-9]+\[")


def _dim(value: Any, where: str) -> Any:
    try:
        return space.parse_dim(value)
    except ValueError:
        raise EvotransError(f"{where} output dim: {not_one_of(value, _DIMS)}") from None


# -- JSON ---------------------------------------------------------------------------------------


def _branch_dict(b: Branch) -> dict[str, Any]:
    dim = space.format_dim(b.output_dim)
    return {
        "input": b.input,
        "norm": b.norm,
        "layer": b.layer,
        "output_dim": dim,
        "activation": b.activation,
    }


def _cell_dict(cell: Cell) -> dict[str, Any]:
    blocks = [
        {"left": _branch_dict(b.left), "right": _branch_dict(b.right), "combiner": b.combiner}
        for b in cell.blocks
    ]
    return {"num_cells": cell.num_cells, "blocks": blocks}


def to_dict(genome: Genome) -> dict[str, Any]:
    """The JSON object of a genome (keys in a fixed order)."""
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if genome.name is not None:
        out["name"] = genome.name
    for role, cell in genome.cells():
        out[role] = _cell_dict(cell)
    return out


def to_json(genome: Genome, indent: int | None = 2) -> str:
    return json.dumps(to_dict(genome), indent=indent)


def _keys(data: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    if not isinstance(data, dict):
        raise EvotransError(f"{where}: must be an object with {', '.join(required)}")
    for key in required:
        if key not in data:
            raise EvotransError(f"{where} {'output dim' if key == 'output_dim' else key}: missing")
    for key in data:
        if key not in required + optional:
            raise EvotransError(
                f"{where}: unknown key {_quote(key)} (known: {', '.join(required + optional)})"
            )


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _branch_from(data: Any, where: str) -> Branch:
    _keys(data, where, GENES)
    return Branch(
        data["input"],
        data["norm"],
        data["layer"],
        _dim(data["output_dim"], where),
        data["activation"],
    )


def _cell_from(data: Any, role: str) -> Cell:
    _keys(data, f"{role} cell", ("num_cells", "blocks"))
    if not isinstance(data["blocks"], list):
        raise EvotransError(f"{role} cell blocks: must be a list of blocks")
    blocks = []
    for i, block in enumerate(data["blocks"], start=1):
        where = f"{role} block {i}"
        _keys(block, where, ("left", "right", "combiner"))
        blocks.append(
            Block(
                _branch_from(block["left"], f"{where} left"),
                _branch_from(block["right"], f"{where} right"),
                block["combiner"],
            )
        )
    return Cell(tuple(blocks), data["num_cells"])


def from_dict(data: Any) -> Genome:
    """A validated genome from its JSON object (no ``encoder``: a language-model genome)."""
    _keys(data, "genome JSON", ("decoder",), ("format", "version", "name", "encoder"))
    if data.get("format", FORMAT) != FORMAT:
        raise EvotransError(f'genome JSON format: {_quote(data["format"])} is not "{FORMAT}"')
    if data.get("version", VERSION) != VERSION:
        raise EvotransError(f"genome JSON version: {data['version']!r} is not {VERSION}")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise EvotransError(f"genome JSON name: {name!r} is not a string")
    encoder = _cell_from(data["encoder"], "encoder") if "encoder" in data else None
    genome = Genome(decoder=_cell_from(data["decoder"], "decoder"), encoder=encoder, name=name)
    return validate(genome, lm=encoder is None)


def from_json(text: str) -> Genome:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise EvotransError(f"genome JSON: {err}") from None
    except RecursionError:
        raise EvotransError("genome JSON: nested too deeply") from None
    return from_dict(data)


# -- compact ------------------------------------------------------------------------------------


def _branch_compact(b: Branch) -> str:
    fields = (
        b.input,
        _NORM_SHORT.get(b.norm, b.norm),
        b.layer,
        space.format_dim(b.output_dim),
        b.activation,
    )
    return ":".join(str(f) for f in fields)


def _cell_compact(prefix: str, cell: Cell) -> str:
    blocks = ",".join(
        f"{_branch_compact(b.left)}+{_branch_compact(b.right)}@{b.combiner}" for b in cell.blocks
    )
    return f"{prefix}{cell.num_cells}[{blocks}]"


def to_compact(genome: Genome) -> str:
    """The one-line compact form (see the module docstring)."""
    return ";".join(_cell_compact(role[:3], cell) for role, cell in genome.cells())


def _branch_parse(text: str, where: str) -> Branch:
    fields = text.split(":")
    if len(fields) != 5:
        raise EvotransError(
            f"compact genome: {where}: expected 5 fields "
            f"input:norm:layer:dim:activation, got {len(fields)}"
        )
    raw_input, norm, layer, dim, activation = fields
    if not re.fullmatch(r"[0-9]+", raw_input):
        raise EvotransError(f"compact genome: {where} input: {_quote(raw_input)} is not an integer")
    parsed_dim = _dim(dim, f"compact genome: {where}")
    return Branch(int(raw_input), _NORM_LONG.get(norm, norm), layer, parsed_dim, activation)


def _block_parse(text: str, where: str) -> Block:
    head, sep, combiner = text.rpartition("@")
    sides = head.split("+")
    if not sep or len(sides) != 2:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise EvotransError(
            f"compact genome: {where}: expected LEFT+RIGHT@COMBINER, got {_quote(shown)}"
        )
    return Block(
        _branch_parse(sides[0], f"{where} left"),
        _branch_parse(sides[1], f"{where} right"),
        combiner,
    )


def _cell_parse(text: str, position: int) -> tuple[str, Cell]:
    match = _CELL.match(text)
    if not match:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise EvotransError(
            f"compact genome: cell {position} {_quote(shown)} is not enc<N>[...] or dec<N>[...]"
        )
    prefix, cells, body = match.groups()
    role = "encoder" if prefix == "enc" else "decoder"
    if len(cells) > 9:  # int() refuses more than 4300 digits; validate allows 1000 cells
        raise EvotransError(
            f"{role} cell num_cells: {cells[:12]}... ({len(cells)} digits) is too large"
        )
    if not body:
        raise EvotransError(f"compact genome: {role} cell: needs at least one block")
    blocks = [_block_parse(b, f"{role} block {i}") for i, b in enumerate(body.split(","), 1)]
    return role, Cell(tuple(blocks), int(cells))


def from_compact(text: str) -> Genome:
    """A validated genome from its compact form (no ``enc`` cell: a language-model genome)."""
    if not isinstance(text, str) or not text or any(c.isspace() for c in text):
        raise EvotransError("compact genome: must be one non-empty line without spaces")
    cells: dict[str, Cell] = {}
    for position, part in enumerate(text.split(";"), start=1):
        role, cell = _cell_parse(part, position)
        if role in cells:
            raise EvotransError(f"compact genome: more than one {role} cell")
        cells[role] = cell
    if "decoder" not in cells:
        raise EvotransError("compact genome: the decoder cell dec<N>[...] is missing")
    genome = Genome(decoder=cells["decoder"], encoder=cells.get("encoder"))
    return validate(genome, lm=genome.encoder is None)


# -- loading ------------------------------------------------------------------------------------


def looks_compact(text: str) -> bool:
    """Starts like a compact genome (``enc<N>[`` or ``dec<N>[``)."""
    return bool(_COMPACT_START.match(text.strip()))


def _from_text(text: str) -> Genome:
    text = text.strip()
    return from_json(text) if text.startswith("{") else from_compact(text)


def load_genome(source: str | os.PathLike[str]) -> Genome:
    """A validated genome from a seed name (``transformer``, ``evolved_transformer``), a JSON
    string, a compact string, or the path of a file holding JSON or a compact genome."""
    from evotrans.genome.seeds import SEEDS

    if isinstance(source, os.PathLike):
        path = Path(source)
    else:
        if not isinstance(source, str):
            raise EvotransError(f"genome: {source!r} is not a genome text or path")
        text = source.strip()
        if text in SEEDS:
            return validate(SEEDS[text]())
        if text.startswith("{") or looks_compact(text):
            return _from_text(text)
        path = Path(text)
        try:
            is_file = path.is_file()
        except (OSError, ValueError):
            is_file = False
        if not is_file:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise EvotransError(
                f"genome {_quote(shown)}: not a seed ({', '.join(SEEDS)}), a JSON "
                "or compact genome, or an existing file"
            )
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise EvotransError(f"genome file {path}: cannot be read ({err})") from None
    try:
        return _from_text(content)
    except EvotransError as err:
        raise EvotransError(f"genome file {path}: {err}") from None
