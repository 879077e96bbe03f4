"""The app's own CJK font, so Chinese renders on machines without one."""

from __future__ import annotations

import logging

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

from core.resources import resource_path

log = logging.getLogger(__name__)
FONT_FILE = ("fonts", "wqy-microhei.ttf")


def install_app_font(app: QApplication, point_size: int = 10) -> str:
    font_id = QFontDatabase.addApplicationFont(str(resource_path(*FONT_FILE)))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if not families:
        log.warning("could not load the bundled CJK font; falling back to the system font")
        return app.font().family()
    font = QFont(families[0], point_size)
    app.setFont(font)
    return families[0]
