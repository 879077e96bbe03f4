"""Export a quarter's return: check it can be submitted, then write the workbook, the PDF and the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DomainError
from core.quarters import Quarter
from reports.files import (
    place_files,
    refuse_existing,
    remove_stale_temp_files,
    return_file_names,
    settle,
    stage_file,
)
from reports.payload import payload_of
from reports.returns import ReturnData

if TYPE_CHECKING:
    from reports.identity import Identity


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
        return {
            "exported": True,
            "signed": self.signed,
            "revision": self.revision,
            "files": [str(p) for p in self.paths],
        }


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
            raise ExportRefused(
                data.quarter, ["有一项说明太长，一页纸排不下；请把说明精简到 500 个字以内后再导出"]
            ) from exc
        raise
    return replace(result, staged=tuple(staged))
