"""Two doors, one answer (issue 23) for what touches the database's files: plan import, identity import,
backup, restore, reopen, 修改记录, and the audit check of a database edited outside the program. Each runs
through the command line (its own process, tests.helpers.run_main) and through the window (its menu items
found by their visible text, its dialogs answered by tests/dialogs.py) on copies of one database, and the
outcomes are compared: what was stored, the files written, the verdicts and what each door said."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from core.plan_package import sample_package
from tests.helpers import run_main
from tests.pki import PASSPHRASE
from tests.test_two_doors import Q3, TOWN, run, town_database, town_window, twin

# Columns that hold when a row was written (each door writes at its own moment) or the audit chain's
# hashes over those times: left out where the two databases are compared.
MOMENTS = {"at", "updated_at", "imported_at", "prev_hash", "hash", "audit_hash"}


@pytest.fixture
def keys(city_keys):
    return city_keys


def stored(db: Path) -> dict[str, list[tuple]]:
    """Every table of the database as sorted rows, without the moments each was written."""
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        out = {}
        for table in sorted(set(tables) - {"alembic_version"}):
            columns = [r[1] for r in con.execute(f"pragma table_info({table})")]
            kept = [c for c in columns if c not in MOMENTS and not (table == "plan_packages" and c == "id")]
            rows = con.execute(f"select {', '.join(kept)} from {table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def menu_action(win, text: str) -> QAction:
    """The window's menu item whose visible text (without its &-accelerator) starts with `text`."""
    for menu in win.menuBar().findChildren(QMenu):
        for action in menu.actions():
            if action.text().replace("&", "").startswith(text):
                return action
    raise AssertionError(f"no menu item {text!r}")


def when_modal(act) -> list:
    """Run `act` on the next modal dialog once it is open (its exec() blocks the test's own line)."""
    seen: list = []

    def check() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or isinstance(dialog, QMessageBox):
            QTimer.singleShot(20, check)
            return
        seen.append(dialog)
        act(dialog)

    QTimer.singleShot(0, check)
    return seen


def ime_commit(widget, text: str) -> None:
    """Chinese typed as the clerk's input method hands it over: a committed string (QTest's key clicks
    have no key for a Chinese character)."""
    from PySide6.QtGui import QInputMethodEvent

    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


# --- the audit check of a database edited outside the program ------------------------------------------


def edit_outside(db: Path) -> None:
    """What someone with sqlite3 does: one stored figure changed, the audit trail left as it was."""
    with sqlite3.connect(db) as con:
        changed = con.execute(
            "update figures set value = value + 1 where quarter = ? and code = 'yuecai_certified'", (Q3.code,)
        ).rowcount
    assert changed == 1


def test_a_database_edited_outside_is_named_by_every_command_as_by_the_window_at_start_up(
    keys, tmp_path, capsys, qtbot, dialogs
):
    """The window's start-up warned that the audit chain does not check out; `status`, `check` and `enter`
    said nothing (and `enter` saved on top). Every command now says what the window says, word for word."""
    from gui.app import make_application, open_session

    db = town_database(tmp_path / "命令行", keys, capsys)
    edit_outside(db)
    window_db = twin(db, tmp_path / "窗口")
    found = run_main(db, "audit", "verify")
    assert found.returncode == 1 and "本软件之外" in found.stdout
    finding = found.stdout.strip()

    said = {}
    for name, args in {
        "status": ["status"],
        "check": ["check", "--quarter", Q3.code],
        "enter": ["enter", "--quarter", Q3.code, "nanyue_trained=2000"],
        "export": ["export", "--quarter", Q3.code, "--out", str(tmp_path / "上报"), "--passphrase-file", str(keys["pw"])],
    }.items():
        result = run_main(db, *args)
        notices = [line.removeprefix("注意：") for line in result.stderr.splitlines() if line.startswith("注意：")]
        assert any(finding in notice for notice in notices), (name, result.stderr)
        said[name] = next(n for n in notices if finding in n)
        if name == "export":  # a signed return of such a database is refused, as the window's export refuses it
            assert result.returncode == 2 and "修改记录校验未通过" in result.stderr
            assert not (tmp_path / "上报").exists()
    assert len(set(said.values())) == 1

    make_application()
    dialogs.expect("审计记录校验未通过", answer=QMessageBox.StandardButton.Ok)
    session = open_session(window_db)
    assert session is not None
    try:
        warning = next(text for text in dialogs.texts() if "审计记录校验未通过" in text)
        assert said["status"] in warning.split("\n\n")
    finally:
        session.window.close()
        session.close()


