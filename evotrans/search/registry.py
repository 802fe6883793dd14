"""The one registry of search algorithm names: ``[search] algorithm`` → its class.

Classes are imported when asked for, so reading the names (config validation)
imports no algorithm module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evotrans.search.base import SearchAlgorithm

#: name → (module, class); the first is the default algorithm.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "pdh": ("evotrans.search.pdh", "PDH"),
    "evolution": ("evotrans.search.evolution", "Evolution"),
    "random": ("evotrans.search.random_search", "RandomSearch"),
    "asha": ("evotrans.search.asha", "ASHA"),
    "sweep": ("evotrans.search.sweep", "Sweep"),
}
NAMES = tuple(ALGORITHMS)


def algorithm_class(name: str) -> type[SearchAlgorithm]:
    """The class registered as ``name`` (a KeyError for an unknown name)."""
    module, cls = ALGORITHMS[name]
    return getattr(importlib.import_module(module), cls)


def algorithm_name(cls: type) -> str:
    """The name ``cls`` is registered under."""
    for name, (module, attr) in ALGORITHMS.items():
        if cls.__module__ == module and cls.__qualname__ == attr:
            return name
    raise KeyError(f"{cls.__qualname__} is not a registered search algorithm")
