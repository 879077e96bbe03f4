"""Plan packages: the city writes the template, builds and signs a package; a town imports and lists them."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.plan_package import KIND_NAMES, PackageIndicator, PackageKind, PlanPackage, TownSplit, shipped_package
from reports.plan_workbook import PlanWorkbookError as PlanWorkbookError  # `plan build` lists its faults

if TYPE_CHECKING:
    from cryptography import x509

    from reports.plan_file import VerifiedPlan
    from storage.store import Store


@dataclass(frozen=True)
class IndicatorLine:
    code: str
    name: str
    unit: str
    group: str
    kind: str  # flow / stock / count_pair
    kind_name: str
    city_target: str  # 全市 target as printed: "7,000", or "调解成功率 78%以上（含本数）" for a count pair's rate


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
    approval_authority: str = ""  # 批准机关 (issue 26)
    definitions: tuple[tuple[str, str], ...] = ()  # the 指标解释 page: (indicator, definition)
    stock_jump_bound: str = ""  # the 季末数跳变警戒线 as printed (30%, the default, when the plan gives none)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The summary as the command line prints it."""
        out = [
            f"{self.name}（{self.period}）",
            f"  规划编号：{self.id or '（无）'}",
            f"  内容哈希：{self.content_hash or '（无）'}",
            f"  发布单位：{self.issuer}；表号：{self.form_number or '（无）'}；批准文号：{self.approval_number or '（无）'}；"
            f"批准机关：{self.approval_authority or '（无）'}；有效期至：{self.valid_until or '（无）'}",
            f"  来源：{ORIGIN_NAMES.get(self.origin, self.origin)}" + (f"（{self.source}）" if self.source else ""),
            f"  季末数跳变警戒线：比上季度增减超过 {self.stock_jump_bound} 须写说明",
        ]
        if self.signed_at:
            out.append(f"  签名时间：{self.signed_at}；市局根证书 SHA-256 指纹：{self.root_sha256}")
        if self.sample:
            out.append("  注意：这是示例规划，目标不是正式目标")
        out.append(f"  指标 {len(self.indicators)} 项（全市目标）：")
        out += [f"    {i.name}（{i.kind_name}，{i.unit}）：{i.city_target}" for i in self.indicators]
        if self.definitions:
            out.append(f"  指标解释 {len(self.definitions)} 项（印在季报和汇总表的最后一页）：")
            out += [f"    {name}：{text}" for name, text in self.definitions]
        else:
            out.append("  指标解释：规划未给出")
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
    town: str | None = None  # the database's town, whose own targets follow
    town_targets: tuple[tuple[str, str], ...] = ()  # (indicator name, the town's target as printed)
    unlisted: tuple[str, ...] = ()  # quarters with figures under codes the plan does not list, as shown

    def lines(self) -> list[str]:
        """What the command line prints after the import: the package, the town's own targets, leftovers."""
        out = self.summary.lines()
        if self.town_targets:
            out.append(f"  {self.town}的目标：")
            out += [f"    {name}：{target}" for name, target in self.town_targets]
        out += [f"  注意：{line}" for line in self.unlisted]
        return out


@dataclass(frozen=True)
class SplitTable:
    """A package's split as the window shows it: one column per figure or rate, the 33 towns, their sum and 全市."""

    headers: tuple[str, ...]  # after the 镇街 column
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (town, cells), towns in order, then 镇街合计 and 全市


@dataclass(frozen=True)
class PlanPreview:
    """What a package holds, with one town's own targets (a town's import) or the whole split (the city's build)."""

    summary: PlanSummary
    town_targets: dict[str, str]  # indicator code -> the town's target as printed; empty without a town
    split: SplitTable


@dataclass(frozen=True)
class CheckedWorkbook:
    """The city's filled workbook, checked and not yet signed (the window shows it before asking for the root)."""

    package: PlanPackage
    preview: PlanPreview
    workbook: Path


def target_text(item: PackageIndicator, split: TownSplit) -> str:
    """A target as printed: "7,000" for a flow or a stock, "调解成功率 78%以上（含本数）" for a count pair's
    rate, as the plan writes it and the return prints it (issue 26 item 7)."""
    from core.progress import target_words

    if item.kind is PackageKind.COUNT_PAIR:
        rate = split.rates.get(item.rate_code, item.rate_target)
        return f"{item.rate_name} {target_words(rate)}" if rate is not None else "—"
    return f"{split.targets[item.code]:,}" if item.code in split.targets else "—"


