"""The return as an Excel workbook laid out as a Chinese statistical return form."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from core.progress import ROUND_DOWN
from reports.layout import DATA_SHEET, FIRST_FIGURE_ROW, FORM_SHEET, HEADER_ROW
from reports.payload import MANIFEST_PROPERTY, PAYLOAD_PROPERTY, SIGNATURE_PROPERTY
from reports.returns import (
    DRAFT_MARK,
    FORM_AUTHORITY,
    FORM_TITLE,
    SIGN_HERE,
    ReturnData,
    notes_reference,
    shown_percent_text,
)

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

THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


def set_text(cell: Cell, value: str) -> Cell:
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
    workbook = Workbook()
    form = workbook.active
    assert form is not None
    form.title = FORM_SHEET
    _write_form(form, data)
    data_sheet = workbook.create_sheet(DATA_SHEET)
    _write_data_sheet(data_sheet, data)
    # the machine sheet (codes for the city's tools) is hidden, so a printout never shows a code;
    # the verifier accepts exactly this sheet hidden (reports.verify)
    data_sheet.sheet_state = "hidden"
    workbook.properties.title = f"{data.town}{data.quarter.label}{FORM_TITLE}"
    workbook.properties.creator = data.profile.get("preparer") or data.town
    return workbook


def write_workbook(
    data: ReturnData, path: Path, payload: bytes | None = None, sign: Callable[[bytes], str] | None = None
) -> None:
    """Save the workbook; a signed one carries the payload, the manifest of its parts and the CMS signature
    over that manifest as document properties (see reports.package)."""
    workbook = build_workbook(data)
    if payload is None or sign is None:
        workbook.save(path)
        return
    path.write_bytes(sign_workbook(workbook, payload, sign))


def sign_workbook(workbook: Workbook, payload: bytes, sign: Callable[[bytes], str]) -> bytes:
    """The signed package of any openpyxl workbook (tests use it to play a town's own, hostile tool)."""
    from reports.package import seal

    for name in (PAYLOAD_PROPERTY, MANIFEST_PROPERTY, SIGNATURE_PROPERTY):
        workbook.custom_doc_props.append(StringProperty(name=name, value="-"))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return seal(buffer.getvalue(), payload, sign)


def _style(
    cell: Cell,
    *,
    bold: bool = False,
    size: int = 10,
    align: str = "center",
    fill: PatternFill | None = None,
    border: bool = True,
    number_format: str | None = None,
) -> None:
    cell.font = Font(name=BODY_FONT, bold=bold, size=size)
    cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
    if border:
        cell.border = BORDER
    if fill:
        cell.fill = fill
    if number_format:
        cell.number_format = number_format


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
        return f"{get_column_letter(self.column)}{self.row}"


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
    last = get_column_letter(len(COLUMNS))

    def put(row: int, column: int, value: object, role: str, number_format: str = "General") -> None:
        cells.append(CellSpec(row, column, value, number_format, role))

    merges.append(f"A1:{last}1")
    put(1, 1, FORM_TITLE + ("（未签名 草稿）" if not data.signed else ""), "title")
    heights[1] = 30
    right = (
        (2, f"表　　号：{data.form_number}"),
        (3, f"制表机关：{FORM_AUTHORITY}"),
        (4, f"批准文号：{data.approval_text}"),
        (5, f"有效期至：{data.valid_until_text}　　计量单位：见各栏"),
    )
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
    put(5, 1, plan_line + (f"\n{data.base_text}" if data.base_text else ""), "mark")
    if data.base_text:
        heights[5] = 30
    for column, header in enumerate(COLUMNS, start=1):
        put(HEADER_ROW, column, data.quarter_header if column == 3 else header, "column_header")
    heights[HEADER_ROW] = 24
    row = FIRST_FIGURE_ROW
    for line in data.figures:
        values: tuple[object, ...] = (
            ("　　" if line.is_sub else "") + line.name,
            line.unit,
            line.quarter,
            line.ytd,
            line.cumulative,
            line.target,
            shown_ratio(line.completion, data.rounding),
            shown_ratio(data.time_progress, data.rounding) if line.target is not None else None,
            line.status or ("—" if line.target is None else "未填报"),
        )
        _row_cells(put, row, values)
        heights[row] = 20
        row += 1
    put(row, 1, "比率（由系统计算）", "band_left")
    band = ("", "本季度", data.rate_year_header, "分子/分母", "目标", "", "", "是否达标")
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
            shown_ratio(rate.target, data.rounding),
            None,
            None,
            verdict,
        )
        _row_cells(put, row, values)
        heights[row] = 20
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
    if data.notes:
        row_breaks = (page_one_end,)
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


