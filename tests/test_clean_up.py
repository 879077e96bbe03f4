"""Issue 24: every failure leaves a true state and a true message — a signed export completes or leaves
no signed file, --overwrite never loses the files it would replace, a restore says what happened, one
read error is not damage, a new PC takes its old PC's backup, any path works, and a clock set back is
named before anything is signed."""

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import storage.store as store_module
from actions.returns import open_identity, prepare_export, record_signed
from cli import main as cli_main
from core.quarters import Quarter
from reports.export import ExportRefused, stage_return_files, write_return_files
from storage.store import Store
from tests.helpers import FAKETIME, FULL_QUARTER, TODAY, needs_faketime, on_pace_history, run_main, signed_off_profile
from tests.pki import PASSPHRASE

Q = Quarter(2024, 3)
PROJECT = Path(__file__).resolve().parent.parent
PASS = PASSPHRASE


@pytest.fixture(scope="module")
def town_p12(city_keys):
    """The folder of the session's town identity for 莞城 (tests/pki.py) and its passphrase file."""
    folder = city_keys["base"] / "clean_up"
    if not folder.exists():
        folder.mkdir()
        shutil.copyfile(city_keys["p12"]["莞城"], folder / "莞城.p12")
        (folder / "gc.pass").write_text(PASS.decode() + "\n")
    return folder


@pytest.fixture
def town(tmp_path, town_p12):
    db = tmp_path / "镇街 数据" / "town.sqlite3"
    db.parent.mkdir()
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        for quarter, values in on_pace_history(last=Q).items():
            store.save_quarter(quarter, values)
        store.set_identity((town_p12 / "莞城.p12").read_bytes(), "莞城")
        from storage.store import Profile

        store.set_profile(Profile("莞城分局", "张三", "李四", "王五", "0769-1234567"))
    return db


def export(db: Path, town_p12: Path, out: Path, *extra: str) -> int:
    return cli_main(
        [
            "--db",
            str(db),
            "export",
            "--quarter",
            Q.code,
            "--out",
            str(out),
            "--passphrase-file",
            str(town_p12 / "gc.pass"),
            *extra,
        ]
    )


def state(db: Path) -> str:
    with Store(db, today=lambda: TODAY) as store:
        return store.quarter_status(Q).label


def test_a_failed_pre_submission_backup_leaves_no_signed_file(town, town_p12, tmp_path, capsys):
    (town.parent / "backups").write_text("a file where the backup folder should be")
    out = tmp_path / "上报"
    assert export(town, town_p12, out) == 2
    assert "backups" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
    assert state(town) == "草稿"


def test_overwrite_that_fails_on_a_full_stick_keeps_the_submitted_files(town, town_p12, tmp_path, monkeypatch, capsys):
    out = tmp_path / "U盘"
    assert export(town, town_p12, out) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert len(before) == 3

    from reports import pdf

    def full_stick(data, path):
        Path(path).write_bytes(b"%PDF-1.7 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pdf, "write_summary_pdf", full_stick)
    assert export(town, town_p12, out, "--overwrite") != 0
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    assert after == before, "the submitted files are all there, byte for byte, and nothing else"
    assert "空间不足" in capsys.readouterr().err


def test_a_clock_set_back_during_a_signed_export_leaves_no_signed_files(town, town_p12, tmp_path):
    out = tmp_path / "上报"
    with Store(town, today=lambda: TODAY) as store:
        data = prepare_export(store, Q, signed=True)
        result = stage_return_files(data, out, identity=open_identity(store, PASS))
        assert all(temp.exists() for temp, _path in result.staged)
        with pytest.raises(ExportRefused, match="电脑时间被改动"):
            record_signed(store, data, result, now=data.generated_at - timedelta(hours=2))
        assert store.quarter_status(Q).label == "草稿"
    assert not any(path.exists() for path in result.paths)
    assert list(out.iterdir()) == []


def test_a_signed_export_refused_on_record_puts_back_the_files_it_replaced(town, town_p12, tmp_path, monkeypatch):
    out = tmp_path / "上报"
    with Store(town, today=lambda: TODAY) as store:
        data = prepare_export(store, Q)
        unsigned = write_return_files(data, out)
        earlier = {path: path.read_bytes() for path in unsigned.paths}
        data = prepare_export(store, Q, signed=True)
        result = stage_return_files(data, out, overwrite=True, identity=open_identity(store, PASS))

        def refused(*_args, **_kwargs):
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(store, "record_export", refused)
        with pytest.raises(sqlite3.OperationalError):
            record_signed(store, data, result)
    assert {path: path.read_bytes() for path in unsigned.paths} == earlier
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in unsigned.paths)


