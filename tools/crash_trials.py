"""SIGKILL the app while it saves, exports and migrates; check nothing committed is lost.

Used by tests/test_reliability.py (a few trials) and, with more trials, for docs/reliability.md:
    python tools/crash_trials.py --trials 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAVER = """
import sys
sys.path.insert(0, {root!r})
from core.quarters import Quarter
from storage.store import Store
store = Store({db!r})
n = {start}
while True:
    n += 1
    store.save_quarter(Quarter(2024, 3), {{"card_holders": n, "yuecai_certified": n % 1000}})
    print(n, flush=True)
"""

EXPORTER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from core.quarters import Quarter
from reports.export import export_return
from storage.store import Store
store = Store({db!r})
for i in range(1000):
    export_return(store, Quarter(2024, 3), Path({out!r}) / str(i))
    print(i, flush=True)
"""

MIGRATOR = """
import sys
sys.path.insert(0, {root!r})
from storage.store import Store
Store({db!r}).close()
print("opened", flush=True)
"""


def _ready_db(path: Path) -> None:
    from core.quarters import Quarter
    from storage.store import Store
    from tests.conftest import on_pace_history

    with Store(path) as store:
        store.bind_town("莞城")
        for quarter, values in on_pace_history(last=Quarter(2024, 3)).items():
            store.save_quarter(quarter, values)


def _old_db(path: Path) -> None:
    """A database at the first schema revision, with figures in it."""
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
        row = ChainRow(1, "2024-10-08T09:00:00+08:00", "clerk", "", "set_figure", "2024Q3", "card_holders", None, "123", GENESIS_HASH, "")
        connection.exec_driver_sql(
            "INSERT INTO audit (id, at, os_user, clerk, action, quarter, code, old_value, new_value, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*[getattr(row, f) for f in ("id", "at", "os_user", "clerk", "action", "quarter", "code", "old_value", "new_value", "prev_hash")], row_hash(row)),
        )
    engine.dispose()


def _kill_after(process: subprocess.Popen, delay: float) -> list[str]:
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate()
    return out.split()


def _check_db(db: Path) -> tuple[bool, bool]:
    from storage.backup import integrity_problem
    from storage.store import Store

    intact = integrity_problem(db) is None
    with Store(db) as store:
        chain = store.verify_audit().ok
    return intact, chain


def trial_save(folder: Path, rng: random.Random) -> dict[str, int]:
    db = folder / "save.sqlite3"
    if not db.exists():
        _ready_db(db)
    from core.quarters import Quarter
    from storage.store import Store

    with Store(db) as store:
        start = store.figures(Quarter(2024, 3)).get("card_holders", 0)
    process = subprocess.Popen(
        [sys.executable, "-c", SAVER.format(root=str(ROOT), db=str(db), start=start)],
        stdout=subprocess.PIPE,
        text=True,
    )
    committed = _kill_after(process, rng.uniform(0.3, 1.2))
    last = int(committed[-1]) if committed else start
    with Store(db) as store:
        value = store.figures(Quarter(2024, 3))["card_holders"]
    intact, chain = _check_db(db)
    # The figure on disk is the last one reported committed, or the one being saved when killed.
    return {
        "lost": int(value < last),
        "integrity_failures": int(not intact),
        "chain_failures": int(not chain),
        "saves": len(committed),
    }


def trial_export(folder: Path, rng: random.Random) -> dict[str, int]:
    db = folder / "export.sqlite3"
    if not db.exists():
        _ready_db(db)
    out = folder / f"out-{rng.random()}"
    process = subprocess.Popen(
        [sys.executable, "-c", EXPORTER.format(root=str(ROOT), db=str(db), out=str(out))],
        stdout=subprocess.PIPE,
        text=True,
    )
    _kill_after(process, rng.uniform(0.8, 2.5))
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
    intact, chain = _check_db(db)
    return {"half_written": half_written, "integrity_failures": int(not intact), "chain_failures": int(not chain)}


def trial_migrate(folder: Path, rng: random.Random) -> dict[str, int]:
    db = folder / f"old-{rng.random()}.sqlite3"
    _old_db(db)
    process = subprocess.Popen(
        [sys.executable, "-c", MIGRATOR.format(root=str(ROOT), db=str(db))], stdout=subprocess.PIPE, text=True
    )
    _kill_after(process, rng.uniform(0.0, 0.6))
    from core.quarters import Quarter
    from storage.store import Store

    with Store(db) as store:  # a migration cut short is rolled back and simply runs again
        value = store.figures(Quarter(2024, 3)).get("card_holders")
    intact, chain = _check_db(db)
    return {"lost": int(value != 123), "integrity_failures": int(not intact), "chain_failures": int(not chain)}


TRIALS = {"save": trial_save, "export": trial_export, "migrate": trial_migrate}


def run(kind: str, trials: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    totals: dict[str, int] = {"trials": trials}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_DATA_HOME", tmp)
        for _ in range(trials):
            for key, value in TRIALS[kind](Path(tmp), rng).items():
                totals[key] = totals.get(key, 0) + value
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kind", choices=[*TRIALS, "all"], default="all")
    args = parser.parse_args()
    kinds = list(TRIALS) if args.kind == "all" else [args.kind]
    print(json.dumps({kind: run(kind, args.trials) for kind in kinds}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
