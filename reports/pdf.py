"""The return and the leaders' summary sheet as PDF (reportlab), with the CJK font embedded as a subset."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.comparison import change_percent_text, change_text
from core.progress import BEHIND, DONE, ON_PACE, SEVERELY_BEHIND, UNFINISHED
from core.resources import resource_path
from reports.returns import (
    DRAFT_MARK,
    FORM_AUTHORITY,
    FORM_TITLE,
    RENDERER_1,
    SIGN_HERE,
    FigureLine,
    ReturnData,
    notes_reference,
)

FONT = "WenQuanYiMicroHei"
SEAL_BOX = 46 * mm  # the 盖章 box's side since renderer 2 (renderer 1: 40 × 30 mm)
STATUS_COLOURS = {
    DONE: "#1a7f37",
    ON_PACE: "#0b5cad",
    BEHIND: "#b35900",
    SEVERELY_BEHIND: "#c62828",
    UNFINISHED: "#c62828",
}


class SignatureSlot(Flowable):
    """The box in the signature block where the PDF signature's visible stamp goes.

    It records where it was drawn, so the signing step can put the signature field exactly there.
    """

    def __init__(self, width: float, height: float, signed: bool):
        super().__init__()
        self.width, self.height, self.signed = width, height, signed
        self.page: int | None = None
        self.box: tuple[float, float, float, float] | None = None

    def wrap(self, _available_width: float, _available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self.page = self.canv.getPageNumber() - 1
        self.box = (x, y, x + self.width, y + self.height)
        if not self.signed:
            self.canv.setFont(FONT, 10)
            self.canv.setFillColor(colors.HexColor("#c62828"))
            self.canv.drawCentredString(self.width / 2, self.height / 2, f"电子签名：{DRAFT_MARK}")


def register_font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(resource_path("fonts", "wqy-microhei.ttf"))))
    return FONT


def paragraph_style(
    size: float = 9, align: int = TA_LEFT, bold_colour: str | None = None, leading: float | None = None
) -> ParagraphStyle:
    return ParagraphStyle(
        "cjk",
        fontName=FONT,
        fontSize=size,
        leading=leading or size * 1.35,
        alignment=align,
        textColor=colors.HexColor(bold_colour) if bold_colour else colors.black,
        wordWrap="CJK",
    )


register_font()
_SUB_STYLE = ParagraphStyle("sub", parent=paragraph_style(9), leftIndent=18)


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _draft_marks(canvas: Canvas, data: ReturnData, size: tuple[float, float]) -> None:
    width, height = size
    canvas.saveState()
    canvas.setFont(FONT, 8)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawString(15 * mm, 18, f"{data.form_number}　{data.town} {data.quarter.label}　第 {data.revision} 版")
    canvas.drawCentredString(width / 2, 18, f"第 {canvas.getPageNumber()} 页")
    if not data.signed:
        canvas.setFillColor(colors.HexColor("#c62828"))
        canvas.setFont(FONT, 10)
        canvas.drawRightString(width - 30, height - 24, DRAFT_MARK)
        _draft_watermark(canvas, width, height, size=72, angle=25)
    canvas.restoreState()


def _draft_watermark(canvas: Canvas, width: float, height: float, size: float, angle: float) -> None:
    """未签名 草稿 across the middle of the page, faint enough to read the figures through."""
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.10))
    canvas.setFont(FONT, size)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(angle)
    canvas.drawCentredString(0, 0, DRAFT_MARK)
    canvas.restoreState()


def write_return_pdf(data: ReturnData, path: Path) -> SignatureSlot:
    """Write the return form; the returned slot says where its signature stamp belongs."""
    register_font()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=page,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=f"{data.town}{data.quarter.label}{FORM_TITLE}",
        author=data.profile.get("unit_name") or data.town,
        initialFontName=FONT,
        invariant=1,  # no clock time, no random id: the verifier re-renders these very bytes
    )
    story: list = []
    compact = data.renderer != RENDERER_1  # renderer 2's taller return and seal box need the header's room
    story.append(Paragraph(FORM_TITLE, paragraph_style(16, TA_CENTER, leading=18 if compact else 22)))
    plan = f"规划：{data.plan_name}" if data.plan_name else "本季度不在规划期内，无规划目标"
    if data.base_text:
        plan += f"<br/>{data.base_text}"
    # renderer 3 adds the 批准机关 (issue 26): it takes 批准文号's place, which moves right, and 有效期至 shares
    # the 计量单位 line, so page 1 keeps its height
    second, third = (
        (f"批准机关：{data.authority_text}", f"批准文号：{data.approval_text}")
        if data.prints_authority
        else (f"批准文号：{data.approval_text}", f"有效期至：{data.valid_until_text}")
    )
    units = f"有效期至：{data.valid_until_text}　计量单位：见各栏" if data.prints_authority else "计量单位：见各栏"
    marks = Table(
        [
            [
                Paragraph(f"填报单位（盖章）：{data.profile.get('unit_name') or data.town}", paragraph_style(9)),
                Paragraph(f"表　　号：{data.form_number_text}", paragraph_style(8, TA_RIGHT)),
                Paragraph(f"制表机关：{FORM_AUTHORITY}", paragraph_style(8, TA_RIGHT)),
            ],
            [
                Paragraph(f"报告期：{data.quarter.label}　　镇街：{data.town}", paragraph_style(9)),
                Paragraph(second, paragraph_style(8, TA_RIGHT)),
                Paragraph(third, paragraph_style(8, TA_RIGHT)),
            ],
            [
                Paragraph(plan, paragraph_style(8)),
                Paragraph(data.gap_text, paragraph_style(8)) if data.gap_text else "",  # renderer 2 only
                Paragraph(units, paragraph_style(8, TA_RIGHT)),
            ],
        ],
        colWidths=[128 * mm, 62 * mm, 77 * mm],
    )
    if compact:
        marks.setStyle(TableStyle([("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    story += [Spacer(1, 1 * mm if compact else 3 * mm), marks, Spacer(1, 2 * mm)]

    header = data.column_headers()
    size, leading = _row_type(data)
    name_style, sub_style = (
        paragraph_style(size, leading=leading),
        ParagraphStyle("sub", parent=paragraph_style(size, leading=leading), leftIndent=18),
    )
    rows: list[list] = [[Paragraph(h, paragraph_style(size, TA_CENTER, leading=leading)) for h in header]]
    status_cells = []
    for line in data.figures:
        rows.append(
            [
                Paragraph(line.name, sub_style if line.is_sub else name_style),
                line.unit,
                _count(line.quarter),
                _count(line.ytd),
                _count(data.shown_base(line)),
                _count(line.target),
                data.percent(line.completion),
                data.percent(data.time_progress) if line.target is not None else "—",
                line.status or "—",
            ]
        )
        if line.status:
            status_cells.append((len(rows) - 1, STATUS_COLOURS[line.status]))
    rate_header = len(rows)
    counts_header, verdict_header = data.rate_count_headers
    rows.append(["比率（由系统计算）", "", "本季度", data.rate_year_header, counts_header, "目标", "", "", verdict_header])
    for rate in data.rates:
        fraction = "—" if rate.denominator is None else f"{rate.numerator:,}/{rate.denominator:,}"
        verdict = "—" if rate.met is None else ("达标" if rate.met else "未达标")
        rows.append(
            [
                Paragraph(rate.name, name_style),
                "%",
                rate.quarter_text,
                rate.ytd_text,
                fraction,
                _target_cell(data, rate.target),
                "",
                "",
                verdict,
            ]
        )
    table = Table(rows, colWidths=_figure_widths(data), repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 9) if data.renderer == RENDERER_1 else ("FONT", (0, 0), (-1, -1), FONT, size, leading),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
        ("BACKGROUND", (0, rate_header), (-1, rate_header), colors.HexColor("#dde6f0")),
        ("ALIGN", (2, 1), (7, -1), "RIGHT"),
        ("ALIGN", (1, 0), (1, -1), "CENTER"),
        ("ALIGN", (8, 0), (8, -1), "CENTER"),
        ("ALIGN", (2, rate_header), (-1, rate_header), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), _row_padding(data)),
        ("BOTTOMPADDING", (0, 0), (-1, -1), _row_padding(data)),
    ]
    style += [("TEXTCOLOR", (8, r), (8, r), colors.HexColor(c)) for r, c in status_cells]
    table.setStyle(TableStyle(style))
    # The figures and the sign-off stay together on page 1; the 说明 texts, however long, go to a 附页.
    slot = SignatureSlot(101 * mm, 28 * mm, data.signed)
    story.append(
        KeepTogether(
            [
                table,
                Spacer(1, 1 * mm if compact else 2 * mm),
                Paragraph(notes_reference(data), paragraph_style(9)),
                Spacer(1, 2 * mm if compact else 3 * mm),
                _signature_block(data, slot),
            ]
        )
    )
    if data.compares:
        story += [PageBreak(), *_comparison_page(data)]
    if data.notes:
        story += [PageBreak(), *_notes_annex(data)]
    if data.has_definitions_page:
        story += [PageBreak(), *_definitions_page(data)]

    def decorate(canvas: Canvas, _doc: object) -> None:
        _draft_marks(canvas, data, page)

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return slot


def _notes_annex(data: ReturnData) -> list:
    title = f"附页：填报说明（{data.town}　{data.quarter.label}　第 {data.revision} 版）"
    notes: list[list] = [[Paragraph(h, paragraph_style(9, TA_CENTER)) for h in ("序号", "指标", "情况", "说明")]]
    for number, note in enumerate(data.notes, start=1):
        notes.append(
            [
                str(number),
                Paragraph(note.name, paragraph_style(9)),
                Paragraph(note.finding, paragraph_style(8)),
                Paragraph(note.text, paragraph_style(9)),
            ]
        )
    note_table = Table(notes, colWidths=[12 * mm, 50 * mm, 85 * mm, 120 * mm], repeatRows=1)
    note_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (0, -1), "CENTER"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
            ]
        )
    )
    return [Paragraph(title, paragraph_style(13, TA_CENTER, leading=18)), Spacer(1, 4 * mm), note_table]


def _figure_widths(data: ReturnData) -> list[float]:
    """The figures table's column widths; renderer 3 gives 完成率／较基期增长完成率 room for two lines."""
    if data.compares:
        return [70 * mm, 17 * mm, 24 * mm, 24 * mm, 26 * mm, 26 * mm, 30 * mm, 22 * mm, 24 * mm]
    return [78 * mm, 17 * mm, 24 * mm, 24 * mm, 26 * mm, 26 * mm, 22 * mm, 22 * mm, 24 * mm]


