"""Issue 25 items 5 and 6 in one window, as a clerk does it without restarting: a quarter no imported plan
covers is refused an export (naming the plan to import); the plan is imported through 文件 → 导入规划; the
quarter is typed in, saved and exported signed; the files verify; and the printout of the submitted
quarter is the signed return itself, while a draft printout keeps its 草稿 mark."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from core.plan_package import sample_package
from core.quarters import Quarter
from gui.main_window import MainWindow
from gui.plan_dialogs import PlanPreviewDialog
from reports.plan_file import open_root, write_plan_file
from storage.store import Profile, Store
from tests.helpers import TODAY
from tests.pki import PASSPHRASE

SECRET = PASSPHRASE  # the session's identities (tests/pki.py)
Q = Quarter(2026, 1)  # the plan's first quarter: no earlier quarter of the year to fill first


@pytest.fixture(scope="module")
def city(tmp_path_factory, city_keys):
    """The session's city root and 莞城's identity (tests/pki.py); this module's plan, signed by that root."""
    base = tmp_path_factory.mktemp("市局 文件")
    root_pem, root_key, town_p12 = city_keys["city_cert"], city_keys["city_key"], city_keys["town_p12"]
    plan = replace(sample_package(), name="东莞市人社“十五五”规划（测试）", sample=False)
    plan_file = base / "十五五 规划.plan"
    write_plan_file(plan, open_root(root_key, SECRET), plan_file)
    return {"root": root_pem, "p12": town_p12, "plan": plan_file}


@pytest.fixture
def town(tmp_path, city):
    from actions.identity import import_identity

    store = Store(tmp_path / "镇街 数据库.sqlite3", today=lambda: TODAY)
    store.bind_town("莞城")
    store.set_profile(Profile("东莞市人力资源和社会保障局莞城分局", "张三", "王五", "李四", "0769-22001234"))
    import_identity(store, city["p12"], lambda: SECRET)
    yield store
    store.close()


def accept_when_shown(kind, qtbot):
    def check():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind):
            qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
        else:
            QTimer.singleShot(20, check)

    QTimer.singleShot(0, check)


def pdf_text(path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_import_a_plan_then_export_signed_and_print_in_one_window(app, qtbot, town, city, tmp_path, dialogs):
    window = MainWindow(town, initial_quarter=Q)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    out = tmp_path / "上报 文件夹"

    # No plan covers 2026: refused, naming the plan to import and where.
    dialogs.expect("2026—2030 年规划")
    qtbot.keyClick(window.form.value_edits["card_holders"], Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert "文件 → 导入规划" in dialogs.texts()[-1] and Q.label in dialogs.texts()[-1]
    assert town.quarter_status(Q).state == "draft"

    # 文件 → 导入规划…, shown and accepted.
    dialogs.expect("选择市局下发的规划文件", answer=(str(city["plan"]), ""))
    accept_when_shown(PlanPreviewDialog, qtbot)
    window.menus.plan_action.trigger()
    assert town.plan_for(Q) is not None

    # The quarter typed in with the keyboard, saved, exported signed — no restart.
    edits = list(window.form.value_edits.values())
    window.activateWindow()  # as the desktop does when the preview closes (offscreen has no window manager)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edits[0])  # the new plan's first figure
    for _ in edits:
        edit = QApplication.focusWidget()
        edit.selectAll()
        qtbot.keyClicks(edit, "100")
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    for note in window.form.explain_edits.values():
        if note.isVisible():
            note.setText("本季度按实际数填报，已核实")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "已保存" in window.save_state.text()

    # A draft printout first: it carries its 草稿 mark.
    draft = window.preview("pdf")
    assert draft is not None and "未签名 草稿" in pdf_text(draft.pdf_path)
    draft.close()

    dialogs.expect("请输入签名证书的口令", answer=(SECRET.decode(), True))
    task = window.export_return(folder=out)
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: window.export_box.isVisible())
    window.export_box.close()
    assert town.quarter_status(Q).state == "submitted"

    from actions.city import verify_files

    files = sorted(out.iterdir())
    assert len(files) == 3
    verdicts = verify_files(city["root"], [], files, plan_files=[city["plan"]])
    assert [v.valid for v in verdicts] == [True, True, True], [v.reason for v in verdicts]

    # The printout of the submitted quarter is the signed file: revision, signing time, holder; no 草稿.
    signed = window.preview("pdf")
    assert signed is not None
    assert signed.pdf_path == out / f"{Q.code}_莞城_季报.pdf"
    assert "已签名上报，第 1 版" in signed.windowTitle()
    text = pdf_text(signed.pdf_path)
    assert "未签名" not in text and "草稿" not in text
    from pypdf import PdfReader

    assert PdfReader(signed.pdf_path).get_fields()  # the signature field the city validates
    signed.close()

    # Attacked from outside: the signed file edited by another program is not printed as the return.
    pdf = out / f"{Q.code}_莞城_季报.pdf"
    data = bytearray(pdf.read_bytes())
    at = data.index(b"/Title")
    data[at + 8] ^= 1
    pdf.write_bytes(bytes(data))
    dialogs.expect("不能打印")
    assert window.preview("pdf") is None
    assert f"{pdf.name} 不是{Q.label}第 1 版已签名的季报" in dialogs.texts()[-1]
    # Moved away: the clerk is asked for the file, and a draft chosen instead is refused too.
    pdf.unlink()
    dialogs.expect("打印须用上报的签名文件", answer=(str(draft.pdf_path), ""))
    dialogs.expect("不能打印")
    assert window.preview("pdf") is None
