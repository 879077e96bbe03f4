"""The return as an Excel workbook laid out as a Chinese statistical return form."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from reports.layout import DATA_SHEET, FIRST_FIGURE_ROW, FORM_SHEET, HEADER_ROW
from reports.payload import PAYLOAD_PROPERTY, SIGNATURE_PROPERTY
from reports.returns import DRAFT_MARK, FORM_AUTHORITY, FORM_NUMBER, FORM_TITLE, SIGN_HERE, ReturnData, notes_reference

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
    _write_data_sheet(workbook.create_sheet(DATA_SHEET), data)
    workbook.properties.title = f"{data.town}{data.quarter.label}{FORM_TITLE}"
    workbook.properties.creator = data.profile.get("preparer") or data.town
    return workbook


def write_workbook(data: ReturnData, path: Path, payload: bytes | None = None, signature: str | None = None) -> None:
    """Save the workbook; a signed one carries the payload and its CMS signature as document properties."""
    workbook = build_workbook(data)
    if payload is not None and signature is not None:
        workbook.custom_doc_props.append(StringProperty(name=PAYLOAD_PROPERTY, value=payload.decode("utf-8")))
        workbook.custom_doc_props.append(StringProperty(name=SIGNATURE_PROPERTY, value=signature))
    workbook.save(path)


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


def _write_form(ws: Worksheet, data: ReturnData) -> None:
    widths = (34, 9, 12, 12, 13, 13, 10, 10, 10)
    for index, width in enumerate(widths):
        ws.column_dimensions[chr(65 + index)].width = width
    last = chr(64 + len(COLUMNS))
    ws.merge_cells(f"A1:{last}1")
    title = FORM_TITLE + ("（未签名 草稿）" if not data.signed else "")
    _style(set_text(ws["A1"], title), bold=True, size=16, border=False)
    ws.row_dimensions[1].height = 30
    right = (
        (2, f"表　　号：{FORM_NUMBER}"),
        (3, f"制表机关：{FORM_AUTHORITY}"),
        (4, f"批准文号：{data.approval_text}"),
        (5, f"有效期至：{data.valid_until_text}　　计量单位：见各栏"),
    )
    for row, text in right:
        ws.merge_cells(f"F{row}:{last}{row}")
        _style(set_text(ws[f"F{row}"], text), align="left", border=False, size=9)
    if not data.signed:
        ws.merge_cells("A2:E2")
        cell = set_text(ws["A2"], DRAFT_MARK)
        _style(cell, bold=True, size=12, border=False, align="left")
        cell.font = Font(name=BODY_FONT, bold=True, size=12, color="C62828")
    ws.merge_cells("A3:E3")
    _style(
        set_text(ws["A3"], f"填报单位（盖章）：{data.profile.get('unit_name') or data.town}"),
        align="left",
        border=False,
    )
    ws.merge_cells("A4:E4")
    _style(set_text(ws["A4"], f"报告期：{data.quarter.label}　　镇街：{data.town}"), align="left", border=False)
    plan = f"规划：{data.plan_name}" if data.plan_name else "本季度不在规划期内，无规划目标"
    ws.merge_cells("A5:E5")
    _style(set_text(ws["A5"], plan), align="left", border=False, size=9)
    for column, header in enumerate(COLUMNS, start=1):
        _style(set_text(ws.cell(HEADER_ROW, column), header), bold=True, fill=HEADER_FILL)
    ws.row_dimensions[HEADER_ROW].height = 24
    row = FIRST_FIGURE_ROW
    for line in data.figures:
        cells = (
            ("　　" if line.is_sub else "") + line.name,
            line.unit,
            line.quarter,
            line.ytd,
            line.cumulative,
            line.target,
            _ratio(line.completion),
            _ratio(data.time_progress) if line.target is not None else None,
            line.status or ("—" if line.target is None else "未填报"),
        )
        _write_row(ws, row, cells)
        row += 1
    _style(set_text(ws.cell(row, 1), "比率（由系统计算）"), bold=True, fill=HEADER_FILL, align="left")
    for column, header in enumerate(("", "本季度", "本年累计", "分子/分母", "目标", "", "", "是否达标"), start=2):
        _style(set_text(ws.cell(row, column), header), bold=True, fill=HEADER_FILL)
    row += 1
    for rate in data.rates:
        verdict = "—" if rate.met is None else ("达标" if rate.met else "未达标")
        fraction = "—" if rate.denominator is None else f"{rate.numerator:,}/{rate.denominator:,}"
        cells = (
            rate.name,
            "%",
            _ratio(rate.quarter_rate) if rate.quarter_rate is not None else rate.quarter_text,
            _ratio(rate.ytd_rate) if rate.ytd_rate is not None else rate.ytd_text,
            fraction,
            float(rate.target),
            None,
            None,
            verdict,
        )
        _write_row(ws, row, cells)
        row += 1
    # Page 1: the figures, a line pointing to the 附页, and the sign-off; the 说明 texts follow on a 附页.
    ws.merge_cells(f"A{row}:{last}{row}")
    _style(set_text(ws.cell(row, 1), notes_reference(data)), align="left", border=False, size=9)
    ws.row_dimensions[row].height = 20
    row += 1
    profile = data.profile
    sign_off = (
        f"单位负责人：{profile.get('head', '')}　{SIGN_HERE}　　统计负责人：{profile.get('stats_head', '')}　{SIGN_HERE}",
        f"填表人：{profile.get('preparer', '')}　{SIGN_HERE}　　联系电话：{profile.get('phone', '')}",
        f"报出日期：{data.report_date}　　　　　　　　　　　　　　　　（单位盖章）",
    )
    for text in sign_off:
        ws.merge_cells(f"A{row}:{last}{row}")
        _style(set_text(ws.cell(row, 1), text), align="left", border=False)
        ws.row_dimensions[row].height = 26
        row += 1
    page_one_end = row - 1
    last_row = page_one_end
    if data.notes:
        ws.row_breaks.append(Break(id=page_one_end))
        row += 1
        ws.merge_cells(f"A{row}:{last}{row}")
        title = f"附页：填报说明（{data.town}　{data.quarter.label}　第 {data.revision} 版）"
        _style(set_text(ws.cell(row, 1), title), bold=True, size=13, border=False)
        ws.row_dimensions[row].height = 26
        row += 1
        for column, header in ((1, "指标"), (2, "情况"), (6, "说明")):
            _style(set_text(ws.cell(row, column), header), bold=True, fill=HEADER_FILL)
        ws.merge_cells(f"B{row}:E{row}")
        ws.merge_cells(f"F{row}:{last}{row}")
        for column in range(1, len(COLUMNS) + 1):
            ws.cell(row, column).border = BORDER
        row += 1
        for note in data.notes:
            _style(set_text(ws.cell(row, 1), note.name), align="left")
            ws.merge_cells(f"B{row}:E{row}")
            _style(set_text(ws.cell(row, 2), note.finding), align="left", size=9)
            ws.merge_cells(f"F{row}:{last}{row}")
            _style(set_text(ws.cell(row, 6), note.text), align="left")
            for column in range(2, len(COLUMNS) + 1):
                ws.cell(row, column).border = BORDER
            # Merged cells do not grow by themselves: about 22 characters fit on a line of F:I.
            lines = max(2, -(-len(note.text) // 22), -(-len(note.finding) // 26))
            ws.row_dimensions[row].height = 15 * lines + 4
            row += 1
        last_row = row - 1
    ws.print_area = f"A1:{last}{last_row}"

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.page_margins.header = ws.page_margins.footer = 0.2
    ws.oddHeader.right.text = DRAFT_MARK if not data.signed else f"{data.town} {data.quarter.label}"
    ws.oddFooter.left.text = f"{FORM_NUMBER}　{data.town} {data.quarter.label}　第 {data.revision} 版"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.freeze_panes = f"A{FIRST_FIGURE_ROW}"
    ws.protection.sheet = True  # read-only against slips; the signature catches deliberate edits


def _write_row(ws: Worksheet, row: int, cells: tuple[object, ...]) -> None:
    for column, value in enumerate(cells, start=1):
        cell = ws.cell(row, column)
        if isinstance(value, str):
            set_text(cell, value)
        else:
            cell.value = value
        number_format = None
        if isinstance(value, int) and column in (3, 4, 5, 6):
            number_format = COUNT_FORMAT
        elif isinstance(value, float):
            number_format = PERCENT_FORMAT
        _style(
            cell,
            align="left" if column == 1 else "right" if column in (3, 4, 5, 6, 7, 8) else "center",
            number_format=number_format,
        )
        if value is None:
            cell.value = "—" if column > 2 else None
            cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[row].height = 20


def _write_data_sheet(ws: Worksheet, data: ReturnData) -> None:
    """A plain table for the city's tools: metadata rows, then one row per indicator code."""
    meta = (
        ("town", data.town),
        ("quarter", data.quarter.code),
        ("plan", data.plan_name or ""),
        ("revision", data.revision),
        ("generated_at", data.generated_at.isoformat(timespec="seconds")),
        ("signed", "yes" if data.signed else "no"),
    )
    for row, (key, value) in enumerate(meta, start=1):
        ws.cell(row, 1, key)
        if isinstance(value, str):
            set_text(ws.cell(row, 2), value)
        else:
            ws.cell(row, 2, value)
    header_row = len(meta) + 2
    for column, header in enumerate(("code", "value", "ytd", "cumulative", "target", "unit", "name"), start=1):
        ws.cell(header_row, column, header).font = Font(bold=True)
    row = header_row + 1
    for line in data.figures:
        for column, value in enumerate(
            (line.code, line.quarter, line.ytd, line.cumulative, line.target, line.unit, line.name), start=1
        ):
            ws.cell(row, column, value)
        row += 1
    for rate in data.rates:
        values = (
            rate.code,
            _ratio(rate.quarter_rate),
            _ratio(rate.ytd_rate),
            None,
            float(rate.target),
            "ratio",
            rate.name,
        )
        for column, value in enumerate(values, start=1):
            ws.cell(row, column, value)
        row += 1
    for note in data.notes:
        ws.cell(row, 1, f"explain:{note.code}")
        set_text(ws.cell(row, 2), note.text)
        row += 1
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["G"].width = 30
    if not data.signed:
        ws.cell(row + 1, 1, DRAFT_MARK)
    ws.protection.sheet = True
