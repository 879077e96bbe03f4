"""Write PNGs of the town's window and the city's window from demo data, at two screen sizes.

Usage: python -m gui.screenshots OUTDIR [--no-city]

Also, under the 2026–2030 sample plan (示例（非正式目标））: the entry form of 2026Q1, what a town is shown before
importing a .plan, and the split the city is shown before signing one.

Each size is the client area a maximised window gets on that screen (a 40 px taskbar and a 30 px title bar
taken off): 1366×768 → 1366×698, 1920×1080 → 1920×1010.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SIZES = (("1366x768", (1366, 698)), ("1920x1080", (1920, 1010)))


# Issue 25: the laptops towns have, with Windows' display scaling (screen size, scale).
SCALED = (("1366x768_125", 1366, 768, "1.25"), ("1920x1080_150", 1920, 1080, "1.5"))


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    if "--scaled" in argv and len(args) == 1:
        return scaled_shots(Path(args[0]))
    if "--clerk-at" in argv and len(args) == 2:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from gui.app import make_application

        app = make_application()
        with tempfile.TemporaryDirectory() as folder:
            for path in clerk_shots(app, Path(folder), Path(args[0]), args[1]):
                print(path)
        return 0
    if len(args) != 1:
        print("用法：python -m gui.screenshots 输出文件夹 [--no-city]", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import make_application

    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as folder:
        written += town_shots(app, Path(folder), out)
        written += plan_shots(app, Path(folder) / "plan", out)
        if "--no-city" not in argv:
            written += city_shots(app, Path(folder), out)
    for path in written:
        print(path)
    return 0


def _settle(app, seconds: float = 0.2) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait_for(app, done: Callable[[], bool], timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def _grab(app, widget, path: Path) -> Path:
    _settle(app)
    widget.grab().save(str(path))
    return path


def _type(app, edit, text: str) -> None:
    """Type as a clerk does: focus, select all, then the keys (ASCII only, see STACK.md)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, Qt.Key.Key_Return)
    app.processEvents()


def town_shots(app, folder: Path, out: Path) -> list[Path]:
    from PySide6.QtCore import QPoint, QSize
    from PySide6.QtPrintSupport import QPrintPreviewWidget
    from PySide6.QtWidgets import QMenu, QMessageBox

    from actions.database import blank_profile, demo_database
    from actions.returns import export_quarter
    from core.plans import TOWNS
    from gui.app import open_session
    from gui.main_window import MainWindow
    from gui.printing import show_page_top
    from gui.setup_dialog import SetupDialog

    written = []
    setup = SetupDialog(None, blank_profile())
    setup.show()
    written.append(_grab(app, setup, out / "setup_first_run.png"))
    setup.town_box.setCurrentIndex(TOWNS.index("道滘"))
    written.append(_grab(app, setup, out / "setup_town_chosen.png"))
    setup.close()

    db = folder / "demo.sqlite3"
    db, quarter = demo_database(db)
    session = open_session(db, quarter)
    if session is None:
        raise SystemExit("演示数据库无法打开")
    window = session.window
    if not isinstance(window, MainWindow):
        raise SystemExit("演示数据库不是镇街的数据库")
    form = window.form
    try:
        for size_name, (width, height) in SIZES:
            window.setWindowState(window.windowState() & ~window.windowState().WindowMaximized)
            window.showNormal()
            window.resize(QSize(width, height))
            window.tabs.setCurrentIndex(0)
            window.select_quarter(quarter)
            _settle(app)
            # A saved edit: the confirmation appears in the window itself.
            nanyue = form.value_edits["nanyue_trained"]
            _type(app, nanyue, str(int(nanyue.text().replace(",", "")) + 1))
            window.save()
            written.append(_grab(app, window, out / f"entry_saved_{size_name}.png"))
            # Typing with Enter while warnings appear: red for an error, amber for a warning needing a 说明.
            form.value_edits["card_holders"].setFocus()
            for code, text in (("card_holders", "150000"), ("mediation_cases", "40"), ("mediation_success", "45")):
                _type(app, form.value_edits[code], text)
            written.append(_grab(app, window, out / f"entry_marks_{size_name}.png"))
            window.reload()  # drop the demonstration edits
            for index, name in ((1, "progress_view"), (2, "history_view")):
                window.tabs.setCurrentIndex(index)
                written.append(_grab(app, window, out / f"{name}_{size_name}.png"))
            window.tabs.setCurrentIndex(0)
            preview = window.preview("pdf")
            if preview is not None:
                preview.setWindowState(preview.windowState() & ~preview.windowState().WindowMaximized)
                preview.resize(QSize(width, height))
                _settle(app, 0.6)
                widget = preview.findChild(QPrintPreviewWidget)
                if widget is not None:
                    widget.setCurrentPage(1)
                _settle(app, 0.3)
                show_page_top(preview)
                written.append(_grab(app, preview, out / f"print_preview_{size_name}.png"))
                preview.close()
        window.resize(QSize(*SIZES[0][1]))
        menu = window.menuBar().actions()[0].menu()
        assert isinstance(menu, QMenu)  # 文件(&F)
        menu.popup(window.mapToGlobal(QPoint(0, window.menuBar().height())))
        written.append(_grab(app, menu, out / "file_menu.png"))
        menu.hide()
        result = export_quarter(window.store, quarter.code, folder / "exported", passphrase=None)
        box = window.returns.show_exported(result)
        written.append(_grab(app, box, out / "export_done.png"))
        box.close()
        about = window.database.show_about()
        assert about is not None
        written.append(_grab(app, about, out / "about.png"))
        about.close()
        window.reload()
    finally:
        for dialog in app.topLevelWidgets():
            if isinstance(dialog, QMessageBox):
                dialog.close()
        window.close()
        session.close()
    return written


