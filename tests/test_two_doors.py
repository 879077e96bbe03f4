"""Two doors, one answer (issue 23): each action both doors offer, run through the command line and
through the window on copies of the same database, gives the same outcome — what is stored, the
files written, the verdicts and the numbers shown."""

import json
import shutil
import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from cli import main
from core.plan_package import sample_package
from core.quarters import Quarter
from reports.identity import revoke
from storage.store import Store
from tests.helpers import SIGN_OFF_FLAGS, TODAY, on_pace_history
from tests.pki import PASSPHRASE
from tests.test_plan_store import rewrite_package

TOWN = "莞城"
Q3 = Quarter(2024, 3)
Q1 = Quarter(2026, 1)


@pytest.fixture
def keys(city_keys):
    return city_keys


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def town_database(
    folder: Path, keys, capsys, town: str = TOWN, names: bool = True, plan: bool = False, identity: bool = True
) -> Path:
    """A town's database with 2024Q3 on pace and its identity imported (and the sample plan, 2026Q1)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{town} 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", town)[0] == 0
    if names:
        assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    if identity:
        assert run(capsys, "--db", db, "identity", "import", keys["p12"][town], "--passphrase-file", keys["pw"])[0] == 0
    with Store(db, today=lambda: TODAY) as store:
        for quarter, values in on_pace_history(last=Q3).items():
            store.save_quarter(quarter, values)
        lagging: dict[str, str | None] = {
            f.indicator: "本季度培训班次推迟，下季度补上" for f in store.check(Q3) if f.needs_explanation and f.indicator
        }
        if lagging:  # 莞城's pace is another town's shortfall: explained, as a clerk does
            store.save_quarter(Q3, {}, explanations=lagging)
    if plan:
        assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    return db


def twin(db: Path, folder: Path) -> Path:
    """A copy of the database for the other door."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / db.name
    source, target = sqlite3.connect(db), sqlite3.connect(copy)
    try:
        source.backup(target)  # the committed state, whatever still waits in the log
    finally:
        source.close()
        target.close()
    for side_file in db.parent.glob(db.name + ".*"):  # the database's identity file and the like
        if not side_file.name.endswith(("-wal", "-shm")):
            shutil.copyfile(side_file, folder / side_file.name)
    return copy


@contextmanager
def town_window(db: Path, quarter: Quarter, qtbot, today=TODAY):
    """The clerk's window on `db` at `quarter`, its store closed afterwards (the window's side of a test)."""
    from gui.app import make_application
    from gui.main_window import MainWindow

    make_application()
    store = Store(db, today=lambda: today)
    try:
        win = MainWindow(store, initial_quarter=quarter)
        qtbot.addWidget(win)
        win.show()
        yield win, store
    finally:
        store.close()


def submitted_revision(db: Path, quarter: Quarter) -> int | None:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as con:
        row = con.execute("select state, revision from quarter_status where quarter=?", (quarter.code,)).fetchone()
    return row[1] if row and row[0] == "submitted" else None


# --- sign-off names ------------------------------------------------------------------------------


