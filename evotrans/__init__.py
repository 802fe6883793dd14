"""evotrans: evolve and reorder Transformer architectures on fairseq.

The core package is pure Python: importing it never imports torch or fairseq,
so the CLI starts fast. Models live in :mod:`fairseq_plugins`.
"""

from evotrans.errors import EvotransError

__all__ = ["EvotransError"]
__version__ = "0.1.0"
