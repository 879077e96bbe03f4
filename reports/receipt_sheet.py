"""The city's 催报清单: the towns with no accepted return for a quarter, and those sent back and not yet
resubmitted, with whom to call (the unit and phone of their last return), as a workbook."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.quarters import Quarter

HEADERS = ("序号", "镇街", "情况", "填报单位", "联系电话", "说明")
WIDTHS = (6, 10, 14, 40, 16, 60)
# Excel reads "_xHHHH_" in a cell as the character U+HHHH: a typed one keeps its underscore (_x005F_).
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def _shown(value: object) -> object:
    return _ESCAPE_LIKE.sub("_x005F_", value) if isinstance(value, str) else value


def write_missing_workbook(
    quarter: Quarter, towns: Sequence[Mapping[str, Any]], out: Path, overwrite: bool = False
) -> Path:
    """Write the list (both or nothing: through a temp file); an existing file is kept unless `overwrite`."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from reports.files import refuse_existing, write_atomically

    if not overwrite:
        refuse_existing([out])
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "催报清单"
    sheet.append([f"{quarter.label} 催报清单（共 {len(towns)} 个镇街）"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(HEADERS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for number, town in enumerate(towns, start=1):
        note = town.get("reason") or ""
        if town.get("revision"):
            note = f"第 {town['revision']} 版已退回：{note}" if note else f"第 {town['revision']} 版已退回"
        sheet.append(
            [
                number,
                *(
                    _shown(v)
                    for v in (town["town"], town["state"], town["unit"] or "（无）", town["phone"] or "（无）", note)
                ),
            ]
        )
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):  # "=HYPERLINK(…)" typed as a phone is text, never a formula
                cell.data_type = "s"
    for column, width in zip("ABCDEF", WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=3):
        row[5].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.print_title_rows = "2:2"
    return write_atomically(out, lambda temp: workbook.save(temp))
