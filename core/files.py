"""File-system steps every layer that renames files needs, standard library only."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make renames in `folder` durable; Windows has no directory handles to flush (NTFS journals the rename)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
