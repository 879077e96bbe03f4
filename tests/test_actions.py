"""The application layer driven as the command line and the window drive it: no window, no argument
parsing, a real SQLite file in tmp_path, real files written and read back."""

import json
from pathlib import Path

import openpyxl
import pytest

from actions import city, database, figures, identity, plans, quarters, returns
from cli import main as cli_main
from core.errors import DomainError, InputError, QuarterError
from core.numbers import parse_counts
from core.plans import load_shipped_plan
from core.progress import year_to_date
from core.quarters import Quarter
from core.validation import check_quarter, quarter_input
from reports.export import ExportRefused
from reports.identity import IdentityError
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY, on_pace_history

Q = Quarter(2024, 3)
ROOT_PASS = b"root-passphrase"
TOWN_PASS = b"town-passphrase"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A city root and identities for 莞城 and 石龙, made by the city's own actions."""
    folder = tmp_path_factory.mktemp("pki")
    made = city.create_root(folder, ROOT_PASS)
    assert made.certificate.name == "city_root.pem" and made.key.exists()
    for town in ("莞城", "石龙"):
        issued = city.issue_identity(made.key, ROOT_PASS, town, folder / f"{town}.p12", TOWN_PASS)
        assert issued.file.exists() and issued.certificate.exists()
        assert issued.as_dict()["town"] == town
    return folder


@pytest.fixture
def ready(store):
    """莞城 with every quarter up to 2024Q3 entered and the sign-off names filled in, through the actions."""
    names = {"unit_name": "东莞市莞城人力资源和社会保障分局", "head": "张三", "stats_head": "王五", "preparer": "李四"}
    database.update_profile(store, names)
    for quarter, values in on_pace_history(last=Q).items():
        figures.save_figures(store, quarter, values, {})
    return store


@pytest.fixture
def signing(ready, pki):
    """`ready` with 莞城's identity imported."""
    identity.import_identity(ready, pki / "莞城.p12", lambda: TOWN_PASS)
    return ready


def never_asked() -> bytes:
    raise AssertionError("the passphrase was asked for although the export is refused")


# --- the database -----------------------------------------------------------------------------


def test_bind_town_and_the_profile_read_back_from_the_file(tmp_path):
    db = tmp_path / "町 街.sqlite3"
    binding = database.bind_town(db, "石龙")
    assert binding.as_dict() == {"town": "石龙", "db": str(db)}
    with database.open_store(db, writes="修改单位信息") as store:
        shown = database.update_profile(store, {"head": "张三", "phone": "0769-1"})
        assert shown.as_dict()["town"] == "石龙"
    with Store(db) as store:
        assert store.profile().head == "张三" and store.profile().phone == "0769-1"
        assert database.show_profile(store).profile.unit_name == ""


def test_use_for_city_refuses_a_file_that_is_not_a_certificate_before_making_a_database(tmp_path, pki):
    db = tmp_path / "city.sqlite3"
    not_pem = tmp_path / "note.pem"
    not_pem.write_text("hello", encoding="ascii")
    with pytest.raises(DomainError):
        database.use_for_city(db, not_pem)
    assert not db.exists()
    binding = database.use_for_city(db, pki / "city_root.pem")
    assert binding.as_dict() == {"mode": "city", "db": str(db)}
    with Store(db) as store:
        assert city.stored_trust_roots(store)


def test_backup_then_restore_brings_the_figures_back(store, db_path, tmp_path):
    figures.enter_figures(store, "2024Q3", [("card_holders", "150000")])
    copy = database.backup(store, tmp_path / "备份 一.sqlite3")
    figures.enter_figures(store, "2024Q3", [("card_holders", "160000")])
    store.close()
    restored = database.restore(db_path, copy)
    assert restored.previous is not None and restored.previous.exists()
    assert restored.as_dict()["restored"] == str(db_path)
    with Store(db_path) as reopened:
        assert reopened.figures(Q)["card_holders"] == 150_000


def test_verify_audit_reports_an_intact_chain(ready):
    report = database.verify_audit(ready)
    assert report.ok
    assert report.as_dict()["rows"] > 0 and report.as_dict()["first_bad_id"] is None


# --- figures ----------------------------------------------------------------------------------


def test_enter_saves_figures_and_explanations(store):
    result = figures.enter_figures(store, "2024年第3季度", [("card_holders", "１７０，０００"), ("mediation_cases", " 12 ")])
    assert result.saved and {c.code for c in result.changes} == {"card_holders", "mediation_cases"}
    assert store.figures(Q) == {"card_holders": 170_000, "mediation_cases": 12}
    assert json.loads(json.dumps(result.as_dict()))["saved"] is True


