"""SIGKILL the app at random moments of every kind of write; check nothing committed is lost.

Each child says "ready" once it has imported everything and opened what it needs; the kill delay
is counted from then, over the time the work itself takes (measured by one run left alone), so
every trial kills real work. Used by tests/test_reliability.py (a few trials of each kind) and,
with more trials, for docs/reliability.md:

    python -m tools.crash_trials --trials 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core.demo import FULL_QUARTER

ROOT = Path(__file__).resolve().parent.parent
Q = "2024Q3"

SAVER = """
from core.quarters import Quarter
from storage.store import Store
store = Store({db!r})
n = {start}
print("ready", flush=True)
while True:
    n += 1
    store.save_quarter(Quarter(2024, 3), {{"card_holders": n, "yuecai_certified": n % 1000}})
    print(n, flush=True)
"""

EXPORTER = """
from pathlib import Path
from core.quarters import Quarter
from actions.returns import export_return
from storage.store import Store
import reports.excel, reports.pdf
store = Store({db!r})
print("ready", flush=True)
for i in range(1000):
    print("started", i, flush=True)
    export_return(store, Quarter(2024, 3), Path({out!r}) / str(i))
    print("done", i, flush=True)
"""

FIRST_RUN = """
from core.quarters import Quarter
from storage.store import Store
import storage.migrate, alembic.command
print("ready", flush=True)
with Store({db!r}) as store:
    store.bind_town("莞城")
    store.save_quarter(Quarter(2024, 3), {{"yuecai_certified": 5}})
print("done", flush=True)
"""

MIGRATOR = """
from storage.store import Store
import storage.migrate, alembic.command
print("ready", flush=True)
Store({db!r}).close()
print("done", flush=True)
"""

BACKUPS = """
from storage.store import Store
store = Store({db!r})
print("ready", flush=True)
while True:
    print(store.backup_to_rotation("测试"), flush=True)
"""

RESTORER = """
from pathlib import Path
from storage.store import restore_database
import storage.migrate
storage.migrate.reference_schema(storage.migrate.head_revision())
print("ready", flush=True)
restore_database(Path({db!r}), Path({backup!r}))
print("done", flush=True)
"""

WRITE_AND_DIE = """
import os, signal
from core.quarters import Quarter
from storage.store import Store
store = Store({db!r})
store.save_quarter(Quarter(2024, 3), {{"yuecai_certified": 777}})
os.kill(os.getpid(), signal.SIGKILL)
"""

REOPENER = """
from core.quarters import Quarter
from storage.store import Store
store = Store({db!r})
q = Quarter(2024, 3)
print("ready", flush=True)
n = {start}
while True:
    n += 1
    if store.quarter_status(q).locked:
        store.reopen(q, "核对后更正培训人数")
    store.save_quarter(q, {{"yuecai_certified": n}})
    content = f"content-{{n}}"
    revision = store.reserve_revision(q, content)
    store.record_export(q, revision, content, ["a.xlsx"])
    print(n, revision, flush=True)
