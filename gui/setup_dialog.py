"""First-run set-up (bind the database to a town) and the office profile settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from actions.database import PROFILE_LABELS
from core.errors import DomainError
from core.plans import TOWNS
from core.profile import SIGN_OFF_FIELDS
from core.text import hidden_character_problem
from gui import questions

if TYPE_CHECKING:
    from actions.database import Profile

REQUIRED_REASON = "* 单位负责人、统计负责人、填表人印在季报落款处，首次导出季报前必须填写。"
TOWN_PLACEHOLDER = "请选择镇街"


def unit_name_for(town: str) -> str:
    return f"东莞市人力资源和社会保障局{town}分局"


class SetupDialog(QDialog):
    """Choose the town (first run only) and fill in the profile printed on returns."""

    def __init__(self, town: str | None, profile: Profile, parent: QWidget | None = None):
        super().__init__(parent)
        first_run = town is None
        self.setWindowTitle("初次设置" if first_run else "单位信息设置")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        intro = (
            "请选择本数据库所属的镇街。选定后不能更改，每个镇街使用各自的数据库。"
            if first_run
            else "这些信息会印在季报的表头和落款处。"
        )
        hint = QLabel(intro)
        hint.setWordWrap(True)
        layout.addWidget(hint)
        form = QFormLayout()
        self.purpose = QComboBox()
        self.purpose.addItems(["镇街填报", "市局汇总"])
        self.purpose.setObjectName("purpose")
        self._root_pem: str | None = None
        if first_run:
            form.addRow("用途", self.purpose)
            self.purpose.currentIndexChanged.connect(self._on_purpose_changed)
        self.town_box = QComboBox()
        self.town_box.addItems(TOWNS)
        self.town_box.setObjectName("town")
        self.town_box.setPlaceholderText(TOWN_PLACEHOLDER)
        self.town_box.setCurrentIndex(-1)  # no town is preselected: binding is for ever
        if town is not None:
            self.town_box.setCurrentText(town)
            self.town_box.setEnabled(False)
        form.addRow("镇街 *" if first_run else "镇街", self.town_box)
        self.fields: dict[str, QLineEdit] = {}
        for name, label in PROFILE_LABELS.items():
            edit = QLineEdit(getattr(profile, name))
            edit.setObjectName(name)
            self.fields[name] = edit
            if name in SIGN_OFF_FIELDS:
                edit.setPlaceholderText("必填：印在季报落款处")
                form.addRow(f"{label} *", edit)
            else:
                form.addRow(label, edit)
        self._suggested_unit = ""
        if not profile.unit_name and town is None:
            self.fields["unit_name"].setPlaceholderText("选择镇街后自动填写，可修改")
            self.town_box.currentTextChanged.connect(self._suggest_unit_name)
        layout.addLayout(form)
        reason = QLabel(REQUIRED_REASON)
        reason.setObjectName("required_reason")
        reason.setWordWrap(True)
        reason.setStyleSheet("color: #555;")
        layout.addWidget(reason)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("确定")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _on_purpose_changed(self, index: int) -> None:
        city = index == 1
        self.town_box.setEnabled(not city)
        for edit in self.fields.values():
            edit.setEnabled(not city)
        if city and self._root_pem is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "选择受信任的市局根证书", "", "证书 (*.pem)")
            if chosen:
                self.set_city_root(Path(chosen))
            else:
                self.purpose.setCurrentIndex(0)

    def set_city_root(self, path: Path) -> None:
        from actions.city import trust_roots

        try:
            trust_roots(path)
        except DomainError as exc:
            QMessageBox.warning(self, "不是证书", exc.message)
            self.purpose.setCurrentIndex(0)
            return
        self._root_pem = path.read_text(encoding="ascii", errors="replace")
        self.purpose.setCurrentIndex(1)

    def city_root(self) -> str | None:
        """The trusted root's PEM when the database is for the city's side, else None."""
        return self._root_pem if self.purpose.currentIndex() == 1 else None

    def _suggest_unit_name(self, town: str) -> None:
        """Suggest the unit name for the town, unless the clerk has written one of their own."""
        edit = self.fields["unit_name"]
        if town and edit.text().strip() in ("", self._suggested_unit):
            self._suggested_unit = unit_name_for(town)
            edit.setText(self._suggested_unit)

    def accept(self) -> None:
        for name, edit in self.fields.items():  # the rule Store.set_profile keeps, told before binding
            problem = hidden_character_problem(edit.text(), PROFILE_LABELS[name], one_line=True)
            if problem is not None:
                QMessageBox.warning(self, "有看不见的字符", problem)
                edit.setFocus()
                return
        if self.town_box.isEnabled() and self.city_root() is None:
            town = self.town()
            if not town:
                QMessageBox.warning(self, "请选择镇街", "请先选择本数据库所属的镇街。")
                self.town_box.setFocus()
                return
            if not questions.confirm(self, "确认绑定镇街", f"绑定{town}后不能更改，确定？"):
                return
        super().accept()

    def town(self) -> str:
        return self.town_box.currentText()

    def profile(self) -> Profile:
        from actions.database import blank_profile

        return blank_profile(**{name: edit.text().strip() for name, edit in self.fields.items()})
