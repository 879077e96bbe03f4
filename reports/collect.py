"""Collect returns from a folder: verify every file, keep the latest valid revision per town and quarter."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.consolidation import CitySummary, consolidate
from core.indicators import Kind
from core.plans import Plan
from core.progress import History
from core.quarters import Quarter
from reports.payload import Payload, check_plans_disjoint, city_plan_for
from reports.verify import NOT_REGULAR, NOT_SIGNED, OUT_OF_MEMORY, Revocations, Verdict, Verifier

RETURN_SUFFIXES = (".xlsx", ".pdf")
Key = tuple[str, Quarter]


@dataclass
class Collection:
    valid: list[Verdict] = field(default_factory=list)
    invalid: list[Verdict] = field(default_factory=list)
    skipped: list[Verdict] = field(default_factory=list)  # .xlsx/.pdf files that are not signed returns at all
    chosen: dict[Key, Verdict] = field(default_factory=dict)
    superseded: list[Verdict] = field(default_factory=list)
    conflicts: list[Verdict] = field(default_factory=list)

    def add(self, verdict: Verdict) -> None:
        if verdict.valid:
            self.valid.append(verdict)
        elif verdict.reason.startswith((NOT_SIGNED, "不是季报文件", NOT_REGULAR)):
            self.skipped.append(verdict)
        else:
            self.invalid.append(verdict)

    def resolve(self) -> None:
        """Only the latest valid revision counts; different returns under one revision are a conflict."""
        groups: dict[Key, list[Verdict]] = {}
        for verdict in self.valid:
            assert verdict.payload is not None
            groups.setdefault((verdict.payload.town, verdict.payload.quarter), []).append(verdict)
        self.chosen, self.superseded, self.conflicts = {}, [], []
        for key, verdicts in groups.items():
            if _signed_out_of_order(verdicts):
                # a higher revision signed before a lower one: a back-dated signature, or two versions
                # of the truth; neither wins
                self.conflicts += verdicts
                continue
            top = max(v.payload.revision for v in verdicts if v.payload)
            if any(v.revoked_signer for v in verdicts if v.payload and v.payload.revision == top) and any(
                v.payload and v.payload.revision < top for v in verdicts
            ):
                # a new revision signed by a certificate revoked since, its signing time claimed by the
                # signer alone: it may be a stolen key back-dating; neither wins until the city checks
                self.conflicts += verdicts
                continue
            latest = [v for v in verdicts if v.payload and v.payload.revision == top]
            self.superseded += [v for v in verdicts if v.payload and v.payload.revision < top]
            if len({_content(v.payload) for v in latest if v.payload}) > 1:
                self.conflicts += latest
            else:
                self.chosen[key] = min(latest, key=lambda v: v.file)  # the same pick whatever the file order

    def town_histories(self) -> dict[str, History]:
        histories: dict[str, dict[Quarter, dict[str, int]]] = {}
        for (town, quarter), verdict in self.chosen.items():
            assert verdict.payload is not None
            histories.setdefault(town, {})[quarter] = dict(verdict.payload.figures)
        return dict(histories)

    def town_bases(self, quarter: Quarter) -> dict[str, dict[str, int]]:
        """Each town's 基期数 as its chosen return for `quarter` signed them (none on older returns)."""
        bases: dict[str, dict[str, int]] = {}
        for (town, q), verdict in self.chosen.items():
            if q == quarter and verdict.payload is not None:
                bases[town] = dict(verdict.payload.body.get("bases") or {})
        return bases

    def town_signed(self, quarter: Quarter) -> dict[str, dict[str, tuple[int | None, int | None]]]:
        """Each town's 本年累计 and 规划累计 of every flow, and its year-to-date rate counts, as its chosen
        return for `quarter` signed them (see core.consolidation.consolidate)."""
        signed: dict[str, dict[str, tuple[int | None, int | None]]] = {}
        for (town, q), verdict in self.chosen.items():
            if q != quarter or verdict.payload is None:
                continue
            body = verdict.payload.body
            flows = {i.code for i in verdict.payload.catalogue.indicators if i.kind is Kind.FLOW}
            totals: dict[str, tuple[int | None, int | None]] = {}
            for line in body.get("lines", []):
                if line["code"] in flows:
                    totals[line["code"]] = (line["ytd"], line["cumulative"])
            for rate in body.get("rates", []):
                totals[rate["code"]] = (rate["numerator"], rate["denominator"])
            signed[town] = totals
        return signed

    def town_compared(self, quarter: Quarter) -> dict[str, dict[str, dict[str, int | None]]]:
        """The figures each town's chosen return for `quarter` compared with (town-returns/6 `comparisons`)."""
        return {
            town: dict(verdict.payload.body["comparisons"])
            for (town, q), verdict in self.chosen.items()
            if q == quarter and verdict.payload is not None and "comparisons" in verdict.payload.body
        }

    def earlier_signed(self, quarter: Quarter) -> dict[str, tuple[Quarter, dict[str, int | None]]]:
        """Each town's latest chosen return before `quarter`: its quarter and the 规划累计 it signed (issue 26)."""
        latest: dict[str, tuple[Quarter, dict[str, int | None]]] = {}
        for (town, q), verdict in sorted(self.chosen.items()):
            if q < quarter and verdict.payload is not None:
                lines = verdict.payload.body.get("lines", [])
                latest[town] = (q, {line["code"]: line["cumulative"] for line in lines})
        return latest

    def counted(self, quarter: Quarter) -> dict[str, Verdict]:
        """Each town's return the consolidation of `quarter` counts (its latest valid revision, no conflict)."""
        conflicted = self.conflicted_towns(quarter)
        return {t: v for (t, q), v in sorted(self.chosen.items()) if q == quarter and t not in conflicted}

    def conflicted_towns(self, quarter: Quarter) -> set[str]:
        return {v.payload.town for v in self.conflicts if v.payload and v.payload.quarter == quarter}

    def summary(self, quarter: Quarter, plans: list[Plan]) -> CitySummary:
        """The city's consolidation of this quarter from the returns collected (conflicting towns left out)."""
        plan = city_plan_for(quarter, plans)
        return consolidate(
            plan,
            quarter,
            self.town_histories(),
            self.conflicted_towns(quarter),
            self.town_bases(quarter),
            self.town_signed(quarter),
            earlier_signed=self.earlier_signed(quarter),
            town_compared=self.town_compared(quarter),
        )


