"""Is a checkpoint file whole? Checked without torch, before a trial continues from it.

``torch.save`` writes a zip archive (every checkpoint fairseq writes with
torch ≥ 1.6). A file cut short by a crash, a kill or a full disk has lost the
archive's end record; a file damaged in the middle fails a member's CRC. Both
are found here in one read of the file; a file in torch's older pickle format
is not judged (fairseq will say).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

_ZIP_MAGIC = b"PK\x03\x04"


def problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a whole checkpoint (``"truncated: ..."``, ``"empty"``, ...),
    or None when it looks whole (or is in a format not checked here)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    if not head:
        return "empty (0 bytes)"
    if head != _ZIP_MAGIC:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as err:
        return f"truncated or damaged ({err}; {path.stat().st_size} bytes)"
    except (EOFError, OSError, zlib.error, ValueError) as err:
        return f"truncated or damaged ({type(err).__name__}: {err})"
    if bad is not None:
        return f"damaged (CRC mismatch in {bad})"
    return None


def move_aside(path: str | Path, tag: str) -> Path:
    """Rename a bad checkpoint to ``<name>.corrupt-<tag>`` (kept for inspection)."""
    path = Path(path)
    target = path.with_name(f"{path.name}.corrupt-{tag}")
    path.replace(target)
    return target
