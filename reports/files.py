"""File names that sort and say what they are, and writes that never leave half a file."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import DomainError
from core.files import fsync_folder
from core.quarters import Quarter
from core.text import character_kind


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


def refuse_folders(paths: list[Path]) -> None:
    """A target that is a folder is never moved aside or replaced (not even with --overwrite)."""
    folders = [p for p in paths if p.is_dir()]
    if folders:
        names = "、".join(printable(p.name) for p in folders)
        raise OutputExists(
            f"{printable(str(folders[0].parent))} 中已有同名的文件夹：{names}。文件夹不会被覆盖，未写入任何文件；"
            "请换一个输出位置或先移走该文件夹"
        )


def refuse_existing(paths: list[Path]) -> None:
    refuse_folders(paths)
    existing = [p for p in paths if p.exists()]
    if existing:
        names = "、".join(p.name for p in existing)
        raise OutputExists(
            f"{existing[0].parent} 中已有同名文件：{names}。为免覆盖，未写入任何文件；如需覆盖请加 --overwrite"
        )


# The files this system writes through stage_file: returns, summaries, 汇总表, receipts, notices, 催报清单.
OUR_SUFFIXES = (".xlsx", ".pdf", ".receipt", ".notice")
# stage_file's temp: "." + the file's name + "." + mkstemp's random characters + ".part", and the signing
# step's ".unsigned" beside a PDF's temp.
_TEMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.part(\.unsigned)?$")


def is_our_temp(name: str) -> bool:
    match = _TEMP.match(name)
    return match is not None and match.group("name").lower().endswith(OUR_SUFFIXES)


def remove_stale_temp_files(folder: Path) -> None:
    """Temp files a killed writer left in this folder (`….xlsx.XXXXXXXX.part`, `….pdf.XXXXXXXX.part.unsigned`,
    a receipt's or notice's `.part`): only the names of this system's temps, only in the folder about to be
    written (one directory listing, no other folder is looked at)."""
    try:
        candidates = [entry for entry in os.scandir(folder) if entry.name.startswith(".") and is_our_temp(entry.name)]
    except OSError:
        return
    for entry in candidates:
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            pass


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temp file in the same folder, flushed to disk, then renamed into place.

    Temp files a crash left behind in the folder are removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    placed = place_files([(stage_file(path, write), path)])
    settle(placed, keep_new=True)
    return path


def write_all_or_none(jobs: list[tuple[Path, Callable[[Path], None]]]) -> list[Path]:
    """Write several files that belong together (the 汇总表's workbook and PDF): each staged whole beside
    its place first, then all renamed in; a failure in any leaves the folder as it was."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, write in jobs:
            staged.append((stage_file(path, write), path))
    except BaseException:
        for temp, _path in staged:
            temp.unlink(missing_ok=True)
        raise
    settle(place_files(staged), keep_new=True)
    return [path for path, _write in jobs]


def stage_file(path: Path, write: Callable[[Path], None]) -> Path:
    """The file written whole, flushed to disk, beside `path` under a temp name (not in place yet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_folders([path])
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide the return from the office's other accounts
        with temp.open("rb+") as f:
            os.fsync(f.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


@dataclass(frozen=True)
class Placed:
    """A file renamed into place, and where the file it replaced waits until the change is settled."""

    path: Path
    previous: Path | None


def place_files(staged: list[tuple[Path, Path]]) -> list[Placed]:
    """Rename staged files into place; a file already there is moved aside first, not deleted, so that
    `settle(..., keep_new=False)` can put it back. All or none: a failure puts back what was moved."""
    placed: list[Placed] = []
    try:
        refuse_folders([path for _temp, path in staged])  # before anything is moved
        for temp, path in staged:
            previous = None
            if path.exists():
                previous = path.with_name(
                    f".{path.name}.{os.getpid()}.previous"
                )  # not a stale temp the next export removes
                os.replace(path, previous)
            try:
                os.replace(temp, path)
            except BaseException:
                if previous is not None:
                    os.replace(previous, path)
                raise
            placed.append(Placed(path, previous))
        if staged:
            fsync_folder(staged[0][1].parent)
    except BaseException:
        settle(placed, keep_new=False)
        for temp, _path in staged:
            temp.unlink(missing_ok=True)
        raise
    return placed


def settle(placed: list[Placed], keep_new: bool) -> None:
    """Keep the new files (drop the ones they replaced), or take them back (put the old ones back)."""
    for item in reversed(placed):
        if keep_new:
            if item.previous is not None:
                item.previous.unlink(missing_ok=True)
        elif item.previous is not None:
            os.replace(item.previous, item.path)
        else:
            item.path.unlink(missing_ok=True)


def printable(name: str) -> str:
    """A file name safe to print on one line: control characters (and backslashes) escaped."""
    out = []
    for char in name:
        if char == "\\":
            out.append("\\\\")
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or character_kind(char) is not None:
            out.append(
                f"\\x{ord(char):02x}"
                if ord(char) < 0x100
                else (f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
            )
        else:
            out.append(char)
    return "".join(out)
