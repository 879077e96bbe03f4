"""The city's actions: verify return files, collect a folder and consolidate a quarter, write the city's
summary (汇总表), and the city's certificates (create the root, issue and revoke a town's, the demo set).

Nothing here imports the database layer unless an action opens a database (the city's commands start
quickly and run where no database exists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InputError
from reports.city_report import columns as columns  # the 汇总表's columns, also the city window's table
from reports.city_report import summary_cell_text as summary_cell_text
from reports.city_report import table_rows as table_rows
from reports.files import printable

if TYPE_CHECKING:
    from cryptography import x509

    from core.consolidation import CitySummary
    from core.plans import Plan
    from core.quarters import Quarter
    from reports.collect import Collection as Collection
    from reports.verify import Revocations, Verdict
    from storage.store import Store

__all__ = ["columns", "printable", "summary_cell_text", "table_rows"]


def trust_roots(trust: Path) -> list[x509.Certificate]:
    """The city's root certificate(s) in a .pem file, or a refusal when the file holds none."""
    from reports.identity import load_trust_roots

    return load_trust_roots(trust)


def stored_trust_roots(store: Store) -> list[x509.Certificate]:
    """The root certificate(s) the city's database trusts (set by `init --city --trust`)."""
    from cryptography import x509

    pem = store.trust_root_pem()
    if not pem:
        raise InputError("尚未设置受信任的市局根证书")
    return x509.load_pem_x509_certificates(pem.encode("ascii"))