"""


def _spawn(code: str) -> subprocess.Popen:
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        process.wait()
        errors.seek(0)
        raise RuntimeError(f"child did not start: {line!r}\n{errors.read()[-3000:].decode('utf-8', 'replace')}")
    errors.close()
    return process


def _kill_after(process: subprocess.Popen, delay: float) -> list[str]:
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate()
    return [line for line in out.splitlines() if line]


def _duration(code: str) -> float:
    """How long the work takes when nobody kills it (after "ready")."""
    process = _spawn(code)
    start = time.monotonic()
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "done":
            break
    elapsed = time.monotonic() - start
    process.communicate()
    return elapsed


def _ready_db(path: Path) -> None:
    from core.demo import on_pace_history
    from storage.store import Profile, Store

    with Store(path) as store:
        store.bind_town("莞城")
        store.set_profile(Profile(unit_name="莞城分局", head="王五", stats_head="赵六", preparer="李四"))
        for quarter, figures in on_pace_history().items():
            store.save_quarter(quarter, figures)


def write_first_revision_database(path: Path) -> None:
    """A database at the first schema revision, with a figure and its audit row in it."""
    from alembic import command
    from sqlalchemy import create_engine

    from storage.audit import GENESIS_HASH, ChainRow, row_hash
    from storage.migrate import alembic_config

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql("INSERT INTO towns (name, seq) VALUES ('莞城', 1)")
        connection.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('town', '莞城')")
        connection.exec_driver_sql(
            "INSERT INTO figures (town, quarter, code, value, updated_at) VALUES ('莞城', '2024Q3', 'card_holders', 123, 'x')"
        )
        row = ChainRow(
            1, "2024-10-08T09:00:00+08:00", "clerk", "", "set_figure", Q, "card_holders", None, "123", GENESIS_HASH, ""
        )
        connection.exec_driver_sql(
            "INSERT INTO audit (id, at, os_user, clerk, action, quarter, code, old_value, new_value, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.at, row.os_user, row.clerk, row.action, row.quarter, row.code, row.old_value, row.new_value,
             row.prev_hash, row_hash(row)),
        )
    engine.dispose()


def _check_db(db: Path) -> dict[str, int]:
    """Opens as a working database: intact, its audit trail explains its figures, a save works."""
    from core.quarters import Quarter
    from storage.backup import integrity_problem
    from storage.errors import DatabaseError
    from storage.store import Store

    try:
        with Store(db) as store:
            chain = store.verify_audit().ok
            if store.town() is None:
                store.bind_town("莞城")
            store.check(Quarter(2024, 3))
            usable = bool(store.plans())
    except DatabaseError:
        return {"unusable": 1, "integrity_failures": 0, "chain_failures": 0}
    intact = integrity_problem(db) is None
    return {"unusable": int(not usable), "integrity_failures": int(not intact), "chain_failures": int(not chain)}


def _figure(db: Path, code: str) -> int | None:
    from core.quarters import Quarter
    from storage.store import Store

    with Store(db) as store:
        return store.figures(Quarter(2024, 3)).get(code)


def trial_save(folder: Path, rng: random.Random, _fraction: float) -> dict[str, int]:
    db = folder / "save.sqlite3"
    if not db.exists():
        _ready_db(db)
    start = _figure(db, "card_holders") or 0
    committed = _kill_after(_spawn(SAVER.format(db=str(db), start=start)), rng.uniform(0.05, 0.6))
    last = int(committed[-1]) if committed else start
    # The figure on disk is the last one reported committed, or the one being saved when killed.
    lost = int((_figure(db, "card_holders") or 0) < last)
    return {"lost": lost, "work": len(committed), **_check_db(db)}


def trial_export(folder: Path, rng: random.Random, _fraction: float) -> dict[str, int]:
    db = folder / "export.sqlite3"
    if not db.exists():
        _ready_db(db)
    out = folder / f"out-{rng.random()}"
    lines = _kill_after(_spawn(EXPORTER.format(db=str(db), out=str(out))), rng.uniform(0.1, 2.0))
    half_written = 0
    import openpyxl
    from pypdf import PdfReader

    for path in out.rglob("*"):
        if path.suffix == ".xlsx":
            try:
                openpyxl.load_workbook(path, read_only=True).close()
            except Exception:
                half_written += 1
        elif path.suffix == ".pdf":
            try:
                PdfReader(path).pages[0]
            except Exception:
                half_written += 1
    started = sum(1 for line in lines if line.startswith("started"))
    return {"half_written": half_written, "work": started, **_check_db(db)}


def trial_first_run(folder: Path, rng: random.Random, fraction: float) -> dict[str, int]:
    db = folder / f"new-{rng.random()}" / "town.sqlite3"
    code = FIRST_RUN.format(db=str(db))
    if "first_run" not in _DURATIONS:
        probe = folder / "probe-first" / "town.sqlite3"
        _DURATIONS["first_run"] = _duration(FIRST_RUN.format(db=str(probe)))
    lines = _kill_after(_spawn(code), fraction * _DURATIONS["first_run"])
    finished = "done" in lines
    result = _check_db(db)
    lost = int(finished and _figure(db, "yuecai_certified") != 5)
    return {"lost": lost, "work": int(not finished), **result}


def trial_migrate(folder: Path, rng: random.Random, fraction: float) -> dict[str, int]:
    db = folder / f"old-{rng.random()}.sqlite3"
    write_first_revision_database(db)
    if "migrate" not in _DURATIONS:
        probe = folder / "probe-old.sqlite3"
        write_first_revision_database(probe)
        _DURATIONS["migrate"] = _duration(MIGRATOR.format(db=str(probe)))
    lines = _kill_after(_spawn(MIGRATOR.format(db=str(db))), fraction * _DURATIONS["migrate"])
    result = _check_db(db)  # a migration cut short is rolled back and simply runs again
    return {"lost": int(_figure(db, "card_holders") != 123), "work": int("done" not in lines), **result}


def trial_backup(folder: Path, rng: random.Random, _fraction: float) -> dict[str, int]:
    from storage.backup import backups_of, integrity_problem

    db = folder / "backup.sqlite3"
    if not db.exists():
        _ready_db(db)
    before = _figure(db, "card_holders")
    made = _kill_after(_spawn(BACKUPS.format(db=str(db))), rng.uniform(0.02, 0.4))
    broken = sum(1 for path in backups_of(db) if integrity_problem(path) is not None)
    result = _check_db(db)
    return {"lost": int(_figure(db, "card_holders") != before), "broken_backups": broken, "work": len(made), **result}


def trial_restore(folder: Path, rng: random.Random, fraction: float) -> dict[str, int]:
    from storage.store import Store

    case = folder / f"restore-{rng.random()}"
    case.mkdir()
    db = case / "town.sqlite3"
    _ready_db(db)
    with Store(db) as store:
        backup = store.backup_to_rotation("测试")
    assert backup is not None
    subprocess.run([sys.executable, "-c", WRITE_AND_DIE.format(db=str(db))], cwd=ROOT, stderr=subprocess.DEVNULL)
    if "restore" not in _DURATIONS:
        probe = folder / "probe-restore"
        shutil.copytree(case, probe)
        _DURATIONS["restore"] = _duration(RESTORER.format(db=str(probe / db.name), backup=str(probe / "backups" / backup.name)))
    lines = _kill_after(_spawn(RESTORER.format(db=str(db), backup=str(backup))), fraction * _DURATIONS["restore"])
    with Store(db) as store:
        restored = store.audit_trail()[-1].action == "restore"
    value = _figure(db, "yuecai_certified")
    # Either the old database with the commit that lived only in its WAL, or the backup restored whole.
    lost = int(value != (FULL_QUARTER["yuecai_certified"] if restored else 777))
    return {"lost": lost, "work": int("done" not in lines), **_check_db(db)}


def trial_reopen(folder: Path, rng: random.Random, _fraction: float) -> dict[str, int]:
    from core.quarters import Quarter
    from storage.store import Store

    db = folder / "reopen.sqlite3"
    if not db.exists():
        _ready_db(db)
        with Store(db) as store:
            store.record_export(Quarter(2024, 3), store.reserve_revision(Quarter(2024, 3), "start"), "start", ["a.xlsx"])
    start = _figure(db, "yuecai_certified") or 0
    if start < 1000:
        start = 1000
    lines = _kill_after(_spawn(REOPENER.format(db=str(db), start=start)), rng.uniform(0.05, 0.6))
    last = int(lines[-1].split()[0]) if lines else None
    value = _figure(db, "yuecai_certified")
    lost = int(last is not None and (value or 0) < last)
    # The recorded revision is the one handed out for exactly that content.
    import sqlite3

    with sqlite3.connect(db) as conn:
        reused = conn.execute(
            "SELECT count(*) FROM quarter_status s LEFT JOIN issued_revisions i "
            "ON i.town = s.town AND i.quarter = s.quarter AND i.revision = s.revision "
            "WHERE s.state = 'submitted' AND (i.content_hash IS NULL OR i.content_hash != s.content_hash)"
        ).fetchone()[0]
    return {"lost": lost, "reused_revisions": reused, "work": len(lines), **_check_db(db)}


_DURATIONS: dict[str, float] = {}
TRIALS: dict[str, Callable[[Path, random.Random, float], dict[str, int]]] = {
    "save": trial_save,
    "export": trial_export,
    "first_run": trial_first_run,
    "migrate": trial_migrate,
    "backup": trial_backup,
    "restore": trial_restore,
    "reopen": trial_reopen,
}


def run(kind: str, trials: int, seed: int = 1) -> dict[str, int]:
    """Kill times spread evenly over the work (with jitter), so short runs still cover it."""
    rng = random.Random(seed)
    totals: dict[str, int] = {"trials": trials}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_DATA_HOME", tmp)
        _DURATIONS.clear()
        for i in range(trials):
            fraction = (i + rng.random()) / trials
            for key, value in TRIALS[kind](Path(tmp), rng, fraction).items():
                totals[key] = totals.get(key, 0) + value
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kind", choices=[*TRIALS, "all"], default="all")
    args = parser.parse_args()
    kinds = list(TRIALS) if args.kind == "all" else [args.kind]
    results = {}
    for kind in kinds:
        started = time.monotonic()
        results[kind] = run(kind, args.trials)
        results[kind]["seconds"] = round(time.monotonic() - started)
        print(json.dumps({kind: results[kind]}, ensure_ascii=False), flush=True)
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