def test_a_signed_export_needs_the_sign_off_names_through_either_door(keys, tmp_path, capsys, qtbot, dialogs):
    """The command line used to sign a return with 单位负责人 and the others blank; the window refused."""
    from gui.app import make_application
    from gui.main_window import MainWindow

    cli_db = town_database(tmp_path / "命令行", keys, capsys, names=False)
    window_db = twin(cli_db, tmp_path / "窗口")

    out = tmp_path / "命令行 上报"
    code, _, err = run(
        capsys, "--db", cli_db, "export", "--quarter", Q3.code, "--out", out, "--passphrase-file", keys["pw"]
    )
    assert code == 2
    assert "单位负责人、统计负责人、填表人" in err and "profile --head" in err
    assert not out.exists() and submitted_revision(cli_db, Q3) is None

    make_application()
    store = Store(window_db, today=lambda: TODAY)
    win = MainWindow(store, initial_quarter=Q3)
    qtbot.addWidget(win)
    win.show()
    # The window names the same three and opens 单位信息设置; declining it exports nothing.
    dialogs.expect("单位负责人、统计负责人、填表人", answer=QMessageBox.StandardButton.Ok)
    asked = []

    def decline_the_profile() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QDialog)
        asked.append(dialog.windowTitle())
        dialog.reject()

    QTimer.singleShot(0, decline_the_profile)
    folder = tmp_path / "窗口 上报"
    assert win.export_return(folder=folder) is None
    assert asked == ["单位信息设置"]
    assert not folder.exists() and submitted_revision(window_db, Q3) is None
    store.close()

    # With the names given through either door, both sign revision 1 of the same content.
    assert run(capsys, "--db", cli_db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    code, _, err = run(
        capsys, "--db", cli_db, "export", "--quarter", Q3.code, "--out", out, "--passphrase-file", keys["pw"]
    )
    assert code == 0, err
    assert submitted_revision(cli_db, Q3) == 1


# --- plans the city measures against --------------------------------------------------------------


def city_database(folder: Path, keys, capsys) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "市局 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--city", "--trust", keys["city_cert"])[0] == 0
    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    return db


def city_window(db: Path, qtbot):
    from PySide6.QtCore import QSettings

    from gui.app import make_application
    from gui.city_window import CityWindow

    make_application()
    QSettings().remove("city/folder")
    store = Store(db, today=lambda: TODAY)
    win = CityWindow(store)
    qtbot.addWidget(win)
    win.show()
    return win, store


def test_a_city_plan_rewritten_in_the_database_is_refused_by_both_doors(keys, tmp_path, capsys, qtbot, dialogs):
    """The window consolidated with a plan row someone rewrote consistently (only re-hashed); `consolidate
    --db` verifies each package's signature. Both refuse it now, naming the plan."""
    db = city_database(tmp_path / "市局", keys, capsys)
    rewrite_package(db, consistently=True)
    window_db = twin(db, tmp_path / "窗口")
    inbox = tmp_path / "季报"
    inbox.mkdir()

    code, _, err = run(capsys, "consolidate", inbox, "--quarter", Q1.code, "--trust", keys["city_cert"], "--db", db)
    assert code == 2 and "核验不通过" in err

    win, store = city_window(window_db, qtbot)
    try:
        assert "核验不通过" in win.counts.text()
        dialogs.expect("核验不通过", answer=QMessageBox.StandardButton.Ok)
        assert win.collect_folder(inbox) is None
        assert win.consolidated is None
    finally:
        win.close()
        store.close()


def test_the_city_window_measures_against_the_same_plans_as_consolidate(keys, tmp_path, capsys, qtbot):
    db = city_database(tmp_path / "市局", keys, capsys)
    from actions.city import measured_plans, stored_trust_roots

    win, store = city_window(db, qtbot)
    try:
        assert [p.content_hash for p in win.plans] == [
            p.content_hash for p in measured_plans(store, stored_trust_roots(store))
        ]
        assert sample_package().content_hash in {p.content_hash for p in win.plans}
    finally:
        win.close()
        store.close()


# --- several revocation lists ---------------------------------------------------------------------


def two_towns_returns(keys, tmp_path, capsys) -> list[Path]:
    files = []
    for town in (TOWN, "南城"):
        db = town_database(tmp_path / town, keys, capsys, town=town)
        out = tmp_path / "季报"
        code, _, err = run(
            capsys, "--db", db, "export", "--quarter", Q3.code, "--out", out, "--passphrase-file", keys["pw"]
        )
        assert code == 0, err
        files.append(next(out.glob(f"*{town}*季报.xlsx")))
    return files


