"""A button that holds a list of files the user chose (the city's revocation lists, the plans a
verification trusts), remembered between sessions: the window's counterpart of a repeatable option
such as `--crl FILE`…"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

# Both windows keep the city's revocation lists under this key; a single file chosen by an earlier
# release ("city/crl") is read as a list of one.
CRL_KEY = "city/crls"
OLD_CRL_KEY = "city/crl"


class FileListButton(QPushButton):
    """Shows how many files are chosen; a click chooses again (several at once), 取消 uses none."""

    def __init__(
        self, label: str, key: str, title: str, file_filter: str, parent: QWidget | None = None, old_key: str = ""
    ):
        super().__init__(parent)
        self.label, self.key, self.title, self.file_filter = label, key, title, file_filter
        self.settings = QSettings()
        if old_key and self.settings.value(key) is None and self.settings.value(old_key, ""):
            self.settings.setValue(key, [str(self.settings.value(old_key))])
        self.clicked.connect(lambda: self.choose())
        self._show()

    @property
    def paths(self) -> list[Path]:
        value = self.settings.value(self.key, [])
        if isinstance(value, str):  # QSettings gives a one-item list back as a plain string on some platforms
            value = [value] if value else []
        items = value if isinstance(value, list | tuple) else []
        return [Path(str(v)) for v in items if str(v)]

    def set_paths(self, paths: list[Path]) -> None:
        self.settings.setValue(self.key, [str(p) for p in paths])
        self._show()

    def choose(self) -> list[Path]:
        start = str(self.paths[0].parent) if self.paths else ""
        chosen, _ = QFileDialog.getOpenFileNames(self, self.title, start, self.file_filter)
        self.set_paths([Path(p) for p in chosen])
        return self.paths

    def _show(self) -> None:
        paths = self.paths
        if not paths:
            self.setText(f"{self.label}…")
        elif len(paths) == 1:
            self.setText(f"{self.label}：{paths[0].name}")
        else:
            self.setText(f"{self.label}：{len(paths)} 个")
        self.setToolTip("\n".join(str(p) for p in paths) or self.toolTip())


def crl_button(parent: QWidget | None = None) -> FileListButton:
    """The city's revocation lists, shared by the city's window and the town's 核验季报签名."""
    button = FileListButton(
        "吊销列表",
        CRL_KEY,
        "选择市局吊销列表（可多选；取消则不使用）",
        "吊销列表 (*.crl *.pem)",
        parent,
        old_key=OLD_CRL_KEY,
    )
    button.setToolTip("市局吊销列表（市局的“吊销证书”写出的 .crl，可以选几个）：被吊销证书在吊销时间之后的签名一律无效")
    return button