def test_enter_with_an_error_saves_nothing_and_says_why(store):
    result = figures.enter_figures(store, "2024Q3", [("card_holders", "170000"), ("mediation_cases", "1.5")])
    assert not result.saved
    assert any("小数" in f.message for f in result.blocking)
    assert store.figures(Q) == {}
    assert result.as_dict()["saved"] is False


def test_enter_refuses_an_unknown_code_and_a_bad_quarter(store):
    with pytest.raises(InputError, match="未知指标代码“nonsense”"):
        figures.enter_figures(store, "2024Q3", [("nonsense", "1")])
    with pytest.raises(InputError, match="未知指标代码"):
        figures.enter_figures(store, "2024Q3", [], [("nonsense", "说明文字够长了")])
    with pytest.raises(QuarterError):
        figures.enter_figures(store, "2024Q9", [("card_holders", "1")])


def test_check_finds_a_missing_figure(store):
    figures.enter_figures(store, "2024Q3", [("card_holders", "150000")])
    checked = figures.check(store, "2024Q3")
    assert checked.town == "莞城" and checked.quarter == Q
    assert checked.findings and checked.as_list()[0].keys() >= {"level", "rule", "message"}


def test_stock_bases_are_set_and_listed(store):
    bases = figures.stock_bases(store, [("card_holders", "140,000")])
    assert bases.changed == {"card_holders": 140_000}
    assert store.stock_bases(store.current_plan())["card_holders"] == 140_000
    assert figures.stock_bases(store).as_dict()["bases"]["card_holders"] == 140_000
    with pytest.raises(InputError, match="只有季末数指标有基期数"):
        figures.stock_bases(store, [("mediation_cases", "1")])
    with pytest.raises(InputError, match="不在任何已导入的规划期内"):
        figures.stock_bases(store, [("card_holders", "1")], quarter=Quarter(2040, 1))


