"""The city's side: collect a folder of returns, verify, and consolidate one quarter."""

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from cli import main as cli_main
from core.demo import town_figures
from core.plans import TOWNS, load_shipped_plan
from core.quarters import Quarter
from core.validation import QuarterInput, check_quarter
from reports.export import write_return_files
from reports.identity import create_city_root, issue_town_identity, load_trust_roots, open_identity
from reports.returns import assemble_return

PLAN = load_shipped_plan()
QUARTERS = [Quarter(2024, 1), Quarter(2024, 2), Quarter(2024, 3)]
Q = Quarter(2024, 3)
TOWNS_IN_TEST = ("莞城", "石龙", "虎门", "东城")
PASS = b"town-passphrase"


def write_returns(folder, identity, town, figures, quarters, revision=1, kinds=("workbook",)):
    history = {}
    files = []
    for quarter in PLAN.quarters:
        if quarter > quarters[-1]:
            break
        values = figures[quarter]
        findings = check_quarter(QuarterInput(town, quarter, dt.date(2026, 1, 1), PLAN, values, dict(history)))
        history[quarter] = values
        if quarter not in quarters:
            continue
        notes = {f.indicator: "测试说明文字足够长" for f in findings if f.needs_explanation and f.indicator}
        data = assemble_return(
            town,
            quarter,
            PLAN,
            history,
            notes,
            findings,
            {},
            dt.datetime(2024, 10, 9, tzinfo=dt.UTC),
            revision=revision,
            signed=True,
        )
        files += write_return_files(data, folder, identity=identity, kinds=kinds).paths[:1]
    return files


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """莞城, 石龙, 虎门 and 东城 for 2024Q1–Q3; 东城 resubmits Q3; 虎门's Q3 is tampered; a foreign file."""
    root = tmp_path_factory.mktemp("city")
    create_city_root(root / "pki", b"root-passphrase")
    inbox = root / "inbox"
    expected: dict[str, dict[Quarter, dict[str, int]]] = {}
    for town in TOWNS_IN_TEST:
        issue_town_identity(
            root / "pki" / "city_root.p12",
            b"root-passphrase",
            town,
            root / f"{town}.p12",
            PASS,
            not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            days=365 * 10,
        )
        identity = open_identity((root / f"{town}.p12").read_bytes(), PASS)
        figures = town_figures(PLAN, town, PLAN.quarters, seed=7)
        write_returns(inbox / town, identity, town, figures, QUARTERS)
        expected[town] = {q: figures[q] for q in PLAN.quarters if q <= Q}
        if town == "东城":
            corrected = {q: dict(v) for q, v in figures.items()}
            corrected[Q]["yuecai_certified"] += 5
            write_returns(inbox / town / "重报", identity, town, corrected, [Q], revision=2)
            expected[town][Q] = corrected[Q]
    tampered = next((inbox / "虎门").glob("2024Q3_*.xlsx"))
    wb = openpyxl.load_workbook(tampered)
    wb["季报"]["C7"] = 1
    wb.save(tampered)
    (inbox / "notes.xlsx").write_bytes(b"not a workbook at all")
    draft = openpyxl.Workbook()
    draft.active["A1"] = "随便一个表格"
    draft.save(inbox / "其他表格.xlsx")
    return root, inbox, expected


