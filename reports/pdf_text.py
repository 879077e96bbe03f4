"""Does a signed PDF print what its payload says? Its text is compared, line by line, with the
text of the same return rendered again from the payload alone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reports.payload import Payload
from reports.returns import FORM_TITLE


def page_pixels(pdf: bytes, mode: str | None) -> list[bytes]:
    """Each page rendered small and grey, annotations left out (the signature stamp is one), in view or print mode."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            bitmap = page.render(
                scale=0.5, grayscale=True, draw_annots=False, may_draw_forms=False, optimize_mode=mode
            )
            pages.append(bytes(bitmap.buffer))
            bitmap.close()
            page.close()
        return pages
    finally:
        document.close()


def page_lines(pdf: bytes) -> list[list[str]]:
    """Each page's text lines (pdfium's reading of the page content), whitespace removed, empty lines dropped."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            lines = ["".join(line.split()) for line in text.splitlines()]
            pages.append([line for line in lines if line])
        return pages
    finally:
        document.close()


def _render(payload: Payload, summary: bool) -> bytes:
    return _render_with_slot(payload, summary)[0]


def _render_with_slot(payload: Payload, summary: bool) -> tuple[bytes, object]:
    from reports.pdf import write_return_pdf, write_summary_pdf

    data = payload.return_data()
    handle, name = tempfile.mkstemp(suffix=".pdf")
    os.close(handle)
    path = Path(name)
    try:
        slot = (write_summary_pdf if summary else write_return_pdf)(data, path)
        return path.read_bytes(), slot
    finally:
        path.unlink(missing_ok=True)


SIGNATURE_WIDGET_MOVED = "签名框的位置或大小与本系统生成的不同（签名外观可能遮盖了表中的数字）"
BOX_TOLERANCE = 0.01  # points


def widget_problem(widgets: list[tuple[int, tuple[float, ...]]], slot: object, summary: bool) -> str:
    """The one signature widget must be exactly the app's stamp box (the return) or zero-size (the summary)."""
    box = getattr(slot, "box", None)
    if summary or box is None:
        want: tuple[float, ...]
        want_page, want = 0, (0.0, 0.0, 0.0, 0.0)
    else:
        want_page, want = getattr(slot, "page", None) or 0, tuple(float(v) for v in box)
    if len(widgets) != 1:
        return SIGNATURE_WIDGET_MOVED
    page, rect = widgets[0]
    if len(rect) != 4:
        return SIGNATURE_WIDGET_MOVED
    x0, y0, x1, y1 = min(rect[0], rect[2]), min(rect[1], rect[3]), max(rect[0], rect[2]), max(rect[1], rect[3])
    if want == (0.0, 0.0, 0.0, 0.0):
        return "" if x1 - x0 <= BOX_TOLERANCE and y1 - y0 <= BOX_TOLERANCE else SIGNATURE_WIDGET_MOVED
    if page != want_page or any(abs(a - b) > BOX_TOLERANCE for a, b in zip((x0, y0, x1, y1), want, strict=True)):
        return SIGNATURE_WIDGET_MOVED
    return ""


def printed_mismatch(pdf: bytes, payload: Payload, widgets: list[tuple[int, tuple[float, ...]]] | None = None) -> str:
    """Empty when the PDF's text equals the return rendered from the payload; else the first row that differs."""
    actual = page_lines(pdf)
    head = actual[0][:4] if actual else []
    if "".join(FORM_TITLE.split()) in head:
        summary = False
    elif f"{payload.town}人社主要指标完成情况" in head:
        summary = True
    else:
        return f"第 1 页没有季报或摘要的标题（“{'／'.join(head)[:60]}”），不是本系统的季报或摘要"
    rendered, slot = _render_with_slot(payload, summary)
    if widgets is not None:
        moved = widget_problem(widgets, slot, summary)
        if moved:
            return moved
    expected = page_lines(rendered)
    names = [line.name for line in payload.return_data().figures] + [
        r.name for r in payload.return_data().rates
    ]
    for number, (want_page, got_page) in enumerate(zip(expected, actual, strict=False), start=1):
        for index in range(max(len(want_page), len(got_page))):
            want = want_page[index] if index < len(want_page) else ""
            got = got_page[index] if index < len(got_page) else ""
            if want != got:
                row = next((n for n in sorted(names, key=len, reverse=True) if "".join(n.split()) in want + got), None)
                where = f"“{row}”一行" if row else f"第 {number} 页第 {index + 1} 行"
                return f"{where}打印为“{got[:60]}”，签名数据为“{want[:60]}”"
    if len(expected) != len(actual):
        return f"PDF 有 {len(actual)} 页，签名数据应为 {len(expected)} 页"
    for mode, label in ((None, "显示"), ("print", "打印")):
        pairs = zip(page_pixels(rendered, mode), page_pixels(pdf, mode), strict=True)  # same page count, checked above
        for number, (want_pixels, got_pixels) in enumerate(pairs, start=1):
            if want_pixels != got_pixels:
                return f"第 {number} 页{label}的版面与签名数据不同（文字之外另有图形、遮盖或隐藏的文字）"
    return ""