def two_crls(keys, folder: Path) -> list[Path]:
    """Two lists, each revoking one town (as two `city revoke` runs without --existing write them), a
    minute before the returns are signed."""
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    crls = []
    for town in (TOWN, "南城"):
        _key, cert, _ = pkcs12.load_key_and_certificates(keys["p12"][town].read_bytes(), PASSPHRASE)
        assert cert is not None
        pem = folder / f"{town}.pem"
        pem.write_bytes(cert.public_bytes(Encoding.PEM))
        crl = folder / f"吊销 {town}.crl"
        revoke(keys["city_key"], PASSPHRASE, pem, crl, when=datetime.now(UTC) - timedelta(minutes=1))
        crls.append(crl)
    return crls


def test_several_revocation_lists_count_in_verify_and_in_the_town_verify_dialog(keys, tmp_path, capsys, qtbot):
    from gui.app import make_application
    from gui.verify_dialog import VerifyDialog

    crls = two_crls(keys, tmp_path)
    files = two_towns_returns(keys, tmp_path, capsys)
    args = ["verify", "--trust", keys["city_cert"], "--json", *files]
    for crl in crls:
        args += ["--crl", crl]
    code, out, _ = run(capsys, *args)
    cli_verdicts = {Path(v["file"]).name: v["valid"] for v in json.loads(out)}
    assert code == 1 and cli_verdicts == {f.name: False for f in files}

    make_application()
    dialog = VerifyDialog()
    qtbot.addWidget(dialog)
    dialog.set_root(keys["city_cert"])
    dialog.crl_button.set_paths(crls)
    assert dialog.crl_button.text() == "吊销列表：2 个"
    task = dialog.verify_files(files)
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    window_verdicts = {Path(r.file).name: r.valid for r in dialog.model.rows}
    dialog.crl_button.set_paths([])
    assert window_verdicts == cli_verdicts


def test_the_city_window_takes_several_revocation_lists_as_consolidate_does(keys, tmp_path, capsys, qtbot):
    crls = two_crls(keys, tmp_path)
    files = two_towns_returns(keys, tmp_path, capsys)
    inbox = files[0].parent
    db = city_database(tmp_path / "市局", keys, capsys)
    args = ["consolidate", inbox, "--quarter", Q3.code, "--trust", keys["city_cert"], "--json"]
    for crl in crls:
        args += ["--crl", crl]
    code, out, err = run(capsys, *args, "--db", db)
    assert code == 0, err
    cli = json.loads(out)
    cli_valid = cli["valid"]
    assert len(cli["invalid"]) == 6  # workbook, PDF and summary of each town

    win, store = city_window(db, qtbot)
    try:
        win.set_crls(crls)
        task = win.collect_folder(inbox)
        assert task is not None
        with qtbot.waitSignal(task.finished, timeout=60000):
            pass
        win.quarter_box.setCurrentIndex(win.quarter_box.findData(Q3.code))
        win.quarter_box.activated.emit(win.quarter_box.currentIndex())
        assert win.summary is not None
        assert sorted(win.summary.reporting) == sorted(cli_valid) == []
        assert sorted(v.file for v in win.collection.invalid) == sorted(v["file"] for v in cli["invalid"])
        win.set_crls([])
    finally:
        win.close()
        store.close()


# --- the town's verification with the plans it imported -------------------------------------------


def sample_quarter_figures() -> dict[str, int]:
    from tests.test_plan_returns import q1_figures

    return q1_figures(sample_package())


