"""The return's PDFs rendered again from the signed payload alone (the verifier compares them byte for byte)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reports.payload import Payload


def rendered(payload: Payload, summary: bool) -> tuple[bytes, object]:
    """The unsigned PDF (the summary or the return) exactly as the exporter writes it, and the return's
    signature slot (where its stamp goes)."""
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