def test_progress_and_its_json_are_the_command_lines(ready, db_path, capsys):
    progress = figures.progress(ready, "2024Q3")
    assert progress.indicators["card_holders"].quarter_value == on_pace_history(last=Q)[Q]["card_holders"]
    ready.close()
    assert cli_main(["--db", str(db_path), "progress", "--quarter", "2024Q3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(progress.as_dict()))


def test_annual_sums_the_year(ready):
    year = figures.annual(ready, 2024)
    assert [q.code for q in year.quarters_entered] == ["2024Q1", "2024Q2", "2024Q3"] and not year.complete
    assert year.as_dict()["totals"]["yuecai_certified"] == 3 * FULL_QUARTER["yuecai_certified"]


def test_history_lists_the_changes_and_refuses_an_unknown_code(store):
    figures.enter_figures(store, "2024Q3", [("card_holders", "150000")])
    rows = figures.history(store, "2024Q3", "card_holders")
    assert [r.new_value for r in rows] == ["150000"]
    with pytest.raises(InputError):
        figures.history(store, None, "nonsense")


def test_save_figures_as_the_window_does(store):
    changes = figures.save_figures(store, Q, {"card_holders": 150_000}, {}, loaded={}, loaded_explanations={})
    assert [c.code for c in changes] == ["card_holders"]


# --- returns, identity, statuses and reopening ------------------------------------------------


def test_an_unsigned_export_writes_three_draft_files(ready, tmp_path):
    result = returns.export_quarter(ready, "2024Q3", tmp_path / "out", passphrase=None)
    assert not result.signed and all(p.exists() for p in result.paths)
    workbook = openpyxl.load_workbook(result.workbook)
    assert workbook.sheetnames
    assert result.as_dict()["exported"] is True


def test_a_refused_export_never_asks_for_the_passphrase(signing, tmp_path):
    with pytest.raises(ExportRefused) as refused:
        returns.export_quarter(signing, "2026Q4", tmp_path, passphrase=never_asked)
    assert refused.value.quarter == Quarter(2026, 4) and any("尚未结束" in r for r in refused.value.reasons)
    assert not list(tmp_path.glob("*.xlsx"))


def test_a_signed_export_verifies_and_submits_the_quarter(signing, tmp_path, pki):
    asked = []

    def passphrase() -> bytes:
        asked.append(1)
        return TOWN_PASS

    result = returns.export_quarter(signing, "2024Q3", tmp_path / "out", passphrase)
    assert asked == [1] and result.signed and result.revision == 1
    verdicts = city.verify_files(pki / "city_root.pem", [], result.paths)
    assert all(v.valid and v.town == "莞城" and v.revision == 1 for v in verdicts)
    states = {s.quarter: s.as_dict() for s in quarters.statuses(signing)}
    assert states[Q]["state"] == "已上报" and states[Q]["revision"] == 1

    with pytest.raises(DomainError, match="至少"):
        figures.reopen(signing, "2024Q3", "错")
    reopened = figures.reopen(signing, "2024Q3", "数值填错，需要更正")
    assert reopened.as_dict() == {"quarter": "2024Q3", "state": "reopened", "revision": 1}


def test_the_window_steps_make_the_same_signed_return(signing, tmp_path):
    data = returns.prepare_export(signing, Q)
    opened = returns.open_identity(signing, TOWN_PASS)
    data = returns.reserve_for_signing(signing, data)
    assert data.signed and data.revision == 1
    planned = returns.planned_files(data, tmp_path)
    result = returns.write_files(data, tmp_path, identity=opened, step=lambda _label: True)
    assert result.paths == planned and not any(p.exists() for p in planned)  # in place only once recorded
    returns.record_signed(signing, data, result)
    assert signing.quarter_status(Q).revision == 1
    assert all(p.exists() for p in planned)


def test_preview_writes_a_pdf_of_an_unfinished_quarter(ready, tmp_path):
    ready.save_quarter(Quarter(2026, 4), FULL_QUARTER)
    data = returns.prepare_export(ready, Quarter(2026, 4), preview=True)
    path = tmp_path / "summary.pdf"
    returns.write_preview(data, "summary", path)
    assert path.read_bytes().startswith(b"%PDF")


def test_import_identity_pins_the_root_and_show_tells_its_fingerprint(store, pki):
    imported = identity.import_identity(store, pki / "莞城.p12", lambda: TOWN_PASS)
    shown = identity.show_identity(store)
    assert shown.root_sha256 == imported.root_fingerprint
    assert shown.as_dict() == {
        "town": "莞城",
        "identity": shown.description,
        "root_sha256": imported.root_fingerprint,
        "kind": "p12",  # issue 28: which kind of identity, its last day, the renewal warning
        "not_after": f"{imported.checked.identity.not_after:%Y-%m-%d}",
        "warning": None,
        "token": None,
    }


def test_the_command_line_and_the_action_refuse_another_towns_identity_alike(store, db_path, pki, tmp_path, capsys):
    with pytest.raises(IdentityError) as refused:
        identity.import_identity(store, pki / "石龙.p12", lambda: TOWN_PASS)
    store.close()
    passphrase = tmp_path / "pass.txt"
    passphrase.write_bytes(TOWN_PASS + b"\n")
    code = cli_main(
        ["--db", str(db_path), "identity", "import", str(pki / "石龙.p12"), "--passphrase-file", str(passphrase)]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == f"错误：{refused.value.message}"


def test_passphrase_from_a_file_or_a_prompt_or_a_refusal(tmp_path):
    file = tmp_path / "口令.txt"
    file.write_text("秘密 口令\n", encoding="utf-8")
    assert identity.passphrase_from(file) == "秘密 口令".encode()
    assert identity.passphrase_from(None, lambda: "typed") == b"typed"
    with pytest.raises(IdentityError, match="--passphrase-file"):
        identity.passphrase_from(None, None)


# --- plans ------------------------------------------------------------------------------------


def test_the_plans_are_listed(store):
    listed = [entry.as_dict() for entry in plans.list_plans(store)]
    assert [(p["name"], p["first"], p["last"]) for p in listed] == [
        ("东莞市人力资源和社会保障事业发展“十四五”规划", "2021Q1", "2025Q4")
    ]
    assert listed[0]["city"]["card_holders"] == 10_257_293


# --- the city ---------------------------------------------------------------------------------


def test_consolidate_a_folder_and_write_the_summary(signing, tmp_path, pki):
    inbox = tmp_path / "收件 箱"
    returns.export_quarter(signing, "2024Q3", inbox, lambda: TOWN_PASS)
    (inbox / "readme.pdf").write_bytes(b"%PDF-1.4 not a return")
    result = city.consolidate(inbox, "2024Q3", pki / "city_root.pem", [], out=tmp_path / "汇总")
    assert list(result.summary.reporting) == ["莞城"]
    assert [p.name for p in result.files] == ["2024Q3_全市_汇总表.xlsx", "2024Q3_全市_汇总表.pdf"]
    shown = result.as_dict()
    assert shown["valid"] == ["莞城"] and shown["files"] == [str(p) for p in result.files]
    assert str(inbox / "readme.pdf") in [item["file"] for item in shown["invalid"] + shown["skipped"]]
    with pytest.raises(DomainError):  # written already: refused unless asked to overwrite
        city.write_city_summary(result, tmp_path / "汇总")
    assert city.write_city_summary(result, tmp_path / "汇总", overwrite=True) == result.files
    with pytest.raises(InputError, match="找不到文件夹"):
        city.consolidate(tmp_path / "nowhere", "2024Q3", pki / "city_root.pem", [])


def test_the_city_measures_against_the_shipped_plan_when_its_database_has_none(tmp_path, pki):
    roots = city.trust_roots(pki / "city_root.pem")
    assert [p.name for p in city.measured_plans(None, roots)] == [load_shipped_plan().name]
    database.use_for_city(tmp_path / "city.sqlite3", pki / "city_root.pem")
    with Store(tmp_path / "city.sqlite3") as store:
        assert [p.name for p in city.measured_plans(store, roots)] == [load_shipped_plan().name]


def test_revoking_a_town_writes_a_list_the_verifier_loads(tmp_path, pki):
    revoked = city.revoke_identity(pki / "city_root.p12", ROOT_PASS, pki / "石龙.pem", tmp_path / "revoked.crl", None)
    assert revoked.town == "石龙" and revoked.crl.exists()
    assert revoked.as_dict()["serial"] == f"{revoked.serial:x}"
    roots = city.trust_roots(pki / "city_root.pem")
    assert city.revocations([revoked.crl], roots) is not None


# --- the pieces the window and the store share ------------------------------------------------


def test_one_parser_of_typed_counts():
    values, invalid = parse_counts({"card_holders": "１,２３４", "mediation_cases": "", "nanyue_trained": "3.5"})
    assert values == {"card_holders": 1234, "mediation_cases": None}
    assert "小数" in invalid["nanyue_trained"]


def test_year_to_date_sums_flows_only():
    history = {Quarter(2024, 1): {"mediation_cases": 3, "card_holders": 10}, Q: {"mediation_cases": 4}}
    assert year_to_date(history, Q, "mediation_cases") == 7
    assert year_to_date(history, Q, "card_holders") is None
    assert year_to_date(history, Q, "nanyue_trained") is None


def test_the_form_and_the_store_check_the_same_input(store):
    store.save_quarter(Q, {"card_holders": 150_000}, {})
    typed = {"mediation_cases": 10, "mediation_success": 12}
    data = quarter_input(
        "莞城", Q, TODAY, store.plan_for(Q), store.history(), store.explanations(Q), values=typed,
        bases=store.stock_bases(store.plan_for(Q)), catalogue=store.catalogue_for(Q),
    )
    assert data.values == {"card_holders": 150_000, **typed}
    assert Q not in data.history
    # the store adds only its notice of a quarter to resubmit, which this draft quarter is not
    assert check_quarter(data) == store.check(Q, typed)


def test_the_window_and_the_command_line_refuse_another_towns_identity_with_one_message(
    store, db_path, pki, tmp_path, capsys, qtbot, monkeypatch
):
    """Both doors reach `identity.import_identity`: the same refusal, word for word."""
    from PySide6.QtWidgets import QMessageBox

    from gui import questions
    from gui.app import make_application
    from gui.main_window import MainWindow

    make_application()
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: TOWN_PASS)
    window = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(window)
    assert not window.import_identity(pki / "石龙.p12")
    assert store.identity_p12() is None
    window.close()
    store.close()
    passphrase = tmp_path / "pass.txt"
    passphrase.write_bytes(TOWN_PASS + b"\n")
    code = cli_main(
        ["--db", str(db_path), "identity", "import", str(pki / "石龙.p12"), "--passphrase-file", str(passphrase)]
    )
    assert code == 2 and shown
    assert capsys.readouterr().err.strip() == f"错误：{shown[-1]}"


def test_a_refused_exports_json_is_the_refusals(ready, db_path, tmp_path, capsys):
    with pytest.raises(ExportRefused) as refused:
        returns.export_quarter(ready, "2026Q4", tmp_path, passphrase=None)
    ready.close()
    code = cli_main(["--db", str(db_path), "export", "--quarter", "2026Q4", "--out", str(tmp_path), "--unsigned", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and json.loads(out) == {"exported": False, "reasons": refused.value.reasons}
    assert err.startswith("2026年第4季度未导出，原因：")


def test_the_city_summary_is_written_both_or_neither(signing, tmp_path, pki, monkeypatch):
    """Found on the way (issue 23): the workbook was written on its own, then the PDF; a PDF that failed
    left a new workbook beside the old PDF."""
    import reports.city_report as city_report

    inbox = tmp_path / "收件 箱"
    returns.export_quarter(signing, "2024Q3", inbox, lambda: TOWN_PASS)
    result = city.consolidate(inbox, "2024Q3", pki / "city_root.pem", [], out=tmp_path / "汇总")
    before = {p.name: p.read_bytes() for p in result.files}

    def broken_pdf(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(city_report, "write_city_pdf", broken_pdf)
    with pytest.raises(OSError):
        city.write_city_summary(result, tmp_path / "汇总", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "汇总").iterdir()} == before  # nothing new, no temp left
    with pytest.raises(OSError):
        city.write_city_summary(result, tmp_path / "新 文件夹")
    assert list((tmp_path / "新 文件夹").iterdir()) == []