def test_a_return_under_an_imported_plan_verifies_in_the_town_window_as_with_verify_plan(keys, tmp_path, capsys, qtbot):
    """The town's 核验季报签名 passed no plans: a genuine return made under an imported plan showed 无效."""
    from gui.app import make_application
    from gui.verify_dialog import VerifyDialog

    db = town_database(tmp_path / "镇街", keys, capsys, plan=True)
    pairs = [f"{code}={value}" for code, value in sample_quarter_figures().items()]
    code, _, err = run(capsys, "--db", db, "enter", "--quarter", Q1.code, *pairs)
    assert code == 0, err
    out = tmp_path / "上报"
    code, _, err = run(
        capsys, "--db", db, "export", "--quarter", Q1.code, "--out", out, "--passphrase-file", keys["pw"]
    )
    assert code == 0, err
    workbook = next(out.glob("*季报.xlsx"))

    assert run(capsys, "verify", "--trust", keys["city_cert"], workbook)[0] == 1  # no plan given: invalid
    code, out_text, _ = run(capsys, "verify", "--trust", keys["city_cert"], "--plan", keys["plan"], workbook)
    assert code == 0 and "有效" in out_text

    make_application()
    store = Store(db, today=lambda: TODAY)
    try:
        dialog = VerifyDialog(None, store)  # the database's imported plan, its signature checked again
        qtbot.addWidget(dialog)
        dialog.set_root(keys["city_cert"])
        dialog.plan_button.set_paths([])
        task = dialog.verify_files([workbook])
        assert task is not None
        with qtbot.waitSignal(task.finished, timeout=60000):
            pass
        assert [r.valid for r in dialog.model.rows] == [True], dialog.model.rows[0].reason
    finally:
        store.close()

    # Without the database, the clerk adds the .plan file, as `--plan` does.
    alone = VerifyDialog()
    qtbot.addWidget(alone)
    alone.set_root(keys["city_cert"])
    alone.plan_button.set_paths([keys["plan"]])
    task = alone.verify_files([workbook])
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    assert [r.valid for r in alone.model.rows] == [True]
    alone.plan_button.set_paths([])
    assert alone.plan_button.text() == "规划文件…"


# --- the check as the clerk types and the check at saving -----------------------------------------


def test_the_live_check_and_the_save_check_agree_for_a_quarter_after_the_last_plan(keys, tmp_path, capsys, qtbot):
    """A quarter after the last plan uses that plan's indicator list; the entry form checked against the
    shipped list and named a new indicator by its code (`skilled_trained`) where saving named it."""
    from datetime import date

    from PySide6.QtCore import Qt


    db = town_database(tmp_path / "镇街", keys, capsys, plan=True)
    later = Quarter(2031, 1)
    with town_window(db, later, qtbot, date(2031, 4, 20)) as (win, store):
        edit = win.form.value_edits["skilled_trained"]
        edit.setFocus()
        qtbot.keyClicks(edit, "12.5")
        qtbot.keyClick(edit, Qt.Key.Key_Tab)
        values, invalid = win.form.parsed()
        live = sorted(f.message for f in win.form.findings())
        saved = sorted(f.message for f in store.check(later, values, win.form.explanations(), invalid))
        assert live == saved
        assert any(m.startswith("技能人才") for m in live) and not any("skilled_trained" in m for m in live)
        win.form.value_edits["skilled_trained"].clear()

    code, _, err = run(capsys, "--db", db, "enter", "--quarter", later.code, "skilled_trained=12.5")
    assert code != 0 and "技能人才" in err and "skilled_trained：" not in err


# --- the year and the base notice -----------------------------------------------------------------


