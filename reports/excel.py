"""The return as an Excel workbook laid out as a Chinese statistical return form.

The workbook is written here as XML text in a stored (uncompressed) zip with fixed dates and a fixed
order, not by openpyxl: the same return gives the same bytes on any machine at any time, and the
verifier rebuilds those bytes from the signed payload alone and accepts nothing else (issue 22).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.progress import ROUND_DOWN
from reports.layout import DATA_SHEET, DEFINITIONS_SHEET, FIRST_FIGURE_ROW, FORM_SHEET, HEADER_ROW
from reports.returns import (
    DRAFT_MARK,
    FORM_AUTHORITY,
    FORM_TITLE,
    SIGN_HERE,
    ReturnData,
    notes_reference,
    shown_percent_text,
)

if TYPE_CHECKING:
    from openpyxl import Workbook

BODY_FONT = "宋体"
COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.0%"
COLUMNS = ("指标名称", "计量单位", "本季度", "本年累计", "规划累计", "规划目标", "完成率", "时间进度", "状态")
# Where each figure sits on the form, for tests and for the city's verification.
FIGURE_COLUMNS = {
    "quarter": "C",
    "ytd": "D",
    "cumulative": "E",
    "target": "F",
    "completion": "G",
    "time_progress": "H",
    "status": "I",
}
FORMULA_STARTS = ("=", "+", "-", "@")


def set_text(cell: Any, value: str) -> Any:
    """Write text that Excel can never read as a formula."""
    cell.value = value
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def _ratio(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def figure_row(data: ReturnData, code: str) -> int:
    return FIRST_FIGURE_ROW + [line.code for line in data.figures].index(code)


def rate_row(data: ReturnData, code: str) -> int:
    return FIRST_FIGURE_ROW + len(data.figures) + 1 + [r.code for r in data.rates].index(code)


def build_workbook(data: ReturnData) -> Workbook:
    """The app's workbook as an openpyxl object (for tools and tests that read or edit it)."""
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(workbook_bytes(data)))


def write_workbook(
    data: ReturnData, path: Path, payload: bytes | None = None, sign: Callable[[bytes], str] | None = None
) -> None:
    """Save the workbook; a signed one carries the payload, the manifest of its parts and the CMS signature
    over that manifest as document properties (see reports.package)."""
    path.write_bytes(workbook_bytes(data, payload, sign))


def workbook_bytes(data: ReturnData, payload: bytes | None = None, sign: Callable[[bytes], str] | None = None) -> bytes:
    """The whole .xlsx file: a draft, or signed when `payload` and `sign` are given."""
    from reports.package import pack, seal

    if payload is None or sign is None:
        return pack(list(workbook_parts(data, signed=False).items()))
    return seal(workbook_parts(data), payload, sign)


def sign_workbook(workbook: Workbook, payload: bytes, sign: Callable[[bytes], str]) -> bytes:
    """Any openpyxl workbook signed the way the app signs (tests use it to play a town's own, hostile tool:
    openpyxl's spelling is never the app's, so the verifier refuses what this makes)."""
    import zipfile

    from reports.package import CUSTOM_PROPS, seal

    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source:
        parts = {info.filename: source.read(info) for info in source.infolist() if info.filename != CUSTOM_PROPS}
    return seal(parts, payload, sign)


@dataclass(frozen=True)
class CellSpec:
    """One cell of a sheet: what it holds, how Excel formats it, and how it is styled."""

    row: int
    column: int
    value: object
    number_format: str = "General"
    role: str = "plain"

    @property
    def ref(self) -> str:
        return f"{column_letter(self.column)}{self.row}"


@dataclass(frozen=True)
class SheetSpec:
    """A whole sheet as the app writes it; the verifier expects exactly this and nothing more."""

    cells: tuple[CellSpec, ...]
    merges: tuple[str, ...]
    rows: dict[int, str]  # row -> its role, for borders
    header_text: str  # right part of the printed header
    footer_text: str  # centre part of the printed footer
    footer_left: str = ""  # left part of the printed footer
    row_breaks: tuple[int, ...] = ()  # manual page breaks, each after the row it names
    print_area: str | None = None  # e.g. "A1:I24"
    heights: dict[int, float] = field(default_factory=dict)  # row -> height in points

    def printed_texts(self) -> dict[str, str]:
        """The header/footer elements of the sheet's XML as openpyxl writes them."""
        texts = {}
        if self.header_text:
            texts["oddHeader"] = f"&R{self.header_text}"
        footer = (f"&L{self.footer_left}" if self.footer_left else "") + (
            f"&C{self.footer_text}" if self.footer_text else ""
        )
        if footer:
            texts["oddFooter"] = footer
        return texts


