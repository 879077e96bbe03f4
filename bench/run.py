"""Benchmarks, each beside its baseline in the same run.  Run:  python bench/run.py [--quick]

Prints a Markdown report (the source of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BARE_WINDOW = """
import time, sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
w = QMainWindow(); w.resize(1180, 820); w.show(); app.processEvents()
print(time.perf_counter(), flush=True)
"""

APP_WINDOW = """
import time, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from gui.app import make_application, open_session
app = make_application()
session = open_session(Path({db!r}))
session.window.show(); app.processEvents()
print(time.perf_counter(), flush=True)
session.close()
"""


def _time_process(code: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shown = float(done.stdout.split()[0])
    return shown - start


def bench_startup(rounds: int) -> dict[str, float]:
    from storage.demo import build_demo_database

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.sqlite3"
        build_demo_database(db)
        bare, app = [], []
        for _ in range(rounds):
            bare.append(_time_process(BARE_WINDOW))
            app.append(_time_process(APP_WINDOW.format(root=str(ROOT), db=str(db))))
    return {"bare": statistics.median(bare), "app": statistics.median(app)}


def bench_save(rounds: int) -> dict[str, float]:
    from core.quarters import Quarter
    from storage.store import Store
    from tests.conftest import FULL_QUARTER

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "s.sqlite3") as store:
        store.bind_town("莞城")
        times = []
        for n in range(rounds):
            values = {code: value + n for code, value in FULL_QUARTER.items()}
            start = time.perf_counter()
            store.save_quarter(Quarter(2024, 3), values)
            times.append(time.perf_counter() - start)
        rows = len(store.audit_trail())
    return {"median": statistics.median(times), "p90": sorted(times)[int(len(times) * 0.9)], "audit_rows": rows}


def bench_export(rounds: int) -> dict[str, float]:
    from core.quarters import Quarter
    from reports.export import export_return, open_town_identity
    from reports.identity import create_city_root, issue_town_identity
    from storage.store import Store
    from tests.conftest import on_pace_history

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        create_city_root(tmp / "city", b"root-passphrase")
        issue_town_identity(tmp / "city" / "city_root.p12", b"root-passphrase", "莞城", tmp / "gc.p12", b"town-pass")
        times, unsigned = [], []
        with Store(tmp / "e.sqlite3") as store:
            store.bind_town("莞城")
            for quarter, values in on_pace_history(last=Quarter(2024, 3)).items():
                store.save_quarter(quarter, values)
            store.set_identity((tmp / "gc.p12").read_bytes(), "莞城")
            for n in range(rounds):
                start = time.perf_counter()
                export_return(store, Quarter(2024, 3), tmp / f"u{n}")
                unsigned.append(time.perf_counter() - start)
                start = time.perf_counter()
                identity = open_town_identity(store, b"town-pass")
                export_return(store, Quarter(2024, 3), tmp / f"s{n}", identity=identity)
                times.append(time.perf_counter() - start)
    return {"signed": statistics.median(times), "unsigned": statistics.median(unsigned)}


def _demo_set(folder: Path) -> tuple[Path, Path]:
    from reports.demo_returns import generate_demo_set

    demo = generate_demo_set(folder)
    return demo.root, demo.returns


def bench_verify(root: Path, returns: Path) -> dict[str, float]:
    import openpyxl

    from reports.collect import collect, find_returns
    from reports.identity import load_trust_roots

    files = list(find_returns(returns))
    start = time.perf_counter()
    for path in files:
        openpyxl.load_workbook(path, read_only=True).close()
    baseline = len(files) / (time.perf_counter() - start)
    roots = load_trust_roots(root)
    start = time.perf_counter()
    collection = collect(returns, roots)
    rate = len(files) / (time.perf_counter() - start)
    start = time.perf_counter()
    collect(returns, roots, workers=1)
    serial = len(files) / (time.perf_counter() - start)
    assert len(collection.valid) == len(files)
    return {"files": len(files), "openpyxl_per_s": baseline, "verified_per_s": rate, "serial_per_s": serial}


def bench_consolidate(root: Path, returns: Path, copies: int) -> dict[str, float]:
    """The consolidate command on `copies` copies of the demo set, in its own process (peak RSS)."""
    import shutil

    with tempfile.TemporaryDirectory() as folder:
        inbox = Path(folder) / "inbox"
        for n in range(copies):
            shutil.copytree(returns, inbox / f"copy{n}")
        files = sum(1 for _ in inbox.rglob("*.xlsx"))
        code = (
            f"import resource, sys, time; sys.path.insert(0, {str(ROOT)!r}); from cli import main; t = time.perf_counter(); "
            f"main(['consolidate', '--trust', {str(root)!r}, '--quarter', '2025Q4', {str(inbox)!r}, '--json']); "
            "print('ELAPSED', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TOWN_RETURNS_DB": str(Path(folder) / "none.sqlite3")},
        )
        line = next(x for x in done.stderr.splitlines() if x.startswith("ELAPSED"))
        _, elapsed, workers_kb, parent_kb = line.split()
    return {
        "files": files,
        "seconds": float(elapsed),
        "per_s": files / float(elapsed),
        "parent_mb": int(parent_kb) / 1024,
        "worker_mb": int(workers_kb) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    print(
        f"# Benchmarks\n\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{dt.date.today():%Y-%m-%d}. Command: `python bench/run.py`.\n"
    )
    startup = bench_startup(rounds)
    ratio = startup["app"] / startup["bare"]
    print("| benchmark | project | baseline | ratio / goal |\n|---|---|---|---|")
    print(
        f"| start-up to main window (offscreen, median of {rounds}) | {startup['app']:.2f} s | bare PySide6 window "
        f"{startup['bare']:.2f} s | {ratio:.2f}× (goal ≤ 1.5×) {'✓' if ratio <= 1.5 else '✗'} |"
    )
    save = bench_save(200)
    print(
        f"| save a quarter (9 figures + audit rows, median of 200) | {save['median'] * 1000:.1f} ms "
        f"(p90 {save['p90'] * 1000:.1f} ms) | — | goal < 20 ms {'✓' if save['median'] < 0.02 else '✗'} |"
    )
    export = bench_export(rounds)
    print(
        f"| export one signed return (xlsx + PDF + summary, median) | {export['signed']:.2f} s | unsigned "
        f"{export['unsigned']:.2f} s | goal < 1 s {'✓' if export['signed'] < 1 else '✗'} |"
    )
    with tempfile.TemporaryDirectory() as folder:
        root, returns = _demo_set(Path(folder))
        verify = bench_verify(root, returns)
        print(
            f"| verify signed workbooks ({verify['files']} files, all cores) | {verify['verified_per_s']:.0f} /s "
            f"(one core {verify['serial_per_s']:.0f} /s) | openpyxl read-only open {verify['openpyxl_per_s']:.0f} /s | "
            f"{verify['verified_per_s'] / verify['openpyxl_per_s']:.2f}× (goal ≥ 300 /s) "
            f"{'✓' if verify['verified_per_s'] >= 300 else '✗'} |"
        )
        for copies in (1, 4):
            run = bench_consolidate(root, returns, copies)
            print(
                f"| consolidate 2025Q4 from {copies} × the 33 × 20 demo set ({run['files']} files, whole command) | "
                f"{run['seconds']:.1f} s, {run['per_s']:.0f} /s | — | peak RSS parent {run['parent_mb']:.0f} MB, "
                f"largest worker {run['worker_mb']:.0f} MB |"
            )


if __name__ == "__main__":
    main()
