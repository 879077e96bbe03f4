"""The city summary (汇总表) as a workbook and a PDF, in the annex's layout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path

from core.comparison import change_percent_text, change_text
from core.consolidation import CitySummary, stated_base_difference
from core.indicators import SHIPPED, Catalogue, Kind
from core.plans import CITY, TOWNS
from core.progress import ROUND_TOWARD_ZERO, IndicatorProgress, Progress, percent, rate_text, shown_percent

TITLE = "东莞市各园区、镇（街）人社主要指标完成情况汇总表"
GROWTH_COMPLETION = "较基期增长完成率"
COMPARISON_SHEET = "同比环比"
COMPARISON_TITLES = ("本季度／季末数", "上季度", "环比增减", "环比增减%", "上年同期", "同比增减", "同比增减%")
MISSING = "缺报"
CONFLICT = "冲突"


@dataclass(frozen=True)
class Column:
    group: str
    title: str
    kind: str  # count / percent / status / rate
    short: str = ""  # the indicator's short name, for narrow on-screen headers


def columns(catalogue: Catalogue = SHIPPED) -> list[Column]:
    """The summary's columns for the indicator list of the quarter's plan (CitySummary.catalogue)."""
    result = []
    for code in catalogue.planned_codes:
        indicator = catalogue.by_code[code]
        group = f"{catalogue.display_name(code)}（{indicator.unit}）"
        if indicator.kind is Kind.STOCK:
            # issue 26: the base the stock's rate is growth from, beside it, and the rate named for what it is
            titles = [
                ("季末数", "count"),
                ("基期数", "count"),
                ("目标", "count"),
                (GROWTH_COMPLETION, "percent"),
                ("状态", "status"),
            ]
        else:
            titles = [
                ("本季度", "count"),
                ("本年累计", "count"),
                ("规划累计", "count"),
                ("目标", "count"),
                ("完成率", "percent"),
                ("状态", "status"),
            ]
        result += [Column(group, title, kind, indicator.short_name) for title, kind in titles]
    result += [Column(rate.name + "（本年）", "", "rate", rate.short_name + "（本年）") for rate in catalogue.rates]
    return result


def _indicator_cells(item: IndicatorProgress, stock: bool) -> list[object]:
    if stock:
        return [item.cumulative, item.base, item.target, item.completion, item.status]
    return [item.quarter_value, item.ytd, item.cumulative, item.target, item.completion, item.status]


def row_values(progress: Progress) -> list[object]:
    cells: list[object] = []
    catalogue = progress.catalogue
    for code in catalogue.planned_codes:
        cells += _indicator_cells(progress.indicators[code], catalogue.by_code[code].kind is Kind.STOCK)
    cells += [progress.rates_ytd[r.code] for r in catalogue.rates]
    return cells


def table_rows(summary: CitySummary, conflicted: set[str]) -> list[tuple[str, str, list[object] | None]]:
    """(序号, 镇街, cells or None when the town has no counted return)."""
    rows: list[tuple[str, str, list[object] | None]] = [("合计", summary.city_label, row_values(summary.city))]
    for number, town in enumerate(TOWNS, start=1):
        progress = summary.towns.get(town)
        rows.append((str(number), town, row_values(progress) if progress else None))
    return rows


def comparison_groups(catalogue: Catalogue = SHIPPED) -> list[tuple[str, str]]:
    """(code, group title) of the 同比、环比 table: each planned indicator, seven columns under it."""
    return [
        (code, f"{catalogue.display_name(code)}（{catalogue.by_code[code].unit}）") for code in catalogue.planned_codes
    ]


def comparison_cells(progress: Progress) -> list[str]:
    """A row of the 同比、环比 table as printed: per planned indicator this quarter's figure, 上季度 with 增减
    and 增减%, 上年同期 with 增减 and 增减% (— where the city holds nothing to compare)."""
    cells: list[str] = []
    for code in progress.catalogue.planned_codes:
        previous, year_before = progress.comparisons.get(code, (None, None))
        cells.append(summary_cell_text(progress.indicators[code].quarter_value, "count"))
        for comparison in (previous, year_before):
            cells += [
                summary_cell_text(comparison.value if comparison else None, "count"),
                change_text(comparison),
                change_percent_text(comparison, ROUND_TOWARD_ZERO),
            ]
    return cells


def comparison_rows(summary: CitySummary) -> list[tuple[str, str, list[str] | None]]:
    """(序号, 镇街, cells or None) of the 同比、环比 table, the 全市 row first."""
    rows: list[tuple[str, str, list[str] | None]] = [("合计", summary.city_label, comparison_cells(summary.city))]
    for number, town in enumerate(TOWNS, start=1):
        progress = summary.towns.get(town)
        rows.append((str(number), town, comparison_cells(progress) if progress else None))
    return rows


def comparison_note(summary: CitySummary) -> str:
    quarter = summary.quarter
    return (
        f"环比：与{quarter.previous().label}比；同比：与{quarter.year - 1}年第{quarter.q}季度比；"
        "各镇街按市局收到的该季度季报，全市行按本季度已报送镇街在比较期的合计（其中有镇街缺比较期数据时不比）；"
        "增减% = 增减 ÷ 比较期，向零取一位小数；“—”为无可比数据。"
    )


def attention_lines(summary: CitySummary, conflicted: set[str]) -> list[str]:
    display_name = summary.catalogue.display_name
    lines = []
    if summary.city_label != CITY:
        lines.append(
            f"{summary.city_label}：全市行只合计已报送的 {len(summary.reporting)} 个镇街，与它们自己的目标之和比较"
        )
    annex = [
        f"{display_name(code)} {percent(value)}" for code, value in summary.annex_completion.items() if value is not None
    ]
    if annex and summary.city_label != CITY:
        lags = "、".join(f"{town}落后 {n} 个季度" for town, n in summary.annex_lags.items())
        counted = f"未报送本季度的镇街按其最近一次签名的规划累计计：{lags}；其余" if lags else ""
        lines.append(f"按附件全市目标计算的完成率（{counted}未报送镇街按 0 计）：" + "，".join(annex))
    for code, summed, stated in stated_base_difference(summary):
        lines.append(
            f"全市{display_name(code)}基期数（{len(summary.reporting)} 个报送镇街之和）{summed:,}，"
            f"规划所列 {stated:,}，相差 {summed - stated:+,}"
        )
    for code in summary.catalogue.stock_codes:
        if code not in summary.catalogue.planned_codes:
            continue
        below = [
            t
            for t, p in ((summary.city_label, summary.city), *summary.towns.items())
            if (item := p.indicators[code]).base is not None and item.quarter_value is not None
            and item.quarter_value < item.base
        ]
        if below:
            lines.append(
                f"{display_name(code)}季末数低于基期数、{GROWTH_COMPLETION}为负数（{len(below)}）：{'、'.join(below)}"
            )
    for town, flags in summary.checks.items():
        if flags:
            lines.append(f"{town}：" + "；".join(flags))
    if summary.missing:
        lines.append(f"缺报（{len(summary.missing)}）：{'、'.join(summary.missing)}")
    if conflicted:
        lines.append(
            f"同一版本有不同内容、未计入（{len(conflicted)}）：{'、'.join(sorted(conflicted, key=TOWNS.index))}"
        )
    for code, towns in summary.severely_behind.items():
        if towns:
            lines.append(f"{display_name(code)}严重滞后（{len(towns)}）：{'、'.join(towns)}")
    for code, towns in summary.behind.items():
        if towns:
            lines.append(f"{display_name(code)}滞后（{len(towns)}）：{'、'.join(towns)}")
    for code, towns in summary.below_rate_target.items():
        if towns:
            name = summary.catalogue.rate_by_code[code].name
            lines.append(f"{name}低于目标（{len(towns)}）：{'、'.join(towns)}")
    return lines


def summary_cell_text(value: object, kind: str) -> str:
    """A cell of the city's 汇总表 as printed and shown: counts with thousands separators, rates and
    percentages as the returns print them, "—" where there is no figure."""
    if value is None:
        return "—"
    if kind == "count":
        return f"{value:,}"
    if kind == "percent":
        return percent(value)  # type: ignore[arg-type]
    if kind == "rate":
        return rate_text(value)  # type: ignore[arg-type]
    return str(value)


def write_city_workbook(summary: CitySummary, conflicted: set[str], path: Path, made_on: date | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from reports.excel import set_text

    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    fill = PatternFill("solid", fgColor="DDE6F0")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "汇总表"
    cols = columns(summary.catalogue)
    last = get_column_letter(2 + len(cols))
    ws.merge_cells(f"A1:{last}1")
    ws["A1"] = f"{TITLE}（{summary.quarter.label}）"
    ws["A1"].font = Font(name="宋体", bold=True, size=15)
    ws["A1"].alignment = Alignment(horizontal="center")
    plan = (
        f"规划：{summary.plan.name}　时间进度 {percent(summary.city.time_progress)}"
        if summary.plan
        else "本季度无规划目标"
    )
    ws.merge_cells(f"A2:{last}2")
    ws["A2"] = (
        f"{plan}　已报送 {len(summary.reporting)}/{len(TOWNS)} 个镇街；全市数为已报送镇街之和，比率由分子分母合计计算"
    )
    ws["A2"].font = Font(name="宋体", size=9)
    for column, title in ((1, "序号"), (2, "镇街")):
        ws.merge_cells(start_row=4, start_column=column, end_row=5, end_column=column)
        ws.cell(4, column, title)
    groups: dict[str, list[int]] = {}
    for index, col in enumerate(cols, start=3):
        groups.setdefault(col.group, []).append(index)
        if col.title:
            ws.cell(5, index, col.title)
    for group, indexes in groups.items():
        ws.merge_cells(
            start_row=4, start_column=indexes[0], end_row=4 if cols[indexes[0] - 3].title else 5, end_column=indexes[-1]
        )
        ws.cell(4, indexes[0], group)
    row = 6
    for seq, town, cells in table_rows(summary, conflicted):
        ws.cell(row, 1, seq)
        ws.cell(row, 2, town)
        if cells is None:
            ws.cell(row, 3, CONFLICT if town in conflicted else MISSING)
        else:
            for index, (col, value) in enumerate(zip(cols, cells, strict=True), start=3):
                cell = ws.cell(row, index)
                if col.kind == "count":
                    cell.value = value
                    cell.number_format = "#,##0"
                elif col.kind == "percent":
                    cell.value = None if value is None else float(shown_percent(value))  # type: ignore[arg-type]
                    cell.number_format = "0.0%"
                elif col.kind == "rate":
                    rate = value.rate  # type: ignore[attr-defined]
                    if rate is None:
                        set_text(cell, rate_text(value))  # type: ignore[arg-type]
                    else:
                        cell.value = float(shown_percent(rate))
                        cell.number_format = "0.0%"
                else:
                    set_text(cell, str(value or "—"))
        row += 1
    for r in ws.iter_rows(min_row=4, max_row=row - 1, max_col=2 + len(cols)):
        for cell in r:
            cell.border = border
            cell.font = Font(name="宋体", size=9, bold=cell.row in (4, 5, 6))
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            if cell.row in (4, 5):
                cell.fill = fill
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 8
    for index in range(3, 3 + len(cols)):
        ws.column_dimensions[get_column_letter(index)].width = 10
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.merge_cells(start_row=row + 1, start_column=1, end_row=row + 1, end_column=2 + len(cols))
    set_text(ws.cell(row + 1, 1), sign_off_line(made_on or date.today()))
    ws.cell(row + 1, 1).font = Font(name="宋体", size=10)
    ws.row_dimensions[row + 1].height = 28
    ws.print_title_rows = "4:5"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.freeze_panes = "C6"
    ws.protection.sheet = True

    _comparison_sheet(wb.create_sheet(COMPARISON_SHEET), summary)

    notes = wb.create_sheet("排名与提示")
    notes["A1"] = f"{summary.quarter.label} 排名与需要关注的镇街"
    notes["A1"].font = Font(name="宋体", bold=True, size=13)
    line = 3
    for text in attention_lines(summary, conflicted) or ["各镇街均按时报送，均达到时间进度和比率目标。"]:
        set_text(notes.cell(line, 1), text)
        line += 1
    line += 1
    display_name = summary.catalogue.display_name
    for code in summary.catalogue.planned_codes:
        notes.cell(line, 1, f"{display_name(code)}完成率排名").font = Font(name="宋体", bold=True)
        line += 1
        for rank, (town, _) in enumerate(summary.ranking(code), start=1):
            exact = summary.towns[town].indicators[code].completion
            assert exact is not None
            notes.cell(line, 1, rank)
            notes.cell(line, 2, town)
            notes.cell(line, 3, float(shown_percent(exact))).number_format = "0.0%"
            line += 1
        line += 1
    notes.column_dimensions["A"].width = 60

    data = wb.create_sheet("数据")
    # counts and rates each under their own headed columns: a rate's numerator and denominator are never
    # put under the count columns (issue 15)
    data.append(DATA_HEADERS)
    for town, progress in ((summary.city_label, summary.city), *summary.towns.items()):
        for code, item in progress.indicators.items():
            previous, year_before = progress.comparisons.get(code, (None, None))
            # a 季末数 has no 本年累计 or 规划累计 (issue 26 item 6): blank, as consolidate --json gives null
            stock = code in progress.catalogue.stock_codes
            year_total, plan_total = (None, None) if stock else (item.ytd, item.cumulative)
            data.append(
                [town, code, display_name(code), item.quarter_value, year_total, plan_total, item.target, item.base]
                + [None] * 7
                + [previous.value if previous else None, year_before.value if year_before else None]
            )
        for rate in progress.catalogue.rates:
            qtr, ytd = progress.rates_quarter[rate.code], progress.rates_ytd[rate.code]
            data.append(
                [town, rate.code, rate.name, None, None, None, None, None]
                + [qtr.numerator, qtr.denominator, _shown(qtr.rate)]
                + [ytd.numerator, ytd.denominator, _shown(ytd.rate), None if ytd.target is None else float(ytd.target)]
                + [None, None]
            )
    for row in data.iter_rows(min_row=2):
        for cell in (row[10], row[13], row[14]):
            cell.number_format = "0.0%"
    for cell in data[1]:
        cell.font = Font(bold=True)
    definitions = summary.plan.definitions if summary.plan else ()
    if definitions:  # the last sheet: the plan's 指标解释 (issue 26)
        sheet = wb.create_sheet(DEFINITIONS_TITLE)
        sheet.merge_cells("A1:C1")
        sheet["A1"] = definitions_heading(summary)
        sheet["A1"].font = Font(name="宋体", bold=True, size=13)
        sheet["A1"].alignment = Alignment(horizontal="center")
        for column, title in enumerate(("序号", "指标", "解释"), start=1):
            cell = sheet.cell(2, column, title)
            cell.font = Font(name="宋体", bold=True, size=10)
            cell.fill = fill
            cell.border = border
        for row, definition in enumerate(definitions, start=3):
            for column, value in enumerate((row - 2, definition.name, definition.text), start=1):
                cell = set_text(sheet.cell(row, column), value) if isinstance(value, str) else sheet.cell(row, column, value)
                cell.font = Font(name="宋体", size=10)
                cell.border = border
                cell.alignment = Alignment(vertical="center", wrap_text=True, horizontal="center" if column == 1 else "left")
            sheet.row_dimensions[row].height = 15 * max(1, -(-len(definition.text) // 52)) + 6
        for letter, width in (("A", 6), ("B", 34), ("C", 96)):
            sheet.column_dimensions[letter].width = width
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.protection.sheet = True
    wb.save(path)


def _comparison_sheet(ws, summary: CitySummary) -> None:
    """The 同比、环比 table: per planned indicator this quarter's figure against 上季度 and 上年同期."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from reports.excel import set_text

    thin = Side(style="thin", color="000000")
    groups = comparison_groups(summary.catalogue)
    width = 2 + len(COMPARISON_TITLES) * len(groups)
    last = get_column_letter(width)
    ws.merge_cells(f"A1:{last}1")
    ws["A1"] = f"{TITLE}：同比、环比（{summary.quarter.label}）"
    ws["A1"].font = Font(name="宋体", bold=True, size=13)
    ws.merge_cells(f"A2:{last}2")
    ws["A2"] = comparison_note(summary)
    ws["A2"].font = Font(name="宋体", size=9)
    for column, title in ((1, "序号"), (2, "镇街")):
        ws.merge_cells(start_row=4, start_column=column, end_row=5, end_column=column)
        ws.cell(4, column, title)
    for index, (_, group) in enumerate(groups):
        first = 3 + index * len(COMPARISON_TITLES)
        ws.merge_cells(start_row=4, start_column=first, end_row=4, end_column=first + len(COMPARISON_TITLES) - 1)
        ws.cell(4, first, group)
        for offset, title in enumerate(COMPARISON_TITLES):
            ws.cell(5, first + offset, title)
    row = 6
    for seq, town, cells in comparison_rows(summary):
        ws.cell(row, 1, seq)
        ws.cell(row, 2, town)
        if cells is None:
            ws.cell(row, 3, MISSING)
        else:
            for offset, text in enumerate(cells):
                set_text(ws.cell(row, 3 + offset), text)
        row += 1
    for cells_row in ws.iter_rows(min_row=4, max_row=row - 1, max_col=width):
        for cell in cells_row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.font = Font(name="宋体", size=9, bold=cell.row in (4, 5, 6))
            cell.alignment = Alignment(horizontal="center" if cell.row < 6 or cell.column < 3 else "right", vertical="center", wrap_text=True)
            if cell.row in (4, 5):
                cell.fill = PatternFill("solid", fgColor="DDE6F0")
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 8
    for index in range(3, width + 1):
        ws.column_dimensions[get_column_letter(index)].width = 10
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "4:5"
    ws.freeze_panes = "C6"
    ws.protection.sheet = True