# --- plan import -----------------------------------------------------------------------------------------


def import_plan_in_the_window(win, plan: Path, dialogs, accept: bool = True) -> list:
    """文件 → 导入规划…: the file chosen, the preview read and accepted, as the clerk does."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from gui.plan_dialogs import PlanPreviewDialog

    dialogs.expect("选择市局下发的规划文件", answer=(str(plan), ""))
    previews: list = []

    def read_and_accept(dialog) -> None:
        assert isinstance(dialog, PlanPreviewDialog)
        table = dialog.table

        def cell(row: int, column: int):
            item = table.item(row, column)
            assert item is not None
            return item

        previews.append({cell(r, 0).text(): cell(r, 5).toolTip() for r in range(table.rowCount())})
        if accept:
            QTest.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
        else:
            dialog.reject()

    when_modal(read_and_accept)
    menu_action(win, "导入规划").trigger()
    return previews


def town_targets_printed(out: str) -> dict[str, str]:
    """`plan import`'s lines under “莞城的目标：” as {indicator name: target}."""
    lines = out.splitlines()
    start = lines.index(f"  {TOWN}的目标：") + 1
    return dict(line.strip().split("：", 1) for line in lines[start:] if line.startswith("    "))


def test_a_plan_imported_through_either_door_stores_the_same_and_shows_the_same_targets(keys, tmp_path, capsys, qtbot, dialogs):
    cli_db = town_database(tmp_path / "命令行", keys, capsys)
    window_db = twin(cli_db, tmp_path / "窗口")

    said = run_main(cli_db, "plan", "import", str(keys["plan"]))
    assert said.returncode == 0, said.stderr
    assert said.stdout.startswith(f"已导入规划：{keys['plan'].name}")
    printed = town_targets_printed(said.stdout)

    with town_window(window_db, Q3, qtbot) as (win, store):
        previews = import_plan_in_the_window(win, keys["plan"], dialogs)
        assert win.statusBar().currentMessage() == f"已导入规划：{sample_package().name}"
    assert previews and previews[0] == printed
    assert stored(window_db) == stored(cli_db)

    # Once more: nothing changes, and both doors say it was imported before.
    again = run_main(cli_db, "plan", "import", str(keys["plan"]))
    assert again.returncode == 0 and again.stdout.startswith("此规划已导入过，未作改动")
    with town_window(window_db, Q3, qtbot) as (win, store):
        import_plan_in_the_window(win, keys["plan"], dialogs)
        assert win.statusBar().currentMessage().startswith("此规划已导入过，未作改动")
    assert stored(window_db) == stored(cli_db)


def test_an_altered_plan_file_is_refused_by_both_doors_for_the_same_reason(keys, tmp_path, capsys, qtbot, dialogs):
    cli_db = town_database(tmp_path / "命令行", keys, capsys)
    window_db = twin(cli_db, tmp_path / "窗口")
    before = stored(cli_db)
    altered = tmp_path / "改过的 规划.plan"
    data = bytearray(keys["plan"].read_bytes())
    at = data.index(b"card_holders")
    data[at : at + 4] = b"CARD"
    altered.write_bytes(bytes(data))

    said = run_main(cli_db, "plan", "import", str(altered))
    assert said.returncode == 2
    reason = said.stderr.strip().removeprefix(f"错误：{altered.name} 未导入：")
    assert reason and reason != said.stderr.strip()

    with town_window(window_db, Q3, qtbot) as (win, store):
        dialogs.expect("规划文件不能导入", answer=QMessageBox.StandardButton.Ok)
        dialogs.expect("选择市局下发的规划文件", answer=(str(altered), ""))
        menu_action(win, "导入规划").trigger()
    shown = next(text for text in dialogs.texts() if reason in text)
    assert shown.removesuffix("，未导入") == reason
    assert stored(cli_db) == stored(window_db) == before


