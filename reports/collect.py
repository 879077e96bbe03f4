"""Collect returns from a folder: verify every file, keep the latest valid revision per town and quarter."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.progress import History
from core.quarters import Quarter
from reports.payload import Payload
from reports.verify import NOT_SIGNED, Verdict, Verifier

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
        elif verdict.reason.startswith(NOT_SIGNED) or verdict.reason.startswith("不是季报文件"):
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
            top = max(v.payload.revision for v in verdicts if v.payload)
            latest = [v for v in verdicts if v.payload and v.payload.revision == top]
            self.superseded += [v for v in verdicts if v.payload and v.payload.revision < top]
            if len({_content(v.payload) for v in latest if v.payload}) > 1:
                self.conflicts += latest
            else:
                self.chosen[key] = latest[0]

    def town_histories(self) -> dict[str, History]:
        histories: dict[str, dict[Quarter, dict[str, int]]] = {}
        for (town, quarter), verdict in self.chosen.items():
            assert verdict.payload is not None
            histories.setdefault(town, {})[quarter] = dict(verdict.payload.figures)
        return dict(histories)

    def conflicted_towns(self, quarter: Quarter) -> set[str]:
        return {v.payload.town for v in self.conflicts if v.payload and v.payload.quarter == quarter}


def _content(payload: Payload) -> tuple[str, int, str]:
    return payload.plan or "", payload.revision, payload.content_hash()


def find_returns(folder: Path) -> Iterator[Path]:
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            if name.lower().endswith(RETURN_SUFFIXES) and not name.startswith((".", "~$")):
                yield Path(root) / name


_worker_verifier: Verifier | None = None


def _init_worker(root_pems: list[bytes]) -> None:
    global _worker_verifier
    _worker_verifier = Verifier([x509.load_pem_x509_certificate(pem) for pem in root_pems])


def _verify_in_worker(path: Path) -> Verdict:
    assert _worker_verifier is not None
    return _worker_verifier.verify(path)


def collect(
    folder: Path,
    roots: list[x509.Certificate],
    step: Callable[[str], bool] | None = None,
    workers: int | None = None,
) -> Collection:
    """Verify every .xlsx/.pdf under `folder` (recursively), on every core when there are many."""
    files = list(find_returns(folder))
    collection = Collection()
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(files) < 8:
        verifier = Verifier(roots)
        for number, path in enumerate(files, start=1):
            if step is not None and not step(f"正在核验 {number}/{len(files)}：{path.name}"):
                break
            collection.add(verifier.verify(path))
    else:
        pems = [r.public_bytes(serialization.Encoding.PEM) for r in roots]
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(pems,)) as pool:
            for number, verdict in enumerate(pool.map(_verify_in_worker, files, chunksize=16), start=1):
                collection.add(verdict)
                if step is not None and not step(f"正在核验 {number}/{len(files)}"):
                    pool.shutdown(cancel_futures=True)
                    break
    collection.resolve()
    return collection