def _comparison_page(data: ReturnData) -> list:
    """Renderer 3's page 2: each figure against 上季度 (环比) and 上年同期 (同比), with 增减 and 增减%."""
    size, leading = _row_type(data)
    head = paragraph_style(size, TA_CENTER, leading=leading)
    rows: list[list] = [
        [Paragraph(h, head) for h in ("指标名称", "计量单位", "本季度／季末数")]
        + [Paragraph(f"环比（{data.previous_label}）", head), "", ""]
        + [Paragraph(f"同比（{data.last_year_label}）", head), "", ""],
        ["", "", "", "上季度", "增减", "增减%", "上年同期", "增减", "增减%"],
    ]
    name_style = paragraph_style(size, leading=leading)
    sub_style = ParagraphStyle("sub", parent=name_style, leftIndent=18)
    for line, previous, year_before in data.comparison_rows():
        row = [Paragraph(line.name, sub_style if line.is_sub else name_style), line.unit, _count(line.quarter)]
        for comparison in (previous, year_before):
            row += [
                _count(comparison.value if comparison else None),
                change_text(comparison),
                change_percent_text(comparison, data.rounding),
            ]
        rows.append(row)
    table = Table(
        rows,
        colWidths=[70 * mm, 17 * mm, 26 * mm, 26 * mm, 24 * mm, 22 * mm, 26 * mm, 24 * mm, 22 * mm],
        repeatRows=2,
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, size, leading),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#dde6f0")),
                ("SPAN", (0, 0), (0, 1)),
                ("SPAN", (1, 0), (1, 1)),
                ("SPAN", (2, 0), (2, 1)),
                ("SPAN", (3, 0), (5, 0)),
                ("SPAN", (6, 0), (8, 0)),
                ("ALIGN", (1, 0), (-1, 1), "CENTER"),
                ("ALIGN", (2, 2), (-1, -1), "RIGHT"),
                ("ALIGN", (1, 2), (1, -1), "CENTER"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    title = f"同比、环比（{data.town}　{data.quarter.label}　第 {data.revision} 版）"
    note = (
        f"环比：本季度与{data.previous_label}比；同比：与{data.last_year_label}比。增减 = 本季度 − 比较期，"
        "增减% = 增减 ÷ 比较期（向零取一位小数）；“—”为无可比数据（比较期未填报，或比较期为 0 时无增减%）。"
        "季末数指标比较季末数，其余指标比较当季发生数。"
    )
    return [
        Paragraph(title, paragraph_style(13, TA_CENTER, leading=18)),
        Spacer(1, 2 * mm),
        Paragraph(note, paragraph_style(8)),
        Spacer(1, 2 * mm),
        table,
    ]


def _definitions_page(data: ReturnData) -> list:
    """The last page (renderer 3): the plan's definition of each indicator, as the plan gives it."""
    rows: list[list] = [[Paragraph(h, paragraph_style(9, TA_CENTER)) for h in ("序号", "指标", "解释")]]
    for number, item in enumerate(data.definitions, start=1):
        rows.append([str(number), Paragraph(item.name, paragraph_style(9)), Paragraph(item.text, paragraph_style(9))])
    return [
        Paragraph(data.definitions_title, paragraph_style(13, TA_CENTER, leading=18)),
        Paragraph(
            f"{data.town}　{data.quarter.label}　第 {data.revision} 版　（由规划给出，随季报签名）",
            paragraph_style(8, TA_CENTER),
        ),
        Spacer(1, 4 * mm),
        definitions_table(rows),
    ]


def definitions_table(rows: list[list]) -> Table:
    """序号 | 指标 | 解释, as the return's and the 汇总表's 指标解释 page print it."""
    table = Table(rows, colWidths=[12 * mm, 70 * mm, 185 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (0, -1), "CENTER"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
            ]
        )
    )
    return table


