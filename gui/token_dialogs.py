"""The window's side of a town key on a USB key (issue 28): the PIN asked at a signed export, 文件 →
导入签名证书… offering the token (its driver file, the token, the city's certificate), and the
renewal warning from 30 days before the certificate expires."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import DomainError
from gui.errors import show_error

if TYPE_CHECKING:
    from actions.database import Store

TOKEN_CHOICE = "U 盾（PKCS#11）…"
FILE_CHOICE = "证书文件（.p12）…"
MODULE_SETTING = "identity/pkcs11_module"


def signs_with_token(store: Store) -> bool:
    from actions.identity import identity_kind

    return identity_kind(store) == "pkcs11"


class PinDialog(QDialog):
    """The USB key's PIN, asked once per signed export; a wrong one is told and not asked again."""

    def __init__(self, parent: QWidget | None, notice: str, token_label: str):
        super().__init__(parent)
        self.setObjectName("pin_dialog")
        self.setWindowTitle("U 盾 PIN 码")
        layout = QVBoxLayout(self)
        self.notice = QLabel(
            f"{notice}\n\n请输入 U 盾“{token_label}”的 PIN 码：\n"
            "（PIN 码输错时软件不会自动重试；U 盾连续输错几次会被锁定）"
        )
        self.notice.setWordWrap(True)
        layout.addWidget(self.notice)
        self.pin = QLineEdit()
        self.pin.setObjectName("pin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        layout.addWidget(self.pin)
        buttons = QDialogButtonBox()
        self.sign_button = buttons.addButton("签名", QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_button.setDefault(True)
        buttons.addButton("取消", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def ask_pin(parent: QWidget, store: Store, notice: str) -> bytes | None:
    """The PIN for a signed export, or None (cancelled, or the certificate cannot sign: told why first,
    before any PIN is tried)."""
    from actions.identity import show_identity, signing_refusal

    refusal = signing_refusal(store)
    if refusal:
        show_error(parent, refusal, title="不能签名")
        return None
    token = show_identity(store).token or {}
    dialog = PinDialog(parent, notice, token.get("token_label", ""))
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.pin.text():
        return None
    return dialog.pin.text().encode("utf-8")


def choose_identity_source(parent: QWidget) -> str | None:
    """ "token" or "file" (a .p12), as the clerk chooses; None when cancelled."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "导入签名证书",
        "签名密钥在哪里？\n\n· U 盾：密钥在 U 盾里，不会离开 U 盾；导入市局为它签发的证书（.pem）\n"
        "· 证书文件：市局签发的口令保护的 .p12 文件",
        parent=parent,
    )
    token = box.addButton(TOKEN_CHOICE, QMessageBox.ButtonRole.AcceptRole)
    file = box.addButton(FILE_CHOICE, QMessageBox.ButtonRole.AcceptRole)
    box.addButton("取消", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "token" if clicked is token else "file" if clicked is file else None


class TokenImportDialog(QDialog):
    """Choose the USB key's driver file, the token it sees, the certificate the city issued (and, at the
    first import, the city root to pin)."""

    def __init__(self, parent: QWidget | None, needs_root: bool):
        super().__init__(parent)
        self.setObjectName("token_import")
        self.setWindowTitle("导入 U 盾的签名证书")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.module = QLineEdit(str(QSettings().value(MODULE_SETTING, "")))
        self.module.setObjectName("module")
        self.module.setPlaceholderText("U 盾厂商提供的 PKCS#11 驱动，如 C:\\Windows\\System32\\xxx_p11.dll")
        form.addRow("驱动文件：", self._with_button(self.module, "浏览…", self._choose_module))
        self.tokens = QComboBox()
        self.tokens.setObjectName("tokens")
        self.refresh_button = QPushButton("读取 U 盾")
        self.refresh_button.setObjectName("refresh")
        self.refresh_button.clicked.connect(self.refresh)
        row = QHBoxLayout()
        row.addWidget(self.tokens, 1)
        row.addWidget(self.refresh_button)
        holder = QWidget()
        holder.setLayout(row)
        form.addRow("U 盾：", holder)
        self.certificate = QLineEdit()
        self.certificate.setObjectName("certificate")
        form.addRow("市局签发的证书：", self._with_button(self.certificate, "浏览…", self._choose_certificate))
        self.root = QLineEdit()
        self.root.setObjectName("root")
        self.root.setEnabled(needs_root)
        self.root.setPlaceholderText("第一次导入时须选择 city_root.pem" if needs_root else "已固定市局根证书")
        form.addRow("市局根证书：", self._with_button(self.root, "浏览…", self._choose_root))
        layout.addLayout(form)
        self.message = QLabel("")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c62828;")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox()
        self.import_button = buttons.addButton("导入", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setObjectName("import")
        buttons.addButton("取消", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self._accept_if_complete)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if self.module.text():
            self.refresh()

    @staticmethod
    def _with_button(edit: QLineEdit, text: str, slot) -> QWidget:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(button)
        holder = QWidget()
        holder.setLayout(row)
        return holder

    def _choose_module(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "选择 U 盾的驱动文件", "", "PKCS#11 驱动 (*.dll *.so *.dylib);;所有文件 (*)"
        )
        if chosen:
            self.module.setText(chosen)
            self.refresh()

    def _choose_certificate(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "选择市局签发的证书", "", "证书 (*.pem *.cer *.crt);;所有文件 (*)"
        )
        if chosen:
            self.certificate.setText(chosen)

    def _choose_root(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "选择市局根证书", "", "根证书 (*.pem);;所有文件 (*)")
        if chosen:
            self.root.setText(chosen)

    def refresh(self) -> None:
        """List the tokens the driver sees now; say why when there are none."""
        from actions.identity import present_tokens

        self.tokens.clear()
        self.message.clear()
        text = self.module.text().strip()
        if not text:
            self.message.setText("请先选择 U 盾的驱动文件")
            return
        try:
            labels = present_tokens(Path(text))
        except DomainError as exc:
            self.message.setText(exc.message)
            return
        self.tokens.addItems(labels)
        if not labels:
            self.message.setText("驱动没有找到已初始化的 U 盾：请插好 U 盾后点“读取 U 盾”")

    def _accept_if_complete(self) -> None:
        missing = [
            name
            for name, ok in (
                ("驱动文件", bool(self.module.text().strip())),
                ("U 盾", bool(self.tokens.currentText())),
                ("市局签发的证书", bool(self.certificate.text().strip())),
            )
            if not ok
        ]
        if missing:
            self.message.setText(f"请选择{'、'.join(missing)}")
            return
        self.accept()


def import_token(window: QMainWindow, store: Store) -> bool:
    """文件 → 导入签名证书… → U 盾: the same checks as `identity import --cert --pkcs11-module --token-label`."""
    from actions.identity import import_token_identity

    dialog = TokenImportDialog(window, needs_root=store.pinned_root() is None)
    window.token_import_dialog = dialog  # type: ignore[attr-defined]  # tests reach it
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    module = Path(dialog.module.text().strip())
    root = Path(dialog.root.text().strip()) if dialog.root.isEnabled() and dialog.root.text().strip() else None
    try:
        imported = import_token_identity(
            store, Path(dialog.certificate.text().strip()), module, dialog.tokens.currentText(), root
        )
    except (DomainError, OSError) as exc:
        show_error(window, exc, title="导入失败")
        return False
    QSettings().setValue(MODULE_SETTING, str(module.resolve()))
    window.statusBar().showMessage(f"已导入签名证书：{imported.town}（U 盾）", 15000)
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "已导入签名证书",
        f"已导入{imported.town}的签名证书，密钥在 U 盾“{dialog.tokens.currentText()}”里；导出时输入 U 盾的 PIN 码"
        f"（PIN 码不会被记录）。\n\n市局根证书的指纹（SHA-256）：\n{imported.root_fingerprint}\n\n"
        "请与市局公布的指纹逐位核对；不一致时请不要用它签名上报，并联系市局。",
        parent=window,
    )
    box.setObjectName("identity_imported")
    window.identity_box = box  # type: ignore[attr-defined]
    box.open()
    show_renewal_warning(window, store)
    return True


def show_renewal_warning(window: QMainWindow, store: Store | None) -> None:
    """A lasting line in the status bar from 30 days before the signing certificate expires."""
    if store is None:
        return
    from actions.identity import show_identity

    label = window.findChild(QLabel, "renewal_warning")
    try:
        warning = show_identity(store).warning
    except DomainError:
        warning = None
    if label is None:
        if not warning:
            return
        label = QLabel()
        label.setObjectName("renewal_warning")
        label.setStyleSheet("QLabel { color: #7a3d00; background: #fff8e1; padding: 2px 6px; }")
        label.setWordWrap(True)
        window.statusBar().addPermanentWidget(label, 1)
    label.setText(warning or "")
    label.setToolTip(warning or "")
    label.setVisible(bool(warning))
