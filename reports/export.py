"""Export a quarter's return: check it can be submitted, then write the workbook, the PDF and the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import clock_moved, signed_after
from core.errors import DomainError
from core.quarters import Quarter
from core.validation import submission_blockers
from reports.files import (
    Placed,
    place_files,
    refuse_existing,
    remove_stale_temp_files,
    return_file_names,
    settle,
    stage_file,
)
from reports.payload import payload_of
from reports.returns import ReturnData, assemble_return

if TYPE_CHECKING:
    from reports.identity import Identity
    from storage.store import Store


class ExportRefused(DomainError):
    def __init__(self, quarter: Quarter, reasons: list[str]):
        self.quarter = quarter
        self.reasons = reasons
        super().__init__(f"{quarter.label}还不能导出上报：\n" + "\n".join(f"· {r}" for r in reasons))

    def as_dict(self) -> dict[str, object]:
        """The shape of `export --json` when the export is refused."""
        return {"exported": False, "reasons": self.reasons}


class ExportCancelled(DomainError):
    pass


class NoIdentity(DomainError):
    pass


@dataclass(frozen=True)
class ExportResult:
    workbook: Path
    pdf: Path
    summary: Path
    revision: int = 1
    signed: bool = False
    # A signed export's files wait under temp names (temp, place) until record_signed_export puts them
    # in place and records them, as one step that a restart completes or undoes (see recover_export).
    staged: tuple[tuple[Path, Path], ...] = field(default=(), compare=False, repr=False)

    @property
    def paths(self) -> list[Path]:
        return [self.workbook, self.pdf, self.summary]

    def as_dict(self) -> dict[str, object]:
        """The shape of `export --json` after an export."""
        return {"exported": True, "signed": self.signed, "revision": self.revision, "files": [str(p) for p in self.paths]}


def prepare_return(
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
            f"{quarter.label}尚未结束（{ends} 结束），季度结束后才能导出上报；季度中可以先录入、保存数据", *blockers
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


def reserve_for_signing(store: Store, data: ReturnData) -> ReturnData:
    """The prepared return as it will be signed: the pre-submission backup made, then its revision handed
    out (see Store.reserve_revision), both before any signed file exists — a failure leaves none.

    The revision is committed before any file is written, so a kill between the files and the record
    can never let other content reuse the number."""
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


def open_town_identity(store: Store, passphrase: bytes) -> Identity:
    from reports.identity import open_identity
    from reports.signing import check_can_sign

    identity = open_identity(stored_identity(store), passphrase, "本镇街的签名证书")
    check_can_sign(identity, store.require_town())
    return identity


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

    `prepared` is the return `prepare_return` made already (to refuse before asking for a passphrase).
    """
    data = prepared if prepared is not None else prepare_return(store, quarter, now)
    if identity is not None:
        data = reserve_for_signing(store, data)
    if identity is None:
        return write_return_files(data, out_dir, overwrite, step)
    result = stage_return_files(data, out_dir, overwrite, step, identity)
    return record_signed_export(store, data, result)


def record_signed_export(store: Store, data: ReturnData, result: ExportResult, now: datetime | None = None) -> ExportResult:
    """Put a signed export's staged files in place and record the quarter 已上报, as one step: the files
    and their fingerprints are noted in the database first, so a process killed half-way is completed
    or undone at the next start (recover_export); any failure here puts back the files they replaced
    and removes the new ones, and the quarter stays as it was."""
    staged = list(result.staged)
    try:
        moved = clock_moved(data.generated_at, now or datetime.now().astimezone())
        if moved:
            raise ExportRefused(data.quarter, [f"{moved}。本次生成的文件已删除，季度状态未变；请校正电脑时间后重新导出"])
        content = payload_of(data).content_hash()
        store.note_pending_export(data.quarter, data.revision, content, [(path, file_digest(temp)) for temp, path in staged])
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