# --- identity import ---------------------------------------------------------------------------------------


def bare_town_database(folder: Path, capsys) -> Path:
    """A town's database with the sign-off names and no identity yet."""
    from tests.helpers import SIGN_OFF_FLAGS

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{TOWN} 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", TOWN)[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    return db


def import_identity_in_the_window(win, p12: Path, passphrase: str, dialogs) -> None:
    """文件 → 导入签名证书…: 证书文件（.p12）, the file, its passphrase."""
    from gui.token_dialogs import FILE_CHOICE

    dialogs.expect(FILE_CHOICE)
    dialogs.expect("选择市局签发的签名证书", answer=(str(p12), ""))
    dialogs.expect("签名证书口令", answer=(passphrase, True))
    menu_action(win, "导入签名证书").trigger()


def test_an_identity_imported_through_either_door_is_kept_alike_with_the_same_fingerprint(keys, tmp_path, capsys, qtbot, dialogs):
    cli_db = bare_town_database(tmp_path / "命令行", capsys)
    window_db = twin(cli_db, tmp_path / "窗口")

    said = run_main(cli_db, "identity", "import", str(keys["p12"][TOWN]), "--passphrase-file", str(keys["pw"]))
    assert said.returncode == 0, said.stderr
    fingerprint = next(line for line in said.stdout.splitlines() if "指纹" in line).split("：", 1)[1].split("（")[0]

    with town_window(window_db, Q3, qtbot) as (win, store):
        dialogs.expect("已导入签名证书", answer=QMessageBox.StandardButton.Ok)
        import_identity_in_the_window(win, keys["p12"][TOWN], PASSPHRASE.decode(), dialogs)
    shown = next(text for text in dialogs.texts() if "市局根证书的指纹" in text)
    assert fingerprint in shown.split()
    assert stored(window_db) == stored(cli_db)
    shown_by = run_main(window_db, "identity", "show", "--json")
    assert json.loads(shown_by.stdout) == json.loads(run_main(cli_db, "identity", "show", "--json").stdout)


@pytest.mark.parametrize("whose, passphrase", [("南城", PASSPHRASE.decode()), (TOWN, "不是这个口令")])
def test_another_town_s_identity_or_a_wrong_passphrase_is_refused_by_both_doors_alike(
    keys, tmp_path, capsys, qtbot, dialogs, whose, passphrase
):
    cli_db = bare_town_database(tmp_path / "命令行", capsys)
    window_db = twin(cli_db, tmp_path / "窗口")
    before = stored(cli_db)
    pw = tmp_path / "口令.txt"
    pw.write_text(passphrase, encoding="utf-8")

    said = run_main(cli_db, "identity", "import", str(keys["p12"][whose]), "--passphrase-file", str(pw))
    assert said.returncode == 2
    reason = said.stderr.strip().removeprefix("错误：")

    with town_window(window_db, Q3, qtbot) as (win, store):
        dialogs.expect("导入失败", answer=QMessageBox.StandardButton.Ok)
        import_identity_in_the_window(win, keys["p12"][whose], passphrase, dialogs)
    assert reason in dialogs.texts()
    assert stored(cli_db) == stored(window_db) == before


# --- backup and restore ------------------------------------------------------------------------------------