def test_the_year_pane_and_the_base_notice_say_what_annual_and_progress_say(keys, tmp_path, capsys, qtbot):
    """The window's 年度 pane computed the year with the quarter's plan and the shipped list, and its 基期数
    notice said 2020 under the 2026–2030 plan where `progress` said 2025."""
    from datetime import date


    db = town_database(tmp_path / "镇街", keys, capsys, plan=True)
    later = Quarter(2031, 1)
    code, _, err = run(capsys, "--db", db, "enter", "--quarter", Q1.code, "card_holders=160000", "yuecai_certified=40", "skilled_trained=7")
    assert code in (0, 1), err

    code, out, _ = run(capsys, "--db", db, "progress", "--quarter", Q1.code)
    assert "2025 年末数" in out
    code, out, _ = run(capsys, "--db", db, "annual", "--year", "2026", "--json")
    cli_year = json.loads(out)

    with town_window(db, Q1, qtbot, date(2031, 4, 20)) as (win, store):
        win.tabs.setCurrentIndex(1)  # 进度
        view = win.progress_view
        assert "2025 年末数" in view.notice.text() and "2020" not in view.notice.text()
        shown = {row.name: row.denominator for row in view.year_model.rows}
        planned = store.catalogue_for(Q1).planned_codes
        for code, total in ((c, t) for c, t in cli_year["totals"].items() if c in planned):
            name = f"{store.catalogue_for(Q1).display_name(code)}（本年累计）"
            assert name in shown
            assert shown[name].replace(",", "").split(" ")[0] == ("—" if total is None else str(total))

        win.select_quarter(later)  # after the last plan: the plan's list, as `annual` has it
        win.tabs.setCurrentIndex(1)
        code, out, _ = run(capsys, "--db", db, "annual", "--year", "2031", "--json")
        names = {row.name for row in view.year_model.rows}
        later_planned = store.catalogue_for(later).planned_codes
        totals = [c for c in json.loads(out)["totals"] if c in later_planned]
        assert "skilled_trained" in totals
        assert {f"{store.catalogue_for(later).display_name(c)}（本年累计）" for c in totals} <= names


def test_a_year_with_a_quarter_skipped_names_it_through_either_door(tmp_path, capsys, qtbot):
    """Found reviewing from outside: with 2023Q2 never entered and Q1, Q3, Q4 in, `annual` said the year
    waited for its 4th quarter (and the window's 年度 pane said the same); both now name the missing quarter."""
    db = tmp_path / "莞城 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", TOWN)[0] == 0
    with Store(db, today=lambda: TODAY) as store:
        for quarter, values in on_pace_history(first=Quarter(2023, 1), last=Quarter(2023, 4)).items():
            if quarter != Quarter(2023, 2):
                store.save_quarter(quarter, values)
    code, out, _ = run(capsys, "--db", db, "annual", "--year", "2023")
    assert code == 0
    assert "已填 3 个季度，缺第2季度（全年结果待各季度填齐后得出）" in out and "待第4季度" not in out
    with town_window(db, Quarter(2023, 4), qtbot) as (win, _store):
        win.tabs.setCurrentIndex(1)  # 进度
        assert "已填 3 个季度，缺第2季度（全年结果待各季度填齐后得出）" in win.progress_view.year_heading.text()


# --- the start-up duties ----------------------------------------------------------------------------


def test_the_day_s_first_writing_command_makes_the_daily_backup_as_opening_the_window_does(tmp_path, capsys):
    """The daily backup was made only when the window opened: a town that worked on the command line
    alone never had one. Now a writing command makes it (once a day); a reading command does not."""
    from actions.database import start_up
    from storage.backup import backups_of

    def daily(db: Path) -> list[Path]:
        return [p for p in backups_of(db) if "每日" in p.name]

    for name in ("命令行", "窗口"):
        folder = tmp_path / name
        folder.mkdir()
        with Store(folder / "镇街.sqlite3", today=lambda: TODAY) as store:
            store.bind_town(TOWN)
    cli_db, window_db = tmp_path / "命令行" / "镇街.sqlite3", tmp_path / "窗口" / "镇街.sqlite3"

    assert run(capsys, "--db", cli_db, "status")[0] == 0
    assert daily(cli_db) == []  # reading leaves the folder as it was
    assert run(capsys, "--db", cli_db, "enter", "--quarter", Q3.code, "yuecai_certified=5")[0] in (0, 1)
    assert len(daily(cli_db)) == 1
    assert run(capsys, "--db", cli_db, "enter", "--quarter", Q3.code, "yuecai_certified=6")[0] in (0, 1)
    assert len(daily(cli_db)) == 1  # once a day

    with Store(window_db, today=lambda: TODAY) as store:
        start_up(store)  # what the window runs when its database has opened (gui.app.check_on_start_up)
    assert len(daily(window_db)) == 1