def scaled_shots(out: Path) -> int:
    """The clerk's window at 1366×768 with 125 % and 1920×1080 with 150 % scaling: each in its own process on a
    screen of that size (Qt's offscreen platform given the screen, QT_SCALE_FACTOR), a 40 px taskbar taken off."""
    import json
    import subprocess

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, width, height, scale in SCALED:
            config = Path(folder) / f"{name}.json"
            screen = {"name": name, "x": 0, "y": 0, "width": width, "height": height - 40, "logicalDpi": 96}
            config.write_text(json.dumps({"screens": [screen]}), encoding="utf-8")
            env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}", QT_SCALE_FACTOR=scale)
            done = subprocess.run([sys.executable, "-m", "gui.screenshots", str(out), name, "--clerk-at"], env=env)
            if done.returncode != 0:
                return done.returncode
    return 0


def clerk_shots(app, folder: Path, out: Path, name: str) -> list[Path]:
    """The window maximised on this process's screen: a 需重新上报 quarter (its banner), typing far down the
    form, the paste shown before it lands, the 基期数 dialog, the progress and history tabs."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from actions.database import open_store
    from core.demo import on_pace_history
    from core.quarters import Quarter
    from gui.clerk_dialogs import BaseDialog, PasteDialog, plan_paste
    from gui.main_window import MainWindow

    out.mkdir(parents=True, exist_ok=True)
    written = []
    quarter, first = Quarter(2025, 3), Quarter(2025, 1)
    with open_store(folder / "莞城.sqlite3") as store:
        store.bind_town("莞城")
        history = on_pace_history(last=quarter)
        for q, values in history.items():
            store.save_quarter(q, values)
        store.reserve_revision(quarter, "0" * 64)
        store.record_export(quarter, 1, "0" * 64, [f"{quarter.code}_莞城_季报.pdf"])
        store.save_quarter(first, dict(history[first], yuecai_certified=history[first]["yuecai_certified"] + 2))
        window = MainWindow(store, initial_quarter=quarter)
        window.showMaximized()
        _settle(app, 0.4)
        written.append(_grab(app, window, out / f"clerk_stale_{name}.png"))
        window.select_quarter(Quarter(2025, 4))
        _settle(app)
        edits = list(window.form.value_edits.values())
        edits[0].setFocus()
        for text in ("149000", "8", "70", "50", "30", "0", "25", "20", "0", "12", "10"):  # 仲裁, 监察: 结转, 受理, 结案
            focused = app.focusWidget()
            QTest.keyClicks(focused, text)
            QTest.keyClick(focused, Qt.Key.Key_Return)
        written.append(_grab(app, window, out / f"clerk_entry_{name}.png"))
        codes = list(window.form.value_edits)
        names = {code: window.form.catalogue.display_name(code) for code in codes}
        plan = plan_paste("\t".join(["151000", "9", "80", "40", "35", "20", "19", "5"]), codes, names, codes[0])
        assert plan is not None
        dialog = PasteDialog(window, plan, names)
        dialog.show()
        written.append(_grab(app, dialog, out / f"clerk_paste_{name}.png"))
        dialog.close()
        base = BaseDialog(window, names[codes[0]], "东莞市人力资源和社会保障事业发展“十四五”规划", 2020, None)
        base.show()
        written.append(_grab(app, base, out / f"clerk_base_{name}.png"))
        base.close()
        for index, tab in ((1, "progress"), (2, "history")):
            window.tabs.setCurrentIndex(index)
            written.append(_grab(app, window, out / f"clerk_{tab}_{name}.png"))
        window.reload()
        window.close()
    return written


def plan_shots(app, folder: Path, out: Path) -> list[Path]:
    """A town under the signed sample plan: its preview before import, then 2026Q1's form; the city's split."""
    from PySide6.QtCore import QSize

    from actions.city import create_root, issue_identity
    from actions.database import open_store
    from actions.identity import import_identity
    from actions.plan_packages import plan_check, plan_import, plan_preview, plan_sample, trusted_roots
    from core.quarters import Quarter
    from gui.main_window import MainWindow
    from gui.plan_dialogs import PlanPreviewDialog

    folder.mkdir(parents=True, exist_ok=True)
    secret = b"screenshot-secret"
    root = create_root(folder, secret)
    town_p12 = issue_identity(root.key, secret, "道滘", folder / "道滘.p12", secret).file
    sample = plan_sample(root.key, secret, folder / "示例 2026-2030.plan", folder / "示例 分解表.xlsx")
    written = []
    with open_store(folder / "town.sqlite3") as store:
        store.bind_town("道滘")
        import_identity(store, town_p12, lambda: secret)
        width, height = SIZES[0][1]
        preview = PlanPreviewDialog(None, plan_preview(sample.out, trusted_roots(store), "道滘"), "导入此规划", "道滘")
        preview.show()
        written.append(_grab(app, preview, out / "plan_import_preview.png"))
        preview.close()
        plan_import(store, sample.out)
        window = MainWindow(store, initial_quarter=Quarter(2026, 1))
        window.show()
        window.resize(QSize(width, height))
        window.select_quarter(Quarter(2026, 1))
        written.append(_grab(app, window, out / "entry_sample_plan_1366x768.png"))
        window.tabs.setCurrentIndex(1)
        written.append(_grab(app, window, out / "progress_sample_plan_1366x768.png"))
        window.close()
    split = PlanPreviewDialog(None, plan_check(folder / "示例 分解表.xlsx").preview, "核对无误，签名…")
    split.show()
    split.resize(QSize(width - 100, height - 60))
    written.append(_grab(app, split, out / "plan_build_preview_1366x768.png"))
    split.close()
    return written


def city_shots(app, folder: Path, out: Path) -> list[Path]:
    from PySide6.QtCore import QSize

    from actions.city import demo_set
    from actions.database import open_store
    from core.quarters import Quarter
    from gui.city_window import CityWindow

    demo = demo_set(folder / "city_demo")
    written = []
    with open_store(folder / "city.sqlite3") as store:
        store.set_city_mode(demo.root.read_text(encoding="ascii"))
        window = CityWindow(store)
        window.show()
        window.quarter_box.setCurrentIndex(window.quarter_box.findData(Quarter(2025, 4).code))
        window.collect_folder(demo.returns)
        _wait_for(app, lambda: window.collection is not None)
        for size_name, (width, height) in SIZES:
            window.showNormal()
            window.resize(QSize(width, height))
            window.tabs.setCurrentIndex(0)
            written.append(_grab(app, window, out / f"city_collect_{size_name}.png"))
            window.tabs.setCurrentIndex(1)
            table = window.summary_table
            _settle(app)
            table.horizontalScrollBar().setValue(table.horizontalScrollBar().maximum() // 2)
            written.append(_grab(app, window, out / f"city_summary_{size_name}.png"))
            table.horizontalScrollBar().setValue(0)
        window.close()
    return written


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