@needs_faketime
def test_a_clock_behind_what_was_recorded_is_named_and_no_return_is_signed(town, town_p12, tmp_path):
    out = tmp_path / "上报"
    behind = run_main(town,
        "export",
        "--quarter",
        Q.code,
        "--out",
        str(out),
        "--passphrase-file",
        str(town_p12 / "gc.pass"),
        clock="@2025-06-01 09:00:00",
    )
    assert behind.returncode == 2, behind.stdout + behind.stderr
    assert "本机日期 2025-06-01 早于上次保存的时间" in behind.stderr
    assert not out.exists() or not any(out.iterdir())
    draft = run_main(town, "export", "--quarter", Q.code, "--out", str(out), "--unsigned", clock="@2025-06-01 09:00:00")
    assert draft.returncode == 0, draft.stderr
    right = run_main(town,
        "export", "--quarter", Q.code, "--out", str(tmp_path / "正式"), "--passphrase-file", str(town_p12 / "gc.pass")
    )
    assert right.returncode == 0, right.stderr


def test_a_restore_that_replaced_the_database_says_so_even_if_its_last_note_fails(town, tmp_path, monkeypatch, capsys):
    import storage.restore as restore_module

    backup = tmp_path / "备份.sqlite3"
    assert cli_main(["--db", str(town), "backup", "--out", str(backup)]) == 0
    assert cli_main(["--db", str(town), "enter", "--quarter", Q.code, "yuecai_certified=99"]) in (0, 2)

    def note_fails(*_args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(restore_module, "fsync_folder", note_fails)
    assert cli_main(["--db", str(town), "restore", str(backup)]) == 0
    assert "已从" in capsys.readouterr().out
    with Store(town, today=lambda: TODAY) as store:
        assert store.audit_trail()[-1].action == "restore"


def test_one_read_error_at_open_is_read_again_before_it_is_called_damage(town, monkeypatch):
    real = store_module.integrity_problem
    answers = iter(["disk I/O error"])

    def once_then_real(path):
        return next(answers, None) or real(path)

    monkeypatch.setattr(store_module, "integrity_problem", once_then_real)
    monkeypatch.setattr(store_module, "RETRY_AFTER", 0.01)
    with Store(town, today=lambda: TODAY) as store:
        assert store.figures(Q)


def test_a_new_pc_takes_the_backup_of_the_pc_that_died(town, tmp_path, capsys):
    old_pc_backup = tmp_path / "旧电脑的备份.sqlite3"
    assert cli_main(["--db", str(town), "backup", "--out", str(old_pc_backup)]) == 0
    with Store(town, today=lambda: TODAY) as old:
        old_id = old.db_id()
    new_pc = tmp_path / "新电脑" / "town.sqlite3"
    new_pc.parent.mkdir()
    assert cli_main(["--db", str(new_pc), "init", "--town", "莞城"]) == 0  # set up before remembering the backup
    capsys.readouterr()
    assert cli_main(["--db", str(new_pc), "restore", str(old_pc_backup)]) == 0
    said = capsys.readouterr().out
    assert "另一台电脑" in said and old_id in said
    with Store(new_pc, today=lambda: TODAY) as store:
        assert store.db_id() == old_id and store.town() == "莞城"
        assert store.figures(Q) == on_pace_history(last=Q)[Q]
        assert store.verify_audit().ok


def test_a_used_database_still_refuses_another_database_s_backup(town, tmp_path, capsys):
    other = tmp_path / "别的库.sqlite3"
    with Store(other, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        store.save_quarter(Q, FULL_QUARTER)
        store.backup(tmp_path / "别的库的备份.sqlite3")
    assert cli_main(["--db", str(town), "restore", str(tmp_path / "别的库的备份.sqlite3")]) == 2
    assert "属于另一个数据库" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="file names are bytes only on POSIX")
def test_a_folder_named_in_gbk_backs_up_and_restores(tmp_path):
    folder = os.fsencode(tmp_path) + b"/" + "东莞 数据".encode("gbk")
    os.mkdir(folder)
    db, copy = folder + b"/town.sqlite3", folder + b"/backup.sqlite3"

    def run(*args: bytes) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.fsencode(sys.executable), b"main.py", b"--db", db, *args], cwd=PROJECT, capture_output=True
        )

    assert run(b"init", b"--town", "莞城".encode()).returncode == 0
    assert run(b"enter", b"--quarter", Q.code.encode(), b"yuecai_certified=3").returncode == 0
    made = run(b"backup", b"--out", copy)
    assert made.returncode == 0, made.stderr.decode(errors="replace")
    assert run(b"enter", b"--quarter", Q.code.encode(), b"yuecai_certified=4").returncode == 0
    restored = run(b"restore", copy)
    assert restored.returncode == 0, restored.stderr.decode(errors="replace")
    assert run(b"audit", b"verify").returncode == 0
    conn = sqlite3.connect(os.fsdecode(db))
    assert conn.execute("SELECT value FROM figures WHERE code = 'yuecai_certified'").fetchone() == (3,)
    conn.close()


