import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from actions.returns import export_return, prepare_export
from cli import main as cli_main
from core.quarters import Quarter
from reports.excel import DATA_SHEET, FIGURE_COLUMNS, FORM_SHEET, figure_row, rate_row
from reports.export import ExportRefused
from reports.files import OutputExists, write_atomically
from storage.store import Profile
from tests.helpers import FULL_QUARTER, on_pace_history

Q = Quarter(2024, 3)
NOW = datetime(2024, 10, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def ready(store):
    """莞城 with every quarter up to 2024Q3 entered and nothing left to explain."""
    store.set_profile(Profile("东莞市莞城人力资源和社会保障分局", "张三", "王五", "李四", "0769-22001234"))
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    return store


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_the_workbook_holds_every_figure_and_rate_where_expected(ready, tmp_path):
    result = export_return(ready, Q, tmp_path, now=NOW)
    assert result.workbook.name == "2024Q3_莞城_季报.xlsx"
    data = prepare_export(ready, Q, NOW)
    wb = openpyxl.load_workbook(result.workbook)
    form = wb[FORM_SHEET]
    figures = ready.figures(Q)
    for code, value in figures.items():
        assert form[f"{FIGURE_COLUMNS['quarter']}{figure_row(data, code)}"].value == value
    history = ready.history()
    ytd_nanyue = sum(history[q]["nanyue_trained"] for q in Q.year_to_date())
    assert form[f"D{figure_row(data, 'nanyue_trained')}"].value == ytd_nanyue
    cumulative = sum(v["yuecai_certified"] for v in history.values())
    row = figure_row(data, "yuecai_certified")
    assert form[f"E{row}"].value == cumulative and form[f"F{row}"].value == 154
    # Excel shows the completion exactly as the PDF prints it: the ratio truncated to 0.1%
    assert form[f"G{row}"].value == pytest.approx(cumulative / 154, abs=0.0005)
    assert round(form[f"G{row}"].value * 1000, 9).is_integer()
    assert form[f"G{row}"].number_format == "0.0%" and form[f"C{row}"].number_format == "#,##0"
    assert form[f"H{row}"].value == pytest.approx(15 / 20)
    mediation = rate_row(data, "mediation_success_rate")
    assert form[f"C{mediation}"].value == pytest.approx(40 / 50)
    assert form[f"D{mediation}"].value == pytest.approx(120 / 150)
    assert form[f"I{mediation}"].value == "达标"
    texts = {c.value for r in form.iter_rows() for c in r if isinstance(c.value, str)}
    assert any("报告期：2024年第3季度" in t for t in texts)
    assert any("制表机关：东莞市人力资源和社会保障局" in t for t in texts)
    assert any("单位负责人：张三" in t and "签字" in t for t in texts)
    assert any("报出日期：2024年10月10日" in t for t in texts)
    assert form.protection.sheet
    assert int(form.page_setup.paperSize) == 9 and int(form.page_setup.fitToWidth) == 1  # 9 is A4
    assert form.print_title_rows is None  # every figure is on page 1; the 附页 must not repeat their header
    assert "&P" in form.oddFooter.center.text and "&N" in form.oddFooter.center.text

    sheet = wb[DATA_SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    meta = {r[0]: r[1] for r in rows[:6]}
    assert meta["town"] == "莞城" and meta["quarter"] == "2024Q3" and meta["revision"] == 1
    # renderer 3 adds the figures 环比 and 同比 compare with, and the stock's 基期数
    header = rows.index(
        ("code", "value", "ytd", "cumulative", "target", "unit", "name", "previous_quarter", "same_quarter_last_year", "base")
    )
    table = {r[0]: r[1] for r in rows[header + 1 :] if r[0]}
    for code, value in figures.items():
        assert table[code] == value
    assert table["mediation_success_rate"] == pytest.approx(0.8)
    assert table["inspection_closure_rate"] == pytest.approx(1.0)


def test_the_pdf_carries_the_town_the_quarter_and_every_figure(ready, tmp_path):
    result = export_return(ready, Q, tmp_path, now=NOW)
    text = pdf_text(result.pdf)
    assert "莞城" in text and "2024年第3季度" in text
    for value in ready.figures(Q).values():
        assert f"{value:,}" in text
    assert "单位负责人：张三" in text and "盖章" in text
    fonts = {str(f) for page in PdfReader(result.pdf).pages for f in page["/Resources"]["/Font"].values()}
    assert fonts  # the CJK font is embedded (reportlab subsets TrueType fonts)
    reader = PdfReader(result.pdf)
    font = next(iter(reader.pages[0]["/Resources"]["/Font"].values())).get_object()
    assert "+" in font["/BaseFont"]  # a subset tag such as AAAAAA+WenQuanYi


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_pdftotext_extracts_the_figures(ready, tmp_path):
    result = export_return(ready, Q, tmp_path, now=NOW)
    text = subprocess.run(["pdftotext", str(result.pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "莞城" in text
    for value in ready.figures(Q).values():
        assert f"{value:,}" in text


def test_the_summary_sheet_is_one_page(ready, tmp_path):
    result = export_return(ready, Q, tmp_path, now=NOW)
    reader = PdfReader(result.summary)
    assert len(reader.pages) == 1
    text = pdf_text(result.summary)
    assert "时间进度 75.0%" in text and "需要关注" in text and "调解成功率" in text


def test_a_behind_town_gets_attention_items_and_still_one_page(store, tmp_path):
    for quarter in (Quarter(2024, 1), Quarter(2024, 2), Q):
        store.save_quarter(
            quarter,
            dict(FULL_QUARTER, card_holders=150_000),
            {
                "yuecai_certified": "培训班因场地原因延期",
                "nanyue_trained": "培训班因场地原因延期",
                "card_holders": "持卡人数核减重复发卡",
            },
        )
    result = export_return(store, Q, tmp_path, now=NOW)
    assert len(PdfReader(result.summary).pages) == 1
    text = pdf_text(result.summary)
    assert "严重滞后" in text


def test_an_export_missing_an_explanation_writes_no_file(store, tmp_path, capsys):
    store.save_quarter(Q, dict(FULL_QUARTER, mediation_success=10))  # 20% < 78%: needs 说明
    out = tmp_path / "out"
    with pytest.raises(ExportRefused) as caught:
        export_return(store, Q, out)
    assert any("调解成功率" in r for r in caught.value.reasons)
    assert not out.exists() or not any(out.iterdir())
    code = cli_main(["--db", str(store.path), "export", "--quarter", Q.code, "--out", str(out), "--unsigned"])
    assert code == 2
    assert "说明" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_an_export_with_a_missing_figure_is_refused(store, tmp_path, capsys):
    values = dict(FULL_QUARTER)
    del values["nanyue_trained"]
    store.save_quarter(Q, values)
    assert cli_main(["--db", str(store.path), "export", "--quarter", Q.code, "--out", str(tmp_path), "--unsigned"]) == 2
    assert "南粤家政" in capsys.readouterr().err


def test_existing_files_are_not_silently_overwritten(ready, tmp_path, capsys):
    assert cli_main(["--db", str(ready.path), "export", "--quarter", Q.code, "--out", str(tmp_path), "--unsigned"]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["2024Q3_莞城_季报.xlsx", "2024Q3_莞城_季报.pdf", "2024Q3_莞城_摘要.pdf"]
    before = (tmp_path / "2024Q3_莞城_季报.xlsx").read_bytes()
    with pytest.raises(OutputExists):
        export_return(ready, Q, tmp_path)
    assert (tmp_path / "2024Q3_莞城_季报.xlsx").read_bytes() == before
    export_return(ready, Q, tmp_path, overwrite=True)


def test_a_failed_write_leaves_nothing_under_the_final_name(tmp_path):
    target = tmp_path / "2024Q3_莞城_季报.xlsx"

    def half_then_fail(path):
        path.write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomically(target, half_then_fail)
    assert list(tmp_path.iterdir()) == []


def test_text_that_looks_like_a_formula_stays_text(ready, tmp_path):
    ready.set_profile(Profile(unit_name='=HYPERLINK("http://x")', preparer="@李四"))
    ready.save_quarter(Q, {"mediation_success": 10}, {"mediation_success_rate": "=1+1 系统迁移导致统计口径变化"})
    result = export_return(ready, Q, tmp_path, now=NOW)
    wb = openpyxl.load_workbook(result.workbook)
    cells = [c for sheet in wb for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    risky = [
        c for c in cells if c.value.startswith(("=", "+", "-", "@")) or "=HYPERLINK" in c.value or "=1+1" in c.value
    ]
    assert risky
    assert all(c.data_type == "s" for c in risky)
    explained = [c for c in cells if c.value == "=1+1 系统迁移导致统计口径变化"]
    assert explained and all(c.data_type == "s" for c in explained)


def test_unsigned_exports_say_draft(ready, tmp_path):
    result = export_return(ready, Q, tmp_path, now=NOW)
    assert "未签名" in pdf_text(result.pdf) and "未签名" in pdf_text(result.summary)
    wb = openpyxl.load_workbook(result.workbook)
    for sheet in wb:
        assert any("未签名 草稿" in str(c.value) for row in sheet.iter_rows() for c in row if c.value)


def test_a_cancelled_export_leaves_nothing(ready, tmp_path):
    from reports.export import ExportCancelled

    steps = []

    def cancel_at_second(label):
        steps.append(label)
        return len(steps) < 2

    out = tmp_path / "out"
    with pytest.raises(ExportCancelled):
        export_return(ready, Q, out, step=cancel_at_second)
    assert steps[0].startswith("正在生成 Excel")
    assert not any(out.iterdir())


def test_temp_files_left_by_a_crash_are_cleared_on_the_next_write(tmp_path):
    target = tmp_path / "2024Q3_莞城_季报.xlsx"
    (tmp_path / ".2024Q3_莞城_季报.xlsx.abc123.part").write_bytes(b"half")
    write_atomically(target, lambda p: p.write_bytes(b"whole"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024Q3_莞城_季报.xlsx"]
    assert target.read_bytes() == b"whole"


def test_the_summary_says_a_card_figure_lacks_its_base_not_that_it_is_not_entered(store, tmp_path):
    """Issue 25: the 一页摘要 called the card figure 未填报 when only its 基期数 was missing."""
    from actions.returns import prepare_export, write_preview

    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    assert store.stock_bases(store.plan_for(Q)) == {}
    data = prepare_export(store, Q, preview=True)
    path = tmp_path / "摘要.pdf"
    write_preview(data, "summary", path)
    text = PdfReader(path).pages[0].extract_text()
    card = next(line for line in text.splitlines() if "社保卡" in line or "社会保障卡" in line)
    assert "未录入基期数" in text and "未填报" not in card, card
