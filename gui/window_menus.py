"""The clerk's window's menus and their keyboard shortcuts."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QWidget


class WindowMenus(QObject):
    """文件 and 季报, built on the window's menu bar; the window connects each action to what it does.

    A menu shortcut wins over a text box's own use of its keys (Ctrl+E is a line edit's end of line):
    this object filters the application's events for the window."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        files = window.menuBar().addMenu("文件(&F)")
        self.save_action = QAction("保存(&S)", window)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        files.addAction(self.save_action)
        files.addSeparator()
        self.identity_action = self._add(files, "导入签名证书(&C)…")
        self.plan_action = self._add(files, "导入规划(&P)…")
        self.receipt_action = self._add(files, "导入市局回执(&R)…")  # receipts and send-backs (gui.receipts)
        files.addSeparator()
        self.backup_action = self._add(files, "备份(&B)…")
        self.restore_action = self._add(files, "从备份恢复(&R)…")
        files.addSeparator()
        self.profile_action = self._add(files, "单位信息设置(&U)…")
        self.about_action = self._add(files, "关于（版本、数据库位置）(&A)…")
        files.addSeparator()
        returns = window.menuBar().addMenu("季报(&R)")
        self.export_action = self._add(returns, "导出季报（Excel、PDF、摘要）…")
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.reopen_action = self._add(returns, "退回修改（解除锁定）…")
        returns.addSeparator()
        self.preview_return_action = self._add(returns, "打印预览：季报…")
        self.preview_summary_action = self._add(returns, "打印预览：一页摘要…")
        self.preview_summary_action.setShortcut(QKeySequence.StandardKey.Print)
        returns.addSeparator()
        self.verify_action = self._add(returns, "核验季报签名…")
        self.quit_action = QAction("退出(&Q)", window)
        # Quit has no standard key on Windows (Alt+F4 closes a window there): Ctrl+Q, as the menu shows it
        self.quit_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")])
        files.addSeparator()
        files.addAction(self.quit_action)
        window.addAction(self.save_action)
        for action in self.shortcut_actions():
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.installEventFilter(self)

    def _add(self, menu: QMenu, text: str) -> QAction:
        action = QAction(text, self.window)
        menu.addAction(action)
        return action

    def shortcut_actions(self) -> list[QAction]:
        """The window's actions that have a keyboard shortcut, its menus' and its own."""
        actions = [*self.window.actions()]
        for menu in self.window.menuBar().findChildren(QMenu):
            actions += menu.actions()
        return [a for a in dict.fromkeys(actions) if not a.shortcut().isEmpty()]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and isinstance(watched, QWidget)
            and watched.window() is self.window
        ):
            pressed = QKeySequence(event.keyCombination())
            if any(action.shortcut() == pressed for action in self.shortcut_actions()):
                event.ignore()  # not claimed by the box: the menu's shortcut runs
                return True
        return super().eventFilter(watched, event)
