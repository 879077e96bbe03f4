"""Two doors, one answer (issue 23 item 3) for the files a town hands the city: a signed export and a
draft, made through the command line (`export`, its own process) and through the window (文件 → 导出,
the passphrase typed into the window's question), on copies of one database. Both doors write the
same file names, sign the same content (the verifier reads the same payload from either), and record
the same revision; the workbooks hold the same cells but for the moment each was made."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtWidgets import QMessageBox

import gui.questions as questions
from actions.city import verify_files
from tests.helpers import run_main
from tests.pki import PASSPHRASE
from tests.test_two_doors import Q3, TOWN, submitted_revision, town_database, town_window, twin

MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2})?|\d{4}年\d{1,2}月\d{1,2}日( \d{2}:\d{2})?"
)


@pytest.fixture
def keys(city_keys):
    return city_keys


def cells(workbook: Path) -> dict[str, list[tuple]]:
    """Every sheet's cell values, with the moment a file was made written as ⟨时刻⟩."""
    book = load_workbook(workbook)
    out = {}
    for sheet in book.worksheets:
        out[sheet.title] = [
            tuple(MOMENT.sub("⟨时刻⟩", v) if isinstance(v, str) else v for v in row)
            for row in sheet.iter_rows(values_only=True)
        ]
    return out


def signed_content(files: list[Path], keys) -> list[dict]:
    """What the verifier reads from each file, but for when and by which process it was signed."""
    verdicts = verify_files(keys["city_cert"], [], files)
    out = []
    for verdict in verdicts:
        assert verdict.valid, verdict.reason
        assert verdict.payload is not None
        out.append(without_moments(dataclasses.asdict(verdict.payload)))
    return out


def without_moments(value):
    """`value` without the keys that hold a moment (signed_at, generated_at, ...), at any depth."""
    if isinstance(value, dict):
        return {k: without_moments(v) for k, v in value.items() if not k.endswith("_at")}
    if isinstance(value, list | tuple):
        return [without_moments(v) for v in value]
    return value


def window_export(db: Path, folder: Path, qtbot, monkeypatch, dialogs, draft: bool) -> None:
    monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: PASSPHRASE)
    with town_window(db, Q3, qtbot) as (win, _store):
        if draft:  # no identity in this database: the window offers a draft, as `--unsigned` makes one
            dialogs.expect("只能导出“未签名 草稿”", answer=QMessageBox.StandardButton.Yes)
        task = win.export_return(folder=folder)
        assert task is not None
        with qtbot.waitSignal(task.finished, timeout=30000):
            pass
        qtbot.waitUntil(lambda: win.export_box.isVisible())
        win.export_box.close()


def test_a_signed_export_through_either_door_signs_the_same_return(keys, tmp_path, capsys, qtbot, monkeypatch, dialogs):
    cli_db = town_database(tmp_path / "命令行", keys, capsys)
    window_db = twin(cli_db, tmp_path / "窗口")

    cli_out, window_out = tmp_path / "命令行 上报", tmp_path / "窗口 上报"
    said = run_main(cli_db, "export", "--quarter", Q3.code, "--out", str(cli_out), "--passphrase-file", str(keys["pw"]))
    assert said.returncode == 0, said.stderr
    window_export(window_db, window_out, qtbot, monkeypatch, dialogs, draft=False)

    names = sorted(p.name for p in cli_out.iterdir())
    assert names == sorted(p.name for p in window_out.iterdir())
    assert names == [f"{Q3.code}_{TOWN}_季报.pdf", f"{Q3.code}_{TOWN}_季报.xlsx", f"{Q3.code}_{TOWN}_摘要.pdf"]
    signed_files = [f"{Q3.code}_{TOWN}_季报.xlsx", f"{Q3.code}_{TOWN}_季报.pdf"]
    from_cli = signed_content([cli_out / n for n in signed_files], keys)
    from_window = signed_content([window_out / n for n in signed_files], keys)
    assert from_cli == from_window
    assert from_cli[0]["town"] == TOWN
    workbook = f"{Q3.code}_{TOWN}_季报.xlsx"
    from_cli_cells = cells(cli_out / workbook)
    assert from_cli_cells == cells(window_out / workbook)
    assert any(v == 165000 for rows in from_cli_cells.values() for row in rows for v in row)  # the figures are in it
    assert submitted_revision(cli_db, Q3) == submitted_revision(window_db, Q3) == 1


def test_a_draft_through_either_door_is_the_same_unsigned_return(keys, tmp_path, capsys, qtbot, monkeypatch, dialogs):
    cli_db = town_database(tmp_path / "命令行", keys, capsys, identity=False)
    window_db = twin(cli_db, tmp_path / "窗口")

    cli_out, window_out = tmp_path / "命令行 草稿", tmp_path / "窗口 草稿"
    said = run_main(cli_db, "export", "--quarter", Q3.code, "--out", str(cli_out), "--unsigned")
    assert said.returncode == 0, said.stderr
    window_export(window_db, window_out, qtbot, monkeypatch, dialogs, draft=True)

    names = sorted(p.name for p in cli_out.iterdir())
    assert names == sorted(p.name for p in window_out.iterdir()) and len(names) == 3
    workbook = f"{Q3.code}_{TOWN}_季报.xlsx"
    from_cli = cells(cli_out / workbook)
    assert from_cli == cells(window_out / workbook)
    assert any("未签名" in str(v) for rows in from_cli.values() for row in rows for v in row)
    # A draft submits nothing through either door.
    assert submitted_revision(cli_db, Q3) is None and submitted_revision(window_db, Q3) is None
    with sqlite3.connect(f"{window_db.as_uri()}?mode=ro", uri=True) as con:
        assert con.execute("select count(*) from quarter_status where state='submitted'").fetchone()[0] == 0