def _comparison_table(summary: CitySummary, available: float):
    """The 同比、环比 table of the 汇总表's PDF, its columns measured from its texts like the main table's."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    from reports.pdf import FONT, paragraph_style

    groups = comparison_groups(summary.catalogue)
    n = len(COMPARISON_TITLES)
    header1: list[object] = ["序号", "镇街"]
    header2: list[object] = ["", ""]
    spans = [("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1))]
    for index, (_, group) in enumerate(groups):
        header1 += [Paragraph(group, paragraph_style(6.5, 1)), *([""] * (n - 1))]
        header2 += list(COMPARISON_TITLES)
        spans.append(("SPAN", (2 + index * n, 0), (1 + (index + 1) * n, 0)))
    rows: list[list[object]] = [header1, header2]
    texts: list[list[str]] = [["", "", *COMPARISON_TITLES * len(groups)]]
    for seq, town, cells in comparison_rows(summary):
        if cells is None:
            rows.append([seq, town, MISSING, *([""] * (n * len(groups) - 1))])
            spans.append(("SPAN", (2, len(rows) - 1), (1 + n * len(groups), len(rows) - 1)))
            continue
        rows.append([seq, town, *cells])
        texts.append([seq, town, *cells])
    size, widths = fit_columns(texts, FONT, 6.5, available, [8 * mm, 12 * mm] + [8 * mm] * (n * len(groups)))
    table = Table(rows, colWidths=widths, repeatRows=2)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, size),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#dde6f0")),
                ("BACKGROUND", (0, 2), (-1, 2), colors.HexColor("#f3f6fa")),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("ALIGN", (2, 2), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
                *spans,
            ]
        )
    )
    return table


DEFINITIONS_TITLE = "指标解释"


def definitions_heading(summary: CitySummary) -> str:
    plan = summary.plan.name if summary.plan else ""
    return f"指标解释（{plan}；{summary.quarter.label}汇总表附页）"


DATA_HEADERS = [
    "镇街",
    "代码",
    "指标",
    "本季度／季末数",
    "本年累计",
    "规划累计",
    "规划目标",
    "基期数",
    "本季度分子",
    "本季度分母",
    "本季度比率",
    "本年分子",
    "本年分母",
    "本年比率",
    "比率目标",
    "上季度",  # the figures 环比 and 同比 compare with (issue 26), blank where nothing compares
    "上年同期",
]


def _shown(value: Fraction | None) -> float | None:
    return None if value is None else float(shown_percent(value))


CELL_PADDING = 2.0  # points left and right of each cell's text in the PDF table
SIGN_OFF_UNIT = "东莞市人力资源和社会保障局"


def sign_off_line(made_on: date) -> str:
    """The summary's sign-off: who made it, who checked it, when."""
    return (
        f"制表单位（盖章）：{SIGN_OFF_UNIT}　　　审核人：＿＿＿＿＿＿　　　制表人：＿＿＿＿＿＿　　　"
        f"制表日期：{made_on.year}年{made_on.month}月{made_on.day}日"
    )


