"""Issue 24 points 5 and 6: any console, Chinese only.

A console that cannot print Chinese gets escapes and the command keeps its own exit code; no library
warning reaches the clerk; a failed file operation is told in Chinese whatever its errno (the system's
English text never reaches a message), and a full disk is called a full disk.

The failures are injected into the operating system calls Python makes (os.open, os.replace, os.fsync,
shutil's copies…) for files under the test's folder, while the real command line runs."""

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actions import city, database, figures, identity
from cli import main
from storage.store import Store
from tests.helpers import ROOT, on_pace_history, signed_off_profile

ROOT_PASS = b"root-passphrase"
TOWN_PASS = b"town-passphrase"
ERRNOS = [errno.ENOSPC, errno.EIO, errno.EXDEV, errno.EACCES, errno.EROFS, errno.ENOENT, errno.EMFILE, errno.ENAMETOOLONG]
# Two English words in a row: a sentence fragment such as "No space left" or "disk I/O error".
ENGLISH = re.compile(r"[A-Za-z][A-Za-z/'-]*[ ,:;]+[A-Za-z][A-Za-z/'-]*")
PATH = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z]:)?[/\\][^\s（）()：，。；“”\"]*")
# What the app prints in Latin letters on purpose: commands to type, file kinds, algorithm names.
ALLOWED = re.compile(
    r"python main\.py[^\n，。；）]*|--[a-z-]+|\b(?:identity|plan|city|audit|targets) "
    r"(?:import|list|revoke|issue|init|verify|build|template)\b|U\+[0-9A-F]{4,6}|SHA-256|Ctrl\+[A-Z]"
)


def english_fragments(text: str, *paths: Path) -> list[str]:
    for path in sorted({str(p) for p in paths}, key=len, reverse=True):
        text = text.replace(path, "")
    text = re.sub(r"“[^”]*”|\"[^\"]*\"", "", text)  # quoted names and paths
    text = ALLOWED.sub("", text)
    text = PATH.sub("", text)
    return [f for f in ENGLISH.findall(text) if len(re.sub(r"[^A-Za-z]", "", f)) >= 5]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def ready(tmp_path_factory):
    """A town database with 2024Q3 ready to export signed, its passphrase file and a backup of it."""
    folder = tmp_path_factory.mktemp("ready")
    made = city.create_root(folder, ROOT_PASS)
    city.issue_identity(made.key, ROOT_PASS, "莞城", folder / "莞城.p12", TOWN_PASS)
    (folder / "pw.txt").write_text(TOWN_PASS.decode(), encoding="utf-8")
    db = folder / "town.sqlite3"
    with Store(db) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        names = {"unit_name": "东莞市莞城人力资源和社会保障分局", "head": "张三", "stats_head": "王五", "preparer": "李四"}
        database.update_profile(store, names)
        for quarter, values in on_pace_history().items():
            figures.save_figures(store, quarter, values, {})
        identity.import_identity(store, folder / "莞城.p12", lambda: TOWN_PASS)
        store.backup(folder / "备份.sqlite3")
    return folder


# --- any console --------------------------------------------------------------------------------


def cli(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, args)],
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def test_a_committed_save_on_a_cp1252_console_exits_0_with_escapes(ready, tmp_path):
    db = tmp_path / "town.sqlite3"
    shutil.copy(ready / "town.sqlite3", db)
    done = cli("--db", db, "enter", "--quarter", "2024Q3", "card_holders=170001", env={"PYTHONIOENCODING": "cp1252"})
    assert done.returncode == 0, done.stderr
    assert b"\\u5df2\\u4fdd\\u5b58" in done.stdout  # 已保存, escaped
    history = cli("--db", db, "history", "--quarter", "2024Q3", env={"PYTHONIOENCODING": "utf-8"})
    assert "170,001" in history.stdout.decode() or "170001" in history.stdout.decode()


