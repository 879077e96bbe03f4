"""One city root, town identities and the signed sample plan for the whole test session: the keys the
tests of plans, the round trip and the two doors share (making a root and identities costs seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

PASSPHRASE = b"city-secret"  # the root's, the towns' and the file the command line reads it from
TOWNS = ("莞城", "南城", "石龙")


@pytest.fixture(scope="session")
def city_keys(tmp_path_factory) -> dict:
    from core.plan_package import sample_package
    from reports.identity import create_city_root, issue_town_identity
    from reports.plan_file import open_root, write_plan_file

    base: Path = tmp_path_factory.mktemp("市局 密钥")
    (base / "pw.txt").write_text(PASSPHRASE.decode(), encoding="utf-8")
    city_cert, city_key = create_city_root(base / "city", PASSPHRASE)
    p12 = {town: issue_town_identity(city_key, PASSPHRASE, town, base / f"{town}.p12", PASSPHRASE) for town in TOWNS}
    plan = write_plan_file(sample_package(), open_root(city_key, PASSPHRASE), base / "2026-2030 规划.plan")
    return {
        "base": base,
        "pw": base / "pw.txt",
        "city_cert": city_cert,
        "city_key": city_key,
        "p12": p12,
        "town_p12": p12["莞城"],
        "plan": plan,
    }


@pytest.fixture(scope="session")
def foreign_root(tmp_path_factory):
    """A root the towns do not trust (forged plans and returns), as (certificate .pem, key .p12)."""
    from reports.identity import create_city_root

    return create_city_root(tmp_path_factory.mktemp("外来 根证书") / "foreign", PASSPHRASE)
