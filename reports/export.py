"""Export a quarter's return: check it can be submitted, then write the workbook, the PDF and the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.errors import DomainError
from core.quarters import Quarter
from core.validation import submission_blockers
from reports.files import refuse_existing, return_file_names, write_atomically
from reports.returns import ReturnData, assemble_return
from storage.store import Store


class ExportRefused(DomainError):
    def __init__(self, quarter: Quarter, reasons: list[str]):
        self.reasons = reasons
        super().__init__(f"{quarter.label}还不能导出上报：\n" + "\n".join(f"· {r}" for r in reasons))


class ExportCancelled(DomainError):
    pass


@dataclass(frozen=True)
class ExportResult:
    workbook: Path
    pdf: Path
    summary: Path

    @property
    def paths(self) -> list[Path]:
        return [self.workbook, self.pdf, self.summary]


def prepare_return(store: Store, quarter: Quarter, now: datetime | None = None, revision: int = 1) -> ReturnData:
    town = store.require_town()
    values = store.figures(quarter)
    findings = store.check(quarter)
    blockers = submission_blockers(findings, values)
    if blockers:
        raise ExportRefused(quarter, blockers)
    return assemble_return(
        town, quarter, store.plan_for(quarter), store.history(), store.explanations(quarter), findings,
        store.profile().__dict__, now or datetime.now().astimezone(), revision=revision,
    )


def export_return(
    store: Store,
    quarter: Quarter,
    out_dir: Path,
    overwrite: bool = False,
    step: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    return write_return_files(prepare_return(store, quarter, now), out_dir, overwrite, step)


def planned_paths(data: ReturnData, out_dir: Path) -> ExportResult:
    names = return_file_names(data.quarter, data.town, data.revision)
    return ExportResult(out_dir / names["workbook"], out_dir / names["pdf"], out_dir / names["summary"])


def write_return_files(
    data: ReturnData, out_dir: Path, overwrite: bool = False, step: Callable[[str], bool] | None = None
) -> ExportResult:
    """Write the three files, or none: a name clash, a failure or a cancel leaves nothing behind.

    `step` is told what is about to happen and returns False to cancel. Touches no database, so it
    can run off the GUI thread.
    """
    from reports.excel import write_workbook  # openpyxl and reportlab load only when exporting
    from reports.pdf import write_return_pdf, write_summary_pdf

    result = planned_paths(data, out_dir)
    if not overwrite:
        refuse_existing(result.paths)
    jobs = (
        ("正在生成 Excel 季报", result.workbook, write_workbook),
        ("正在生成 PDF 季报", result.pdf, write_return_pdf),
        ("正在生成摘要", result.summary, write_summary_pdf),
    )
    written: list[Path] = []
    try:
        for label, path, writer in jobs:
            if step is not None and not step(label):
                raise ExportCancelled("已取消导出，未留下任何文件")
            write_atomically(path, lambda temp, writer=writer: writer(data, temp))
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return result
