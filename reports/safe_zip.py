"""Checks on an .xlsx (a zip) before any parser expands it."""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.errors import DomainError, os_reason
from reports.files import printable

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_EXPANDED_BYTES = 100 * 1024 * 1024
MAX_MEMBERS = 2000
MAX_RATIO = 200


class UnsafeFile(DomainError):
    """A file refused before it is parsed: not what it claims to be, damaged, or hostile."""


def check_xlsx(path: Path) -> None:
    """Refuse a file that is not a zip, is truncated, or would expand to an absurd size."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnsafeFile(f"{printable(path.name)}：无法读取文件（{os_reason(exc)}）") from exc
    if size > MAX_FILE_BYTES:
        raise UnsafeFile(f"{printable(path.name)}：文件大小 {size / 1048576:.1f} MB，超过 {MAX_FILE_BYTES // 1048576} MB 上限")
    if not zipfile.is_zipfile(path):
        raise UnsafeFile(f"{printable(path.name)}：不是有效的 Excel（.xlsx）文件，可能已损坏或只是改了扩展名")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise UnsafeFile(f"{printable(path.name)}：包含 {len(members)} 个部件，不像正常的 Excel 文件")
            declared = sum(m.file_size for m in members)
            if declared > MAX_EXPANDED_BYTES:
                raise UnsafeFile(f"{printable(path.name)}：解压后将达 {declared / 1048576:.0f} MB，拒绝打开（疑似压缩炸弹）")
            for member in members:
                if (
                    member.compress_size
                    and member.file_size / member.compress_size > MAX_RATIO
                    and member.file_size > 1048576
                ):
                    raise UnsafeFile(f"{printable(path.name)}：部件 {printable(member.filename)} 压缩比异常，拒绝打开（疑似压缩炸弹）")
            if "[Content_Types].xml" not in archive.namelist():
                raise UnsafeFile(f"{printable(path.name)}：不是有效的 Excel（.xlsx）文件")
    except zipfile.BadZipFile as exc:
        raise UnsafeFile(f"{printable(path.name)}：文件已损坏或不完整（{printable(str(exc))}）") from exc