def slim_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the city reads of a verified payload beyond its figures: signed totals, rate counts, bases."""
    return {
        "lines": [{k: line[k] for k in ("code", "ytd", "cumulative")} for line in body.get("lines", [])],
        "rates": [{k: rate[k] for k in ("code", "numerator", "denominator")} for rate in body.get("rates", [])],
        "bases": dict(body.get("bases") or {}),
        # who to call about the next return (city missing): the unit and phone it was signed with
        "signoff": {k: (body.get("signoff") or {}).get(k) for k in ("unit_name", "phone")},
        # the figures its 同比、环比 compared with (town-returns/6), checked against the returns the city holds
        **({"comparisons": body["comparisons"]} if "comparisons" in body else {}),
    }


def _signed_out_of_order(verdicts: list[Verdict]) -> bool:
    """Is some revision signed earlier than a lower revision of the same town and quarter?"""
    latest_of: dict[int, dt.datetime] = {}
    earliest_of: dict[int, dt.datetime] = {}
    for v in verdicts:
        if v.payload is None or v.signed_at is None:
            continue
        r = v.payload.revision
        latest_of[r] = max(v.signed_at, latest_of.get(r, v.signed_at))
        earliest_of[r] = min(v.signed_at, earliest_of.get(r, v.signed_at))
    revisions = sorted(latest_of)
    return any(
        earliest_of[higher] < latest_of[lower] for i, lower in enumerate(revisions) for higher in revisions[i + 1 :]
    )


def _content(payload: Payload) -> tuple[str, int, str]:
    return payload.plan or "", payload.revision, payload.content_hash()


def find_returns(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()  # the same order on every file system, so reports list files the same way
        for name in sorted(files):
            if name.lower().endswith(RETURN_SUFFIXES) and not name.startswith((".", "~$")):
                yield Path(root) / name


TIME_LIMIT = 5.0  # seconds per file (from the worker being ready): a hostile file is reported within 10 s
MEMORY_LIMIT = 500 * 1024 * 1024  # bytes a worker may grow by (POSIX only)
TIMED_OUT = "无法核验：超时"
READY = "ready"
STARTUP_LIMIT = 120.0  # seconds a fresh worker may take to import what it needs
IN_FLIGHT = 4  # files handed to a worker ahead of its verdicts


def _limit_memory(extra: int) -> None:
    """On POSIX, cap the worker's address space at what it has now plus `extra` (no `resource` on Windows)."""
    try:
        import resource
    except ImportError:  # Windows: the size caps before reading and the time limit still apply
        return
    current = 0
    try:
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        current = 1024 * 1024 * 1024
    limit = current + extra
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # some systems (macOS) do not enforce or accept RLIMIT_AS
        return