def revocations(
    crls: list[Path],
    roots: list[x509.Certificate],
    strict: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Revocations:
    """The city's revocation lists (CRL files written by `city revoke`), each checked against the roots.

    A list past its nextUpdate still counts (what it revokes stays revoked) and `warn` is told its date;
    with `strict` it is refused (IdentityError)."""
    from reports.identity import IdentityError, read_crl
    from reports.verify import Revocations

    lists = [read_crl(path) for path in crls]
    for item in lists:
        if item.expired():
            if strict:
                raise IdentityError(item.expiry_refusal())
            if warn is not None:
                warn(item.expiry_warning())
    return Revocations([item.crl for item in lists], roots)


def issued_plans(plan_files: list[Path], roots: list[x509.Certificate]) -> list[Plan]:
    """The plans in the city's .plan files, each verified against the trusted roots (PlanPackageError if not)."""
    from reports.plan_file import PlanPackageError, read_plan_file

    plans = []
    for path in plan_files:
        try:
            plans.append(read_plan_file(path, roots).package.to_plan())
        except PlanPackageError as exc:
            raise PlanPackageError(
                f"规划文件 {printable(str(path))} 不能作为核验依据：{not_imported_removed(exc.message)}"
            ) from exc
    return plans


def not_imported_removed(reason: str) -> str:
    """A .plan refusal worded for a town's import ("…，未导入"), as the city's verification says it."""
    return reason.removesuffix("，未导入").removesuffix("未导入")


def trusted_plans(plan_files: list[Path], roots: list[x509.Certificate], db: Path | None = None) -> list[Plan]:
    """The plans a return may be made under: the .plan files given, and the city database's imported
    packages when a database is named (the built-in 2021–2025 plan is always trusted besides)."""
    plans = issued_plans(plan_files, roots)
    if db is not None:
        from actions.database import open_store

        if not db.is_file():  # verifying never creates a database
            raise InputError(f"找不到数据库 {printable(str(db))}")
        refuse_a_town_database(db)
        with open_store(db) as store:
            plans += city_database_plans(store, roots)
    return plans


def not_a_city_database(db: Path) -> InputError:
    return InputError(
        f"数据库 {printable(str(db))} 不是市局汇总用的数据库（镇街的数据库中的规划不能作为核验依据）；"
        "请改用市局的数据库，或用 --plan 指定市局下发的规划文件"
    )


def refuse_a_town_database(db: Path) -> None:
    """Refuse a town's database before opening it: opening would migrate it and back it up, and the
    city's verification must leave a town's file as it was handed over."""
    import sqlite3

    from storage.backup import read_identity

    try:
        town = read_identity(db).town
    except sqlite3.Error:  # not readable as a database: opening it says why
        return
    if town is not None:
        raise not_a_city_database(db)


def city_database_plans(store: Store, roots: list[x509.Certificate]) -> list[Plan]:
    """The signed packages a city database imported, each signature verified again against `roots`.

    Only the city's own database is trusted for plans: a town's database (or any file handed over)
    could hold whatever plan someone wrote into it. A package stored without its signature (imported
    before signatures were kept) cannot be verified and is refused with what to do."""
    if store.mode() != "city":
        raise not_a_city_database(store.path)
    return imported_plans(store, roots)


def imported_plans(store: Store, roots: list[x509.Certificate]) -> list[Plan]:
    """The packages a database imported, each signature verified again against `roots` (the town's
    核验季报签名 trusts its own database's plans only so far as the city's root signed them)."""
    from reports.plan_file import PlanPackageError, verify_signed_content

    plans = []
    for stored in store.plan_packages():
        where = f"数据库中的规划“{stored.name}”（编号 {stored.id}）"
        if stored.signature is None:
            raise PlanPackageError(
                f"{where}是在旧版软件中导入的，没有保存市局根证书的签名，无法核验；"
                "请重新导入该规划文件，或核验时另行指定市局下发的该规划文件"
            )
        try:
            verified = verify_signed_content(stored.content, stored.signature, roots)
        except PlanPackageError as exc:
            raise PlanPackageError(f"{where}核验不通过，不能作为核验依据：{not_imported_removed(exc.message)}") from exc
        if (verified.package.id, verified.package.content_hash) != (stored.id, stored.content_hash):
            raise PlanPackageError(f"{where}已在本程序之外被改动（规划数据已被改动），不能作为核验依据")
        plans.append(verified.package.to_plan())
    return plans


def verify_files(
    trust: Path,
    crls: list[Path],
    files: list[Path],
    plan_files: list[Path] | None = None,
    db: Path | None = None,
    strict_crl: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[Verdict]:
    """Each file's verdict: valid (town, quarter, revision, when signed) or why not.

    Many files are verified on every core in bounded workers (as `consolidate` does); a few in this
    process, where starting the workers would take longer than the checks."""
    from reports.verify import Verifier

    roots = trust_roots(trust)
    plans = trusted_plans(plan_files or [], roots, db)
    revoked = revocations(crls, roots, strict_crl, warn)
    if len(files) >= POOL_FROM_FILES:
        import os

        from reports.collect import verify_isolated
        from reports.payload import check_plans_disjoint

        check_plans_disjoint(plans)  # refused here, as the verifier below would, before any worker starts
        return list(verify_isolated(files, roots, revoked, workers=min(os.cpu_count() or 1, 8), plans=plans))
    verifier = Verifier(roots, revocations=revoked, plans=plans)
    return [verifier.verify(path) for path in files]


# About where two workers' start-up (≈ 0.6 s) is repaid by verifying on two cores (≈ 5 ms a file).
POOL_FROM_FILES = 200


def verify_isolated_files(
    files: list[Path],
    roots: list[x509.Certificate],
    crls: Revocations | None,
    step: Callable[[str], bool] | None = None,
    plans: list[Plan] | None = None,
) -> list[Verdict]:
    """The same verdicts as `verify_files`, each file read in a bounded worker process (the window's
    way, as when collecting a folder: a hostile file cannot exhaust the window's memory)."""
    from reports.collect import verify_isolated

    return list(verify_isolated(files, roots, crls, workers=1, step=step, plans=plans or ()))


def collect_returns(
    folder: Path,
    roots: list[x509.Certificate],
    crls: Revocations | None = None,
    step: Callable[[str], bool] | None = None,
    plans: list[Plan] | None = None,
) -> Collection:
    """Verify every return in a folder (and its sub-folders); the latest valid revision per town and quarter.

    `plans`: the plans the city issued besides the built-in one (a return under any other is invalid)."""
    from reports.collect import collect

    return collect(folder, roots, step, crls=crls, plans=[p for p in plans or () if p.content_hash])


def measured_plans(store: Store | None, roots: list[x509.Certificate], plan_files: list[Path] | None = None) -> list[Plan]:
    """The plans a consolidation measures against, for both doors: the .plan files given and the city
    database's packages, each signature verified against `roots` (a package that fails refuses the
    whole consolidation), older unsigned splits (targets only), and the built-in 2021–2025 plan."""
    from reports.payload import builtin_plan

    plans: list[Plan] = []
    issued = issued_plans(plan_files or [], roots)
    if store is not None:
        issued += city_database_plans(store, roots)
        issued += [p for p in store.plans() if not p.content_hash]
    for plan in issued:
        if not plan.content_hash or not any(p.content_hash == plan.content_hash for p in plans):
            plans.append(plan)
    if not any(p.contains(builtin_plan().first) for p in plans):
        plans.append(builtin_plan())
    return plans


@dataclass(frozen=True)
class Consolidated:
    """A quarter consolidated from a collected folder; `files` are the summary files written, if any."""

    quarter: Quarter
    folder: Path
    collection: Collection
    summary: CitySummary
    conflicted: set[str]
    files: list[Path] = field(default_factory=list)

    def entries(self, verdicts: list[Verdict]) -> list[dict[str, object]]:
        """This quarter's files among `verdicts`: file, town, revision."""
        return [{"file": v.file, "town": v.town, "revision": v.revision} for v in verdicts if v.quarter == self.quarter.code]

    def as_dict(self) -> dict[str, Any]:
        """The shape of `consolidate --json`."""
        from reports.city_report import city_json

        collection, summary = self.collection, self.summary
        return {
            "quarter": self.quarter.code,
            "valid": list(summary.reporting),
            "missing": list(summary.missing),
            "invalid": [{"file": v.file, "reason": v.reason} for v in collection.invalid],
            "superseded": self.entries(collection.superseded),
            "conflicts": self.entries(collection.conflicts),
            "skipped": [{"file": v.file, "reason": v.reason} for v in collection.skipped],
            "towns": {t: dict(collection.chosen[(t, self.quarter)].payload.figures) for t in summary.reporting},  # type: ignore[union-attr]
            "city": city_json(summary),
            # each counted town's figures against its 上季度 and 上年同期 returns the city holds (issue 26)
            "town_comparisons": {
                t: {code: p.comparison_fields(code) for code in p.indicators} for t, p in summary.towns.items()
            },
            "city_label": summary.city_label,
            "annex_lags": dict(summary.annex_lags),  # town -> quarters behind, counted in annex_completion
            "town_checks": {t: flags for t, flags in summary.checks.items() if flags},
            "files": [str(p) for p in self.files],
        }


def summarise(collection: Collection, quarter: Quarter, plans: list[Plan], folder: Path) -> Consolidated:
    """The city's summary of one quarter of a collection (towns with conflicting returns left out)."""
    return Consolidated(quarter, folder, collection, collection.summary(quarter, plans), collection.conflicted_towns(quarter))


def summary_files(quarter: Quarter, folder: Path) -> list[Path]:
    """Where the city's summary of a quarter is written: the workbook and the PDF."""
    stem = f"{quarter.code}_全市_汇总表"
    return [folder / f"{stem}.xlsx", folder / f"{stem}.pdf"]


def write_city_summary(consolidated: Consolidated, folder: Path, overwrite: bool = False) -> list[Path]:
    """Write the 汇总表 (.xlsx and .pdf), both or neither; an existing file is refused unless `overwrite`."""
    from reports.city_report import write_city_pdf, write_city_workbook
    from reports.files import refuse_existing, remove_stale_temp_files, write_all_or_none

    summary, conflicted = consolidated.summary, consolidated.conflicted
    targets = summary_files(consolidated.quarter, folder)
    if not overwrite:
        refuse_existing(targets)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder)
    return write_all_or_none(
        [
            (targets[0], lambda p: write_city_workbook(summary, conflicted, p)),
            (targets[1], lambda p: write_city_pdf(summary, conflicted, p)),
        ]
    )


def consolidate(
    folder: Path,
    quarter_text: str,
    trust: Path,
    crls: list[Path],
    db: Path | None = None,
    out: Path | None = None,
    overwrite: bool = False,
    plan_files: list[Path] | None = None,
    strict_crl: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Consolidated:
    """Verify a folder of returns and consolidate a quarter; write the 汇总表 to `out` when given.

    The plans come from the .plan files given (verified against the roots), the database when one is
    given or the default one exists, and the built-in 2021–2025 plan.
    """
    from core.quarters import Quarter

    quarter = Quarter.parse(quarter_text)
    if not folder.is_dir():
        raise InputError(f"找不到文件夹 {folder}")
    collection, plans = collect_as_consolidate(folder, trust_roots(trust), crls, db, plan_files, strict_crl, warn)
    consolidated = summarise(collection, quarter, plans, folder)
    if out is None:
        return consolidated
    written = write_city_summary(consolidated, out, overwrite)
    return Consolidated(quarter, folder, collection, consolidated.summary, consolidated.conflicted, written)


def collect_as_consolidate(
    folder: Path,
    roots: list[x509.Certificate],
    crls: list[Path],
    db: Path | None = None,
    plan_files: list[Path] | None = None,
    strict_crl: bool = False,
    warn: Callable[[str], None] | None = None,
) -> tuple[Collection, list[Plan]]:
    """The folder verified and resolved as `consolidate` counts it, with the plans it measures against:
    the .plan files given, the database when one is given or the default one is the city's, and the
    built-in 2021–2025 plan. `city receipts` and `city missing` use this too, so they count the same return."""
    from actions.database import database_path, open_store

    if db is not None and not db.is_file():  # consolidating never creates a database
        raise InputError(f"找不到数据库 {printable(str(db))}")
    if db is not None:
        refuse_a_town_database(db)
    plans = measured_plans(None, roots, plan_files)
    if db is not None or database_path(None).exists():
        with open_store(db) as store:
            if db is not None or store.mode() == "city":  # a default database that is a town's is not asked
                plans = measured_plans(store, roots, plan_files)
    revoked = revocations(crls, roots, strict_crl, warn)
    return collect_returns(folder, roots, revoked, plans=plans), plans


@dataclass(frozen=True)
class CityRoot:
    certificate: Path
    key: Path

    def as_dict(self) -> dict[str, Any]:
        return {"certificate": str(self.certificate), "key": str(self.key)}


def create_root(out: Path, passphrase: bytes) -> CityRoot:
    """The city's root certificate (made once): the .pem to hand out and the .p12 to keep offline."""
    from reports.identity import create_city_root

    return CityRoot(*create_city_root(out, passphrase))


@dataclass(frozen=True)
class Issued:
    town: str
    file: Path  # the town's .p12

    @property
    def certificate(self) -> Path:
        return self.file.with_suffix(".pem")

    def as_dict(self) -> dict[str, Any]:
        return {"town": self.town, "file": str(self.file), "certificate": str(self.certificate)}


def issue_identity(
    root: Path, root_passphrase: bytes, town: str, out: Path, passphrase: bytes, days: int = 3 * 365
) -> Issued:
    """A town's signing identity, issued by the city's root, valid `days` days."""
    from reports.identity import issue_town_identity

    return Issued(town, issue_town_identity(root, root_passphrase, town, out, passphrase, days=days))


@dataclass(frozen=True)
class Certified:
    town: str
    file: Path  # the certificate (PEM) for the key the request names
    serial: int
    not_after: str  # YYYY-MM-DD
    sha256: str  # the certificate's fingerprint, colon-separated
    register: Path | None = None  # the register of issued certificates it was checked against and entered in

    def as_dict(self) -> dict[str, Any]:
        return {
            "town": self.town,
            "file": str(self.file),
            "serial": f"{self.serial:x}",
            "not_after": self.not_after,
            "sha256": self.sha256,
            "register": str(self.register) if self.register is not None else None,
        }


def issue_for_request(
    root: Path, root_passphrase: bytes, request: Path, out: Path, days: int = 3 * 365, register: Path | None = None
) -> Certified:
    """A town certificate for the key in a request made on the town's USB key (`city issue --csr`): the
    request's signature and town checked; refused for a key already certified for another town and not
    revoked, or in a revoked certificate, as the register (`issued/` beside the root, or `register`) knows."""
    from reports.identity import fingerprint, issue_for_request, register_folder, town_of

    certificate = issue_for_request(root, root_passphrase, request, out, days=days, register=register)
    return Certified(
        town_of(certificate) or "",
        out,
        certificate.serial_number,
        f"{certificate.not_valid_after_utc:%Y-%m-%d}",
        fingerprint(certificate),
        register_folder(root, register).resolve(),
    )


@dataclass(frozen=True)
class Revoked:
    crl: Path
    town: str | None
    serial: int

    def as_dict(self) -> dict[str, Any]:
        return {"crl": str(self.crl), "town": self.town, "serial": f"{self.serial:x}"}


def revoke_identity(root: Path, root_passphrase: bytes, certificate: Path, out: Path, existing: Path | None) -> Revoked:
    """Write a revocation list signed by the root: the entries of `existing` plus this town certificate."""
    from reports.identity import revoke, town_of

    crl, revoked = revoke(root, root_passphrase, certificate, out, existing_crl=existing)
    return Revoked(crl, town_of(revoked), revoked.serial_number)


@dataclass(frozen=True)
class Demo:
    root: Path  # the root certificate to trust
    returns: Path  # the folder of signed returns
    files: int
    sample_plan: Path | None = None  # the signed sample 2026–2030 package the 2026 returns were made under

    def as_dict(self) -> dict[str, Any]:
        return {
            "trust": str(self.root),
            "returns": str(self.returns),
            "files": self.files,
            "sample_plan": str(self.sample_plan) if self.sample_plan else None,
        }


def sample_plan_files(out: Path) -> tuple[Path, Path]:
    """Where the demo writes the signed sample package and its workbook, both named 示例（非正式目标）."""
    from core.plan_package import SAMPLE_MARK

    return out / f"2026-2030 规划 {SAMPLE_MARK}.plan", out / f"2026-2030 分解表 {SAMPLE_MARK}.xlsx"


def demo_set(out: Path, with_pdf: bool = False) -> Demo:
    """A demo: a root, every town's identity, signed returns for the whole 2021–2025 plan, the sample
    2026–2030 package signed by the demo root and returns under it for the 2026 quarters that have ended."""
    from actions.plan_packages import plan_sample
    from core.plan_package import sample_package
    from reports.demo_returns import ROOT_PASSPHRASE, generate_demo_set

    made = generate_demo_set(out, with_pdf=with_pdf, sample=sample_package().to_plan())
    plan_file, workbook = sample_plan_files(out)
    plan_sample(out / "city" / "city_root.p12", ROOT_PASSPHRASE, plan_file, workbook)
    return Demo(made.root, made.returns, made.files, plan_file)