def test_signing_shows_the_computers_date_and_the_quarter_s_end_in_words():
    from actions.returns import signing_notice

    said = signing_notice(Q)
    today = datetime.now()
    assert f"本机日期：{today.year}年{today.month}月{today.day}日" in said
    assert "2024年第3季度，2024年9月30日结束" in said


@needs_faketime
def test_times_recorded_with_a_clock_ahead_stop_signing_until_the_clerk_confirms_the_clock(town, town_p12, tmp_path):
    ahead = run_main(town, "enter", "--quarter", Q.code, "--explain", "yuecai_certified=季度中途补录的培训人数", clock="+400d")
    assert ahead.returncode == 0, ahead.stderr
    signing = [
        "export",
        "--quarter",
        Q.code,
        "--out",
        str(tmp_path / "上报"),
        "--passphrase-file",
        str(town_p12 / "gc.pass"),
    ]
    refused = run_main(town, *signing)
    assert refused.returncode == 2 and "早于上次保存的时间" in refused.stderr and "clock --confirm" in refused.stderr
    shown = run_main(town, "clock")
    assert shown.returncode == 0 and "早于上次保存的时间" in shown.stdout
    assert run_main(town, "clock", "--confirm").returncode == 0
    assert "没有早于" in run_main(town, "clock").stdout
    signed = run_main(town, *signing)
    assert signed.returncode == 0, signed.stderr
    assert "本机日期：" in signed.stderr
    history = run_main(town, "history")
    assert "确认电脑时间" in history.stdout
    assert run_main(town, "audit", "verify").returncode == 0


@needs_faketime
def test_the_window_names_a_clock_behind_at_start_up_and_lets_the_clerk_confirm_it(qapp, town, dialogs):
    from gui.app import open_session

    assert run_main(town, "profile", "--phone", "0769-7654321", clock="+400d").returncode == 0
    dialogs.expect("电脑时间是对的（以前保存时时间有误）")
    session = open_session(town)
    assert session is not None
    try:
        assert any("早于上次保存的时间" in text for text in dialogs.texts())
        from actions.database import clock_state

        assert clock_state(session.store).problem is None
        assert session.store.audit_trail()[-1].action == "clock"
    finally:
        session.window.close()
        session.close()