def test_a_backup_made_through_either_door_holds_the_same_and_is_recorded_alike(keys, tmp_path, capsys, qtbot, dialogs):
    cli_db = town_database(tmp_path / "命令行", keys, capsys)
    window_db = twin(cli_db, tmp_path / "窗口")
    cli_copy, window_copy = tmp_path / "命令行 备份" / "备份.sqlite3", tmp_path / "窗口 备份" / "备份.sqlite3"

    said = run_main(cli_db, "backup", "--out", str(cli_copy))
    assert said.returncode == 0 and said.stdout.strip() == f"已备份到 {cli_copy}"
    with town_window(window_db, Q3, qtbot) as (win, store):
        dialogs.expect("备份数据库到", answer=(str(window_copy), ""))
        dialogs.expect("备份完成", answer=QMessageBox.StandardButton.Ok)
        menu_action(win, "备份").trigger()
    assert f"已备份到：\n{window_copy}" in dialogs.texts()

    def without_where(db: Path) -> dict:  # the backup's own row names the file each door wrote
        tables = stored(db)
        tables["audit"] = [row for row in tables["audit"] if "备份.sqlite3" not in repr(row)]
        return tables

    assert without_where(cli_db) == without_where(window_db)
    assert without_where(cli_copy) == without_where(window_copy)
    assert [r for r in stored(cli_copy)["audit"] if r[3] == "backup"][-1][-1] == str(cli_copy)
    assert [r for r in stored(window_copy)["audit"] if r[3] == "backup"][-1][-1] == str(window_copy)

    # A backup onto a file that exists is refused by both, with the same words, and nothing recorded.
    before = stored(cli_db), stored(window_db)
    said = run_main(cli_db, "backup", "--out", str(window_copy))
    assert said.returncode == 2
    with town_window(window_db, Q3, qtbot) as (win, store):
        dialogs.expect("备份数据库到", answer=(str(cli_copy), ""))
        dialogs.expect("备份失败", answer=QMessageBox.StandardButton.Ok)
        menu_action(win, "备份").trigger()
    assert said.stderr.strip().removeprefix("错误：").replace(str(window_copy), str(cli_copy)) in dialogs.texts()
    assert (stored(cli_db), stored(window_db)) == before


def test_a_restore_through_either_door_brings_back_the_same_database_and_keeps_the_same_copy(keys, tmp_path, capsys, qtbot, dialogs):
    db = town_database(tmp_path / "命令行", keys, capsys)
    kept = tmp_path / "备份" / "九月底.sqlite3"
    assert run_main(db, "backup", "--out", str(kept)).returncode == 0
    assert run_main(db, "enter", "--quarter", Q3.code, "nanyue_trained=2222").returncode in (0, 1)
    window_db = twin(db, tmp_path / "窗口")

    said = run_main(db, "restore", str(kept))
    assert said.returncode == 0, said.stderr
    with town_window(window_db, Q3, qtbot) as (win, store):
        dialogs.expect("确定恢复吗", answer=QMessageBox.StandardButton.Yes)
        dialogs.expect("恢复完成", answer=QMessageBox.StandardButton.Ok)
        dialogs.expect("选择要恢复的备份", answer=(str(kept), ""))
        menu_action(win, "从备份恢复").trigger()
        shown_figure = win.form.value_edits["nanyue_trained"].text()
    restored = stored(db)
    assert stored(window_db) == restored
    assert all(row[2] != "nanyue_trained" or row[3] != 2222 for row in restored["figures"])
    assert shown_figure.replace(",", "") != "2222"
    def in_substance(message: str) -> str:  # the kept copy's name carries the second it was made
        return re.sub(r"\d{8}-\d{6}-\d{6}", "…", message)

    message = next(text for text in dialogs.texts() if text.startswith("已从"))
    assert in_substance(message) == in_substance(said.stdout.strip().replace(str(db.parent), str(window_db.parent)))
    # The database as it was before the restore is kept by both, holding the figure typed after the backup.
    previous = [Path(part.split("；")[0].strip()) for part in said.stdout.split("原数据库另存为 ")[1:]]
    assert len(previous) == 1 and previous[0].exists()
    assert any(row[2] == "nanyue_trained" and row[3] == 2222 for row in stored(previous[0])["figures"])


# --- reopen (退回修改) ---------------------------------------------------------------------------------------

REASON = "社保卡数据口径有误，需要更正"