def test_a_refusal_and_help_on_a_cp1252_console_keep_their_exit_codes(tmp_path):
    env = {"PYTHONIOENCODING": "cp1252"}
    assert cli("--help", env=env).returncode == 0
    refused = cli("--db", tmp_path / "none.sqlite3", "enter", "--quarter", "2024Q9", "x=1", env=env)
    assert refused.returncode == 2 and b"\\u" in refused.stderr and b"Traceback" not in refused.stderr


def test_a_lone_surrogate_in_a_file_name_is_printed_as_an_escape(ready, tmp_path, capsys):
    name = os.fsdecode(b"\xff\xfe.plan") if os.name == "posix" else "\udcff.plan"
    bad = tmp_path / name
    bad.write_bytes(b"{}")
    done = cli("verify", "--trust", ready / "city_root.pem", "--plan", bad, ready / "pw.txt", env={"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 2 and b"Traceback" not in done.stderr, done.stderr


# --- no library warning ---------------------------------------------------------------------------


def test_a_signed_export_and_its_verification_print_no_warning(ready, tmp_path):
    db = tmp_path / "town.sqlite3"
    shutil.copy(ready / "town.sqlite3", db)
    env = {"PYTHONWARNINGS": "default", "XDG_DATA_HOME": str(tmp_path / "data")}
    export = cli("--db", db, "export", "--quarter", "2024Q3", "--out", tmp_path / "上报", "--passphrase-file", ready / "pw.txt", env=env)
    assert export.returncode == 0, export.stderr.decode()
    files = sorted((tmp_path / "上报").iterdir())
    verify = cli("verify", "--trust", ready / "city_root.pem", *files, env=env)
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
    # consolidate verifies in worker processes, which import pyHanko on their own
    collect = cli("consolidate", "--trust", ready / "city_root.pem", "--quarter", "2024Q3", tmp_path / "上报", env=env)
    assert collect.returncode == 0 and "有效 1 个镇街" in collect.stdout.decode(), collect.stderr.decode()
    for done in (export, verify, collect):
        assert b"Warning" not in done.stderr and b"deprecated" not in done.stderr, done.stderr.decode()
        assert not english_fragments(done.stderr.decode(), tmp_path, ready), done.stderr.decode()


# --- every errno in Chinese -----------------------------------------------------------------------


class Injected:
    """OS calls on paths under `inside` fail with `code` (fsync always fails: it has no path)."""

    def __init__(self, monkeypatch, inside: Path, code: int, calls: tuple[str, ...]):
        self.inside, self.code, self.hits = str(inside), code, 0
        originals = {
            "open": os.open,
            "replace": os.replace,
            "rename": os.rename,
            "fsync": os.fsync,
            "link": os.link,
            "mkdir": os.mkdir,
            "copyfile": shutil.copyfile,
        }
        for name in calls:
            target = shutil if name == "copyfile" else os
            monkeypatch.setattr(target, name, self.wrap(originals[name], name))

    def wrap(self, original, name):
        def failing(*args, **kwargs):
            paths = [os.fsdecode(a) for a in args if isinstance(a, (str, bytes, os.PathLike))]
            if name == "fsync" or any(p.startswith(self.inside) for p in paths):
                self.hits += 1
                raise OSError(self.code, os.strerror(self.code), paths[0] if paths else None)
            return original(*args, **kwargs)

        return failing


COMMANDS = {
    "enter": lambda r, db, out: ["--db", db, "enter", "--quarter", "2024Q3", "card_holders=170002"],
    "export": lambda r, db, out: ["--db", db, "export", "--quarter", "2024Q3", "--out", out, "--passphrase-file", r / "pw.txt"],
    "export --unsigned": lambda r, db, out: ["--db", db, "export", "--quarter", "2024Q3", "--out", out, "--unsigned"],
    "backup": lambda r, db, out: ["--db", db, "backup", "--out", out / "备份.sqlite3"],
    "restore": lambda r, db, out: ["--db", db, "restore", r / "备份.sqlite3"],
}
LATE_CALLS = ("replace", "rename", "fsync", "link", "copyfile")
ALL_CALLS = ("open", "mkdir", *LATE_CALLS)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("code", ERRNOS, ids=[errno.errorcode[c] for c in ERRNOS])
def test_every_injected_os_error_is_told_in_chinese(ready, tmp_path, monkeypatch, capsys, command, code):
    work = tmp_path / "工作"
    work.mkdir()
    db, out = work / "town.sqlite3", work / "输出"
    shutil.copy(ready / "town.sqlite3", db)
    argv = COMMANDS[command](ready, db, out)
    for calls in (LATE_CALLS, ALL_CALLS):
        injected = Injected(monkeypatch, work, code, calls)
        try:
            status, printed, problems = run(capsys, *argv)
        finally:
            monkeypatch.undo()
        text = printed + problems
        assert status != 3, text  # an OS error is a situation with its own message, never a bug
        assert not english_fragments(text, work, ready, tmp_path), (calls, text)
        assert "坏道" not in text
        if injected.hits and status != 0 and code in (errno.ENOSPC,):
            assert "磁盘空间不足" in text, text


def test_the_fragment_scan_finds_the_system_english():
    assert english_fragments("错误：文件操作失败：No space left on device（/tmp/x）")
    assert english_fragments("数据库已损坏（disk I/O error）")
    assert not english_fragments("恢复：python main.py --db \"/tmp/a b\" restore \"/tmp/c d\"；请先导入（identity import）")


# --- the command line's own usage messages -----------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["profile", "--unit-head", "x"],
        ["city", "issue", "--root", "x"],
        ["annual", "--year", "abc"],
        ["identity", "foo"],
        ["init", "--town", "莞城", "--city"],
        ["export", "--quarter"],
        ["verify", "--trust", "x"],
    ],
)
def test_a_mistyped_command_is_told_in_chinese(capsys, argv):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "命令用法有误" in err and "用法：" in err and "usage" not in err, err
    reason = err.split("命令用法有误：", 1)[1]
    assert not english_fragments(re.sub(r"'[^']*'", "", reason)), err