# What verifying a workbook needs: the forkserver imports it once for every worker it starts.
WORKBOOK_MODULES = ["reports.collect", "reports.verify", "reports.package", "reports.excel", "reports.identity",
                    "pyhanko.sign.validation.generic_cms", "pyhanko_certvalidator"]  # fmt: skip


def _warm_up(pdfs: bool = True) -> None:
    """Import what verification needs before the memory limit, so the limit measures the file's own work.

    The PDF reader, renderer and signer (pyHanko, reportlab) only when the run has PDFs."""
    # imported by name here (not importlib) so that PyInstaller sees every module
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity  # noqa: F401
    from pyhanko_certvalidator import CertificateValidator  # noqa: F401

    import reports.excel  # noqa: F401
    import reports.identity  # noqa: F401
    import reports.package  # noqa: F401

    if pdfs:
        from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: F401
        from pyhanko.sign.validation import validate_pdf_signature  # noqa: F401

        import reports.pdf  # noqa: F401
        import reports.pdf_text  # noqa: F401
        import reports.signing  # noqa: F401


def _worker(
    conn,
    root_pems: list[bytes],
    revocations: Revocations | None,
    memory: int,
    plans: tuple[Plan, ...] = (),
    pdfs: bool = True,
) -> None:
    verifier = Verifier(
        [x509.load_pem_x509_certificate(pem) for pem in root_pems], revocations=revocations, plans=plans
    )
    _warm_up(pdfs)
    _limit_memory(memory)
    conn.send(READY)
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        try:
            verdict = verifier.verify(Path(path))
            if verdict.payload is not None:  # the parent needs the figures and totals, not the whole rendered return
                slim = replace(verdict.payload, body=slim_body(verdict.payload.body), trusted_plan=None)
                verdict = replace(verdict, payload=slim)
        except MemoryError:
            verdict = Verdict(path, False, OUT_OF_MEMORY)
        try:
            conn.send(verdict)
        except MemoryError:
            return  # half a message may be on its way: end, and the parent tells this file and starts afresh


