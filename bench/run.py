"""Benchmarks, each beside its baseline in the same run.  Run:  python -m bench.run [--quick]

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
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BARE_WINDOW = """
import time, sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
w = QMainWindow(); w.resize(1180, 820); w.show(); app.processEvents()
print("PAINT", time.perf_counter(), flush=True)
print("READY", time.perf_counter(), flush=True)
"""

# What `python main.py` does (gui.app.run_app): paint the window's skeleton, lock the database, fill the
# window in from the database read directly (there from a zero-timer; here called directly), then the store
# loads while the window takes input. The process runs until the store is in, so its peak memory counts it.
APP_WINDOW = """
import time, sys
from pathlib import Path
from gui.app import make_application, start_session
app = make_application()
starting = start_session(Path({db!r}))
print("PAINT", time.perf_counter(), flush=True)
session = starting.finish(); app.processEvents()
assert session is not None and session.window.isEnabled()
print("READY", time.perf_counter(), flush=True)
while session.window.database.ready(wait=False) is None:
    app.processEvents()
    time.sleep(0.002)
print("STORE", time.perf_counter(), flush=True)
session.window.close()
session.close()
"""


def _run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Wall time of a child process, its output, and its own peak RSS in KiB (os.wait4: this child only)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"{argv} exited {child.returncode}")
    return elapsed, out, usage.ru_maxrss


def _moments(code: str) -> tuple[float, float, float, float]:
    """Seconds from starting the process to the first paint, to ready-to-type and to the store loaded
    behind the open window; peak RSS in MiB."""
    start = time.perf_counter()
    _, out, peak_kb = _run_measured([sys.executable, "-c", code])
    marks = dict(line.split() for line in out.splitlines() if line.startswith(("PAINT", "READY", "STORE")))
    loaded = float(marks.get("STORE", marks["READY"])) - start
    return float(marks["PAINT"]) - start, float(marks["READY"]) - start, loaded, peak_kb / 1024


def bench_startup(rounds: int) -> dict[str, float]:
    from storage.demo import build_demo_database

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.sqlite3"
        build_demo_database(db)
        bare: list[tuple[float, float, float, float]] = []
        app: list[tuple[float, float, float, float]] = []
        for _ in range(rounds):
            bare.append(_moments(BARE_WINDOW))
            app.append(_moments(APP_WINDOW.format(db=str(db))))
    return {
        "bare": statistics.median(x[0] for x in bare),
        "paint": statistics.median(x[0] for x in app),
        "ready": statistics.median(x[1] for x in app),
        "store": statistics.median(x[2] for x in app),
        "bare_mb": statistics.median(x[3] for x in bare),
        "app_mb": statistics.median(x[3] for x in app),
    }


def bench_cli(rounds: int) -> dict[str, float]:
    """`python -c pass` against `main.py --version` and `main.py --help`, alternating, medians."""
    runs: dict[str, list[float]] = {"pass": [], "version": [], "help": []}
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "version": [sys.executable, str(ROOT / "main.py"), "--version"],
        "help": [sys.executable, str(ROOT / "main.py"), "--help"],
    }
    for _ in range(rounds):
        for name, argv in commands.items():
            runs[name].append(_run_measured(argv)[0])
    return {name: statistics.median(times) for name, times in runs.items()}


def bundle_size() -> int | None:
    """Bytes of the one-folder bundle in dist/ (built by `make dist`), or None when it is not there."""
    folder = ROOT / "dist" / "town-returns"
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def bench_save(rounds: int) -> dict[str, float]:
    from core.demo import FULL_QUARTER
    from core.quarters import Quarter
    from storage.store import Store

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
    from actions.returns import export_return, open_identity
    from core.demo import on_pace_history
    from core.quarters import Quarter
    from reports.identity import create_city_root, issue_town_identity
    from storage.store import Profile, Store

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        create_city_root(tmp / "city", b"root-passphrase")
        issue_town_identity(tmp / "city" / "city_root.p12", b"root-passphrase", "莞城", tmp / "gc.p12", b"town-pass")
        times, unsigned = [], []
        with Store(tmp / "e.sqlite3") as store:
            store.bind_town("莞城")
            store.set_profile(Profile(unit_name="莞城分局", head="王五", stats_head="赵六", preparer="李四"))
            for quarter, values in on_pace_history(last=Quarter(2024, 3)).items():
                store.save_quarter(quarter, values)
            store.set_identity((tmp / "gc.p12").read_bytes(), "莞城")
            for n in range(rounds):
                start = time.perf_counter()
                export_return(store, Quarter(2024, 3), tmp / f"u{n}")
                unsigned.append(time.perf_counter() - start)
                start = time.perf_counter()
                identity = open_identity(store, b"town-pass")
                export_return(store, Quarter(2024, 3), tmp / f"s{n}", identity=identity)
                times.append(time.perf_counter() - start)
    return {"signed": statistics.median(times), "unsigned": statistics.median(unsigned)}


def _demo_set(folder: Path) -> tuple[Path, Path]:
    from reports.demo_returns import generate_demo_set

    demo = generate_demo_set(folder)
    return demo.root, demo.returns


def _openpyxl_open(files: list[Path]) -> float:
    """Seconds openpyxl needs merely to open (read-only) and close each workbook, in this process."""
    import openpyxl

    start = time.perf_counter()
    for path in files:
        openpyxl.load_workbook(path, read_only=True).close()
    return time.perf_counter() - start


def bench_verify(root: Path, returns: Path) -> dict[str, float]:
    from reports.collect import collect, find_returns
    from reports.identity import load_trust_roots

    files = list(find_returns(returns))
    baseline = len(files) / _openpyxl_open(files)
    roots = load_trust_roots(root)
    start = time.perf_counter()
    collection = collect(returns, roots)
    rate = len(files) / (time.perf_counter() - start)
    start = time.perf_counter()
    collect(returns, roots, workers=1)
    serial = len(files) / (time.perf_counter() - start)
    assert len(collection.valid) == len(files)
    # The checks alone, in this process, in CPU time (what other work on the machine disturbs least).
    from reports.verify import Verifier

    verifier = Verifier(roots)
    start = time.process_time()
    assert all(verifier.verify(path).valid for path in files)
    in_process_ms = (time.process_time() - start) / len(files) * 1000
    # The `verify FILE…` command, whole (its own process, start-up included).
    argv = [sys.executable, str(ROOT / "main.py"), "verify", "--trust", str(root), *map(str, files)]
    elapsed, _, _ = _run_measured(argv, env={**os.environ, "TOWN_RETURNS_DB": str(returns / "none.sqlite3")})
    return {
        "files": len(files),
        "openpyxl_per_s": baseline,
        "verified_per_s": rate,
        "serial_per_s": serial,
        "in_process_ms": in_process_ms,
        "command_per_s": len(files) / elapsed,
    }


def bench_consolidate(root: Path, returns: Path, copies: int) -> dict[str, float]:
    """The consolidate command on `copies` copies of the demo set, in its own process (peak RSS)."""
    import shutil

    with tempfile.TemporaryDirectory() as folder:
        inbox = Path(folder) / "inbox"
        for n in range(copies):
            shutil.copytree(returns, inbox / f"copy{n}")
        files = sum(1 for _ in inbox.rglob("*.xlsx"))
        openpyxl_seconds = _openpyxl_open(sorted(inbox.rglob("*.xlsx")))
        code = (
            "import resource, sys, time; from cli import main; t = time.perf_counter(); "
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
        "openpyxl_seconds": openpyxl_seconds,
        "seconds": float(elapsed),
        "per_s": files / float(elapsed),
        "parent_mb": int(parent_kb) / 1024,
        "worker_mb": int(workers_kb) / 1024,
    }


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    print(
        f"# Benchmarks\n\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{dt.date.today():%Y-%m-%d}. Command: `python bench/run.py`.\n"
    )
    print("| benchmark | project | baseline (same run) | ratio / goal |\n|---|---|---|---|")
    cli = bench_cli(rounds * 3)
    for name in ("version", "help"):
        ratio = cli[name] / cli["pass"]
        print(
            f"| `python main.py --{name}` (median of {rounds * 3}) | {cli[name] * 1000:.0f} ms | `python -c pass` "
            f"{cli['pass'] * 1000:.0f} ms | {ratio:.2f}× (goal ≤ 3×) {_mark(ratio <= 3)} |"
        )
    startup = bench_startup(rounds)
    paint, ready = startup["paint"] / startup["bare"], startup["ready"] / startup["bare"]
    memory = startup["app_mb"] / startup["bare_mb"]
    print(
        f"| window: first paint (frame, menus, form skeleton; offscreen, median of {rounds}) | {startup['paint']:.2f} s "
        f"| bare PySide6 window shown {startup['bare']:.2f} s | {paint:.2f}× (goal ≤ 1.5×) {_mark(paint <= 1.5)} |"
    )
    print(
        f"| window: ready to type (database open, figures in) | {startup['ready']:.2f} s | bare PySide6 window "
        f"{startup['bare']:.2f} s | {ready:.2f}× (goal ≤ 2.5×) {_mark(ready <= 2.5)} |",
        f"| window: the store loaded behind the open window (SQLAlchemy; what saving needs) | {startup['store']:.2f} s "
        f"| bare PySide6 window {startup['bare']:.2f} s | {startup['store'] / startup['bare']:.2f}× (no goal) |",
        sep="\n",
    )
    print(
        f"| window: peak memory (RSS) of the open window, store loaded | {startup['app_mb']:.0f} MiB | bare PySide6 window "
        f"{startup['bare_mb']:.0f} MiB | {memory:.2f}× (goal ≤ 2×) {_mark(memory <= 2)} |"
    )
    save = bench_save(200)
    print(
        f"| save a quarter (9 figures + audit rows, median of 200) | {save['median'] * 1000:.1f} ms "
        f"(p90 {save['p90'] * 1000:.1f} ms) | — | goal < 20 ms {_mark(save['median'] < 0.02)} |"
    )
    export = bench_export(rounds)
    print(
        f"| export one signed return (xlsx + PDF + summary, median) | {export['signed']:.2f} s | unsigned "
        f"{export['unsigned']:.2f} s | goal < 1 s {_mark(export['signed'] < 1)} |"
    )
    with tempfile.TemporaryDirectory() as folder:
        root, returns = _demo_set(Path(folder))
        verify = bench_verify(root, returns)
        print(
            f"| verify signed workbooks ({verify['files']} files, `collect` on all cores) | "
            f"{verify['verified_per_s']:.0f} /s (one core {verify['serial_per_s']:.0f} /s; the checks alone "
            f"{verify['in_process_ms']:.1f} ms CPU a file) | openpyxl read-only "
            f"open {verify['openpyxl_per_s']:.0f} /s | {verify['verified_per_s'] / verify['openpyxl_per_s']:.2f}× openpyxl; "
            f"goal ≥ 1,000 /s {_mark(verify['verified_per_s'] >= 1000)} |"
        )
        print(
            f"| `python main.py verify --trust … FILE…` ({verify['files']} files, whole command) | "
            f"{verify['command_per_s']:.0f} /s | openpyxl read-only open {verify['openpyxl_per_s']:.0f} /s | "
            f"goal ≥ 1,000 /s {_mark(verify['command_per_s'] >= 1000)} |"
        )
        peaks = []
        for copies in (1, 4):
            run = bench_consolidate(root, returns, copies)
            peaks.append(run["parent_mb"])
            ratio = run["seconds"] / run["openpyxl_seconds"]
            goal = f"{ratio:.2f}× (goal ≤ 0.3×) {_mark(ratio <= 0.3)}" if copies == 4 else f"{ratio:.2f}×"
            print(
                f"| consolidate 2025Q4 from {copies} × the 33 × 20 demo set ({run['files']} files, whole command) | "
                f"{run['seconds']:.1f} s, {run['per_s']:.0f} /s; peak RSS parent {run['parent_mb']:.0f} MB | openpyxl "
                f"read-only open of the same files {run['openpyxl_seconds']:.1f} s | {goal}; goal ≥ 1,000 /s "
                f"{_mark(run['per_s'] >= 1000)} |"
            )
        flat = peaks[1] <= peaks[0] * 1.1
        print(
            f"| consolidation memory, 4× the files | parent peak {peaks[1]:.0f} MB | 1× the files {peaks[0]:.0f} MB | "
            f"{peaks[1] / peaks[0]:.2f}× (goal: flat) {_mark(flat)} |"
        )
    size = bundle_size()
    if size is None:
        print("| one-folder bundle (dist/town-returns) | not built: run `make dist` first | — | goal ≤ 180 MB |")
    else:
        mib = size / 2**20  # the issue's 280 MB was `du -sh` (MiB of disk blocks, a little above the files' sizes)
        print(
            f"| one-folder bundle (dist/town-returns, `make dist`) | {mib:.0f} MiB of files "
            f"({size / 1e6:.0f} × 10⁶ bytes) | 281M by `du -sh` before issue 17 | goal ≤ 180 MB {_mark(mib <= 180)} |"
        )


if __name__ == "__main__":
    main()
