"""Print preview of a PDF the app wrote (the return or the summary), with the system's printers.

Pages are rasterised with pdfium (pypdfium2), so what is printed is exactly the PDF that was written.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtGui import QAction, QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPrintSupport import QPrinter, QPrintPreviewDialog, QPrintPreviewWidget
from PySide6.QtWidgets import QGraphicsView, QWidget

from core.errors import DomainError


class PrintError(DomainError):
    pass


class PdfPages:
    """A PDF's pages, rendered on demand at a printer's resolution."""

    def __init__(self, path: Path):
        import pypdfium2 as pdfium

        try:
            self._document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise PrintError(f"无法读取 {path.name} 以打印") from exc
        if len(self._document) == 0:
            raise PrintError(f"{path.name} 没有页面")

    def __len__(self) -> int:
        return len(self._document)

    def size(self, index: int) -> tuple[float, float]:
        return self._document[index].get_size()

    def image(self, index: int, dpi: float) -> QImage:
        bitmap = self._document[index].render(scale=dpi / 72, rev_byteorder=True)
        channels = bitmap.n_channels
        image_format = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
        image = QImage(bytes(bitmap.buffer), bitmap.width, bitmap.height, bitmap.stride, image_format)
        return image.copy()  # own the pixels; the bitmap's buffer goes away with it


def paint_pdf(pages: PdfPages, printer: QPrinter) -> int:
    """Render each page into the printer; returns the number of pages printed."""
    width, height = pages.size(0)
    orientation = QPageLayout.Orientation.Landscape if width > height else QPageLayout.Orientation.Portrait
    printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    printer.setPageOrientation(orientation)
    painter = QPainter()
    if not painter.begin(printer):
        raise PrintError("打印机无法开始打印")
    try:
        target = QRectF(painter.viewport())
        dpi = min(printer.resolution(), 200)
        for index in range(len(pages)):
            if index:
                printer.newPage()
            image = pages.image(index, dpi)
            scaled = image.size().scaled(target.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawImage(QRectF(target.topLeft(), QSizeF(scaled)), image)
        return len(pages)
    finally:
        painter.end()


def preview_pdf(parent: QWidget | None, path: Path, title: str) -> QPrintPreviewDialog:
    pages = PdfPages(path)
    dialog = QPrintPreviewDialog(parent)
    dialog.setWindowTitle(title)
    dialog.paintRequested.connect(lambda printer: paint_pdf(pages, printer))
    dialog.pages = pages  # type: ignore[attr-defined]  # kept alive as long as the dialog
    # Maximised and at fit-to-width: a landscape form is readable at once on a small laptop screen.
    dialog.setWindowState(dialog.windowState() | Qt.WindowState.WindowMaximized)
    widget = dialog.findChild(QPrintPreviewWidget)
    if widget is not None:
        widget.fitToWidth()
        for action in dialog.findChildren(QAction):
            if action.objectName() == "fitWidthAction" or action.text() in ("适应宽度", "Fit width"):
                action.setChecked(True)
        keep_page_top_until_the_user_scrolls(dialog, widget)
    return dialog


def keep_page_top_until_the_user_scrolls(dialog: QPrintPreviewDialog, widget: QPrintPreviewWidget) -> None:
    """Fit-to-width re-centres page 1 each time the preview is laid out again (when the pages are
    painted, when the dialog is maximised, which the window system may do late): go back to the top
    of page 1 each time, until the clerk scrolls for themselves."""
    view = dialog.findChild(QGraphicsView)
    if view is None:
        return
    bar = view.verticalScrollBar()

    def to_top() -> None:
        bar.setValue(bar.minimum())

    def stop() -> None:
        widget.previewChanged.disconnect(to_top)
        bar.actionTriggered.disconnect(on_action)

    def on_action(_action: int) -> None:
        stop()

    widget.previewChanged.connect(to_top)
    bar.actionTriggered.connect(on_action)


def show_page_top(dialog: QPrintPreviewDialog) -> None:
    """Scroll the preview to the top of page 1 (fit-to-width otherwise opens in the middle of the page)."""
    view = dialog.findChild(QGraphicsView)
    if view is not None:
        view.verticalScrollBar().setValue(view.verticalScrollBar().minimum())
