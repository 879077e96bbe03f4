"""Returns signed under renderer 2 (payload town-returns/5, town-returns-render/2) keep verifying byte for
byte after renderer 3 (同比、环比; the stock's base and 较基期增长完成率 in the figures table) arrived.

tests/data/golden_town_returns_5 was written by the release just before renderer 3 (commit 0ea4ff4's code):
the demo's on-pace figures of 莞城 2021Q1–2025Q2 (core.demo.on_pace_history) with the card base 150,000
(Store.set_stock_base), the profile 莞城街道人社分局 / 王五 / 赵六 / 李四 / 0769-12345678, exported for 2025Q2
by actions.returns.export_quarter, signed with a town certificate valid 2020–2049 issued by a new city root
(reports.identity.create_city_root, issue_town_identity(not_before=2020-01-01, days=365 * 29 + 7));
city_root.pem is that root."""

import json
import zipfile
from pathlib import Path

import pytest

from reports.identity import load_trust_roots
from reports.verify import Verifier

GOLDEN = Path(__file__).parent / "data" / "golden_town_returns_5"
FILES = ("2025Q2_莞城_季报.xlsx", "2025Q2_莞城_季报.pdf", "2025Q2_莞城_摘要.pdf")


@pytest.mark.parametrize("name", FILES)
def test_a_return_signed_under_renderer_2_still_verifies(name):
    verifier = Verifier(load_trust_roots(GOLDEN / "city_root.pem"))
    verdict = verifier.verify(GOLDEN / name)
    assert verdict.valid, verdict.reason
    assert verdict.payload is not None
    assert verdict.payload.body["format"] == "town-returns/5"
    assert verdict.payload.body["renderer"] == "town-returns-render/2"


def test_the_golden_workbook_is_renderer_2s():
    """The files are what they claim: 结转 and 受理 lines, a 基期数, no 同比/环比 in the signed data."""
    with zipfile.ZipFile(GOLDEN / FILES[0]) as archive:
        custom = archive.read("docProps/custom.xml").decode("utf-8")
    assert "town-returns/5" in custom and "arbitration_carried" in custom
    assert json.dumps("town-returns-render/2")[1:-1] in custom
    assert "comparisons" not in custom and "150000" in custom
