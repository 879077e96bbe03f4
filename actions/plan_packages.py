"""Plan packages: the city writes the template, builds and signs a package; a town imports and lists them."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.plan_package import KIND_NAMES, PackageKind, PlanPackage, shipped_package

if TYPE_CHECKING:
    from cryptography import x509

    from storage.store import Store


@dataclass(frozen=True)
class IndicatorLine:
    code: str
    name: str
    unit: str
    group: str
    kind: str  # flow / stock / count_pair
    kind_name: str
    city_target: str  # 全市 target as printed: "7,000", or "≥78%" for a count pair's rate


@dataclass(frozen=True)
class PlanSummary:
    """What a plan package holds, as a user is shown it."""

    id: str | None
    content_hash: str | None
    name: str
    first: str
    last: str
    period: str
    issuer: str
    form_number: str
    approval_number: str
    valid_until: str
    sample: bool
    origin: str  # built_in / signed / unsigned (a plan imported from a CSV before packages)
    indicators: tuple[IndicatorLine, ...]
    source: str = ""
    imported_at: str = ""
    signed_at: str = ""
    root_sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The summary as the command line prints it."""
        out = [
            f"{self.name}（{self.period}）",
            f"  规划编号：{self.id or '（无）'}",
            f"  内容哈希：{self.content_hash or '（无）'}",
            f"  发布单位：{self.issuer}；表号：{self.form_number or '（无）'}；批准文号：{self.approval_number or '（无）'}；"
            f"有效期至：{self.valid_until or '（无）'}",
            f"  来源：{ORIGIN_NAMES.get(self.origin, self.origin)}" + (f"（{self.source}）" if self.source else ""),
        ]
        if self.signed_at:
            out.append(f"  签名时间：{self.signed_at}；市局根证书 SHA-256 指纹：{self.root_sha256}")
        if self.sample:
            out.append("  注意：这是示例规划，目标不是正式目标")
        out.append(f"  指标 {len(self.indicators)} 项（全市目标）：")
        out += [f"    {i.name}（{i.kind_name}，{i.unit}）：{i.city_target}" for i in self.indicators]
        return out


ORIGIN_NAMES = {"built_in": "随软件提供", "signed": "市局签名下发", "unsigned": "旧版导入的分解表（未签名）"}


@dataclass(frozen=True)
class BuiltPlan:
    summary: PlanSummary
    out: Path


@dataclass(frozen=True)
class ImportedPlan:
    summary: PlanSummary
    imported: bool  # False: the same package was already imported, nothing changed


def summarize(package: PlanPackage, origin: str, **extra: str) -> PlanSummary:
    from core.plan_package import percent_text

    lines = []
    for item in package.indicators:
        if item.kind is PackageKind.COUNT_PAIR:
            rate = package.city.rates.get(item.rate_code, item.rate_target)
            target = f"{item.rate_name} ≥{percent_text(rate)}%" if rate is not None else "—"
        else:
            target = f"{package.city.targets[item.code]:,}"
        lines.append(
            IndicatorLine(item.code, item.name, item.unit, item.group, item.kind.value, KIND_NAMES[item.kind], target)
        )
    return PlanSummary(
        id=package.id,
        content_hash=package.content_hash,
        name=package.name,
        first=package.first.code,
        last=package.last.code,
        period=package.period_label,
        issuer=package.issuer,
        form_number=package.form_number,
        approval_number=package.approval_number,
        valid_until=package.valid_until,
        sample=package.sample,
        origin=origin,
        indicators=tuple(lines),
        **extra,
    )


def plan_template(out: Path, overwrite: bool = False) -> Path:
    from core.errors import DomainError
    from reports.plan_workbook import write_template

    if out.exists() and not overwrite:
        raise DomainError(f"{out} 已存在，未覆盖")
    return write_template(out)


