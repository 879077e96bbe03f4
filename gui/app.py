"""Start-up of the window. Replaced by the full app in the GUI work; kept minimal here."""

from __future__ import annotations

import sys
from pathlib import Path


def run_app(db_path: Path | None, demo: bool = False) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv)
    label = QLabel("镇街人社指标填报系统")
    label.resize(480, 120)
    label.show()
    return app.exec()