def file_digest(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def planned_paths(data: ReturnData, out_dir: Path) -> ExportResult:
    names = return_file_names(data.quarter, data.town, data.revision)
    return ExportResult(
        out_dir / names["workbook"], out_dir / names["pdf"], out_dir / names["summary"], data.revision, data.signed
    )


def write_return_files(
    data: ReturnData,
    out_dir: Path,
    overwrite: bool = False,
    step: Callable[[str], bool] | None = None,
    identity: Identity | None = None,
    kinds: tuple[str, ...] = ("workbook", "pdf", "summary"),
) -> ExportResult:
    """Write the three files (or the `kinds` asked for) in place, or none: a clash, a failure or a
    cancel leaves the folder as it was. For drafts and files no database records; a town's signed
    export stages them (stage_return_files) and record_signed_export puts them in place."""
    result = stage_return_files(data, out_dir, overwrite, step, identity, kinds)
    settle(place_files(list(result.staged)), keep_new=True)
    return replace(result, staged=())


def stage_return_files(
    data: ReturnData,
    out_dir: Path,
    overwrite: bool = False,
    step: Callable[[str], bool] | None = None,
    identity: Identity | None = None,
    kinds: tuple[str, ...] = ("workbook", "pdf", "summary"),
) -> ExportResult:
    """The files written whole under temp names beside their places (ExportResult.staged), or none.

    `step` is told what is about to happen and returns False to cancel. Touches no database, so it
    can run off the GUI thread.
    """
    from reports.excel import write_workbook  # openpyxl, reportlab and pyHanko load only when exporting
    from reports.pdf import write_return_pdf, write_summary_pdf

    result = planned_paths(data, out_dir)
    wanted = [getattr(result, kind) for kind in kinds]
    if not overwrite:
        refuse_existing(wanted)
    payload = payload_of(data).to_bytes()
    sign: Callable[[bytes], str] | None = None
    if identity is not None:
        from reports.signing import sign_payload

        signer_identity = identity

        def sign(manifest: bytes) -> str:
            return sign_payload(signer_identity, manifest)

    def workbook(temp: Path) -> None:
        write_workbook(data, temp, payload, sign)

    def pdf(write: Callable[[ReturnData, Path], object], visible: bool) -> Callable[[Path], None]:
        def run(temp: Path) -> None:
            if identity is None:
                write(data, temp)
                return
            from reports.signing import sign_pdf

            unsigned = temp.with_name(temp.name + ".unsigned")
            try:
                slot = write(data, unsigned)
                box = getattr(slot, "box", None) if visible else None
                sign_pdf(unsigned, temp, identity, payload, box, getattr(slot, "page", None) or 0)
            finally:
                unsigned.unlink(missing_ok=True)

        return run

    jobs = (
        ("正在生成 Excel 季报", result.workbook, workbook),
        (
            "正在生成并签名 PDF 季报" if identity else "正在生成 PDF 季报",
            result.pdf,
            pdf(write_return_pdf, visible=True),
        ),
        ("正在生成摘要", result.summary, pdf(write_summary_pdf, visible=False)),
    )
    # Every file is written whole under a temp name first; only then are they renamed into place, so a
    # failure (a full USB stick) or a cancel leaves the folder as it was, earlier returns included.
    staged: list[tuple[Path, Path]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out_dir)
    try:
        for label, path, writer in jobs:
            if path not in wanted:
                continue
            if step is not None and not step(label):
                raise ExportCancelled("已取消导出，未留下任何文件")
            staged.append((stage_file(path, writer), path))
    except BaseException as exc:
        for temp, _path in staged:
            temp.unlink(missing_ok=True)
        from reportlab.platypus.doctemplate import LayoutError

        if isinstance(exc, LayoutError):  # a 说明 saved before the length limit, too long for a page
            raise ExportRefused(data.quarter, ["有一项说明太长，一页纸排不下；请把说明精简到 500 个字以内后再导出"]) from exc
        raise
    return replace(result, staged=tuple(staged))
