"""Actions on a quarter's return (季报): prepare it, export it signed or as an unsigned draft (the
Excel workbook, the PDF and the one-page summary), preview it for printing.

The command line exports in one call (`export_quarter`); the window runs the same steps one by one,
because it asks questions between them and writes the files off the GUI thread:
`prepare_export` → `refuse_wrong_clock` → (passphrase, shown with `signing_notice`) `open_identity` → `reserve_for_signing` → `write_files` → `record_signed`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DomainError
from reports.export import ExportRefused, ExportResult

if TYPE_CHECKING:
    from core.quarters import Quarter
    from reports.identity import Identity
    from reports.returns import ReturnData
    from storage.store import Store

__all__ = ["ClockWrong", "ExportRefused", "ExportResult"]


def prepare_export(store: Store, quarter: Quarter, preview: bool = False) -> ReturnData:
    """The return as it would be exported now, or ExportRefused with every reason it cannot be.

    `preview` (printing a draft for the town's own leaders) also accepts a quarter not yet ended.
    """
    from reports.export import prepare_return

    return prepare_return(store, quarter, preview=preview)


class ClockWrong(DomainError):
    """The PC's clock is certainly wrong (earlier than a time already recorded): no signing until corrected."""


def refuse_wrong_clock(store: Store, valid_from: datetime | None = None, quarter: Quarter | None = None) -> None:
    """Signing is refused while the clock is earlier than the database's latest recorded time (or the
    certificate's first valid day, or the quarter's last signed export); the sentence names both dates."""
    from core.clock import clock_problem, signed_after

    now = datetime.now().astimezone()
    problem = clock_problem(now, store.latest_recorded_time(), valid_from)
    if problem is None and quarter is not None:
        problem = signed_after(now, store.last_export_time(quarter))
    if problem:
        raise ClockWrong(f"{problem}。校正之前不能签名导出（可以导出未签名草稿）")


def signing_notice(quarter: Quarter) -> str:
    """The computer's date and the quarter's end in words, shown before a signed export signs."""
    from core.clock import signing_notice as notice

    return notice(datetime.now().astimezone(), quarter)


def open_identity(store: Store, passphrase: bytes) -> Identity:
    """The town's signing identity, opened with its passphrase and checked to sign for this town, on a
    clock that is not certainly wrong."""
    from reports.export import open_town_identity

    refuse_wrong_clock(store)
    identity = open_town_identity(store, passphrase)
    refuse_wrong_clock(store, identity.certificate.not_valid_before_utc)
    return identity


def has_identity(store: Store) -> bool:
    return store.identity_p12() is not None


def reserve_for_signing(store: Store, data: ReturnData) -> ReturnData:
    from reports.export import reserve_for_signing as reserve

    return reserve(store, data)


def planned_files(data: ReturnData, folder: Path) -> list[Path]:
    from reports.export import planned_paths

    return planned_paths(data, folder).paths


def write_files(
    data: ReturnData,
    folder: Path,
    overwrite: bool = False,
    step: Callable[[str], bool] | None = None,
    identity: Identity | None = None,
) -> ExportResult:
    """Write the three files, or none; touches no database, so it runs off the GUI thread. A signed
    export's files are written under temp names: `record_signed` puts them in place and records them."""
    from reports.export import stage_return_files, write_return_files

    if identity is None:
        return write_return_files(data, folder, overwrite, step)
    return stage_return_files(data, folder, overwrite, step, identity)


def record_signed(store: Store, data: ReturnData, result: ExportResult) -> ExportResult:
    """A signed export done: its files put in place and the quarter 已上报 with this revision, as one
    step (undone when it cannot be recorded; completed or undone at the next start if killed)."""
    from reports.export import record_signed_export

    return record_signed_export(store, data, result)


def recover_export(store: Store) -> str | None:
    """A signed export a killed process left half-done, completed or undone; what was done, or None."""
    from reports.export import recover_export as recover

    return recover(store)


def export_quarter(
    store: Store,
    quarter_text: str,
    folder: Path,
    passphrase: Callable[[], bytes] | None,
    overwrite: bool = False,
) -> ExportResult:
    """Export a quarter: signed with the town's identity, or an unsigned draft when `passphrase` is None.

    A signed export is refused (no identity, an unfinished quarter, errors) before the passphrase is
    asked; the return is prepared once.
    """
    from core.quarters import Quarter
    from reports.export import export_return, stored_identity

    quarter = Quarter.parse(quarter_text)
    if passphrase is None:
        return export_return(store, quarter, folder, overwrite=overwrite)
    stored_identity(store)
    refuse_wrong_clock(store, quarter=quarter)
    data = prepare_export(store, quarter)
    identity = open_identity(store, passphrase())
    return export_return(store, quarter, folder, overwrite=overwrite, identity=identity, prepared=data)


def write_preview(data: ReturnData, which: str, path: Path) -> None:
    """A print preview's PDF: the return (`which` == "pdf") or the one-page summary."""
    from reports.pdf import write_return_pdf, write_summary_pdf

    (write_return_pdf if which == "pdf" else write_summary_pdf)(data, path)