def _row_cells(put, row: int, values: tuple[object, ...]) -> None:  # type: ignore[no-untyped-def]
    for column, value in enumerate(values, start=1):
        number_format = "General"
        if isinstance(value, int) and column in (3, 4, 5, 6):
            number_format = COUNT_FORMAT
        elif isinstance(value, float):
            number_format = PERCENT_FORMAT
        if value is None:
            put(row, column, "—" if column > 2 else None, "dash")
        else:
            role = "cell_left" if column == 1 else "cell_right" if 3 <= column <= 8 else "cell"
            put(row, column, value, role, number_format)


def _write_spec(ws: Worksheet, spec: SheetSpec) -> None:
    for merge in spec.merges:
        ws.merge_cells(merge)
    for c in spec.cells:
        cell = ws.cell(c.row, c.column)
        if isinstance(c.value, str):
            set_text(cell, c.value)
        elif c.value is not None:
            cell.value = c.value
        role = c.role
        if role == "title":
            _style(cell, bold=True, size=16, border=False)
        elif role == "mark":
            _style(cell, align="left", border=False, size=9)
        elif role == "head":
            _style(cell, align="left", border=False)
        elif role == "draft":
            _style(cell, bold=True, size=12, border=False, align="left")
            cell.font = Font(name=BODY_FONT, bold=True, size=12, color="C62828")
        elif role == "annex_title":
            _style(cell, bold=True, size=13, border=False)
        elif role in ("column_header", "band"):
            _style(cell, bold=True, fill=HEADER_FILL)
        elif role == "band_left":
            _style(cell, bold=True, fill=HEADER_FILL, align="left")
        elif role == "dash":
            _style(cell)
            cell.alignment = Alignment(horizontal="center", vertical="center")
        elif role in ("cell_left", "cell_right", "cell"):
            align = {"cell_left": "left", "cell_right": "right", "cell": "center"}[role]
            _style(cell, align=align, number_format=None if c.number_format == "General" else c.number_format)
        elif role == "note":
            _style(cell, align="left")
        elif role == "note_small":
            _style(cell, align="left", size=9)


def _write_form(ws: Worksheet, data: ReturnData) -> None:
    widths = (34, 9, 12, 12, 13, 13, 10, 10, 10)
    for index, width in enumerate(widths):
        ws.column_dimensions[chr(65 + index)].width = width
    spec = form_spec(data)
    _write_spec(ws, spec)
    for row, height in spec.heights.items():
        ws.row_dimensions[row].height = height
    bordered = {"note": range(2, len(COLUMNS) + 1), "annex_header": range(1, len(COLUMNS) + 1)}
    for row, role in spec.rows.items():
        for column in bordered.get(role, ()):
            ws.cell(row, column).border = BORDER
    for row in spec.row_breaks:
        ws.row_breaks.append(Break(id=row))
    if spec.print_area:
        ws.print_area = spec.print_area

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.page_margins.header = ws.page_margins.footer = 0.2
    ws.oddHeader.right.text = spec.header_text
    ws.oddFooter.left.text = spec.footer_left
    ws.oddFooter.center.text = spec.footer_text
    ws.freeze_panes = f"A{FIRST_FIGURE_ROW}"
    ws.protection.sheet = True  # read-only against slips; the signature catches deliberate edits


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
    for column, header in enumerate(("code", "value", "ytd", "cumulative", "target", "unit", "name"), start=1):
        cells.append(CellSpec(header_row, column, header, role="bold"))
    row = header_row + 1
    for line in data.figures:
        for column, value in enumerate(
            (line.code, line.quarter, line.ytd, line.cumulative, line.target, line.unit, line.name), start=1
        ):
            cells.append(CellSpec(row, column, value))
        row += 1
    for rate in data.rates:
        values = (rate.code, _ratio(rate.quarter_rate), _ratio(rate.ytd_rate), None, float(rate.target), "ratio", rate.name)
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


def _write_data_sheet(ws: Worksheet, data: ReturnData) -> None:
    """A plain table for the city's tools."""
    for c in data_spec(data).cells:
        cell = ws.cell(c.row, c.column)
        if isinstance(c.value, str):
            set_text(cell, c.value)
        else:
            cell.value = c.value
        if c.role == "bold":
            cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["G"].width = 30
    ws.protection.sheet = True