def fit_columns(
    texts: list[list[str]], font: str, size: float, available: float, minimum: list[float]
) -> tuple[float, list[float]]:
    """Column widths that hold every text at one font size, shrinking the size until the table fits."""
    from reportlab.pdfbase import pdfmetrics

    count = len(minimum)
    while True:
        widths = list(minimum)
        for row in texts:
            for column, text in enumerate(row[:count]):
                if text:
                    needed = pdfmetrics.stringWidth(text, font, size) + 2 * CELL_PADDING + 1
                    widths[column] = max(widths[column], needed)
        if sum(widths) <= available or size <= 4.5:
            spare = max(available - sum(widths), 0) / count
            return size, [w + spare for w in widths]
        size -= 0.25


def write_city_pdf(summary: CitySummary, conflicted: set[str], path: Path, made_on: date | None = None) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from reports.pdf import FONT, STATUS_COLOURS, definitions_table, paragraph_style, register_font

    register_font()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=page,
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"{TITLE}（{summary.quarter.label}）",
        initialFontName=FONT,
    )
    cols = columns(summary.catalogue)
    header1: list[object] = ["序号", "镇街"]
    header2: list[object] = ["", ""]
    spans = [("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1))]
    index = 2
    seen: dict[str, int] = {}
    for col in cols:
        if col.group not in seen:
            seen[col.group] = index
            header1.append(Paragraph(col.group, paragraph_style(6.5, 1)))
        else:
            header1.append("")
        header2.append(col.title)
        index += 1
    for group, start in seen.items():
        end = start + sum(1 for c in cols if c.group == group) - 1
        if cols[start - 2].title:
            spans.append(("SPAN", (start, 0), (end, 0)))
        else:
            spans.append(("SPAN", (start, 0), (start, 1)))
    rows: list[list[object]] = [header1, header2]
    status_styles = []
    for seq, town, cells in table_rows(summary, conflicted):
        if cells is None:
            rows.append([seq, town, CONFLICT if town in conflicted else MISSING, *([""] * (len(cols) - 1))])
            spans.append(("SPAN", (2, len(rows) - 1), (len(cols) + 1, len(rows) - 1)))
            last_row = len(rows) - 1
            status_styles += [
                ("TEXTCOLOR", (0, last_row), (-1, last_row), colors.HexColor("#8b0000")),
                ("BACKGROUND", (0, last_row), (-1, last_row), colors.HexColor("#f4b4b4")),
                ("ALIGN", (2, last_row), (-1, last_row), "CENTER"),
            ]
            continue
        texts = [summary_cell_text(v, c.kind) for v, c in zip(cells, cols, strict=True)]
        rows.append([seq, town, *texts])
        for offset, (col, value) in enumerate(zip(cols, cells, strict=True)):
            if col.kind == "status" and value in STATUS_COLOURS:
                position = (2 + offset, len(rows) - 1)
                status_styles.append(("TEXTCOLOR", position, position, colors.HexColor(STATUS_COLOURS[str(value)])))
    # Widths measured from the texts themselves: 10,257,293 and 严重滞后 never run over a cell's border.
    body = [[cell for cell in row if isinstance(cell, str)] for row in rows[2:] if len(row) == 2 + len(cols)]
    body = [row for row in body if len(row) == 2 + len(cols) and row[2] not in (MISSING, CONFLICT)]
    titles = [["", "", *(c.title for c in cols)]]
    size, widths = fit_columns(body + titles, FONT, 6.5, page[0] - 20 * mm, [8 * mm, 12 * mm] + [9 * mm] * len(cols))
    table = Table(rows, colWidths=widths, repeatRows=2)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, size),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#dde6f0")),
                ("BACKGROUND", (0, 2), (-1, 2), colors.HexColor("#f3f6fa")),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("ALIGN", (2, 2), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
                *spans,
                *status_styles,
            ]
        )
    )
    plan = (
        f"{summary.plan.name}　时间进度 {percent(summary.city.time_progress)}" if summary.plan else "本季度无规划目标"
    )
    story: list[object] = [
        Paragraph(f"{TITLE}（{summary.quarter.label}）", paragraph_style(14, 1, leading=20)),
        Paragraph(
            f"{plan}　已报送 {len(summary.reporting)}/{len(TOWNS)} 个镇街；全市数为已报送镇街之和，比率按分子分母合计计算。",
            paragraph_style(8, 1),
        ),
        Spacer(1, 2 * mm),
        KeepTogether([table, Spacer(1, 5 * mm), Paragraph(sign_off_line(made_on or date.today()), paragraph_style(9))]),
        PageBreak(),
        Paragraph(f"同比、环比（{summary.quarter.label}）", paragraph_style(13, 1, leading=18)),
        Paragraph(comparison_note(summary), paragraph_style(8)),
        Spacer(1, 2 * mm),
        _comparison_table(summary, page[0] - 20 * mm),
        PageBreak(),
        Paragraph(f"{summary.quarter.label} 需要关注的镇街", paragraph_style(13, leading=18)),
    ]
    for text in attention_lines(summary, conflicted) or ["各镇街均按时报送，均达到时间进度和比率目标。"]:
        story.append(Paragraph(text, paragraph_style(9)))
    story.append(Spacer(1, 4 * mm))
    story.append(_completion_chart(summary))
    definitions = summary.plan.definitions if summary.plan else ()
    if definitions:  # the last page: the plan's 指标解释 (issue 26)
        entries: list[list[object]] = [[Paragraph(h, paragraph_style(9, 1)) for h in ("序号", "指标", "解释")]]
        entries += [
            [str(n), Paragraph(d.name, paragraph_style(9)), Paragraph(d.text, paragraph_style(9))]
            for n, d in enumerate(definitions, start=1)
        ]
        story += [
            PageBreak(),
            Paragraph(definitions_heading(summary), paragraph_style(13, 1, leading=18)),
            Spacer(1, 4 * mm),
            definitions_table(entries),
        ]
    doc.build(story)


