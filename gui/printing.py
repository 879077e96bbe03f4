"""Print preview of a PDF the app wrote (the return or the summary), with the system's printers."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrinter, QPrintPreviewDialog
from PySide6.QtWidgets import QWidget

from core.errors import DomainError


class PrintError(DomainError):
    pass


def load_pdf(path: Path) -> QPdfDocument:
    document = QPdfDocument()
    error = document.load(str(path))
    if error != QPdfDocument.Error.None_ or document.pageCount() == 0:
        raise PrintError(f"无法读取 {path.name} 以打印")
    return document


def paint_pdf(document: QPdfDocument, printer: QPrinter) -> int:
    """Render each page into the printer at its resolution; returns the number of pages printed."""
    first_size = document.pagePointSize(0)
    orientation = (
        QPageLayout.Orientation.Landscape
        if first_size.width() > first_size.height()
        else QPageLayout.Orientation.Portrait
    )
    printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    printer.setPageOrientation(orientation)
    painter = QPainter()
    if not painter.begin(printer):
        raise PrintError("打印机无法开始打印")
    try:
        target = QRectF(painter.viewport())
        dpi = min(printer.resolution(), 200)
        for page in range(document.pageCount()):
            if page:
                printer.newPage()
            size: QSizeF = document.pagePointSize(page)
            image: QImage = document.render(page, (size * dpi / 72).toSize())
            scaled = image.size().scaled(target.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawImage(QRectF(target.topLeft(), QSizeF(scaled)), image)
        return document.pageCount()
    finally:
        painter.end()


def preview_pdf(parent: QWidget | None, path: Path, title: str) -> QPrintPreviewDialog:
    document = load_pdf(path)
    dialog = QPrintPreviewDialog(parent)
    dialog.setWindowTitle(title)
    dialog.paintRequested.connect(lambda printer: paint_pdf(document, printer))
    dialog._document = document  # type: ignore[attr-defined]
    return dialog
