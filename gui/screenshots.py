"""Write PNGs of the entry form, the progress view and the history view from a demo database.

Usage: python -m gui.screenshots OUTDIR
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("用法：python -m gui.screenshots 输出文件夹", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import make_application, open_session
    from storage.demo import build_demo_database

    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.sqlite3"
        quarter = build_demo_database(db)
        session = open_session(db, quarter)
        if session is None:
            return 1
        window = session.window
        window.resize(1280, 860)
        window.show()
        # A warning and its 说明 box, as a clerk sees it while typing.
        window.form.value_edits["card_holders"].setText("157,900")
        app.processEvents()
        written = []
        for index, name in ((0, "entry_form.png"), (1, "progress_view.png"), (2, "history_view.png")):
            window.tabs.setCurrentIndex(index)
            app.processEvents()
            window.grab().save(str(out / name))
            written.append(out / name)
        window._load_quarter(quarter)  # drop the demonstration edit before closing
        window.close()
        session.close()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
