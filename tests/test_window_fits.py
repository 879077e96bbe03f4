"""Issue 25 item 4: the clerk's window fits the laptops towns have — 1366×768 at 100 %, 125 % and 150 %
display scaling and 1920×1080 at 150 % — with a long 需重新上报 banner, on every tab and in its dialogs;
the focused figure is scrolled into view and clicking a warning scrolls to its cell.

Each screen is a real Qt screen of that size and scale: the window runs in its own process on Qt's
offscreen platform given the screen's geometry (`offscreen:configfile=`) and QT_SCALE_FACTOR, and prints
what it measured as JSON. The screen is the client area a maximised window gets (taskbar and title bar
taken off, as gui/screenshots.py does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

SCREENS = (
    ("1366x768@100%", 1366, 698, "1"),
    ("1366x768@125%", 1366, 698, "1.25"),
    ("1366x768@150%", 1366, 698, "1.5"),
    ("1920x1080@150%", 1920, 1010, "1.5"),
)


def measure(db: Path) -> dict:
    """In the child: open the window on a stale quarter, walk it, and say what fits."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDialog

    from core.demo import on_pace_history
    from core.quarters import Quarter
    from gui.app import make_application
    from gui.clerk_dialogs import BaseDialog, PasteDialog, ReasonDialog, plan_paste
    from gui.main_window import MainWindow
    from gui.setup_dialog import SetupDialog
    from storage.store import Profile, Store
    from tests.helpers import TODAY

    app = make_application()
    quarter = Quarter(2024, 3)
    store = Store(db, today=lambda: TODAY)
    store.bind_town("莞城")
    store.set_profile(Profile(unit_name="东莞市人力资源和社会保障局莞城分局", preparer="李四"))
    history = on_pace_history(last=quarter)
    for q, values in history.items():
        store.save_quarter(q, values)
    store.reserve_revision(quarter, "a" * 64)
    store.record_export(quarter, 1, "a" * 64, ["2024Q3_莞城_季报.pdf"])
    first = Quarter(2024, 1)
    store.save_quarter(first, dict(history[first], yuecai_certified=history[first]["yuecai_certified"] + 3))
    window = MainWindow(store, initial_quarter=quarter)
    window.show()
    QTest.qWaitForWindowExposed(window)
    window.activateWindow()  # no window manager under Xvfb to do it
    QTest.qWaitForWindowActive(window)
    available = window.screen().availableGeometry()
    out: dict = {"available": [available.width(), available.height()], "tabs": {}, "dialogs": {}}
    out["banner"] = [window.lock_banner.isVisible(), window.lock_banner.text()[:20], window.lock_banner.height()]
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        app.processEvents()
        hint, frame = window.minimumSizeHint(), window.frameGeometry()
        out["tabs"][window.tabs.tabText(index)] = {
            "minimum": [hint.width(), hint.height()],
            "frame": [frame.width(), frame.height()],
        }
    window.tabs.setCurrentIndex(0)
    window.reload()  # a draft quarter to type in
    window.select_quarter(Quarter(2024, 2))
    app.processEvents()
    edits = list(window.form.value_edits.values())
    edits[0].setFocus()
    hidden = []
    viewport = window.entry_scroll.viewport()
    for _ in edits:  # Enter down the column: each focused figure is on screen
        app.processEvents()
        focused = QApplication.focusWidget()
        assert focused is not None
        top_left = focused.mapTo(viewport, QPoint(0, 0))
        if top_left.y() < 0 or top_left.y() + focused.height() > viewport.height():
            hidden.append(focused.objectName())
        QTest.keyClick(focused, Qt.Key.Key_Return)
    out["hidden_while_entering"] = hidden
    # clicking a warning far down the form brings its cell into view
    window.entry_scroll.verticalScrollBar().setValue(0)
    edits[-1].setFocus()
    edits[-1].selectAll()
    QTest.keyClicks(edits[-1], "9999")  # more closed than due: an error on the last figure
    QTest.keyClick(edits[-1], Qt.Key.Key_Tab)
    window.entry_scroll.verticalScrollBar().setValue(0)
    window.form.value_edits["card_holders"].setFocus()
    app.processEvents()
    items = [window.findings_list.item(i) for i in range(window.findings_list.count())]
    last = [i for i in items if i.data(Qt.ItemDataRole.UserRole) == "inspection_closed"]
    clicked = {}
    if last:
        rect = window.findings_list.visualItemRect(last[0])
        QTest.mouseClick(window.findings_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        app.processEvents()
        focused = QApplication.focusWidget()
        assert focused is not None
        top_left = focused.mapTo(viewport, QPoint(0, 0))
        clicked = {
            "focused": focused.objectName(),
            "visible": 0 <= top_left.y() and top_left.y() + focused.height() <= viewport.height(),
        }
    out["clicked_warning"] = clicked
    plan = plan_paste("1\t2\t3", list(window.form.value_edits), {c: c for c in window.form.value_edits}, "card_holders")
    assert plan is not None
    dialogs: list[tuple[str, QDialog]] = [
        ("base", BaseDialog(window, "社会保障卡持卡人数（季末数）", "东莞市人社“十四五”规划", 2020, None)),
        ("reason", ReasonDialog(window, quarter.label)),
        ("paste", PasteDialog(window, plan, {c: c for c in window.form.value_edits})),
        ("profile", SetupDialog("莞城", store.profile(), window)),
    ]
    for name, dialog in dialogs:
        dialog.show()
        app.processEvents()
        frame = dialog.frameGeometry()
        out["dialogs"][name] = {
            "minimum": [dialog.minimumSizeHint().width(), dialog.minimumSizeHint().height()],
            "frame": [frame.width(), frame.height()],
        }
        dialog.close()
    window.reload()  # the typed 9999 dropped: closing asks nothing
    window.close()
    store.close()
    return out


@pytest.mark.parametrize(("name", "width", "height", "scale"), SCREENS, ids=[s[0] for s in SCREENS])
def test_the_window_fits_the_screen(tmp_path, name, width, height, scale):
    config = tmp_path / "screen.json"
    screen = {"name": name, "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96, "logicalBaseDpi": 96}
    config.write_text(json.dumps({"screens": [screen]}), encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}", QT_SCALE_FACTOR=scale)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    done = subprocess.run(
        [sys.executable, "-m", "tests.test_window_fits", str(tmp_path / "镇街 数据库.sqlite3")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    room_w, room_h = found["available"]
    assert abs(room_w - width / float(scale)) < 1 and abs(room_h - height / float(scale)) < 1
    room_w, room_h = room_w + 1, room_h + 1  # a maximised window rounds its device pixels up to the next point
    assert found["banner"][0] and found["banner"][1].startswith("2024年第3季度需重新上报")
    for tab, sizes in found["tabs"].items():
        assert sizes["minimum"][0] <= room_w and sizes["minimum"][1] <= room_h, (tab, sizes, found["available"])
        assert sizes["frame"][0] <= room_w and sizes["frame"][1] <= room_h, (tab, sizes, found["available"])
    for dialog, sizes in found["dialogs"].items():
        assert sizes["frame"][0] <= room_w and sizes["frame"][1] <= room_h, (dialog, sizes, found["available"])
    assert found["hidden_while_entering"] == []
    assert found["clicked_warning"] == {"focused": "inspection_closed", "visible": True}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1])), ensure_ascii=False))
