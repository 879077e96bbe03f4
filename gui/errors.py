"""The one place the window shows an error to the user."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import DomainError, os_reason

log = logging.getLogger(__name__)


def show_error(parent: QWidget | None, error: BaseException | str, title: str = "出错了") -> None:
    if isinstance(error, DomainError):
        text = error.message
    elif isinstance(error, OSError):
        text = f"文件操作失败：{os_reason(error)}" + (f"（{error.filename}）" if error.filename else "")
        log.warning("file error: %s", error)
    elif isinstance(error, str):
        text = error
    else:
        log.exception("unexpected error", exc_info=error)
        text = f"程序内部错误：{error}\n详情已写入日志。"
    QMessageBox.warning(parent, title, text)