def consolidated(city, capsys, tmp_path):
    root, inbox, expected = city
    out = tmp_path / "out"
    code = cli_main(
        [
            "consolidate",
            "--trust",
            str(root / "pki" / "city_root.pem"),
            "--quarter",
            Q.code,
            str(inbox),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    return json.loads(capsys.readouterr().out), expected, out


def test_completeness_lists(city, capsys, tmp_path):
    data, _, _ = consolidated(city, capsys, tmp_path)
    assert data["quarter"] == "2024Q3"
    assert data["valid"] == ["莞城", "石龙", "东城"]
    assert set(data["missing"]) == set(TOWNS) - {"莞城", "石龙", "东城"}
    assert "虎门" in data["missing"]  # its only Q3 return was tampered with
    invalid = {Path(i["file"]).name: i["reason"] for i in data["invalid"]}
    assert any(name.startswith("2024Q3_虎门") for name in invalid)
    assert next(r for n, r in invalid.items() if n.startswith("2024Q3_虎门")).startswith("签名后文件被修改")
    assert "不是有效的 Excel" in invalid["notes.xlsx"]
    assert [Path(s["file"]).name for s in data["skipped"]] == ["其他表格.xlsx"]
    assert [(s["town"], s["revision"]) for s in data["superseded"]] == [("东城", 1)]
    assert data["conflicts"] == []


CLOSED = {"arbitration_due": "arbitration_closed", "inspection_cases": "inspection_closed"}


def year_to_date(figures, code: str) -> int:
    """A town's 本年累计 at Q by hand. A flow: the quarters' sum. A case count entered as 应结 only (含上期结转):
    年初结转 + 全年受理, each quarter's 结转 being what the quarter before left open (应结 − 结案) where it
    fits in its 应结 (README 口径, issue 26)."""
    if code not in CLOSED:
        return sum(figures[q][code] for q in QUARTERS)
    carried = []
    for q in QUARTERS:
        before = figures.get(q.previous())
        left = before[code] - before[CLOSED[code]] if before else None
        carried.append(left if left is not None and 0 <= left <= figures[q][code] else 0)
    received = [figures[q][code] - c for q, c in zip(QUARTERS, carried, strict=True)]
    return carried[0] + sum(received)


def test_totals_equal_independent_sums(city, capsys, tmp_path):
    data, expected, _ = consolidated(city, capsys, tmp_path)
    counted = ["莞城", "石龙", "东城"]
    for town in counted:  # the figures as entered (应结 only), with the 结转 and 受理 a return now signs
        assert {k: v for k, v in data["towns"][town].items() if k in expected[town][Q]} == expected[town][Q]
    flows = ("yuecai_certified", "nanyue_trained", "mediation_cases", "arbitration_due", "inspection_cases")
    for code in flows:
        quarter_sum = sum(expected[t][Q][code] for t in counted)
        assert data["city"][code]["quarter"] == quarter_sum
        assert data["city"][code]["ytd"] == sum(year_to_date(expected[t], code) for t in counted)
    for code in ("yuecai_certified", "nanyue_trained"):
        # the folder holds 2024's returns only, but each town's own Q3 return signed its cumulative since 2021
        cumulative = sum(expected[t][q][code] for t in counted for q in expected[t])
        own_targets = sum(PLAN.targets_for(t).counts[code] for t in counted)
        assert data["city"][code]["cumulative"] == cumulative
        assert data["city"][code]["completion"] == pytest.approx(cumulative / own_targets, abs=1e-6)
        # 虎门's Q3 return is tampered: the annex completion counts its latest valid one, Q2's (issue 26)
        humen = sum(v[code] for q, v in expected["虎门"].items() if q <= Quarter(2024, 2))
        annex = (cumulative + humen) / PLAN.city.counts[code]
        assert data["city"][code]["annex_completion"] == pytest.approx(annex, abs=1e-6)
    # each town is flagged for the 12 quarters (2021Q1–2023Q4) whose returns are not in the folder
    for town in counted:
        assert data["town_checks"][town][0].startswith("累计缺 12 个季度的季报")
    # and nothing else: a case carried from one quarter into the next is counted once by the city's check too
    # (found reviewing the 汇总表: it summed each quarter's 应结 and called the signed 本年累计 不符)
    assert any(expected[t][q]["arbitration_carried"] for t in counted for q in QUARTERS)
    assert all(len(data["town_checks"][town]) == 1 for town in counted), data["town_checks"]
    assert data["annex_lags"] == {"虎门": 1}
    cards = sum(expected[t][Q]["card_holders"] for t in counted)
    assert data["city"]["card_holders"]["quarter"] == cards == data["city"]["card_holders"]["end_of_quarter"]
    assert data["city"]["card_holders"]["ytd"] is None and data["city"]["card_holders"]["cumulative"] is None
    ytd_rate = data["city"]["mediation_success_rate"]["ytd"]  # the same explicit keys as progress --json
    assert data["city"]["mediation_success_rate"]["quarter"]["numerator"] == data["city"]["mediation_success_rate"]["numerator"]
    assert ytd_rate["numerator"] == sum(expected[t][q]["mediation_success"] for t in counted for q in QUARTERS)
    numerator = sum(expected[t][Q]["mediation_success"] for t in counted)
    denominator = sum(expected[t][Q]["mediation_cases"] for t in counted)
    rate = data["city"]["mediation_success_rate"]
    assert (rate["numerator"], rate["denominator"]) == (numerator, denominator)
    assert rate["rate"] == pytest.approx(numerator / denominator, abs=1e-6)
    town_rates = [expected[t][Q]["mediation_success"] / expected[t][Q]["mediation_cases"] for t in counted]
    assert rate["rate"] != pytest.approx(sum(town_rates) / len(town_rates), abs=1e-9)  # never an average of rates


def test_the_city_row_compares_the_reporting_towns_with_their_own_targets(city, capsys, tmp_path):
    data, _, _ = consolidated(city, capsys, tmp_path)
    counted = ("莞城", "石龙", "东城")
    for code in ("card_holders", "yuecai_certified", "nanyue_trained"):
        assert data["city"][code]["target"] == sum(PLAN.targets_for(t).counts[code] for t in counted)
    assert data["city"]["yuecai_certified"]["target"] == 154 + 77 + 457  # the annex rows of the three towns
    assert data["city_label"].startswith("全市（未含虎门、万江") and data["city_label"].endswith("等 30 个镇街）")


def test_summary_files(city, capsys, tmp_path):
    data, expected, out = consolidated(city, capsys, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["2024Q3_全市_汇总表.pdf", "2024Q3_全市_汇总表.xlsx"]
    wb = openpyxl.load_workbook(out / "2024Q3_全市_汇总表.xlsx")
    sheet = wb["汇总表"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=6, values_only=True) if row[1]}
    label = data["city_label"]
    assert rows[label][0] == "合计"
    assert rows[label][2] == data["city"]["card_holders"]["quarter"]
    assert rows[label][3] == data["city"]["card_holders"]["base"]  # issue 26: the base beside the 季末数
    assert rows[label][4] == data["city"]["card_holders"]["target"]
    assert rows["虎门"][2] == "缺报"
    assert rows["莞城"][2] == expected["莞城"][Q]["card_holders"]
    assert len(rows) == 34
    text = "".join(page.extract_text() for page in PdfReader(out / "2024Q3_全市_汇总表.pdf").pages)
    assert "全市（未含虎门" in text and "缺报" in text and "虎门" in text
    sign_off = [v for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str) and "审核人" in v]
    assert sign_off and "制表单位" in sign_off[0] and "制表日期" in sign_off[0]
    first_page = PdfReader(out / "2024Q3_全市_汇总表.pdf").pages[0].extract_text()
    assert "制表单位（盖章）" in first_page and "审核人" in first_page and "制表日期" in first_page


def test_no_text_in_the_summary_pdf_runs_over_its_cell():
    from reportlab.pdfbase import pdfmetrics

    from reports.city_report import CELL_PADDING, fit_columns
    from reports.pdf import FONT, register_font

    register_font()
    texts = [["合计", "全市", "10,257,293", "严重滞后", "100.0%", "无案件"], ["33", "大岭山", "9", "正常", "5.0%", "—"]]
    size, widths = fit_columns(texts, FONT, 6.5, 200, [10] * 6)
    assert size == 6.5 and sum(widths) == pytest.approx(200)
    for row in texts:
        for text, width in zip(row, widths, strict=True):
            assert pdfmetrics.stringWidth(text, FONT, size) + 2 * CELL_PADDING <= width
    size, widths = fit_columns([["10,257,293"] * 21], FONT, 6.5, 700, [10] * 21)
    assert 4.5 < size < 6.5 and sum(widths) <= 700 + 1e-6
    assert pdfmetrics.stringWidth("10,257,293", FONT, size) + 2 * CELL_PADDING <= widths[0]


def single_town_identity(folder: Path, town: str):
    """A fresh city root under folder/pki and one town identity issued by it."""
    create_city_root(folder / "pki", b"root-passphrase")
    issue_town_identity(
        folder / "pki" / "city_root.p12",
        b"root-passphrase",
        town,
        folder / f"{town}.p12",
        PASS,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        days=3650,
    )
    return open_identity((folder / f"{town}.p12").read_bytes(), PASS)


def test_two_different_returns_with_one_revision_are_a_conflict(tmp_path, capsys):
    identity = single_town_identity(tmp_path, "石龙")
    figures = town_figures(PLAN, "石龙", PLAN.quarters, seed=1)
    write_returns(tmp_path / "a", identity, "石龙", figures, [Q])
    other = {q: dict(v) for q, v in figures.items()}
    other[Q]["nanyue_trained"] += 1
    write_returns(tmp_path / "b", identity, "石龙", other, [Q])
    code = cli_main(
        [
            "consolidate",
            "--trust",
            str(tmp_path / "pki" / "city_root.pem"),
            "--quarter",
            Q.code,
            str(tmp_path),
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert "石龙" not in data["valid"] and "石龙" not in data["missing"]
    assert sorted((c["town"], c["revision"]) for c in data["conflicts"]) == [("石龙", 1), ("石龙", 1)]


def test_the_same_return_as_workbook_and_pdf_is_not_a_conflict(tmp_path, capsys):
    identity = single_town_identity(tmp_path, "茶山")
    write_returns(
        tmp_path / "in",
        identity,
        "茶山",
        town_figures(PLAN, "茶山", PLAN.quarters, seed=1),
        [Q],
        kinds=("workbook", "pdf", "summary"),
    )
    cli_main(
        [
            "consolidate",
            "--trust",
            str(tmp_path / "pki" / "city_root.pem"),
            "--quarter",
            Q.code,
            str(tmp_path / "in"),
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] == ["茶山"] and data["conflicts"] == []


def test_collect_streams_with_workers(city):
    from reports.collect import collect

    root, inbox, _ = city
    serial = collect(inbox, load_trust_roots(root / "pki" / "city_root.pem"), workers=1)
    parallel = collect(inbox, load_trust_roots(root / "pki" / "city_root.pem"), workers=2)
    assert {(k, v.file) for k, v in serial.chosen.items()} == {(k, v.file) for k, v in parallel.chosen.items()}
    assert len(serial.invalid) == len(parallel.invalid) == 2


def test_verify_of_many_files_on_workers_says_what_it_says_in_process(city, capsys, monkeypatch):
    """`verify FILE…` hands many files to the workers; the lines, their order (a file given twice is told
    twice), the JSON and the exit code are those of verifying them one by one in the command's process."""
    import actions.city

    root, inbox, _ = city
    files = sorted(str(p) for p in inbox.rglob("*.xlsx"))
    files = [*files, files[0], str(inbox / "missing.xlsx"), str(inbox)]
    argv = ["verify", "--trust", str(root / "pki" / "city_root.pem"), *files]
    outputs = []
    for pool_from in (10_000, 2):
        monkeypatch.setattr(actions.city, "POOL_FROM_FILES", pool_from)
        codes = (cli_main(argv), cli_main([*argv, "--json"]))
        text, json_text = capsys.readouterr().out.split("\n[", 1)
        outputs.append((codes, text, json.loads("[" + json_text)))
    assert outputs[0] == outputs[1]
    codes, text, verdicts = outputs[1]
    assert codes == (1, 1) and [v["file"] for v in verdicts] == files
    assert text.count("：有效（") == sum(v["valid"] for v in verdicts) > 0


def test_city_mode_on_the_command_line_and_in_the_window(city, qtbot, qtmodeltester, tmp_path, capsys, monkeypatch):
    from gui.app import make_application, open_session

    root, inbox, expected = city
    make_application()
    db = tmp_path / "city.sqlite3"
    assert cli_main(["--db", str(db), "init", "--city", "--trust", str(root / "pki" / "city_root.pem")]) == 0
    assert cli_main(["--db", str(db), "init", "--town", "莞城"]) == 2
    assert "市局汇总" in capsys.readouterr().err
    session = open_session(db)
    try:
        window = session.window
        assert type(window).__name__ == "CityWindow"
        window.quarter_box.setCurrentIndex(window.quarter_box.findData(Q.code))
        task = window.collect_folder(inbox)
        with qtbot.waitSignal(task.finished, timeout=60000):
            pass
        grid = window.grid_model
        column = grid.quarters.index(Q)
        state = {TOWNS[r]: grid.cell(grid.index(r, column)).state for r in range(len(TOWNS))}
        assert state["莞城"] == state["东城"] == "valid" and state["虎门"] == "invalid" and state["茶山"] == "missing"
        assert grid.cell(grid.index(TOWNS.index("东城"), column)).text == "✓2"
        assert "缺报 30" in window.counts.text()
        city_row = window.summary_model.rows[0]
        assert (
            city_row[1].startswith("全市（未含虎门")
            and city_row[2] == f"{sum(expected[t][Q]['card_holders'] for t in ('莞城', '石龙', '东城')):,}"
        )
        for model in (window.grid_model, window.summary_model, window.files_model):
            qtmodeltester.check(model)
        statuses = {r.status_text for r in window.files_model.rows}
        assert {"无效", "被取代", "跳过"} <= statuses
        written = window.export_summary(tmp_path / "out")
        assert [p.name for p in written] == ["2024Q3_全市_汇总表.xlsx", "2024Q3_全市_汇总表.pdf"]
        window.grab().save(str(tmp_path / "city.png"))
    finally:
        session.window.close()
        session.close()


def test_the_city_window_marks_missing_returns_freezes_the_towns_and_reopens_the_last_folder(city, qtbot, tmp_path):
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QFont

    from gui.app import make_application
    from gui.city_window import MISSING_BACKGROUND, CityWindow
    from storage.store import Store

    root, inbox, _expected = city
    make_application()
    store = Store(tmp_path / "city.sqlite3")
    store.set_city_mode((root / "pki" / "city_root.pem").read_text())
    QSettings().setValue("city/folder", str(inbox))
    window = CityWindow(store)
    qtbot.addWidget(window)
    window.showNormal()
    window.resize(1366, 700)
    try:
        qtbot.waitUntil(lambda: window.collection is not None, timeout=60000)  # re-verified at start
        assert str(inbox) in window.folder_label.text()
        grid = window.grid_model
        missing = grid.index(TOWNS.index("茶山"), grid.quarters.index(Q))
        assert grid.data(missing) == "缺报"
        assert grid.data(missing, Qt.ItemDataRole.BackgroundRole).color().name() == MISSING_BACKGROUND
        assert isinstance(grid.data(missing, Qt.ItemDataRole.FontRole), QFont)
        window.quarter_box.setCurrentIndex(window.quarter_box.findData(Q.code))
        window.tabs.setCurrentIndex(1)
        table, model = window.summary_table, window.summary_model
        row = next(i for i, r in enumerate(model.rows) if r[1] == "茶山")
        assert model.data(model.index(row, 2)) == "缺报"
        assert model.data(model.index(row, 5), Qt.ItemDataRole.BackgroundRole).color().name() == MISSING_BACKGROUND
        # 序号 and 镇街 are the row header: they stay in view however far the table scrolls sideways.
        assert table.isColumnHidden(0) and table.isColumnHidden(1) and table.verticalHeader().isVisible()
        assert "茶山" in model.headerData(row, Qt.Orientation.Vertical) and "32" in model.headerData(
            row, Qt.Orientation.Vertical
        )
        qtbot.waitUntil(lambda: table.horizontalScrollBar().maximum() > 0)
        table.horizontalScrollBar().setValue(table.horizontalScrollBar().maximum())
        last = model.index(0, model.columnCount() - 1)
        assert table.viewport().rect().intersects(table.visualRect(last))
        assert table.verticalHeader().isVisible()
    finally:
        window.close()
        store.close()