def test_help_headings_are_chinese(capsys):
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    out = capsys.readouterr().out
    assert "用法：" in out and "选项：" in out and "显示本帮助并退出" in out
    assert "usage" not in out and "options:" not in out and "show this help" not in out, out


@pytest.mark.parametrize(
    "error",
    [
        "disk I/O error",
        "database disk image is malformed",
        "file is not a database",
        "database or disk is full",
        "no such table: figures",
        "unable to open database file",
        "some new SQLite message nobody listed",
    ],
)
def test_sqlite_english_is_told_in_chinese(tmp_path, error):
    import sqlite3

    from storage.errors import classify, damaged, io_error, sqlite_detail

    path = tmp_path / "town.sqlite3"
    path.write_bytes(b"x")
    messages = [damaged(path, error).message, io_error(path, error).message, sqlite_detail(error)]
    problem = classify(sqlite3.OperationalError(error), path)
    if problem is not None:
        messages.append(problem.message)
    for message in messages:
        assert not english_fragments(message, path), message
        assert "坏道" not in message


@pytest.mark.parametrize("broken", ["not a zip", "a zip without a workbook", "a workbook with broken XML"])
def test_a_damaged_plan_workbook_is_told_in_chinese(ready, tmp_path, capsys, broken):
    import zipfile

    book = tmp_path / "规划.xlsx"
    if broken == "not a zip":
        book.write_bytes(b"PK\x03\x04 not really")
    else:
        with zipfile.ZipFile(book, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            if broken == "a workbook with broken XML":
                z.writestr("xl/workbook.xml", "<workbook><sheets><sheet name=")
    (tmp_path / "root.txt").write_text(ROOT_PASS.decode(), encoding="utf-8")
    code, out, err = run(
        capsys, "plan", "build", book, "--root", ready / "city_root.p12", "--root-passphrase-file", tmp_path / "root.txt",
        "--out", tmp_path / "x.plan",
    )
    assert code == 2, out + err
    assert not english_fragments(err, tmp_path, ready), err