class _Slot:
    """One worker process and the files handed to it, verified in the order given (the first is the one
    being verified now)."""

    def __init__(self, context, args: tuple) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.paths: deque[int] = deque()  # places in the run's list of files (one file may be given twice)
        self.ready = False
        self.started = time.monotonic()  # the clock of the first file: from readiness or its predecessor's verdict

    def give(self, index: int, path: str) -> None:
        if not self.paths and self.ready:
            self.started = time.monotonic()
        self.paths.append(index)
        self.conn.send(path)

    def done(self) -> int:
        """The first file's verdict has arrived: the worker is on the next one from now."""
        self.started = time.monotonic()
        return self.paths.popleft()

    def limit(self, time_limit: float) -> float:
        return time_limit if self.ready else STARTUP_LIMIT

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _context():
    """Workers start from a clean, small process: forkserver on POSIX (never fork a process that runs Qt or
    holds a big heap), spawn on Windows."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(WORKBOOK_MODULES)
        return context
    return multiprocessing.get_context("spawn")


def verify_isolated(
    files: list[Path],
    roots: list[x509.Certificate],
    revocations: Revocations | None = None,
    workers: int = 1,
    step: Callable[[str], bool] | None = None,
    time_limit: float = TIME_LIMIT,
    memory: int = MEMORY_LIMIT,
    plans: Sequence[Plan] = (),
) -> Iterator[Verdict]:
    """Verify each file in a worker process with a time and memory limit; verdicts in the files' order.

    A worker that overruns is killed and its file gets TIMED_OUT; one that dies gets OUT_OF_MEMORY;
    a fresh worker takes its place and the run goes on.
    """
    from multiprocessing.connection import wait

    context = _context()
    pdfs = any(Path(p).suffix.lower() == ".pdf" for p in files)
    args = ([r.public_bytes(serialization.Encoding.PEM) for r in roots], revocations, memory, tuple(plans), pdfs)
    pending = [str(p) for p in files]
    results: dict[int, Verdict] = {}
    slots = [_Slot(context, args) for _ in range(max(1, min(workers, len(pending))))]
    queue = list(reversed(range(len(pending))))
    emitted = 0

    def feed(slot: _Slot) -> None:
        # a few files ahead, so a worker never waits for the parent between two files
        while queue and len(slot.paths) < IN_FLIGHT:
            index = queue.pop()
            slot.give(index, pending[index])

    try:
        for slot in slots:
            feed(slot)
        while emitted < len(pending):
            busy = [s for s in slots if s.paths]
            timeout = (
                max(0.05, min(s.limit(time_limit) - (time.monotonic() - s.started) for s in busy)) if busy else 0.05
            )
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=timeout)
            for number, slot in enumerate(slots):
                if not slot.paths:
                    continue
                verdict: Verdict | None = None
                replace_slot = False
                has_message = (
                    slot.conn in ready
                    or (slot.process.sentinel in ready or not slot.process.is_alive())
                    and slot.conn.poll()
                )  # verdicts sent before it ended still count
                if has_message:
                    try:
                        message = slot.conn.recv()
                    except Exception:  # ended, or died half-way through a message: never trusted again
                        message, replace_slot = Verdict(pending[slot.paths[0]], False, OUT_OF_MEMORY), True
                    if message == READY:
                        slot.ready, slot.started = True, time.monotonic()
                        continue
                    verdict = message
                    # A worker that ran out of memory may keep what filled it: the files after it get a new one.
                    replace_slot = replace_slot or verdict.reason == OUT_OF_MEMORY
                elif slot.process.sentinel in ready or not slot.process.is_alive():
                    verdict, replace_slot = Verdict(pending[slot.paths[0]], False, OUT_OF_MEMORY), True
                elif time.monotonic() - slot.started > slot.limit(time_limit):
                    verdict, replace_slot = Verdict(pending[slot.paths[0]], False, TIMED_OUT), True
                if verdict is None:
                    continue
                results[slot.done()] = verdict
                if replace_slot:
                    queue.extend(reversed(slot.paths))  # the files queued behind it go to the next worker free
                    slot.paths.clear()
                    slot.stop(kill=True)
                    slot = slots[number] = _Slot(context, args)
                feed(slot)
            while emitted < len(pending) and emitted in results:
                verdict = results.pop(emitted)
                emitted += 1
                yield verdict
                if step is not None and not step(f"正在核验 {emitted}/{len(pending)}"):
                    return
    finally:
        for slot in slots:
            slot.stop(kill=bool(slot.paths))


def collect(
    folder: Path,
    roots: list[x509.Certificate],
    step: Callable[[str], bool] | None = None,
    workers: int | None = None,
    crls: Revocations | None = None,
    time_limit: float = TIME_LIMIT,
    memory: int = MEMORY_LIMIT,
    plans: Sequence[Plan] = (),
) -> Collection:
    """Verify every .xlsx/.pdf under `folder` (recursively), each in a bounded worker, on every core."""
    check_plans_disjoint(plans)  # before any worker starts: one plan per quarter, whatever the order given
    files = list(find_returns(folder))
    collection = Collection()
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    for verdict in verify_isolated(files, roots, crls, workers, step, time_limit, memory, plans):
        collection.add(verdict)
    collection.resolve()
    return collection