def _target_cell(data: ReturnData, target: Fraction | None) -> object:
    """A rate target's cell: renderer 2's "78%以上（含本数）" wraps inside its column instead of running over."""
    text = data.rate_target_text(target)
    return text if data.renderer == RENDERER_1 else Paragraph(text, paragraph_style(7.5, TA_CENTER, leading=8.5))


def _row_type(data: ReturnData) -> tuple[float, float]:
    """The figures table's type size and line height: renderer 2's returns carry up to 14 figure lines
    (the 结转 and 受理 lines, a plan's added indicators) and a 46 mm 盖章 box, and must still keep the
    figures and the sign-off on page 1."""
    return (9, 9 * 1.35) if data.renderer == RENDERER_1 else (8.5, 9.6)


def _row_padding(data: ReturnData) -> float:
    """The figures table's cell padding: renderer 2 takes the taller 盖章 box's room from it (page 1 keeps
    the figures and the sign-off together)."""
    return 1.5 if data.renderer == RENDERER_1 else 0.6


def _summary_status(data: ReturnData, line: FigureLine) -> str:
    """The 一页摘要's word beside a bar. Renderer 1 called every figure without a status 未填报, also a card
    figure that was entered but had no 基期数 yet (issue 25); since renderer 2 it says what is missing."""
    if line.status:
        return line.status
    if data.renderer == RENDERER_1 or line.quarter is None:
        return "未填报"
    if line.code in data.stock_codes and (data.bases or {}).get(line.code) is None:
        return "未录入基期数"
    return "—"