def plan_build(workbook: Path, root_p12: Path, root_passphrase: bytes, out: Path, overwrite: bool = False) -> BuiltPlan:
    """Check the city's workbook and sign it with the city root into a .plan file."""
    from reports.plan_file import open_root, write_plan_file
    from reports.plan_workbook import read_workbook

    package = read_workbook(workbook)
    root = open_root(root_p12, root_passphrase)
    write_plan_file(package, root, out, overwrite=overwrite)
    return BuiltPlan(summarize(package, "signed", source=out.name), out)


def plan_sample(root_p12: Path, root_passphrase: bytes, out: Path, workbook: Path | None = None) -> BuiltPlan:
    """The 2026–2030 sample (示例（非正式目标）) signed with the city root, and its workbook if asked for."""
    from core.plan_package import sample_package
    from reports.plan_file import open_root, write_plan_file
    from reports.plan_workbook import write_workbook

    package = sample_package()
    write_plan_file(package, open_root(root_p12, root_passphrase), out, overwrite=True)
    if workbook is not None:
        write_workbook(workbook, package)
    return BuiltPlan(summarize(package, "signed", source=out.name), out)


def trusted_roots(store: Store) -> list[x509.Certificate]:
    """The root a package must be signed by: the one pinned at identity import, or the city database's."""
    from cryptography import x509

    from reports.plan_file import PlanPackageError

    pem = store.pinned_root() or store.trust_root_pem()
    if not pem:
        raise PlanPackageError(
            "此数据库还没有市局根证书，无法核验规划文件的签名：镇街请先导入市局签发的签名证书（identity import），"
            "市局请先设为市局汇总用（init --city --trust city_root.pem）"
        )
    return x509.load_pem_x509_certificates(pem.encode("ascii"))


def read_plan_package(path: Path, roots: list[x509.Certificate], now: dt.datetime | None = None) -> PlanSummary:
    """Verify a .plan file against `roots` and say what it holds, importing nothing."""
    from reports.plan_file import read_plan_file

    verified = read_plan_file(path, roots, now)
    return summarize(
        verified.package,
        "signed",
        source=path.name,
        signed_at=verified.signed_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        root_sha256=verified.root_fingerprint,
    )


def plan_import(store: Store, path: Path) -> ImportedPlan:
    """Verify a .plan file against the database's trusted root and record it; nothing is imported on refusal."""
    from reports.plan_file import read_plan_file

    verified = read_plan_file(path, trusted_roots(store))
    imported = store.import_plan_package(verified.package, source=path.name, signed_at=verified.signed_at)
    summary = summarize(
        verified.package,
        "signed",
        source=path.name,
        signed_at=verified.signed_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        root_sha256=verified.root_fingerprint,
    )
    return ImportedPlan(summary, imported)


def plan_list(store: Store) -> list[PlanSummary]:
    """Every plan the database knows, by period: the built-in one, imported packages, older CSV splits."""
    stored = {p.name: p for p in store.plan_packages()}
    shipped = shipped_package()
    summaries = []
    for plan in store.plans():
        row = stored.get(plan.name)
        if row is not None:
            package = store.plan_package(row.id)
            assert package is not None
            summaries.append(summarize(package, row.origin, source=row.source, imported_at=row.imported_at))
        elif plan.name == shipped.name and plan == shipped.to_plan():
            summaries.append(summarize(shipped, "built_in"))
        else:
            summaries.append(_legacy_summary(plan))
    return summaries


def _legacy_summary(plan: Any) -> PlanSummary:
    catalogue = plan.catalogue
    lines = tuple(
        IndicatorLine(code, catalogue.display_name(code), "", "", "", "", f"{plan.city.counts[code]:,}")
        for code in catalogue.planned_codes
        if code in plan.city.counts
    )
    return PlanSummary(
        None,
        None,
        plan.name,
        plan.first.code,
        plan.last.code,
        f"{plan.first.label}至{plan.last.label}",
        "",
        "",
        plan.approval_number,
        plan.valid_until,
        False,
        "unsigned",
        lines,
    )
