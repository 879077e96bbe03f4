"""Actions on a quarter's return (季报): prepare it, export it signed or as an unsigned draft (the
Excel workbook, the PDF and the one-page summary), preview it for printing.

The rules of an export live here, once, for both doors; `reports/` only writes and reads the files
from plain data. The command line exports in one call (`export_quarter`); the window runs the same
steps one by one, because it asks questions between them and writes the files off the GUI thread:
`prepare_export` → `refuse_wrong_clock` → (passphrase, shown with `signing_notice`) `open_identity` →
`reserve_for_signing` → `write_files` → `record_signed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import clock_moved, signed_after
from core.errors import DomainError
from core.validation import submission_blockers, year_gap_refusal
from reports.export import (
    ExportRefused,
    ExportResult,
    file_digest,
    planned_paths,
    stage_return_files,
    write_return_files,
)
from reports.files import Placed, place_files, remove_stale_temp_files, settle
from reports.payload import payload_of
from reports.returns import assemble_return

if TYPE_CHECKING:
    from core.quarters import Quarter
    from reports.identity import Identity as Identity
    from reports.returns import ReturnData as ReturnData
    from storage.store import Store

__all__ = ["ClockWrong", "ExportRefused", "ExportResult", "NoIdentity", "NoPlanForQuarter", "SignOffMissing"]


class NoIdentity(DomainError):
    """No signing identity imported: only a draft can be exported."""


class SignOffMissing(ExportRefused):
    """The profile lacks a name the signed return's sign-off prints; `missing` names them in words."""

    def __init__(self, quarter: Quarter, missing: list[str]):
        self.missing = missing
        super().__init__(quarter, [f"季报落款处须有{'、'.join(missing)}的姓名，缺少时季报会被市局退回"])


def missing_sign_off(store: Store) -> list[str]:
    """The sign-off names the profile still lacks for a signed export (both doors ask before signing)."""
    from core.profile import missing_sign_off as missing

    return missing(store.profile().__dict__)


def refuse_missing_sign_off(store: Store, quarter: Quarter) -> None:
    missing = missing_sign_off(store)
    if missing:
        raise SignOffMissing(quarter, missing)