def split_table(package: PlanPackage) -> SplitTable:
    from core.progress import target_words

    headers: list[str] = []
    for item in package.indicators:
        if item.kind is PackageKind.COUNT_PAIR:
            headers.append(f"{item.rate_name}目标")
        else:
            headers.append(f"{item.name}（{item.unit}）")
            if item.kind is PackageKind.STOCK:
                headers.append(f"{item.name}基期数（{item.unit}）")

    def cells(split: TownSplit) -> tuple[str, ...]:
        out: list[str] = []
        for item in package.indicators:
            if item.kind is PackageKind.COUNT_PAIR:
                rate = split.rates.get(item.rate_code, item.rate_target)
                out.append("—" if rate is None else target_words(rate))
            else:
                out.append(f"{split.targets[item.code]:,}" if item.code in split.targets else "—")
                if item.kind is PackageKind.STOCK:
                    base = split.bases.get(item.code)
                    out.append("—" if base is None else f"{base:,}")
        return tuple(out)

    total: list[str] = []
    for item in package.indicators:
        if item.kind is PackageKind.COUNT_PAIR:
            total.append("")
            continue
        total.append(f"{sum(t.targets.get(item.code, 0) for t in package.towns):,}")
        if item.kind is PackageKind.STOCK:
            total.append(f"{sum(t.bases.get(item.code, 0) for t in package.towns):,}")
    rows = [(t.town, cells(t)) for t in package.towns]
    rows += [("33 个镇街合计", tuple(total)), (package.city.town, cells(package.city))]
    return SplitTable(tuple(headers), tuple(rows))


def preview(package: PlanPackage, summary: PlanSummary, town: str | None = None) -> PlanPreview:
    split = next((t for t in package.towns if t.town == town), None)
    mine = {item.code: target_text(item, split) for item in package.indicators} if split is not None else {}
    return PlanPreview(summary, mine, split_table(package))


def summarize(package: PlanPackage, origin: str, **extra: str) -> PlanSummary:
    from core.numbers import percent_text

    lines = []
    for item in package.indicators:
        target = target_text(item, package.city)
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
        approval_authority=package.approval_authority,
        definitions=tuple((d.name, d.text) for d in package.definitions()),
        stock_jump_bound=f"{percent_text(package.stock_jump_limit)}%",
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
    return plan_sign(plan_check(workbook), root_p12, root_passphrase, out, overwrite)


def plan_check(workbook: Path) -> CheckedWorkbook:
    """plan_build's first step: read and check the workbook (a PlanWorkbookError lists every fault)."""
    from reports.plan_workbook import read_workbook

    package = read_workbook(workbook)
    return CheckedWorkbook(package, preview(package, summarize(package, "signed", source=workbook.name)), workbook)


def plan_sign(
    checked: CheckedWorkbook, root_p12: Path, root_passphrase: bytes, out: Path, overwrite: bool = False
) -> BuiltPlan:
    """plan_build's second step: sign the checked package with the city root into a .plan file."""
    from reports.plan_file import open_root, write_plan_file

    root = open_root(root_p12, root_passphrase)
    write_plan_file(checked.package, root, out, overwrite=overwrite)
    return BuiltPlan(summarize(checked.package, "signed", source=out.name), out)


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
    return plan_preview(path, roots, now=now).summary


def plan_preview(
    path: Path, roots: list[x509.Certificate], town: str | None = None, now: dt.datetime | None = None
) -> PlanPreview:
    """Verify a .plan file against `roots`, importing nothing: what it holds, `town`'s own targets, the split."""
    from reports.plan_file import read_plan_file

    verified = read_plan_file(path, roots, now)
    summary = verified_summary(verified, path.name)
    return preview(verified.package, summary, town)


def verified_summary(verified: VerifiedPlan, source: str) -> PlanSummary:
    """What a verified .plan file holds, with where it came from and who signed it when."""
    return summarize(
        verified.package,
        "signed",
        source=source,
        signed_at=verified.signed_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        root_sha256=verified.root_fingerprint,
    )


def is_altered_plan(exc: BaseException) -> bool:
    """True for the refusal of a stored plan edited outside the program, which importing the city's
    file again repairs (the window offers that at start-up)."""
    from storage.plans import StoredPlanAltered

    return isinstance(exc, StoredPlanAltered)


def plan_import(store: Store, path: Path) -> ImportedPlan:
    """Verify a .plan file against the database's trusted root and record it; nothing is imported on refusal."""
    from reports.plan_file import read_plan_file

    verified = read_plan_file(path, trusted_roots(store))
    imported = store.import_plan_package(
        verified.package, source=path.name, signed_at=verified.signed_at, signature=verified.signature
    )
    summary = verified_summary(verified, path.name)
    town = store.town()
    split = next((t for t in verified.package.towns if t.town == town), None)
    mine = tuple((i.name, target_text(i, split)) for i in verified.package.indicators) if split is not None else ()
    return ImportedPlan(summary, imported, town, mine, unlisted_figures(store, verified.package))


def unlisted_figures(store: Store, package: PlanPackage) -> tuple[str, ...]:
    """For each quarter of `package`'s period with figures under codes the package does not list: which.

    Such figures stay in the database; they are not checked, shown or reported under this plan."""
    if store.town() is None:  # the city's database holds no figures
        return ()
    catalogue = package.catalogue()
    out = []
    for quarter, figures in sorted(store.history().items()):
        if not package.first <= quarter <= package.last:
            continue
        unlisted = sorted(code for code in figures if not catalogue.is_known_code(code))
        if unlisted:
            names = "、".join(f"{store.indicator_name(code, quarter.code)} {figures[code]:,}" for code in unlisted)
            out.append(
                f"{quarter.label}已录入的 {names} 不在此规划的指标中：数值仍保留在数据库中，但不再检查、显示或上报"
            )
    return tuple(out)


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
