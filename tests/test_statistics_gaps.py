"""Issue 26 item 2: a cumulative that skips a quarter names the gap where the number is; a signed return
of a quarter whose year has an unfilled earlier quarter is refused (a draft may be printed, naming it).

By hand: 2022Q2 never entered; every other quarter from 2021Q1 has 8 粤菜师傅 certificates, so at 2022Q3
本年累计 = 8 + 8 = 16 (2022Q1, Q3) and 规划累计 = 8 × 6 = 48."""

from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from actions.returns import prepare_export
from core.quarters import Quarter
from reports.export import ExportRefused
from reports.layout import FORM_SHEET
from storage.store import Store
from tests.helpers import TODAY, on_pace_history, run_main, signed_off_profile

GAP, Q = Quarter(2022, 2), Quarter(2022, 3)


@pytest.fixture
def with_gap(tmp_path) -> Path:
    db = tmp_path / "缺季度.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        for quarter, values in on_pace_history(last=Q).items():
            if quarter != GAP:
                store.save_quarter(quarter, values)
    return db


def test_a_draft_names_the_skipped_quarter_beside_its_cumulatives(with_gap, tmp_path):
    out = tmp_path / "草稿"
    done = run_main(with_gap, "export", "--quarter", Q.code, "--out", str(out), "--unsigned")
    assert done.returncode == 0, done.stdout + done.stderr
    form = openpyxl.load_workbook(out / "2022Q3_莞城_季报.xlsx")[FORM_SHEET]
    assert "（缺2022年第2季度）" in form["A5"].value
    row = next(r for r in form.iter_rows(min_row=7) if r[0].value == "“粤菜师傅”培训发证人数")
    assert (row[2].value, row[3].value, row[4].value) == (8, 16, 48)
    text = "".join(page.extract_text() for page in PdfReader(out / "2022Q3_莞城_季报.pdf").pages).replace("\n", "")
    assert "累计数按已填季度计算（缺2022年第2季度）" in text
    summary = "".join(page.extract_text() for page in PdfReader(out / "2022Q3_莞城_摘要.pdf").pages)
    assert "累计数缺2022年第2季度" in summary.replace("\n", "")


def test_a_signed_return_whose_year_skips_a_quarter_is_refused(with_gap):
    with Store(with_gap, today=lambda: TODAY) as store:
        with pytest.raises(ExportRefused) as refused:
            prepare_export(store, Q, signed=True)
        assert "2022年第2季度尚未填报" in str(refused.value.message)
        store.save_quarter(GAP, on_pace_history(last=Q)[GAP])
        data = prepare_export(store, Q)  # filled: nothing skipped, nothing named
        assert data.gaps == () and "缺" not in " ".join(data.attention)


def test_the_gap_in_the_year_is_named_first_when_earlier_quarters_are_missing_too(tmp_path):
    """Found reviewing from outside: with 2021Q2–2022Q1 also never entered, a draft said only
    "缺2021年第2季度等5个季度" — the gap in its 本年累计 (2022Q2, the one that keeps it from being signed)
    went unnamed. By hand: skipped 2021Q2, Q3, Q4, 2022Q1 (earlier) and 2022Q2 (this year)."""
    db = tmp_path / "缺多个季度.sqlite3"
    skipped = {Quarter(2021, 2), Quarter(2021, 3), Quarter(2021, 4), Quarter(2022, 1), GAP}
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        for quarter, values in on_pace_history(last=Q).items():
            if quarter not in skipped:
                store.save_quarter(quarter, values)
        lagging: dict[str, str | None] = {
            f.indicator: "前几个季度未报数据，正在补录" for f in store.check(Q) if f.needs_explanation and f.indicator
        }
        store.save_quarter(Q, {}, explanations=lagging)
    out = tmp_path / "草稿"
    assert run_main(db, "export", "--quarter", Q.code, "--out", str(out), "--unsigned").returncode == 0
    named = "缺2022年第1季度、2022年第2季度，此前另缺2021年第2季度等3个季度"
    form = openpyxl.load_workbook(out / "2022Q3_莞城_季报.xlsx")[FORM_SHEET]
    assert f"（{named}）" in form["A5"].value
    text = "".join(page.extract_text() for page in PdfReader(out / "2022Q3_莞城_季报.pdf").pages).replace("\n", "")
    assert f"累计数按已填季度计算（{named}）" in text
    summary = "".join(page.extract_text() for page in PdfReader(out / "2022Q3_莞城_摘要.pdf").pages)
    assert f"累计数{named}的数据" in summary.replace("\n", "")
