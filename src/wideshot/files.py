"""Writing files so that a reader never sees half of one (interrupted runs, power cuts)."""
from __future__ import annotations

import os
from pathlib import Path


def replace_atomically(temporary: Path, path: Path) -> None:
    """Flush ``temporary`` to disk and move it to ``path`` in one step (same file system)."""
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` in one step (a temporary file beside it, then a rename)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".partial")
    try:
        temporary.write_bytes(data)
        replace_atomically(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
