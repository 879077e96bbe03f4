"""The printed return an official will stamp: the sign-off with the figures on page 1 (issue 16)."""

import shutil
import subprocess
from datetime import UTC, datetime

import openpyxl
import pytest
from pypdf import PdfReader

from actions.returns import export_return, prepare_export
from core.quarters import Quarter
from reports.excel import FORM_SHEET, figure_row
from storage.store import Profile
from tests.helpers import FULL_QUARTER, on_pace_history

Q = Quarter(2024, 3)
NOW = datetime(2024, 10, 10, 9, 30, tzinfo=UTC)
LONG = (
    "本季度辖区内两家大型制造企业整体外迁至外市，员工社保关系随之转出，同时开展了重复发卡数据清理，"
    "核减历史重复记录，因此持卡人数较上季度有所下降；下季度将配合市局开展补卡换卡专项行动，预计回升。"
)
EXPLANATIONS = {
    "card_holders": LONG,
    "mediation_success_rate": "本季度受理的集体劳动争议案件较多，当事人分歧较大，" + LONG,
    "arbitration_closure_rate": "部分案件因需要司法鉴定而中止审理，结案时间顺延至下季度，" + LONG,
}


@pytest.fixture
def three_notes(store):
    """莞城 2024Q3 with three warnings, each with a long 说明."""
    store.set_profile(Profile("东莞市人力资源和社会保障局莞城分局", "张三", "王五", "李四", "0769-22001234"))
    history = on_pace_history(last=Q.previous())
    for quarter, values in history.items():
        store.save_quarter(quarter, values)
    last_cards = history[Q.previous()]["card_holders"]
    store.save_quarter(
        Q,
        dict(FULL_QUARTER, card_holders=last_cards - 500, mediation_success=10, arbitration_closed=5),
        EXPLANATIONS,
    )
    return store


def page_texts(path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def test_the_pdf_keeps_the_figures_and_the_sign_off_on_page_one(three_notes, tmp_path):
    data = prepare_export(three_notes, Q, NOW)
    assert len(data.notes) == 3
    result = export_return(three_notes, Q, tmp_path, now=NOW)
    pages = page_texts(result.pdf)
    assert len(pages) == 4  # renderer 3: 同比、环比 on page 2, the 附页, then the built-in plan's 指标解释 (issue 26)
    first, comparison, annex, definitions = pages
    assert "同比、环比" in comparison and "单位负责人" not in comparison and "同比、环比" not in first
    assert "指标解释" in definitions and "指标解释" not in annex
    for value in three_notes.figures(Q).values():
        assert f"{value:,}" in first
    for word in ("单位负责人：张三", "统计负责人：王五", "填表人：李四", "报出日期", "盖章", "签字"):
        assert word in first, word
    assert "全文见附页" in first and "共 3 项" in first
    assert "附页" in annex and "单位负责人" not in annex
    flat = annex.replace("\n", "")
    for text in EXPLANATIONS.values():
        assert text[:30] in flat


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_pdftotext_sees_the_approval_lines_and_the_revision_in_the_footer(three_notes, tmp_path):
    result = export_return(three_notes, Q, tmp_path, now=NOW)
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(result.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines = [line.replace(" ", "").replace("\u3000", "") for line in first.splitlines()]
    assert any("批准文号：＿" in line for line in lines) and any("有效期至：＿" in line for line in lines)
    assert any("表号：＿" in line for line in lines)  # issue 26: the built-in plan gives no 表号; none is invented
    assert "版" not in next(line for line in lines if "报告期" in line)
    footer = [line for line in lines if "第1版" in line]
    assert footer and "第1页" in footer[-1]


def test_the_workbook_prints_the_figures_and_the_sign_off_on_page_one(three_notes, tmp_path):
    data = prepare_export(three_notes, Q, NOW)
    result = export_return(three_notes, Q, tmp_path, now=NOW)
    form = openpyxl.load_workbook(result.workbook)[FORM_SHEET]
    cells = {(c.row, c.column): c.value for r in form.iter_rows() for c in r if isinstance(c.value, str)}

    def row_of(fragment: str) -> int:
        return next(row for (row, _), text in cells.items() if fragment in text)

    breaks = [b.id for b in form.row_breaks.brk]
    assert len(breaks) == 2  # after page 1, after the 同比、环比 table (renderer 3)
    page_one_end = breaks[0]
    assert page_one_end < row_of("同比、环比") <= breaks[1] < row_of("附页：填报说明")
    sign_off = row_of("单位负责人：张三")
    assert figure_row(data, "inspection_closed") < sign_off <= page_one_end
    assert row_of("报出日期") <= page_one_end and row_of("盖章") <= page_one_end
    assert row_of("全文见附页") < sign_off
    annex = row_of("附页：填报说明")
    assert annex > page_one_end
    assert all(row_of(text[:20]) > page_one_end for text in EXPLANATIONS.values())
    assert row_of("批准文号") < 6 and row_of("有效期至") < 6
    assert "版" not in next(t for t in cells.values() if t.startswith("报告期"))
    assert "第 1 版" in form.oddFooter.left.text
    # Fit to one page wide, never squeezed in height; page 1 must fit on an A4 landscape page as it is.
    assert form.sheet_properties.pageSetUpPr.fitToPage and int(form.page_setup.fitToWidth) == 1
    assert int(form.page_setup.fitToHeight) == 0
    assert form.page_setup.orientation == "landscape"
    assert form.print_title_rows is None  # the figure header must not repeat over the 附页
    usable = (8.27 - form.page_margins.top - form.page_margins.bottom) * 72
    heights = [form.row_dimensions[r].height or 15 for r in range(1, page_one_end + 1)]
    assert sum(heights) <= usable, (sum(heights), usable)
    assert form.print_area is not None


def test_a_full_return_under_the_sample_plan_keeps_its_figures_and_sign_off_on_page_1(tmp_path):
    """Renderer 2's return carries the 结转 and 受理 lines, a plan's added indicator and a 46 mm 盖章 box:
    drawn as renderer 1 drew, its whole table and sign-off went to page 2, leaving page 1 a header."""
    from datetime import date

    from actions.returns import prepare_export, write_preview
    from storage.demo import build_demo_database
    from storage.store import Store

    db = tmp_path / "演示.sqlite3"
    today = date(2026, 11, 28)
    quarter = build_demo_database(db, today=today)
    with Store(db, today=lambda: today) as store:
        data = prepare_export(store, quarter, preview=True)
    assert len(data.figures) >= 14 and data.renderer != "town-returns-render/1"
    path = tmp_path / "季报.pdf"
    write_preview(data, "pdf", path)
    first = PdfReader(path).pages[0].extract_text()
    assert "单位负责人" in first and "（盖章）" in first
    assert "技能人才" in first and "上期结转案件数" in first and "结案率" in first  # the added, the carried, the rates
