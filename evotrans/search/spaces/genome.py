"""The Evolved Transformer genome space for the search driver.

A spec is a genome's one-line compact form (what ``--genome`` accepts).
Every genome of the space has the paper's block counts, ``encoder_blocks = 6`` and
``decoder_blocks = 8`` per cell (So et al. 2019, Figure 1 caption), and ``num_cells``
is a gene of each cell drawn from ``num_cells`` (default 1 to 6; see
:mod:`evotrans.genome.blockspace`). A seed or spec with fewer blocks is padded with
inert blocks (the same model); one with more is an error.

Mutation re-draws each gene with probability ``mutation_p`` (the paper's 2.5 % by
default) and always gives a valid genome that differs from its parent. ``lm = true``
searches decoder cells only (for ``genome_lm``).

``block_counts = "seed"`` is the space before the fixed block counts: every genome keeps
its seed's block counts, nothing is padded and (unless ``num_cells`` is given)
``num_cells`` is not mutated. A store written before this option existed resumes in it
when its genomes have other block counts than the space (:meth:`GenomeSpace.for_store`),
so an experiment never mixes the two shapes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evotrans import genome as g
from evotrans import schema
from evotrans.errors import EvotransError
from evotrans.genome.validate import MAX_CELLS
from evotrans.schema import setting
from evotrans.search.spaces.base import seed_and_mutants

BLOCK_COUNTS = ("fixed", "seed")
SHAPE_KEYS = ("encoder_blocks", "decoder_blocks", "num_cells", "block_counts")
MAX_BLOCKS = 64  # blocks or cells of a random genome / of the space


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(key: str, value: Any) -> int:
    if not _is_int(value) or not 1 <= value <= MAX_BLOCKS:
        raise EvotransError(
            f"space.{key}: must be an integer from 1 to {MAX_BLOCKS}, got {value!r}"
        )
    return value


def _num_cells(value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise EvotransError(
            f"space.num_cells: must be a list of cell counts (e.g. [1, 2, 3, 4, 5, 6]), "
            f"got {value!r}"
        )
    for item in value:
        if not _is_int(item) or not 1 <= item <= MAX_CELLS:
            raise EvotransError(
                f"space.num_cells: {item!r} is not an integer from 1 to {MAX_CELLS}"
            )
    if len(set(value)) != len(value):
        raise EvotransError(f"space.num_cells: {list(value)} lists a count twice")
    return tuple(value)


@dataclass(frozen=True)
class GenomeTable:
    """The keys of ``[space] kind = "genome"``; :class:`GenomeSpace` checks their values
    (and gives the defaults of absent ones)."""

    mutation_p: float | None = setting(None, help="probability of re-drawing each gene")
    seed: str | None = setting(None, help="the seed genome (a seed name, JSON, compact or file)")
    random_kwargs: Mapping[str, Any] | None = setting(None, help="shape of random genomes")
    lm: bool | None = setting(None, help="decoder cells only (genome_lm)")
    d: int | None = setting(None, help="model width the genomes must fit")
    heads: int | None = setting(None, help="attention heads the genomes must fit")
    encoder_blocks: int | None = setting(None, help="blocks per encoder cell")
    decoder_blocks: int | None = setting(None, help="blocks per decoder cell")
    num_cells: Sequence[int] | None = setting(None, help="cell counts drawn from")
    block_counts: str | None = setting(None, help="fixed, or seed (the space before fixed counts)")


class GenomeSpace:
    """Genomes of the ET block space; ``seed`` is a seed name or a genome."""

    spec_kind = "genome"

    def __init__(
        self,
        mutation_p: float = 0.025,
        seed: str = "transformer",
        random_kwargs: Mapping[str, Any] | None = None,
        lm: bool = False,
        d: int | None = None,
        heads: int | None = None,
        encoder_blocks: int = g.ENCODER_BLOCKS,
        decoder_blocks: int = g.DECODER_BLOCKS,
        num_cells: Sequence[int] | None = None,
        block_counts: str = "fixed",
    ):
        if (
            isinstance(mutation_p, bool)
            or not isinstance(mutation_p, (int, float))
            or not 0 < mutation_p <= 1
        ):
            raise EvotransError(f"space.mutation_p: must be in (0, 1], got {mutation_p!r}")
        for key, value in (("d", d), ("heads", heads)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise EvotransError(f"space.{key}: must be a positive integer, got {value!r}")
        if not isinstance(lm, bool):
            raise EvotransError(f"space.lm: must be true or false, got {lm!r}")
        if block_counts not in BLOCK_COUNTS:
            raise EvotransError(
                f"space.block_counts: {block_counts!r} is not one of {', '.join(BLOCK_COUNTS)}"
            )
        self.block_counts = block_counts
        self.fixed = block_counts == "fixed"
        self.encoder_blocks = _count("encoder_blocks", encoder_blocks)
        self.decoder_blocks = _count("decoder_blocks", decoder_blocks)
        if num_cells is None:
            num_cells = g.NUM_CELLS if self.fixed else ()
        self.num_cells = _num_cells(num_cells)
        self.mutation_p = float(mutation_p)
        self.lm = lm
        self.size = (d, heads) if d and heads else None
        self.random_kwargs = self._random_kwargs(random_kwargs)
        self._args: dict[str, Any] = dict(
            mutation_p=mutation_p,
            seed=seed,
            random_kwargs=random_kwargs,
            lm=lm,
            d=d,
            heads=heads,
            encoder_blocks=encoder_blocks,
            decoder_blocks=decoder_blocks,
        )
        if not isinstance(seed, str):
            raise EvotransError("space.seed: must be a genome (a seed name, JSON, compact or file)")
        try:
            seed_genome = g.load_genome(seed)
            if self.lm:
                seed_genome = g.Genome(decoder=seed_genome.decoder)
            self.seed = self.validate(g.to_compact(seed_genome))
        except EvotransError as err:
            raise EvotransError(f"space.seed: {err}") from None

    @classmethod
    def from_config(cls, table: Mapping[str, Any], where: str = "space") -> GenomeSpace:
        """The space of a ``[space]`` table (without its ``kind``)."""
        space = cls(**schema.checked(GenomeTable, table, where))
        space.shape_configured = any(key in table for key in SHAPE_KEYS)
        return space

    shape_configured = True  # built in code: the caller chose the shape

    def __repr__(self) -> str:
        shape = (
            f"blocks={self.encoder_blocks}/{self.decoder_blocks}, num_cells={list(self.num_cells)}"
            if self.fixed
            else f"block_counts='seed', num_cells={list(self.num_cells)}"
        )
        return (
            f"GenomeSpace(mutation_p={self.mutation_p}, {shape}, seed={self.seed!r}, lm={self.lm})"
        )

    # -- the protocol ---------------------------------------------------------------------------

    def seed_individuals(self, rng: random.Random, n: int) -> list[tuple[str, str | None]]:
        return seed_and_mutants(self, self.seed, rng, n)

    def random(self, rng: random.Random) -> str:
        while True:
            kwargs = dict(self.random_kwargs)
            if self.num_cells:
                kwargs.setdefault("encoder_cells", rng.choice(self.num_cells))
                kwargs.setdefault("decoder_cells", rng.choice(self.num_cells))
            genome = g.random_genome(rng, **kwargs)
            if self._fits(genome):
                return g.to_compact(genome)

    def mutate(self, spec: str, rng: random.Random) -> tuple[str, str]:
        parent = g.from_compact(self.validate(spec))
        parent_hash = g.genome_hash(parent)
        for _ in range(1000):
            child, notes = g.mutate(parent, rng, self.mutation_p, num_cells=self.num_cells)
            if g.genome_hash(child) != parent_hash and self._fits(child):
                return g.to_compact(child), "; ".join(notes)
        raise EvotransError(f"space.mutation_p: no valid different child in 1000 tries of {spec}")

    def hash(self, spec: str) -> str:
        return g.genome_hash(g.from_compact(spec))

    def validate(self, spec: str) -> str:
        genome = g.validate(g.load_genome(spec), lm=self.lm)
        if self.fixed:
            genome = g.pad_genome(
                genome,
                self.encoder_blocks,
                self.decoder_blocks,
                options=("space.encoder_blocks", "space.decoder_blocks"),
            )
        if self.num_cells:
            for role, cell in genome.cells():
                if cell.num_cells not in self.num_cells:
                    raise EvotransError(
                        f"{role} num_cells: {cell.num_cells} is not one of space.num_cells "
                        f"({', '.join(map(str, self.num_cells))})"
                    )
        if not self._fits(genome):
            d, heads = self.size or (0, 0)
            g.validate_for_size(genome, d, heads)  # raises the named error
        return g.to_compact(genome)

    def params(self, spec: str) -> int | None:
        if self.size is None:
            return None
        return g.genome_params(g.from_compact(spec), d=self.size[0], lm=self.lm)

    # -- stores ---------------------------------------------------------------------------------

    def for_store(self, store: Any) -> GenomeSpace:
        """The space to continue ``store`` in: this one, or for a store written before
        ``[space]`` had block counts (none of :data:`SHAPE_KEYS` configured) whose
        genomes have other block counts, the same space with ``block_counts = "seed"``
        (the store is searched on as it was: nothing padded, ``num_cells`` fixed)."""
        if self.shape_configured or not self.fixed:
            return self
        specs = []
        first = store.individual_by_seq(0)
        if first is not None and first.spec_kind == self.spec_kind:
            specs.append(first.spec)
        search = store.config.get("search") or {}
        specs.extend(s for s in search.get("specs") or () if isinstance(s, str))
        for spec in specs:
            try:
                encoder, decoder = g.block_counts(g.load_genome(spec))
            except EvotransError:
                continue
            if decoder != self.decoder_blocks or encoder not in (None, self.encoder_blocks):
                legacy = GenomeSpace(**self._args, block_counts="seed")
                legacy.shape_configured = False
                return legacy
        return self

    # -- helpers --------------------------------------------------------------------------------

    def _random_kwargs(self, table: Any) -> dict[str, Any]:
        """``space.random_kwargs``: block and cell counts of random genomes, checked (in a
        fixed space the block counts are the space's)."""
        out = _random_kwargs(table)
        if self.lm:
            out.setdefault("encoder_blocks", None)
        if not self.fixed:
            return out
        for key in ("encoder_blocks", "decoder_blocks"):
            value = getattr(self, key)
            if key == "encoder_blocks" and self.lm:
                continue
            if key in out and out[key] != value:
                raise EvotransError(
                    f"space.random_kwargs.{key}: {out[key]} is not space.{key} ({value}); "
                    f"every genome of the space has {value} (set space.{key} instead)"
                )
            out[key] = value
        for key in ("encoder_cells", "decoder_cells"):
            if self.num_cells and key in out and out[key] not in self.num_cells:
                raise EvotransError(
                    f"space.random_kwargs.{key}: {out[key]} is not one of space.num_cells "
                    f"({', '.join(map(str, self.num_cells))})"
                )
        return out

    def _fits(self, genome: g.Genome) -> bool:
        if self.size is None:
            return True
        try:
            g.validate_for_size(genome, *self.size)
        except EvotransError:
            return False
        return True


RANDOM_KEYS = ("encoder_blocks", "decoder_blocks", "encoder_cells", "decoder_cells")
MAX_RANDOM = MAX_BLOCKS


def _random_kwargs(table: Any) -> dict[str, Any]:
    """``space.random_kwargs``: block and cell counts of random genomes, checked."""
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise EvotransError(f"space.random_kwargs: must be a table ({', '.join(RANDOM_KEYS)})")
    for key, value in table.items():
        if key not in RANDOM_KEYS:
            raise EvotransError(
                f"space.random_kwargs.{key}: unknown key (known: {', '.join(RANDOM_KEYS)})"
            )
        if value is None and key == "encoder_blocks":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RANDOM:
            raise EvotransError(
                f"space.random_kwargs.{key}: must be an integer from 1 to {MAX_RANDOM}"
            )
    return dict(table)