@needs_faketime
def test_a_new_revision_is_never_signed_before_the_one_it_replaces(town, town_p12, tmp_path):
    """Found from outside: within the ten minutes' tolerance, version 2 could be signed before version 1,
    and the city then counted neither (a conflict)."""

    signing = ["--passphrase-file", str(town_p12 / "gc.pass"), "--quarter", Q.code]
    assert run_main(town, "export", "--out", str(tmp_path / "第1版"), *signing, clock="+6m").returncode == 0
    assert run_main(town, "reopen", "--quarter", Q.code, "--reason", "更正粤菜师傅人数", clock="+6m").returncode == 0
    assert run_main(town, "enter", "--quarter", Q.code, "yuecai_certified=10", clock="+6m").returncode == 0
    second = run_main(town, "export", "--out", str(tmp_path / "第2版"), *signing)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "早于本季度上一版的上报时间" in second.stderr
    assert not (tmp_path / "第2版").exists() or not any((tmp_path / "第2版").iterdir())
    later = run_main(town, "export", "--out", str(tmp_path / "第2版"), *signing, clock="+8m")
    assert later.returncode == 0, later.stderr


KILLED_EXPORT = """
import os, sys
from pathlib import Path
from core.quarters import Quarter
from storage.lock import DatabaseLock
from storage.store import Store
import actions.returns as returns
import reports.export as export
db, out, passphrase, moment = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
lock = DatabaseLock(db, "测试").acquire()
store = Store(db)
data = returns.prepare_export(store, Quarter(2024, 3), signed=True)
result = export.stage_return_files(data, out, overwrite=True, identity=returns.open_identity(store, passphrase))
if moment == "before the record":
    store.record_export = lambda *args: os._exit(9)
else:
    place = returns.place_files
    returns.place_files = lambda staged: (place(staged[:1]), os._exit(9))
returns.record_signed(store, data, result)
"""


@pytest.mark.parametrize("moment", ["before the record", "half-way through the renames"])
def test_a_signed_export_killed_between_its_files_and_its_record_is_finished_or_undone(town, tmp_path, capsys, moment):
    out = tmp_path / "上报"
    with Store(town, today=lambda: TODAY) as store:
        drafts = write_return_files(prepare_export(store, Q), out)
    earlier = {path.name: path.read_bytes() for path in drafts.paths}
    killed_export(town, out, moment)

    assert cli_main(["--db", str(town), "profile", "--phone", "0769-7654321"]) == 0  # the next writing command
    said = capsys.readouterr().err
    assert "上次导出2024年第3季度第 1 版时程序中断" in said
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(earlier), "no .previous or temp file is left behind"
    if moment == "before the record":
        assert state(town) == "已上报（第 1 版）"
        assert all(out.joinpath(name).read_bytes() != content for name, content in earlier.items())
    else:
        assert state(town) == "草稿"
        assert {name: out.joinpath(name).read_bytes() for name in names} == earlier


