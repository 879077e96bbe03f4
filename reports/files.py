"""File names that sort and say what they are, and writes that never leave half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import DomainError
from core.quarters import Quarter


class OutputExists(DomainError):
    pass


def return_file_names(quarter: Quarter, town: str, revision: int = 1) -> dict[str, str]:
    suffix = "" if revision <= 1 else f"_第{revision}版"
    stem = f"{quarter.code}_{town}"
    return {
        "workbook": f"{stem}_季报{suffix}.xlsx",
        "pdf": f"{stem}_季报{suffix}.pdf",
        "summary": f"{stem}_摘要{suffix}.pdf",
    }


def refuse_existing(paths: list[Path]) -> None:
    existing = [p for p in paths if p.exists()]
    if existing:
        names = "、".join(p.name for p in existing)
        raise OutputExists(
            f"{existing[0].parent} 中已有同名文件：{names}。为免覆盖，未写入任何文件；如需覆盖请加 --overwrite"
        )


def remove_stale_temp_files(folder: Path) -> None:
    """Temp files of returns and summaries that a killed export left in this folder (`.part`, `.part.unsigned`)."""
    for stale in folder.glob(".[0-9][0-9][0-9][0-9]Q[1-4]_*.part*"):
        try:
            stale.unlink()
        except OSError:
            pass


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temp file in the same folder, flushed to disk, then renamed into place.

    Temp files a crash left behind in the folder are removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide the return from the office's other accounts
        with temp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def printable(name: str) -> str:
    """A file name safe to print on one line: control characters (and backslashes) escaped."""
    out = []
    for char in name:
        if char == "\\":
            out.append("\\\\")
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or char in "\u2028\u2029\u202e\u202d\u200e\u200f":
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
