"""The town's window as its own process, driven line by line over stdin, for tests that need the
window's process beside another (a read command, a kill).

Started as `python -m tests.window_process DB QUARTER` with QT_QPA_PLATFORM=offscreen. It opens the
window exactly as `main.py` does (skeleton, lock, quick read, store loaded behind) and answers:
  type CODE TEXT  select the figure's box, replace its text by keystrokes, press Ctrl+S; prints the
                  save indicator's text
  store           wait until the window holds the store; prints "store"
Each answer is one line. The test kills the process to end it (as a crash or a power loss would).
"""

from __future__ import annotations

import queue
import sys
import threading
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from core.quarters import Quarter
from gui.app import make_application, start_session


def main(db: Path, quarter_text: str) -> int:
    app = make_application()
    starting = start_session(db, Quarter.parse(quarter_text))
    sessions: list = []
    commands: queue.Queue[str] = queue.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            commands.put(line.rstrip("\n"))

    def answer(text: str) -> None:
        print(text, flush=True)

    def step() -> None:
        try:
            line = commands.get_nowait()
        except queue.Empty:
            return
        window = sessions[0].window
        words = line.split(" ", 2)
        if words[0] == "type":
            edit = window.form.value_edits[words[1]]
            edit.setFocus()
            edit.selectAll()
            QTest.keyClick(edit, Qt.Key.Key_Delete)
            QTest.keyClicks(edit, words[2])
            QTest.keyClick(edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
            answer(window.save_state.text())
        elif words[0] == "store":
            window.store  # noqa: B018 - waits for the store as a save would
            answer("store")

    def finish() -> None:
        session = starting.finish()
        if session is None:
            app.exit(1)
            return
        sessions.append(session)
        threading.Thread(target=read_stdin, daemon=True).start()
        poll = QTimer(app)
        poll.timeout.connect(step)
        poll.start(20)
        answer("ready")

    QTimer.singleShot(0, finish)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