@pytest.mark.skipif(os.name != "posix", reason="named pipes are a POSIX thing here")
def test_a_pipe_given_as_the_database_is_refused_not_waited_on(tmp_path):
    pipe = tmp_path / "town.sqlite3"
    os.mkfifo(pipe)
    finished = subprocess.run(
        [sys.executable, "main.py", "--db", str(pipe), "status"], cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 2 and "不是普通文件" in finished.stderr


def test_an_export_folder_that_cannot_be_written_is_named_not_the_database(town, tmp_path, monkeypatch, capsys):
    import reports.files as files

    def refused(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", str(source))

    monkeypatch.setattr(files.os, "replace", refused)
    out = tmp_path / "U盘"
    assert cli_main(["--db", str(town), "export", "--quarter", Q.code, "--out", str(out), "--unsigned"]) == 2
    said = capsys.readouterr().err
    error = next(line for line in said.splitlines() if line.startswith("错误："))  # the day's backup may be noted first
    assert str(out) in error and "数据库 " not in error and "--db" not in error
    assert state(town) == "草稿"


def killed_export(town: Path, out: Path, moment: str, clock: str | None = None) -> None:
    command = [sys.executable, "-c", KILLED_EXPORT, str(town), str(out), PASS.decode(), moment]
    if clock:
        command = [FAKETIME, "-f", clock, *command]
    killed = subprocess.run(command, cwd=PROJECT, capture_output=True)
    assert killed.returncode in (-9, 9), killed.stderr.decode(errors="replace")


@needs_faketime
def test_an_export_finished_at_the_next_start_keeps_its_signing_time_for_the_next_revision(town, tmp_path, town_p12):
    """Found from outside: finished later, the export was recorded at the finishing time, so with the
    clock fast at signing, revision 2 could still be signed before revision 1."""
    killed_export(town, tmp_path / "第1版", "before the record", clock="+4m")
    assert cli_main(["--db", str(town), "status"]) == 0  # a read command only says it is pending
    assert cli_main(["--db", str(town), "reopen", "--quarter", Q.code, "--reason", "更正粤菜师傅人数"]) == 0
    assert cli_main(["--db", str(town), "enter", "--quarter", Q.code, "yuecai_certified=10"]) == 0
    assert export(town, town_p12, tmp_path / "第2版") == 2
    assert not (tmp_path / "第2版").exists() or not any((tmp_path / "第2版").iterdir())


def test_a_read_command_says_an_export_is_pending_and_a_moved_folder_is_told_not_claimed(town, tmp_path, capsys):
    out = tmp_path / "U盘"
    killed_export(town, out, "before the record")
    assert cli_main(["--db", str(town), "status"]) == 0
    assert "签名导出上次没有完成" in capsys.readouterr().err
    out.rename(tmp_path / "别处")
    assert cli_main(["--db", str(town), "profile", "--phone", "0769-7654321"]) == 0
    said = capsys.readouterr().err
    assert "找不到了" in said and "未删除任何文件" in said
    assert state(town) == "草稿"
    assert len(list((tmp_path / "别处").iterdir())) == 3  # the files are where the clerk moved them


def test_a_file_name_with_direction_controls_is_printed_escaped(tmp_path, capsys, city_keys):
    odd = tmp_path / "a\u2067b\u2068c\u202ad\u061ce\ufeff\u17b4.xlsx"
    odd.write_bytes(b"PK junk")
    root = city_keys["city_cert"]
    cli_main(["verify", "--trust", str(root), str(odd)])
    said = capsys.readouterr().out
    assert not any(ch in said for ch in "\u2067\u2068\u202a\u061c\ufeff\u17b4")
    assert "\\u2067" in said


def test_a_very_long_explanation_is_refused_when_typed_and_never_crashes_an_export(town, tmp_path, capsys):
    long_note = "辖区企业外迁导致持卡人数减少" * 60
    assert cli_main(["--db", str(town), "enter", "--quarter", Q.code, "--explain", f"card_holders={long_note}"]) == 2
    assert "最多 500 个字" in capsys.readouterr().err


def test_a_return_that_does_not_fit_its_page_is_refused_in_words_not_an_internal_error(town, tmp_path, monkeypatch, capsys):
    from reportlab.platypus.doctemplate import LayoutError

    from reports import pdf

    def too_tall(data, path):
        raise LayoutError("Flowable <Table> too large on page 3")

    monkeypatch.setattr(pdf, "write_return_pdf", too_tall)  # a 说明 saved before the length limit
    assert cli_main(["--db", str(town), "export", "--quarter", Q.code, "--out", str(tmp_path / "out"), "--unsigned"]) == 2
    assert "说明太长" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
