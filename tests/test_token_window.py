"""The window's side of a town key on a USB key: 文件 → 导入签名证书… offering the token, the PIN dialog at
a signed export (typed with pytest-qt), a wrong PIN told once, the renewal warning. SoftHSM2 as the token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from tests.test_token import LABEL, PIN, ROOT_PASS, Q, make_hsm, make_pki, pytestmark, town_store

__all__ = ["pytestmark"]  # SoftHSM2 installed, or every test here is skipped


def when_modal(kind: type, act: Callable[[object], None], seen: list[object], tries: int = 500) -> None:
    """Once a modal dialog of `kind` is up (it runs its own event loop), do `act` on it."""

    def poll(left: int = tries) -> None:
        widget = QApplication.activeModalWidget()
        if isinstance(widget, kind):
            seen.append(widget)
            act(widget)
        elif left:
            QTimer.singleShot(10, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)


@pytest.fixture
def token_setup(tmp_path, monkeypatch):
    from reports.identity import issue_for_request
    from reports.token import write_request

    hsm = make_hsm(tmp_path, monkeypatch)
    pki = make_pki(tmp_path)
    hsm.init_token()
    request = write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "莞城.csr", renew=False)
    certificate = tmp_path / "莞城.cert.pem"
    issue_for_request(pki / "city_root.p12", ROOT_PASS, request.path, certificate)
    store = town_store(tmp_path / "gc.sqlite3")
    yield hsm, pki, certificate, store
    store.close()


def open_window(qtbot, store):
    from gui.main_window import MainWindow

    win = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_import_the_token_from_the_file_menu_then_sign_with_the_pin_dialog(app, qtbot, token_setup, tmp_path, dialogs):
    from gui.token_dialogs import TOKEN_CHOICE, PinDialog, TokenImportDialog
    from reports.identity import load_trust_roots
    from reports.verify import Verifier

    hsm, pki, certificate, store = token_setup
    win = open_window(qtbot, store)

    dialogs.expect(TOKEN_CHOICE)  # 文件 → 导入签名证书… asks where the key is: on a USB key
    listed: list[str] = []

    def fill_in(dialog) -> None:
        assert dialog.root.isEnabled()  # nothing pinned yet: the city root is asked for
        dialog.module.setText(str(hsm.module))  # a path with Chinese in it: set, since keyClicks types ASCII only
        qtbot.mouseClick(dialog.refresh_button, Qt.MouseButton.LeftButton)
        listed.extend(dialog.tokens.itemText(i) for i in range(dialog.tokens.count()))
        dialog.certificate.setText(str(certificate))
        dialog.root.setText(str(pki / "city_root.pem"))
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

    seen: list[object] = []
    when_modal(TokenImportDialog, fill_in, seen)
    win.menus.identity_action.trigger()
    assert len(seen) == 1 and listed == [LABEL]
    assert "U 盾“莞城UKey”" in (store.identity_description() or "")
    assert "莞城UKey" in win.identity_box.text() and "PIN 码不会被记录" in win.identity_box.text()
    win.identity_box.close()

    notices: list[str] = []

    def type_pin(dialog) -> None:
        notices.append(dialog.notice.text())
        qtbot.keyClicks(dialog.pin, PIN)
        qtbot.keyClick(dialog.pin, Qt.Key.Key_Return)

    pins: list[object] = []
    when_modal(PinDialog, type_pin, pins)
    out = tmp_path / "上报"
    task = win.export_return(folder=out)
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    assert len(pins) == 1
    assert "本机日期：" in notices[0] and "U 盾“莞城UKey”的 PIN 码" in notices[0]
    files = sorted(out.iterdir())
    assert sorted(p.name for p in files) == ["2024Q3_莞城_季报.pdf", "2024Q3_莞城_季报.xlsx", "2024Q3_莞城_摘要.pdf"]
    verifier = Verifier(load_trust_roots(pki / "city_root.pem"))
    for path in files:
        verdict = verifier.verify(path)
        assert verdict.valid, verdict.reason
    assert store.last_revision(Q) == 1
    qtbot.waitUntil(lambda: win.export_box.isVisible())
    win.export_box.close()


def test_a_wrong_pin_in_the_window_is_told_once_and_not_asked_again(app, qtbot, token_setup, tmp_path, dialogs):
    from actions.identity import import_token_identity
    from gui.token_dialogs import PinDialog

    hsm, pki, certificate, store = token_setup
    import_token_identity(store, certificate, hsm.module, LABEL, pki / "city_root.pem")
    win = open_window(qtbot, store)

    def type_wrong_pin(dialog) -> None:
        qtbot.keyClicks(dialog.pin, "000000")
        qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)

    pins: list[object] = []
    when_modal(PinDialog, type_wrong_pin, pins)
    dialogs.expect("PIN 码不对")
    out = tmp_path / "上报"
    assert win.export_return(folder=out) is None
    qtbot.wait(300)  # time for a second PIN dialog, were one to come
    assert len(pins) == 1
    assert any("不会自动重试" in text for text in dialogs.texts())
    assert not out.exists()
    assert store.last_revision(Q) is None


def test_the_window_warns_from_thirty_days_before_the_certificate_expires(app, qtbot, tmp_path, monkeypatch):
    from actions.identity import import_token_identity
    from reports.identity import issue_for_request
    from reports.token import write_request

    hsm = make_hsm(tmp_path, monkeypatch)
    pki = make_pki(tmp_path)
    hsm.init_token()
    request = write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "a.csr", renew=False)
    issue_for_request(pki / "city_root.p12", ROOT_PASS, request.path, tmp_path / "a.pem", days=20)
    store = town_store(tmp_path / "gc.sqlite3")
    try:
        import_token_identity(store, tmp_path / "a.pem", hsm.module, LABEL, pki / "city_root.pem")
        win = open_window(qtbot, store)
        label = win.findChild(QLabel, "renewal_warning")
        assert label is not None and label.isVisible()
        assert "到期（还有 19 天）" in label.text() and "identity request --renew" in label.text()
    finally:
        store.close()


def test_no_warning_for_a_certificate_far_from_expiry(app, qtbot, token_setup):
    from actions.identity import import_token_identity

    hsm, pki, certificate, store = token_setup
    import_token_identity(store, certificate, hsm.module, LABEL, pki / "city_root.pem")
    win = open_window(qtbot, store)
    label = win.findChild(QLabel, "renewal_warning")
    assert label is None or not label.isVisible()


def test_an_expired_certificate_is_refused_in_the_window_before_any_pin(app, qtbot, token_setup, tmp_path, dialogs):
    """The record edited from outside to hold an expired certificate for the same key: the window says how to
    renew and never asks the PIN (a token counts wrong PINs)."""
    import datetime as dt
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from actions.identity import import_token_identity
    from gui.token_dialogs import PinDialog
    from reports.identity import load_p12, town_certificate

    hsm, pki, certificate, store = token_setup
    import_token_identity(store, certificate, hsm.module, LABEL, pki / "city_root.pem")
    root_key, root_cert, _ = load_p12((pki / "city_root.p12").read_bytes(), ROOT_PASS, "root")
    key = x509.load_pem_x509_certificate(certificate.read_bytes()).public_key()
    expired = town_certificate("莞城", key, root_key, root_cert, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), 30)
    record = json.loads(store.identity_p12() or b"{}")
    record["certificate"] = expired.public_bytes(serialization.Encoding.PEM).decode("ascii")
    store.set_identity(json.dumps(record, ensure_ascii=False).encode("utf-8"), "莞城（已过期）", None)
    win = open_window(qtbot, store)
    label = win.findChild(QLabel, "renewal_warning")
    assert label is not None and label.isVisible() and "已于 2020-01-31 过期" in label.text()

    pins: list[object] = []
    when_modal(PinDialog, lambda dialog: dialog.reject(), pins)
    dialogs.expect("identity request --renew")
    out = tmp_path / "上报"
    assert win.export_return(folder=out) is None
    qtbot.wait(200)
    assert pins == []
    assert any("签名证书已于 2020-01-31 过期" in text for text in dialogs.texts())
    assert not out.exists()
