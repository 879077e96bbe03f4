"""The clerk's window's imports of the city's files: the signing identity, a plan, receipts and
send-backs; and 核验季报签名."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.errors import DomainError
from gui import questions
from gui import receipts as round_trip
from gui.errors import show_error
from gui.token_dialogs import show_renewal_warning

if TYPE_CHECKING:
    from gui.verify_dialog import VerifyDialog
    from gui.window_database import WindowDatabase
    from gui.window_entry import FigureEntry
    from gui.window_frame import ClerkFrame


class Imports:
    """文件 → 导入签名证书 / 导入规划 / 导入市局回执, and 季报 → 核验季报签名."""

    def __init__(self, frame: ClerkFrame, database: WindowDatabase, entry: FigureEntry):
        self.frame, self.database, self.entry = frame, database, entry

    def import_identity(self, path: Path | None = None) -> bool:
        store = self.database.ready()
        if store is None:
            return False
        from actions.identity import IdentityCancelled, import_identity

        window = self.frame
        if path is None:
            from gui.token_dialogs import choose_identity_source, import_token

            source = choose_identity_source(window)
            if source != "file":
                return source == "token" and import_token(window, store)
            chosen, _ = QFileDialog.getOpenFileName(window, "选择市局签发的签名证书", "", "签名证书 (*.p12 *.pfx)")
            if not chosen:
                return False
            path = Path(chosen)
        chosen_path = path
        try:
            imported = import_identity(
                store, path, lambda: questions.ask_passphrase(window, f"请输入 {chosen_path.name} 的口令：")
            )
        except IdentityCancelled:
            return False
        except (DomainError, OSError) as exc:
            show_error(window, exc, title="导入失败")
            return False
        window.statusBar().showMessage(f"已导入签名证书：{imported.town}", 15000)
        show_renewal_warning(window, store)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "已导入签名证书",
            f"已导入{imported.town}的签名证书。\n\n市局根证书的指纹（SHA-256）：\n{imported.root_fingerprint}\n\n"
            "请与市局公布的指纹逐位核对；不一致时请不要用它签名上报，并联系市局。",
            parent=window,
        )
        box.setObjectName("identity_imported")
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        window.identity_box = box
        box.exec()
        return True

    def import_plan(self, path: Path | None = None) -> bool:
        """文件 → 导入规划: a signed .plan from the city, shown before it is recorded; as `plan import` does."""
        store = self.entry.settled()
        if store is None:
            return False
        from actions.plan_packages import plan_import, plan_preview, trusted_roots

        window = self.frame
        from actions.returns import has_identity

        if not has_identity(store):  # the city's root comes with the certificate: nothing to check a plan by
            show_error(
                window,
                "还没有导入市局签发的签名证书，无法核验规划文件是否由市局签名。"
                "请先用“文件 → 导入签名证书…”导入，再导入规划。",
                title="规划文件不能导入",
            )
            return False
        if path is None:
            path = questions.choose_file(
                window, window.settings, "plan/folder", "选择市局下发的规划文件", "规划文件 (*.plan)"
            )
            if path is None:
                return False
        try:
            preview = plan_preview(path, trusted_roots(store), window.town)
        except (DomainError, OSError) as exc:
            show_error(window, exc, title="规划文件不能导入")
            return False
        from gui.plan_dialogs import PlanPreviewDialog, run_modal

        if not run_modal(PlanPreviewDialog(window, preview, "导入此规划", town=window.town)):
            return False
        try:
            imported = plan_import(store, path)
        except (DomainError, OSError) as exc:
            show_error(window, exc, title="规划文件不能导入")
            return False
        self.entry.reload()
        QTimer.singleShot(0, window.focus_first_figure)  # once the preview has let go of the focus
        name = imported.summary.name
        window.statusBar().showMessage(
            (f"已导入规划：{name}" if imported.imported else f"此规划已导入过，未作改动：{name}"), 10000
        )
        return True

    def import_city_answers(self, paths: list[Path] | None = None) -> bool:
        """文件 → 导入市局回执: the city's receipts and send-backs (gui.receipts, as `receipt import`)."""
        store = self.entry.settled()
        if store is None:
            return False
        window = self.frame
        if paths is None:
            paths = round_trip.choose_files(window, str(window.settings.value("receipt/folder", str(Path.home()))))
            if not paths:
                return False
            window.settings.setValue("receipt/folder", str(paths[0].parent))
        results = round_trip.import_city_answers(window, store, paths)
        self.entry.reload()
        return any(r.imported for r in results)

    def open_verifier(self) -> VerifyDialog:
        from gui.verify_dialog import VerifyDialog

        dialog = VerifyDialog(self.frame, self.database.ready())
        dialog.show()
        return dialog