def _signature_block(data: ReturnData, slot: SignatureSlot) -> Table:
    profile = data.profile
    left = [
        Paragraph(f"单位负责人：{profile.get('head', '')}　{SIGN_HERE}", paragraph_style(10)),
        Paragraph(f"统计负责人：{profile.get('stats_head', '')}　{SIGN_HERE}", paragraph_style(10)),
        Paragraph(f"填表人：{profile.get('preparer', '')}　{SIGN_HERE}", paragraph_style(10)),
        Paragraph(f"联系电话：{profile.get('phone', '')}　　报出日期：{data.report_date}", paragraph_style(10)),
    ]
    seal = Paragraph("（盖章）", paragraph_style(9, TA_CENTER, "#888888"))
    if data.renderer == RENDERER_1:
        widths, height = [120 * mm, 40 * mm, 103 * mm], 30 * mm
    else:  # since renderer 2: a 4.2 cm official seal fits in the 盖章 box with room around it (issue 25)
        widths, height = [120 * mm - (SEAL_BOX - 40 * mm), SEAL_BOX, 103 * mm], SEAL_BOX
    block = Table([[left, seal, slot]], colWidths=widths, rowHeights=[height])
    block.setStyle(
        TableStyle(
            [
                ("BOX", (1, 0), (1, 0), 0.8, colors.HexColor("#888888")),
                ("BOX", (2, 0), (2, 0), 0.8, colors.HexColor("#888888")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (2, 0), (2, 0), 1),
                ("RIGHTPADDING", (2, 0), (2, 0), 1),
            ]
        )
    )
    return block


