"""Issue 25 item 8: the return printed from the window has a 盖章 box an official seal (4.2 cm) fits in —
at least 4.5 × 4.5 cm, measured on the rendered page — and the sign-off is still on page 1, also for the
fullest return (ten rows, every 说明 long)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from core.demo import on_pace_history
from core.quarters import Quarter
from gui.main_window import MainWindow
from storage.store import Profile

Q = Quarter(2024, 3)
MM = 72 / 25.4  # points in a millimetre
SCALE = 4  # pixels a point when rendering


def seal_box_mm(path) -> tuple[float, float, int]:
    """The 盖章 box's width and height in mm on the page that carries the sign-off's （盖章）, and that page."""
    document = pdfium.PdfDocument(str(path))
    try:
        for number in range(len(document)):
            page = document[number]
            text = page.get_textpage()
            searcher = text.search("（盖章）")
            found = []
            while (hit := searcher.get_next()) is not None:
                first, last = text.get_charbox(hit[0]), text.get_charbox(hit[0] + hit[1] - 1)
                found.append((first[0], min(first[1], last[1]), last[2], max(first[3], last[3])))
            stamp_boxes = [box for box in found if box[1] < page.get_height() / 2]  # the sign-off, low on the page
            if not stamp_boxes:
                continue
            left, bottom, right, top = stamp_boxes[0]
            bitmap = page.render(scale=SCALE)
            width, height, stride, channels = bitmap.width, bitmap.height, bitmap.stride, bitmap.n_channels
            pixels = bytes(bitmap.buffer)

            def dark(x: int, y: int, pixels: bytes = pixels, stride: int = stride, channels: int = channels) -> bool:
                at = y * stride + x * channels
                return sum(pixels[at : at + 3]) < 3 * 200

            cx = int((left + right) / 2 * SCALE)
            cy = int((page.get_height() - (bottom + top) / 2) * SCALE)
            x0 = int(left * SCALE) - 3
            while x0 > 0 and not dark(x0, cy):
                x0 -= 1
            x1 = int(right * SCALE) + 3
            while x1 < width - 1 and not dark(x1, cy):
                x1 += 1
            y0 = int((page.get_height() - top) * SCALE) - 3
            while y0 > 0 and not dark(cx, y0):
                y0 -= 1
            y1 = int((page.get_height() - bottom) * SCALE) + 3
            while y1 < height - 1 and not dark(cx, y1):
                y1 += 1
            return (x1 - x0) / SCALE / MM, (y1 - y0) / SCALE / MM, number + 1
    finally:
        document.close()
    raise AssertionError("no （盖章） in the sign-off")


@pytest.fixture
def full_window(app, qtbot, store, dialogs):
    store.set_profile(Profile("东莞市人力资源和社会保障局莞城分局", "张三", "王五", "李四", "0769-22001234"))
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    window = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(window)
    window.show()
    return window


def test_the_printed_return_has_a_seal_box_a_seal_fits_and_the_sign_off_on_page_1(full_window):
    from pypdf import PdfReader

    dialog = full_window.preview("pdf")
    assert dialog is not None
    width, height, page = seal_box_mm(dialog.pdf_path)
    dialog.close()
    assert page == 1
    assert width >= 45 and height >= 45, (width, height)
    first = PdfReader(dialog.pdf_path).pages[0].extract_text()
    for name in ("单位负责人：张三", "统计负责人：王五", "填表人：李四", "报出日期"):
        assert name in first

