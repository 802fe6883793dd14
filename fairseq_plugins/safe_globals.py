"""Allow-list what fairseq checkpoints pickle, for torch's ``weights_only`` loading.

torch >= 2.6 loads checkpoints with ``weights_only=True``. fairseq checkpoints
written through the legacy argparse path store an ``argparse.Namespace`` under
``"args"``; nothing else in them needs a custom global. We add exactly these
to torch's allow-list instead of disabling the protection
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) for everything.
"""

from __future__ import annotations

import argparse

SAFE_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def register() -> None:
    """Add :data:`SAFE_GLOBALS` to torch's allow-list (no-op on torch < 2.4)."""
    import torch.serialization

    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:
        add(list(SAFE_GLOBALS))
