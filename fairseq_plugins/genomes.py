"""Resolve ``--genome`` for the genome models (parsing lives in :mod:`evotrans.genome`)."""

from __future__ import annotations

from evotrans.errors import EvotransError
from evotrans.genome import Genome, load_genome, to_compact, validate, validate_for_size
from fairseq_plugins.orders import exit_on_bad_flag


def resolve_genome(text: str, *, d: int, heads: int, lm: bool) -> tuple[Genome, str]:
    """The validated genome of ``--genome`` and its compact form (stored in the
    checkpoint, so a model never depends on the file it was read from)."""
    try:
        genome = validate(load_genome(text), lm=lm)
        validate_for_size(genome, d, heads)
    except EvotransError as err:
        exit_on_bad_flag("--genome", err)
        raise
    return genome, to_compact(genome)