# Renderer 2 prints four more lines (each case count's 上期结转 and 本期受理); rows a little lower keep page 1 on A4.
FIGURE_ROW_HEIGHT = 16


def shown_ratio(value: Fraction | None, rounding: str = ROUND_DOWN) -> float | None:
    """The ratio Excel shows with 0.0% exactly as the PDF prints it (rounded the same way, never across a line)."""
    if value is None:
        return None
    text = shown_percent_text(value, rounding)
    return float(Decimal(text[:-1]) / 100)


def form_spec(data: ReturnData) -> SheetSpec:
    """Every cell of the "季报" sheet, computed from the return alone (the verifier calls this too).

    Page 1 holds the figures, a line pointing to the 附页 and the sign-off; the 说明 texts follow on a
    附页 after a manual row break.
    """
    cells: list[CellSpec] = []
    merges: list[str] = []
    rows: dict[int, str] = {}
    heights: dict[int, float] = {}
    last = column_letter(len(COLUMNS))

    def put(row: int, column: int, value: object, role: str, number_format: str = "General") -> None:
        cells.append(CellSpec(row, column, value, number_format, role))

    merges.append(f"A1:{last}1")
    put(1, 1, FORM_TITLE + ("（未签名 草稿）" if not data.signed else ""), "title")
    heights[1] = 30
    authority = f"　　批准机关：{data.authority_text}" if data.prints_authority else ""
    right = (
        (2, f"表　　号：{data.form_number_text}"),
        (3, f"制表机关：{FORM_AUTHORITY}{authority}"),
        (4, f"批准文号：{data.approval_text}"),
        (5, f"有效期至：{data.valid_until_text}　　计量单位：见各栏"),
    )
    if authority:
        heights[3] = 26  # the two 机关 share the line, wrapped in F:I
    for row, text in right:
        merges.append(f"F{row}:{last}{row}")
        put(row, 6, text, "mark")
    if not data.signed:
        merges.append("A2:E2")
        put(2, 1, DRAFT_MARK, "draft")
    merges.append("A3:E3")
    put(3, 1, f"填报单位（盖章）：{data.profile.get('unit_name') or data.town}", "head")
    merges.append("A4:E4")
    put(4, 1, f"报告期：{data.quarter.label}　　镇街：{data.town}", "head")
    merges.append("A5:E5")
    plan_line = f"规划：{data.plan_name}" if data.plan_name else "本季度不在规划期内，无规划目标"
    marks = [text for text in (data.base_text, data.gap_text) if text]
    put(5, 1, "\n".join([plan_line, *marks]), "mark")
    if marks:
        heights[5] = 15 + 15 * len(marks)
    for column, header in enumerate(data.column_headers(), start=1):
        put(HEADER_ROW, column, header, "column_header")
    heights[HEADER_ROW] = 36 if data.compares else 24
    row = FIRST_FIGURE_ROW
    for line in data.figures:
        values: tuple[object, ...] = (
            ("　　" if line.is_sub else "") + line.name,
            line.unit,
            line.quarter,
            line.ytd,
            data.shown_base(line),
            line.target,
            shown_ratio(line.completion, data.rounding),
            shown_ratio(data.time_progress, data.rounding) if line.target is not None else None,
            line.status or ("—" if line.target is None else "未填报"),
        )
        _row_cells(put, row, values)
        heights[row] = FIGURE_ROW_HEIGHT if data.carries_over else 20
        row += 1
    put(row, 1, "比率（由系统计算）", "band_left")
    counts_header, verdict_header = data.rate_count_headers
    band = ("", "本季度", data.rate_year_header, counts_header, "目标", "", "", verdict_header)
    for column, header in enumerate(band, start=2):
        put(row, column, header, "band")
    row += 1
    for rate in data.rates:
        verdict = "—" if rate.met is None else ("达标" if rate.met else "未达标")
        fraction = "—" if rate.denominator is None else f"{rate.numerator:,}/{rate.denominator:,}"
        values = (
            rate.name,
            "%",
            shown_ratio(rate.quarter_rate, data.rounding) if rate.quarter_rate is not None else rate.quarter_text,
            shown_ratio(rate.ytd_rate, data.rounding) if rate.ytd_rate is not None else rate.ytd_text,
            fraction,
            data.rate_target_text(rate.target) if data.carries_over else shown_ratio(rate.target, data.rounding),
            None,
            None,
            verdict,
        )
        _row_cells(put, row, values)
        heights[row] = FIGURE_ROW_HEIGHT if data.carries_over else 20
        row += 1
    merges.append(f"A{row}:{last}{row}")
    put(row, 1, notes_reference(data), "mark")
    heights[row] = 20
    row += 1
    profile = data.profile
    sign_off = (
        f"单位负责人：{profile.get('head', '')}　{SIGN_HERE}　　统计负责人：{profile.get('stats_head', '')}　{SIGN_HERE}",
        f"填表人：{profile.get('preparer', '')}　{SIGN_HERE}　　联系电话：{profile.get('phone', '')}",
        f"报出日期：{data.report_date}　　　　　　　　　　　　　　　　（单位盖章）",
    )
    for text in sign_off:
        merges.append(f"A{row}:{last}{row}")
        put(row, 1, text, "head")
        heights[row] = 26
        row += 1
    page_one_end = row - 1
    last_row = page_one_end
    row_breaks: tuple[int, ...] = ()
    if data.compares:
        row_breaks = (page_one_end,)
        row = _comparison_rows(data, put, merges, heights, row + 1)
        page_one_end = last_row = row - 1
    if data.notes:
        row_breaks = (*row_breaks, page_one_end)
        row += 1
        merges.append(f"A{row}:{last}{row}")
        put(row, 1, f"附页：填报说明（{data.town}　{data.quarter.label}　第 {data.revision} 版）", "annex_title")
        heights[row] = 26
        row += 1
        for column, header in ((1, "指标"), (2, "情况"), (6, "说明")):
            put(row, column, header, "column_header")
        merges.append(f"B{row}:E{row}")
        merges.append(f"F{row}:{last}{row}")
        rows[row] = "annex_header"
        row += 1
        for note in data.notes:
            put(row, 1, note.name, "note")
            merges.append(f"B{row}:E{row}")
            put(row, 2, note.finding, "note_small")
            merges.append(f"F{row}:{last}{row}")
            put(row, 6, note.text, "note")
            rows[row] = "note"
            # Merged cells do not grow by themselves: about 22 characters fit on a line of F:I.
            lines = max(2, -(-len(note.text) // 22), -(-len(note.finding) // 26))
            heights[row] = 15 * lines + 4
            row += 1
        last_row = row - 1
    header_text = DRAFT_MARK if not data.signed else f"{data.town} {data.quarter.label}"
    return SheetSpec(
        tuple(cells),
        tuple(merges),
        rows,
        header_text,
        "第 &P 页，共 &N 页",
        footer_left=f"{data.form_number}　{data.town} {data.quarter.label}　第 {data.revision} 版",
        row_breaks=row_breaks,
        print_area=f"A1:{last}{last_row}",
        heights=heights,
    )


COMPARISON_COLUMNS = ("指标名称", "计量单位", "本季度／季末数", "上季度", "增减", "增减%", "上年同期", "增减", "增减%")


def comparison_title(data: ReturnData) -> str:
    return (
        f"同比、环比（{data.town}　{data.quarter.label}；环比：与{data.previous_label}比，"
        f"同比：与{data.last_year_label}比；“—”为无可比数据）"
    )


def _comparison_rows(data: ReturnData, put, merges: list[str], heights: dict[int, float], row: int) -> int:
    """Renderer 3's 同比、环比 table below page 1 on the 季报 sheet, in the same nine columns; the next free row."""
    last = column_letter(len(COLUMNS))
    merges.append(f"A{row}:{last}{row}")
    put(row, 1, comparison_title(data), "annex_title")
    heights[row] = 26
    row += 1
    for column, header in enumerate(COMPARISON_COLUMNS, start=1):
        put(row, column, header, "column_header")
    heights[row] = 24
    row += 1
    for line, previous, year_before in data.comparison_rows():
        values: list[object] = [("　　" if line.is_sub else "") + line.name, line.unit, line.quarter]
        for comparison in (previous, year_before):
            if comparison is None:
                values += [None, None, None]
            else:
                change = comparison.change_percent
                values += [comparison.value, comparison.change, None if change is None else shown_ratio(change, data.rounding)]
        _row_cells(put, row, tuple(values))
        heights[row] = FIGURE_ROW_HEIGHT
        row += 1
    return row


DEFINITION_WIDTHS = {1: 6, 2: 34, 3: 96}
DEFINITION_LINE = 52  # about this many characters of a 解释 fit on a line of column C


def definitions_spec(data: ReturnData) -> SheetSpec:
    """Every cell of the "指标解释" sheet (renderer 3): the plan's definition of each indicator."""
    cells: list[CellSpec] = []
    merges = ["A1:C1", "A2:C2"]
    heights: dict[int, float] = {1: 26, 2: 18}
    draft = f"（{DRAFT_MARK}）" if not data.signed else ""  # every sheet of a draft says so
    cells.append(CellSpec(1, 1, data.definitions_title + draft, role="annex_title"))
    cells.append(
        CellSpec(2, 1, f"{data.town}　{data.quarter.label}　第 {data.revision} 版　（由规划给出，随季报签名）", role="mark")
    )
    for column, header in enumerate(("序号", "指标", "解释"), start=1):
        cells.append(CellSpec(3, column, header, role="column_header"))
    heights[3] = 20
    for row, item in enumerate(data.definitions, start=4):
        cells.append(CellSpec(row, 1, str(row - 3), role="cell"))
        cells.append(CellSpec(row, 2, item.name, role="note"))
        cells.append(CellSpec(row, 3, item.text, role="note"))
        lines = max(1, -(-len(item.text) // DEFINITION_LINE), -(-len(item.name) // 16))
        heights[row] = 15 * lines + 6
    last_row = 3 + len(data.definitions)
    return SheetSpec(
        tuple(cells),
        tuple(merges),
        {},
        DRAFT_MARK if not data.signed else f"{data.town} {data.quarter.label}",
        "第 &P 页，共 &N 页",
        footer_left=f"{data.form_number}　{data.town} {data.quarter.label}　第 {data.revision} 版",
        print_area=f"A1:C{last_row}",
        heights=heights,
    )


def definitions_sheet_xml(data: ReturnData) -> bytes:
    spec = definitions_spec(data)
    sheet_data, dimension = _sheet_data(spec)
    texts = spec.printed_texts()
    header_footer = "".join(
        f"<{tag}>{_cell_text(texts[tag])}</{tag}>" for tag in ("oddHeader", "oddFooter") if tag in texts
    )
    merges = "".join(f'<mergeCell ref="{area}"/>' for area in spec.merges)
    xml = (
        f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="{dimension}"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/>{_cols(DEFINITION_WIDTHS)}{sheet_data}{_PROTECTION}'
        f'<mergeCells count="{len(spec.merges)}">{merges}</mergeCells>'
        '<printOptions horizontalCentered="1"/>'
        '<pageMargins left="0.5" right="0.5" top="0.5" bottom="0.5" header="0.2" footer="0.2"/>'
        '<pageSetup paperSize="9" fitToWidth="1" fitToHeight="0" orientation="landscape"/>'
        f"<headerFooter>{header_footer}</headerFooter></worksheet>"
    )
    return xml.encode("utf-8")


def _row_cells(put, row: int, values: tuple[object, ...]) -> None:
    for column, value in enumerate(values, start=1):
        number_format = "General"
        if isinstance(value, int) and column >= 3:  # renderer 3's 同比、环比 rows hold counts in 7 and 8 too
            number_format = COUNT_FORMAT
        elif isinstance(value, float):
            number_format = PERCENT_FORMAT
        if value is None:
            put(row, column, "—" if column > 2 else None, "dash")
        else:
            role = "cell_left" if column == 1 else "cell_right" if 3 <= column <= 8 or number_format != "General" else "cell"
            put(row, column, value, role, number_format)


def data_spec(data: ReturnData) -> SheetSpec:
    """Every cell of the "数据" sheet: metadata rows, then one row per indicator code."""
    cells: list[CellSpec] = []
    meta = (
        ("town", data.town),
        ("quarter", data.quarter.code),
        ("plan", data.plan_name or ""),
        ("revision", data.revision),
        ("generated_at", data.generated_at.isoformat(timespec="seconds")),
        ("signed", "yes" if data.signed else "no"),
    )
    for row, (key, value) in enumerate(meta, start=1):
        cells.append(CellSpec(row, 1, key))
        cells.append(CellSpec(row, 2, value))
    header_row = len(meta) + 2
    headers: tuple[str, ...] = ("code", "value", "ytd", "cumulative", "target", "unit", "name")
    if data.compares:  # renderer 3: the figures 环比 and 同比 compare with, and the stock's 基期数
        headers += ("previous_quarter", "same_quarter_last_year", "base")
    for column, header in enumerate(headers, start=1):
        cells.append(CellSpec(header_row, column, header, role="bold"))
    row = header_row + 1
    compared = data.compared or {}
    for line in data.figures:
        values: tuple[object, ...] = (line.code, line.quarter, line.ytd, line.cumulative, line.target, line.unit, line.name)
        if data.compares:
            values += (*compared.get(line.code, (None, None)), (data.bases or {}).get(line.code))
        for column, value in enumerate(values, start=1):
            cells.append(CellSpec(row, column, value))
        row += 1
    for rate in data.rates:
        values = (
            rate.code,
            _ratio(rate.quarter_rate),
            _ratio(rate.ytd_rate),
            None,
            None if rate.target is None else float(rate.target),
            "ratio",
            rate.name,
        )
        for column, value in enumerate(values, start=1):
            cells.append(CellSpec(row, column, value))
        row += 1
    for note in data.notes:
        cells.append(CellSpec(row, 1, f"explain:{note.code}"))
        cells.append(CellSpec(row, 2, note.text))
        row += 1
    if not data.signed:
        cells.append(CellSpec(row + 1, 1, DRAFT_MARK))
    return SheetSpec(tuple(c for c in cells if c.value is not None), (), {}, "", "")


# --- the workbook's parts, written as text --------------------------------------------------------

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
FORM_WIDTHS = (34, 9, 12, 12, 13, 13, 10, 10, 10)
DATA_WIDTHS = {1: 28, 7: 30}

# Fonts, fills, borders and the cell formats built from them; a cell's s= is an index into _XFS.
_FONTS = (
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>',
    '<font><b/><sz val="16"/><name val="宋体"/></font>',
    '<font><sz val="9"/><name val="宋体"/></font>',
    '<font><sz val="10"/><name val="宋体"/></font>',
    '<font><b/><sz val="10"/><name val="宋体"/></font>',
    '<font><b/><sz val="13"/><name val="宋体"/></font>',
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>',
    '<font><b/><sz val="12"/><color rgb="FFC62828"/><name val="宋体"/></font>',
)
_FILLS = (
    '<fill><patternFill patternType="none"/></fill>',
    '<fill><patternFill patternType="gray125"/></fill>',
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE6F0"/><bgColor indexed="64"/></patternFill></fill>',
)
_BORDERS = (
    "<border><left/><right/><top/><bottom/><diagonal/></border>",
    '<border><left style="thin"><color rgb="FF000000"/></left><right style="thin"><color rgb="FF000000"/></right>'
    '<top style="thin"><color rgb="FF000000"/></top><bottom style="thin"><color rgb="FF000000"/></bottom><diagonal/></border>',
)
_PERCENT_ID = 164
# (font, fill, border, number format id, horizontal alignment or "", wrap)
_XFS: tuple[tuple[int, int, int, int, str, bool], ...] = (
    (0, 0, 0, 0, "", False),  # 0 plain (the 数据 sheet)
    (1, 0, 0, 0, "center", True),  # 1 title
    (2, 0, 0, 0, "left", True),  # 2 mark
    (3, 0, 0, 0, "left", True),  # 3 head
    (4, 2, 1, 0, "center", True),  # 4 column header, band
    (3, 0, 1, 0, "left", True),  # 5 first column, note
    (3, 0, 1, 0, "center", True),  # 6 cell
    (3, 0, 1, 3, "right", True),  # 7 a count (#,##0)
    (3, 0, 1, 0, "center", False),  # 8 dash
    (3, 0, 1, _PERCENT_ID, "right", True),  # 9 a percentage (0.0%)
    (4, 2, 1, 0, "left", True),  # 10 band, left
    (3, 0, 1, 0, "right", True),  # 11 a right-aligned text
    (5, 0, 0, 0, "center", True),  # 12 annex title
    (0, 0, 1, 0, "", False),  # 13 border only
    (2, 0, 1, 0, "left", True),  # 14 note, small
    (6, 0, 0, 0, "", False),  # 15 bold (the 数据 sheet's header)
    (7, 0, 0, 0, "left", True),  # 16 draft mark
)
_QUOTED = len(_XFS)  # the same formats with quotePrefix, for text Excel would otherwise read as a formula
_ROLE_XF = {
    "plain": 0,
    "title": 1,
    "mark": 2,
    "head": 3,
    "column_header": 4,
    "band": 4,
    "cell_left": 5,
    "note": 5,
    "cell": 6,
    "dash": 8,
    "band_left": 10,
    "annex_title": 12,
    "note_small": 14,
    "bold": 15,
    "draft": 16,
}
_RIGHT_XF = {COUNT_FORMAT: 7, PERCENT_FORMAT: 9, "General": 11}
_BORDERED = frozenset(i for i, xf in enumerate(_XFS) if xf[2])
# characters XML 1.0 cannot carry; a payload holding one has no spelling in a workbook
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Unrenderable(ValueError):
    """The return holds something the workbook cannot spell (a character XML forbids, a number Excel cannot hold)."""


def _styles_xml() -> str:
    xfs = []
    for quoted in (False, True):
        for font, fill, border, numfmt, horizontal, wrap in _XFS:
            attrs = f'numFmtId="{numfmt}" fontId="{font}" fillId="{fill}" borderId="{border}" xfId="0"'
            attrs += "".join(
                f' {name}="1"'
                for name, on in (
                    ("quotePrefix", quoted),
                    ("applyNumberFormat", numfmt != 0),
                    ("applyFont", font != 0),
                    ("applyFill", fill != 0),
                    ("applyBorder", border != 0),
                    ("applyAlignment", bool(horizontal or wrap)),
                )
                if on
            )
            if horizontal or wrap:
                align = f' horizontal="{horizontal}" vertical="center"' if horizontal else ""
                align += ' wrapText="1"' if wrap else ""
                xfs.append(f"<xf {attrs}><alignment{align}/></xf>")
            else:
                xfs.append(f"<xf {attrs}/>")
    return (
        f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
        f'<numFmts count="1"><numFmt numFmtId="{_PERCENT_ID}" formatCode="{PERCENT_FORMAT}"/></numFmts>'
        f'<fonts count="{len(_FONTS)}">{"".join(_FONTS)}</fonts>'
        f'<fills count="{len(_FILLS)}">{"".join(_FILLS)}</fills>'
        f'<borders count="{len(_BORDERS)}">{"".join(_BORDERS)}</borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '<dxfs count="0"/><tableStyles count="0"/></styleSheet>'
    )


STYLES_XML = _styles_xml().encode()


def column_letter(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(value: str) -> str:
    bad = _NOT_XML.search(value)
    if bad:
        raise Unrenderable(f"含有表格不能保存的字符 U+{ord(bad.group()):04X}")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


# Excel and LibreOffice read "_xHHHH_" in a cell's text as the character U+HHHH (ECMA-376 ST_Xstring);
# a typed "_x000A_" must stay those seven characters, so its underscore is written as "_x005F_".
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def _cell_text(value: str) -> str:
    return _text(_ESCAPE_LIKE.sub("_x005F_", value))


@functools.lru_cache(maxsize=16384, typed=True)  # most cells (labels, names, units) are the same in every return
def _cell_xml(ref: str, value: object, xf: int) -> str:
    style = f' s="{xf}"' if xf else ""
    if value is None:
        return f'<c r="{ref}"{style}/>'
    if isinstance(value, str):
        return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{_cell_text(value)}</t></is></c>'
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unrenderable(f"单元格 {ref} 的值类型 {type(value).__name__} 不能写入表格")
    if isinstance(value, float) and not math.isfinite(value):
        raise Unrenderable(f"单元格 {ref} 的数值 {value} 不能写入表格")
    if isinstance(value, int) and abs(value) >= 10**15:  # Excel keeps 15 digits: a larger count would show another
        raise Unrenderable(f"单元格 {ref} 的数值 {value} 超过 Excel 能准确显示的 15 位")
    return f'<c r="{ref}"{style}><v>{value!r}</v></c>'


def _xf_of(cell: CellSpec) -> int:
    if cell.role == "cell_right":
        xf = _RIGHT_XF[cell.number_format]
    else:
        xf = _ROLE_XF[cell.role]
        if cell.number_format != "General":
            raise Unrenderable(f"单元格 {cell.ref} 的数字格式 {cell.number_format} 不是本系统的")
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
        xf += _QUOTED
    return xf


@functools.lru_cache(maxsize=1024)
def _range_cells(area: str) -> tuple[tuple[int, int], ...]:
    first, last = area.split(":")
    (r0, c0), (r1, c1) = _ref_at(first), _ref_at(last)
    return tuple((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))


def _ref_at(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    column = 0
    for ch in letters:
        column = column * 26 + ord(ch) - 64
    return int(ref[len(letters) :]), column


def _sheet_data(spec: SheetSpec) -> tuple[str, str]:
    """(the <sheetData> element, the dimension) of a sheet spec."""
    cells: dict[tuple[int, int], tuple[object, int]] = {}
    for cell in spec.cells:
        if (cell.row, cell.column) in cells:
            raise Unrenderable(f"单元格 {cell.ref} 写了两次")
        cells[(cell.row, cell.column)] = (cell.value, _xf_of(cell))
    for area in spec.merges:
        covered = _range_cells(area)
        value, xf = cells.get(covered[0], (None, 0))
        for place in covered[1:]:
            # a merged area's border is drawn from its edge cells: they carry the anchor's format
            if place in cells:
                raise Unrenderable(f"合并单元格 {area} 中另有内容")
            if xf % _QUOTED in _BORDERED:
                cells[place] = (None, xf % _QUOTED)
    for row, role in spec.rows.items():
        columns = range(2, len(COLUMNS) + 1) if role == "note" else range(1, len(COLUMNS) + 1)
        for column in columns:
            cells.setdefault((row, column), (None, 13))
    rows: dict[int, list[tuple[int, str]]] = {}
    for (row, column), (value, xf) in cells.items():
        rows.setdefault(row, []).append((column, _cell_xml(f"{column_letter(column)}{row}", value, xf)))
    for row in spec.heights:
        rows.setdefault(row, [])
    out = []
    for row in sorted(rows):
        height = spec.heights.get(row)
        attrs = f' ht="{height!r}" customHeight="1"' if height is not None else ""
        out.append(f'<row r="{row}"{attrs}>{"".join(xml for _, xml in sorted(rows[row]))}</row>')
    last_row = max((r for r, _ in cells), default=1)
    last_column = max((c for _, c in cells), default=1)
    return f"<sheetData>{''.join(out)}</sheetData>", f"A1:{column_letter(last_column)}{last_row}"


_PROTECTION = (
    '<sheetProtection sheet="1" objects="1" scenarios="1" formatCells="1" formatColumns="1" formatRows="1" '
    'insertColumns="1" insertRows="1" insertHyperlinks="1" deleteColumns="1" deleteRows="1" sort="1" '
    'autoFilter="1" pivotTables="1"/>'
)


def _cols(widths: Mapping[int, float]) -> str:
    return (
        "<cols>"
        + "".join(f'<col min="{c}" max="{c}" width="{w!r}" customWidth="1"/>' for c, w in sorted(widths.items()))
        + "</cols>"
    )


def form_sheet_xml(data: ReturnData, spec: SheetSpec | None = None) -> bytes:
    spec = spec or form_spec(data)
    sheet_data, dimension = _sheet_data(spec)
    texts = spec.printed_texts()
    header_footer = "".join(
        f"<{tag}>{_cell_text(texts[tag])}</{tag}>" for tag in ("oddHeader", "oddFooter") if tag in texts
    )
    breaks = "".join(f'<brk id="{row}" max="16383" man="1"/>' for row in spec.row_breaks)
    merges = "".join(f'<mergeCell ref="{area}"/>' for area in spec.merges)
    xml = (
        f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="{dimension}"/>'
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        f'<pane ySplit="{FIRST_FIGURE_ROW - 1}" topLeftCell="A{FIRST_FIGURE_ROW}" activePane="bottomLeft" state="frozen"/>'
        f'<selection pane="bottomLeft" activeCell="A{FIRST_FIGURE_ROW}" sqref="A{FIRST_FIGURE_ROW}"/>'
        "</sheetView></sheetViews>"
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"{_cols(dict(enumerate(FORM_WIDTHS, start=1)))}{sheet_data}{_PROTECTION}"
        + (f'<mergeCells count="{len(spec.merges)}">{merges}</mergeCells>' if spec.merges else "")
        + '<printOptions horizontalCentered="1"/>'
        '<pageMargins left="0.5" right="0.5" top="0.5" bottom="0.5" header="0.2" footer="0.2"/>'
        '<pageSetup paperSize="9" fitToWidth="1" fitToHeight="0" orientation="landscape"/>'
        f"<headerFooter>{header_footer}</headerFooter>"
        + (
            f'<rowBreaks count="{len(spec.row_breaks)}" manualBreakCount="{len(spec.row_breaks)}">{breaks}</rowBreaks>'
            if breaks
            else ""
        )
        + "</worksheet>"
    )
    return xml.encode("utf-8")


def data_sheet_xml(data: ReturnData) -> bytes:
    sheet_data, dimension = _sheet_data(data_spec(data))
    xml = (
        f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        f'<dimension ref="{dimension}"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/>{_cols(DATA_WIDTHS)}{sheet_data}{_PROTECTION}'
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>'
    )
    return xml.encode("utf-8")


def print_area_name(sheet: str, area: str) -> str:
    """A print area as a workbook's defined name: 'sheet'!$A$1:$I$24."""
    first, last = area.split(":")

    def absolute(ref: str) -> str:
        letters = "".join(c for c in ref if c.isalpha())
        return f"${letters}${ref[len(letters) :]}"

    return f"'{sheet}'!{absolute(first)}:{absolute(last)}"


def _workbook_xml(spec: SheetSpec, definitions: SheetSpec | None = None) -> bytes:
    area = spec.print_area
    names = (
        f'<definedNames><definedName name="_xlnm.Print_Area" localSheetId="0">{_text(print_area_name(FORM_SHEET, area))}'
        "</definedName>"
        + (
            f'<definedName name="_xlnm.Print_Area" localSheetId="2">'
            f"{_text(print_area_name(DEFINITIONS_SHEET, definitions.print_area))}</definedName>"
            if definitions is not None and definitions.print_area
            else ""
        )
        + "</definedNames>"
        if area
        else ""
    )
    third = f'<sheet name="{DEFINITIONS_SHEET}" sheetId="3" r:id="rId4"/>' if definitions is not None else ""
    xml = (
        f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><workbookPr/>'
        '<bookViews><workbookView activeTab="0"/></bookViews><sheets>'
        f'<sheet name="{FORM_SHEET}" sheetId="1" r:id="rId1"/>'
        f'<sheet name="{DATA_SHEET}" sheetId="2" state="hidden" r:id="rId2"/>'
        f'{third}</sheets>{names}<calcPr calcId="124519"/></workbook>'
    )
    return xml.encode("utf-8")


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _core_xml(data: ReturnData) -> bytes:
    when = _utc(data.generated_at)
    xml = (
        f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_text(data.town + data.quarter.label + FORM_TITLE)}</dc:title>"
        f"<dc:creator>{_text(data.profile.get('preparer') or data.town)}</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified>'
        "</cp:coreProperties>"
    )
    return xml.encode("utf-8")


def app_xml(renderer: str) -> bytes:
    """docProps/app.xml names the renderer that wrote the workbook."""
    return (
        f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>镇街人社指标填报系统（{renderer}）</Application></Properties>"
    ).encode()

_TYPES = "application/vnd.openxmlformats-officedocument."


def _content_types(signed: bool, definitions: bool = False) -> bytes:
    overrides = [
        ("/xl/workbook.xml", _TYPES + "spreadsheetml.sheet.main+xml"),
        ("/xl/worksheets/sheet1.xml", _TYPES + "spreadsheetml.worksheet+xml"),
        ("/xl/worksheets/sheet2.xml", _TYPES + "spreadsheetml.worksheet+xml"),
        *([("/xl/worksheets/sheet3.xml", _TYPES + "spreadsheetml.worksheet+xml")] if definitions else []),
        ("/xl/styles.xml", _TYPES + "spreadsheetml.styles+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", _TYPES + "extended-properties+xml"),
    ]
    if signed:
        overrides.append(("/docProps/custom.xml", _TYPES + "custom-properties+xml"))
    xml = (
        f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in overrides)
        + "</Types>"
    )
    return xml.encode()


def _relationships(targets: list[tuple[str, str]]) -> bytes:
    xml = (
        f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">'
        + "".join(
            f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
            for n, (kind, target) in enumerate(targets, start=1)
        )
        + "</Relationships>"
    )
    return xml.encode()


_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def _root_rels(signed: bool) -> bytes:
    targets = [
        (_OFFICE_REL + "officeDocument", "xl/workbook.xml"),
        ("http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties", "docProps/core.xml"),
        (_OFFICE_REL + "extended-properties", "docProps/app.xml"),
    ]
    if signed:
        targets.append((_OFFICE_REL + "custom-properties", "docProps/custom.xml"))
    return _relationships(targets)


WORKBOOK_RELS = _relationships(
    [
        (_OFFICE_REL + "worksheet", "worksheets/sheet1.xml"),
        (_OFFICE_REL + "worksheet", "worksheets/sheet2.xml"),
        (_OFFICE_REL + "styles", "styles.xml"),
    ]
)
# renderer 3's workbook with a 指标解释 sheet: the third sheet's relationship follows the styles' (rId4), so
# the first two keep theirs
WORKBOOK_RELS_3 = _relationships(
    [
        (_OFFICE_REL + "worksheet", "worksheets/sheet1.xml"),
        (_OFFICE_REL + "worksheet", "worksheets/sheet2.xml"),
        (_OFFICE_REL + "styles", "styles.xml"),
        (_OFFICE_REL + "worksheet", "worksheets/sheet3.xml"),
    ]
)
# Where docProps/custom.xml (the payload, the manifest and the signature) goes among the parts.
CUSTOM_AFTER = "docProps/core.xml"


def workbook_parts(data: ReturnData, signed: bool = True) -> dict[str, bytes]:
    """Every part of the workbook but docProps/custom.xml, in the order the package holds them.

    Unrenderable when the return holds what a workbook cannot spell."""
    form = form_spec(data)
    definitions = definitions_spec(data) if data.has_definitions_page else None
    parts = {
        "[Content_Types].xml": _content_types(signed, definitions is not None),
        "_rels/.rels": _root_rels(signed),
        "docProps/app.xml": app_xml(data.renderer),
        "docProps/core.xml": _core_xml(data),
        "xl/workbook.xml": _workbook_xml(form, definitions),
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS if definitions is None else WORKBOOK_RELS_3,
        "xl/styles.xml": STYLES_XML,
        "xl/worksheets/sheet1.xml": form_sheet_xml(data, form),
        "xl/worksheets/sheet2.xml": data_sheet_xml(data),
    }
    if definitions is not None:
        parts["xl/worksheets/sheet3.xml"] = definitions_sheet_xml(data)
    return parts
