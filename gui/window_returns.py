"""The clerk's window's returns: export (signed or a draft) and the print preview of a return."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.errors import DomainError
from core.quarters import Quarter
from gui import questions
from gui.errors import show_error
from gui.tasks import BackgroundTask

# Printing, verification and the return's files load when first used: the window paints without them.
if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrintPreviewDialog

    from actions.database import Store
    from actions.returns import ExportResult, Identity, ReturnData
    from gui.window_database import WindowDatabase
    from gui.window_entry import FigureEntry
    from gui.window_frame import ClerkFrame


class Returns:
    """季报 → 导出 and 打印预览, for the quarter the window shows."""

    def __init__(self, frame: ClerkFrame, database: WindowDatabase, entry: FigureEntry):
        self.frame, self.database, self.entry = frame, database, entry

    def export_return(self, folder: Path | None = None) -> BackgroundTask | None:
        store = self.entry.settled()
        if store is None:
            return None
        window, quarter = self.frame, self.entry.shown
        from actions.returns import (
            NeedsReopening,
            NoPlanForQuarter,
            has_identity,
            missing_sign_off,
            planned_files,
            prepare_export,
            record_signed,
            refuse_no_plan,
            refuse_stale,
            reserve_for_signing,
            write_files,
        )

        try:
            if has_identity(store):  # as `export` refuses a signed return no plan covers; a draft may be made
                refuse_no_plan(store, quarter)
                refuse_stale(store, quarter)
            data = prepare_export(store, quarter)  # refuse (unfinished quarter, errors) before the passphrase
        except NoPlanForQuarter as exc:
            show_error(window, f"{exc.message}\n请用“文件 → 导入规划…”导入该规划文件，再导出。", title="还不能导出")
            return None
        except NeedsReopening as exc:
            show_error(window, f"{exc.message}\n请用“季报 → 退回修改”写明原因后再导出。", title="还不能导出")
            return None
        except DomainError as exc:
            show_error(window, exc, title="还不能导出")
            return None

        if has_identity(store) and missing_sign_off(store):  # asked before the passphrase, as `export` refuses
            if not self.complete_sign_off(store):
                return None
            data = prepare_export(store, quarter)  # again, with the names the sign-off prints
        go_on, identity = self.signing_identity(store, quarter)
        if not go_on:
            return None
        try:
            if identity is not None:
                data = reserve_for_signing(store, data)
        except DomainError as exc:
            show_error(window, exc, title="还不能导出")
            return None
        if folder is None:
            start = str(window.settings.value("export/folder", str(Path.home())))
            chosen = QFileDialog.getExistingDirectory(window, "选择保存季报的文件夹", start)
            if not chosen:
                return None
            folder = Path(chosen)
            window.settings.setValue("export/folder", chosen)
        overwrite = False
        if any(p.exists() for p in planned_files(data, folder)):
            if not questions.confirm(
                window, "文件已存在", f"{folder} 中已有{data.quarter.label}的季报文件，要覆盖吗？"
            ):
                return None
            overwrite = True

        def exported(result: ExportResult) -> None:
            if identity is not None:
                try:
                    result = record_signed(self.database.store, data, result)
                except (DomainError, OSError) as exc:
                    show_error(window, exc, title="导出失败")
                    return
                finally:
                    self.entry.reload()
                self.remember_signed(data.quarter, {"pdf": result.pdf, "summary": result.summary})
            self.show_exported(result)

        task = BackgroundTask(
            window,
            "正在导出季报",
            lambda step: write_files(data, folder, overwrite, step, identity),
            exported,
            lambda error: show_error(window, error, title="导出失败"),
        )
        window.current_task = task
        task.start()
        return task

    def complete_sign_off(self, store: Store) -> bool:
        """Before the first export: the names the sign-off prints, asked for with the reason."""
        from actions.returns import missing_sign_off

        missing = "、".join(missing_sign_off(store))
        show_error(
            self.frame,
            f"季报落款处须有{missing}的姓名，缺少时季报会被退回。\n请在接下来的“单位信息设置”中填写。",
            title="请先填写单位信息",
        )
        if not self.database.edit_profile():
            return False
        still = missing_sign_off(store)
        if still:
            show_error(self.frame, f"仍缺少{'、'.join(still)}，未导出", title="不能导出")
            return False
        return True

    def signing_identity(self, store: Store, quarter: Quarter) -> tuple[bool, Identity | None]:
        """(go on, identity): a signed export asks for the passphrase; without an identity, a draft."""
        from actions.returns import has_identity, open_identity

        window = self.frame
        if not has_identity(store):
            draft = questions.confirm(
                window,
                "没有签名证书",
                "尚未导入市局签发的签名证书，只能导出“未签名 草稿”，不能作为正式季报上报。\n要导出草稿吗？",
            )
            return draft, None
        from actions.returns import refuse_wrong_clock, signing_notice

        try:
            refuse_wrong_clock(store, quarter=quarter)
        except DomainError as exc:
            show_error(window, exc, title="电脑时间不对")
            return False, None
        from gui.token_dialogs import ask_pin, signs_with_token

        if signs_with_token(store):  # the key is on a USB key: its PIN, tried once
            passphrase = ask_pin(window, store, signing_notice(quarter))
        else:
            passphrase = questions.ask_passphrase(window, f"{signing_notice(quarter)}\n\n请输入签名证书的口令：")
        if passphrase is None:
            return False, None
        try:
            return True, open_identity(store, passphrase)
        except DomainError as exc:
            show_error(window, exc, title="不能签名")
            return False, None

    def show_exported(self, result: ExportResult) -> QMessageBox:
        """The 导出完成 box: the files written and a button that opens their folder."""
        names = "\n".join(p.name for p in result.paths)
        if not result.signed:
            names += "\n（未签名 草稿）"
        folder = result.workbook.parent
        self.frame.statusBar().showMessage(f"已导出到 {folder}", 10000)
        box = QMessageBox(QMessageBox.Icon.Information, "导出完成", f"已在 {folder} 生成：\n{names}", parent=self.frame)
        box.setObjectName("export_done")
        open_button = box.addButton("打开所在文件夹", QMessageBox.ButtonRole.ActionRole)
        open_button.setObjectName("open_folder")
        box.addButton("确定", QMessageBox.ButtonRole.AcceptRole)
        open_button.clicked.connect(lambda: questions.open_folder(folder))
        self.frame.export_box = box
        box.open()
        return box

    # --- printing: the signed file of a submitted quarter, a draft of any other -----------------

    def signed_key(self, quarter: Quarter, which: str) -> str:
        return f"signed/{self.database.store.db_id()}/{quarter.code}/{which}"

    def remember_signed(self, quarter: Quarter, paths: dict[str, Path]) -> None:
        """Where this quarter's signed files were written, for printing them later."""
        for which, path in paths.items():
            self.frame.settings.setValue(self.signed_key(quarter, which), str(path))

    def signed_file(self, store: Store, data: ReturnData, which: str, revision: int) -> Path | None:
        """The signed PDF of a submitted quarter (where it was exported, or chosen by the clerk), checked
        to be this town's quarter and revision; None after telling the clerk why not."""
        from actions.returns import planned_files

        window, settings = self.frame, self.frame.settings
        label = f"{data.quarter.label}第 {revision} 版已签名的{'季报' if which == 'pdf' else '摘要'}"
        candidates = [Path(str(settings.value(self.signed_key(data.quarter, which), "")))]
        folder = Path(str(settings.value("export/folder", str(Path.home()))))
        planned = planned_files(data, folder)
        candidates.append(planned[1] if which == "pdf" else planned[2])
        path = next((p for p in candidates if str(p) not in ("", ".") and p.is_file()), None)
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                window, f"选择{label} PDF（打印须用上报的签名文件）", str(folder), "PDF 文件 (*.pdf)"
            )
            if not chosen:
                return None
            path = Path(chosen)
        from actions.city import verify_isolated_files
        from actions.plan_packages import trusted_roots

        try:
            verdict = verify_isolated_files([path], trusted_roots(store), None, plans=store.plans())[0]
        except DomainError as exc:
            show_error(window, exc, title="不能打印")
            return None
        wanted = (window.town, data.quarter.code, revision)
        if not verdict.valid or (verdict.town, verdict.quarter, verdict.revision) != wanted:
            why = (
                verdict.reason
                if not verdict.valid
                else f"它是{verdict.town} {verdict.quarter} 第 {verdict.revision} 版"
            )
            show_error(window, f"{path.name} 不是{label}：{why}", title="不能打印")
            return None
        self.remember_signed(data.quarter, {which: path})
        return path

    def preview(self, which: str) -> QPrintPreviewDialog | None:
        """打印预览: of a submitted quarter, the signed file itself (its revision, signing time and holder on
        it, no 草稿 mark); of any other quarter, a draft marked as such."""
        store = self.database.ready()
        if store is None:
            return None
        data = self.ready_return(store)
        if data is None:
            return None
        from actions.returns import write_preview
        from gui.printing import preview_pdf

        what = "季报" if which == "pdf" else "摘要"
        status = store.quarter_status(self.entry.shown)
        if status.locked:
            path = self.signed_file(store, data, which, status.revision or 1)
            if path is None:
                return None
            title = f"打印预览 — {data.town} {data.quarter.label}{what}（已签名上报，第 {status.revision} 版）"
        else:
            path = Path(tempfile.mkdtemp(prefix="town-returns-print-")) / (
                "return.pdf" if which == "pdf" else "summary.pdf"
            )
            title = f"打印预览 — {data.town} {data.quarter.label}{what}（未签名 草稿）"
        try:
            if not status.locked:
                write_preview(data, which, path)
            dialog = preview_pdf(self.frame, path, title)
        except DomainError as exc:
            show_error(self.frame, exc)
            return None
        dialog.pdf_path = path  # type: ignore[attr-defined]  # what is printed
        dialog.open()
        return dialog

    def ready_return(self, store: Store) -> ReturnData | None:
        """The quarter's return as saved for a print preview (an unfinished quarter too, as a draft), or None
        after telling the clerk why it cannot be made."""
        quarter = self.entry.shown
        if not self.entry.resolve_unsaved():
            return None
        from actions.returns import prepare_export

        try:
            return prepare_export(store, quarter, preview=True)
        except DomainError as exc:
            show_error(self.frame, exc, title="还不能导出")
            return None