def _completion_chart(summary: CitySummary):
    """Each town's 完成率 for the two training indicators as bars, with time progress as a line."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors

    from reports.pdf import FONT, STATUS_COLOURS

    width, height = 770, 330
    drawing = Drawing(width, height)
    catalogue = summary.catalogue
    codes = [c for c in catalogue.planned_codes if catalogue.by_code[c].kind is Kind.FLOW]
    left, bottom, top = 40, 40, height - 30
    slot = (width - left - 10) / len(TOWNS)
    bar = slot / (len(codes) + 1)
    scale = max([1.2] + [float(p.indicators[c].completion or 0) for p in summary.towns.values() for c in codes])
    drawing.add(
        String(
            left,
            height - 14,
            f"各镇街完成率（{'、'.join(catalogue.by_code[c].short_name for c in codes)}，自左至右；虚线：时间进度）",
            fontName=FONT,
            fontSize=9,
        )
    )
    for step in range(0, int(scale * 100) + 1, 20):
        y = bottom + (top - bottom) * step / 100 / scale
        drawing.add(Line(left, y, width - 10, y, strokeColor=colors.HexColor("#dddddd"), strokeWidth=0.5))
        drawing.add(String(left - 4, y - 3, f"{step}%", fontName=FONT, fontSize=6, textAnchor="end"))
    for i, town in enumerate(TOWNS):
        x = left + i * slot
        progress = summary.towns.get(town)
        for j, code in enumerate(codes):
            completion = progress.indicators[code].completion if progress else None
            if completion is None:
                continue
            h = (top - bottom) * float(completion) / scale
            colour = STATUS_COLOURS.get(progress.indicators[code].status or "", "#888888") if progress else "#888888"
            drawing.add(
                Rect(x + bar * (j + 0.5), bottom, bar * 0.9, h, fillColor=colors.HexColor(colour), strokeWidth=0)
            )
        drawing.add(String(x + slot / 2, bottom - 10, town, fontName=FONT, fontSize=6, textAnchor="middle"))
        if progress is None:
            drawing.add(
                String(
                    x + slot / 2,
                    bottom + 3,
                    MISSING,
                    fontName=FONT,
                    fontSize=5.5,
                    textAnchor="middle",
                    fillColor=colors.HexColor("#c62828"),
                )
            )
    if summary.city.time_progress is not None:
        y = bottom + (top - bottom) * float(summary.city.time_progress) / scale
        drawing.add(Line(left, y, width - 10, y, strokeColor=colors.black, strokeWidth=1, strokeDashArray=[4, 3]))
    return drawing


def city_json(summary: CitySummary) -> dict[str, object]:
    """indicator code -> quarter, ytd, cumulative, target, completion; rates -> numerator, denominator, rate.

    The 全市 figures are the reporting towns' sums against their own targets; `annex_completion` is
    against the full annex target.
    """
    result: dict[str, object] = {}
    for code, item in summary.city.indicators.items():
        result[code] = {
            "quarter": item.quarter_value,
            "ytd": item.ytd,
            "cumulative": item.cumulative,
            "target": item.target,
            "completion": None if item.completion is None else round(float(item.completion), 6),
            "status": item.status,
            "annex_completion": _ratio(summary.annex_completion.get(code)),
            **summary.city.comparison_fields(code),
        }
        if code in summary.catalogue.stock_codes:  # a 季末数, never a 累计 (issue 26)
            result[code].update(end_of_quarter=item.quarter_value, ytd=None, cumulative=None, base=item.base)  # type: ignore[attr-defined]
    for rate in summary.catalogue.rates:
        quarter, ytd = summary.city.rates_quarter[rate.code], summary.city.rates_ytd[rate.code]
        result[rate.code] = {
            "numerator": quarter.numerator,
            "denominator": quarter.denominator,
            "rate": _ratio(quarter.rate),
            "target": _ratio(quarter.target),
            "met": quarter.met,
            "quarter": {
                "numerator": quarter.numerator,
                "denominator": quarter.denominator,
                "rate": _ratio(quarter.rate),
                "met": quarter.met,
            },
            "ytd": {
                "numerator": ytd.numerator,
                "denominator": ytd.denominator,
                "rate": _ratio(ytd.rate),
                "met": ytd.met,
            },
        }
    return result


def _ratio(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 6)