def test_a_quarter_to_be_resubmitted_is_signed_again_only_after_reopening(
    keys, tmp_path, capsys, qtbot, monkeypatch, dialogs
):
    """Found attacking from outside: after a signed 第 1 版, a changed 基期数 makes 2024Q3 需重新上报 (its
    printed 完成率 changed); exporting again without 退回修改 signed a second, different 第 1 版 through
    either door. Both doors now refuse before the passphrase, each naming how to reopen."""
    db = town_database(tmp_path / "命令行", keys, capsys)
    first = tmp_path / "第 1 版"
    said = run_main(db, "export", "--quarter", Q3.code, "--out", str(first), "--passphrase-file", str(keys["pw"]))
    assert said.returncode == 0, said.stderr
    assert run_main(db, "base", "card_holders=140000").returncode == 0
    assert "需重新上报" in run_main(db, "status").stdout
    window_db = twin(db, tmp_path / "窗口")

    again = tmp_path / "再次导出"
    said = run_main(db, "export", "--quarter", Q3.code, "--out", str(again), "--passphrase-file", str(keys["pw"]))
    assert said.returncode == 2
    assert "需重新上报" in said.stderr and "再导出第 2 版" in said.stderr
    assert f"reopen --quarter {Q3.code} --reason" in said.stderr
    assert not again.exists() and submitted_revision(db, Q3) == 1

    asked: list[str] = []
    monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: asked.append(prompt) or PASSPHRASE)
    dialogs.expect("需重新上报")
    with town_window(window_db, Q3, qtbot) as (win, _store):
        assert win.export_return(folder=tmp_path / "窗口 再次导出") is None
    shown = dialogs.texts()[-1]
    assert "再导出第 2 版" in shown and "“季报 → 退回修改”" in shown and "reopen" not in shown
    assert asked == [] and not (tmp_path / "窗口 再次导出").exists()
    with sqlite3.connect(f"{window_db.as_uri()}?mode=ro", uri=True) as con:
        assert con.execute("select max(revision) from issued_revisions").fetchone()[0] == 1

    # Reopened with its reason, the next export is 第 2 版 — and a draft never needed the reopening.
    assert run_main(db, "export", "--quarter", Q3.code, "--out", str(tmp_path / "草稿"), "--unsigned").returncode == 0
    assert run_main(db, "reopen", "--quarter", Q3.code, "--reason", "基期数按市局核定数更正").returncode == 0
    said = run_main(db, "export", "--quarter", Q3.code, "--out", str(again), "--passphrase-file", str(keys["pw"]))
    assert said.returncode == 0, said.stderr
    assert submitted_revision(db, Q3) == 2


def test_a_base_changed_after_the_export_shows_the_quarter_to_resubmit_through_either_door(
    keys, tmp_path, capsys, qtbot, dialogs
):
    """Found attacking from outside: `base` then `status` said 需重新上报; the window's 基期数 left the picker,
    the banner and 检查结果 saying 已上报 until something reloaded the quarter."""
    db = town_database(tmp_path / "命令行", keys, capsys)
    said = run_main(
        db, "export", "--quarter", Q3.code, "--out", str(tmp_path / "上报"), "--passphrase-file", str(keys["pw"])
    )
    assert said.returncode == 0, said.stderr
    window_db = twin(db, tmp_path / "窗口")

    assert run_main(db, "base", "card_holders=140000").returncode == 0
    status_line = next(line for line in run_main(db, "status").stdout.splitlines() if line.startswith(Q3.label))
    assert "需重新上报" in status_line
    checked = json.loads(run_main(db, "check", "--quarter", Q3.code, "--json").stdout)
    notice = next(f["message"] for f in checked if f["rule"] == "needs_resubmission")

    with town_window(window_db, Q3, qtbot) as (win, _store):
        assert "需重新上报" not in win.quarter_box.currentText()
        edits = {code: edit.text() for code, edit in win.form.value_edits.items()}
        assert win.enter_base("card_holders", 140000)
        assert win.quarter_box.currentText().startswith(f"{Q3.label}（需重新上报")
        assert "需重新上报" in win.lock_banner.text() and "第 2 版" in win.lock_banner.text()
        listed = [win.findings_list.item(i).text() for i in range(win.findings_list.count())]
        assert f"【提示】{notice.replace('退回修改（reopen）', '“季报 → 退回修改”')}" in listed
        assert {code: edit.text() for code, edit in win.form.value_edits.items()} == edits
    assert stored_bases(db) == stored_bases(window_db) == [("card_holders", 140000)]


def stored_bases(db: Path) -> list[tuple]:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as con:
        return con.execute("select code, value from stock_bases").fetchall()