def write_summary_pdf(data: ReturnData, path: Path) -> None:
    """One A4 page for the town's leaders: bars against time progress, rates, and what needs attention."""
    register_font()
    width, height = A4
    canvas = Canvas(str(path), pagesize=A4, initialFontName=FONT, initialFontSize=10, invariant=1)
    canvas.setTitle(f"{data.town}{data.quarter.label}人社指标完成情况摘要")
    canvas.setAuthor(data.profile.get("unit_name") or data.town)
    margin = 20 * mm
    y = height - 25 * mm
    canvas.setFont(FONT, 18)
    canvas.drawCentredString(width / 2, y, f"{data.town}人社主要指标完成情况")
    y -= 9 * mm
    canvas.setFont(FONT, 11)
    canvas.drawCentredString(width / 2, y, f"{data.quarter.label}　（报出日期 {data.report_date}）")
    y -= 8 * mm
    canvas.setFont(FONT, 10)
    if data.time_progress is not None:
        canvas.drawString(margin, y, f"{data.plan_name}　时间进度 {data.percent(data.time_progress)}")
    else:
        canvas.drawString(margin, y, "本季度不在规划期内，无规划目标")
    y -= 12 * mm

    canvas.setFont(FONT, 13)
    canvas.drawString(margin, y, "一、规划指标完成进度")
    y -= 9 * mm
    bar_left, bar_width = margin + 58 * mm, 80 * mm
    for line in data.figures:
        if line.target is None:
            continue
        canvas.setFont(FONT, 10)
        canvas.setFillColor(colors.black)
        canvas.drawString(margin, y + 1.5 * mm, line.name[:16])
        canvas.setFont(FONT, 8)
        if line.code in data.stock_codes and data.bases is not None:
            base = data.bases.get(line.code)
            canvas.setFont(FONT, 7)
            detail = f"季末 {_count(line.quarter)} / 基期 {_count(base) if base is not None else '未录入'}"
            canvas.drawString(margin, y - 3 * mm, f"{detail} / 目标 {_count(line.target)}")
        else:
            detail = f"累计 {_count(line.cumulative)}"
            canvas.drawString(margin, y - 3 * mm, f"{detail} / 目标 {_count(line.target)} {line.unit}")
        canvas.setStrokeColor(colors.HexColor("#999999"))
        canvas.setFillColor(colors.HexColor("#eef0f3"))
        canvas.rect(bar_left, y - 2 * mm, bar_width, 6 * mm, stroke=1, fill=1)
        colour = colors.HexColor(STATUS_COLOURS.get(line.status or "", "#888888"))
        share = max(min(float(line.completion or 0), 1.0), 0.0)
        canvas.setFillColor(colour)
        canvas.rect(bar_left, y - 2 * mm, bar_width * share, 6 * mm, stroke=0, fill=1)
        if data.time_progress is not None:
            x = bar_left + bar_width * float(data.time_progress)
            canvas.setStrokeColor(colors.black)
            canvas.setLineWidth(1.5)
            canvas.line(x, y - 3.5 * mm, x, y + 5.5 * mm)
            canvas.setLineWidth(1)
        canvas.setFillColor(colors.black)
        canvas.setFont(FONT, 10)
        canvas.drawString(bar_left + bar_width + 4 * mm, y, data.percent(line.completion))
        canvas.setFillColor(colour)
        canvas.drawString(bar_left + bar_width + 22 * mm, y, _summary_status(data, line))
        y -= 14 * mm
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.setFont(FONT, 8)
    canvas.drawString(bar_left, y + 6 * mm, "色条为完成率，黑色竖线为时间进度")
    y -= 4 * mm

    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 13)
    canvas.drawString(margin, y, f"二、比率指标（{data.rate_year_header}）")
    y -= 8 * mm
    for rate in data.rates:
        verdict = "—" if rate.met is None else ("达标" if rate.met else "未达标")
        canvas.setFont(FONT, 10)
        canvas.setFillColor(colors.black)
        canvas.drawString(margin, y, rate.name)
        canvas.drawRightString(margin + 120 * mm, y, f"{rate.ytd_text}（目标 {data.rate_target_text(rate.target)}）")
        canvas.setFillColor(colors.HexColor("#1a7f37" if rate.met else "#c62828" if rate.met is False else "#555555"))
        canvas.drawString(margin + 126 * mm, y, verdict)
        y -= 7 * mm
    y -= 5 * mm

    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 13)
    canvas.drawString(margin, y, "三、需要关注")
    y -= 8 * mm
    canvas.setFont(FONT, 10)
    items = list(data.attention) or [
        "各项指标均达到时间进度和目标要求。"
        if data.time_progress is not None or not data.carries_over
        else "本季度不在规划期内，没有规划目标，不判断进度和达标。"
    ]
    shown = 0
    for item in items:
        lines = _wrap(f"{shown + 1}. {item}", width - 2 * margin)
        if y - 6 * mm * len(lines) < 30 * mm:
            canvas.drawString(margin, y, f"……另有 {len(items) - shown} 项，详见季报。")
            y -= 6 * mm
            break
        for text in lines:
            canvas.drawString(margin, y, text)
            y -= 6 * mm
        shown += 1
    canvas.setFont(FONT, 9)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawString(
        margin, 20 * mm, f"{data.profile.get('unit_name') or data.town}　填表人：{data.profile.get('preparer', '')}"
    )
    if not data.signed:
        canvas.setFillColor(colors.HexColor("#c62828"))
        canvas.drawRightString(width - margin, 20 * mm, DRAFT_MARK)
        _draft_watermark(canvas, width, height, size=64, angle=35)
    canvas.showPage()
    canvas.save()


def _in_number(char: str) -> bool:
    return char.isdigit() or char in ",.%"


def _wrap(text: str, max_width: float, size: float = 10) -> list[str]:
    """Break CJK text by measured width, never inside a number such as 11,897."""
    lines: list[str] = []
    current = ""
    for char in text:
        if pdfmetrics.stringWidth(current + char, FONT, size) <= max_width:
            current += char
            continue
        keep = len(current)
        if _in_number(char):
            while keep > 0 and _in_number(current[keep - 1]):
                keep -= 1
        if keep == 0:
            keep = len(current)
        lines.append(current[:keep])
        current = current[keep:] + char
    if current:
        lines.append(current)
    return lines or [""]
