"""Issue 24: nothing the window saved is lost when a read command runs beside it and the window's
process then dies (a crash, a power cut, the task manager)."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.quarters import Quarter
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY, run_main

Q = Quarter(2024, 3)
PROJECT = Path(__file__).resolve().parent.parent
READ_COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["check", "--quarter", Q.code],
    ["progress", "--quarter", Q.code],
    ["annual", "--year", str(Q.year)],
    ["history"],
    ["base"],
    ["audit", "verify"],
    ["profile"],
    ["plan", "list"],
    ["identity", "show"],
]


def figures_on_disk(db: Path) -> dict[str, int]:
    """What a program opening the file now would read (the window's process is gone)."""
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT code, value FROM figures WHERE quarter = ?", (Q.code,)).fetchall())
    finally:
        conn.close()


class WindowProcess:
    def __init__(self, db: Path):
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.window_process", str(db), Q.code],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        assert self.ask(None) == "ready", self.process.communicate()[1]

    def ask(self, command: str | None) -> str:
        if command is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def town_db(tmp_path):
    db = tmp_path / "镇街 数据" / "town.sqlite3"
    db.parent.mkdir()
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Q, FULL_QUARTER)
    return db


@pytest.mark.slow
@pytest.mark.parametrize("read", READ_COMMANDS, ids=lambda args: " ".join(args))
def test_a_read_command_beside_the_window_loses_nothing_the_window_saves_later(town_db, read):
    window = WindowProcess(town_db)
    try:
        assert "已保存" in window.ask("type card_holders 205000")
        finished = run_main(town_db, *read)
        assert finished.returncode in (0, 1), finished.stderr
        assert "已保存" in window.ask("type yuecai_certified 36")
        assert "已保存" in window.ask("type nanyue_trained 71")
    finally:
        window.kill()
    on_disk = figures_on_disk(town_db)
    assert on_disk["card_holders"] == 205000
    assert on_disk["yuecai_certified"] == 36
    assert on_disk["nanyue_trained"] == 71
    with Store(town_db, today=lambda: TODAY) as store:
        assert store.verify_audit().ok


@pytest.mark.skipif(os.name != "posix", reason="POSIX drops a process's locks when any descriptor closes")
def test_reading_a_database_s_bytes_keeps_a_live_connection_s_lock(town_db):
    """The cause of the loss above: a plain open()/close() of the database in the window's process
    dropped its SQLite connection's shared lock. Every raw read now keeps the connection's lock."""
    from storage import migrate
    from storage.backup import keep_damaged, live_identity, looks_like_sqlite

    holder = sqlite3.connect(town_db)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("SELECT count(*) FROM figures").fetchall()  # a shared lock on the file, as the window holds
    try:
        migrate.inspect_file(town_db)
        looks_like_sqlite(town_db)
        live_identity(town_db)
        keep_damaged(town_db, "测试")
        # Another process: POSIX locks never conflict within one process.
        probe = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM figures'); c.close()"
        subprocess.run([sys.executable, "-c", probe, str(town_db)], check=True)  # the last one out deletes the WAL
        assert Path(f"{town_db}-wal").exists(), "another process's close believed it was the last connection"
    finally:
        holder.close()