def test_a_quarter_reopened_through_either_door_is_stored_and_shown_alike(keys, tmp_path, capsys, qtbot, dialogs):
    from PySide6.QtCore import Qt

    db = town_database(tmp_path / "命令行", keys, capsys)
    out = tmp_path / "上报"
    exported = run_main(db, "export", "--quarter", Q3.code, "--out", str(out), "--passphrase-file", str(keys["pw"]))
    assert exported.returncode == 0, exported.stderr
    window_db = twin(db, tmp_path / "窗口")

    short = run_main(db, "reopen", "--quarter", Q3.code, "--reason", "  有误  ")
    assert short.returncode == 2 and "至少 4 个字" in short.stderr
    said = run_main(db, "reopen", "--quarter", Q3.code, "--reason", f"  {REASON}\n")
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip() == f"{Q3.label}已退回修改（原为第 1 版），再次导出将是第 2 版"
    status = dict(line.split("：", 1) for line in run_main(db, "status").stdout.splitlines() if "：" in line)

    with town_window(window_db, Q3, qtbot) as (win, store):
        looked: list[tuple[bool, str]] = []

        def type_the_reason(dialog) -> None:
            dialog.edit.setFocus()
            qtbot.keyClicks(dialog.edit, "  ")
            ime_commit(dialog.edit, "有误")
            qtbot.keyClicks(dialog.edit, "  ")
            looked.append((dialog.ok.isEnabled(), dialog.count.text()))
            dialog.edit.clear()
            qtbot.keyClicks(dialog.edit, "  ")
            ime_commit(dialog.edit, REASON)
            looked.append((dialog.ok.isEnabled(), dialog.count.text()))
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

        when_modal(type_the_reason)
        menu_action(win, "退回修改").trigger()
        shown = win.quarter_box.currentText()
        told = win.statusBar().currentMessage()
    assert looked[0][0] is False and "还差" in looked[0][1]
    assert looked[1][0] is True
    assert stored(window_db) == stored(db)
    assert shown == f"{Q3.label}（{status[Q3.label]}）"
    assert told == said.stdout.strip()


# --- 修改记录 and `history` ---------------------------------------------------------------------------------


def test_the_change_history_shows_the_rows_history_prints_unfiltered_and_filtered(keys, tmp_path, capsys, qtbot):
    from core.quarters import Quarter
    from storage.audit import ACTION_NAMES

    db = town_database(tmp_path / "镇街", keys, capsys)
    for value in ("2100", "2200"):
        assert run_main(db, "enter", "--quarter", Q3.code, f"nanyue_trained={value}").returncode in (0, 1)
    assert run_main(db, "profile", "--phone", "0769-22223333").returncode == 0

    def as_printed(rows: list[dict]) -> list[tuple]:
        return sorted(
            (
                r["id"],
                r["action"] and ACTION_NAMES.get(r["action"], r["action"]),
                Quarter.parse(r["quarter"]).label if r["quarter"] else "",
                r["subject"],
                r["old_value"] or "（空）",
                r["new_value"] or "（空）",
            )
            for r in rows
        )

    every = json.loads(run_main(db, "history", "--json").stdout)
    one = json.loads(run_main(db, "history", "--json", "--quarter", Q3.code, "--indicator", "nanyue_trained").stdout)
    assert len(one) >= 2 and len(every) > len(one)
    text = run_main(db, "history").stdout
    assert "“南粤家政”培训人数" in text and "联系电话" in text

    with town_window(db, Q3, qtbot) as (win, store):
        win.tabs.setCurrentIndex(2)  # 历史
        view = win.history_view
        model = view.audit_model

        def shown() -> list[tuple]:
            rows = []
            for r in range(model.rowCount()):
                cells = [model.data(model.index(r, c)) for c in range(model.columnCount())]
                rows.append((cells[0], cells[3], cells[4], cells[5], cells[6], cells[7]))
            return sorted(rows)

        assert shown() == as_printed(every)
        view.quarter_filter.setCurrentIndex(view.quarter_filter.findData(Q3.code))
        view.indicator_filter.setCurrentIndex(view.indicator_filter.findData("nanyue_trained"))
        assert shown() == as_printed(one)