# --- a quarter no plan covers ------------------------------------------------------------------------


def test_a_quarter_no_plan_covers_is_signed_through_neither_door(keys, tmp_path, capsys, qtbot, dialogs, monkeypatch):
    """The window refused it (issue 25); `export` signed and locked it, and the city then refused the return.
    Both refuse a signed return now, naming the plan to import; a draft is made through both."""
    from gui import questions

    cli_db = town_database(tmp_path / "命令行", keys, capsys)  # no plan imported: 2026 has none
    pairs = [f"{code}={value}" for code, value in sample_quarter_figures().items() if code != "skilled_trained"]
    run(capsys, "--db", cli_db, "enter", "--quarter", Q1.code, *pairs)
    window_db = twin(cli_db, tmp_path / "窗口")

    out = tmp_path / "命令行 上报"
    code, _, err = run(capsys, "--db", cli_db, "export", "--quarter", Q1.code, "--out", out, "--passphrase-file", keys["pw"])
    assert code == 2 and "不在任何已导入的规划期内" in err and "2026—2030 年规划文件" in err and "plan import" in err
    assert not out.exists() and submitted_revision(cli_db, Q1) is None

    with town_window(window_db, Q1, qtbot, TODAY) as (win, store):
        monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: PASSPHRASE)
        dialogs.expect("2026—2030 年规划文件", answer=QMessageBox.StandardButton.Ok)
        folder = tmp_path / "窗口 上报"
        assert win.export_return(folder=folder) is None
        assert "文件 → 导入规划" in dialogs.texts()[-1] and "plan import" not in dialogs.texts()[-1]
        assert not folder.exists() and submitted_revision(window_db, Q1) is None


# --- the quarter list and `status`; 修改记录 and `history` ---------------------------------------------


def test_the_quarter_list_names_each_quarter_as_status_does(keys, tmp_path, capsys, qtbot):
    """The picker recomputed 未填/草稿 itself where `status` said 未填报."""
    db = town_database(tmp_path / "镇街", keys, capsys, plan=True)
    assert run(capsys, "--db", db, "enter", "--quarter", Q1.code, "yuecai_certified=40")[0] in (0, 1)
    code, out, _ = run(capsys, "--db", db, "status")
    said = dict(line.split("：", 1) for line in out.splitlines() if "：" in line)

    with town_window(db, Q1, qtbot, TODAY) as (win, store):
        shown = [win.quarter_box.itemText(i) for i in range(win.quarter_box.count())]
        assert shown, "the quarter list is empty"
        for text in shown:
            label, state = text.split("（", 1)
            assert said[label] == state.removesuffix("）"), text
        assert any("未填报" in text for text in shown) and not any("（未填）" in text for text in shown)
        assert any("已填 1/" in text for text in shown)


def test_the_change_history_names_a_new_indicator_as_history_does(keys, tmp_path, capsys, qtbot):
    """修改记录 showed `skilled_trained` where `history` showed its Chinese name."""
    db = town_database(tmp_path / "镇街", keys, capsys, plan=True)
    assert run(capsys, "--db", db, "enter", "--quarter", Q1.code, "skilled_trained=7")[0] in (0, 1)
    code, out, _ = run(capsys, "--db", db, "history", "--quarter", Q1.code)
    name = sample_package().catalogue().display_name("skilled_trained")
    assert code == 0 and name in out and "skilled_trained" not in out

    with town_window(db, Q1, qtbot, TODAY) as (win, store):
        win.tabs.setCurrentIndex(2)  # 历史
        model = win.history_view.audit_model
        subjects = [model.data(model.index(r, 5)) for r in range(model.rowCount())]
        assert name in subjects and "skilled_trained" not in subjects