class NoPlanForQuarter(ExportRefused):
    """A signed return of a quarter no imported plan covers: the city has set it no targets and refuses it."""

    def __init__(self, quarter: Quarter):
        first = 2021 + 5 * ((quarter.year - 2021) // 5)  # the city's plans run five years from 2021
        self.plan_years = (first, first + 4)
        super().__init__(
            quarter,
            [
                f"{quarter.label}不在任何已导入的规划期内，没有市局下发的目标，这一季的签名季报市局不会接收；"
                f"请先导入市局下发的 {first}—{first + 4} 年规划文件（.plan）。未签名草稿仍可导出"
            ],
        )


class NeedsReopening(ExportRefused):
    """A 需重新上报 quarter: what its last signed return printed has changed since, so signing it again
    would hand the city a second, different return under the same revision. It is reopened first
    (with its reason, in the audit trail), and the next export is the next revision."""

    def __init__(self, quarter: Quarter, stale_because: str, revision: int):
        self.next_revision = revision + 1
        super().__init__(
            quarter,
            [f"{quarter.label}需重新上报：{stale_because}。须先退回修改并写明原因，再导出第 {revision + 1} 版"],
        )


def refuse_stale(store: Store, quarter: Quarter) -> None:
    """Both doors, before the passphrase is asked: a 需重新上报 quarter is not signed again as it stands."""
    from core.submission import STALE

    status = store.quarter_status(quarter)
    if status.state == STALE:
        raise NeedsReopening(quarter, status.stale_because, status.revision or 0)


def refuse_no_plan(store: Store, quarter: Quarter) -> None:
    """Both doors: a quarter is signed only under a plan that covers it (a draft may be made without one)."""
    if store.plan_for(quarter) is None:
        raise NoPlanForQuarter(quarter)


def prepare_export(
    store: Store, quarter: Quarter, now: datetime | None = None, signed: bool = False, preview: bool = False
) -> ReturnData:
    """The return as it would be exported now, with the revision its content calls for.

    A quarter that has not ended cannot be exported; `preview` (printing a draft for the town's own
    leaders) can show it. `signed` reserves that revision for this content (see Store.reserve_revision).
    """
    town = store.require_town()
    values = store.figures(quarter)
    findings = store.check(quarter)
    blockers = submission_blockers(findings, values, store.catalogue_for(quarter))
    today = store.today()
    if quarter.last_day >= today and not preview:
        ends = f"{quarter.last_day:%Y-%m-%d}"
        blockers = [
            f"{quarter.label}尚未结束（{ends} 结束），季度结束后才能导出上报；季度中可以先录入、保存数据",
            *blockers,
        ]
    trail = store.verify_audit()
    if not trail.ok:
        blockers.append(f"修改记录校验未通过：{trail.message}。请联系市局，在查明之前不能上报")
    if blockers:
        raise ExportRefused(quarter, blockers)
    data = assemble_return(
        town,
        quarter,
        store.plan_for(quarter),
        store.history(),
        store.explanations(quarter),
        findings,
        store.profile().__dict__,
        now or datetime.now().astimezone(),
        signed=signed,
        bases=store.stock_bases(store.plan_for(quarter)),
    )
    if signed:
        return reserve_for_signing(store, data)
    return replace(data, revision=store.revision_for(quarter, payload_of(data).content_hash()))


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


def reserve_for_signing(store: Store, data: ReturnData) -> ReturnData:
    """The prepared return as it will be signed: the pre-submission backup made, then its revision handed
    out (see Store.reserve_revision), both before any signed file exists — a failure leaves none.

    The revision is committed before any file is written, so a kill between the files and the record
    can never let other content reuse the number."""
    refuse_missing_sign_off(store, data.quarter)
    refuse_no_plan(store, data.quarter)
    refuse_stale(store, data.quarter)
    gaps = year_gap_refusal(store.history(), data.quarter)  # issue 26: a draft names the gap, a signed return
    if gaps:  # never has one in its year
        raise ExportRefused(data.quarter, gaps)
    earlier = signed_after(datetime.now().astimezone(), store.last_export_time(data.quarter))
    if earlier:
        raise ExportRefused(data.quarter, [earlier])
    store.backup_before_submission()
    revision = store.reserve_revision(data.quarter, payload_of(data).content_hash())
    return replace(data, revision=revision, signed=True)


def stored_identity(store: Store) -> bytes:
    """The town's encrypted PKCS#12, or a refusal saying how to get one or go without."""
    p12 = store.identity_p12()
    if p12 is None:
        raise NoIdentity("尚未导入市局签发的签名证书（identity import），不能签名；如只需草稿请加 --unsigned")
    return p12


def open_identity(store: Store, passphrase: bytes) -> Identity:
    """The town's signing identity, opened with its passphrase and checked to sign for this town, on a
    clock that is not certainly wrong."""
    from reports.identity import open_identity as open_p12
    from reports.signing import check_can_sign

    refuse_wrong_clock(store)
    identity = open_p12(stored_identity(store), passphrase, "本镇街的签名证书")
    check_can_sign(identity, store.require_town())
    refuse_wrong_clock(store, identity.certificate.not_valid_before_utc)
    return identity


def has_identity(store: Store) -> bool:
    return store.identity_p12() is not None


def planned_files(data: ReturnData, folder: Path) -> list[Path]:
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
    if identity is None:
        return write_return_files(data, folder, overwrite, step)
    return stage_return_files(data, folder, overwrite, step, identity)


def record_signed(store: Store, data: ReturnData, result: ExportResult, now: datetime | None = None) -> ExportResult:
    """Put a signed export's staged files in place and record the quarter 已上报, as one step: the files
    and their fingerprints are noted in the database first, so a process killed half-way is completed
    or undone at the next start (recover_export); any failure here puts back the files they replaced
    and removes the new ones, and the quarter stays as it was."""
    staged = list(result.staged)
    try:
        moved = clock_moved(data.generated_at, now or datetime.now().astimezone())
        if moved:
            raise ExportRefused(
                data.quarter, [f"{moved}。本次生成的文件已删除，季度状态未变；请校正电脑时间后重新导出"]
            )
        content = payload_of(data).content_hash()
        store.note_pending_export(
            data.quarter, data.revision, content, [(path, file_digest(temp)) for temp, path in staged]
        )
    except BaseException:
        for temp, _path in staged:
            temp.unlink(missing_ok=True)
        raise
    placed: list[Placed] = []
    try:
        placed = place_files(staged)
        store.record_export(data.quarter, data.revision, content, [p.name for p in result.paths])
    except BaseException:
        settle(placed, keep_new=False)
        try:
            store.clear_pending_export()
        except Exception:  # noqa: BLE001 - the next start undoes it from the note (recover_export)
            pass
        raise
    settle(placed, keep_new=True)
    return replace(result, staged=())


def recover_export(store: Store) -> str | None:
    """A signed export the process did not finish (killed between its files and its record): completed
    when every file it noted is in place as written, else undone (its files removed, the ones they
    replaced put back). Says what was done, or None when nothing was pending."""
    pending = store.pending_export()
    if pending is None:
        return None
    quarter, revision, files = pending.quarter, pending.revision, pending.files
    label = f"{quarter.label}第 {revision} 版"
    folders = {path.parent for path, _digest in files}
    if not all(folder.is_dir() for folder in folders):
        store.clear_pending_export()
        return (
            f"上次导出{label}时程序中断，记下的文件夹 {'、'.join(map(str, sorted(folders)))} 找不到了"
            f"（被移走，或 U 盘已拔出）：未能补记，也未删除任何文件；{quarter.label}的状态未变。"
            f"那里如果有这一版的签名文件，它们未记为已上报，请重新导出（会是第 {revision + 1} 版）"
        )
    whole = all(path.is_file() and file_digest(path) == digest for path, digest in files)
    if whole:
        names = [path.name for path, _digest in files]
        store.record_export(quarter, revision, pending.content_hash, names, signed_at=pending.signed_at)
        for path, _digest in files:
            for previous in path.parent.glob(f".{path.name}.*.previous"):
                previous.unlink(missing_ok=True)
        return f"上次导出{label}时程序中断：三个签名文件都已写好，已补记为已上报"
    for path, digest in files:
        if path.is_file() and file_digest(path) == digest:
            path.unlink()
        for previous in sorted(path.parent.glob(f".{path.name}.*.previous")):
            if not path.exists():
                previous.replace(path)
            else:
                previous.unlink(missing_ok=True)
    for folder in folders:
        remove_stale_temp_files(folder)
    store.clear_pending_export()
    return f"上次导出{label}时程序中断：没写完的签名文件已删除（被替换的旧文件已放回），{quarter.label}的状态未变，请重新导出"


def export_return(
    store: Store,
    quarter: Quarter,
    out_dir: Path,
    overwrite: bool = False,
    step: Callable[[str], bool] | None = None,
    now: datetime | None = None,
    identity: Identity | None = None,
    prepared: ReturnData | None = None,
) -> ExportResult:
    """Export, signed with `identity` when one is given; a signed export is recorded with its revision.

    `prepared` is the return `prepare_export` made already (to refuse before asking for a passphrase).
    """
    data = prepared if prepared is not None else prepare_export(store, quarter, now)
    if identity is not None:
        data = reserve_for_signing(store, data)
    if identity is None:
        return write_return_files(data, out_dir, overwrite, step)
    result = stage_return_files(data, out_dir, overwrite, step, identity)
    return record_signed(store, data, result)


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

    quarter = Quarter.parse(quarter_text)
    if passphrase is None:
        return export_return(store, quarter, folder, overwrite=overwrite)
    stored_identity(store)
    refuse_wrong_clock(store, quarter=quarter)
    data = prepare_export(store, quarter)
    refuse_no_plan(store, quarter)
    refuse_missing_sign_off(store, quarter)
    identity = open_identity(store, passphrase())
    return export_return(store, quarter, folder, overwrite=overwrite, identity=identity, prepared=data)


def write_preview(data: ReturnData, which: str, path: Path) -> None:
    """A print preview's PDF: the return (`which` == "pdf") or the one-page summary."""
    from reports.pdf import write_return_pdf, write_summary_pdf

    (write_return_pdf if which == "pdf" else write_summary_pdf)(data, path)
